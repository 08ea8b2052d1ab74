"""The flatbuffer reader behind the .tflite frontend (cnnaudit/frontends/flatbuf.py).

Buffers are built here by hand (a small front-to-back builder, no `flatbuffers` package):
a well-formed one reads back what was written, with schema defaults for absent fields,
and every forged offset, vtable and length raises FlatbufferError and nothing else, which
the frontend turns into one `damaged .tflite file` line. Every truncation and every
single-byte change of a small model is tried.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from cnnaudit.errors import SpecError
from cnnaudit.frontends import tflite_schema as S
from cnnaudit.frontends.flatbuf import Buffer, FlatbufferError, Scalar, Table
from cnnaudit.frontends.tflite_file import OPTION_FIELDS, load_tflite_file


# -- a tiny builder ------------------------------------------------------------------------
class Tab:
    """A table to build: {slot: (kind, value)}; kind is a struct format character, "table",
    "string", "tables" (a vector of tables) or "vec:<fmt>" (a vector of scalars)."""

    def __init__(self, **fields: tuple[str, Any]) -> None:
        self.fields = {int(k.lstrip("s")): v for k, v in fields.items()}


def build(root: Tab, ident: bytes = b"") -> bytes:
    out = bytearray(struct.pack("<I", 0) + ident)

    def table(t: Tab) -> int:
        pending: list[tuple[int, Any, str]] = []  # (offset field's position, child, kind)
        slots = max(t.fields, default=-1) + 1
        vtable = len(out)
        out.extend(b"\0" * (4 + 2 * slots))
        pos = len(out)
        out.extend(b"\0\0\0\0")  # soffset, patched below
        struct.pack_into("<i", out, pos, pos - vtable)
        for slot, (kind, value) in sorted(t.fields.items()):
            offset = len(out) - pos
            struct.pack_into("<H", out, vtable + 4 + 2 * slot, offset)
            if len(kind) == 1:
                out.extend(struct.pack("<" + kind, value))
            else:
                pending.append((len(out), value, kind))
                out.extend(b"\0\0\0\0")
        struct.pack_into("<HH", out, vtable, 4 + 2 * slots, len(out) - pos)
        for where, child, kind in pending:
            struct.pack_into("<I", out, where, child_at(child, kind) - where)
        return pos

    def child_at(child: Any, kind: str) -> int:
        pos = len(out)
        if kind == "table":
            return table(child)
        if kind == "string":
            out.extend(struct.pack("<I", len(child)) + child + b"\0")
        elif kind.startswith("vec:"):
            fmt = kind[4:]
            out.extend(struct.pack(f"<I{len(child)}{fmt}", len(child), *child))
        elif kind == "tables":
            out.extend(struct.pack("<I", len(child)) + b"\0" * (4 * len(child)))
            for i, t in enumerate(child):
                where = pos + 4 + 4 * i
                struct.pack_into("<I", out, where, table(t) - where)
        return pos

    struct.pack_into("<I", out, 0, table(root))
    return bytes(out)


SAMPLE = Tab(s0=("i", -7), s1=("string", b"hello"), s2=("vec:i", [1, -1, 224]),
             s3=("table", Tab(s0=("f", 0.5))), s4=("B", 2), s5=("table", Tab(s1=("?", 1))),
             s6=("tables", [Tab(s0=("Q", 2**40)), Tab()]))


def walk(table: Table) -> list[Any]:
    """Read every field of SAMPLE's layout."""
    out = [table.scalar(Scalar(0, "i", 0)), table.string(1), table.vector(2).scalars("i")]
    sub = table.table(3)
    out.append(sub and sub.scalar(Scalar(0, "f", 0.0)))
    kind, value = table.union(Scalar(4, "B", 0), 5)
    out.append((kind, value and value.scalar(Scalar(1, "?", False))))
    vec = table.vector(6)
    out.append([vec.table(i).scalar(Scalar(0, "Q", 9)) for i in range(len(vec))])
    out.append(table.scalar(Scalar(7, "i", 42)))  # beyond the vtable: the default
    return out


def test_reads_back_what_was_written_with_defaults_for_absent_fields():
    data = build(SAMPLE)
    assert walk(Buffer(data).root()) == [-7, b"hello", [1, -1, 224], 0.5, (2, True),
                                         [2**40, 9], 42]
    empty = Buffer(build(Tab())).root()
    assert walk(empty) == [0, None, [], None, (0, None), [], 42]


def test_every_truncation_and_every_byte_change_is_a_flatbuffer_error():
    data = build(SAMPLE)
    for cut in range(len(data)):
        with pytest.raises(FlatbufferError):
            walk(Buffer(data[:cut]).root())
    for pos in range(len(data)):
        for value in (0x00, 0x01, 0x7F, 0x80, 0xFF, data[pos] ^ 0x10):
            mutant = bytearray(data)
            mutant[pos] = value
            with contextlib.suppress(FlatbufferError):
                walk(Buffer(bytes(mutant)).root())


def _sample_with(patch: Any) -> Buffer:
    data = bytearray(build(SAMPLE))
    patch(data)
    return Buffer(bytes(data))


def test_forged_root_offset():
    for root in (2**32 - 1, 10**6):
        buf = _sample_with(lambda d, r=root: struct.pack_into("<I", d, 0, r))
        with pytest.raises(FlatbufferError, match="a table at byte"):
            buf.root()
    with pytest.raises(FlatbufferError, match="root offset"):
        Buffer(b"\1\0").root()


def _root(data: bytes | bytearray) -> int:
    return struct.unpack_from("<I", data, 0)[0]


@pytest.mark.parametrize("soffset", [2**31 - 1, -(2**31), -10**6, 10**6])
def test_vtable_outside_the_buffer(soffset):
    buf = _sample_with(lambda d: struct.pack_into("<i", d, _root(d), soffset))
    with pytest.raises(FlatbufferError, match="vtable"):
        buf.root()


def _vsize(vsize: int) -> Any:
    def patch(d: bytearray) -> None:
        vtable = _root(d) - struct.unpack_from("<i", d, _root(d))[0]
        struct.pack_into("<H", d, vtable, vsize)
    return patch


@pytest.mark.parametrize("vsize", [1, 5, 0xFFFF, 0xFFFE])
def test_forged_vtable_size(vsize):
    """Odd, or past the end of the buffer: refused (the FlatBuffers verifier's rules)."""
    with pytest.raises(FlatbufferError, match="vtable"):
        _sample_with(_vsize(vsize)).root()


@pytest.mark.parametrize("vsize", [0, 2, 4, 6])
def test_a_short_vtable_leaves_the_later_fields_at_their_defaults(vsize):
    table = _sample_with(_vsize(vsize)).root()
    assert table.scalar(Scalar(0, "i", 5)) == (-7 if vsize == 6 else 5)
    assert table.string(1) is None and table.table(3) is None and len(table.vector(2)) == 0


def _field_pos(d: bytearray, slot: int) -> int:
    table = _root(d)
    vtable = table - struct.unpack_from("<i", d, table)[0]
    return table + struct.unpack_from("<H", d, vtable + 4 + 2 * slot)[0]


def test_forged_field_offset_in_the_vtable():
    def patch(d: bytearray) -> None:
        table = _root(d)
        vtable = table - struct.unpack_from("<i", d, table)[0]
        struct.pack_into("<H", d, vtable + 4, 0xFFFF)  # slot 0 now far past the end

    buf = _sample_with(patch)
    with pytest.raises(FlatbufferError, match="field 0"):
        buf.root().scalar(Scalar(0, "i", 0))


@pytest.mark.parametrize("slot", [1, 2, 3, 5, 6])
def test_forged_offsets_to_strings_vectors_and_tables(slot):
    buf = _sample_with(lambda d: struct.pack_into("<I", d, _field_pos(d, slot), 2**32 - 8))
    with pytest.raises(FlatbufferError):
        walk(buf.root())


def test_forged_lengths():
    def length_at(slot: int, n: int) -> Any:
        def patch(d: bytearray) -> None:
            where = _field_pos(d, slot)
            struct.pack_into("<I", d, where + struct.unpack_from("<I", d, where)[0], n)
        return patch

    with pytest.raises(FlatbufferError, match="string field 1"):
        _sample_with(length_at(1, 2**32 - 1)).root().string(1)
    vec = _sample_with(length_at(2, 2**30)).root().vector(2)
    assert len(vec) == 2**30  # the length alone is only a number...
    with pytest.raises(FlatbufferError, match="1,073,741,824 4-byte elements"):
        vec.scalars("i")  # ...checked against the buffer before anything is unpacked
    tables = _sample_with(length_at(6, 2**30)).root().vector(6)
    with pytest.raises(FlatbufferError):
        [tables.table(i) for i in range(len(tables))]
    with pytest.raises(FlatbufferError, match="element 2 of a vector of 2"):
        Buffer(build(SAMPLE)).root().vector(6).table(2)


# -- the schema and the frontend -------------------------------------------------------------
def test_schema_covers_the_options_the_frontend_shows():
    for cls, fields in OPTION_FIELDS.items():
        assert cls in S.BUILTIN_OPTIONS_NAMES
        assert set(fields) == set(S.OPTIONS[cls]), cls
    assert S.BUILTIN_OPERATOR_NAMES[S.CUSTOM] == "CUSTOM"
    assert S.BUILTIN_OPERATOR_NAMES[3] == "CONV_2D"
    assert S.BUILTIN_OPTIONS_NAMES[1] == "Conv2DOptions"


def test_schema_slots_match_the_generated_tflite_accessors():
    """When the `tflite` package (flatc's generated Python) is installed, every slot, type
    and default here must be the one its accessors use."""
    if os.environ.get("CNNAUDIT_REQUIRE_ORACLES"):  # CI: the test extras install it
        import tflite
    else:
        tflite = pytest.importorskip("tflite")

    flags = {"b": "Int8", "B": "Uint8", "i": "Int32", "I": "Uint32", "Q": "Uint64",
             "f": "Float32", "?": "Bool"}
    checked = 0
    for table in ("Model", "SubGraph", "Tensor", "QuantizationParameters", "Operator",
                  "OperatorCode", "Buffer"):
        for const, field in vars(getattr(S, table)).items():
            if const.startswith("_"):
                continue
            accessor = "".join(w.capitalize() for w in const.split("_"))
            _check_accessor(getattr(tflite, table), accessor, field, flags)
            checked += 1
    for cls, fields in S.OPTIONS.items():
        for name, field in fields.items():
            _check_accessor(getattr(tflite, cls), name, field, flags)
            checked += 1
    assert checked > 60
    ours = dict(enumerate(S.BUILTIN_OPERATOR_NAMES))
    assert all(ours[code] == name for code, name in tflite.BUILTIN_OPCODE2NAME.items())
    union = {v: k for k, v in vars(tflite.BuiltinOptions).items()
             if isinstance(v, int) and not k.startswith("_")}
    assert union == dict(enumerate(S.BUILTIN_OPTIONS_NAMES))


def _check_accessor(cls: type, name: str, field: int | Scalar, flags: dict[str, str]) -> None:
    method = getattr(cls, name, None) or getattr(cls, name + "Length")
    src = inspect.getsource(method)
    slot = field.slot if isinstance(field, Scalar) else field
    assert f"Offset({4 + 2 * slot})" in src, (cls.__name__, name)
    if isinstance(field, Scalar):
        assert f"number_types.{flags[field.fmt]}Flags" in src, (cls.__name__, name)
        if name != "BuiltinCode":  # the package's BuiltinCode() folds in the deprecated one
            default = re.findall(r"return (.+)", src)[-1]
            assert ast.literal_eval(default) == field.default, (cls.__name__, name)


def _model(code: Tab, *, data: bytes = b"", buffer: Tab | None = None) -> bytes:
    """A one-operator .tflite model: input tensor 0 (1x4 float32) -> op -> tensor 1, with a
    constant tensor 2 held in buffer 1."""
    def tensor(name: bytes, buf: int = 0) -> Tab:
        return Tab(s0=("vec:i", [1, 4]), s1=("b", 0), s2=("I", buf), s3=("string", name))

    sg = Tab(s0=("tables", [tensor(b"x"), tensor(b"y"), tensor(b"w", 1)]),
             s1=("vec:i", [0]), s2=("vec:i", [1]),
             s3=("tables", [Tab(s0=("I", 0), s1=("vec:i", [0, 2]), s2=("vec:i", [1]))]),
             s4=("string", b"main"))
    buffers = [Tab(), buffer or Tab(s0=("vec:B", list(data or b"\1" * 16)))]
    return build(Tab(s0=("I", 3), s1=("tables", [code]), s2=("tables", [sg]),
                     s4=("tables", buffers)), ident=b"TFL3")


def _load(tmp_path: Path, data: bytes) -> Any:
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    return load_tflite_file(path)


def test_a_hand_built_model_reads(tmp_path):
    # builtin_code set, deprecated_builtin_code left at 0: TFLite takes the larger (ADD=0)
    graph = _load(tmp_path, _model(Tab(s2=("i", 2), s3=("i", 18))))
    op = graph.nodes[-1]
    assert (op.attrs["builtin"], op.attrs["version"]) == ("MUL", 2)
    assert op.attrs["constants"][0][3] == 16  # the buffer's bytes
    # an old file: only the deprecated int8 code
    assert _load(tmp_path, _model(Tab(s0=("b", 9)))).nodes[-1].attrs["builtin"] == \
        "FULLY_CONNECTED"
    custom = _load(tmp_path, _model(Tab(s0=("b", 32), s1=("string", b"Foo"))))
    assert custom.nodes[-1].attrs["builtin"] == "CUSTOM:Foo"
    unknown = _load(tmp_path, _model(Tab(s0=("b", 127), s3=("i", 5000))))
    assert unknown.nodes[-1].attrs["builtin"] == "BUILTIN_5000"


def test_a_buffer_outside_the_flatbuffer(tmp_path):
    """Models over 2 GB keep buffers after the flatbuffer: Buffer.offset/size."""
    base = _model(Tab(s3=("i", 18)), buffer=Tab(s1=("Q", 0), s2=("Q", 0)))
    offset = len(base)
    data = _model(Tab(s3=("i", 18)), buffer=Tab(s1=("Q", offset), s2=("Q", 64)))
    graph = _load(tmp_path, data + b"\0" * 64)
    assert graph.nodes[-1].attrs["constants"][0][3] == 64
    with pytest.raises(SpecError, match="buffer 1 points past the end of the file"):
        _load(tmp_path, data + b"\0" * 63)


def test_damaged_models_are_one_line_errors(tmp_path):
    data = _model(Tab(s3=("i", 18)))
    errors = set()
    for pos in range(8, len(data)):
        for value in (0x00, 0x7F, 0x80, 0xFF, data[pos] ^ 0x01):
            mutant = bytearray(data)
            mutant[pos] = value
            try:
                _load(tmp_path, bytes(mutant))
            except SpecError as exc:
                assert "\n" not in str(exc)
                errors.add(str(exc).split(": ", 1)[-1][:40])
    for cut in range(8, len(data)):
        with pytest.raises(SpecError, match=r"damaged \.tflite file"):
            _load(tmp_path, data[:cut])
    assert any("cannot read" in e for e in errors)

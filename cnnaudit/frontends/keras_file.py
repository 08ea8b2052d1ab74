"""Saved Keras models (.keras zip, Keras 3 and tf.keras 2.x .h5) -> graph IR, read as data.

A model file's architecture is JSON: `config.json` in a .keras zip, the `model_config`
attribute of an .h5 file. Nothing in it is executed or imported: Lambda and custom layers
become opaque nodes whose output shape comes from the file (Keras 3 records every tensor's
shape where it is consumed) or from a user override. Weights are never loaded; only their
stored shapes are read: in an .h5 file (which holds the config too) to cross-check the
parameter count, in a .keras archive only when a Lambda or custom layer's parameters can
come from nowhere else.
"""

from __future__ import annotations

import io
import json
import math
import mmap
import os
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from .. import ops
from ..errors import SpecError
from ..ir import Graph, Location, Node, Shape, toposort
from ..limits import DEFAULT, Limits
from ..ops.base import OpError

if TYPE_CHECKING:
    import zipfile

MODEL_CLASSES = {"Functional", "Model", "Sequential"}
# Config keys every layer carries that say nothing about its shape or weights.
GENERIC_KEYS = {"name", "trainable", "dtype", "batch_input_shape", "batch_shape", "batch_size",
                "autocast", "input_spec", "build_config", "compile_config", "sparse", "ragged",
                "optional", "input_shape"}
# Keras 3 records `x + 3.0` in a functional model as an op from keras.src.ops;
# tf.keras 2.x as a TFOpLambda naming a TensorFlow function. Both are data we can map.
SCALAR_FUNCTIONS = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide",
    "true_divide": "divide", "truediv": "divide", "maximum": "maximum", "minimum": "minimum",
    "__operators__.add": "add", "math.add": "add", "math.subtract": "subtract",
    "math.multiply": "multiply", "math.truediv": "divide", "math.divide": "divide",
    "math.maximum": "maximum", "math.minimum": "minimum",
}
BINARY_MERGES = {"add": "add", "subtract": "subtract", "multiply": "multiply",
                 "maximum": "maximum", "minimum": "minimum"}


class _Stored(NamedTuple):
    """Parameter counts found in the file's weights, without reading any values."""

    total: int | None = None
    by_layer: Mapping[str, int] = MappingProxyType({})


def load_keras_file(path: Path, overrides: Mapping[str, Shape] | None = None,
                    limits: Limits = DEFAULT) -> Graph:
    file = str(path)
    if path.suffix.lower() == ".keras":
        config, load_stored = _read_keras_zip(path, limits)
        builder = _Builder(file, dict(overrides or {}), load_stored, limits)
    else:
        config, load_stored = _read_h5(path, limits)
        builder = _Builder(file, dict(overrides or {}), load_stored, limits)
    try:
        return builder.build(config, default_name=path.stem)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        # The config is data from an untrusted file: any shape it should not have is a
        # malformed model, reported in one line, not a crash.
        raise _fail(file, f"the model config is malformed ({type(exc).__name__}: "
                    f"{str(exc)[:80]})") from None


# -- containers ---------------------------------------------------------------------------
def _fail(file: str, message: str, hint: str | None = None) -> SpecError:
    return SpecError(message, file=file, hint=hint)


def _parse_json(text: str | bytes, file: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise _fail(file, "the model config is nested too deeply to be a real model") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(file, f"the model config is not valid JSON: {exc}") from None


def _read_keras_zip(path: Path, limits: Limits) -> tuple[Any, Callable[[], _Stored]]:
    import zipfile  # (here: an .h5 check need not import it)

    file = str(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise _fail(file, f"not a .keras file (a .keras file is a zip archive): {exc}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_entries:
            raise _fail(file, f"the archive has {len(infos):,} entries; a .keras file has a few")
        inflated = sum(i.file_size for i in infos)
        if inflated > limits.max_inflated_mb * 2**20:
            raise _fail(file, f"the archive inflates to {inflated / 2**20:,.0f} MB, more than "
                        f"the limit of {limits.max_inflated_mb:,.0f} MB (a zip bomb?)",
                        "raise it with --max-inflated-mb")
        by_name = {i.filename: i for i in infos}
        info = by_name.get("config.json")
        if info is None:
            raise _fail(file, "the archive has no config.json: not a Keras 3 .keras file")
        _check_member(file, info, limits)
        try:
            text = zf.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
                RuntimeError) as exc:  # zipfile: unsupported version/compression, encrypted
            raise _fail(file, f"cannot read config.json: {exc}") from None
        config = _parse_json(text, file)
        weights = by_name.get("model.weights.h5")
        if weights is not None:
            _check_member(file, weights, limits)
    if weights is None:
        return config, _Stored
    # The weights index is read only when a layer's parameters can come from nowhere else
    # (Lambda and custom layers): reading it means a child process and h5py, most of the
    # time a .keras audit would take.
    return config, lambda: _stored_from_member(path, weights, limits)


class _Window(io.RawIOBase):
    """A seekable view of a stored (uncompressed) zip member, read straight from the file:
    h5py seeks back and forth, which a ZipExtFile answers by re-reading from the start."""

    def __init__(self, handle: Any, start: int, size: int) -> None:
        super().__init__()
        self.handle, self.start, self.size, self.pos = handle, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        self.handle.seek(self.start + self.pos)
        got = self.handle.readinto(memoryview(buffer)[:n])
        self.pos += got
        return got


def _stored_from_member(path: Path, info: zipfile.ZipInfo, limits: Limits) -> _Stored:
    """Parameter counts of the weights index inside a .keras archive; a damaged, compressed
    or too slow index only loses the cross-check (it never stops the audit). Read by
    cnnaudit's own HDF5 reader; h5py in a child only for what that reader does not read."""
    import zipfile

    from . import hdf5

    if info.compress_type != zipfile.ZIP_STORED:
        return _Stored()
    try:
        with path.open("rb") as handle:
            handle.seek(info.header_offset)
            header = handle.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                return _Stored()
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                root = hdf5.open_root(data, start, info.file_size,
                                      int(limits.max_config_mb * 2**20))
                return _Stored(total=sum(
                    math.prod(d.shape) for key in ("layers", "vars") if key in root
                    for d in hdf5.datasets(root[key])))
    except (OSError, ValueError, TypeError, hdf5.HDF5Error):
        return _Stored()  # TypeError: a null dataspace has no shape to count
    except hdf5.Unsupported:
        pass
    try:
        answer = _hdf5_in_child(["weights", str(path), str(start), str(info.file_size)],
                                limits.hdf5_seconds, limits.hdf5_memory_mb)
    except SpecError:
        return _Stored()
    stored = answer.get("stored") or {}
    return _Stored(total=stored.get("total"), by_layer=stored.get("by_layer") or {})


def _check_member(file: str, info: zipfile.ZipInfo, limits: Limits) -> None:
    if info.file_size > limits.max_config_mb * 2**20 and info.filename == "config.json":
        raise _fail(file, f"config.json would inflate to {info.file_size:,} bytes; refusing")
    if info.compress_size and info.file_size / info.compress_size > limits.max_inflate_ratio:
        ratio = info.file_size / info.compress_size
        raise _fail(file, f"{info.filename} would inflate {ratio:,.0f} times (a zip bomb?); "
                    "refusing")


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise SpecError("reading .h5 files needs h5py: pip install h5py") from None
    return h5py


def _datasets(group: Any) -> Iterator[Any]:
    h5py = _h5py()
    stack = [group]
    while stack:
        g = stack.pop()
        for item in g.values():
            if isinstance(item, h5py.Dataset):
                yield item
            elif isinstance(item, h5py.Group):
                stack.append(item)


def _stored_from_weights_h5(fileobj: Any) -> _Stored:
    h5py = _h5py()
    with h5py.File(fileobj, "r") as f:
        total = 0
        for key in ("layers", "vars"):
            if key in f:
                total += sum(math.prod(d.shape) for d in _datasets(f[key]))
        return _Stored(total=total)


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


_CHILD = "from cnnaudit.frontends.keras_file import _child_main; _child_main()"


def _hdf5_in_child(args: list[str], seconds: float,
                   memory_mb: float = DEFAULT.hdf5_memory_mb) -> dict[str, Any]:
    """Run HDF5 reads in a child process: HDF5 is C code that a damaged file can keep busy
    for seconds or forever, or make allocate gigabytes (a forged attribute length), and
    only a process can be stopped from outside or given a memory ceiling."""

    def ceiling() -> None:  # in the child, before it runs: its address space is capped
        try:
            import resource

            cap = int(memory_mb * 2**20)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        except (ImportError, ValueError, OSError):  # no such limit here: time still bounds it
            pass

    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True,
                              text=True, timeout=seconds, check=False,
                              preexec_fn=ceiling if os.name == "posix" else None)
    except subprocess.TimeoutExpired:
        raise SpecError(f"the HDF5 library did not finish reading the file in {seconds:g} s: "
                        "it is damaged or hostile", file=args[1]) from None
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SpecError("the HDF5 library failed on this file (a damaged .h5?)",
                        file=args[1]) from None
    return answer if isinstance(answer, dict) else {}


def _child_main() -> None:
    """The child's side: read what the parent asks for, print one JSON line."""
    mode, path = sys.argv[1], sys.argv[2]
    answer: dict[str, Any] = {}
    try:
        h5py = _h5py()
        if mode == "weights":
            start, size = int(sys.argv[3]), int(sys.argv[4])
            with open(path, "rb") as handle:
                stored = _stored_from_weights_h5(_Window(handle, start, size))
            answer["stored"] = {"total": stored.total, "by_layer": dict(stored.by_layer)}
        else:
            try:
                f = h5py.File(path, "r")
            except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError...
                answer["error"] = f"not a readable HDF5 file: {str(exc)[:120]}"
            else:
                with f:
                    raw = f.attrs.get("model_config")  # the memory ceiling bounds this
                    # a forged size stays here: the parent would hold it twice over
                    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 64 * 2**20
                    if isinstance(raw, (bytes, str)) and len(raw) > limit:
                        raise ValueError(f"model_config is larger than {limit >> 20} MB")
                    answer["config"] = raw.decode("utf-8", errors="replace") if isinstance(
                        raw, bytes) else raw if isinstance(raw, str) else None
                    try:
                        stored = _stored_from_h5(f)
                        answer["stored"] = {"total": stored.total,
                                            "by_layer": dict(stored.by_layer)}
                    except Exception:  # a damaged weights part only loses the check
                        pass
    except Exception as exc:  # reported to the parent as a damaged file
        answer["error"] = f"damaged HDF5 file: {str(exc)[:120]}"
    print(json.dumps(answer))


def _read_h5(path: Path, limits: Limits) -> tuple[Any, Callable[[], _Stored]]:
    """The model config of an .h5 file, and how to read its stored weight shapes, by
    cnnaudit's bounded HDF5 reader (`hdf5.py`) in this process; a valid file that uses an
    HDF5 feature that reader does not read goes to h5py in a child process instead.

    The weight shapes are read only when a layer needs them, as for .keras: walking every
    weight of MobileNetV2 costs more than the rest of the audit."""
    from . import hdf5  # here, not at the top: a .keras audit rarely needs it

    file = str(path)
    max_config = int(limits.max_config_mb * 2**20)

    def in_child() -> tuple[Any, _Stored]:
        answer = _hdf5_in_child(["h5", file, str(max_config)], limits.hdf5_seconds,
                                limits.hdf5_memory_mb)
        if answer.get("error"):
            raise _fail(file, str(answer["error"])) from None
        found = answer.get("stored") or {}
        return answer.get("config"), _Stored(total=found.get("total"),
                                             by_layer=found.get("by_layer") or {})

    def load_stored() -> _Stored:
        """(Only a cross-check: a file that can no longer be read loses it, not the audit.)"""
        try:
            try:
                return _h5_in_process(path, max_config, _stored_or_nothing)
            except hdf5.Unsupported:
                return in_child()[1]
        except SpecError:
            return _Stored()

    try:
        raw = _h5_in_process(path, max_config, _model_config)
    except hdf5.Unsupported:
        raw, stored = in_child()
        load_stored = lambda: stored  # noqa: E731 (the child answered both)
    if raw is None:
        raise _fail(file, "the file has no model_config: it holds weights only",
                    hint="save the whole model (model.save), not model.save_weights")
    if not isinstance(raw, str) or len(raw) > limits.max_config_mb * 2**20:
        raise _fail(file, "model_config is not a plausible JSON text; refusing")
    return _parse_json(raw, file), load_stored


T = TypeVar("T")


def _h5_in_process(path: Path, max_config: int, read: Callable[[Any], T]) -> T:
    """What the child's h5py would answer (`read` of the root group), from cnnaudit's own
    reader."""
    from . import hdf5

    file = str(path)
    try:
        with path.open("rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                raise _fail(file, "not an HDF5 file: the file is empty")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return read(hdf5.open_root(data, max_string=max_config))
    except hdf5.HDF5Error as exc:
        raise _fail(file, f"damaged HDF5 file: {exc}") from None
    except (OSError, ValueError) as exc:
        raise _fail(file, f"cannot read the file: {exc}") from None


def _model_config(root: Any) -> str | None:
    raw = root.attrs.get("model_config")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    return raw if isinstance(raw, str) else None


def _stored_or_nothing(root: Any) -> _Stored:
    """`_stored_from_h5`; a damaged weights part only loses the cross-check, as in the
    child."""
    from . import hdf5

    try:
        return _stored_from_h5(root)
    except (hdf5.HDF5Error, AttributeError, TypeError):
        return _Stored()  # a name that is a group (no shape), a null shape


def _stored_from_h5(f: Any) -> _Stored:
    group = f.get("model_weights")
    if group is None:
        return _Stored()
    by_layer = {}
    for name in group.attrs.get("layer_names", []):
        name = _text(name)
        if name not in group:
            continue
        # Only the datasets the layer lists: layer names may contain "/", so a recursive
        # walk would count "Conv/BatchNorm" inside "Conv" too.
        layer_group = group[name]
        by_layer[name] = sum(
            math.prod(layer_group[_text(w)].shape)
            for w in layer_group.attrs.get("weight_names", [])
            if _text(w) in layer_group
        )
    return _Stored(total=sum(by_layer.values()), by_layer=by_layer)


# -- config -> IR ---------------------------------------------------------------------------
class _Call(NamedTuple):
    """One call of a layer inside a model: its input references and constant arguments."""

    layer: dict[str, Any]
    index: int
    refs: list[tuple[str, int, int]]
    constants: list[Any]
    ref_offset: int = 0  # how other layers number this call (see _keras2_node_offset)


class _Builder:
    def __init__(self, file: str, overrides: dict[str, Shape],
                 load_stored: Callable[[], _Stored], limits: Limits = DEFAULT) -> None:
        self.file = file
        self.limits = limits
        self.overrides = overrides
        self._load_stored = load_stored
        self._stored: _Stored | None = None
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self.warnings: list[str] = []
        self.used_overrides: set[str] = set()

    def fail(self, message: str, hint: str | None = None) -> SpecError:
        return _fail(self.file, message, hint)

    @property
    def stored(self) -> _Stored:
        """The parameter counts stored in the file, read on first use."""
        if self._stored is None:
            self._stored = self._load_stored()
        return self._stored

    def build(self, config: Any, default_name: str) -> Graph:
        if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
            kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
            raise self.fail(f"the saved object is a {kind!r}, not a Keras model")
        body = config.get("config")
        if not isinstance(body, dict):
            raise self.fail("the model config has no body")
        name = str(body.get("name") or default_name)
        outputs = self.model(config, prefix="", bound=None, depth=0, share=None, trainable=True)
        try:
            nodes = toposort(self.nodes, set())
        except ValueError as exc:
            raise self.fail(str(exc)) from None
        unused = set(self.overrides) - self.used_overrides
        if unused:
            raise self.fail(f"--override names no opaque layer: {', '.join(sorted(unused))}")
        self._cross_check(nodes)
        return Graph(name=name, nodes=tuple(nodes), inputs=tuple(self.inputs),
                     outputs=tuple(outputs), source=self.file,
                     format="keras" if self.file.endswith(".keras") else "h5",
                     warnings=tuple(self.warnings))

    # A model (Functional or Sequential) inlined under `prefix`; returns its output tensors.
    def model(self, config: dict[str, Any], prefix: str, bound: list[str] | None, depth: int,
              share: str | None, trainable: bool) -> list[str]:
        if depth > self.limits.max_nested_models:
            raise self.fail(f"models are nested more than {self.limits.max_nested_models} deep")
        body = config.get("config") or {}
        layers = body.get("layers")
        if not isinstance(layers, list):
            raise self.fail(f"model {prefix or body.get('name')!r} has no layer list")
        trainable = trainable and body.get("trainable", True) is not False
        if config.get("class_name") == "Sequential":
            return self._sequential(body, layers, prefix, bound, depth, share, trainable)
        return self._functional(body, layers, prefix, bound, depth, share, trainable)

    def _sequential(self, body: dict[str, Any], layers: list[Any], prefix: str,
                    bound: list[str] | None, depth: int, share: str | None,
                    trainable: bool) -> list[str]:
        current: str | None = None
        if bound is not None:
            if len(bound) != 1:
                raise self.fail(f"Sequential model {prefix!r} called on {len(bound)} inputs")
            current = bound[0]
        for i, layer in enumerate(layers):
            layer = _layer_dict(layer, self)
            cfg = layer.get("config") or {}
            lname = str(cfg.get("name") or layer.get("name") or f"layer_{i}")
            if layer.get("class_name") == "InputLayer":
                if current is None:
                    current = self._input(prefix + lname, cfg)
                continue
            if current is None:
                shape = (cfg.get("batch_input_shape") or cfg.get("batch_shape")
                         or body.get("build_input_shape")
                         or (layer.get("build_config") or {}).get("input_shape"))
                if shape is None:
                    raise self.fail("the Sequential model has no input shape",
                                    hint="save a model that was built (called or given an "
                                    "Input)")
                current = self._input(prefix + "input", {"batch_shape": shape})
            # Keras 3 records the next layer's input shape: an opaque layer's output shape.
            following = layers[i + 1] if i + 1 < len(layers) else {}
            build = following.get("build_config") if isinstance(following, dict) else None
            seen = (build or {}).get("input_shape")
            known = {}
            if isinstance(seen, list) and len(seen) > 1 and all(
                    isinstance(d, int) and d > 0 for d in seen[1:]):
                known[(lname, 0, 0)] = tuple(seen[1:])
            outs = self._emit(_Call(layer, 0, [], []), [current], lname, prefix, depth, share,
                              trainable, known)
            current = outs[0]
        if current is None:
            raise self.fail("the Sequential model has no layers")
        return [current]

    def _functional(self, body: dict[str, Any], layers: list[Any], prefix: str,
                    bound: list[str] | None, depth: int, share: str | None,
                    trainable: bool) -> list[str]:
        tensors: dict[tuple[str, int, int], str] = {}
        shapes: dict[tuple[str, int, int], Shape] = {}
        input_refs = _refs_list(body.get("input_layers"))
        calls: list[_Call] = []
        names: list[str] = []
        by_name: dict[str, dict[str, Any]] = {}
        for i, layer in enumerate(layers):
            layer = _layer_dict(layer, self)
            lname = str(layer.get("name") or (layer.get("config") or {}).get("name")
                        or f"layer_{i}")
            names.append(lname)
            by_name[lname] = layer
            if layer.get("class_name") == "InputLayer":
                continue
            offset = _keras2_node_offset(layer)
            for k, node in enumerate(layer.get("inbound_nodes") or []):
                refs, constants = _inbound(node, shapes)
                calls.append(_Call(layer, k, refs, constants, offset))
        # Inputs: bound to the caller's tensors when nested, new graph inputs at the top.
        for position, (lname, _, _) in enumerate(input_refs):
            layer = by_name.get(lname)
            if layer is None:
                raise self.fail(f"input layer {lname!r} is not in the model")
            if bound is not None:
                if position >= len(bound):
                    raise self.fail(f"nested model {prefix!r} has more inputs than it is given")
                tensors[(lname, 0, 0)] = bound[position]
            else:
                tensors[(lname, 0, 0)] = self._input(prefix + lname, layer.get("config") or {})
        # Calls in dependency order (a shared layer's later call may wait for later layers).
        pending = calls
        while pending:
            rest = []
            for call in pending:
                if all(r in tensors for r in call.refs):
                    lname = str(call.layer.get("name") or call.layer["config"]["name"])
                    outs = self._emit(call, [tensors[r] for r in call.refs], lname, prefix,
                                      depth, share, trainable,
                                      {r: s for r, s in shapes.items() if r[0] == lname})
                    for t, out in enumerate(outs):
                        tensors[(lname, call.index + call.ref_offset, t)] = out
                else:
                    rest.append(call)
            if len(rest) == len(pending):
                missing = next(r for r in rest[0].refs if r not in tensors)
                lname = rest[0].layer.get("name")
                raise self.fail(f"layer {lname!r} takes {missing[0]!r} (call {missing[1]}), "
                                "which the model never produces")
            pending = rest
        outputs = []
        for ref in _refs_list(body.get("output_layers")):
            if ref not in tensors:
                raise self.fail(f"output {ref[0]!r} is not produced by the model")
            outputs.append(tensors[ref])
        if not outputs:
            raise self.fail("the model has no outputs")
        return outputs

    def _input(self, name: str, cfg: dict[str, Any]) -> str:
        shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
        if not isinstance(shape, list) or len(shape) < 2:
            raise self.fail(f"input {name!r} has no shape")
        dims = shape[1:]
        if any(not isinstance(d, int) or isinstance(d, bool) or d <= 0 for d in dims):
            raise self.fail(f"input {name!r} has shape {dims}: every size must be known",
                            hint="save the model with a fixed input shape (batch omitted)")
        self.nodes.append(Node(name=name, op="input", attrs={"shape": tuple(dims)}, inputs=(),
                               outputs=(name,), where=Location(self.file)))
        self.inputs.append(name)
        return name

    def _emit(self, call: _Call, inputs: list[str], lname: str, prefix: str, depth: int,
              share: str | None, trainable: bool,
              known_shapes: dict[tuple[str, int, int], Shape]) -> list[str]:
        layer = call.layer
        cls = str(layer.get("class_name"))
        cfg = layer.get("config") or {}
        node_name = prefix + (lname if call.index == 0 else f"{lname}@{call.index}")
        shared = None
        if call.index > 0:
            shared = prefix + lname
        elif share is not None:
            shared = share + lname
        layer_trainable = trainable and cfg.get("trainable", True) is not False
        if cls in MODEL_CLASSES:
            inner_share = (share + lname + "/") if share is not None else (
                prefix + lname + "/" if call.index > 0 else None)
            return self.model(layer, node_name + "/", inputs, depth + 1, inner_share,
                              layer_trainable)
        op_name, attrs = self._op_for(layer, cls, cfg, call, lname, node_name, known_shapes)
        if len(self.nodes) >= self.limits.max_layers:
            raise self.fail(f"more than {self.limits.max_layers:,} layers",
                            hint="raise the limit with --max-layers")
        self.nodes.append(Node(name=node_name, op=op_name, attrs=attrs, inputs=tuple(inputs),
                               outputs=(node_name,), where=Location(self.file),
                               trainable=layer_trainable, shares_weights_of=shared))
        return [node_name]

    def _op_for(self, layer: dict[str, Any], cls: str, cfg: dict[str, Any], call: _Call,
                lname: str, node_name: str,
                known_shapes: dict[tuple[str, int, int], Shape]) -> tuple[str, dict[str, Any]]:
        module = str(layer.get("module") or "")
        function = cfg.get("function") if cls == "TFOpLambda" else None
        # Keras 3 .h5 files drop the module of `x + 3.0`-style ops: a one-tensor call with a
        # number is such an op even when it is spelled like a merge layer.
        scalar_call = len(call.refs) == 1 and len(call.constants) == 1
        if module.startswith("keras.src.ops") or function is not None or (
                scalar_call and _snake(cls) in SCALAR_FUNCTIONS):
            key = str(function or cls).lower()
            key = key.removeprefix("tf.")
            snake = _snake(key) if function is None else key
            if len(call.refs) == 1 and len(call.constants) == 1 and snake in SCALAR_FUNCTIONS:
                value = call.constants[0]
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return "scalar_math", {"function": SCALAR_FUNCTIONS[snake],
                                           "value": float(value)}
            if len(call.refs) >= 2 and not call.constants and snake in BINARY_MERGES:
                return BINARY_MERGES[snake], {"function": BINARY_MERGES[snake],
                                              "activation": "linear"}
            return self._opaque(cls, lname, node_name, call, known_shapes)
        op = ops.lookup(cls) if module in ("", "keras.layers") or module.startswith(
            ("keras.layers", "keras.src.layers", "tf_keras", "keras.src.legacy")) else None
        if op is None or op.name in ("input", "opaque"):
            return self._opaque(cls, lname, node_name, call, known_shapes)
        if len(call.refs) and len(call.refs) < op.min_inputs:
            raise self.fail(f"layer {lname!r} ({cls}) is called on {len(call.refs)} input(s); "
                            f"it needs at least {op.min_inputs}")
        args = {k: v for k, v in cfg.items() if k not in GENERIC_KEYS}
        if args.get("groups") == 1 and "groups" not in {a.name for a in op.args}:
            del args["groups"]  # tf.keras 2.x writes groups=1 on depthwise convolutions
        try:
            attrs = op.normalize(args)
        except OpError as exc:
            raise self.fail(f"layer {lname!r} ({cls}): {exc}") from None
        return op.name, attrs

    def _opaque(self, cls: str, lname: str, node_name: str, call: _Call,
                known_shapes: dict[tuple[str, int, int], Shape]) -> tuple[str, dict[str, Any]]:
        kind = "a Lambda" if cls in ("Lambda", "TFOpLambda") else f"a {cls} (custom or unknown)"
        shape = self.overrides.get(node_name) or self.overrides.get(lname)
        if shape is not None:
            self.used_overrides.add(node_name if node_name in self.overrides else lname)
        else:
            shape = known_shapes.get((lname, call.index, 0))
        if shape is None:
            raise self.fail(
                f"layer {lname!r} is {kind}: its shape cannot be inferred safely",
                hint=f"give its output shape with --override {lname}=[..] (batch omitted)")
        stored = self.stored.by_layer.get(lname)
        if stored is None:
            self.warnings.append(f"layer {lname!r} is {kind}: not executed; output shape "
                                 f"{list(shape)} from the file, parameters unknown (counted 0)")
        else:
            self.warnings.append(f"layer {lname!r} is {kind}: not executed; output shape "
                                 f"{list(shape)}, {stored:,} parameters from the stored weights")
        return "opaque", {"class_name": cls, "output_shape": tuple(shape),
                          "stored_params": stored if call.index == 0 else None}

    def _cross_check(self, nodes: list[Node]) -> None:
        """Warn when the counted parameters differ from the weights stored in the file (when
        they were read: when a layer needed them)."""
        if self._stored is None or self._stored.total is None:
            return
        from ..passes.cost import layer_costs
        from ..passes.shapes import infer_shapes

        graph = Graph(name="check", nodes=tuple(nodes), inputs=tuple(self.inputs), outputs=())
        try:
            costs = layer_costs(graph, infer_shapes(graph))
        except Exception:
            return
        counted = sum(c.params for c in costs.values())
        if counted != self.stored.total:
            self.warnings.append(f"counted {counted:,} parameters but the file stores "
                                 f"{self.stored.total:,} weights")
            for lname, n in self.stored.by_layer.items():
                mine = sum(c.params for name, c in costs.items()
                           if name == lname or name.startswith((lname + "/", lname + "@")))
                if mine != n:
                    self.warnings.append(f"layer {lname!r}: counted {mine:,} parameters, "
                                         f"stored {n:,}")


def _keras2_node_offset(layer: dict[str, Any]) -> int:
    """tf.keras 2.x numbers a nested model's calls from 1 when the model has its own input
    node (node 0 is the model's internal graph); Keras 3 numbers every call from 0."""
    nodes = layer.get("inbound_nodes") or []
    if layer.get("class_name") not in MODEL_CLASSES or not nodes or isinstance(nodes[0], dict):
        return 0
    inner = (layer.get("config") or {}).get("layers") or []
    first = inner[0] if inner and isinstance(inner[0], dict) else {}
    if layer.get("class_name") != "Sequential" or first.get("class_name") == "InputLayer":
        return 1
    return 1 if "batch_input_shape" in (first.get("config") or {}) else 0


def _layer_dict(layer: Any, builder: _Builder) -> dict[str, Any]:
    if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
        raise builder.fail(f"a layer entry is not a layer config: {str(layer)[:80]}")
    return layer


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _refs_list(value: Any) -> list[tuple[str, int, int]]:
    """Keras writes one input as ["a", 0, 0] and several as [["a", 0, 0], ["b", 0, 0]]."""
    if not isinstance(value, list) or not value:
        return []
    if isinstance(value[0], str):
        value = [value]
    out = []
    for ref in value:
        if isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str):
            out.append((ref[0], int(ref[1]), int(ref[2])))
    return out


def _inbound(node: Any, shapes: dict[tuple[str, int, int], Shape]
             ) -> tuple[list[tuple[str, int, int]], list[Any]]:
    """Input references and constants of one call, in either Keras's format.

    Keras 3: {"args": [...], "kwargs": {...}} with `__keras_tensor__` entries (which also
    record the tensor's shape). tf.keras 2.x: [["layer", node, tensor, {kwargs}], ...].
    """
    refs: list[tuple[str, int, int]] = []
    constants: list[Any] = []
    if isinstance(node, dict):
        def walk(value: Any) -> None:
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                cfg = value.get("config") or {}
                history = cfg.get("keras_history") or []
                if len(history) >= 3:
                    ref = (str(history[0]), int(history[1]), int(history[2]))
                    refs.append(ref)
                    shape = cfg.get("shape")
                    if isinstance(shape, list) and len(shape) > 1 and all(
                            isinstance(d, int) and d > 0 for d in shape[1:]):
                        shapes[ref] = tuple(shape[1:])
            elif isinstance(value, (list, tuple)):
                for v in value:
                    walk(v)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                constants.append(value)

        walk(node.get("args") or [])
        for key, value in (node.get("kwargs") or {}).items():
            if key not in ("training", "mask", "name"):
                walk(value)
    elif isinstance(node, list):
        if node and isinstance(node[0], str):
            node = [node]  # a call with one tensor argument (TFOpLambda) is not wrapped
        for entry in node:
            if isinstance(entry, list) and len(entry) >= 3 and isinstance(entry[0], str):
                refs.append((entry[0], int(entry[1]), int(entry[2])))
                kwargs = entry[3] if len(entry) > 3 and isinstance(entry[3], dict) else {}
                for key in ("y", "other"):
                    if isinstance(kwargs.get(key), (int, float)):
                        constants.append(kwargs[key])
    return refs, constants

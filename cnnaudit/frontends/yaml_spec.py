"""The YAML (or JSON) architecture spec -> graph IR, with YAML line numbers in every error.

Two forms share one reader: a sequential list of layers, and a graph where layers have
`name:` and `inputs:`. A layer without `inputs` takes the layer written before it.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import marshal
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .. import ops
from ..errors import SpecError
from ..ir import Graph, Location, Node
from ..limits import DEFAULT, Limits
from ..ops import memo
from ..ops.base import OpError, exact_key, shape_value

TOP_LEVEL_KEYS = ("name", "description", "input", "inputs", "layers", "outputs")


class _Map(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers its line and each key's line."""

    line: int | None = None
    key_lines: dict[Any, int]


class _Seq(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers its line and each item's line."""

    line: int | None = None
    item_lines: list[int]


def load_spec_file(path: Path, limits: Limits = DEFAULT) -> Graph:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the spec: {exc}", file=str(path)) from None
    from .yaml_text import parse_text  # PyYAML: only for spec text, never for a dict

    data = parse_text(text, str(path), limits)
    return graph_from_spec(data, file=str(path), default_name=path.stem, limits=limits)


def _line(obj: Any, key: Any = None, index: int | None = None) -> int | None:
    if key is not None and isinstance(obj, _Map):
        return obj.key_lines.get(key, obj.line)
    if index is not None and isinstance(obj, _Seq):
        return obj.item_lines[index]
    return getattr(obj, "line", None)


class _Reader:
    """Turns the parsed document into nodes, keeping `file` for every error."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def fail(self, message: str, line: int | None, hint: str | None = None) -> SpecError:
        return SpecError(message, file=self.file, line=line, hint=hint)

    # -- inputs ---------------------------------------------------------------------
    def graph_inputs(self, doc: Mapping[str, Any]) -> list[tuple[str, Any, int | None]]:
        if "input" in doc and "inputs" in doc:
            raise self.fail("give either `input:` or `inputs:`, not both", _line(doc, "inputs"))
        key = "input" if "input" in doc else "inputs" if "inputs" in doc else None
        if key is None:
            return []
        value = doc[key]
        line = _line(doc, key)
        if key == "input" or isinstance(value, Mapping) or _is_shape(value):
            entries = [(value, line)]
        elif isinstance(value, list) and value:
            entries = [(v, _line(value, index=i)) for i, v in enumerate(value)]
        else:
            raise self.fail("`inputs:` must be a list of inputs", line,
                            "e.g. inputs: [{name: image, shape: [32, 32, 3]}]")
        out = []
        for i, (entry, entry_line) in enumerate(entries):
            if isinstance(entry, Mapping):
                unknown = set(entry) - {"name", "shape", "batch_shape", "dtype"}
                if unknown:
                    raise self.fail(f"unknown key {sorted(unknown)[0]!r} in an input",
                                    entry_line, "an input has `name:` and `shape:`")
                if "shape" not in entry:
                    raise self.fail("input has no `shape:`", entry_line,
                                    "e.g. input: {name: image, shape: [32, 32, 3]}")
                name = entry.get("name") or ("input" if i == 0 else f"input_{i}")
                shape = entry["shape"]
            else:
                name, shape = ("input" if i == 0 else f"input_{i}"), entry
            if not isinstance(name, str):
                raise self.fail(f"input name must be a string, got {name!r}", entry_line)
            try:
                parsed = shape_value(shape)
            except (TypeError, ValueError) as exc:
                raise self.fail(f"input {name!r}: {exc}", entry_line) from None
            out.append((name, {"shape": parsed}, entry_line))
        return out


def _is_shape(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


def _default_name(op_name: str, used: set[str], counters: dict[str, int]) -> str:
    """Keras-style automatic names: conv2d, conv2d_1, ... skipping names already taken."""
    while True:
        n = counters.get(op_name, 0)
        counters[op_name] = n + 1
        name = op_name if n == 0 else f"{op_name}_{n}"
        if name not in used:
            return name


def graph_from_spec(
    doc: Any, *, file: str | None = None, default_name: str | None = None,
    limits: Limits = DEFAULT, entry_keys: Sequence[bytes] | None = None,
) -> Graph:
    """Build the IR from a parsed spec (a dict from YAML/JSON, or a plain Python dict).
    `entry_keys`: its layer entries' keys, when the caller made them (`spec_key`)."""
    reader = _Reader(file)
    if not isinstance(doc, Mapping):
        raise reader.fail("a spec is a mapping with `input:` and `layers:`", _line(doc),
                          "see examples/ for the format")
    if "layers" not in doc and any(key not in TOP_LEVEL_KEYS for key in doc):
        # a CI workflow or other YAML in a folder of models, not a misspelt spec
        raise reader.fail("not a cnnaudit model spec: no `layers:`, and keys a spec does not "
                          f"have ({', '.join(repr(k) for k in list(doc)[:3])})", _line(doc),
                          "a spec has `input:` and `layers:`; see examples/")
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
            raise reader.fail(f"unknown top-level key {key!r}", _line(doc, key),
                              f"did you mean {close[0]!r}?" if close else
                              f"known keys: {', '.join(TOP_LEVEL_KEYS)}")
    name = doc.get("name", default_name or "model")
    if not isinstance(name, str):
        raise reader.fail("`name:` must be a string", _line(doc, "name"))
    layers = doc.get("layers")
    if not isinstance(layers, list) or not layers:
        raise reader.fail("the spec has no `layers:` list", _line(doc, "layers") or _line(doc),
                          "add `layers:` with one entry per layer")
    if len(layers) > limits.max_layers:
        raise reader.fail(f"{len(layers):,} layers is more than the limit of "
                          f"{limits.max_layers:,}", _line(doc, "layers"),
                          "raise it with --max-layers")

    # Pass 1: read every layer (op, args, name, wiring) and every graph input.
    raw: list[dict[str, Any]] = []
    for gname, attrs, line in reader.graph_inputs(doc):
        raw.append({"name": gname, "op": ops.get("input"), "attrs": attrs, "inputs": None,
                    "line": line, "trainable": True, "auto": "input",
                    "skeleton": ("input", gname, line),
                    "key": ("input", tuple(attrs["shape"]), line)})  # for `_node`
    lines = layers.item_lines if isinstance(layers, _Seq) else [None] * len(layers)
    if memo.fast():
        raw += _read_layers_memo(reader, layers, lines, entry_keys)
    else:
        raw += [_read_layer(reader, entry, line)
                for entry, line in zip(layers, lines, strict=True)]

    plan = _plan_memo(reader, doc, raw)
    return Graph(
        name=name,
        nodes=_nodes(raw, plan, file),
        inputs=plan.graph_inputs,
        outputs=plan.outputs,
        source=file or "<dict>",
        format="spec",
        warnings=plan.warnings,
    )


@dataclass(frozen=True)
class _Plan:
    """How the read layers are named and wired, and the order they run in."""

    names: tuple[str, ...]  # per read layer
    inputs: tuple[tuple[str, ...], ...]  # per read layer
    order: tuple[int, ...]  # the read layers that are nodes, in execution order
    graph_inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    warnings: tuple[str, ...]
    # per node (in `order`): a number naming its name, inputs and file (`_nodes`)
    wiring: tuple[int, ...]


_PLANS: dict[Hashable, _Plan] = {}
memo.also_clear(_PLANS.clear)


def _plan_memo(reader: _Reader, doc: Mapping[str, Any], raw: list[dict[str, Any]]) -> _Plan:
    """`_plan`; the candidates of a search loop differ in their layers' arguments, not in
    their names and wiring, so a plan is kept by the layers' structure (op, given name and
    inputs, line: `skeleton` of each reading), the outputs asked for and the file."""
    skeleton = tuple(map(dict.get, raw, repeat("skeleton")))  # map: no frame per layer
    outputs = doc.get("outputs")
    if isinstance(outputs, list):
        outputs = tuple(outputs)
    key = (skeleton, outputs, reader.file)
    if not memo.fast() or None in skeleton:
        return _plan(reader, doc, raw)
    try:
        hit = _PLANS.get(key)
    except TypeError:  # `outputs:` of some unhashable kind: the slow path says what is wrong
        return _plan(reader, doc, raw)
    if hit is None:
        hit = _plan(reader, doc, raw)
        if len(_PLANS) >= 1024:
            _PLANS.clear()
        _PLANS[key] = hit
    return hit


def _plan(reader: _Reader, doc: Mapping[str, Any], raw: list[dict[str, Any]]) -> _Plan:
    """Name every layer, wire it, order the graph; every structural mistake is found here."""
    names: list[str | None] = [r["name"] for r in raw]
    seen_names: dict[str, int | None] = {}
    for r in raw:
        if r["name"] is not None:
            if r["name"] in seen_names:
                first = seen_names[r["name"]]
                raise reader.fail(f"duplicate layer name {r['name']!r}"
                                  + (f" (first used on line {first})" if first else ""),
                                  r["line"], "give each layer a unique name")
            seen_names[r["name"]] = r["line"]
    used, counters = {n for n in names if n is not None}, {}
    for i, r in enumerate(raw):
        if names[i] is None:
            names[i] = _default_name(r["auto"], used, counters)
            used.add(names[i])  # type: ignore[arg-type]

    if not any(r["op"].name == "input" for r in raw):
        raise reader.fail("the spec has no input shape", _line(doc),
                          "add e.g. `input: [28, 28, 1]` (height, width, channels; batch "
                          "omitted)")

    # A layer without `inputs` takes the previous layer.
    wired = [{"name": n, "op": r["op"], "line": r["line"],
              "inputs": None if r["inputs"] is None else list(r["inputs"])}
             for n, r in zip(names, raw, strict=True)]
    by_name = {r["name"]: r for r in wired}
    previous: str | None = None
    for r in wired:
        if r["op"].name == "input":
            r["inputs"] = []
        elif r["inputs"] is None:
            if previous is None:
                raise reader.fail(f"layer {r['name']!r} has no input", r["line"],
                                  "give `inputs: [...]` or put it after another layer")
            r["inputs"] = [previous]
        for ref in r["inputs"]:
            if ref not in by_name:
                close = difflib.get_close_matches(ref, list(by_name), n=1)
                raise reader.fail(
                    f"layer {r['name']!r} takes input {ref!r}, which does not exist",
                    r["line"], f"did you mean {close[0]!r}?" if close else
                    f"known layers: {', '.join(by_name)}")
        _check_arity(reader, r)
        previous = r["name"]

    outputs = _outputs(reader, doc, by_name, wired[-1]["name"])
    order = _toposort(reader, wired, by_name)
    needed = _ancestors(outputs, by_name)
    index = {r["name"]: i for i, r in enumerate(wired)}
    kept = [r for r in order if r["name"] in needed or r["op"].name == "input"]
    dropped = [r["name"] for r in order if r["name"] not in needed and r["op"].name != "input"]
    return _Plan(
        names=tuple(r["name"] for r in wired),
        inputs=tuple(tuple(r["inputs"]) for r in wired),
        order=tuple(index[r["name"]] for r in kept),
        graph_inputs=tuple(r["name"] for r in kept if r["op"].name == "input"),
        outputs=tuple(outputs),
        warnings=tuple(
            f"layer {d!r} does not lead to any output, so it is not counted (as in Keras)"
            for d in dropped),
        wiring=tuple([_number(_wirings, (r["name"], tuple(r["inputs"]), reader.file))
                      for r in kept]),
    )


# a node's name, inputs and file -> its number (`_nodes`)
_wirings: dict[Hashable, int] = {}
memo.also_clear(_wirings.clear)


def _number(table: dict[Hashable, int], key: Hashable) -> int:
    """A number for `key`, the same every time it is asked for and never given to another
    key: the table is bounded, and a number it forgets is not reused, so what is keyed by
    it just misses."""
    number = table.get(key)
    if number is None:
        if len(table) >= 4096:
            table.clear()
        number = table[key] = next(_serials)
    return number


SIBLING_KEYS = ("name", "inputs", "trainable")


_NODES: dict[tuple[Hashable, int], Node] = {}  # by reading ("key") and wiring number
memo.also_clear(_NODES.clear)


def _nodes(raw: list[dict[str, Any]], plan: _Plan, file: str | None) -> tuple[Node, ...]:
    """The plan's nodes, in order. A layer read from a remembered entry
    (`_read_layers_memo`) with the same name, inputs and file (its `wiring`) is the same
    node as last time: the very same object, so what the passes keep on a node (its memo
    key, its lowering) is found again."""
    # (map, zip: no frame per layer; a reading that is not kept has no "key")
    keys = list(zip(map(dict.get, map(raw.__getitem__, plan.order), repeat("key")),
                    plan.wiring, strict=True))
    nodes: list[Node | None] = list(map(_NODES.get, keys))
    if all(nodes):  # (a Node is always true)
        return tuple(nodes)  # type: ignore[arg-type]
    for i, (index, key) in enumerate(zip(plan.order, keys, strict=True)):
        if nodes[i] is None:
            nodes[i] = _node(raw[index], plan.names[index], plan.inputs[index], file, key)
    return tuple(nodes)  # type: ignore[arg-type]


def _node(r: dict[str, Any], name: str, inputs: tuple[str, ...], file: str | None,
          key: tuple[Hashable, int]) -> Node:
    node = Node(name=name, op=r["op"].name, attrs=r["attrs"], inputs=inputs,
                outputs=(name,), where=Location(file, r["line"]), trainable=r["trainable"])
    if key[0] is not None:
        if len(_NODES) >= 4096:
            _NODES.clear()
        _NODES[key] = node
    return node


_READ_LAYERS: dict[bytes, dict[str, Any]] = {}  # by a layer's line and entry, marshalled
_serials = itertools.count()
_skeletons: dict[Hashable, int] = {}  # a reading's structure -> its number (`_plan_memo`)
memo.also_clear(_skeletons.clear)
memo.also_clear(_READ_LAYERS.clear)


def entry_keys(layers: list[Any], lines: list[int | None]) -> list[bytes | None]:
    """Each layer entry's key in `_READ_LAYERS`: its line and entry marshalled (None: an
    entry marshal refuses)."""
    try:
        # marshal: C code and type-exact (1, 1.0 and True differ); version 2 writes no
        # back-references, so equal entries give equal bytes. (map, zip: no frame per layer)
        return list(map(marshal.dumps, zip(lines, layers, strict=True), repeat(2)))
    except ValueError:  # something marshal refuses (a YAML mapping that knows its lines)
        return list(map(_entry_key, layers, lines))


def spec_key(doc: dict[str, Any]) -> tuple[bytes, tuple[bytes, ...]] | None:
    """An exact key of a dict spec (equal keys: equal specs, type for type), for the API's
    report cache: the rest of the spec marshalled, and its layer entries' `entry_keys`,
    which `graph_from_spec` is then given instead of making them again. None: a part that
    is not plain values."""
    layers = doc.get("layers")
    if layers.__class__ is not list:
        return None
    keys = entry_keys(layers, [None] * len(layers))
    if None in keys:
        return None
    try:
        rest = marshal.dumps({k: v for k, v in doc.items() if k != "layers"}, 2)
    except ValueError:
        return None
    return rest, tuple(keys)  # type: ignore[arg-type]


def _read_layers_memo(reader: _Reader, layers: list[Any], lines: list[int | None],
                      keys: Sequence[bytes | None] | None = None) -> list[dict[str, Any]]:
    """`_read_layer` of every entry; an entry of plain values (`- batch_norm`,
    `- conv2d: {filters: 8}`, as a search loop writes its candidates) reads the same every
    time, so its reading is kept, by its `entry_keys` (given when the caller has them).
    Readings are shared: nothing changes them after `_read_layer` (`_plan` names and wires
    copies)."""
    if keys is None:
        keys = entry_keys(layers, lines)
    readings: list[dict[str, Any] | None] = list(map(_READ_LAYERS.get, keys))
    if all(readings):  # (a reading is never empty)
        return readings  # type: ignore[return-value]
    for i, (entry, line, key) in enumerate(zip(layers, lines, keys, strict=True)):
        if readings[i] is None:
            # (an entry written twice is read once: the first may have been kept just now)
            readings[i] = _READ_LAYERS.get(key) or _read_new_layer(reader, entry, line, key)
    return readings  # type: ignore[return-value]


def _entry_key(entry: Any, line: int | None) -> bytes | None:
    """One entry's key in `_READ_LAYERS`; None when marshal refuses it."""
    if entry.__class__ is not str and entry.__class__ is not dict:
        return None  # (a YAML mapping that knows its lines: not plain, and no exception)
    try:
        return marshal.dumps((line, entry), 2)
    except ValueError:
        return None


def _read_new_layer(reader: _Reader, entry: Any, line: int | None,
                    key: bytes | None) -> dict[str, Any]:
    """`_read_layer`, its reading kept under `key` when the entry is plain."""
    reading = _read_layer(reader, entry, line)
    if key is None or not _plain(entry):
        return reading
    reading["key"] = next(_serials)  # names this reading for `_nodes`, cheaper than `key`
    reading["skeleton"] = _number(_skeletons, (
        reading["op"].name, reading["name"],
        None if reading["inputs"] is None else tuple(reading["inputs"]), line, reading["auto"]))
    if len(_READ_LAYERS) >= 4096:
        _READ_LAYERS.clear()
    _READ_LAYERS[key] = reading
    return reading


def _plain(entry: Any) -> bool:
    """Whether an entry is a name, or `{kind: value}` with a plain value or named plain
    values: its reading then holds nothing the caller could change later. (Entries of
    equal marshal bytes are equal, type for type: only such entries are ever found.)"""
    if entry.__class__ is str:
        return True
    if entry.__class__ is not dict or len(entry) != 1:
        return False
    ((kind, value),) = entry.items()
    if kind.__class__ is not str:
        return False
    if value.__class__ is dict:
        return _SCALARS.issuperset(map(type, value.values()))
    return value.__class__ in _SCALARS


def _read_layer(reader: _Reader, entry: Any, line: int | None) -> dict[str, Any]:
    siblings: dict[str, Any] = {}
    if isinstance(entry, str):
        op_name, value = entry, None
    elif isinstance(entry, Mapping) and entry:
        # `- conv2d: {...}`, optionally with `name:`/`inputs:` written beside the type.
        kinds = [k for k in entry if k not in SIBLING_KEYS]
        if len(kinds) != 1:
            keys = ", ".join(map(str, entry))
            raise reader.fail(f"cannot read this layer ({keys})", line,
                              "write one layer per item, e.g. `- conv2d: {filters: 8, "
                              "kernel: 3}`")
        op_name, value = kinds[0], entry[kinds[0]]
        siblings = {k: entry[k] for k in entry if k in SIBLING_KEYS}
    else:
        raise reader.fail(f"cannot read this layer ({type(entry).__name__})", line,
                          "write one layer per item, e.g. `- conv2d: {filters: 8, kernel: 3}`")
    if not isinstance(op_name, str):
        raise reader.fail(f"layer type must be a name, got {op_name!r}", line)
    op = ops.lookup(op_name)
    if op is None:
        close = ops.suggest(op_name)
        raise reader.fail(f"unknown layer {op_name!r}", line,
                          f"did you mean {close!r}?" if close else
                          "run `cnnaudit layers --help` for the list of layers")
    if value is None:
        args: dict[str, Any] = {}
    elif isinstance(value, Mapping):
        args = dict(value)
    elif op.main_arg is not None:
        args = {op.main_arg: value}
    else:
        raise reader.fail(f"{op.name} takes no main argument, got {value!r}", line,
                          f"write `- {op_name}` or give named arguments")

    for key, sibling in siblings.items():
        if key in args:
            raise reader.fail(f"{key!r} given twice", _line(entry, key))
        args[key] = sibling

    def arg_line(key: str) -> int | None:
        if key in siblings:
            return _line(entry, key)
        return _line(value, key) if isinstance(value, _Map) else line

    name = args.pop("name", None)
    if name is not None and not isinstance(name, str):
        raise reader.fail(f"layer name must be a string, got {name!r}", arg_line("name"))
    inputs = args.pop("inputs", None)
    if inputs is not None:
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise reader.fail("`inputs:` must be a layer name or a list of layer names",
                              arg_line("inputs"))
    trainable = args.get("trainable", True)
    if not isinstance(trainable, bool):
        raise reader.fail("`trainable:` must be true or false", arg_line("trainable"))
    try:
        # a user's arguments recur across a search loop's candidates; memoise scalar ones
        attrs = memo.rule(_normalize, op.name, args, (), key=exact_key(args)) if all(
            v.__class__ in _SCALARS for v in args.values()) else op.normalize(args)
    except OpError as exc:
        bad = next((k for k in args if repr(k) in str(exc)), None)
        who = f"layer {name!r} ({op.name})" if name else op.name
        raise reader.fail(f"{who}: {exc}", arg_line(bad) if bad else line) from None
    if op.name == "input":
        inputs = []
    return {"name": name, "op": op, "attrs": attrs, "inputs": inputs, "line": line,
            "trainable": trainable, "auto": _snake(op_name)}


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _normalize(op: str, args: Mapping[str, Any], _: object, __: object) -> Mapping[str, Any]:
    return MappingProxyType(ops.get(op).normalize(args))


@functools.lru_cache(maxsize=512)
def _snake(name: str) -> str:
    """Keras's automatic layer name for a spelling: MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower().replace("-", "_")


def _check_arity(reader: _Reader, r: dict[str, Any]) -> None:
    op, n = r["op"], len(r["inputs"])
    if op.name == "input":
        return
    if n < op.min_inputs or (op.max_inputs is not None and n > op.max_inputs):
        if op.max_inputs == op.min_inputs:
            want = f"exactly {op.min_inputs}"
        elif op.max_inputs is None:
            want = f"at least {op.min_inputs}"
        else:
            want = f"{op.min_inputs} to {op.max_inputs}"
        hint = "list them with `inputs: [a, b]`" if op.min_inputs > 1 else None
        raise reader.fail(f"layer {r['name']!r} ({op.name}) takes {want} input(s), got {n}",
                          r["line"], hint)


def _outputs(reader: _Reader, doc: Mapping[str, Any], by_name: dict[str, Any],
             last: str) -> list[str]:
    value = doc.get("outputs")
    if value is None:
        return [last]
    if isinstance(value, str):
        value = [value]
    line = _line(doc, "outputs")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise reader.fail("`outputs:` must be a layer name or a list of layer names", line)
    for v in value:
        if v not in by_name:
            raise reader.fail(f"output {v!r} is not a layer", line)
    return list(dict.fromkeys(value))


def _toposort(reader: _Reader, raw: list[dict[str, Any]],
              by_name: dict[str, Any]) -> list[dict[str, Any]]:
    """Execution order: file order where possible; a cycle is reported with its path.

    Iterative depth-first search, so a thousand-layer spec cannot hit Python's recursion limit.
    """
    placed: set[str] = set()
    for r in raw:  # the usual case: every layer after its inputs, so file order it is
        if not placed.issuperset(r["inputs"]):
            break
        placed.add(r["name"])
    else:
        return raw
    order: list[dict[str, Any]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = placed
    for root in raw:
        if state.get(root["name"]) == 2:
            continue
        path: list[str] = [root["name"]]
        stack: list[tuple[dict[str, Any], int]] = [(root, 0)]
        state[root["name"]] = 1
        while stack:
            r, i = stack[-1]
            if i < len(r["inputs"]):
                stack[-1] = (r, i + 1)
                child = by_name[r["inputs"][i]]
                cstate = state.get(child["name"])
                if cstate == 1:
                    cycle = [*path[path.index(child["name"]):], child["name"]]
                    raise reader.fail(f"layers form a cycle: {' -> '.join(cycle)}",
                                      child["line"], "a layer's inputs must come before it")
                if cstate is None:
                    state[child["name"]] = 1
                    path.append(child["name"])
                    stack.append((child, 0))
            else:
                stack.pop()
                path.pop()
                state[r["name"]] = 2
                order.append(r)
    return order


def _ancestors(outputs: list[str], by_name: dict[str, Any]) -> set[str]:
    needed: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(by_name[name]["inputs"])
    return needed

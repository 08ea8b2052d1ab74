"""IR graph -> YAML spec, the inverse of the YAML frontend.

`cnnaudit suggest --apply` transforms a graph (from a spec or a Keras file) and writes it
back as a spec the user can edit and audit. The writer emits the graph form (every layer
named, `inputs:` only where a layer does not take the one written before it) and only the
arguments that differ from what the reader would fill in, so the output stays readable and
re-reads to the same graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from . import ops
from .errors import SpecError, UsageError
from .ir import Graph, Node


def graph_to_spec(graph: Graph) -> dict[str, Any]:
    """The spec document (a plain dict) that the YAML frontend reads back as `graph`.

    Raises UsageError for what a spec cannot express: a .tflite graph (TFLite operators,
    not layers), layers sharing weights, a layer with several output tensors.
    """
    if graph.format == "tflite":
        raise UsageError(f"{graph.source}: a .tflite file holds TFLite operators, not layers; "
                         "it cannot be written as a spec",
                         hint="start from the spec or the Keras model it was converted from")
    producer: dict[str, str] = {}
    for node in graph.nodes:
        if len(node.outputs) != 1:
            raise UsageError(f"layer {node.name!r} has {len(node.outputs)} outputs; a spec "
                             "layer has one")
        if node.shares_weights_of is not None:
            raise UsageError(f"layer {node.name!r} reuses the weights of "
                             f"{node.shares_weights_of!r}; a spec cannot share weights")
        producer[node.outputs[0]] = node.name
    inputs = [n for n in graph.nodes if n.op == "input"]
    doc: dict[str, Any] = {"name": graph.name}
    entries = [{"name": n.name, "shape": list(n.attrs["shape"])} for n in inputs]
    if len(entries) == 1:
        # The reader names a lone unnamed input "input": write just its shape then.
        doc["input"] = entries[0]["shape"] if entries[0]["name"] == "input" else entries[0]
    else:
        doc["inputs"] = entries
    layers: list[Any] = []
    previous = inputs[-1].name if inputs else None
    for node in graph.nodes:
        if node.op == "input":
            continue
        args: dict[str, Any] = {"name": node.name}
        refs = [producer[t] for t in node.inputs]
        if refs != [previous]:
            args["inputs"] = refs[0] if len(refs) == 1 else refs
        args.update(_args(node))
        if not node.trainable:
            args["trainable"] = False
        layers.append({node.op: args})
        previous = node.name
    doc["layers"] = layers
    outputs = [producer[t] for t in graph.outputs]
    if outputs != [previous]:
        doc["outputs"] = outputs
    return doc


def _plain(value: Any) -> Any:
    """Tuples -> lists (recursively), so YAML writes plain sequences."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _compact(value: Any) -> Any:
    """A list of one repeated number -> that number (`kernel: [3, 3]` -> `kernel: 3`)."""
    if isinstance(value, list) and value and all(v == value[0] for v in value):
        first = value[0]
        if isinstance(first, int) and not isinstance(first, bool):
            return first
        if isinstance(first, list) and len(first) == 2 and first[0] == first[1]:
            return first[0]
    return value


def _args(node: Node) -> dict[str, Any]:
    """The node's arguments, minus those the reader fills in the same, each in its shortest
    spelling that normalizes to the same attributes (checked, not assumed)."""
    op = ops.get(node.op)
    target = dict(node.attrs)
    names = [a.name for a in op.args]
    args = {name: _plain(target[name]) for name in names if name in target}

    def same(candidate: Mapping[str, Any]) -> bool:
        try:
            return op.normalize(candidate) == target
        except (ops.OpError, TypeError, ValueError):
            return False

    if not same(args):
        raise SpecError(f"layer {node.name!r} ({node.op}): its attributes cannot be written "
                        "as spec arguments")
    for name in names:
        if name not in args:
            continue
        without = {k: v for k, v in args.items() if k != name}
        if same(without):
            args = without
            continue
        short = _compact(args[name])
        if short is not args[name] and same({**args, name: short}):
            args[name] = short
    return args


def dump_spec(graph: Graph, header: str = "") -> str:
    """The spec as YAML text, with `header` lines written as comments at the top."""
    text = yaml.safe_dump(graph_to_spec(graph), sort_keys=False, default_flow_style=None,
                          width=100, allow_unicode=True)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comments + text


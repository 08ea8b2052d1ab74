"""Lowering: the Keras-level graph -> the TFLite operator graph the converter would write.

Each op says what it becomes (`Op.lower`); this pass wires the steps together and applies
the converter's graph-level rewrites (TF 2.21, checked against its output in the tests):
- batch normalisation after a convolution or dense layer is folded into it;
- a ReLU/ReLU6 after an operator that can fuse it (and is read by nothing else) is fused;
- Rescaling before a convolution is folded into it;
- dropout vanishes; a RESHAPE that undoes the RESHAPE before it vanishes with it;
- at float16, weights are stored as float16 and expanded by DEQUANTIZE operators.
Models are lowered with int8 (or float32) inputs and outputs, so no QUANTIZE/DEQUANTIZE
is added at the edges.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from .. import ops
from ..dtypes import DType
from ..ir import Graph, Location, Node, Shape
from ..ops import memo
from ..ops.base import FUSED_ACTIVATIONS, Lowered, Weight

FOLDS_BATCH_NORM = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
FUSES_ACTIVATION = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV",
                    "ADD", "SUB", "MUL")
FOLDS_RESCALING = ("conv2d", "depthwise_conv2d", "separable_conv2d")
ABSORBS_PADDING = ("conv2d", "depthwise_conv2d")
# Operators with no int8 kernel: at int8 the converter runs them in float between a
# DEQUANTIZE and a QUANTIZE.
FLOAT_ONLY = ("NEG", "ELU")
# Layers a fold may take away, besides a ReLU the operator before it can fuse (`_fold`).
FOLDED_LAYERS = ("zero_padding2d", "batch_norm", "flatten", "rescaling")
# Input positions of weights and bias, where they differ from (1, 2).
WEIGHT_POSITIONS = {"TRANSPOSE_CONV": (1, 3)}
SHAPE_OPERAND_BYTES = 16  # an int32 shape/axis/padding vector of a rank-4 tensor


Names = tuple[tuple[str, str], ...]  # (Keras layer, TensorFlow op in its name scope)


class _Layer:
    """A layer's operators for its node and input shapes, named (per step, the ops its
    output tensor is named after: flash's tensor names), and what the folds and the int8
    wrap may do to it: worked out once and kept on the node, so a layer left as it is (a
    convolution with its activation fused) costs an audit next to nothing."""

    __slots__ = ("_facts", "float_only", "folds", "names", "reshapes", "steps")

    def __init__(self, node: Node, shapes: Mapping[str, Shape]) -> None:
        out = shapes[node.outputs[0]]
        steps = memo.node_rule(_lower_layer, node, [shapes[t] for t in node.inputs], out)
        self.steps: tuple[Lowered, ...] = (Lowered(f"UNKNOWN:{node.op}", out),) \
            if steps is None else steps
        self.names = tuple(_names(node, s) for s in self.steps)
        # only these layers can fold away (`_fold`); folds only remove operators or
        # change their weights and activation, so a float-only operator is one from here
        self.folds = node.op in FOLDED_LAYERS or _fusable(node, self.steps)
        self.float_only = any(s.builtin in FLOAT_ONLY for s in self.steps)
        # a RESHAPE may undo the one before it, in another layer (`_build`)
        self.reshapes = any(s.builtin == "RESHAPE" for s in self.steps)


class _Chain:
    """A layer's operators, as the folds and the int8 wrap rewrite them (made only when
    one of them may): tuples, replaced and never changed in place, so an untouched chain
    holds its layer's own."""

    __slots__ = ("consumers", "names", "node", "steps")

    def __init__(self, node: Node, layer: _Layer) -> None:
        self.node = node
        self.steps = layer.steps
        self.names = layer.names
        self.consumers: list[str] = []

    def fold_into_last(self, step: Lowered, names: Names) -> None:
        """The last operator, now with the layer after it folded in."""
        self.steps = (*self.steps[:-1], step)
        self.names = (*self.names[:-1], names)


def _names(node: Node, step: Lowered) -> Names:
    layer = node.name.replace("/", "_").replace("@", "_call")  # as keras_build names it
    pieces = step.names or ("".join(w.title() for w in step.builtin.split("_")),)
    return tuple(("", "") if not p else (layer, p) for p in pieces)


def _fusable(node: Node, steps: Sequence[Lowered]) -> bool:
    """A ReLU/ReLU6 layer that the operator before it may take as its fused activation."""
    return len(steps) == 1 and steps[0].builtin in ("RELU", "RELU6") \
        and node.attrs.get("activation") in FUSED_ACTIVATIONS


def _lower_layer(op: str, attrs: Mapping[str, Any], ins: Sequence[Shape],
                 out: Shape | None) -> tuple[Lowered, ...] | None:
    assert out is not None
    steps = ops.get(op).lower(attrs, ins, out)
    return None if steps is None else tuple(steps)


def lower(graph: Graph, shapes: dict[str, Shape], dtype: DType) -> Graph:
    """A new graph of `tflite` nodes; tensor names keep the Keras layer names."""
    layers: dict[str, _Layer] = {}
    folds: list[Node] = []  # layers a fold may take away, in graph order
    wraps = False  # whether an operator has no int8 kernel (wrapped at int8)
    for node in graph.nodes:
        if node.op == "input":
            continue
        # a layer's input shapes, with the node, decide its lowering
        layer = layers[node.name] = memo.kept(
            node, ("lowered", *map(shapes.__getitem__, node.inputs)), _Layer, shapes)
        if layer.folds:
            folds.append(node)
        wraps = wraps or layer.float_only
    wraps = wraps and dtype.quantized
    if not folds and not wraps:  # nothing to rewrite: the layers are the chains
        return _eliminate_dead(_build(graph, layers, shapes, dtype))
    chains = {node.name: _Chain(node, layers[node.name]) for node in graph.nodes
              if node.name in layers}
    if folds:
        _fold(graph, folds, chains, shapes)
    if wraps:
        for chain in chains.values():
            if not any(step.builtin in FLOAT_ONLY for step in chain.steps):
                continue  # folded away, or nothing to wrap
            pairs = [w for step, names in zip(chain.steps, chain.names, strict=True) for w in (
                [(Lowered("DEQUANTIZE", step.shape), names), (step, names),
                 (Lowered("QUANTIZE", step.shape), names)]
                if step.builtin in FLOAT_ONLY else [(step, names)])]
            chain.steps = tuple(s for s, _ in pairs)
            chain.names = tuple(n for _, n in pairs)
    return _eliminate_dead(_build(graph, chains, shapes, dtype))


def _link(graph: Graph, chains: dict[str, _Chain]) -> dict[str, str]:
    """Fill in each chain's consumers (the layers that read it, "<output>" for a graph
    output); returns the layer that produces each tensor."""
    producer: dict[str, str] = {}
    for node in graph.nodes:
        for t in node.outputs:
            producer[t] = node.name
    for node in graph.nodes:
        for t in node.inputs:
            if producer[t] in chains:
                chains[producer[t]].consumers.append(node.name)
    for t in graph.outputs:
        if producer[t] in chains:
            chains[producer[t]].consumers.append("<output>")
    return producer


def _source(chains: dict[str, _Chain], producer: dict[str, str], node: Node) -> _Chain | None:
    """The chain whose last operator feeds `node`'s single input, when nothing else reads
    it; layers that vanished (a folded batch norm, dropout) are looked through."""
    reader = node.name
    current = node
    while len(current.inputs) == 1:
        chain = chains.get(producer[current.inputs[0]])
        if chain is None or chain.consumers != [reader]:
            return None
        if chain.steps:
            return chain
        reader, current = chain.node.name, chain.node
    return None


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """The (before, after) padding TensorFlow's SAME adds along one axis."""
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _padding_absorbed(node: Node, consumer: Node, shapes: dict[str, Shape]) -> bool:
    """ZeroPadding2D then a valid convolution equals a SAME convolution: the converter
    drops the PAD and pads inside the convolution (MobileNet's strided blocks)."""
    if consumer.op not in ABSORBS_PADDING or consumer.attrs["padding"] != "valid":
        return False
    shape = shapes[node.inputs[0]]
    wanted = tuple(
        _same_padding(size, k, s, d) for size, k, s, d in zip(
            shape[:-1], consumer.attrs["kernel"], consumer.attrs["strides"],
            consumer.attrs["dilation"], strict=True))
    return tuple(node.attrs["padding"]) == wanted


def _fold(graph: Graph, folds: list[Node], chains: dict[str, _Chain],
          shapes: dict[str, Shape]) -> None:
    """Fold away the layers in `folds` (in graph order) that the converter folds."""
    producer = _link(graph, chains)
    for node in folds:
        chain = chains[node.name]
        if node.op == "zero_padding2d" and len(chain.consumers) == 1 and \
                chain.consumers[0] in chains and \
                _padding_absorbed(node, chains[chain.consumers[0]].node, shapes):
            chain.steps = ()
            consumer = chains[chain.consumers[0]]
            consumer.names = (memo.shared(
                ("pad", id(consumer.names[0]), id(node)), (consumer.names[0], node),
                _padded_names, consumer.names[0], node), *consumer.names[1:])
            continue
        activation = _fusable(node, chain.steps)
        src = _source(chains, producer, node) if activation or node.op == "batch_norm" \
            else None  # only these fold into the operator before them
        last = src.steps[-1] if src else None
        if node.op == "batch_norm" and last and last.builtin in FOLDS_BATCH_NORM \
                and last.activation == "NONE":
            src.fold_into_last(
                memo.shared(("bn", id(last)), (last,), _with_bias, last),
                memo.shared(("bn-names", id(src.names[-1]), id(node), last.builtin),
                            (src.names[-1], node), _batch_norm_names, src.names[-1], node,
                            last.builtin))
            chain.steps = ()
        elif activation and last and last.activation == "NONE" \
                and last.builtin in FUSES_ACTIVATION:
            fused = chain.steps[0].builtin
            src.fold_into_last(
                memo.shared(("fuse", id(last), fused), (last,), _fused, last, fused),
                memo.shared(("fused-names", id(src.names[-1]), id(chain.names[0])),
                            (src.names[-1], chain.names[0]), _joined, src.names[-1],
                            chain.names[0]))
            chain.steps = ()
        elif node.op == "flatten" and len(chain.consumers) == 1 and \
                chains.get(chain.consumers[0]) is not None and \
                chains[chain.consumers[0]].node.op == "dense" and \
                all(d == 1 for d in shapes[node.inputs[0]][:-1]):
            # (1, 1, C) -> (C,) before a dense layer: FULLY_CONNECTED reads it as it is
            chain.steps = ()
        elif node.op == "rescaling" and len(chain.consumers) == 1 and \
                chains.get(chain.consumers[0]) is not None and \
                chains[chain.consumers[0]].node.op in FOLDS_RESCALING:
            chain.steps = ()


# The folds below make each operator's names once: a names tuple is then always the same
# object, and the operator nodes are shared by its id (`_build`).
def _padded_names(names: Names, padding: Node) -> Names:
    return (*names, ("", ""), *_names(padding, Lowered("PAD", ())))


def _batch_norm_names(names: Names, batch_norm: Node, builtin: str) -> Names:
    """The converter names the folded operator after the batch norm's ops too: its shift
    (add_1, sub), and its scale (mul_1, mul) unless that went into a kernel with no bias
    add of its own."""
    scale = builtin != "CONV_2D" or any(p == "BiasAdd" for _, p in names)
    ops_ = ("batchnorm/add_1", "batchnorm/sub") + (
        ("batchnorm/mul_1", "batchnorm/mul") if scale else ())
    layer = _names(batch_norm, Lowered("BN", ()))[0][0]
    return (*names, *((layer, o) for o in ops_))


def _joined(names: Names, more: Names) -> Names:
    return (*names, *more)


def _fused(step: Lowered, activation: str) -> Lowered:
    return _replace(step, activation=activation)


def _with_bias(step: Lowered) -> Lowered:
    """`step` with a batch norm folded in: its shift becomes (or joins) the bias."""
    weights = step.weights
    if not any(w.role == "bias" for w in weights):
        n = step.shape[-1]
        weights = (*weights, Weight("bias", (n,), channel_axis_size=n))
    return _replace(step, weights=weights)


def _replace(step: Lowered, **changes: object) -> Lowered:
    """A copy of `step` with `changes`; it has absorbed one more layer."""
    values = {"builtin": step.builtin, "shape": step.shape, "weights": step.weights,
              "activation": step.activation, "shape_operands": step.shape_operands,
              "merged": step.merged + 1, "names": step.names}
    values.update(changes)
    return Lowered(**values)  # type: ignore[arg-type]


def _weight_dtype(weight: Weight, dtype: DType) -> str:
    if dtype.name == "int8":
        return "int32" if weight.role == "bias" else "int8"
    return "float16" if dtype.name == "float16" else "float32"


def _build(graph: Graph, chains: Mapping[str, _Layer | _Chain], shapes: dict[str, Shape],
           dtype: DType) -> Graph:
    act_dtype = "int8" if dtype.quantized else "float32"
    # Keras tensor -> lowered tensor that holds it; a tensor is resolved before it is
    # aliased, so an alias never names another alias
    alias: dict[str, str] = {}
    nodes: list[Node] = []
    reshape_source: dict[str, tuple[str, Shape]] = {}  # RESHAPE output -> (its input, shape)
    dtypes: dict[str, str] = {}
    for node in graph.nodes:
        if node.op == "input":
            nodes.append(node)
            dtypes[node.name] = act_dtype
            continue
        chain = chains[node.name]
        steps = chain.steps
        current = tuple(map(alias.get, node.inputs, node.inputs)) if alias else node.inputs
        if not steps:
            alias[node.outputs[0]] = current[0]
            continue
        in_shape = shapes.get(node.inputs[0]) if node.inputs else None
        if type(chain) is _Layer and not chain.reshapes:
            # a layer as it is, wired as before: its operators are kept on its record
            made, made_dtypes = memo.kept(chain, (current, dtype.name, graph.source),
                                          _layer_operators, node, current, in_shape, dtype,
                                          graph.source)
            nodes.extend(made)
            dtypes.update(made_dtypes)
            continue
        last = len(steps) - 1
        for i, step in enumerate(steps):
            names = chain.names[i]
            name = node.outputs[0] if i == last else f"{node.name}/{i}"
            if step.builtin == "RESHAPE" and len(current) == 1 and current[0] in \
                    reshape_source and reshape_source[current[0]][1] == step.shape:
                # this RESHAPE undoes the one before it: read that one's input instead
                undone = reshape_source[current[0]][0]
                if i == last:
                    alias[name] = undone
                current = (undone,)
                continue
            made, made_dtypes = _shared_operator(step, names, name, current, in_shape, dtype,
                                                 node, graph.source)
            nodes.extend(made)
            dtypes.update(made_dtypes)
            if step.builtin == "RESHAPE" and len(current) == 1:
                reshape_source[name] = (current[0], _shape_of(current[0], nodes, graph, shapes))
            current = (name,)
    return Graph(
        name=graph.name,
        nodes=tuple(nodes),
        inputs=graph.inputs,
        outputs=tuple(map(alias.get, graph.outputs, graph.outputs)),
        source=graph.source,
        format="lowered",
        warnings=(),
        tensor_dtypes=dtypes,
        dtype=dtype.name,
    )


def _layer_operators(layer: _Layer, node: Node, current: tuple[str, ...],
                     in_shape: Shape | None, dtype: DType,
                     source: str) -> tuple[tuple[Node, ...], tuple[tuple[str, str], ...]]:
    """The operators of a layer with no RESHAPE, as `_build` makes them step by step (the
    same shared nodes), and their output dtypes."""
    made: list[Node] = []
    made_dtypes: list[tuple[str, str]] = []
    last = len(layer.steps) - 1
    for i, (step, names) in enumerate(zip(layer.steps, layer.names, strict=True)):
        name = node.outputs[0] if i == last else f"{node.name}/{i}"
        ops_, dtypes = _shared_operator(step, names, name, current, in_shape, dtype, node,
                                        source)
        made += ops_
        made_dtypes += dtypes
        current = (name,)
    return tuple(made), tuple(made_dtypes)


def _shared_operator(step: Lowered, names: Names, name: str, current: tuple[str, ...],
                     in_shape: Shape | None, dtype: DType, owner: Node,
                     source: str) -> tuple[tuple[Node, ...], tuple[tuple[str, str], ...]]:
    """`_operator`, shared between candidates: found by the ids of its step, layer and
    names (each made once, see the folds) and how it is wired."""
    return memo.shared(
        ("op", id(step), id(owner), id(names), name, current, in_shape, dtype.name, source),
        (step, owner, names), _operator, step, names, name, current, in_shape, dtype, owner,
        source)


def _operator(step: Lowered, names: Names, name: str, current: Sequence[str],
              in_shape: Shape | None, dtype: DType, owner: Node,
              source: str) -> tuple[tuple[Node, ...], tuple[tuple[str, str], ...]]:
    """The tflite node of one lowered step, after the DEQUANTIZE nodes of its weights (at
    float16). The same step, wired the same way, recurs across a search loop's candidates:
    the caller shares the nodes, and with them what passes keep on a node."""
    act_dtype = "int8" if dtype.quantized else "float32"
    made: list[Node] = []
    extra, constants = _constants(step, dtype, made, owner, name)
    made.append(Node(
        name=name, op="tflite",
        attrs={
            "builtin": step.builtin,
            "version": 1,
            "options": {},
            "output_shapes": (step.shape,),
            "output_dtypes": (act_dtype,),
            "input_shapes": (in_shape, *(w.shape for w in step.weights)),
            "constants": constants,
            "fused_activation": step.activation,
            "quantization": ("per-channel" if dtype.quantized and step.weights
                             and step.weights[0].channel_axis_size > 1 else
                             "per-tensor" if dtype.quantized and step.weights else ""),
            "dynamic": False,
            "merged": step.merged,
            "names": names,
        },
        inputs=tuple(dict.fromkeys([*current, *extra])),
        outputs=(name,),
        where=owner.where if owner.where.line else Location(source),
    ))
    return tuple(made), tuple((n.name, n.attrs["output_dtypes"][0]) for n in made)


def _eliminate_dead(graph: Graph) -> Graph:
    """Drop operators whose outputs nothing reads (a RESHAPE whose work was undone)."""
    nodes = graph.nodes
    while True:
        read = set(graph.outputs).union(*map(_INPUTS, nodes))
        if read.issuperset(itertools.chain.from_iterable(map(_OUTPUTS, nodes))):
            break  # every tensor is read (the usual case): nothing is dead
        alive = tuple(n for n in nodes if n.op == "input" or not read.isdisjoint(n.outputs))
        if len(alive) == len(nodes):
            break
        nodes = alive
    if len(nodes) == len(graph.nodes):
        return graph
    return Graph(name=graph.name, nodes=nodes, inputs=graph.inputs,
                 outputs=graph.outputs, source=graph.source, format=graph.format,
                 warnings=graph.warnings, tensor_dtypes=graph.tensor_dtypes,
                 dtype=graph.dtype)


_INPUTS = operator.attrgetter("inputs")
_OUTPUTS = operator.attrgetter("outputs")


def _shape_of(tensor: str, nodes: list[Node], graph: Graph, shapes: dict[str, Shape]) -> Shape:
    for n in reversed(nodes):
        if tensor in n.outputs:
            if n.op == "tflite":
                return tuple(n.attrs["output_shapes"][0])
            return tuple(n.attrs["shape"])
    return shapes[tensor]


def _constants(step: Lowered, dtype: DType, nodes: list[Node], owner: Node,
               name: str) -> tuple[list[str], tuple[tuple, ...]]:
    """Constant inputs of a lowered operator, as the tflite op records them. At float16
    each weight becomes a DEQUANTIZE operator whose float32 output feeds the operator."""
    kernel_at, bias_at = WEIGHT_POSITIONS.get(step.builtin, (1, 2))
    constants = []
    extra: list[str] = []
    position = kernel_at
    for w in step.weights:
        pos = bias_at if w.role == "bias" else position
        position = max(position, pos) + 1
        data = dtype.data_bytes(w)
        quant = dtype.quant_bytes(w)
        if dtype.name == "float16":
            deq = f"{name}/dequantize_{pos}"
            nodes.append(Node(
                name=deq, op="tflite",
                attrs={"builtin": "DEQUANTIZE", "version": 1, "options": {},
                       "output_shapes": (w.shape,), "output_dtypes": ("float32",),
                       "input_shapes": (w.shape,),
                       "constants": ((0, w.shape, "float16", data, 0, 1),),
                       "fused_activation": "NONE", "quantization": "", "dynamic": False},
                inputs=(), outputs=(deq,), where=owner.where))
            extra.append(deq)
            continue
        constants.append((pos, w.shape, _weight_dtype(w, dtype), data, quant,
                          w.channel_axis_size))
    for k in range(step.shape_operands):
        constants.append((position + k, (4,), "int32", SHAPE_OPERAND_BYTES, 0, 1))
    return extra, tuple(constants)

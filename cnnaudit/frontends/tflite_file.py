"""A .tflite flatbuffer -> graph IR: the operators, tensors and buffers that will run.

Read with cnnaudit's own flatbuffer reader (`flatbuf`, with the schema's field slots in
`tflite_schema`): no TensorFlow, no `tflite` or `flatbuffers` package, no numpy. Every
offset and count read from the file is checked against the file's size before it is used,
so a forged vector length or offset fails fast with a clear error instead of a long loop
or an exception from deep inside a parser. Weights are never copied: only their byte
counts are read.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..ir import Graph, Location, Node, Shape
from ..limits import DEFAULT, Limits
from . import tflite_schema as S
from .flatbuf import Buffer, FlatbufferError, Table, Vector

MAX_OPERATORS = 100_000
MAX_TENSORS = 1_000_000
MAX_RANK = 8

TENSOR_TYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
    7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64",
    13: "resource", 14: "variant", 15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16",
}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
PADDINGS = {0: "SAME", 1: "VALID"}
# Builtin options worth showing, by the options table that carries them.
OPTION_FIELDS = {
    "Conv2DOptions": ("Padding", "StrideW", "StrideH", "DilationWFactor", "DilationHFactor",
                      "FusedActivationFunction"),
    "DepthwiseConv2DOptions": ("Padding", "StrideW", "StrideH", "DepthMultiplier",
                               "DilationWFactor", "DilationHFactor", "FusedActivationFunction"),
    "FullyConnectedOptions": ("FusedActivationFunction", "KeepNumDims"),
    "Pool2DOptions": ("Padding", "StrideW", "StrideH", "FilterWidth", "FilterHeight",
                      "FusedActivationFunction"),
    "AddOptions": ("FusedActivationFunction",),
    "SubOptions": ("FusedActivationFunction",),
    "MulOptions": ("FusedActivationFunction",),
    "DivOptions": ("FusedActivationFunction",),
    "ConcatenationOptions": ("Axis", "FusedActivationFunction"),
    "TransposeConvOptions": ("Padding", "StrideW", "StrideH", "FusedActivationFunction"),
    "SoftmaxOptions": ("Beta",),
    "ReducerOptions": ("KeepDims",),
    "BatchMatMulOptions": ("AdjX", "AdjY"),
}


def _fail(file: str, message: str, hint: str | None = None) -> SpecError:
    return SpecError(message, file=file, hint=hint)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def load_tflite_file(path: Path, limits: Limits = DEFAULT) -> Graph:
    file = str(path)
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            if size < 8:
                raise _fail(file, f"not a .tflite file ({size} bytes)")
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise _fail(file, f"cannot read the file: {exc}") from None
    try:
        if bytes(data[4:8]) != b"TFL3":
            raise _fail(file, "not a .tflite file (no TFL3 identifier)",
                        hint="convert the model with tf.lite.TFLiteConverter")
        return _Reader(file, data, size, limits).graph(path.stem)
    finally:
        data.close()


class _Reader:
    """Walks the flatbuffer; every read happens inside `reading`, so a damaged file becomes
    one SpecError naming what could not be read."""

    def __init__(self, file: str, data: Any, size: int, limits: Limits = DEFAULT) -> None:
        self.limits = limits
        self.file = file
        self.size = size
        self.buf = Buffer(data, size)
        with self.reading("the model table"):
            self.model = self.buf.root()
        self.warnings: list[str] = []
        self.seen_buffers: set[int] = set()  # a buffer shared by two tensors is stored once

    @contextmanager
    def reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except FlatbufferError as exc:
            raise _fail(self.file, f"damaged .tflite file: cannot read {what} ({exc})") from None

    def vector(self, what: str, table: Table, slot: int, limit: int,
               item_bytes: int = 4) -> Vector:
        with self.reading(what):
            vec = table.vector(slot)
        n = len(vec)
        if n > limit or n * item_bytes > self.size:
            raise _fail(self.file, f"damaged .tflite file: {what} claims {n} entries")
        return vec

    def ints(self, what: str, table: Table, slot: int) -> list[int]:
        vec = self.vector(what, table, slot, MAX_TENSORS)
        with self.reading(what):
            return vec.scalars("i")

    # -- model ---------------------------------------------------------------------------
    def graph(self, default_name: str) -> Graph:
        m = self.model
        subgraphs = self.vector("subgraphs", m, S.Model.SUBGRAPHS, 10_000)
        n_sub = len(subgraphs)
        if n_sub == 0:
            raise _fail(self.file, "the model has no subgraph")
        if n_sub > 1:
            with self.reading("a subgraph name"):
                names = [_text(subgraphs.table(i).string(S.SubGraph.NAME)) or f"#{i}"
                         for i in range(1, n_sub)]
            self.warnings.append(f"the model has {n_sub} subgraphs; auditing subgraph 0 "
                                 f"(others: {', '.join(names)})")
        codes = self._opcodes()
        buffers = self._buffers()
        with self.reading("subgraph 0"):
            sg = subgraphs.table(0)
        tensors = self._tensors(sg, buffers)
        with self.reading("the subgraph name"):
            name = _text(sg.string(S.SubGraph.NAME)) or default_name
        inputs = self.ints("subgraph inputs", sg, S.SubGraph.INPUTS)
        outputs = self.ints("subgraph outputs", sg, S.SubGraph.OUTPUTS)
        for t in (*inputs, *outputs):
            if not 0 <= t < len(tensors):
                raise _fail(self.file, f"damaged .tflite file: graph tensor {t} does not exist")

        nodes: list[Node] = []
        names: dict[int, str] = {}
        dtypes: dict[str, str] = {}
        taken: set[str] = set()

        def tensor_name(index: int) -> str:
            if index not in names:
                base = tensors[index]["short"] or f"t{index}"
                unique, k = base, 1
                while unique in taken:
                    unique, k = f"{base}#{k}", k + 1
                taken.add(unique)
                names[index] = unique
                dtypes[unique] = tensors[index]["dtype"]
            return names[index]

        for index in inputs:
            t = tensors[index]
            nodes.append(Node(name=tensor_name(index), op="input",
                              attrs={"shape": _batchless(t["shape"]) or (1,)}, inputs=(),
                              outputs=(tensor_name(index),), where=Location(self.file)))
        operators = self.vector("operators", sg, S.SubGraph.OPERATORS, MAX_OPERATORS)
        n_ops = len(operators)
        produced = {tensor_name(t) for t in inputs}
        if n_ops > self.limits.max_layers:
            raise _fail(self.file, f"{n_ops:,} operators is more than the limit of "
                        f"{self.limits.max_layers:,}", hint="raise it with --max-layers")
        for i in range(n_ops):
            node = self._operator(i, operators, codes, tensors, tensor_name)
            # A damaged file can wire an operator to a tensor nothing produces, or produce
            # one tensor twice: refuse it here rather than fail in a later pass.
            missing = [t for t in node.inputs if t not in produced]
            if missing or produced & set(node.outputs):
                raise _fail(self.file, f"damaged .tflite file: operator {i} "
                            + (f"reads {missing[0]!r}, which nothing produces before it"
                               if missing else "writes a tensor already written"))
            produced.update(node.outputs)
            nodes.append(node)
        if not set(tensor_name(t) for t in outputs) <= produced:
            raise _fail(self.file, "damaged .tflite file: a graph output is never produced")
        return Graph(
            name=name if name != "main" else default_name,
            nodes=tuple(nodes),
            inputs=tuple(tensor_name(t) for t in inputs),
            outputs=tuple(tensor_name(t) for t in outputs),
            source=self.file,
            format="tflite",
            warnings=tuple(self.warnings),
            tensor_dtypes=dtypes,
            file_size=self.size,
            dtype=_model_dtype(nodes),
            tensor_count=len(tensors),
        )

    def _opcodes(self) -> list[tuple[str, int]]:
        vec = self.vector("operator codes", self.model, S.Model.OPERATOR_CODES, 10_000)
        names = S.BUILTIN_OPERATOR_NAMES
        out = []
        for i in range(len(vec)):
            with self.reading("an operator code"):
                code = vec.table(i)
                # TFLite's GetBuiltinCode (compiler/mlir/lite/schema/schema_utils.cc): the
                # larger of the two. Old files set only the deprecated int8 field; newer
                # ones both, with 127 in the deprecated one for codes above it.
                builtin = max(code.scalar(S.OperatorCode.BUILTIN_CODE),
                              code.scalar(S.OperatorCode.DEPRECATED_BUILTIN_CODE))
                version = code.scalar(S.OperatorCode.VERSION)
                custom = code.string(S.OperatorCode.CUSTOM_CODE) \
                    if builtin == S.CUSTOM else None
            if builtin == S.CUSTOM:
                out.append((f"CUSTOM:{_text(custom)}", version))
            else:
                out.append((names[builtin] if 0 <= builtin < len(names)
                            else f"BUILTIN_{builtin}", version))
        return out

    def _buffers(self) -> list[int]:
        """Bytes held by each buffer: inline data, or an offset/size outside the flatbuffer."""
        vec = self.vector("buffers", self.model, S.Model.BUFFERS, MAX_TENSORS)
        out = []
        for i in range(len(vec)):
            with self.reading(f"buffer {i}"):
                buf = vec.table(i)
                data = buf.vector(S.Buffer.DATA)
                length = len(data)
                if length:
                    data.check(1)
                else:
                    offset = buf.scalar(S.Buffer.OFFSET)
                    size = buf.scalar(S.Buffer.SIZE)
                    if offset > 1:
                        if offset + size > self.size:
                            raise _fail(self.file, f"damaged .tflite file: buffer {i} points "
                                        "past the end of the file")
                        length = size
            if length > self.size:
                raise _fail(self.file, f"damaged .tflite file: buffer {i} claims {length} bytes")
            out.append(length)
        return out

    def _tensors(self, sg: Table, buffers: list[int]) -> list[dict[str, Any]]:
        vec = self.vector("tensors", sg, S.SubGraph.TENSORS, MAX_TENSORS)
        out = []
        for i in range(len(vec)):
            with self.reading("a tensor"):
                t = vec.table(i)
            shape = tuple(self.ints("a tensor shape", t, S.Tensor.SHAPE))
            signature = tuple(self.ints("a shape signature", t, S.Tensor.SHAPE_SIGNATURE))
            if len(shape) > MAX_RANK or any(d < 0 or d > 2**31 for d in shape):
                raise _fail(self.file, f"damaged .tflite file: tensor {i} has shape "
                            f"{list(shape)}")
            with self.reading("a tensor"):
                buffer = t.scalar(S.Tensor.BUFFER)
                kind = t.scalar(S.Tensor.TYPE)
                quant = t.table(S.Tensor.QUANTIZATION)
            if not 0 <= buffer < max(len(buffers), 1):
                raise _fail(self.file, f"damaged .tflite file: tensor {i} uses buffer {buffer}")
            dtype = TENSOR_TYPES.get(kind, "unknown")
            scales = zero_points = 0
            axis = 0
            if quant is not None:
                scales = len(self.vector("scales", quant, S.QuantizationParameters.SCALE,
                                         MAX_TENSORS))
                zero_points = len(self.vector("zero points", quant,
                                              S.QuantizationParameters.ZERO_POINT,
                                              MAX_TENSORS, 8))
                with self.reading("a quantized dimension"):
                    axis = quant.scalar(S.QuantizationParameters.QUANTIZED_DIMENSION)
            with self.reading("a tensor"):
                name = _text(t.string(S.Tensor.NAME))
                variable = t.scalar(S.Tensor.IS_VARIABLE)
            out.append({
                "name": name,
                "short": _short(name),
                "shape": shape,
                "signature": signature,
                "dtype": dtype,
                "bytes": buffers[buffer] if buffers else 0,
                "buffer": buffer,
                "quant_bytes": 4 * scales + 8 * zero_points,
                "channels": max(scales, 1),
                "axis": axis,
                "variable": variable,
            })
        return out

    def _operator(self, i: int, operators: Vector, codes: list[tuple[str, int]],
                  tensors: list[dict[str, Any]], tensor_name: Callable[[int], str]) -> Node:
        with self.reading(f"operator {i}"):
            op = operators.table(i)
            index = op.scalar(S.Operator.OPCODE_INDEX)
        if not 0 <= index < len(codes):
            raise _fail(self.file, f"damaged .tflite file: operator {i} uses opcode {index}")
        builtin, version = codes[index]
        ins = self.ints(f"operator {i} inputs", op, S.Operator.INPUTS)
        outs = self.ints(f"operator {i} outputs", op, S.Operator.OUTPUTS)
        for t in (*ins, *outs):
            if t != -1 and not 0 <= t < len(tensors):
                raise _fail(self.file, f"damaged .tflite file: operator {i} uses tensor {t}")
        if not outs:
            raise _fail(self.file, f"damaged .tflite file: operator {i} has no output")
        constants = []
        data_inputs = []
        input_shapes: list[Shape | None] = []
        for position, t in enumerate(ins):
            if t == -1:
                input_shapes.append(None)
                continue
            tensor = tensors[t]
            is_const = tensor["bytes"] > 0 and not tensor["variable"]
            if is_const:
                input_shapes.append(tensor["shape"])
                first = tensor["buffer"] not in self.seen_buffers
                self.seen_buffers.add(tensor["buffer"])
                constants.append((position, tensor["shape"], tensor["dtype"],
                                  tensor["bytes"] if first else 0,
                                  tensor["quant_bytes"] if first else 0, tensor["channels"]))
            else:
                input_shapes.append(_batchless(tensor["shape"]))
                data_inputs.append(tensor_name(t))
        options = self._options(op)
        kernel = next((c for c in constants if c[0] == 1), None)
        rank = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "TRANSPOSE_CONV": 4,
                "FULLY_CONNECTED": 2}.get(builtin)
        if rank is not None and kernel is not None and len(kernel[1]) != rank:
            raise _fail(self.file, f"damaged .tflite file: {builtin} operator {i} has "
                        f"weights of shape {list(kernel[1])}")
        quant = ""
        if kernel is not None and kernel[2] in ("int8", "uint8", "int4", "int16"):
            quant = "per-channel" if kernel[5] > 1 else "per-tensor"
        out_names = [tensor_name(t) for t in outs if t != -1]
        return Node(
            name=out_names[0],
            op="tflite",
            attrs={
                "builtin": builtin,
                "version": version,
                "options": options,
                "output_shapes": tuple(_batchless(tensors[t]["shape"]) for t in outs if t != -1),
                "output_dtypes": tuple(tensors[t]["dtype"] for t in outs if t != -1),
                "input_shapes": tuple(input_shapes),
                "constants": tuple(constants),
                "fused_activation": options.get("fused_activation_function", "NONE"),
                "quantization": quant,
                "dynamic": any(d < 0 for t in outs if t != -1
                               for d in tensors[t]["signature"][1:]),
            },
            inputs=tuple(data_inputs),
            outputs=tuple(out_names),
            where=Location(self.file),
        )

    def _options(self, op: Table) -> dict[str, Any]:
        with self.reading("builtin options"):
            kind = op.scalar(S.Operator.BUILTIN_OPTIONS_TYPE)
            cls_name = S.BUILTIN_OPTIONS_NAMES[kind] \
                if kind < len(S.BUILTIN_OPTIONS_NAMES) else ""
            fields = OPTION_FIELDS.get(cls_name)
            if not fields:
                return {}
            table = op.table(S.Operator.BUILTIN_OPTIONS)
        if table is None:
            return {}
        slots = S.OPTIONS[cls_name]
        out: dict[str, Any] = {}
        for f in fields:
            with self.reading(f"option {f}"):
                value = table.scalar(slots[f])
            key = "".join("_" + c.lower() if c.isupper() else c for c in f).lstrip("_")
            if f == "FusedActivationFunction":
                value = ACTIVATIONS.get(value, str(value))
            elif f == "Padding":
                value = PADDINGS.get(value, str(value))
            out[key] = value
        return out


def _model_dtype(nodes: list[Node]) -> str:
    """int8 when the weights of convolutions/dense layers are int8, float16 when constants
    are stored as float16, else float32."""
    consts = [c for n in nodes if n.op == "tflite" for c in n.attrs["constants"]]
    if any(c[2] == "float16" for c in consts):
        return "float16"
    kernels = [c for n in nodes if n.op == "tflite" for c in n.attrs["constants"] if c[0] == 1
               and n.attrs["builtin"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                          "TRANSPOSE_CONV")]
    return "int8" if any(c[2] == "int8" for c in kernels) else "float32"


def _short(name: str) -> str:
    """Converter tensor names list every fused op ("a/b/Relu;a/b/BiasAdd;..."): keep one."""
    first = name.split(";")[0]
    for prefix in ("StatefulPartitionedCall:", "serving_default_"):
        first = first.removeprefix(prefix)
    return first[:80]


def _batchless(shape: tuple[int, ...]) -> Shape:
    """Drop a leading batch dimension of 1 (the project's shape convention)."""
    if len(shape) >= 2 and shape[0] == 1:
        return tuple(shape[1:])
    return tuple(shape)


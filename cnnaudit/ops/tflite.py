"""TFLite builtin operators, as a .tflite file (or the converter) spells them.

One op definition serves every builtin: a node carries its builtin name, options, output
shapes and constant inputs as attributes, so shapes come from the file and weights are
counted exactly as stored. What differs per builtin (cost class, MACs rule, which
constant is the kernel or bias) is data in the tables below.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from ..ir import Shape
from .base import Arg, CostClass, Op, Weight, register

COST_CLASS: dict[str, CostClass] = {
    **dict.fromkeys(("CONV_2D", "TRANSPOSE_CONV", "CONV_3D", "CONV_3D_TRANSPOSE"),
                    CostClass.CONV),
    "DEPTHWISE_CONV_2D": CostClass.DEPTHWISE,
    **dict.fromkeys(("FULLY_CONNECTED", "BATCH_MATMUL", "SVDF",
                     "UNIDIRECTIONAL_SEQUENCE_LSTM"), CostClass.FULLY_CONNECTED),
    **dict.fromkeys(("MAX_POOL_2D", "AVERAGE_POOL_2D", "L2_POOL_2D", "MEAN", "SUM",
                     "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"), CostClass.POOL),
    **dict.fromkeys(("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "PAD", "PADV2",
                     "MIRROR_PAD", "STRIDED_SLICE", "SLICE", "TRANSPOSE", "GATHER",
                     "GATHER_ND", "PACK", "UNPACK", "SPLIT", "SPLIT_V", "RESIZE_BILINEAR",
                     "RESIZE_NEAREST_NEIGHBOR", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH",
                     "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "QUANTIZE", "DEQUANTIZE",
                     "CAST", "BROADCAST_TO", "SHAPE"), CostClass.DATA_MOVEMENT),
    **dict.fromkeys(("L2_NORMALIZATION", "LOCAL_RESPONSE_NORMALIZATION"), CostClass.NORM),
}

# Input positions of an operator's weights and bias; other constant inputs are data
# (a constant operand of ADD or MUL) or, if integer, shape-like (RESHAPE's new shape,
# PAD's paddings) and not parameters.
KERNEL_INPUT = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1,
                "TRANSPOSE_CONV": 1, "CONV_3D": 1, "BATCH_MATMUL": 1}
BIAS_INPUT = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2,
              "TRANSPOSE_CONV": 3, "CONV_3D": 2}
# Bytes of the builtin options table the converter writes for each operator (fields at
# their non-default values, averaged over the accuracy corpus); 0: it writes none. Others: 8.
OPTIONS_BYTES = {
    "CONV_2D": 16, "DEPTHWISE_CONV_2D": 18, "TRANSPOSE_CONV": 12, "FULLY_CONNECTED": 6,
    "MAX_POOL_2D": 22, "AVERAGE_POOL_2D": 24, "ADD": 6, "MUL": 4, "SUB": 6, "MEAN": 6,
    "REDUCE_MAX": 4, "PAD": 4, "STRIDED_SLICE": 12, "CONCATENATION": 8, "SOFTMAX": 8,
    "LEAKY_RELU": 8, "RESIZE_BILINEAR": 8, "RESHAPE": 0, "TILE": 0, "LOGISTIC": 0,
    "HARD_SWISH": 0, "RELU": 0, "RELU6": 0, "TANH": 0, "QUANTIZE": 0, "DEQUANTIZE": 0,
    "EXP": 0, "LOG": 0, "ABS": 0, "RSQRT": 0, "NEG": 0, "ELU": 0,
}
INTEGER_TYPES = {"int32", "int64", "int16", "uint32", "uint16", "bool"}


def _const_role(builtin: str, position: int, dtype: str) -> str:
    if KERNEL_INPUT.get(builtin) == position:
        return "kernel"
    if BIAS_INPUT.get(builtin) == position:
        return "bias"
    return "shape" if dtype in INTEGER_TYPES else "vector"


@register
class TfliteOp(Op):
    """A TFLite builtin (or custom) operator read from a .tflite file."""

    name = "tflite"
    aliases = ()
    cost_class = CostClass.ELEMENTWISE
    args = (
        Arg("builtin", str),
        Arg("version", int, 1),
        Arg("options", dict, None),
        Arg("output_shapes", tuple),
        Arg("output_dtypes", tuple, ()),
        Arg("input_shapes", tuple, ()),  # every input position, constants included
        # (position, shape, dtype, data bytes, quantization bytes, channels) per constant
        Arg("constants", tuple, ()),
        Arg("fused_activation", str, "NONE"),
        Arg("quantization", str, ""),
        Arg("dynamic", bool, False),  # an output's shape signature has a -1 beyond batch
        Arg("merged", int, 1),  # layers merged into it by the converter (lowered graphs)
        # lowered graphs: the (Keras layer, TensorFlow op) pairs the converter names the
        # output tensor after (passes/flash.py)
        Arg("names", tuple, ()),
    )
    min_inputs = 0
    max_inputs = None
    rules_read_inputs = False  # its shapes are attributes

    @classmethod
    def rule_key(cls, attrs: Mapping[str, Any]) -> Hashable | None:
        """Its rules read the builtin, constants and shapes only, so only they are the key
        (names and options would cost more to hash than they save). BATCH_MATMUL's MACs
        read its options, which may be a dict: not memoised."""
        if attrs["builtin"] == "BATCH_MATMUL":
            return None
        return (attrs["builtin"], attrs["constants"], attrs["input_shapes"],
                attrs["output_shapes"])

    @classmethod
    def node_cost_class(cls, attrs: Mapping[str, Any]) -> CostClass:
        return COST_CLASS.get(attrs["builtin"], CostClass.ELEMENTWISE)

    @classmethod
    def display_type(cls, attrs: Mapping[str, Any]) -> str:
        return str(attrs["builtin"])

    @classmethod
    def describe(cls, attrs: Mapping[str, Any]) -> str:
        dtypes = attrs["output_dtypes"]
        parts = [str(dtypes[0])] if dtypes else []
        if attrs["quantization"]:
            parts.append(attrs["quantization"])
        if attrs["fused_activation"] not in ("NONE", ""):
            parts.append(attrs["fused_activation"])
        return " ".join(parts)

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        return cls.output_shapes(attrs, inputs)[0]

    @classmethod
    def output_shapes(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> list[Shape]:
        return [tuple(s) for s in attrs["output_shapes"]]

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        out = []
        for position, shape, dtype, data, quant, channels in attrs["constants"]:
            role = _const_role(attrs["builtin"], position, dtype)
            if role == "shape":
                continue
            out.append(Weight(role, tuple(shape), channel_axis_size=channels,
                              stored_bytes=data, stored_quant_bytes=quant))
        return out

    @classmethod
    def macs(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape) -> int:
        """MACs from the shapes, batch 1 (TFLite shapes include the batch dimension)."""
        builtin = attrs["builtin"]
        shapes = attrs["input_shapes"]

        def shape(i: int) -> Shape | None:
            return tuple(shapes[i]) if i < len(shapes) and shapes[i] is not None else None

        out_elems = math.prod(output) if output else 1
        kernel = shape(1)
        if kernel is None:
            return 0
        if builtin == "CONV_2D" and len(kernel) == 4:  # [out, kh, kw, in / groups]
            return out_elems * kernel[1] * kernel[2] * kernel[3]
        if builtin == "DEPTHWISE_CONV_2D" and len(kernel) == 4:  # [1, kh, kw, out]
            return out_elems * kernel[1] * kernel[2]
        if builtin == "FULLY_CONNECTED" and len(kernel) == 2:  # [units, in]
            return out_elems * kernel[1]
        if builtin == "TRANSPOSE_CONV" and len(kernel) == 4:  # [out, kh, kw, in]
            data = shape(2)
            return math.prod(data) * kernel[0] * kernel[1] * kernel[2] if data else 0
        if builtin == "CONV_3D" and len(kernel) == 5:  # [kd, kh, kw, in, out]
            return out_elems * kernel[0] * kernel[1] * kernel[2] * kernel[3]
        if builtin == "BATCH_MATMUL":
            lhs = shape(0)
            if lhs is None:
                return 0
            options = attrs["options"] or {}
            inner = lhs[-2] if options.get("adj_x") else lhs[-1]
            return out_elems * inner
        return 0

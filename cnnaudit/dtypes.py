"""What a number costs in bytes at each deployment dtype (the TFLite storage conventions)."""

from __future__ import annotations

from typing import NamedTuple

from .errors import UsageError
from .ops.base import Weight

# TFLite stores a quantization scale as float32 and a zero point as int64, one pair per
# quantized channel (schema.fbs, QuantizationParameters).
QUANT_PARAM_BYTES = 4 + 8


class DType(NamedTuple):
    """How a model is deployed: weight, bias and activation storage sizes."""

    name: str
    weight_bytes: int
    bias_bytes: int
    activation_bytes: int  # float16 models compute in float32: fp16 is a storage format
    quantized: bool

    def data_bytes(self, weight: Weight) -> int:
        """Bytes of a weight tensor's values as stored."""
        if weight.stored_bytes is not None:
            return weight.stored_bytes
        return weight.size * (self.bias_bytes if weight.role == "bias" else self.weight_bytes)

    def quant_bytes(self, weight: Weight) -> int:
        """Bytes of its quantization parameters (a scale and zero point per channel)."""
        if weight.stored_bytes is not None:
            return weight.stored_quant_bytes
        return QUANT_PARAM_BYTES * weight.channel_axis_size if self.quantized else 0

    def weight_storage(self, weight: Weight) -> int:
        """Bytes of one weight tensor as stored, quantization parameters included."""
        return self.data_bytes(weight) + self.quant_bytes(weight)


DTYPES: dict[str, DType] = {
    "int8": DType("int8", weight_bytes=1, bias_bytes=4, activation_bytes=1, quantized=True),
    "float16": DType("float16", weight_bytes=2, bias_bytes=2, activation_bytes=4,
                     quantized=False),
    "float32": DType("float32", weight_bytes=4, bias_bytes=4, activation_bytes=4,
                     quantized=False),
}


def get_dtype(name: str) -> DType:
    try:
        return DTYPES[name.lower()]
    except KeyError:
        raise UsageError(f"unknown dtype {name!r}",
                         hint=f"choose one of {', '.join(DTYPES)}") from None


# Bytes per element of the tensor types a .tflite file can hold (schema.fbs TensorType).
ELEMENT_BYTES: dict[str, float] = {
    "float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "string": 1, "bool": 1,
    "int16": 2, "complex64": 8, "int8": 1, "float64": 8, "complex128": 16, "uint64": 8,
    "resource": 0, "variant": 0, "uint32": 4, "uint16": 2, "int4": 0.5, "bfloat16": 2,
}

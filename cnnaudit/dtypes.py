"""What a number costs in bytes at each deployment dtype (the TFLite storage conventions)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError
from .ops.base import Weight

# TFLite stores a quantization scale as float32 and a zero point as int64, one pair per
# quantized channel (schema.fbs, QuantizationParameters).
QUANT_PARAM_BYTES = 4 + 8


@dataclass(frozen=True)
class DType:
    """How a model is deployed: weight, bias and activation storage sizes."""

    name: str
    weight_bytes: int
    bias_bytes: int
    activation_bytes: int  # float16 models compute in float32: fp16 is a storage format
    quantized: bool

    def weight_storage(self, weight: Weight) -> int:
        """Bytes of one weight tensor as stored, quantization parameters included."""
        per = self.bias_bytes if weight.role == "bias" else self.weight_bytes
        quant = QUANT_PARAM_BYTES * weight.channel_axis_size if self.quantized else 0
        return weight.size * per + quant


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

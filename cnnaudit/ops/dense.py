"""Fully connected layers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..ir import Shape
from .activation import ACTIVATION_ARG
from .base import (
    Arg,
    CostClass,
    Lowered,
    Op,
    Weight,
    boolean,
    positive_int,
    register,
    with_activation,
)


@register
class Dense(Op):
    """Dense acts on the last axis: (..., n) -> (..., units), as in Keras."""

    name = "dense"
    aliases = ("Dense", "fc", "fully_connected")
    cost_class = CostClass.FULLY_CONNECTED
    args = (
        Arg("units", positive_int),
        Arg("use_bias", boolean, True, aliases=("bias",)),
        ACTIVATION_ARG,
    )
    main_arg = "units"

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        return (*inputs[0][:-1], attrs["units"])

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        units = attrs["units"]
        kernel = Weight("kernel", (inputs[0][-1], units), channel_axis_size=1)
        return [kernel, *([Weight("bias", (units,))] if attrs["use_bias"] else [])]

    @classmethod
    def macs(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape) -> int:
        return math.prod(inputs[0]) * attrs["units"]

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        units = attrs["units"]
        weights = (Weight("kernel", (units, inputs[0][-1]), channel_axis_size=units),
                   *([Weight("bias", (units,), channel_axis_size=units)]
                     if attrs["use_bias"] else []))
        names = ("MatMul", "BiasAdd") if attrs["use_bias"] else ("MatMul",)
        return with_activation(Lowered("FULLY_CONNECTED", output, weights, names=names),
                               attrs["activation"])

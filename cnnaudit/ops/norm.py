"""Normalisation layers: their vectors are parameters (Keras counts all four of BN's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..ir import Shape
from .base import (
    Arg,
    CostClass,
    Lowered,
    Op,
    Weight,
    boolean,
    int_list,
    register,
    resolve_axis,
)


class _Norm(Op):
    cost_class = CostClass.NORM

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        for axis in attrs["axis"]:
            resolve_axis(axis, len(inputs[0]))
        return inputs[0]

    @classmethod
    def _vector_shape(cls, attrs: Mapping[str, Any], shape: Shape) -> Shape:
        return tuple(shape[resolve_axis(a, len(shape))] for a in attrs["axis"])


@register
class BatchNormalization(_Norm):
    """gamma and beta are trained; the moving mean and variance are not (Keras counts all)."""

    name = "batch_norm"
    aliases = ("BatchNormalization", "batchnorm", "bn")
    args = (
        Arg("axis", int_list, (-1,)),
        Arg("center", boolean, True),
        Arg("scale", boolean, True),
    )

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        vec = cls._vector_shape(attrs, inputs[0])
        out = [Weight("vector", vec)] if attrs["scale"] else []
        out += [Weight("vector", vec)] if attrs["center"] else []
        return out + [Weight("vector", vec, trainable=False)] * 2

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        """Standalone: scale and shift (after a convolution the converter folds it)."""
        vec = cls._vector_shape(attrs, inputs[0])
        return [Lowered("MUL", output, (Weight("vector", vec),)),
                Lowered("ADD", output, (Weight("vector", vec),))]


@register
class LayerNormalization(_Norm):
    """Per-sample normalisation over `axis`; gamma and beta span the normalised axes."""

    name = "layer_norm"
    aliases = ("LayerNormalization", "layernorm", "ln")
    args = (
        Arg("axis", int_list, (-1,)),
        Arg("center", boolean, True),
        Arg("scale", boolean, True),
        Arg("rms_scaling", boolean, False),
    )

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        vec = cls._vector_shape(attrs, inputs[0])
        if attrs["rms_scaling"]:
            return [Weight("vector", vec)]
        out = [Weight("vector", vec)] if attrs["scale"] else []
        return out + ([Weight("vector", vec)] if attrs["center"] else [])

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        """mean, variance by SQUARED_DIFFERENCE, RSQRT, scale and shift (TF 2.21)."""
        reduced = (*output[:-1], 1)
        vec = cls._vector_shape(attrs, inputs[0])
        return [Lowered("MEAN", reduced, shape_operands=1), Lowered("NEG", reduced),
                Lowered("SQUARED_DIFFERENCE", output), Lowered("MEAN", reduced, shape_operands=1),
                Lowered("ADD", reduced, (Weight("vector", ()),)), Lowered("RSQRT", reduced),
                Lowered("MUL", reduced, (Weight("vector", vec),)), Lowered("MUL", output),
                Lowered("ADD", reduced), Lowered("MUL", output), Lowered("ADD", output)]




@register
class Normalization(_Norm):
    """Feature-wise (x - mean) / sqrt(variance): mean, variance and a sample count, none of
    them trained (Keras counts all three)."""

    name = "normalization"
    aliases = ("Normalization",)
    args = (
        Arg("axis", int_list, (-1,)),
        Arg("mean", lambda v: v, None),
        Arg("variance", lambda v: v, None),
        Arg("invert", boolean, False),
    )

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        vec = cls._vector_shape(attrs, inputs[0])
        return [Weight("vector", vec, trainable=False)] * 2 + [
            Weight("vector", (), trainable=False)]

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        vec = cls._vector_shape(attrs, inputs[0])
        return [Lowered("SUB", output, (Weight("vector", vec),)),
                Lowered("MUL", output, (Weight("vector", vec),))]

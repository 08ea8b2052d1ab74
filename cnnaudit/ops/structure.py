"""Ops that only move data: input, flatten, reshape, padding, cropping, upsampling."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..ir import Shape
from .base import (
    Arg,
    CostClass,
    Lowered,
    Op,
    OpError,
    Weight,
    choice,
    int_list,
    nonneg_int,
    positive_int,
    register,
    shape_value,
)


@register
class Input(Op):
    """A graph input; its shape is given, batch omitted."""

    name = "input"
    aliases = ("InputLayer", "Input")
    cost_class = CostClass.INPUT
    args = (Arg("shape", shape_value, aliases=("input_shape", "batch_shape")),)
    main_arg = "shape"
    min_inputs = 0
    max_inputs = 0

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        return tuple(attrs["shape"])


@register
class Flatten(Op):
    """Collapse everything but the batch into one axis."""

    name = "flatten"
    aliases = ("Flatten",)
    cost_class = CostClass.DATA_MOVEMENT

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        return (math.prod(inputs[0]),)

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        return [Lowered("RESHAPE", output, shape_operands=1)]


def _target_shape(value: Any) -> tuple[int, ...]:
    shape = int_list(value)
    if any(d == 0 or d < -1 for d in shape) or shape.count(-1) > 1:
        raise ValueError(f"expected positive sizes and at most one -1, got {list(shape)}")
    return shape


@register
class Reshape(Op):
    """Reshape to `target_shape` (batch omitted; one -1 is inferred)."""

    name = "reshape"
    aliases = ("Reshape",)
    cost_class = CostClass.DATA_MOVEMENT
    args = (Arg("target_shape", _target_shape, aliases=("shape",)),)
    main_arg = "target_shape"

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        total = math.prod(inputs[0])
        target = attrs["target_shape"]
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if total % known:
                raise OpError(f"cannot reshape {list(inputs[0])} ({total} values) to "
                              f"{list(target)}: {total} is not a multiple of {known}")
            return tuple(total // known if d == -1 else d for d in target)
        if known != total:
            raise OpError(f"cannot reshape {list(inputs[0])} ({total} values) to "
                          f"{list(target)} ({known} values)")
        return tuple(target)

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        return [Lowered("RESHAPE", output, shape_operands=1)]


def _pairs(rank: int) -> Any:
    """Keras padding/cropping spelling: n, (a, b) per axis, or ((before, after), ...)."""

    def parse(value: Any) -> tuple[tuple[int, int], ...]:
        if isinstance(value, int) and not isinstance(value, bool):
            n = nonneg_int(value)
            return ((n, n),) * rank
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected an integer or a list, got {value!r}")
        if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
            return ((nonneg_int(value[0]), nonneg_int(value[1])),)
        if len(value) != rank:
            raise ValueError(f"expected {rank} entries, got {list(value)!r}")
        out = []
        for v in value:
            if isinstance(v, int) and not isinstance(v, bool):
                out.append((nonneg_int(v), nonneg_int(v)))
            elif isinstance(v, (list, tuple)) and len(v) == 2:
                out.append((nonneg_int(v[0]), nonneg_int(v[1])))
            else:
                raise ValueError(f"expected an integer or [before, after], got {v!r}")
        return tuple(out)

    return parse


class _Pad(Op):
    cost_class = CostClass.DATA_MOVEMENT
    rank = 2
    crop = False

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        if len(shape) != cls.rank + 1:
            raise OpError(f"{cls.name} needs a rank-{cls.rank + 1} input, got {list(shape)}")
        key = "cropping" if cls.crop else "padding"
        spatial = []
        for size, (a, b) in zip(shape[:-1], attrs[key], strict=True):
            if cls.crop:
                if a + b >= size:
                    raise OpError(f"cropping {a}+{b} leaves nothing of an input of size {size}")
                spatial.append(size - a - b)
            else:
                spatial.append(size + a + b)
        return (*spatial, shape[-1])

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        if cls.crop:
            return [Lowered("STRIDED_SLICE", output, shape_operands=3)]
        return [Lowered("PAD", output, shape_operands=1)]


@register
class ZeroPadding2D(_Pad):
    """Pad height and width with zeros."""

    name = "zero_padding2d"
    aliases = ("ZeroPadding2D", "pad2d")
    args = (Arg("padding", _pairs(2), ((1, 1), (1, 1))),)
    main_arg = "padding"


@register
class ZeroPadding1D(_Pad):
    """Pad the length axis with zeros."""

    name = "zero_padding1d"
    aliases = ("ZeroPadding1D", "pad1d")
    rank = 1
    args = (Arg("padding", _pairs(1), ((1, 1),)),)
    main_arg = "padding"


@register
class Cropping2D(_Pad):
    """Cut rows/columns off the edges."""

    name = "cropping2d"
    aliases = ("Cropping2D", "crop2d")
    crop = True
    args = (Arg("cropping", _pairs(2), ((0, 0), (0, 0))),)
    main_arg = "cropping"


@register
class Cropping1D(_Pad):
    """Cut steps off both ends of the length axis."""

    name = "cropping1d"
    aliases = ("Cropping1D", "crop1d")
    rank = 1
    crop = True
    args = (Arg("cropping", _pairs(1), ((1, 1),)),)
    main_arg = "cropping"


def _size(rank: int) -> Any:
    def parse(value: Any) -> tuple[int, ...]:
        if isinstance(value, (list, tuple)):
            if len(value) != rank:
                raise ValueError(f"expected {rank} integers, got {list(value)!r}")
            return tuple(positive_int(v) for v in value)
        return (positive_int(value),) * rank

    return parse


class _UpSampling(Op):
    cost_class = CostClass.DATA_MOVEMENT
    rank = 2
    main_arg = "size"

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        if len(shape) != cls.rank + 1:
            raise OpError(f"{cls.name} needs a rank-{cls.rank + 1} input, got {list(shape)}")
        return (*(d * s for d, s in zip(shape[:-1], attrs["size"], strict=True)), shape[-1])

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        """Keras 3 nearest upsampling converts to RESHAPE/TILE pairs (TF 2.21); bilinear
        to RESIZE_BILINEAR."""
        if attrs.get("mode") == "bilinear":
            return [Lowered("RESIZE_BILINEAR", output, shape_operands=1,
                            names=("resize/ResizeBilinear",))]
        shape, size = inputs[0], attrs["size"]
        steps = []
        current = list(shape)
        for axis, factor in enumerate(size):
            spread = [*current[:axis + 1], 1, *current[axis + 1:]]
            steps.append(Lowered("RESHAPE", tuple(spread), shape_operands=1))
            spread[axis + 1] = factor
            steps.append(Lowered("TILE", tuple(spread), shape_operands=1))
            current[axis] *= factor
        steps.append(Lowered("RESHAPE", output, shape_operands=1))
        return steps


@register
class UpSampling2D(_UpSampling):
    """Repeat rows and columns (nearest) or interpolate (bilinear)."""

    name = "upsampling2d"
    aliases = ("UpSampling2D", "upsample2d")
    args = (Arg("size", _size(2), (2, 2)),
            Arg("mode", choice("nearest", "bilinear"), "nearest", aliases=("interpolation",)))


@register
class UpSampling1D(_UpSampling):
    """Repeat each step `size` times."""

    name = "upsampling1d"
    aliases = ("UpSampling1D", "upsample1d")
    rank = 1
    args = (Arg("size", _size(1), (2,)),)


@register
class Permute(Op):
    """Reorder axes (1-based, batch omitted, as Keras writes `dims`)."""

    name = "permute"
    aliases = ("Permute",)
    cost_class = CostClass.DATA_MOVEMENT
    args = (Arg("dims", int_list),)
    main_arg = "dims"

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        dims = attrs["dims"]
        if sorted(dims) != list(range(1, len(shape) + 1)):
            raise OpError(f"dims {list(dims)} is not a permutation of 1..{len(shape)}")
        return tuple(shape[d - 1] for d in dims)

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        return [Lowered("TRANSPOSE", output, shape_operands=1)]




@register
class Opaque(Op):
    """A layer whose code cannot be read safely (Lambda, custom class): never executed.

    Its output shape comes from the saved file or a user override; its parameters from the
    stored weights when the file has them (otherwise they are unknown and reported so).
    """

    name = "opaque"
    aliases = ()
    cost_class = CostClass.ELEMENTWISE
    args = (
        Arg("class_name", str),
        Arg("output_shape", shape_value),
        Arg("stored_params", lambda v: None if v is None else nonneg_int(v), None),
    )
    min_inputs = 0
    max_inputs = None

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        return tuple(attrs["output_shape"])

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        n = attrs["stored_params"]
        return [Weight("vector", (n,))] if n else []

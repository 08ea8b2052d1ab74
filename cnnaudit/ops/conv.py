"""Convolutions of every kind, 1-D and 2-D: standard (grouped), depthwise, separable,
transposed. One generic rule per kind, registered once per spatial rank."""

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
    OpError,
    Weight,
    boolean,
    choice,
    conv_out_len,
    ints,
    optional,
    positive_int,
    register,
    with_activation,
)


def _check_input(op: type[Op], rank: int, shape: Shape) -> None:
    if len(shape) != rank + 1:
        want = "(length, channels)" if rank == 1 else "(height, width, channels)"
        raise OpError(
            f"{op.name} needs a rank-{rank + 1} input {want}, got shape {list(shape)}"
        )


def _spatial_out(attrs: Mapping[str, Any], spatial: Sequence[int]) -> tuple[int, ...]:
    return tuple(
        conv_out_len(size, k, s, attrs["padding"], d)
        for size, k, s, d in zip(
            spatial, attrs["kernel"], attrs["strides"], attrs["dilation"], strict=True
        )
    )


def _bias(attrs: Mapping[str, Any], n: int) -> list[Weight]:
    return [Weight("bias", (n,), channel_axis_size=n)] if attrs["use_bias"] else []


def _tflite_bias(n: int) -> Weight:
    """TFLite convolutions always carry a bias: the converter adds zeros when the layer has
    none (seen for depthwise and pointwise halves of separable convolutions)."""
    return Weight("bias", (n,), channel_axis_size=n)


def _names(op: str, attrs: Mapping[str, Any]) -> tuple[str, ...]:
    """What the converter names a convolution's output after: the TensorFlow convolution op,
    and the bias add and squeeze when the layer has a bias."""
    return (op, "BiasAdd", "Squeeze") if attrs.get("use_bias", True) else (op,)


def _in_2d(rank: int, shape: Shape, attrs: Mapping[str, Any], output: Shape,
           main: Lowered) -> list[Lowered]:
    """A 1-D layer runs as its 2-D TFLite op on (1, length, channels), between RESHAPEs
    (causal padding is a PAD first). 2-D layers are just the op."""
    if rank == 2:
        return with_activation(main, attrs["activation"])
    steps = []
    length = shape[0]
    if attrs.get("padding") == "causal":
        length += (attrs["kernel"][0] - 1) * attrs["dilation"][0]
        steps.append(Lowered("PAD", (length, shape[-1]), shape_operands=1))
    steps.append(Lowered("RESHAPE", (1, length, shape[-1]), shape_operands=1,
                         names=(f"{main.names[0]}/ExpandDims",)))
    wide = Lowered(main.builtin, (1, *output), main.weights,
                   names=(*main.names, f"{main.names[0]}/Squeeze"))
    steps += with_activation(wide, attrs["activation"])
    steps.append(Lowered("RESHAPE", output, shape_operands=1, names=steps[-1].names))
    return steps


def _kernel_hw(attrs: Mapping[str, Any]) -> tuple[int, ...]:
    kernel = attrs["kernel"]
    return tuple(kernel) if len(kernel) == 2 else (1, *kernel)


def _check_stride_dilation(attrs: dict[str, Any]) -> None:
    # Keras refuses this combination; mirror it so specs stay buildable.
    if max(attrs["strides"]) > 1 and max(attrs["dilation"]) > 1:
        raise OpError("strides > 1 cannot be combined with dilation > 1 (Keras refuses it)")


def _window_args(rank: int, *, causal: bool) -> tuple[Arg, ...]:
    paddings = ("valid", "same", "causal") if causal else ("valid", "same")
    return (
        Arg("kernel", ints(rank), aliases=("kernel_size",)),
        Arg("strides", ints(rank), (1,) * rank, aliases=("stride",)),
        Arg("padding", choice(*paddings), "valid"),
        Arg("dilation", ints(rank), (1,) * rank, aliases=("dilation_rate",)),
        Arg("use_bias", boolean, True, aliases=("bias",)),
        ACTIVATION_ARG,
    )


class _Conv(Op):
    cost_class = CostClass.CONV
    rank = 2
    main_arg = "filters"

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any]) -> None:
        _check_stride_dilation(attrs)

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        _check_input(cls, cls.rank, shape)
        cin, groups, filters = shape[-1], attrs["groups"], attrs["filters"]
        if cin % groups:
            raise OpError(f"groups {groups} does not divide the {cin} input channels")
        if filters % groups:
            raise OpError(f"groups {groups} does not divide the {filters} filters")
        return (*_spatial_out(attrs, shape[:-1]), filters)

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        cin, filters = inputs[0][-1], attrs["filters"]
        kernel = Weight("kernel", (*attrs["kernel"], cin // attrs["groups"], filters),
                        channel_axis_size=filters)
        bias = [Weight("bias", (filters,), channel_axis_size=filters)] if attrs["use_bias"] else []
        return [kernel, *bias]

    @classmethod
    def macs(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape) -> int:
        per_output = math.prod(attrs["kernel"]) * (inputs[0][-1] // attrs["groups"])
        return math.prod(output) * per_output

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        cin, f = inputs[0][-1], attrs["filters"]
        kernel = Weight("kernel", (f, *_kernel_hw(attrs), cin // attrs["groups"]),
                        channel_axis_size=f)
        main = Lowered("CONV_2D", output, (kernel, _tflite_bias(f)),
                       names=_names("convolution", attrs))
        return _in_2d(cls.rank, inputs[0], attrs, output, main)


@register
class Conv2D(_Conv):
    """2-D convolution; `groups` splits channels as Keras does."""

    name = "conv2d"
    aliases = ("Conv2D", "Convolution2D")
    args = (Arg("filters", positive_int), *_window_args(2, causal=False),
            Arg("groups", positive_int, 1))


@register
class Conv1D(_Conv):
    """1-D convolution over (length, channels); padding may be causal."""

    name = "conv1d"
    aliases = ("Conv1D", "Convolution1D")
    rank = 1
    args = (Arg("filters", positive_int), *_window_args(1, causal=True),
            Arg("groups", positive_int, 1))


class _Depthwise(Op):
    cost_class = CostClass.DEPTHWISE
    rank = 2
    main_arg = "kernel"

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any]) -> None:
        _check_stride_dilation(attrs)

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        _check_input(cls, cls.rank, shape)
        return (*_spatial_out(attrs, shape[:-1]), shape[-1] * attrs["depth_multiplier"])

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        cin, dm = inputs[0][-1], attrs["depth_multiplier"]
        kernel = Weight("kernel", (*attrs["kernel"], cin, dm), channel_axis_size=cin * dm)
        if not attrs["use_bias"]:
            return [kernel]
        return [kernel, Weight("bias", (cin * dm,), channel_axis_size=cin * dm)]

    @classmethod
    def macs(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape) -> int:
        return math.prod(output) * math.prod(attrs["kernel"])

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        n = inputs[0][-1] * attrs["depth_multiplier"]
        kernel = Weight("kernel", (1, *_kernel_hw(attrs), n), channel_axis_size=n)
        main = Lowered("DEPTHWISE_CONV_2D", output, (kernel, _tflite_bias(n)),
                       names=_names("depthwise", attrs))
        return _in_2d(cls.rank, inputs[0], attrs, output, main)


@register
class DepthwiseConv2D(_Depthwise):
    """One filter per input channel (times depth_multiplier)."""

    name = "depthwise_conv2d"
    aliases = ("DepthwiseConv2D", "depthwise2d", "dwconv2d")
    args = (*_window_args(2, causal=False), Arg("depth_multiplier", positive_int, 1))


@register
class DepthwiseConv1D(_Depthwise):
    """1-D depthwise convolution."""

    name = "depthwise_conv1d"
    aliases = ("DepthwiseConv1D",)
    rank = 1
    args = (*_window_args(1, causal=True), Arg("depth_multiplier", positive_int, 1))


class _Separable(Op):
    cost_class = CostClass.CONV
    rank = 2
    main_arg = "filters"

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any]) -> None:
        _check_stride_dilation(attrs)

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        _check_input(cls, cls.rank, shape)
        return (*_spatial_out(attrs, shape[:-1]), attrs["filters"])

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        cin, dm, filters = inputs[0][-1], attrs["depth_multiplier"], attrs["filters"]
        depthwise = Weight("kernel", (*attrs["kernel"], cin, dm), channel_axis_size=cin * dm)
        pointwise = Weight("kernel", (*(1,) * cls.rank, cin * dm, filters),
                           channel_axis_size=filters)
        bias = [Weight("bias", (filters,), channel_axis_size=filters)] if attrs["use_bias"] else []
        return [depthwise, pointwise, *bias]

    @classmethod
    def macs(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape) -> int:
        spatial = math.prod(output[:-1])
        mid = inputs[0][-1] * attrs["depth_multiplier"]
        return spatial * mid * math.prod(attrs["kernel"]) + spatial * mid * attrs["filters"]

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        mid, f = inputs[0][-1] * attrs["depth_multiplier"], attrs["filters"]
        depthwise = Lowered("DEPTHWISE_CONV_2D", (*output[:-1], mid), (
            Weight("kernel", (1, *_kernel_hw(attrs), mid), channel_axis_size=mid),
            _tflite_bias(mid)), names=("separable_conv2d/depthwise",))
        pointwise = Lowered("CONV_2D", output, (
            Weight("kernel", (f, 1, 1, mid), channel_axis_size=f), _tflite_bias(f)),
            names=_names("separable_conv2d", attrs))
        if cls.rank == 2:
            return [depthwise, *with_activation(pointwise, attrs["activation"])]
        length = inputs[0][0]
        return [Lowered("RESHAPE", (1, length, inputs[0][-1]), shape_operands=1),
                Lowered(depthwise.builtin, (1, *depthwise.shape), depthwise.weights,
                        names=depthwise.names),
                *with_activation(Lowered("CONV_2D", (1, *output), pointwise.weights,
                                         names=pointwise.names),
                                 attrs["activation"]),
                Lowered("RESHAPE", output, shape_operands=1)]


@register
class SeparableConv2D(_Separable):
    """Depthwise then 1x1 pointwise convolution (MobileNet's building block)."""

    name = "separable_conv2d"
    aliases = ("SeparableConv2D", "SeparableConvolution2D")
    args = (Arg("filters", positive_int), *_window_args(2, causal=False),
            Arg("depth_multiplier", positive_int, 1))


@register
class SeparableConv1D(_Separable):
    """1-D depthwise then pointwise convolution."""

    name = "separable_conv1d"
    aliases = ("SeparableConv1D", "SeparableConvolution1D")
    rank = 1
    args = (Arg("filters", positive_int), *_window_args(1, causal=True),
            Arg("depth_multiplier", positive_int, 1))


def deconv_out_len(
    size: int, kernel: int, stride: int, padding: str, dilation: int, output_padding: int | None
) -> int:
    """Output length of a transposed convolution along one axis (Keras rules).

    >>> deconv_out_len(7, 3, 2, "same", 1, None), deconv_out_len(7, 3, 2, "valid", 1, None)
    (14, 15)
    >>> deconv_out_len(7, 1, 2, "valid", 1, None)
    14
    """
    effective = kernel + (kernel - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return size * stride + max(effective - stride, 0)
        return size * stride
    pad = effective // 2 if padding == "same" else 0
    return (size - 1) * stride + effective - 2 * pad + output_padding


class _Transpose(Op):
    cost_class = CostClass.CONV
    rank = 2
    main_arg = "filters"

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any]) -> None:
        _check_stride_dilation(attrs)
        op = attrs["output_padding"]
        if op is not None:
            for p, s in zip(op, attrs["strides"], strict=True):
                if p >= s:
                    raise OpError(f"output_padding {list(op)} must be smaller than strides")

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        _check_input(cls, cls.rank, shape)
        out_pad = attrs["output_padding"] or (None,) * cls.rank
        spatial = tuple(
            deconv_out_len(size, k, s, attrs["padding"], d, p)
            for size, k, s, d, p in zip(
                shape[:-1], attrs["kernel"], attrs["strides"], attrs["dilation"], out_pad,
                strict=True,
            )
        )
        if min(spatial) <= 0:
            raise OpError(f"output size {list(spatial)} is not positive")
        return (*spatial, attrs["filters"])

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        filters = attrs["filters"]
        kernel = Weight("kernel", (*attrs["kernel"], filters, inputs[0][-1]),
                        channel_axis_size=filters)
        bias = [Weight("bias", (filters,), channel_axis_size=filters)] if attrs["use_bias"] else []
        return [kernel, *bias]

    @classmethod
    def macs(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape) -> int:
        # Every input pixel scatters a kernel-sized patch into every output channel.
        return math.prod(inputs[0]) * math.prod(attrs["kernel"]) * attrs["filters"]

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        f = attrs["filters"]
        kernel = Weight("kernel", (f, *_kernel_hw(attrs), inputs[0][-1]), channel_axis_size=f)
        main = Lowered("TRANSPOSE_CONV", output, (kernel, _tflite_bias(f)), shape_operands=1,
                       names=_names("conv_transpose", attrs))
        return _in_2d(cls.rank, inputs[0], {**attrs, "padding": "same"}, output, main)


@register
class Conv2DTranspose(_Transpose):
    """Transposed ("de-") convolution, for decoders and upsampling."""

    name = "conv2d_transpose"
    aliases = ("Conv2DTranspose", "Convolution2DTranspose", "deconv2d")
    args = (Arg("filters", positive_int), *_window_args(2, causal=False),
            Arg("output_padding", optional(ints(2, minimum=0)), None))


@register
class Conv1DTranspose(_Transpose):
    """1-D transposed convolution."""

    name = "conv1d_transpose"
    aliases = ("Conv1DTranspose", "Convolution1DTranspose")
    rank = 1
    args = (Arg("filters", positive_int), *_window_args(1, causal=False),
            Arg("output_padding", optional(ints(1, minimum=0)), None))

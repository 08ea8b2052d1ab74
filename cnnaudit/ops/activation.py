"""Activations (as layers and as the `activation:` argument), dropout, rescaling."""

from __future__ import annotations

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
    activation_steps,
    any_int,
    number,
    optional,
    register,
)

ACTIVATIONS: dict[str, str] = {
    name: name
    for name in (
        "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
        "hard_sigmoid", "tanh", "softmax", "log_softmax", "swish", "hard_swish",
        "softplus", "softsign", "exponential", "mish",
    )
} | {"silu": "swish", "hard_silu": "hard_swish", "none": "linear"}


def activation_value(value: Any) -> str:
    """Parse an activation name (Keras spellings accepted); None means linear."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        # Keras 3 may save {"class_name": "function", "config": "relu"}
        inner = value.get("config")
        value = inner if isinstance(inner, str) else value.get("class_name")
    if not isinstance(value, str):
        raise TypeError(f"expected an activation name, got {value!r}")
    key = value.lower().replace("-", "_")
    if key not in ACTIVATIONS:
        known = ", ".join(sorted(k for k, v in ACTIVATIONS.items() if k == v))
        raise ValueError(f"unknown activation {value!r}; known: {known}")
    return ACTIVATIONS[key]


ACTIVATION_ARG = Arg("activation", activation_value, "linear")


class _SameShape(Op):
    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        return activation_steps(attrs["activation"], output)


@register
class Activation(_SameShape):
    """An activation as a layer of its own: `- activation: relu` or `- relu`."""

    name = "activation"
    aliases = ("Activation",)
    cost_class = CostClass.ELEMENTWISE
    args = (
        Arg("activation", activation_value),
        Arg("negative_slope", number, 0.3, aliases=("alpha",)),
        Arg("max_value", optional(number), None),
        Arg("axis", any_int, -1),
    )
    main_arg = "activation"


def _fixed_activation(op_name: str, activation: str, names: tuple[str, ...]) -> type[Op]:
    """A layer whose name is its activation (`- relu`, Keras `ReLU`, `Softmax`...)."""
    extra: tuple[Arg, ...] = ()
    if activation == "relu":
        extra = (
            Arg("max_value", optional(number), None),
            Arg("negative_slope", number, 0.0),
            Arg("threshold", number, 0.0),
        )
    elif activation == "leaky_relu":
        extra = (Arg("negative_slope", number, 0.3, aliases=("alpha",)),)
    elif activation in ("softmax", "log_softmax"):
        extra = (Arg("axis", any_int, -1),)
    elif activation == "elu":
        extra = (Arg("alpha", number, 1.0),)

    class Fixed(_SameShape):
        cost_class = CostClass.ELEMENTWISE
        args = extra

        @classmethod
        def check_attrs(cls, attrs: dict[str, Any]) -> None:
            attrs["activation"] = activation
            if activation == "relu" and attrs.get("max_value") == 6.0:
                attrs["activation"] = "relu6"
            if activation == "relu" and attrs.get("negative_slope"):
                attrs["activation"] = "leaky_relu"

    Fixed.name = op_name
    Fixed.aliases = names
    Fixed.__name__ = Fixed.__qualname__ = f"{op_name.title().replace('_', '')}Op"
    Fixed.__doc__ = f"The {activation} activation as a layer."
    return register(Fixed)


for _name, _aliases in {
    "relu": ("ReLU",),
    "relu6": (),
    "leaky_relu": ("LeakyReLU",),
    "elu": ("ELU",),
    "sigmoid": (),
    "hard_sigmoid": (),
    "tanh": (),
    "softmax": ("Softmax",),
    "swish": ("silu",),
    "hard_swish": ("hard_silu",),
}.items():
    _fixed_activation(_name, _name, _aliases)


@register
class Dropout(_SameShape):
    """Training-only noise: the identity at inference, removed by the converter."""

    name = "dropout"
    aliases = (
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
        "GaussianDropout", "AlphaDropout",
    )
    cost_class = CostClass.IDENTITY
    args = (Arg("rate", number, 0.5, aliases=("stddev",)),)
    main_arg = "rate"

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        return []

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any]) -> None:
        if attrs["rate"] < 0:
            raise OpError(f"rate must be >= 0, got {attrs['rate']}")


@register
class Rescaling(_SameShape):
    """x * scale + offset (input normalisation); no weights."""

    name = "rescaling"
    aliases = ("Rescaling",)
    cost_class = CostClass.ELEMENTWISE
    args = (Arg("scale", number, 1.0), Arg("offset", number, 0.0))
    main_arg = "scale"

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        """A MUL and an ADD; folded into a following convolution by the converter."""
        return [Lowered("MUL", output, (Weight("vector", ()),)),
                Lowered("ADD", output, (Weight("vector", ()),))]

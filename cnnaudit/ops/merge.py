"""Layers that join branches: element-wise merges (with Keras broadcasting) and concat."""

from __future__ import annotations

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
    any_int,
    choice,
    number,
    register,
    resolve_axis,
    with_activation,
)


def broadcast(a: Shape, b: Shape) -> Shape:
    """Keras merge broadcasting: right-aligned, a size-1 axis stretches.

    >>> broadcast((8, 8, 16), (1, 1, 16))
    (8, 8, 16)
    """
    if len(a) < len(b):
        a, b = b, a
    out = list(a[: len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b):], b, strict=True):
        if i != j and 1 not in (i, j):
            raise OpError(f"shapes {list(a)} and {list(b)} do not match")
        out.append(max(i, j) if 1 in (i, j) else i)
    return tuple(out)


class _Elementwise(Op):
    cost_class = CostClass.ELEMENTWISE
    min_inputs = 2
    max_inputs = None
    args = (ACTIVATION_ARG,)

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        out = inputs[0]
        for shape in inputs[1:]:
            out = broadcast(out, shape)
        return out

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        """One binary op per extra input; average is a sum then a MUL by 1/n."""
        function = attrs["function"]
        builtin = {"add": "ADD", "subtract": "SUB", "multiply": "MUL", "maximum": "MAXIMUM",
                   "minimum": "MINIMUM", "average": "ADD"}[function]
        steps = [Lowered(builtin, output) for _ in inputs[1:]]
        if function == "average":
            steps.append(Lowered("MUL", output, (Weight("vector", ()),)))
        return [*steps[:-1], *with_activation(steps[-1], attrs["activation"])]


def _merge(op_name: str, names: tuple[str, ...], doc: str, max_inputs: int | None = None) -> None:
    class Merge(_Elementwise):
        pass

    Merge.name, Merge.aliases, Merge.__doc__ = op_name, names, doc
    Merge.max_inputs = max_inputs
    Merge.fixed_attrs = {"function": op_name}
    Merge.__name__ = Merge.__qualname__ = op_name.title()
    register(Merge)


_merge("add", ("Add",), "Element-wise sum (residual connections).")
_merge("subtract", ("Subtract", "sub"), "Element-wise difference of exactly two inputs.", 2)
_merge("multiply", ("Multiply", "mul"), "Element-wise product (squeeze-excitation gating).")
_merge("maximum", ("Maximum",), "Element-wise maximum.")
_merge("minimum", ("Minimum",), "Element-wise minimum.")
_merge("average", ("Average",), "Element-wise mean.")


@register
class Concatenate(Op):
    """Join along `axis` (Keras numbering: -1 is channels); other sizes must match."""

    name = "concatenate"
    aliases = ("Concatenate", "concat")
    cost_class = CostClass.DATA_MOVEMENT
    min_inputs = 2
    max_inputs = None
    args = (Arg("axis", any_int, -1),)
    main_arg = "axis"

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        rank = len(inputs[0])
        if any(len(s) != rank for s in inputs):
            raise OpError(f"inputs of different ranks: {[list(s) for s in inputs]}")
        axis = resolve_axis(attrs["axis"], rank)
        for shape in inputs[1:]:
            for i in range(rank):
                if i != axis and shape[i] != inputs[0][i]:
                    raise OpError(
                        f"shapes {[list(s) for s in inputs]} differ outside the "
                        f"concatenation axis {attrs['axis']}"
                    )
        return tuple(
            sum(s[i] for s in inputs) if i == axis else inputs[0][i] for i in range(rank)
        )

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        return [Lowered("CONCATENATION", output, names=("concat",))]


@register
class ScalarMath(Op):
    """A tensor combined with a constant number (x + 3, x * (1/6): MobileNetV3's hard
    sigmoid as Keras saves it)."""

    name = "scalar_math"
    aliases = ()
    cost_class = CostClass.ELEMENTWISE
    args = (
        Arg("function", choice("add", "subtract", "multiply", "divide", "maximum", "minimum",
                               "power")),
        Arg("value", number),
    )

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        return inputs[0]

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        builtin = {"add": "ADD", "subtract": "SUB", "multiply": "MUL", "divide": "DIV",
                   "maximum": "MAXIMUM", "minimum": "MINIMUM", "power": "POW"}
        return [Lowered(builtin[attrs["function"]], output, (Weight("vector", ()),))]

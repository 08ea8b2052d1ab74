"""Windowed and global pooling, 1-D and 2-D."""

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
    boolean,
    choice,
    conv_out_len,
    ints,
    optional,
    register,
)


class _Pool(Op):
    cost_class = CostClass.POOL
    rank = 2
    main_arg = "pool"

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any]) -> None:
        if attrs["strides"] is None:
            attrs["strides"] = attrs["pool"]  # Keras: strides default to the pool size

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        if len(shape) != cls.rank + 1:
            raise OpError(f"{cls.name} needs a rank-{cls.rank + 1} input, got {list(shape)}")
        spatial = []
        for size, p, s in zip(shape[:-1], attrs["pool"], attrs["strides"], strict=True):
            try:
                spatial.append(conv_out_len(size, p, s, attrs["padding"]))
            except OpError:
                raise OpError(f"pool {p} larger than input {size} with padding valid") from None
        return (*spatial, shape[-1])

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        builtin = "MAX_POOL_2D" if attrs["mode"] == "max" else "AVERAGE_POOL_2D"
        names = (f"MaxPool{cls.rank}d" if attrs["mode"] == "max" else
                 "AvgPool" if cls.rank == 2 else f"AvgPool{cls.rank}D",)
        if cls.rank == 2:
            return [Lowered(builtin, output, names=names)]
        return [Lowered("RESHAPE", (1, *inputs[0]), shape_operands=1),
                Lowered(builtin, (1, *output), names=names),
                Lowered("RESHAPE", output, shape_operands=1, names=(f"{names[0]}/Squeeze",))]


def _pool_args(rank: int) -> tuple[Arg, ...]:
    return (
        Arg("pool", ints(rank), (2,) * rank, aliases=("pool_size",)),
        Arg("strides", optional(ints(rank)), None, aliases=("stride",)),
        Arg("padding", choice("valid", "same"), "valid"),
    )


def _windowed(op_name: str, kind: str, rank: int, names: tuple[str, ...]) -> None:
    class Pool(_Pool):
        pass

    Pool.name, Pool.aliases, Pool.rank = op_name, names, rank
    Pool.args = _pool_args(rank)
    Pool.fixed_attrs = {"mode": kind}
    Pool.__name__ = Pool.__qualname__ = f"{kind.title()}Pool{rank}D"
    Pool.__doc__ = f"{kind} pooling over a {rank}-D window."
    register(Pool)


_windowed("max_pool2d", "max", 2, ("MaxPooling2D", "MaxPool2D", "maxpool2d", "maxpool"))
_windowed("max_pool1d", "max", 1, ("MaxPooling1D", "MaxPool1D", "maxpool1d"))
_windowed("avg_pool2d", "avg", 2, ("AveragePooling2D", "AvgPool2D", "avgpool2d", "avgpool"))
_windowed("avg_pool1d", "avg", 1, ("AveragePooling1D", "AvgPool1D", "avgpool1d"))


class _GlobalPool(Op):
    cost_class = CostClass.POOL
    rank = 2
    args = (Arg("keepdims", boolean, False),)

    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        (shape,) = inputs
        if len(shape) != cls.rank + 1:
            raise OpError(f"{cls.name} needs a rank-{cls.rank + 1} input, got {list(shape)}")
        return (*(1,) * cls.rank, shape[-1]) if attrs["keepdims"] else (shape[-1],)

    @classmethod
    def lower(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape],
              output: Shape) -> list[Lowered]:
        return [Lowered("MEAN" if attrs["mode"] == "avg" else "REDUCE_MAX", output,
                        shape_operands=1, names=("Mean" if attrs["mode"] == "avg" else "Max",))]


def _global(op_name: str, kind: str, rank: int, names: tuple[str, ...]) -> None:
    class Global(_GlobalPool):
        pass

    Global.name, Global.aliases, Global.rank = op_name, names, rank
    Global.fixed_attrs = {"mode": kind}
    Global.__name__ = Global.__qualname__ = f"Global{kind.title()}Pool{rank}D"
    Global.__doc__ = f"Global {kind} pooling: one value per channel."
    register(Global)


_global("global_avg_pool2d", "avg", 2,
        ("GlobalAveragePooling2D", "GlobalAvgPool2D", "gap2d", "global_average_pooling2d"))
_global("global_avg_pool1d", "avg", 1,
        ("GlobalAveragePooling1D", "GlobalAvgPool1D", "gap1d", "global_average_pooling1d"))
_global("global_max_pool2d", "max", 2, ("GlobalMaxPooling2D", "GlobalMaxPool2D", "gmp2d"))
_global("global_max_pool1d", "max", 1, ("GlobalMaxPooling1D", "GlobalMaxPool1D", "gmp1d"))

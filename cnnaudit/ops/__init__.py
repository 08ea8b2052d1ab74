"""Op definitions. Importing this package registers every op."""

from . import activation, conv, dense, merge, norm, pooling, structure, tflite
from .base import CostClass, Op, OpError, Weight, all_ops, get, lookup, suggest

__all__ = [
    "CostClass",
    "Op",
    "OpError",
    "Weight",
    "activation",
    "all_ops",
    "conv",
    "dense",
    "get",
    "lookup",
    "merge",
    "norm",
    "pooling",
    "structure",
    "suggest",
    "tflite",
]

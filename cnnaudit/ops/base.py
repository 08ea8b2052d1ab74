"""What an op is: its names, arguments, shape rule, weights and MACs, in one place.

Each op family module defines `Op` subclasses and registers them with `@register`.
Frontends look ops up by any of their names; passes ask an op for its shape, weights
and MACs. Nothing outside an op's class knows anything specific about it.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from enum import Enum
from typing import Any, ClassVar, NamedTuple

from ..ir import Shape


def exact_key(attrs: Mapping[str, Any]) -> tuple[tuple[str, type, Any], ...]:
    """`attrs` as a tuple that tells 1, 1.0 and True apart (a memo key)."""
    return tuple((k, v.__class__, v) for k, v in attrs.items())


class OpError(ValueError):
    """An op cannot accept its arguments or input shapes; the caller adds where."""


class CostClass(str, Enum):
    """How an op costs time and memory; latency and lowering passes dispatch on this."""

    INPUT = "input"
    CONV = "conv"
    DEPTHWISE = "depthwise"
    FULLY_CONNECTED = "fully_connected"
    POOL = "pool"
    ELEMENTWISE = "elementwise"
    NORM = "norm"
    DATA_MOVEMENT = "data_movement"
    IDENTITY = "identity"


class Weight(NamedTuple):
    """One stored weight tensor of a layer; `role` decides its bytes at a dtype."""

    role: str  # "kernel" | "bias" | "vector"
    shape: Shape
    trainable: bool = True
    channel_axis_size: int = 1  # channels with their own quantization scale (int8)
    stored_bytes: int | None = None  # data bytes as a file stores them, when read from one
    stored_quant_bytes: int = 0  # that file's quantization parameters for this tensor

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Lowered(NamedTuple):
    """One TFLite operator a layer becomes. A layer's steps form a chain: the first reads
    the layer's inputs, each later step reads the step before it."""

    builtin: str
    shape: Shape  # output shape, batch omitted
    weights: tuple[Weight, ...] = ()  # constant inputs after the data input, in order
    activation: str = "NONE"  # fused activation (RELU, RELU6)
    shape_operands: int = 0  # int32 constant shape/axis/padding inputs (flatbuffer bytes)
    merged: int = 1  # layers the converter merged into it (folded BN, fused ReLU)
    # The TensorFlow ops inside the layer's name scope that the converter names the
    # operator's output after, joined by ";" (the kernel's own op first: conv2d is
    # ("convolution", "BiasAdd", "Squeeze")). Empty: one op named after the builtin.
    names: tuple[str, ...] = ()


# Activations the converter fuses into the operator before them, by TFLite name.
FUSED_ACTIVATIONS = {"relu": "RELU", "relu6": "RELU6"}
# Operators with a bias that absorbs a constant added after them.
ABSORBS_OFFSET = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


# TensorFlow op names of activations whose TFLite builtin is spelled otherwise ("" is an
# unnamed op: the converter writes an empty part between two ";").
ACTIVATION_NAMES = {"sigmoid": ("Sigmoid",), "hard_swish": ("mul", "", "Relu6", "add", "truediv"),
                    "leaky_relu": ("LeakyRelu",), "log_softmax": ("LogSoftmax",)}


def activation_steps(activation: str, shape: Shape) -> list[Lowered]:
    """The TFLite operators an activation becomes when it stands alone (TF 2.21 converter:
    swish is LOGISTIC then MUL, hard sigmoid is ADD with RELU6 then MUL)."""
    single = {"relu": "RELU", "relu6": "RELU6", "sigmoid": "LOGISTIC", "tanh": "TANH",
              "hard_swish": "HARD_SWISH", "leaky_relu": "LEAKY_RELU", "elu": "ELU",
              "gelu": "GELU", "softmax": "SOFTMAX", "log_softmax": "LOG_SOFTMAX",
              "exponential": "EXP"}
    chains = {"swish": ("LOGISTIC", "MUL"), "hard_sigmoid": ("ADD", "MUL"),
              "selu": ("ELU", "MUL"), "softplus": ("EXP", "ADD", "LOG"),
              "softsign": ("ABS", "ADD", "DIV"), "mish": ("EXP", "ADD", "LOG", "TANH", "MUL")}
    if activation == "linear":
        return []
    if activation in single:
        return [Lowered(single[activation], shape, names=ACTIVATION_NAMES.get(activation, ()))]
    steps = [Lowered(b, shape) for b in chains.get(activation, ("UNKNOWN",))]
    if activation == "hard_sigmoid":
        steps = [Lowered("ADD", shape, activation="RELU6", names=("Relu6", "add")),
                 Lowered("MUL", shape, names=("truediv",))]
    return steps


def with_activation(main: Lowered, activation: str) -> list[Lowered]:
    """An operator with its `activation:` argument: fused when TFLite can, else appended."""
    if activation in FUSED_ACTIVATIONS:
        return [Lowered(main.builtin, main.shape, main.weights, FUSED_ACTIVATIONS[activation],
                        main.shape_operands, main.merged + 1,
                        (*main.names, FUSED_ACTIVATIONS[activation].title()))]
    if activation == "hard_sigmoid" and main.builtin in ABSORBS_OFFSET:
        # relu6(x + 3) / 6: the +3 folds into the bias, the ReLU6 fuses, a MUL remains
        return [Lowered(main.builtin, main.shape, main.weights, "RELU6", main.shape_operands,
                        main.merged + 1, (*main.names, "Relu6", "add")),
                Lowered("MUL", main.shape, (Weight("vector", ()),), names=("truediv",))]
    return [main, *activation_steps(activation, main.shape)]


_MISSING = object()


class Arg(NamedTuple):
    """One argument: canonical name, how to read it, default, other spellings."""

    name: str
    parse: Callable[[Any], Any]
    default: Any = _MISSING
    aliases: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is _MISSING


# Arguments Keras layers take that change nothing the auditor computes; accepted so a
# Keras model can be transcribed line by line.
KERAS_NOOP_ARGS = frozenset(
    {
        "kernel_initializer", "bias_initializer", "depthwise_initializer",
        "pointwise_initializer", "gamma_initializer", "beta_initializer",
        "moving_mean_initializer", "moving_variance_initializer",
        "kernel_regularizer", "bias_regularizer", "activity_regularizer",
        "depthwise_regularizer", "pointwise_regularizer", "gamma_regularizer",
        "beta_regularizer", "kernel_constraint", "bias_constraint",
        "depthwise_constraint", "pointwise_constraint", "gamma_constraint",
        "beta_constraint", "epsilon", "momentum", "seed", "noise_shape", "dtype",
        "interpolation", "synchronized", "lora_rank", "lora_alpha", "quantization_config",
        "input_dim", "input_length", "renorm", "renorm_clipping", "renorm_momentum",
        "fused", "virtual_batch_size", "adjustment", "trainable",
    }
)


@functools.cache
def _arg_index(cls: type[Op]) -> dict[str, Arg]:
    """Every spelling of every argument of an op class (built once per class)."""
    by_name: dict[str, Arg] = {}
    for arg in cls.args:
        by_name[arg.name] = arg
        for alias in arg.aliases:
            by_name[alias] = arg
    return by_name


class Op:
    """Base class for an op definition. Subclasses set the class attributes and rules."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    cost_class: ClassVar[CostClass]
    args: ClassVar[tuple[Arg, ...]] = ()
    main_arg: ClassVar[str | None] = None
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    fixed_attrs: ClassVar[Mapping[str, Any]] = {}
    doc: ClassVar[str] = ""
    # False when the rules read the attributes only, never the input shapes (a .tflite
    # operator carries its shapes): a memo needs no shapes in its key (ops/memo.py).
    rules_read_inputs: ClassVar[bool] = True

    # -- arguments ---------------------------------------------------------------
    @classmethod
    def normalize(cls, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Map user spellings to canonical names, parse values, fill defaults."""
        by_name = _arg_index(cls)
        attrs: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "data_format":
                if value not in (None, "channels_last"):
                    raise OpError(
                        f"data_format {value!r} is not supported: cnnaudit works channels-last"
                    )
                continue
            arg = by_name.get(key)
            if arg is None:
                if key in KERAS_NOOP_ARGS:
                    continue
                raise OpError(_unknown_arg_message(cls, key))
            if arg.name in attrs:
                raise OpError(f"argument {arg.name!r} given twice (as {key!r})")
            try:
                attrs[arg.name] = arg.parse(value)
            except (TypeError, ValueError) as exc:
                raise OpError(f"argument {key!r}: {exc}") from None
        for arg in cls.args:
            if arg.name not in attrs:
                if arg.required:
                    raise OpError(f"missing required argument {arg.name!r}")
                attrs[arg.name] = arg.default
        attrs.update(cls.fixed_attrs)
        cls.check_attrs(attrs)
        return attrs

    @classmethod
    def check_attrs(cls, attrs: dict[str, Any]) -> None:
        """Cross-argument checks (e.g. strides with dilation); raise OpError."""

    # -- rules -------------------------------------------------------------------
    @classmethod
    def output_shape(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> Shape:
        raise NotImplementedError

    @classmethod
    def output_shapes(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape]) -> list[Shape]:
        """Every output's shape; ops with one output only define `output_shape`."""
        return [cls.output_shape(attrs, inputs)]

    @classmethod
    def display_type(cls, attrs: Mapping[str, Any]) -> str:
        """The type shown in tables and JSON."""
        return cls.name

    @classmethod
    def describe(cls, attrs: Mapping[str, Any]) -> str:
        """A short note for the layers table (fused activation, quantization...)."""
        activation = attrs.get("activation")
        return activation if isinstance(activation, str) and activation != "linear" else ""

    @classmethod
    def rule_key(cls, attrs: Mapping[str, Any]) -> Hashable | None:
        """What the op's rules read of `attrs`, as a hashable memo key (ops/memo.py); None:
        do not memoise. Types are part of it: 1, 1.0 and True are equal but not the same
        argument."""
        return exact_key(attrs)

    @classmethod
    def node_cost_class(cls, attrs: Mapping[str, Any]) -> CostClass:
        """The cost class of one node (an op family may decide it per node)."""
        return cls.cost_class

    @classmethod
    def weights(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Weight]:
        return []

    @classmethod
    def macs(cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape) -> int:
        """Multiply-accumulates of one inference; 0 for ops the convention does not count."""
        return 0

    @classmethod
    def lower(
        cls, attrs: Mapping[str, Any], inputs: Sequence[Shape], output: Shape
    ) -> list[Lowered] | None:
        """The TFLite operators the converter makes of this layer ([] = none, it vanishes;
        None = unknown)."""
        return None


def _unknown_arg_message(op: type[Op], key: str) -> str:
    known = sorted({a.name for a in op.args} | {al for a in op.args for al in a.aliases})
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"{op.name} takes: {', '.join(known)}"
    return f"unknown argument {key!r} for {op.name}; {hint}"


# -- registry ---------------------------------------------------------------------
_REGISTRY: dict[str, type[Op]] = {}
_LOOKUP: dict[str, type[Op]] = {}


def _key(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def register(op: type[Op]) -> type[Op]:
    """Make an op findable by its canonical name and every alias (case/underscore-blind)."""
    if op.name in _REGISTRY:
        raise RuntimeError(f"op {op.name} registered twice")
    _REGISTRY[op.name] = op
    for name in (op.name, *op.aliases):
        key = _key(name)
        if key in _LOOKUP and _LOOKUP[key] is not op:
            raise RuntimeError(f"name {name} claimed by {_LOOKUP[key].name} and {op.name}")
        _LOOKUP[key] = op
    return op


def lookup(name: str) -> type[Op] | None:
    return _LOOKUP.get(_key(name))


def get(name: str) -> type[Op]:
    return _REGISTRY[name]


def all_ops() -> dict[str, type[Op]]:
    return dict(_REGISTRY)


def suggest(name: str) -> str | None:
    """The closest known layer name, for 'did you mean' hints."""
    names = sorted({n for op in _REGISTRY.values() for n in (op.name, *op.aliases)})
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return close[0]
    keyed = {_key(n): n for n in names}
    close = difflib.get_close_matches(_key(name), list(keyed), n=1, cutoff=0.6)
    return keyed[close[0]] if close else None


# -- argument parsers ---------------------------------------------------------------
def _int(value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(value: Any) -> int:
    return _int(value, minimum=1)


def nonneg_int(value: Any) -> int:
    return _int(value, minimum=0)


def any_int(value: Any) -> int:
    return _int(value)


def ints(rank: int, *, minimum: int = 1) -> Callable[[Any], tuple[int, ...]]:
    """An int or a list of `rank` ints (Keras's `kernel_size=3` or `(3, 5)`)."""

    def parse(value: Any) -> tuple[int, ...]:
        if isinstance(value, (list, tuple)):
            if len(value) != rank:
                raise ValueError(f"expected {rank} integers, got {list(value)!r}")
            return tuple(_int(v, minimum=minimum) for v in value)
        return (_int(value, minimum=minimum),) * rank

    return parse


def optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(value: Any) -> Any:
        return None if value is None else parse(value)

    return wrapped


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            raise ValueError(f"expected one of {', '.join(options)}; got {value!r}")
        return value.lower()

    return parse


def int_list(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"expected a list of integers, got {value!r}")
    return tuple(_int(v) for v in value)


def shape_value(value: Any) -> Shape:
    """A tensor shape as the user writes it: a list of positive ints, batch omitted."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"expected a shape such as [28, 28, 1], got {value!r}")
    if any(v is None for v in value):
        raise ValueError(
            f"shape {list(value)!r} has an unknown dimension; give every size "
            "(batch is omitted)"
        )
    return tuple(_int(v, minimum=1) for v in value)


# -- small shape helpers --------------------------------------------------------------
def conv_out_len(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Output length of a convolution or pooling window along one axis (Keras rules).

    >>> conv_out_len(28, 3, 1, "valid")
    26
    >>> conv_out_len(28, 3, 2, "same")
    14
    """
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        out = (size - effective) // stride + 1
        if out <= 0:
            span = f"kernel {kernel}" + (f" (dilated to {effective})" if dilation > 1 else "")
            raise OpError(f"{span} larger than input {size} with padding valid")
        return out
    return (size - 1) // stride + 1  # same, causal


def resolve_axis(axis: int, rank: int) -> int:
    """Keras axis (counting the batch dimension when positive) -> index into a batchless shape.

    >>> resolve_axis(-1, 3), resolve_axis(3, 3)
    (2, 2)
    """
    if axis < 0:
        index = rank + axis
    else:
        if axis == 0:
            raise OpError("axis 0 is the batch dimension")
        index = axis - 1
    if not 0 <= index < rank:
        raise OpError(f"axis {axis} is out of range for a rank-{rank} input (batch omitted)")
    return index

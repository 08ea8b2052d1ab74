"""One-line specs for sequential networks, for quick checks at the shell:

    cnnaudit check "28x28x1 conv64k3:relu maxpool2 flatten dense10:softmax" --board nano33

The first token is the input shape (`28x28x1` = height x width x channels, `128x6` =
length x channels); every other token is one layer. This module only maps token syntax to
the spec dict the YAML frontend reads, then hands it to `yaml_spec.graph_from_spec`, so a
one-liner and its YAML equivalent build the same graph. What an op accepts, its defaults
and its shape rule stay with the op (`cnnaudit.ops`).

A layer token is `NAME[MAIN][OPTIONS][:ACTIVATION]`:

- NAME picks the layer (`conv`, `dw`, `maxpool`, `dense`, ... see `FORMS`); a name without
  `1d`/`2d` follows the input's rank (a rank-2 input such as `128x6` means 1-D layers).
- MAIN is the layer's main number: filters, units, pool size, rate... (`3x5` per axis).
- OPTIONS: `k3`/`k3x5` kernel, `s2` strides, `d2` dilation, `m2` depth multiplier,
  `g2` groups, `same`/`valid`/`causal` padding, `nobias`.
- `:relu6` sets the layer's activation. A bare activation (`relu`) is a layer of its own.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, NamedTuple

from .. import ops
from ..errors import ShapeError, SpecError
from ..ir import Graph
from ..ops.activation import ACTIVATIONS, activation_value
from ..ops.base import OpError, shape_value
from .yaml_spec import graph_from_spec

FILE = "<one-liner>"
INPUT_EXAMPLE = "28x28x1 (height x width x channels) or 128x6 (length x channels)"

OPTION_ARGS = {"k": "kernel", "s": "strides", "d": "dilation", "m": "depth_multiplier",
               "g": "groups"}
PADDINGS = ("same", "valid", "causal")


class Form(NamedTuple):
    """How one family of tokens maps to ops: (1-D op, 2-D op), what MAIN sets, which
    OPTIONS letters it takes, whether it takes a padding word / `nobias`, and an example."""

    ops: tuple[str, str]
    main: str | None
    options: str
    example: str
    padding: bool = False
    bias: bool = False


_CONV = dict(padding=True, bias=True)
_BASE_FORMS: dict[tuple[str, ...], Form] = {
    ("conv",): Form(("conv1d", "conv2d"), "filters", "ksdg", "conv64k3s2same:relu", **_CONV),
    ("dw", "dwconv"): Form(("depthwise_conv1d", "depthwise_conv2d"), "kernel", "ksdm",
                           "dw3s2same:relu6", **_CONV),
    ("sep", "sepconv"): Form(("separable_conv1d", "separable_conv2d"), "filters", "ksdm",
                             "sep64k3same:relu", **_CONV),
    ("deconv", "convt"): Form(("conv1d_transpose", "conv2d_transpose"), "filters", "ksd",
                              "deconv32k3s2same:relu", **_CONV),
    ("maxpool",): Form(("max_pool1d", "max_pool2d"), "pool", "s", "maxpool2 or maxpool3s2same",
                       padding=True),
    ("avgpool",): Form(("avg_pool1d", "avg_pool2d"), "pool", "s", "avgpool2 or avgpool3s2same",
                       padding=True),
    ("gap",): Form(("global_avg_pool1d", "global_avg_pool2d"), None, "", "gap"),
    ("gmp",): Form(("global_max_pool1d", "global_max_pool2d"), None, "", "gmp"),
    ("upsample", "up"): Form(("upsampling1d", "upsampling2d"), "size", "", "upsample2"),
    ("pad",): Form(("zero_padding1d", "zero_padding2d"), "padding", "", "pad1 or pad1x2"),
    ("crop",): Form(("cropping1d", "cropping2d"), "cropping", "", "crop1 or crop2x1"),
}
_RANKLESS_FORMS: dict[tuple[str, ...], Form] = {
    ("dense", "fc"): Form(("dense", "dense"), "units", "", "dense128:relu", bias=True),
    ("flatten",): Form(("flatten", "flatten"), None, "", "flatten"),
    ("dropout", "drop"): Form(("dropout", "dropout"), "rate", "", "dropout0.5"),
    ("bn", "batchnorm"): Form(("batch_norm", "batch_norm"), None, "", "bn"),
    ("ln", "layernorm"): Form(("layer_norm", "layer_norm"), None, "", "ln"),
}


def _forms() -> dict[str, tuple[Form, int | None]]:
    """Every token name -> (form, spatial rank it forces or None)."""
    out: dict[str, tuple[Form, int | None]] = {}
    for names, form in _BASE_FORMS.items():
        for name in names:
            out[name] = (form, None)
            out[f"{name}1d"] = (form, 1)
            out[f"{name}2d"] = (form, 2)
    for names, form in _RANKLESS_FORMS.items():
        for name in names:
            out[name] = (form, None)
    return out


FORMS = _forms()
_BY_LENGTH = sorted(FORMS, key=len, reverse=True)

_SHAPE = re.compile(r"\d+(?:x\d+)*")
_MAIN = re.compile(r"\d*\.\d+|\d+(?:x\d+)*")
_OPTION = re.compile(r"(same|valid|causal|nobias)|([a-z])(\d+(?:x\d+)*)?")
_NAME = re.compile(r"[a-z_]+(?:[12]d)?")


def graph_from_oneliner(text: str) -> Graph:
    """Build the IR from a one-line spec such as `28x28x1 conv8k3 maxpool2 flatten dense10`."""
    spec = spec_from_oneliner(text)
    graph = graph_from_spec(spec, file=FILE, default_name="one_liner")
    _check_shapes(graph, _tokens(text))
    return graph


def _tokens(text: str) -> list[str]:
    """Tokens are separated by spaces (commas are allowed too)."""
    return [t for t in re.split(r"[\s,]+", text.strip()) if t]


def spec_from_oneliner(text: str) -> dict[str, Any]:
    """The spec dict (as YAML would give it) for a one-line spec."""
    tokens = _tokens(text)
    if not tokens:
        raise SpecError("empty one-line spec", file=FILE,
                        hint=f"start with the input shape, e.g. {INPUT_EXAMPLE}")
    shape = _input_shape(tokens[0])
    if len(tokens) == 1:
        raise SpecError(f"no layers after the input shape {tokens[0]!r}", file=FILE,
                        hint="add layers, e.g. \"28x28x1 conv8k3 maxpool2 flatten dense10\"")
    rank = 1 if len(shape) == 2 else 2
    layers = [_layer(token, position, rank)
              for position, token in enumerate(tokens[1:], start=2)]
    return {"input": list(shape), "layers": layers}


def _fail(position: int, token: str, message: str, hint: str | None = None) -> SpecError:
    return SpecError(f"token {position} {token!r}: {message}", file=FILE, hint=hint)


def _input_shape(token: str) -> tuple[int, ...]:
    if not token[0].isdigit():
        raise _fail(1, token, "a one-line spec starts with the input shape",
                    f"e.g. {INPUT_EXAMPLE}, then the layers")
    if not _SHAPE.fullmatch(token.lower()):
        raise _fail(1, token, "cannot read the input shape", f"expected e.g. {INPUT_EXAMPLE}")
    try:
        return shape_value([int(v) for v in token.lower().split("x")])
    except (TypeError, ValueError) as exc:
        raise _fail(1, token, f"input shape: {exc}", f"expected e.g. {INPUT_EXAMPLE}") from None


def _number(text: str) -> int | float | list[int]:
    if "." in text:
        return float(text)
    values = [int(v) for v in text.split("x")]
    return values[0] if len(values) == 1 else values


def _layer(token: str, position: int, rank: int) -> dict[str, Any]:
    """One layer token -> one spec entry `{op_name: args}`."""
    body, _, activation = token.lower().partition(":")
    if ":" in activation:
        raise _fail(position, token, "more than one ':activation'", "e.g. conv8k3:relu")
    args: dict[str, Any] = {}
    if activation or token.endswith(":"):
        args["activation"] = _activation(activation, position, token)

    if body.replace("-", "_") in ACTIVATIONS:
        if activation:
            raise _fail(position, token, "an activation layer takes no ':activation'",
                        f"write {body!r} alone")
        return _activation_layer(body.replace("-", "_"))
    if _SHAPE.fullmatch(body):
        raise _fail(position, token, "only the first token is the input shape",
                    "layers are tokens such as conv8k3, maxpool2, dense10")

    name = next((n for n in _BY_LENGTH if body.startswith(n)), None)
    if name is None:
        return _other_op(body, args, position, token)
    form, forced_rank = FORMS[name]
    op = ops.get(form.ops[(forced_rank or rank) - 1])
    rest = body[len(name):]
    main = _MAIN.match(rest)
    if main and main.group():
        if form.main is None:
            raise _fail(position, token, f"{op.name} takes no number",
                        f"expected e.g. {form.example}")
        args[form.main] = _number(main.group())
        rest = rest[main.end():]
    while rest:
        at_name = rest == body[len(name):]
        option = _option(rest, name, form, op.name, position, token, body, at_name)
        for key in option.keys() & args.keys():
            raise _fail(position, token, f"{key} given twice", f"expected e.g. {form.example}")
        args.update(option)
        rest = rest[_OPTION.match(rest).end():]  # type: ignore[union-attr]
    if "activation" in args and not any(a.name == "activation" for a in op.args):
        raise _fail(position, token, f"{op.name} takes no ':activation'",
                    f"write the activation as its own token, e.g. {name} relu")
    try:
        op.normalize(args)
    except OpError as exc:
        raise _fail(position, token, f"{op.name}: {exc}", f"expected e.g. {form.example}") \
            from None
    return {op.name: args}


def _option(rest: str, name: str, form: Form, op_name: str, position: int, token: str,
            body: str, at_name: bool) -> dict[str, Any]:
    """The option at the start of `rest` as {arg: value}; anything else is an error."""
    hint = f"expected e.g. {form.example}"
    match = _OPTION.match(rest)
    read_so_far = body[: len(body) - len(rest)]
    if match is None:
        raise _fail(position, token, f"cannot read {rest!r} after {read_so_far!r}", hint)
    word, letter, value = match.groups()
    if word == "nobias" and form.bias:
        return {"use_bias": False}
    if word in PADDINGS and form.padding:
        return {"padding": word}
    if letter in OPTION_ARGS and letter in form.options and value:
        return {OPTION_ARGS[letter]: _number(value)}
    if letter in OPTION_ARGS and letter in form.options:
        raise _fail(position, token,
                    f"{letter!r} ({OPTION_ARGS[letter]}) needs a number after it", hint)
    typed = _NAME.match(body)
    if at_name and typed and typed.group() not in FORMS:
        # `convv8k3`, `convolution8k3`: the name itself is misspelt, not an option.
        typo = typed.group()
        longer = difflib.get_close_matches(typo, [n for n in FORMS if n.startswith(name)],
                                           n=1, cutoff=0.75)
        raise _fail(position, token, f"unknown layer {typo!r}",
                    _did_you_mean(longer[0] if longer else name, body[len(typo):]))
    what = word or letter
    if what in PADDINGS or what == "nobias" or what in OPTION_ARGS:
        raise _fail(position, token, f"{op_name} takes no {what!r} option", hint)
    raise _fail(position, token, f"cannot read {rest!r} after {read_so_far!r}", hint)


def _activation(name: str, position: int, token: str) -> str:
    try:
        return activation_value(name)
    except (TypeError, ValueError):
        close = difflib.get_close_matches(name, list(ACTIVATIONS), n=1)
        raise _fail(position, token, f"unknown activation {name!r}",
                    f"did you mean {close[0]!r}?" if close else
                    "known: " + ", ".join(sorted(k for k, v in ACTIVATIONS.items() if k == v))
                    ) from None


def _activation_layer(name: str) -> dict[str, Any]:
    """A bare activation: its own layer when the op registry has one (`relu`), else
    `activation: gelu`, exactly as the YAML spec would be written."""
    canonical = ACTIVATIONS[name]
    op = ops.lookup(canonical)
    if op is not None and op.name == canonical:
        return {op.name: {}}
    return {"activation": {"activation": canonical}}


def _other_op(body: str, args: dict[str, Any], position: int, token: str) -> dict[str, Any]:
    """A bare op name from the registry (`flatten`, `GlobalAveragePooling2D`, `rescaling`),
    or an unknown token with the closest form suggested."""
    op = ops.lookup(body)
    if op is not None and op.name != "input":
        try:
            op.normalize(args)
        except OpError as exc:
            raise _fail(position, token, f"{op.name}: {exc}",
                        "write it as a YAML spec to give more arguments") from None
        return {op.name: args}
    if op is not None:
        raise _fail(position, token, "the input shape is the first token, not a layer",
                    f"e.g. {INPUT_EXAMPLE}")
    match = _NAME.match(body)
    word = match.group() if match else body
    close = _closest(word)
    hint = (_did_you_mean(close, body[len(word):]) if close is not None else
            "layers look like conv64k3s2same:relu, maxpool2, flatten, dense10:softmax")
    raise _fail(position, token, f"unknown layer {word!r}", hint)


def _did_you_mean(close: str, tail: str) -> str:
    """'did you mean ...?' with the user's numbers kept, plus the form's example."""
    if close in ACTIVATIONS:
        return f"did you mean {close!r}?"
    return f"did you mean {close + tail!r}? expected e.g. {FORMS[close][0].example}"


def _closest(word: str) -> str | None:
    names = [*FORMS, *ACTIVATIONS]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return close[0] if close else None


def _check_shapes(graph: Graph, tokens: list[str]) -> None:
    """Run shape inference now, so a layer that cannot take its input names its token."""
    from ..passes.shapes import infer_shapes

    try:
        infer_shapes(graph)
    except ShapeError as exc:
        for position, node in enumerate(graph.nodes, start=1):
            if exc.message.startswith(f"layer {node.name!r} ") and position <= len(tokens):
                raise ShapeError(f"token {position} {tokens[position - 1]!r}: {exc.message}",
                                 file=FILE, hint=exc.hint) from None
        raise

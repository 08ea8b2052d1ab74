"""YAML (or JSON) spec text -> the plain values the spec reader takes, each mapping and
sequence remembering its lines; every limit is checked while composing, before anything
is built.

Apart from yaml_spec.py so that a spec given as a dict or a one-line spec, and every model
file, never import PyYAML (its import compiles regular expressions: about 30 ms cold).
"""

from __future__ import annotations

from typing import Any

import yaml

from ..errors import SpecError
from ..limits import DEFAULT, Limits
from .yaml_spec import _Map, _Seq


class _Loader(yaml.SafeLoader):
    """SafeLoader (no object construction) that keeps line numbers, rejects duplicate keys,
    and counts nodes, aliases and depth while composing, before anything is built."""

    limits: Limits = DEFAULT

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nodes = getattr(self, "_nodes", 0) + 1
        self._depth = getattr(self, "_depth", 0) + 1
        mark = self.peek_event().start_mark
        line = mark.line + 1 if mark else None
        if self.check_event(yaml.AliasEvent):
            self._aliases = getattr(self, "_aliases", 0) + 1
            if self._aliases > self.limits.max_yaml_aliases:
                raise SpecError(f"more than {self.limits.max_yaml_aliases:,} YAML aliases "
                                "(an alias bomb?); refusing", line=line)
        if self._nodes > self.limits.max_yaml_nodes:
            raise SpecError(f"more than {self.limits.max_yaml_nodes:,} YAML nodes; refusing",
                            line=line)
        if self._depth > self.limits.max_depth:
            raise SpecError(f"values nested more than {self.limits.max_depth} deep; refusing",
                            line=line)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise SpecError(f"a mapping key must be a plain value, got {key!r}", line=line)
        if key in out:
            raise SpecError(f"duplicate key {key!r} (first on line {out.key_lines[key]})",
                            line=line)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)

_CSafeLoader: Any = getattr(yaml, "CSafeLoader", None)  # libyaml: about 8x faster
_FAST_MAX_CHARS = 1 << 20  # any real spec; bigger texts take the counting composer


if _CSafeLoader is not None:

    class _FastLoader(_CSafeLoader):  # type: ignore[misc, valid-type]
        """libyaml composes the whole document (it refuses nesting deeper than 1,000
        itself); the limits are then checked on the node tree, before anything is built.
        Only texts of at most _FAST_MAX_CHARS take this path, so composing is bounded."""

    _FastLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
    _FastLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _check_tree(root: yaml.Node, limits: Limits) -> None:
    """The composer's limits on a composed tree: nodes, aliases (a node met again) and depth,
    walked in document order so the first violation is the one reported."""
    seen: set[int] = set()
    nodes = aliases = 0
    stack: list[tuple[yaml.Node, int, int | None]] = [(root, 1, None)]
    while stack:
        node, depth, parent_line = stack.pop()
        nodes += 1
        line = node.start_mark.line + 1 if node.start_mark else None
        if id(node) in seen:
            aliases += 1
            line = parent_line  # the alias is used inside its parent, defined elsewhere
            if aliases > limits.max_yaml_aliases:
                raise SpecError(f"more than {limits.max_yaml_aliases:,} YAML aliases "
                                "(an alias bomb?); refusing", line=line)
            continue
        seen.add(id(node))
        if nodes > limits.max_yaml_nodes:
            raise SpecError(f"more than {limits.max_yaml_nodes:,} YAML nodes; refusing",
                            line=line)
        if depth > limits.max_depth:
            raise SpecError(f"values nested more than {limits.max_depth} deep; refusing",
                            line=line)
        if isinstance(node, yaml.MappingNode):
            children = [c for pair in node.value for c in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            continue
        stack.extend((c, depth + 1, line) for c in reversed(children))


def _load(text: str, limits: Limits) -> Any:
    if _CSafeLoader is None or len(text) > _FAST_MAX_CHARS:
        slow = _Loader(text)
        try:
            slow.limits = limits
            return slow.get_single_data()
        finally:
            slow.dispose()
    fast = _FastLoader(text)
    try:
        node = fast.get_single_node()
        if node is None:
            return None
        _check_tree(node, limits)
        return fast.construct_document(node)
    finally:
        fast.dispose()


def parse_text(text: str, file: str | None = None, limits: Limits = DEFAULT) -> Any:
    """Parse YAML/JSON text safely; syntax errors become one-line SpecErrors."""
    try:
        return _load(text, limits)
    except SpecError as exc:
        exc.file = file
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        if "nesting depth" in problem:  # libyaml's own nesting limit
            raise SpecError(f"values nested more than {limits.max_depth} deep; refusing",
                            file=file, line=line) from None
        raise SpecError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise SpecError("values nested too deeply; refusing", file=file) from None

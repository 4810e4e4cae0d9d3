"""YAML parsing that keeps line numbers, so every problem can name its line.

PyYAML's composer gives nodes with positions; we turn them into small wrappers
(``Mapping``, ``Sequence``, ``Scalar``) that remember the line of each key and
value. Duplicate keys, which PyYAML would silently collapse, are reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import yaml

TIMESTAMP = "tag:yaml.org,2002:timestamp"
MAX_NODES = 200_000  # values in one file; the largest pack has a few thousand


@dataclass
class Problem:
    line: int
    message: str


class YamlSyntaxError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Scalar:
    value: Any
    line: int


@dataclass
class Sequence:
    items: list[Node]
    line: int


@dataclass
class Entry:
    key_line: int
    node: Node


@dataclass
class Mapping:
    entries: dict[str, Entry]
    line: int
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    bad_keys: list[tuple[Any, int]] = field(default_factory=list)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return entry.node if entry else None


Node = Union[Scalar, Sequence, Mapping]


def plain(node: Node | None) -> Any:
    """The node's value with line information stripped (for hashing and tests)."""
    if node is None:
        return None
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [plain(item) for item in node.items]
    return {key: plain(entry.node) for key, entry in node.entries.items()}


def parse(text: str) -> Node | None:
    """Parse one YAML document; None for an empty one. Raises YamlSyntaxError."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character anywhere: refused before parsing starts
        line = text.count("\n", 0, exc.position) + 1
        raise YamlSyntaxError(line, f"YAML syntax error: the control character {exc.character:#04x} is not "
                                    "allowed in a YAML file") from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        return _convert(root, loader, set(), [MAX_NODES])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = exc.problem or str(exc)
        if exc.context and exc.problem:
            context = exc.context
            if exc.context_mark and exc.context_mark.line + 1 != line:
                context += f" (started on line {exc.context_mark.line + 1})"
            message = f"{context}, {exc.problem}"
        raise YamlSyntaxError(line, f"YAML syntax error: {message}") from None
    except RecursionError:
        raise YamlSyntaxError(1, "YAML syntax error: the document is nested too deeply") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()


def _convert(node: yaml.Node, loader: yaml.SafeLoader, inside: set[int], budget: list[int]) -> Node:
    """``inside`` holds the collections being converted, so an alias that loops back is caught; ``budget``
    counts the values left to convert, so aliases of aliases cannot expand a few lines into billions."""
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlSyntaxError(line, f"YAML syntax error: the document expands to more than {MAX_NODES:,} values "
                                    "(aliases that repeat aliases)")
    if isinstance(node, yaml.ScalarNode):
        try:
            return Scalar(loader.construct_object(node, deep=True), line)
        except (ValueError, TypeError, AttributeError, OverflowError):
            if node.tag == TIMESTAMP:  # 2026-02-30 looks like a date but is none: the checks report the text
                return Scalar(node.value, line)
            kind = node.tag.rsplit(":", 1)[-1]
            raise YamlSyntaxError(line, f"YAML syntax error: {node.value!r} cannot be read as {kind}") from None
    if isinstance(node, yaml.SequenceNode):
        if id(node) in inside:
            raise YamlSyntaxError(line, "YAML syntax error: an alias refers to a list that contains it")
        inside.add(id(node))
        items = [_convert(item, loader, inside, budget) for item in node.value]
        inside.discard(id(node))
        return Sequence(items, line)
    if id(node) in inside:
        raise YamlSyntaxError(line, "YAML syntax error: an alias refers to a mapping that contains it")
    inside.add(id(node))
    mapping = Mapping({}, line)
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            mapping.bad_keys.append(("a mapping or list", key_line))
            continue
        try:
            key = loader.construct_object(key_node, deep=True)
        except (ValueError, TypeError, AttributeError, OverflowError):
            key = key_node.value
        if not isinstance(key, str):
            mapping.bad_keys.append((key, key_line))
            continue
        if key in mapping.entries:
            mapping.duplicates.append((key, key_line))
            continue
        mapping.entries[key] = Entry(key_line, _convert(value_node, loader, inside, budget))
    inside.discard(id(node))
    return mapping

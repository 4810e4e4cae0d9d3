"""YAML parsing that keeps line numbers, so every problem can name its line.

PyYAML's composer gives nodes with positions; we turn them into small wrappers
(``Mapping``, ``Sequence``, ``Scalar``) that remember the line of each key and
value. Duplicate keys, which PyYAML would silently collapse, are reported.

A file is bounded before anything is built from it: its size and lines, the
values it holds (aliases counted as often as they repeat) and how deep it
nests; every text in it must be text (``rules.text``). Loading takes time in
proportion to the file: libyaml composes the nodes when PyYAML has it (ten
times faster than PyYAML's own reader), and the cyclic garbage collector waits
while it does.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Union

import yaml

from .text import text_problem

TIMESTAMP = "tag:yaml.org,2002:timestamp"
STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
MAX_BYTES = 1024 * 1024  # of UTF-8 text in one file; the largest pack has about 40 KB
MAX_NODES = 50_000  # values in one file; the largest pack has a few thousand, 1 MB of criteria about 25,000
MAX_LINES = 50_000  # a 1 MB file of realistic criteria has about 15,000
MAX_DEPTH = 40  # levels of nesting; a standards file needs about ten
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOO_MANY = (
    f"YAML syntax error: the document holds more than {MAX_NODES:,} values (counting each repeat of an "
    "alias); a standards file needs far fewer"
)


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
    data = _bounded(text)
    with _collector_paused():
        found, problem = _read(data, text)
    if problem is not None:
        raise YamlSyntaxError(*problem)
    return found


def _read(data: bytes, text: str) -> tuple[Node | None, tuple[int, str] | None]:
    """(the document, None) or (None, (line, problem)). Nothing PyYAML made outlives the call (not even in a
    traceback), so the collector, once it runs again, finds only what is returned."""
    loader = None
    try:
        loader = _Loader(data if _Loader is not yaml.SafeLoader else text)  # PyYAML's own checks text at once
        root = loader.get_single_node()
        if root is None:
            return None, None
        _count_values(root)
        return _convert(root, loader, set(), [MAX_NODES], 0), None
    except YamlSyntaxError as exc:
        return None, (exc.line, exc.message)
    except yaml.reader.ReaderError as exc:  # a control character anywhere: refused before it is parsed
        line = (
            data.count(b"\n", 0, exc.position) if _Loader is not yaml.SafeLoader else text.count("\n", 0, exc.position)
        ) + 1
        return None, (
            line,
            f"YAML syntax error: the control character {exc.character:#04x} is not allowed in a YAML file",
        )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = exc.problem or str(exc)
        if exc.context and exc.problem:
            context = exc.context
            if exc.context_mark and exc.context_mark.line + 1 != line:
                context += f" (started on line {exc.context_mark.line + 1})"
            message = f"{context}, {exc.problem}"
        return None, (line, f"YAML syntax error: {message}")
    except RecursionError:
        return None, (1, "YAML syntax error: the document is nested too deeply")
    except yaml.YAMLError as exc:
        return None, (1, f"YAML syntax error: {exc}")
    finally:
        if loader is not None:
            loader.dispose()


def _bounded(text: str) -> bytes:
    """The text as UTF-8, refused when it is too large or holds what no encoding can (a lone surrogate)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise YamlSyntaxError(line, f"this text {text_problem(text[exc.start])}") from None
    if len(data) > MAX_BYTES:
        raise YamlSyntaxError(1, f"the file is larger than {MAX_BYTES // 1024:,} KB, the most a standards file can be")
    if data.count(b"\n") > MAX_LINES:  # found at once, where composing the values would take a second
        raise YamlSyntaxError(
            MAX_LINES + 1, f"the file has more than {MAX_LINES:,} lines; a standards file needs far fewer"
        )
    return data


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The nodes of a file hold no reference cycles, yet each pass of the cyclic collector while hundreds of
    thousands of them are made walks them all again: that made loading grow faster than the file."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _count_values(root: yaml.Node) -> None:
    """Refuse a document of more than ``MAX_NODES`` values before any is converted (each node once: what
    aliases repeat is counted as ``_convert`` expands it)."""
    seen, waiting = {id(root)}, [root]
    while waiting:
        node = waiting.pop()
        if len(seen) > MAX_NODES:
            raise YamlSyntaxError(node.start_mark.line + 1, _TOO_MANY)
        if isinstance(node, yaml.ScalarNode):
            continue
        for child in node.value if isinstance(node, yaml.SequenceNode) else (value for _, value in node.value):
            if id(child) not in seen:
                seen.add(id(child))
                waiting.append(child)


def _convert(node: yaml.Node, loader: yaml.SafeLoader, inside: set[int], budget: list[int], depth: int) -> Node:
    """``inside`` holds the collections being converted, so an alias that loops back is caught; ``budget``
    counts the values left to convert, so aliases of aliases cannot expand a few lines into billions."""
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlSyntaxError(line, _TOO_MANY)
    if depth > MAX_DEPTH:
        raise YamlSyntaxError(line, f"YAML syntax error: the document is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, yaml.ScalarNode):
        value = node.value if node.tag == STR else _scalar(node, loader, line)
        if type(value) is str:
            problem = text_problem(value)
            if problem:
                raise YamlSyntaxError(line, f"this text {problem}")
        return Scalar(value, line)
    if isinstance(node, yaml.SequenceNode):
        if id(node) in inside:
            raise YamlSyntaxError(line, "YAML syntax error: an alias refers to a list that contains it")
        inside.add(id(node))
        items = [_convert(item, loader, inside, budget, depth + 1) for item in node.value]
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
        if key_node.tag == STR:
            key = key_node.value
        else:
            try:
                key = loader.construct_object(key_node, deep=True)
            except (ValueError, TypeError, AttributeError, OverflowError):
                key = key_node.value
        if not isinstance(key, str):
            mapping.bad_keys.append((key, key_line))
            continue
        problem = text_problem(key, single_line=True)
        if problem:
            raise YamlSyntaxError(key_line, f"this key {problem}")
        if key in mapping.entries:
            mapping.duplicates.append((key, key_line))
            continue
        mapping.entries[key] = Entry(key_line, _convert(value_node, loader, inside, budget, depth + 1))
    inside.discard(id(node))
    return mapping


def _scalar(node: yaml.ScalarNode, loader: yaml.SafeLoader, line: int) -> Any:
    """A scalar other than plain text, as the YAML tag makes it (a number, a date, true, null)."""
    if node.tag == INT and node.value.isdigit() and (node.value[0] != "0" or node.value == "0"):
        return int(node.value)  # the common case, without PyYAML's general reading (010 is octal there)
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, AttributeError, OverflowError):
        if node.tag == TIMESTAMP:  # 2026-02-30 looks like a date but is none: the checks report the text
            return node.value
        kind = node.tag.rsplit(":", 1)[-1]
        raise YamlSyntaxError(line, f"YAML syntax error: {node.value!r} cannot be read as {kind}") from None

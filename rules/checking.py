"""The generic line-numbered checker: field and type checks that collect problems instead of stopping.

A ``Checker`` walks parsed YAML (``rules.yamlnodes``) and records each problem
with the line of the offending key or value, so a whole file can be reported
in one pass. The standards-file schema (``rules.loader``) and the optional
flag rules (``rules.flags``) are both read with it.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any, Callable, Optional

from . import model as m
from .text import printable
from .yamlnodes import Mapping, Node, Scalar, Sequence

MAX_PROBLEMS = 100  # described per file; the rest are counted (a broken file of 100,000 keys has as many)


def describe(value: Any) -> str:
    """What a value is, in words for a problem message: "a list", "the boolean true", "'abc'"."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    value = value.value if isinstance(value, Scalar) else value
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"the date {value.isoformat()}"
    return repr(value)


class _UnsetType:
    pass


#: What ``Checker.field`` passes a check when the value is not a scalar, to get the check's wording.
UNSET: Any = _UnsetType()


def text_check(value: Any) -> Optional[str]:
    """The check of a text field: non-empty text, with a hint to quote numbers and dates."""
    if value is not UNSET and isinstance(value, (int, float, dt.date)):
        return "must be text (put it in quotes)"
    if value is UNSET or not isinstance(value, str):
        return "must be text"
    if not value.strip():
        return "must not be empty"
    return None


class Checker:
    """Walks a parsed file, collecting problems instead of stopping at the first.

    ``problems`` holds (line, message) pairs, the first ``MAX_PROBLEMS`` found; ``unlisted`` counts the
    others; ``seen_ids`` the ids met so far (``identifier`` keeps them unique in the file).
    """

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.unlisted = 0
        self.seen_ids: dict[str, tuple[str, int]] = {}

    def error(self, line: int, message: str) -> None:
        """Record a problem; it is printed as one ``FILE:LINE: message`` line, so what the file holds (an id
        with a line break, a control character) is shown escaped."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((line, printable(message)))
        else:
            self.unlisted += 1

    @property
    def full(self) -> bool:
        """Whether further problems are only counted (so a check can skip the work of describing them)."""
        return len(self.problems) >= MAX_PROBLEMS

    # -- generic field checks -------------------------------------------------

    def mapping(self, node: Node | None, where: str, line: int) -> Optional[Mapping]:
        if isinstance(node, Mapping):
            return node
        self.error(node.line if node is not None else line, f"{where} must be a mapping, got {describe(node)}")
        return None

    def keys(self, node: Mapping, spec: dict[str, bool], where: str) -> None:
        for key, line in node.duplicates:
            self.error(line, f"{where}: duplicate key '{key}'")
        for key, line in node.bad_keys:
            self.error(line, f"{where}: keys must be text, got {describe(key)}")
        for key, entry in node.entries.items():
            if key not in spec:
                if self.full:
                    self.unlisted += 1
                    continue
                hint = difflib.get_close_matches(key, list(spec), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                allowed = ", ".join(spec)
                self.error(entry.key_line, f"{where}: unknown key '{key}'{suggestion}; allowed keys: {allowed}")
        for key, required in spec.items():
            if required and key not in node:
                self.error(node.line, f"{where}: missing required key '{key}'")

    def field(
        self, node: Mapping, key: str, where: str, check: Callable[[Any], Optional[str]], default: Any = None
    ) -> Any:
        """Value of a scalar key, or default; ``check`` returns an error text or None."""
        value_node = node.get(key)
        if value_node is None:
            return default
        if not isinstance(value_node, Scalar):
            self.error(value_node.line, f"{where}: '{key}' {check(UNSET)}, got {describe(value_node)}")
            return default
        problem = check(value_node.value)
        if problem:
            self.error(value_node.line, f"{where}: '{key}' {problem}, got {describe(value_node)}")
            return default
        return value_node.value

    def text(self, node: Mapping, key: str, where: str, default: Optional[str] = None) -> Optional[str]:
        return self.field(node, key, where, text_check, default)

    def number(
        self,
        node: Mapping,
        key: str,
        where: str,
        default: Any,
        minimum: float | None = None,
        strict: bool = False,
        maximum: float | None = None,
    ) -> Any:
        def check(value: Any) -> Optional[str]:
            bound = ""
            if minimum is not None:
                bound = f" {'>' if strict else '>='} {minimum:g}"
            if maximum is not None:
                bound += f"{' and' if bound else ''} <= {maximum:g}"
            if value is UNSET or not m.is_number(value):
                return f"must be a number{bound}"
            if minimum is not None and (value <= minimum if strict else value < minimum):
                return f"must be a number{bound}"
            if maximum is not None and value > maximum:
                return f"must be a number{bound}"
            return None

        return self.field(node, key, where, check, default)

    def boolean(self, node: Mapping, key: str, where: str, default: bool) -> bool:
        return self.field(node, key, where, lambda v: None if isinstance(v, bool) else "must be true or false", default)

    def choice(self, node: Mapping, key: str, where: str, options: tuple[str, ...], default: Any) -> Any:
        listed = " | ".join(options)
        return self.field(
            node,
            key,
            where,
            lambda v: None if isinstance(v, str) and v in options else f"must be one of {listed}",
            default,
        )

    def slug_list(
        self, node: Mapping, key: str, where: str, allowed: tuple[str, ...] | None = None
    ) -> Optional[tuple[str, ...]]:
        value_node = node.get(key)
        if value_node is None:
            return None
        if not isinstance(value_node, Sequence):
            self.error(value_node.line, f"{where}: '{key}' must be a list, got {describe(value_node)}")
            return None
        if not value_node.items:
            self.error(value_node.line, f"{where}: '{key}' must list at least one entry (leave it out to mean any)")
            return None
        values: dict[str, None] = {}  # in order; looked up in constant time, so a long list takes linear time
        known = frozenset(allowed) if allowed is not None else None
        routes = ", ".join(allowed) if allowed is not None else ""
        ok = True
        for item in value_node.items:
            value = item.value if isinstance(item, Scalar) else item
            if not isinstance(value, str) or not value.strip():
                self.error(item.line, f"{where}: '{key}' entries must be text, got {describe(item)}")
                ok = False
            elif known is not None and value not in known:
                self.error(item.line, f"{where}: '{key}' names unknown route '{value}'; routes are: {routes}")
                ok = False
            elif value in values:
                self.error(item.line, f"{where}: '{key}' lists '{value}' twice")
                ok = False
            else:
                values[value] = None
        return tuple(values) if ok else None

    def identifier(self, node: Mapping, kind: str, where: str) -> Optional[str]:
        ident = self.text(node, "id", where)
        if ident is None:
            return None
        line = node.entries["id"].node.line
        if ident != ident.strip() or any(ch.isspace() for ch in ident):
            self.error(line, f"{where}: id {ident!r} must not contain spaces")
            return None
        if ident in self.seen_ids:
            other_kind, other_line = self.seen_ids[ident]
            self.error(
                line,
                f"{kind} id '{ident}' is already used by the {other_kind} on line {other_line}; ids must be unique in the file",
            )
            return ident
        self.seen_ids[ident] = (kind, line)
        return ident

    def sequence(self, node: Mapping, key: str, where: str, required: bool) -> list[Node]:
        value_node = node.get(key)
        if value_node is None:
            return []
        if not isinstance(value_node, Sequence):
            self.error(value_node.line, f"{where}: '{key}' must be a list, got {describe(value_node)}")
            return []
        if required and not value_node.items:
            self.error(value_node.line, f"{where}: '{key}' must list at least one entry")
        return value_node.items

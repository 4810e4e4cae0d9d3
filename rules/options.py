"""Options of choice and multi_choice criteria (schema 2): read and checked with the file's checker.

Each option has an ``id`` (a slug, unique within its criterion, never
``na``, which is the answer "not applicable"), a ``text`` and a ``score``
from 0 to 1 (default 0). A choice is answered with one option id, a
multi_choice with a list of them (``rules.answers``); scoring credits the
options' scores (``rules.compiling``, ``rules.scoring``).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from . import model as m
from .checking import UNSET, Checker, describe
from .yamlnodes import Mapping, Node, Sequence

OPTION_KEYS = {"id": True, "text": True, "score": False}
OPTION_ID = re.compile(r"[a-z0-9-]+\Z")


def read_options(checker: Checker, body: Mapping, where: str, ctype: str) -> Optional[tuple[m.Option, ...]]:
    """The options of a choice or multi_choice criterion, or None with every problem reported."""
    node = body.get("options")
    if node is None:
        checker.error(
            body.line, f"{where}: {ctype} criteria need 'options' (a list of at least two {{id, text, score}})"
        )
        return None
    if not isinstance(node, Sequence):
        checker.error(node.line, f"{where}: 'options' must be a list of {{id, text, score}}, got {describe(node)}")
        return None
    if len(node.items) < 2:
        checker.error(node.line, f"{where}: 'options' must list at least two options, got {len(node.items)}")
        return None
    options: list[m.Option] = []
    seen: dict[str, int] = {}
    ok = True
    for item in node.items:
        option = _option(checker, item, where, seen)
        if option is None:
            ok = False
        else:
            options.append(option)
    return tuple(options) if ok else None


def _option(checker: Checker, item: Node, where: str, seen: dict[str, int]) -> Optional[m.Option]:
    body = checker.mapping(item, f"{where}: an options entry", item.line)
    if body is None:
        return None
    checker.keys(body, OPTION_KEYS, f"{where} option")
    ident = checker.field(body, "id", f"{where} option", _option_id_check)
    text = checker.text(body, "text", f"{where} option")
    score = checker.number(body, "score", f"{where} option", 0, minimum=0, maximum=1)
    if ident is not None:
        line = body.entries["id"].node.line
        if ident == "na":
            checker.error(line, f"{where}: option id 'na' is reserved (it is the answer \"not applicable\")")
            return None
        if ident in seen:
            checker.error(line, f"{where}: option id '{ident}' is already used on line {seen[ident]}")
            return None
        seen[ident] = line
    if ident is None or text is None or score is None:
        return None
    return m.Option(id=ident, text=text, score=score, line=body.line)


def _option_id_check(value: Any) -> Optional[str]:
    if isinstance(value, bool):
        return "must be text: YAML reads a bare yes, no, true or false as a boolean, so put it in quotes"
    if isinstance(value, (int, float)):
        return "must be text (put it in quotes)"
    if value is UNSET or not isinstance(value, str) or not OPTION_ID.match(value):
        return "must be a slug of a-z, 0-9 and '-'"
    return None

"""Mappings to other frameworks (schema 2, ``frameworks`` and ``maps_to``): read, and decided by rules.

A set declares the frameworks it is mapped to (CQC quality statements, the
DSPT, ...), and each standard lists the framework refs it evidences. The
result's ``mapped`` says, for every declared framework in declaration order,
the status of every ref mapped to it, refs in order of first appearance:
``not_met`` if any applicable, scored standard mapped to it is not met;
otherwise ``met`` if at least one is met; otherwise ``not_assessed``.

Scoring asserts one fact per ref with the standard facts, so its status is
decided in the same pass as theirs, the way the outcome fact decides
must-meet standards: for each standard mapped to the ref the fact carries
its score (``q0``, ``q1``, ...) and whether it has a major breach (``j0``,
``j1``, ...), which the rules compare with the pass mark as they do for the
standard itself. A standard that is not scored or not applicable, or whose
status a lead has set, carries neutral values (the pass mark, no major
breach); the fact counts the standards decided (``n``: scored, or set by a
lead) and those a lead has set to not met (``pn``). Unused slots are
neutral too, so every fact of a ruleset has the same fields. Three exclusive
data-driven rules decide the ref's status. A ref mapped from more than
``MAX_REF_SLOTS`` standards has a fact per part of them (the engine does not
match wider facts), and its status is the worst of its parts'.
"""

from __future__ import annotations

import re
from typing import Optional

from . import model as m
from .checking import Checker, describe, text_check
from .conditions import nested
from .yamlnodes import Mapping, Scalar, Sequence

FRAMEWORK_ID = re.compile(r"[a-z0-9-]+\Z")
FRAMEWORK_KEYS = {"title": False}
MAPS_TO_KEYS = {"framework": True, "ref": True}
STATUS_OF_RULE = {"mapped_not_met": "not_met", "mapped_met": "met", "mapped_not_assessed": "not_assessed"}
#: Standards one ref fact carries (two fields each). durable-rules' C core does not match a fact of more than
#: about 255 fields, and stops (error 303) once one fact matches more than about 64 times (each test of the
#: "not met" rule that holds is a match), so a ref mapped from more standards has one fact per part of them,
#: each decided by the same three rules; the ref is not met if any part is, else met if any part is
#: (``combined``).
MAX_REF_SLOTS = 30
PRECEDENCE = ("not_met", "met", "not_assessed")


def combined(statuses: list[str]) -> str:
    """A ref's status from the statuses of its parts."""
    return next(status for status in PRECEDENCE if status in statuses)


def mapping_rules(slots: int, pass_mark: float) -> dict[str, dict]:
    """The three rules deciding a ref fact with ``slots`` standards (``rules.compiling`` adds them when a set's
    standards are mapped)."""

    def rule(*tests: dict) -> dict:
        return {"all": [{"m": {"$and": [{"t": "p"}, *tests]}}], "cap": 1000}

    failing = nested(
        "$or",
        [
            {"$gt": {"pn": 0}},
            *({"$lt": {f"q{k}": pass_mark}} for k in range(slots)),
            *({"$gt": {f"j{k}": 0}} for k in range(slots)),
        ],
    )
    holding = nested(
        "$and",
        [{"pn": 0}, *({"$gte": {f"q{k}": pass_mark}} for k in range(slots)), *({f"j{k}": 0} for k in range(slots))],
    )
    return {
        "mapped_not_met": rule(failing),
        "mapped_met": rule(holding, {"$gt": {"n": 0}}),
        "mapped_not_assessed": rule(holding, {"n": 0}),
    }


def framework_names(top: Mapping) -> Optional[tuple[str, ...]]:
    """The framework ids ``frameworks`` declares, readable or not (None: it is not a mapping to read them from)."""
    node = top.get("frameworks")
    if node is None:
        return ()
    return tuple(node.entries) if isinstance(node, Mapping) else None


def read_frameworks(checker: Checker, top: Mapping) -> tuple[m.Framework, ...]:
    """The declared frameworks, in declaration order (those with problems are reported and left out)."""
    node = top.get("frameworks")
    if node is None:
        return ()
    if not isinstance(node, Mapping):
        checker.error(
            node.line,
            f"standards set: 'frameworks' must be a mapping of framework id to {{title: ...}}, got {describe(node)}",
        )
        return ()
    checker.keys(node, {key: False for key in node.entries}, "frameworks")
    frameworks = []
    for key, entry in node.entries.items():
        where = f"framework '{key}'"
        if not FRAMEWORK_ID.match(key):
            checker.error(entry.key_line, f"{where}: framework ids must be slugs of a-z, 0-9 and '-' such as cqc")
            continue
        if isinstance(entry.node, Scalar) and entry.node.value is None:
            frameworks.append(m.Framework(id=key, title=key))
            continue
        body = checker.mapping(entry.node, where, entry.key_line)
        if body is None:
            continue
        checker.keys(body, FRAMEWORK_KEYS, where)
        frameworks.append(m.Framework(id=key, title=checker.text(body, "title", where, key) or key))
    return tuple(frameworks)


def read_maps_to(
    checker: Checker, body: Mapping, where: str, declared: Optional[tuple[str, ...]]
) -> tuple[m.FrameworkRef, ...]:
    """A standard's ``maps_to`` entries, checked against the ``declared`` framework ids (None: unknown)."""
    node = body.get("maps_to")
    if node is None:
        return ()
    if not isinstance(node, Sequence):
        checker.error(node.line, f"{where}: 'maps_to' must be a list of {{framework, ref}}, got {describe(node)}")
        return ()
    found: list[m.FrameworkRef] = []
    seen: dict[tuple[str, str], int] = {}
    for item in node.items:
        entry = checker.mapping(item, f"{where}: a maps_to entry", item.line)
        if entry is None:
            continue
        checker.keys(entry, MAPS_TO_KEYS, f"{where} maps_to")
        framework = checker.text(entry, "framework", f"{where} maps_to")
        ref = checker.field(entry, "ref", f"{where} maps_to", _ref_check)
        if framework is None or ref is None:
            continue
        if declared is not None and framework not in declared:
            listed = ", ".join(declared) if declared else "none"
            checker.error(
                entry.entries["framework"].node.line,
                f"{where}: maps_to names framework '{framework}', which 'frameworks' does not declare "
                f"(declared: {listed})",
            )
            continue
        if (framework, ref) in seen:
            checker.error(
                entry.line, f"{where}: maps_to lists {framework} {ref!r} twice (first on line {seen[framework, ref]})"
            )
            continue
        seen[framework, ref] = entry.line
        found.append(m.FrameworkRef(framework=framework, ref=ref, line=entry.line))
    return tuple(found)


def _ref_check(value: object) -> Optional[str]:
    if isinstance(value, (bool, int, float)):
        return "must be text: put the ref in quotes"
    return text_check(value)

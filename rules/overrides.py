"""An alliance lead's overrides of the engine's decisions, as plain data.

A lead reviewing an assessment may disagree with what the answers alone give:
evidence seen on a visit, a metric measured on a different basis. They may
set a criterion's score s (a number from 0 to 1, the contract's criterion
score) or a standard's status (met / not_met), always with a reason.

This module holds what an override is and whether it fits: reading stored
overrides (``Overrides.from_dict``), checking them against a version and a
member (``check_overrides``: only scored criteria, not text, and standards
that apply to the member can be overridden; anything else is an error naming
it), and keeping them across versions (``split_overrides``: overrides are
kept by criterion and standard id, so they survive a new version where those
ids still exist). Applying them is scoring's job (``rules.scoring``): they
reach the rules in the facts, like answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Union

from . import model as m
from .answers import Member

SETTABLE_STATUSES = ("met", "not_met")


class OverridesError(Exception):
    """Overrides that cannot be applied; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CriterionOverride:
    """The lead's criterion score s, from 0 to 1 (yes 1, partial 0.5, amber 0.5, ...)."""

    score: Union[int, float]
    reason: str


@dataclass(frozen=True)
class StandardOverride:
    """The lead's status for a standard: met or not_met."""

    status: Literal["met", "not_met"]
    reason: str


@dataclass(frozen=True)
class Overrides:
    """A lead's overrides for one assessment, keyed by criterion and standard id."""

    criteria: Mapping[str, CriterionOverride] = field(default_factory=dict)
    standards: Mapping[str, StandardOverride] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.criteria or self.standards)

    def to_dict(self) -> dict:
        """Plain JSON-able data (for storage); ``from_dict`` reads it back."""
        return {
            "criteria": {cid: {"score": o.score, "reason": o.reason} for cid, o in self.criteria.items()},
            "standards": {sid: {"status": o.status, "reason": o.reason} for sid, o in self.standards.items()},
        }

    @classmethod
    def from_dict(cls, doc: Any) -> Overrides:
        """Overrides from ``{"criteria": {id: {score, reason}}, "standards": {id: {status, reason}}}``.

        Only the shape is checked here; values are checked against a standards
        version when scoring (``check_overrides``).
        """
        problems: list[str] = []
        if not isinstance(doc, Mapping):
            raise OverridesError(['overrides: expected an object with "criteria" and "standards"'])
        unknown = sorted(set(doc) - {"criteria", "standards"})
        if unknown:
            problems.append(f"overrides: unknown keys {', '.join(map(str, unknown))} (expected criteria, standards)")
        found: dict[str, dict] = {"criteria": {}, "standards": {}}
        for kind, value_key, make in (
            ("criteria", "score", CriterionOverride),
            ("standards", "status", StandardOverride),
        ):
            entries = doc.get(kind)
            if entries is None:
                entries = {}
            if not isinstance(entries, Mapping):
                problems.append(f"overrides: {kind} must be an object keyed by id")
                continue
            for key, entry in entries.items():
                if not isinstance(entry, Mapping) or set(entry) != {value_key, "reason"}:
                    problems.append(
                        f'overrides: {kind} {key!r} must be an object with exactly "{value_key}" and "reason"'
                    )
                    continue
                found[kind][str(key)] = make(entry[value_key], entry["reason"])
        if problems:
            raise OverridesError(problems)
        return cls(criteria=found["criteria"], standards=found["standards"])


@dataclass(frozen=True)
class DroppedOverride:
    """An override that no longer fits a standards version, and why."""

    kind: Literal["criterion", "standard"]
    id: str
    override: Union[CriterionOverride, StandardOverride]
    why: str


def _is_score(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1


def _where(standards: m.StandardsSet) -> str:
    return f"{standards.id} {standards.version}"


def _fit_problem(standards: m.StandardsSet, kind: str, key: str, member: Optional[Member]) -> Optional[str]:
    """Why an override's id does not fit this version (and member), or None."""
    if kind == "criterion":
        found = standards.criterion_lookup.get(key)
        if found is None:
            return f"no such criterion in {_where(standards)}"
        standard, criterion = found
        if not criterion.scored:
            return "a text criterion is not scored"
    else:
        standard = next((s for s in standards.standards if s.id == key), None)
        if standard is None:
            return f"no such standard in {_where(standards)}"
    if member is not None and not standard.applies.covers(member.route, member.specialty, member.org_type):
        return f"standard {standard.id} does not apply to this member"
    return None


def check_overrides(standards: m.StandardsSet, member: Member, overrides: Any) -> list[str]:
    """Every problem with these overrides for this member, each naming the override."""
    if not isinstance(overrides, Overrides):
        return [f"overrides must be an Overrides, not {type(overrides).__name__}"]
    problems = []
    for key, override in overrides.criteria.items():
        where = f"criterion override {key!r}"
        if not isinstance(override, CriterionOverride):
            problems.append(f"{where}: expected a CriterionOverride, not {type(override).__name__}")
            continue
        problem = _fit_problem(standards, "criterion", key, member)
        if problem:
            problems.append(f"{where}: {problem}")
        if not _is_score(override.score):
            problems.append(f"{where}: score must be a number from 0 to 1, not {override.score!r}")
        if not isinstance(override.reason, str) or not override.reason.strip():
            problems.append(f"{where}: a reason is required")
    for key, override in overrides.standards.items():
        where = f"standard override {key!r}"
        if not isinstance(override, StandardOverride):
            problems.append(f"{where}: expected a StandardOverride, not {type(override).__name__}")
            continue
        problem = _fit_problem(standards, "standard", key, member)
        if problem:
            problems.append(f"{where}: {problem}")
        if override.status not in SETTABLE_STATUSES:
            problems.append(f"{where}: status must be met or not_met, not {override.status!r}")
        if not isinstance(override.reason, str) or not override.reason.strip():
            problems.append(f"{where}: a reason is required")
    return problems


def split_overrides(
    standards: m.StandardsSet, overrides: Overrides, member: Optional[Member] = None
) -> tuple[Overrides, list[DroppedOverride]]:
    """The overrides that still fit this version (kept) and those that do not (dropped, with why).

    An override follows its criterion or standard id: kept wherever the id
    still exists (and, given ``member``, still applies and is scored), even if
    it moved to another standard. Bad values are not dropped: scoring reports
    them.
    """
    criteria, standard_overrides, dropped = {}, {}, []
    for key, override in overrides.criteria.items():
        why = _fit_problem(standards, "criterion", key, member)
        if why:
            dropped.append(DroppedOverride("criterion", key, override, why))
        else:
            criteria[key] = override
    for key, override in overrides.standards.items():
        why = _fit_problem(standards, "standard", key, member)
        if why:
            dropped.append(DroppedOverride("standard", key, override, why))
        else:
            standard_overrides[key] = override
    return Overrides(criteria=criteria, standards=standard_overrides), dropped

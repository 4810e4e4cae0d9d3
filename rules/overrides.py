"""An alliance lead's overrides of the engine's decisions, applied through the engine.

A lead reviewing an assessment may disagree with what the answers alone give:
evidence seen on a visit, a metric measured on a different basis. They may
set a criterion's score s (a number from 0 to 1, the contract's criterion
score) or a standard's status (met / not_met), always with a reason.

The result is scored again by the rules with the overrides carried in the
facts, so everything that follows from them (standard scores and statuses,
domains, overall, rating, outcome, support needs, flags) is decided the way
it is for answers:

- A criterion override replaces the criterion's credit with s, whatever the
  member answered (unanswered, "na" and optional criteria included: the lead
  has scored it). The rules grade s as they grade yes/partial/no (full
  credit at 1, half at 0.5), which for a metric is its RAG: s = 1 green (no
  breach); 0.5 <= s < 1 amber (minor breach); s < 0.5 red (major breach, so
  its standard cannot be met). Other types have no RAG.
  An overridden criterion is not listed in ``unanswered``.
- A standard override sets the standard's status; its score, and so every
  mean above it, is unchanged. A must-meet standard set to not_met holds the
  outcome at working_towards; one set to met no longer does. Breaches inside
  a standard set to met remain breaches (conditions still apply).
- Only scored criteria (not text) and standards that apply to the member can
  be overridden; anything else is an error naming it.

The result gets ``overrides``: what was overridden, from what the engine had
decided on the answers alone to the lead's value, and why. Each overridden
criterion's entry has status ``overridden``, an explanation saying so and
what the engine had decided, and the details under ``override``.

Overrides are kept by criterion and standard id, so they survive a new
standards version where those ids still exist; ``split_overrides`` says which
are kept and which are dropped for a given version.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, Mapping, Optional, Union

from . import model as m
from .answers import Member, Submission
from .durable_engine import number_text
from .scoring import RAG_OF_RULE, SEVERITY_OF_RAG, CompiledStandards, _Assessment, _Plan, exact, plain_number

SETTABLE_STATUSES = ("met", "not_met")
RAG_WORDS = {"green": "green, benchmark met", "amber": "amber, minor breach", "red": "red, major breach"}


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
        return {"criteria": {cid: {"score": o.score, "reason": o.reason} for cid, o in self.criteria.items()},
                "standards": {sid: {"status": o.status, "reason": o.reason} for sid, o in self.standards.items()}}

    @classmethod
    def from_dict(cls, doc: Any) -> "Overrides":
        """Overrides from ``{"criteria": {id: {score, reason}}, "standards": {id: {status, reason}}}``.

        Only the shape is checked here; values are checked against a standards
        version when scoring (``check_overrides``).
        """
        problems: list[str] = []
        if not isinstance(doc, Mapping):
            raise OverridesError(["overrides: expected an object with \"criteria\" and \"standards\""])
        unknown = sorted(set(doc) - {"criteria", "standards"})
        if unknown:
            problems.append(f"overrides: unknown keys {', '.join(map(str, unknown))} (expected criteria, standards)")
        found: dict[str, dict] = {"criteria": {}, "standards": {}}
        for kind, value_key, make in (("criteria", "score", CriterionOverride), ("standards", "status", StandardOverride)):
            entries = doc.get(kind)
            if entries is None:
                entries = {}
            if not isinstance(entries, Mapping):
                problems.append(f"overrides: {kind} must be an object keyed by id")
                continue
            for key, entry in entries.items():
                if not isinstance(entry, Mapping) or set(entry) != {value_key, "reason"}:
                    problems.append(f"overrides: {kind} {key!r} must be an object with exactly "
                                    f"\"{value_key}\" and \"reason\"")
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
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= 1)


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


def split_overrides(standards: m.StandardsSet, overrides: Overrides,
                    member: Optional[Member] = None) -> tuple[Overrides, list[DroppedOverride]]:
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


def score_overridden(compiled_set: CompiledStandards, submission: Submission, overrides: Any) -> dict:
    """The result with the lead's overrides applied (``CompiledStandards.score`` with overrides)."""
    problems = check_overrides(compiled_set.standards, submission.member, overrides)
    if problems:
        raise OverridesError(problems)
    engine = _Assessment(compiled_set, submission)
    engine_result = engine.run()
    if not overrides:
        engine_result["overrides"] = []
        return engine_result
    return _OverriddenAssessment(compiled_set, submission, overrides, engine, engine_result).run()


class _OverriddenAssessment(_Assessment):
    """A scoring run whose facts carry the lead's overrides in place of what they override."""

    def __init__(self, compiled_set: CompiledStandards, submission: Submission, overrides: Overrides,
                 engine: _Assessment, engine_result: dict):
        super().__init__(compiled_set, submission)
        self.overrides = overrides
        self.engine, self.engine_result = engine, engine_result
        self.scores = {key: exact(o.score) for key, o in overrides.criteria.items()}
        self.pinned = {key: o.status for key, o in overrides.standards.items()}

    def criterion_facts(self, sid: str) -> str:
        plans = self.compiled.plans
        self.details.update((plan.id, None) for plan in plans)  # file order, whichever fact decides each
        facts = self.criterion_fact_list(sid, [plan for plan in plans if plan.id not in self.scores])
        end = f',"sid":"{sid}"}}'
        for plan in plans:
            if plan.id in self.scores:  # graded like yes/partial/no: full credit at 1, half at 0.5
                score = number_text(float(self.scores[plan.id]))
                facts.append(f'{{"t":"c","id":{plan.index},"tg":1.0,"lo":0.5,"v":{score}{end}')
        return "[" + ",".join(facts) + "]" if facts else ""

    def take_criterion_matches(self, matches: list[tuple[str, list[int]]]) -> None:
        plans, overridden = self.compiled.plans, self.scores
        answered = []
        for rule, fact_ids in matches:
            ids = [fact_id for fact_id in fact_ids if plans[fact_id].id not in overridden]
            if ids:
                answered.append((rule, ids))
            for fact_id in fact_ids:
                if plans[fact_id].id in overridden:
                    self.take_override(plans[fact_id], RAG_OF_RULE[rule])
        super().take_criterion_matches(answered)
        position = {plan.id: plan.index for plan in plans}
        self.breaches.sort(key=lambda breach: position[breach["criterion"]])

    def take_override(self, plan: _Plan, rag: str) -> None:
        """Credit, RAG and breach of a criterion as the rules decided from the lead's score."""
        score = self.scores[plan.id]
        credit = score * plan.full
        self.credit[plan.id] = int(credit) if credit.denominator == 1 else credit
        override = self.overrides.criteria[plan.id]
        answer = self.answers.get(plan.id)
        rag_or_none = rag if plan.type == "metric" else None
        severity = SEVERITY_OF_RAG.get(rag) if rag_or_none else None
        if severity:
            if severity == "major":
                self.majors.add(plan.standard)
            bench = self.compiled.benchmarks[plan.id]
            self.breaches.append({"criterion": plan.id, "standard": plan.standard, "value": answer,
                                  "target": bench.target, "direction": bench.direction, "severity": severity,
                                  "overridden": True})
        before = self.engine_result["criteria"][plan.id]
        band = f" ({RAG_WORDS[rag]})" if rag_or_none else ""
        explanation = (f"overridden by the alliance lead to {plain_number(override.score)}{band}: "
                       f"\"{override.reason.strip()}\"; the engine had decided: {before['explanation']}")
        entry = self.entry(plan, answer, "overridden", explanation, round(float(score) * 100, 1), rag_or_none,
                           severity)
        entry["override"] = {"score": override.score, "reason": override.reason,
                             "engine": {key: before[key] for key in ("status", "score", "rag", "breach",
                                                                       "explanation")}}
        self.details[plan.id] = entry

    def standard_scores(self) -> dict[str, Optional[tuple[int, int]]]:
        """As for answers, with a lead's credit kept as an exact fraction (it may be any s in [0, 1])."""
        scores: dict[str, Optional[tuple[int, int]]] = {}
        for pos, (standard, plans, full) in enumerate(self.compiled.standard_plans):
            if not self.applicable[pos]:
                continue
            counted = [(plan.units, self.credit[plan.id]) for plan in plans if plan.id in self.credit]
            units = sum(weight for weight, _ in counted)
            if not counted or not units:
                scores[standard.id] = None
                continue
            value = Fraction(100 * sum(weight * credit for weight, credit in counted), units * full)
            scores[standard.id] = (value.numerator, value.denominator)
        return scores

    def engine_score(self, plan: _Plan) -> Optional[float]:
        """The criterion score s the engine had given (None: left out of the score)."""
        credit = self.engine.credit.get(plan.id)
        return None if credit is None else float(Fraction(credit) / plan.full)

    def result(self, *args: Any) -> dict:
        result = super().result(*args)
        applied = []
        plans_by_standard = {standard.id: plans for standard, plans, _ in self.compiled.standard_plans}
        engine_statuses = self.engine_result["standard_results"]
        for standard in self.compiled.standard_list:
            for plan in plans_by_standard[standard.id]:
                override = self.overrides.criteria.get(plan.id)
                if override is not None:
                    applied.append({"kind": "criterion", "id": plan.id, "standard": standard.id,
                                    "from": self.engine_score(plan), "to": override.score,
                                    "reason": override.reason})
            pinned = self.overrides.standards.get(standard.id)
            if pinned is not None:
                applied.append({"kind": "standard", "id": standard.id, "standard": standard.id,
                                "from": engine_statuses[standard.id]["status"], "to": pinned.status,
                                "reason": pinned.reason})
        result["overrides"] = applied
        return result

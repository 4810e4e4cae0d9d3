"""Self-assessment answers drawn from the loaded standards, to a profile.

Answers are not written out by criterion id: each demo self-assessment follows a profile (strong, typical,
major breach, weak, failing) drawn with a fixed seed, and is re-drawn until the real engine gives the
profile's outcome, so every outcome, benchmark breach, at-risk member and one "suspension recommended"
case appear on every load, identically. Nothing here touches the database.
"""

from __future__ import annotations

import random
from typing import Any

import rules
from rules.model import Criterion, StandardsSet

from .world import FAILING, MAJOR, STRONG, TYPICAL, WEAK, DemoError

#: profile -> (good, fair, poor) for non-metric answers, (green, amber, red) for metrics
PROFILES = {
    STRONG: ((0.9, 0.1, 0.0), (1.0, 0.0, 0.0)),
    TYPICAL: ((0.75, 0.2, 0.05), (0.85, 0.15, 0.0)),
    MAJOR: ((0.75, 0.2, 0.05), (0.8, 0.2, 0.0)),
    WEAK: ((0.35, 0.35, 0.3), (0.35, 0.65, 0.0)),
    FAILING: ((0.1, 0.3, 0.6), (0.15, 0.35, 0.5)),
}
EXPECTED_OUTCOME = {
    STRONG: "accredited",
    TYPICAL: "accredited_with_conditions",
    WEAK: "working_towards",
    FAILING: "not_accredited",
}

TEXT_ANSWERS = (
    "Reviewed every quarter at the divisional quality meeting; actions are tracked on the risk register.",
    "Summarised in the annual report to the board; the remaining gaps have named owners and dates.",
    "Plan agreed with the clinical lead and the alliance clinical practice group; due by the end of the cycle.",
    "Shared with the alliance at the last peer review visit; the notes are on the information portal.",
)


def _pick(rng: random.Random, weights: tuple[float, float, float], options: tuple[Any, Any, Any]) -> Any:
    return rng.choices(options, weights=weights)[0]


def _round_for(criterion: Criterion, value: float) -> float | int:
    bench = criterion.benchmark
    whole = (
        float(bench.target).is_integer()
        and float(bench.amber).is_integer()
        and (criterion.unit or "") not in ("%", "days")
    )
    return int(round(value)) if whole else round(value, 1)


def rag_of(criterion: Criterion, value: float) -> str:
    """The contract's RAG for a metric value (used to check generated values land where meant)."""
    b = criterion.benchmark
    if b.direction == "higher":
        return "green" if value >= b.target else "amber" if value >= b.target - b.amber else "red"
    return "green" if value <= b.target else "amber" if value <= b.target + b.amber else "red"


def metric_value(criterion: Criterion, rag: str, rng: random.Random) -> float | int:
    """A plausible value with the given RAG against the criterion's benchmark."""
    b = criterion.benchmark
    target, amber = float(b.target), float(b.amber)
    spread = max(amber, abs(target) * 0.1, 1.0)
    ceiling = 100.0 if criterion.unit == "%" else None
    higher = b.direction == "higher"
    if rag == "amber" and amber == 0:
        rag = "green"  # no amber band: the value either meets the target or is a major breach
    for _ in range(20):
        if rag == "green":
            room = spread if ceiling is None or not higher else min(spread, ceiling - target)
            if not higher:
                room = min(spread, target) if target > 0 else 0.0
            shift = rng.uniform(0, room)
            value = target + shift if higher else target - shift
        elif rag == "amber":
            shift = amber * rng.uniform(0.2, 0.9)
            value = target - shift if higher else target + shift
        else:
            shift = amber + spread * rng.uniform(0.3, 1.5)
            value = max(0.0, target - shift) if higher else target + shift
        if ceiling is not None:
            value = min(value, ceiling)
        value = _round_for(criterion, value)
        if rag_of(criterion, value) == rag:
            return value
    raise DemoError(f"{criterion.id}: no {rag} value fits its benchmark")


def _answer(criterion: Criterion, grade: str, rng: random.Random) -> Any:
    if criterion.type == "yes_no":
        return "no" if grade == "poor" or (grade == "fair" and rng.random() < 0.4) else "yes"
    if criterion.type == "yes_partial_no":
        return {"good": "yes", "fair": "partial", "poor": "no"}[grade]
    if criterion.type == "level":
        top = len(criterion.levels or ()) - 1
        if grade == "good":
            return top if rng.random() < 0.6 else top - 1
        if grade == "fair":
            return max(1, top // 2)
        return rng.choice((0, min(1, top)))
    if criterion.type == "text":
        return rng.choice(TEXT_ANSWERS)
    if criterion.type == "choice":
        return _choice(criterion, grade, rng)
    if criterion.type == "multi_choice":
        return _multi_choice(criterion, grade, rng)
    raise AssertionError(criterion.type)


def _choice(criterion: Criterion, grade: str, rng: random.Random) -> str:
    """An option whose score fits the grade: the best options (a good answer), one between (fair), the worst
    (poor); where no option is between, a fair answer is the best or the worst."""
    options = criterion.options or ()
    best, worst = max(float(o.score) for o in options), min(float(o.score) for o in options)
    bands = {
        "good": [o for o in options if float(o.score) == best],
        "fair": [o for o in options if worst < float(o.score) < best],
        "poor": [o for o in options if float(o.score) == worst],
    }
    pool = bands[grade] or (bands["good"] if rng.random() < 0.5 else bands["poor"])
    return rng.choice(pool).id


def _multi_choice(criterion: Criterion, grade: str, rng: random.Random) -> list[str]:
    """Options ticked as a member would: a file lists the commonest first (the national audits every service
    submits to before the specialist ones), so a good answer has the first options that together reach full
    credit and some of the rest, a fair one fewer and fewer along the list (short of full credit), a poor one
    the first option or none; an option worth nothing ("other") now and then. In the file's order."""
    options = criterion.options or ()
    counting = [o for o in options if float(o.score) > 0]
    chosen: list = []
    if grade == "good":
        total = 0.0
        for o in counting:
            if total < 1 or rng.random() < 0.6:
                chosen.append(o)
                total += float(o.score)
    elif grade == "fair":
        chosen = [o for i, o in enumerate(counting) if rng.random() < max(0.15, 0.85 - 0.2 * i)]
        while len(chosen) > 1 and sum(float(o.score) for o in chosen) >= 1:
            chosen.pop()
        chosen = chosen or counting[:1]
    elif counting and rng.random() < 0.5:
        chosen = counting[:1]
    ids = {o.id for o in chosen} | {o.id for o in options if float(o.score) == 0 and rng.random() < 0.25}
    return [o.id for o in options if o.id in ids]


def asked(criterion: Criterion, answers: dict[str, Any]) -> bool:
    """Whether a conditional criterion is asked given the answers drawn so far (file order: the criterion it
    depends on comes first, and is left unanswered when it is not applicable or not asked itself)."""
    if criterion.when is None:
        return True
    return criterion.when.criterion in answers and answers[criterion.when.criterion] in criterion.when.values


def headline_metric(standards: StandardsSet, member: rules.Member) -> Criterion:
    """The applicable required metric, asked of everyone, that weighs most in the overall score (first in file
    order on a tie): where the demo's repeated major breaches fall."""
    best, best_weight = None, -1.0
    for d in standards.domains:
        for s in d.standards:
            if not s.applies.covers(member.route, member.specialty, member.org_type):
                continue
            for c in s.criteria:
                weight = float(d.weight) * float(s.weight) * float(c.weight)
                if c.type == "metric" and c.required and c.when is None and weight > best_weight:
                    best, best_weight = c, weight
    if best is None:
        raise DemoError(f"{standards.label} has no required metric for a {member.route} member")
    return best


def generate_answers(standards: StandardsSet, member: rules.Member, profile: str, seed: str) -> tuple[dict, dict]:
    """Answers following the profile, re-drawn (with the same seed sequence) until the engine agrees;
    returns the answers and the engine's result for them."""
    answer_weights, rag_weights = PROFILES[profile]
    headline = headline_metric(standards, member) if profile == MAJOR else None
    for attempt in range(60):
        rng = random.Random(f"{seed}#{attempt}")
        answers: dict[str, Any] = {}
        for s in standards.standards:
            if not s.applies.covers(member.route, member.specialty, member.org_type):
                continue
            for c in s.criteria:
                if not asked(c, answers):
                    continue  # a question asked only after another answer: the form leaves it out
                if not c.required and rng.random() < 0.3:
                    continue
                if c.allow_na and rng.random() < 0.06:
                    answers[c.id] = "na"
                elif c.type == "metric":
                    answers[c.id] = metric_value(c, _pick(rng, rag_weights, ("green", "amber", "red")), rng)
                else:
                    answers[c.id] = _answer(c, _pick(rng, answer_weights, ("good", "fair", "poor")), rng)
        if headline is not None:
            answers[headline.id] = metric_value(headline, "red", rng)
        result = rules.score_submission(standards, rules.Submission(member=member, answers=answers))
        majors = [b for b in result["breaches"] if b["severity"] == "major"]
        if profile == MAJOR:
            fits = result["outcome"] != "not_accredited" and any(b["criterion"] == headline.id for b in majors)
        else:
            fits = result["outcome"] == EXPECTED_OUTCOME[profile] and (profile == FAILING or not majors)
        if fits:
            return answers, result
    raise DemoError(f"{standards.label}: could not draw a {profile} self-assessment for seed {seed}")

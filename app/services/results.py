"""A self-assessment's result as a member reads it: the engine's result joined to the standards' words.

A submitted assessment shows its stored result (what the lead reviews); a
draft shows a provisional score of its answers so far, stored nowhere. Once
the lead has decided, the decision comes first: the engine's outcome is what
the answers scored, the decision (with its conditions) is what stands. The
conditional questions the result left out as not asked say why, in the
member's words (``questions.not_asked``, from the answers the result scored),
and each framework the standards are mapped to lists its refs with their
status and the standards behind each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlmodel import Session, col, select

from rules.model import CoreOffer, Criterion, Domain, Standard, StandardsSet

from ..models import Decision
from .assessments import AssessmentContext
from .benchmarks import DEFAULT_MIN_PEERS, MetricBenchmark, metric_benchmarks
from .frameworks import FrameworkLine, framework_lines
from .questions import NotAsked, not_asked, option_scores_words
from .scoring import current_result, score


@dataclass(frozen=True)
class StandardLine:
    standard: Standard
    score: Optional[float]
    status: str
    criteria: list[tuple[Criterion, dict[str, Any]]]  # each criterion with the engine's detail for it


@dataclass(frozen=True)
class DomainLine:
    domain: Domain
    score: Optional[float]
    standards: list[StandardLine]


@dataclass(frozen=True)
class ResultView:
    result: dict[str, Any]
    provisional: bool
    computed_at: Optional[dt.datetime]
    domains: list[DomainLine]
    breaches: list[tuple[dict[str, Any], Criterion, Standard]]
    support_needs: list[Standard]
    core_proposition: list[CoreOffer]
    benchmarks: list[MetricBenchmark]
    not_asked: dict[str, NotAsked]  # criteria the result left out as not asked, in file order, with why
    explanations: dict[str, str]  # how choice answers scored, by their options' texts (the engine's names ids)
    frameworks: list[FrameworkLine]  # how the result evidences each framework the standards are mapped to
    decisions: list[Decision] = field(default_factory=list)  # the lead's, oldest first

    @property
    def decision(self) -> Optional[Decision]:
        """The decision that stands: the latest."""
        return self.decisions[-1] if self.decisions else None

    @property
    def conditions(self) -> list[Decision]:
        """The decisions that set conditions, each with its due date."""
        return [d for d in self.decisions if d.conditions]


def result_view(session: Session, ctx: AssessmentContext, min_peers: int = DEFAULT_MIN_PEERS) -> ResultView:
    stored = current_result(session, ctx.assessment.id)
    if stored is not None and ctx.assessment.status != "draft":
        result, provisional, computed_at = stored.result, False, stored.computed_at
    else:
        result, provisional, computed_at = score(session, ctx.assessment.id), True, None
    standards = ctx.standards
    details = result.get("criteria") or {}
    domains = []
    for domain in standards.domains:
        lines = []
        for standard in domain.standards:
            outcome = result["standard_results"].get(standard.id) or {}
            if outcome.get("status", "not_applicable") == "not_applicable":
                continue
            lines.append(
                StandardLine(
                    standard,
                    outcome.get("score"),
                    outcome["status"],
                    [(c, details.get(c.id) or {}) for c in standard.criteria],
                )
            )
        if lines:
            domains.append(DomainLine(domain, result["domains"].get(domain.id), lines))
    lookup = standards.criterion_lookup
    breaches = [(b, lookup[b["criterion"]][1], lookup[b["criterion"]][0]) for b in result["breaches"]]
    by_id = {s.id: s for s in standards.standards}
    offers = {o.id: o for o in standards.core_proposition}
    inactive = [cid for cid, detail in details.items() if detail and detail.get("status") == "inactive"]
    reasons = not_asked(ctx, {cid: d.get("answer") for cid, d in details.items() if d}) if inactive else {}
    return ResultView(
        result=result,
        provisional=provisional,
        computed_at=computed_at,
        domains=domains,
        breaches=breaches,
        support_needs=[by_id[s] for s in result["support_needs"] if s in by_id],
        core_proposition=[offers[o] for o in result["core_proposition"] if o in offers],
        benchmarks=metric_benchmarks(session, ctx, result, min_peers),
        not_asked={cid: reasons[cid] for cid in inactive if cid in reasons},
        explanations=_option_explanations(standards, details),
        frameworks=framework_lines(standards, result),
        decisions=list(
            session.exec(
                select(Decision)
                .where(Decision.assessment_id == ctx.assessment.id)
                .order_by(col(Decision.decided_at), col(Decision.id))
            ).all()
        ),
    )


def _option_explanations(standards: StandardsSet, details: dict[str, Any]) -> dict[str, str]:
    found = {}
    for criterion in standards.criteria:
        detail = details.get(criterion.id) or {}
        if criterion.options and detail.get("status") == "scored":
            words = option_scores_words(criterion, detail.get("answer"), detail.get("score"))
            if words:
                found[criterion.id] = words
    return found

"""A member's metrics against the alliance: the spread of other members' latest results.

Anonymised: only the median and quartiles of other organisations' values are
given, never a name or a single value, and nothing at all for a metric fewer
than ``min_peers`` other members have reported. A peer's value counts when its
result was computed against a version of the same standards set in which the
criterion is still a metric with the same unit (otherwise it is not the same
measure).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Optional

from sqlmodel import Session, col, select

from rules.model import Criterion, Standard

from ..models import Assessment, AssessmentCycle, AssessmentResult, Membership, StandardsVersion
from .assessments import AssessmentContext
from .standards import parsed

LEFT = ("declined", "withdrawn", "lapsed")
DEFAULT_MIN_PEERS = 3


@dataclass(frozen=True)
class Distribution:
    count: int
    q1: float
    median: float
    q3: float


@dataclass(frozen=True)
class MetricBenchmark:
    standard: Standard
    criterion: Criterion
    value: Optional[float]  # the member's own value (None: not answered, or "na")
    rag: Optional[str]
    peers: int  # how many other members reported a value
    distribution: Optional[Distribution]  # None when fewer than the minimum reported

    @property
    def direction(self) -> str:
        return self.criterion.benchmark.direction

    @property
    def target(self) -> float:
        return self.criterion.benchmark.target

    @property
    def position(self) -> Optional[str]:
        """Where the member stands among the others, in words, the better direction taken into account."""
        if self.value is None or self.distribution is None:
            return None
        d = self.distribution
        sign = 1 if self.direction == "higher" else -1
        against_median = sign * (self.value - d.median)
        words = (
            "better than the median"
            if against_median > 0
            else "worse than the median"
            if against_median < 0
            else "at the median"
        )
        best, worst = (d.q3, d.q1) if sign > 0 else (d.q1, d.q3)
        if sign * (self.value - best) > 0:
            words += ", in the best quarter"
        elif sign * (self.value - worst) < 0:
            words += ", in the worst quarter"
        return words


def distribution(values: list[float]) -> Distribution:
    """Median and quartiles (the inclusive method: quartiles stay within the values)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        only = ordered[0]
        return Distribution(1, only, only, only)
    q1, median, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return Distribution(len(ordered), q1, median, q3)


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def peer_results(session: Session, ctx: AssessmentContext) -> list[tuple[AssessmentResult, StandardsVersion]]:
    """The latest current result of each other organisation's membership of the same alliance (the latest
    are picked first, so only their results are read in full)."""
    rows = session.exec(
        select(
            AssessmentResult.id,
            Membership.id,
            Membership.status,
            AssessmentCycle.opens_on,
            AssessmentResult.computed_at,
            AssessmentResult.standards_version_id,
        )
        .join(Assessment, Assessment.id == AssessmentResult.assessment_id)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(
            Membership.alliance_id == ctx.membership.alliance_id,
            Membership.organisation_id != ctx.organisation.id,
            Assessment.status != "draft",
            AssessmentResult.is_current == True,
        )  # noqa: E712
    ).all()
    latest: dict[int, tuple] = {}
    for result_id, membership_id, status, opens_on, computed_at, version_id in rows:
        if status in LEFT:
            continue
        key = (opens_on, computed_at, result_id)
        if membership_id not in latest or key > latest[membership_id][0]:
            latest[membership_id] = (key, version_id)
    versions = {
        v.id: v
        for v in session.exec(
            select(StandardsVersion).where(
                col(StandardsVersion.id).in_({version_id for _, version_id in latest.values()})
            )
        )
    }
    wanted = [key[2] for key, version_id in latest.values() if versions[version_id].set_id == ctx.version.set_id]
    if not wanted:
        return []
    results = session.exec(select(AssessmentResult).where(col(AssessmentResult.id).in_(wanted))).all()
    return [(result, versions[result.standards_version_id]) for result in sorted(results, key=lambda r: r.id)]


def metric_benchmarks(
    session: Session, ctx: AssessmentContext, result: dict, min_peers: int = DEFAULT_MIN_PEERS
) -> list[MetricBenchmark]:
    """Each metric that applies to the member: its value against the other members' distribution."""
    min_peers = max(min_peers, 1)
    metrics = [(s, c) for s, c in ctx.applicable_criteria() if c.type == "metric" and c.benchmark is not None]
    peer_values: dict[str, list[float]] = {c.id: [] for _, c in metrics}
    for peer, version in peer_results(session, ctx):
        lookup = parsed(version).criterion_lookup
        details = (peer.result or {}).get("criteria") or {}
        for _, criterion in metrics:
            theirs = lookup.get(criterion.id)
            if theirs is None or theirs[1].type != "metric" or theirs[1].unit != criterion.unit:
                continue
            detail = details.get(criterion.id) or {}
            value = _number(detail.get("answer")) if detail.get("status") == "scored" else None
            if value is not None:
                peer_values[criterion.id].append(value)
    own = result.get("criteria") or {}
    found = []
    for standard, criterion in metrics:
        detail = own.get(criterion.id) or {}
        value = _number(detail.get("answer")) if detail.get("status") == "scored" else None
        values = peer_values[criterion.id]
        found.append(
            MetricBenchmark(
                standard=standard,
                criterion=criterion,
                value=value,
                rag=detail.get("rag"),
                peers=len(values),
                distribution=distribution(values) if len(values) >= min_peers else None,
            )
        )
    return found

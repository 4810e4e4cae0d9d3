"""The alliance dashboard: members by status and route, members x standards, breaches by standard, trends
across cycles, and one member's timeline. Built from stored results, the same the review pages show."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from statistics import mean
from typing import Optional

from sqlmodel import Session, col, select

from ..lifecycle import STATUSES
from ..models import (
    ROUTES,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    Decision,
    Membership,
    MembershipStatusChange,
    Organisation,
)
from ..wording import in_sentence
from .assessments import context
from .common import NotFound
from .cycles import open_cycle_of


@dataclass(frozen=True)
class HeatRow:
    organisation: Organisation
    membership: Membership
    assessment: Assessment
    statuses: dict[str, str]  # standard id -> status (absent: does not apply)


@dataclass(frozen=True)
class Trend:
    cycle: AssessmentCycle
    submitted: int
    mean_overall: Optional[float]
    outcomes: dict[str, int]
    major_breaches: int
    minor_breaches: int


@dataclass(frozen=True)
class Dashboard:
    cycle: Optional[AssessmentCycle]
    cycles: list[AssessmentCycle]
    by_status_route: dict[str, dict[str, int]]  # status -> route -> count (only statuses that occur)
    route_totals: dict[str, int]
    standards: list[str]
    standard_titles: dict[str, str]
    heatmap: list[HeatRow]
    breaches_by_standard: list[tuple[str, int, int]]  # standard, major, minor
    trends: list[Trend]


def _cycles(session: Session, alliance_id: int) -> list[AssessmentCycle]:
    return sorted(
        session.exec(select(AssessmentCycle).where(AssessmentCycle.alliance_id == alliance_id)).all(),
        key=lambda c: c.opens_on,
    )


def _submitted(session: Session, alliance_id: int, cycle_id: int):
    return session.exec(
        select(Assessment, Membership, Organisation, AssessmentResult)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(
            AssessmentResult, (AssessmentResult.assessment_id == Assessment.id) & (AssessmentResult.is_current == True)
        )  # noqa: E712
        .where(Membership.alliance_id == alliance_id, Assessment.cycle_id == cycle_id, Assessment.status != "draft")
        .order_by(Organisation.name, Assessment.id)
    ).all()


def dashboard(session: Session, alliance_id: int, cycle_id: Optional[int] = None) -> Dashboard:
    """The dashboard for one cycle (by default the open one, else the latest with a submission) and trends over all
    cycles."""
    cycles = _cycles(session, alliance_id)
    if cycle_id is not None and cycle_id not in {c.id for c in cycles}:
        raise NotFound(f"cycle {cycle_id} does not exist")
    rows_by_cycle = {c.id: _submitted(session, alliance_id, c.id) for c in cycles}
    current = open_cycle_of(session, alliance_id) if cycle_id is None else None
    if current is not None:  # the open cycle, unless another is chosen
        cycle = next(c for c in cycles if c.id == current.id)
    elif cycle_id is None:
        with_submissions = [c for c in cycles if rows_by_cycle[c.id]]
        cycle = with_submissions[-1] if with_submissions else (cycles[-1] if cycles else None)
    else:
        cycle = next(c for c in cycles if c.id == cycle_id)

    memberships = session.exec(select(Membership).where(Membership.alliance_id == alliance_id)).all()
    counts = Counter((m.status, m.route) for m in memberships)
    by_status_route = {
        s: {r: counts.get((s, r), 0) for r in ROUTES} for s in STATUSES if any(counts.get((s, r)) for r in ROUTES)
    }
    route_totals = {r: sum(counts.get((s, r), 0) for s in STATUSES) for r in ROUTES}

    heatmap, standards, titles = [], [], {}
    major, minor = Counter(), Counter()
    if cycle is not None:
        for assessment, membership, organisation, result in rows_by_cycle[cycle.id]:
            statuses = {
                sid: (o or {}).get("status")
                for sid, o in result.result.get("standard_results", {}).items()
                if (o or {}).get("status") not in (None, "not_applicable")
            }
            for sid in statuses:
                if sid not in standards:
                    standards.append(sid)
            heatmap.append(HeatRow(organisation, membership, assessment, statuses))
            for breach in result.result.get("breaches", []):
                (major if breach.get("severity") == "major" else minor)[breach["standard"]] += 1
        if heatmap:
            standards_set = context(session, heatmap[0].assessment.id).standards
            titles = {s.id: s.title for s in standards_set.standards}
            order = {s.id: i for i, s in enumerate(standards_set.standards)}
            standards.sort(key=lambda sid: order.get(sid, len(order)))
    breaches = sorted(((s, major[s], minor[s]) for s in set(major) | set(minor)), key=lambda t: (-t[1], -t[2], t[0]))

    trends = []
    for c in cycles:
        rows = rows_by_cycle[c.id]
        overalls = [r.overall for _, _, _, r in rows if r.overall is not None]
        severities = Counter(b.get("severity") for _, _, _, r in rows for b in r.result.get("breaches", []))
        trends.append(
            Trend(
                c,
                len(rows),
                round(mean(overalls), 1) if overalls else None,
                dict(Counter(r.outcome for _, _, _, r in rows)),
                severities["major"],
                severities["minor"],
            )
        )
    return Dashboard(cycle, cycles, by_status_route, route_totals, standards, titles, heatmap, breaches, trends)


@dataclass(frozen=True)
class TimelineEvent:
    when: dt.datetime
    kind: str  # status, submitted, decision
    text: str
    assessment_id: Optional[int] = None


@dataclass(frozen=True)
class Timeline:
    membership: Membership
    organisation: Organisation
    events: list[TimelineEvent]


def member_timeline(session: Session, alliance_id: Optional[int], membership_id: int) -> Timeline:
    """A membership's history in this alliance, oldest first: status changes, submissions and decisions."""
    membership = session.get(Membership, membership_id)
    if membership is None or alliance_id is None or membership.alliance_id != alliance_id:
        raise NotFound(f"membership {membership_id} does not exist")
    organisation = session.get(Organisation, membership.organisation_id)
    events = []
    for change in session.exec(
        select(MembershipStatusChange).where(MembershipStatusChange.membership_id == membership_id)
    ).all():
        events.append(
            TimelineEvent(
                change.changed_at,
                "status",
                f"Status: {in_sentence(change.to_status)}" + (f" ({change.reason})" if change.reason else ""),
            )
        )
    for assessment, cycle in session.exec(
        select(Assessment, AssessmentCycle)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(Assessment.membership_id == membership_id)
    ).all():
        if assessment.submitted_at:
            result = session.exec(
                select(AssessmentResult).where(
                    AssessmentResult.assessment_id == assessment.id, AssessmentResult.is_current == True
                )
            ).first()  # noqa: E712
            score = (
                f", overall {result.overall:g}, engine outcome {in_sentence(result.outcome)}"
                if result and result.overall is not None
                else ""
            )
            events.append(
                TimelineEvent(
                    assessment.submitted_at,
                    "submitted",
                    f"{cycle.name} self-assessment submitted{score}",
                    assessment.id,
                )
            )
        for decision in session.exec(select(Decision).where(Decision.assessment_id == assessment.id)).all():
            events.append(
                TimelineEvent(
                    decision.decided_at,
                    "decision",
                    f"{cycle.name} decision: {in_sentence(decision.kind)}",
                    assessment.id,
                )
            )
    events.sort(key=lambda e: (e.when, {"submitted": 0, "decision": 1, "status": 2}[e.kind]))
    return Timeline(membership, organisation, events)


def memberships_of(session: Session, alliance_id: int) -> list[tuple[Membership, Organisation]]:
    return list(
        session.exec(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.alliance_id == alliance_id)
            .order_by(Organisation.name, col(Membership.id))
        ).all()
    )

"""The audit trail as a lead reads it: the events about its own alliance, filtered.

An event belongs to an alliance when its entity does: the alliance, its
cycles, memberships and their organisations, assessments and everything
recorded on them (results, evidence, decisions, comments).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Optional

from sqlalchemy import and_, false, or_
from sqlmodel import Session, col, select

from ..models import (
    Approval,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    AuditEvent,
    Decision,
    Evidence,
    ImprovementPlan,
    Membership,
    ResultOverride,
    ReviewComment,
)
from .common import text_problems

LIMIT = 200
#: Events about rows that are gone; their "before" snapshot names the assessment they were on.
GONE = ("evidence.removed", "override.removed")


@dataclass(frozen=True)
class AuditFilters:
    action: Optional[str] = None
    actor: Optional[str] = None
    entity_type: Optional[str] = None
    since: Optional[dt.date] = None
    until: Optional[dt.date] = None


def _date(value: str, name: str, errors: dict[str, str]) -> Optional[dt.date]:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[name] = f"{name}: '{value}' is not a date like 2026-04-01"
        return None


def parse_filters(args: Mapping[str, str]) -> tuple[AuditFilters, dict[str, str]]:
    errors: dict[str, str] = {}
    words = {name: (args.get(name) or "").strip() for name in ("action", "actor", "entity")}
    for problem in text_problems(words, single_line=True):  # not text: no query is made with it
        name = problem.partition(":")[0]
        errors[name], words[name] = problem, ""
    filters = AuditFilters(
        action=words["action"] or None,
        actor=words["actor"] or None,
        entity_type=words["entity"] or None,
        since=_date(args.get("since", ""), "since", errors),
        until=_date(args.get("until", ""), "until", errors),
    )
    if filters.since and filters.until and filters.since > filters.until:
        errors["until"] = "until: the end date is before the start date"
    return filters, errors


def _scope(session: Session, alliance_id: int):
    memberships = session.exec(
        select(Membership.id, Membership.organisation_id).where(Membership.alliance_id == alliance_id)
    ).all()
    membership_ids = [m for m, _ in memberships]
    assessment_ids = list(
        session.exec(select(Assessment.id).where(col(Assessment.membership_id).in_(membership_ids or [-1]))).all()
    )

    def on_assessments(model) -> list[int]:
        return list(session.exec(select(model.id).where(col(model.assessment_id).in_(assessment_ids or [-1]))).all())

    ids = {
        "alliance": [alliance_id],
        "assessmentcycle": list(
            session.exec(select(AssessmentCycle.id).where(AssessmentCycle.alliance_id == alliance_id)).all()
        ),
        "membership": membership_ids,
        "organisation": sorted({o for _, o in memberships}),
        "assessment": assessment_ids,
        "assessmentresult": on_assessments(AssessmentResult),
        "decision": on_assessments(Decision),
        "evidence": on_assessments(Evidence),
        "reviewcomment": on_assessments(ReviewComment),
        "resultoverride": on_assessments(ResultOverride),
        "improvementplan": on_assessments(ImprovementPlan),
        "approval": on_assessments(Approval),
    }
    clauses = [
        and_(AuditEvent.entity_type == kind, col(AuditEvent.entity_id).in_(values))
        for kind, values in ids.items()
        if values
    ]
    return (or_(*clauses) if clauses else false()), set(assessment_ids)


@dataclass(frozen=True)
class Trail:
    events: list[AuditEvent]
    truncated: bool
    actions: list[str]
    entity_types: list[str]


def audit_trail(session: Session, alliance_id: int, filters: AuditFilters = AuditFilters()) -> Trail:
    """The alliance's audit events matching the filters, latest first (at most ``LIMIT``)."""
    scope, assessments = _scope(session, alliance_id)
    removed = col(AuditEvent.action).in_(GONE)
    query = select(AuditEvent).where(or_(scope, removed))
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.actor:
        query = query.where(col(AuditEvent.actor).ilike(f"%{filters.actor}%"))
    if filters.entity_type:
        query = query.where(AuditEvent.entity_type == filters.entity_type)
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= dt.datetime.combine(filters.since, dt.time(), dt.timezone.utc))
    if filters.until:
        query = query.where(
            AuditEvent.occurred_at
            < dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        )
    events = []
    for event in session.exec(query.order_by(col(AuditEvent.occurred_at).desc(), col(AuditEvent.id).desc())):
        if event.action in GONE and (event.before or {}).get("assessment_id") not in assessments:
            continue
        events.append(event)
        if len(events) > LIMIT:
            break
    everything = session.exec(select(AuditEvent.action, AuditEvent.entity_type).where(scope).distinct()).all()
    return Trail(
        events[:LIMIT], len(events) > LIMIT, sorted({a for a, _ in everything}), sorted({e for _, e in everything})
    )

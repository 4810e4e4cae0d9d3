"""An alliance lead's review queue: the alliance's submitted self-assessments, waiting work first, filtered,
counted per state and read a page at a time in SQL (who reviews each one: ``review_assignments``).

Order (the default, "waiting first"): submitted, then under review, each oldest submission first; decided
last, newest decision first. Every other sort is a column, with the assessment's id last so pages never
overlap. A page reads its own rows (``PER_PAGE``) and the counts per state (one grouped count): however
many members the alliance has, nothing else of the list is loaded.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from typing import Mapping, Optional, Sequence

from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from ..models import (
    ASSESSMENT_STATES,
    ROUTES,
    Approval,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    Breach,
    Membership,
    Organisation,
    ResultOverride,
    ReviewAssignment,
    User,
    utcnow,
)
from .alliances import cycles_of
from .review_assignments import ME, NOBODY, reviewers_of

OUTCOMES = ("accredited", "accredited_with_conditions", "working_towards", "not_accredited")
QUEUE_STATES = tuple(s for s in ASSESSMENT_STATES if s != "draft")
WAITING = ("submitted", "under_review")
PER_PAGE = 50
SORTS = {
    "queue": "Waiting first",
    "submitted": "Date submitted",
    "member": "Member name",
    "score": "Overall score",
    "breaches": "Major breaches",
    "cycle": "Cycle",
}


@dataclass(frozen=True)
class QueueFilters:
    cycle_id: Optional[int] = None
    status: Optional[str] = None
    outcome: Optional[str] = None
    route: Optional[str] = None
    specialty: Optional[str] = None
    major_breach: Optional[bool] = None
    at_risk: Optional[bool] = None
    assignee: Optional[str] = None  # "me", "nobody" or a reviewer's user id
    sort: str = "queue"
    descending: bool = False
    page: int = 1


#: What each filter asks for, in the words of its error message.
FILTER_CHOICES = {
    "status": "a status",
    "outcome": "an engine outcome",
    "route": "a route",
    "major_breach": "yes or no for a major breach",
    "at_risk": "yes or no for a member at risk",
    "assignee": "a reviewer",
    "sort": "what to sort by",
}


def parse_filters(
    args: Mapping[str, str], cycles: Sequence[AssessmentCycle], reviewers: Sequence[User] = ()
) -> tuple[QueueFilters, dict[str, str]]:
    """Filters from a query string; each value not understood is named in ``errors`` and ignored."""
    errors: dict[str, str] = {}

    def choice(name: str, allowed) -> Optional[str]:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        if value not in allowed:
            errors[name] = f"Choose {FILTER_CHOICES.get(name, 'a value')} from the list: “{value[:40]}” is not one"
            return None
        return value

    def yes_no(name: str) -> Optional[bool]:
        value = choice(name, ("yes", "no"))
        return None if value is None else value == "yes"

    cycle_id = None
    raw_cycle = (args.get("cycle") or "").strip()
    if raw_cycle:
        known = {str(c.id): c.id for c in cycles}
        if raw_cycle not in known:
            errors["cycle"] = cycle_problem(raw_cycle)
        else:
            cycle_id = known[raw_cycle]
    page = 1
    raw_page = (args.get("page") or "").strip()
    if raw_page:
        if raw_page.isascii() and raw_page.isdigit() and 0 < len(raw_page) <= 6 and int(raw_page) >= 1:
            page = int(raw_page)
        else:
            errors["page"] = f"A page is a whole number from 1: “{raw_page[:40]}” is not one"
    specialty = (args.get("specialty") or "").strip() or None
    filters = QueueFilters(
        cycle_id=cycle_id,
        status=choice("status", QUEUE_STATES),
        outcome=choice("outcome", OUTCOMES),
        route=choice("route", ROUTES),
        specialty=specialty,
        major_breach=yes_no("major_breach"),
        at_risk=yes_no("at_risk"),
        assignee=choice("assignee", (ME, NOBODY, *(str(r.id) for r in reviewers))),
        sort=choice("sort", tuple(SORTS)) or "queue",
        descending=(args.get("order") or "") == "desc",
        page=page,
    )
    if (args.get("order") or "") not in ("", "asc", "desc"):
        errors["order"] = "Choose ascending or descending order"
    return filters, errors


def cycle_problem(asked: str) -> str:
    """A cycle asked for (in a query string) that is not one of the alliance's, in a person's words."""
    return f"Choose a cycle from the list: “{asked[:40]}” is not one of this alliance’s cycles"


@dataclass(frozen=True)
class QueueItem:
    assessment: Assessment
    membership: Membership
    organisation: Organisation
    cycle: AssessmentCycle
    outcome: Optional[str]
    overall: Optional[float]
    overridden: bool
    major_breaches: int
    minor_breaches: int
    reviewer_id: Optional[int]
    reviewer: Optional[str]  # the assigned lead's name
    days_waiting: Optional[int]  # since submission, while it waits (submitted or under review)
    awaiting_approval: bool = False  # a lead's proposal on it waits for a second lead (four eyes)

    @property
    def at_risk(self) -> bool:
        return self.membership.status == "at_risk"

    @property
    def waiting(self) -> bool:
        return self.assessment.status in WAITING


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]
    counts: dict[str, int]  # per assessment state, over every other filter
    total: int  # rows matching every filter, over all pages
    page: int  # the page shown (the last one when a page past it was asked for)
    pages: int
    per_page: int
    asked_page: int
    cycles: list[AssessmentCycle]
    specialties: list[str]
    reviewers: list[User]

    @property
    def first_row(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_row(self) -> int:
        return min(self.page * self.per_page, self.total)

    @property
    def past_the_end(self) -> bool:
        return self.asked_page != self.page


# -- the query ------------------------------------------------------------------------------------------------


def _with_major_breach():
    """The ids of assessments whose current result has a major breach (a semi-join the planner may hash)."""
    return (
        select(AssessmentResult.assessment_id)
        .join(Breach, Breach.result_id == AssessmentResult.id)
        .where(AssessmentResult.is_current == True, Breach.severity == "major")  # noqa: E712
    )


def _conditions(alliance_id: int, f: QueueFilters, viewer_id: Optional[int], with_status: bool) -> list:
    """The WHERE of the filters: on the assessment and membership, the rest as ``IN`` a subquery, so the
    counts and the page's ids need no other join."""
    assessment_id = col(Assessment.id)
    where = [Membership.alliance_id == alliance_id, col(Assessment.status).in_(QUEUE_STATES)]
    if with_status and f.status is not None:
        where.append(Assessment.status == f.status)
    if f.cycle_id is not None:
        where.append(Assessment.cycle_id == f.cycle_id)
    if f.outcome is not None:
        where.append(
            assessment_id.in_(
                select(AssessmentResult.assessment_id).where(
                    AssessmentResult.is_current == True,  # noqa: E712
                    AssessmentResult.outcome == f.outcome,
                )
            )
        )
    if f.route is not None:
        where.append(Membership.route == f.route)
    if f.specialty is not None:
        where.append(Membership.specialty == f.specialty)
    if f.at_risk is not None:
        where.append((Membership.status == "at_risk") if f.at_risk else (Membership.status != "at_risk"))
    if f.major_breach is not None:
        where.append(
            assessment_id.in_(_with_major_breach()) if f.major_breach else ~assessment_id.in_(_with_major_breach())
        )
    if f.assignee is not None:
        assigned = select(ReviewAssignment.assessment_id)
        if f.assignee == NOBODY:
            where.append(~assessment_id.in_(assigned))
        else:
            reviewer_id = (viewer_id if viewer_id is not None else -1) if f.assignee == ME else int(f.assignee)
            where.append(assessment_id.in_(assigned.where(ReviewAssignment.reviewer_id == reviewer_id)))
    return where


def _from(statement, f: QueueFilters, everything: bool = False):
    """The assessments joined to what the sort reads, and no more (``everything``: all a row shows)."""
    statement = statement.join(Membership, Membership.id == Assessment.membership_id)
    if everything or f.sort in ("member", "cycle"):
        statement = statement.join(Organisation, Organisation.id == Membership.organisation_id)
    if everything or f.sort == "cycle":
        statement = statement.join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
    if everything or f.sort in ("score", "breaches"):
        current = and_(AssessmentResult.assessment_id == Assessment.id, AssessmentResult.is_current == True)  # noqa: E712
        statement = statement.outerjoin(AssessmentResult, current)
    if everything:
        statement = statement.outerjoin(ReviewAssignment, ReviewAssignment.assessment_id == Assessment.id)
    return statement


def _breach_count(severity: str):
    return (
        select(func.count())
        .where(Breach.result_id == AssessmentResult.id, Breach.severity == severity)
        .correlate(AssessmentResult)
        .scalar_subquery()
    )


def _order(sort: str, descending: bool) -> list:
    """The ORDER BY of a sort: a list of (expression, ascending?), then the id."""
    if sort == "queue":
        rank = case((Assessment.status == "submitted", 0), (Assessment.status == "under_review", 1), else_=2)
        waiting_since = case(
            (col(Assessment.status).in_(WAITING), func.coalesce(Assessment.submitted_at, Assessment.created_at)),
            else_=None,
        )
        decided = case(
            (
                Assessment.status == "decided",
                func.coalesce(Assessment.decided_at, Assessment.submitted_at, Assessment.created_at),
            ),
            else_=None,
        )
        keys = [(rank, True), (waiting_since, True), (decided, False)]
    elif sort == "submitted":
        keys = [(case((col(Assessment.submitted_at).is_(None), 1), else_=0), True), (Assessment.submitted_at, True)]
    elif sort == "member":
        keys = [(func.lower(Organisation.name), True)]
    elif sort == "score":
        keys = [(case((col(AssessmentResult.overall).is_(None), 1), else_=0), True), (AssessmentResult.overall, True)]
    elif sort == "breaches":
        keys = [(_breach_count("major"), True), (_breach_count("minor"), True)]
    else:  # cycle
        keys = [(AssessmentCycle.opens_on, True), (func.lower(Organisation.name), True)]
    keys.append((Assessment.id, True))
    return [expr.asc() if ascending != descending else expr.desc() for expr, ascending in keys]


def counts_per_state(
    session: Session, alliance_id: int, filters: QueueFilters = QueueFilters(), viewer_id: Optional[int] = None
) -> dict[str, int]:
    """How many of the alliance's assessments are in each state, under every filter but the state's own."""
    rows = session.exec(
        _from(select(Assessment.status, func.count()).select_from(Assessment), replace(filters, sort="queue"))
        .where(*_conditions(alliance_id, filters, viewer_id, with_status=False))
        .group_by(Assessment.status)
    ).all()
    found = dict(rows)
    return {state: found.get(state, 0) for state in QUEUE_STATES}


def review_queue(
    session: Session,
    alliance_id: int,
    filters: QueueFilters = QueueFilters(),
    viewer_id: Optional[int] = None,
    per_page: int = PER_PAGE,
    today: Optional[dt.date] = None,
) -> Queue:
    """One page of the alliance's submitted assessments that match the filters, in the filter's order, with
    the counts per state; a page past the last shows the last (``past_the_end``)."""
    counts = counts_per_state(session, alliance_id, filters, viewer_id)
    total = counts[filters.status] if filters.status is not None else sum(counts.values())
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, filters.page), pages)
    # The page's ids first, over the fewest joins; then those rows in full.
    ids = session.exec(
        _from(select(Assessment.id).select_from(Assessment), filters)
        .where(*_conditions(alliance_id, filters, viewer_id, with_status=True))
        .order_by(*_order(filters.sort, filters.descending))
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    found = session.exec(
        _from(
            select(
                Assessment,
                Membership,
                Organisation,
                AssessmentCycle,
                AssessmentResult.id,
                AssessmentResult.outcome,
                AssessmentResult.overall,
                ReviewAssignment.reviewer_id,
                User.name,
            ).select_from(Assessment),
            filters,
            everything=True,
        )
        .outerjoin(User, User.id == ReviewAssignment.reviewer_id)
        .where(col(Assessment.id).in_(ids or [-1]))
    ).all()
    position = {assessment_id: n for n, assessment_id in enumerate(ids)}
    rows = sorted(found, key=lambda row: position[row[0].id])
    items = _items(session, rows, today or utcnow().date())
    specialties = session.exec(
        select(Membership.specialty)
        .where(Membership.alliance_id == alliance_id, col(Membership.specialty).is_not(None))
        .distinct()
    ).all()
    return Queue(
        items=items,
        counts=counts,
        total=total,
        page=page,
        pages=pages,
        per_page=per_page,
        asked_page=filters.page,
        cycles=cycles_of(session, alliance_id),
        specialties=sorted(s for s in specialties if s),
        reviewers=reviewers_of(session, alliance_id),
    )


def _items(session: Session, rows, today: dt.date) -> list[QueueItem]:
    """The page's rows with their breach counts, overrides and proposals awaiting approval (three reads, of this
    page's rows only)."""
    result_ids = [row[4] for row in rows if row[4] is not None] or [-1]
    severities = {
        (result_id, severity): count
        for result_id, severity, count in session.exec(
            select(Breach.result_id, Breach.severity, func.count())
            .where(col(Breach.result_id).in_(result_ids))
            .group_by(Breach.result_id, Breach.severity)
        ).all()
    }
    assessment_ids = [row[0].id for row in rows] or [-1]
    overridden = set(
        session.exec(select(ResultOverride.assessment_id).where(col(ResultOverride.assessment_id).in_(assessment_ids)))
    )
    awaiting = set(
        session.exec(
            select(Approval.assessment_id).where(
                col(Approval.assessment_id).in_(assessment_ids), Approval.status == "pending"
            )
        )
    )
    items = []
    for a, m, o, c, result_id, outcome, overall, reviewer_id, reviewer in rows:
        waiting = a.status in WAITING and a.submitted_at is not None
        items.append(
            QueueItem(
                assessment=a,
                membership=m,
                organisation=o,
                cycle=c,
                outcome=outcome,
                overall=overall,
                overridden=result_id is not None and a.id in overridden,
                major_breaches=severities.get((result_id, "major"), 0),
                minor_breaches=severities.get((result_id, "minor"), 0),
                reviewer_id=reviewer_id,
                reviewer=reviewer,
                days_waiting=max(0, (today - a.submitted_at.date()).days) if waiting else None,
                awaiting_approval=a.id in awaiting,
            )
        )
    return items

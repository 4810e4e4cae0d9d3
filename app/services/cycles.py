"""A lead's assessment cycles: open one with its dates, change the dates until it is closed, close it; which
cycle is open; and whether a self-assessment was submitted late.

A cycle is **upcoming** before it opens, **open** from its opening date until the lead closes it (past its
closing date it is still open, "closing date passed", until closed), and **closed** once closed: its dates are
fixed from then. The dates of cycles that are not closed may not overlap (a closed cycle's may). The alliance's
**open cycle** is the open one that opened last: the impact preview and the dashboard show it unless another is
chosen, and an admitted member's first self-assessment is opened in it.

A self-assessment is **late** when it was submitted after its cycle's closing date, or after the lead closed the
cycle (whichever came first): computed from ``submitted_at``, so nothing is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlmodel import Session, col, select

from ..models import Alliance, Assessment, AssessmentCycle, utcnow
from .alliances import CYCLE_NAME, cycles_of
from .common import Actor, NotFound, ServiceError, audit, snapshot

STATES = ("upcoming", "open", "closed")
FIELDS = ("name", "opens_on", "closes_on", "closed_at", "closed_by")


def state(cycle: AssessmentCycle, today: Optional[dt.date] = None) -> str:
    today = today or utcnow().date()
    if cycle.closed_at is not None:
        return "closed"
    return "upcoming" if cycle.opens_on > today else "open"


def open_cycle_of(session: Session, alliance_id: int, today: Optional[dt.date] = None) -> Optional[AssessmentCycle]:
    """The alliance's open cycle: not closed, opened on or before today, the one that opened last."""
    today = today or utcnow().date()
    found = [c for c in cycles_of(session, alliance_id) if state(c, today) == "open"]
    return max(found, key=lambda c: c.opens_on, default=None)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def is_late(submitted_at: Optional[dt.datetime], cycle: AssessmentCycle) -> bool:
    """Submitted after the cycle's closing date, or after the lead closed it."""
    if submitted_at is None:
        return False
    submitted = _aware(submitted_at)
    if submitted.date() > cycle.closes_on:
        return True
    return cycle.closed_at is not None and submitted > _aware(cycle.closed_at)


def late(session: Session, assessment: Assessment) -> bool:
    cycle = session.get(AssessmentCycle, assessment.cycle_id)
    return cycle is not None and is_late(assessment.submitted_at, cycle)


def late_ids(session: Session, assessment_ids: list[int]) -> set[int]:
    """Which of these self-assessments were submitted late."""
    if not assessment_ids:
        return set()
    rows = session.exec(
        select(Assessment.id, Assessment.submitted_at, AssessmentCycle)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(col(Assessment.id).in_(assessment_ids))
    ).all()
    return {a_id for a_id, submitted_at, cycle in rows if is_late(submitted_at, cycle)}


def _lead_cycle(session: Session, alliance_id: int, cycle_id: int, lock: bool = False) -> AssessmentCycle:
    query = select(AssessmentCycle).where(AssessmentCycle.id == cycle_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    cycle = session.exec(query).first()
    if cycle is None or cycle.alliance_id != alliance_id:
        raise NotFound(f"cycle {cycle_id} does not exist")
    return cycle


def cycle_of(session: Session, alliance_id: int, cycle_id: int) -> AssessmentCycle:
    """One of the alliance's cycles (another alliance's is NotFound)."""
    return _lead_cycle(session, alliance_id, cycle_id)


def _problems(
    session: Session, alliance: Alliance, name: str, opens_on: dt.date, closes_on: dt.date, cycle_id: Optional[int]
) -> list[str]:
    problems = []
    match = CYCLE_NAME.match(name)
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        problems.append("name: a financial year such as 2026/27")
    if closes_on <= opens_on:
        problems.append("closes_on: must be after the opening date")
    if problems:
        return problems
    for other in cycles_of(session, alliance.id):
        if other.id == cycle_id:
            continue
        if other.name == name:
            problems.append(f"name: {alliance.name} already has a cycle {name}")
        elif other.closed_at is None and other.opens_on <= closes_on and opens_on <= other.closes_on:
            problems.append(
                f"opens_on: the dates overlap cycle {other.name} ({other.opens_on.day} {other.opens_on:%B %Y} to "
                f"{other.closes_on.day} {other.closes_on:%B %Y}), which is not closed"
            )
    return problems


def open_new(
    session: Session, actor: Actor, alliance_id: int, *, name: str, opens_on: dt.date, closes_on: dt.date
) -> AssessmentCycle:
    """A lead opens a cycle such as 2026/27: its dates may not overlap another cycle of the alliance that is
    not closed."""
    alliance = session.get(Alliance, alliance_id)
    if alliance is None:
        raise NotFound(f"alliance {alliance_id} does not exist")
    name = name.strip()
    problems = _problems(session, alliance, name, opens_on, closes_on, None)
    if problems:
        raise ServiceError("; ".join(problems))
    cycle = AssessmentCycle(alliance_id=alliance.id, name=name, opens_on=opens_on, closes_on=closes_on)
    session.add(cycle)
    session.flush()
    audit(session, actor, "cycle.opened", cycle, after=snapshot(cycle))
    return cycle


def change_dates(
    session: Session, actor: Actor, alliance_id: int, cycle_id: int, *, opens_on: dt.date, closes_on: dt.date
) -> AssessmentCycle:
    """A lead moves a cycle's dates, until it is closed."""
    cycle = _lead_cycle(session, alliance_id, cycle_id, lock=True)
    if cycle.closed_at is not None:
        raise ServiceError(f"closes_on: cycle {cycle.name} is closed; its dates cannot change")
    alliance = session.get(Alliance, alliance_id)
    problems = _problems(session, alliance, cycle.name, opens_on, closes_on, cycle.id)
    if problems:
        raise ServiceError("; ".join(problems))
    before = snapshot(cycle, "opens_on", "closes_on")
    cycle.opens_on, cycle.closes_on = opens_on, closes_on
    session.add(cycle)
    after = snapshot(cycle, "opens_on", "closes_on")
    if after != before:
        audit(session, actor, "cycle.dates_changed", cycle, before=before, after=after)
    return cycle


def close(session: Session, actor: Actor, alliance_id: int, cycle_id: int) -> AssessmentCycle:
    """A lead closes a cycle: its dates are fixed, and drafts submitted from now on are late."""
    cycle = _lead_cycle(session, alliance_id, cycle_id, lock=True)
    if cycle.closed_at is not None:
        raise ServiceError(f"cycle {cycle.name} is already closed")
    if cycle.opens_on > utcnow().date():
        raise ServiceError(f"cycle {cycle.name} has not opened yet; change its dates instead")
    before = snapshot(cycle, "closed_at", "closed_by")
    cycle.closed_at, cycle.closed_by = utcnow(), actor.user_id
    session.add(cycle)
    drafts = session.exec(
        select(Assessment.id).where(Assessment.cycle_id == cycle.id, Assessment.status == "draft")
    ).all()
    audit(
        session,
        actor,
        "cycle.closed",
        cycle,
        before=before,
        after={**snapshot(cycle, "closed_at", "closed_by"), "drafts_left": len(drafts)},
    )
    return cycle


def lines_of(session: Session, alliance_id: int, today: Optional[dt.date] = None) -> list[tuple[AssessmentCycle, str]]:
    """The alliance's cycles, latest first, each with its state."""
    today = today or utcnow().date()
    return [(c, state(c, today)) for c in cycles_of(session, alliance_id)]

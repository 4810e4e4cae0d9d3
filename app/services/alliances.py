"""Alliances, their assessment cycles and their retention policy."""

from __future__ import annotations

import datetime as dt
import re
from typing import Optional

from sqlmodel import Session, col, select

from ..models import Alliance, AssessmentCycle
from .common import Actor, ServiceError, audit, get_or_404, snapshot, text_problems

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")
CYCLE_NAME = re.compile(r"(\d{4})/(\d{2})\Z")
RETENTION_FIELDS = ("at_risk_on_major_breach", "suspension_after_cycles", "max_buddy_mentees")


def create_alliance(
    session: Session,
    actor: Actor,
    *,
    slug: str,
    name: str,
    standards_set: str,
    at_risk_on_major_breach: bool = True,
    suspension_after_cycles: int = 2,
    max_buddy_mentees: int = 3,
) -> Alliance:
    slug, name, standards_set = slug.strip(), name.strip(), standards_set.strip()
    problems = []
    if not SLUG.match(slug):
        problems.append("slug: lower-case letters, digits and '-', e.g. noa")
    elif session.exec(select(Alliance).where(Alliance.slug == slug)).first():
        problems.append(f"slug: an alliance {slug} already exists")
    if not name:
        problems.append("name: required")
    problems += text_problems({"name": name}, single_line=True)
    if not SLUG.match(standards_set):
        problems.append("standards_set: the id of a standards set, e.g. noa-orthopaedics")
    problems += _retention_problems(suspension_after_cycles, max_buddy_mentees)
    if problems:
        raise ServiceError("; ".join(problems))
    alliance = Alliance(
        slug=slug,
        name=name,
        standards_set=standards_set,
        at_risk_on_major_breach=at_risk_on_major_breach,
        suspension_after_cycles=suspension_after_cycles,
        max_buddy_mentees=max_buddy_mentees,
    )
    session.add(alliance)
    session.flush()
    audit(session, actor, "alliance.created", alliance, after=snapshot(alliance))
    return alliance


def _retention_problems(suspension_after_cycles: object, max_buddy_mentees: object) -> list[str]:
    problems = []
    if (
        not isinstance(suspension_after_cycles, int)
        or isinstance(suspension_after_cycles, bool)
        or not 1 <= suspension_after_cycles <= 10
    ):
        problems.append("suspension_after_cycles: a whole number of cycles from 1 to 10")
    if (
        not isinstance(max_buddy_mentees, int)
        or isinstance(max_buddy_mentees, bool)
        or not 0 <= max_buddy_mentees <= 20
    ):
        problems.append("max_buddy_mentees: a whole number from 0 to 20")
    return problems


def set_retention_policy(
    session: Session,
    actor: Actor,
    alliance_id: int,
    *,
    at_risk_on_major_breach: Optional[bool] = None,
    suspension_after_cycles: Optional[int] = None,
    max_buddy_mentees: Optional[int] = None,
) -> Alliance:
    """Change an alliance's retention thresholds; they apply from the next decision on."""
    alliance = get_or_404(session, Alliance, alliance_id, "alliance")
    before = snapshot(alliance, *RETENTION_FIELDS)
    problems = _retention_problems(
        alliance.suspension_after_cycles if suspension_after_cycles is None else suspension_after_cycles,
        alliance.max_buddy_mentees if max_buddy_mentees is None else max_buddy_mentees,
    )
    if at_risk_on_major_breach is not None and not isinstance(at_risk_on_major_breach, bool):
        problems.append("at_risk_on_major_breach: true or false")
    if problems:
        raise ServiceError("; ".join(problems))
    if at_risk_on_major_breach is not None:
        alliance.at_risk_on_major_breach = at_risk_on_major_breach
    if suspension_after_cycles is not None:
        alliance.suspension_after_cycles = suspension_after_cycles
    if max_buddy_mentees is not None:
        alliance.max_buddy_mentees = max_buddy_mentees
    after = snapshot(alliance, *RETENTION_FIELDS)
    if after != before:
        session.add(alliance)
        audit(session, actor, "alliance.retention_policy_changed", alliance, before=before, after=after)
    return alliance


def open_cycle(
    session: Session, actor: Actor, *, alliance_id: int, name: str, opens_on: dt.date, closes_on: dt.date
) -> AssessmentCycle:
    """An assessment cycle such as 2026/27; cycles of one alliance may not overlap."""
    alliance = get_or_404(session, Alliance, alliance_id, "alliance")
    name = name.strip()
    problems = []
    match = CYCLE_NAME.match(name)
    if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        problems.append("name: a financial year such as 2026/27")
    if closes_on <= opens_on:
        problems.append("closes_on: must be after opens_on")
    if not problems:
        for other in session.exec(select(AssessmentCycle).where(AssessmentCycle.alliance_id == alliance.id)).all():
            if other.name == name:
                problems.append(f"name: {alliance.name} already has a cycle {name}")
            elif other.opens_on <= closes_on and opens_on <= other.closes_on:
                problems.append(f"dates: overlap cycle {other.name} ({other.opens_on} to {other.closes_on})")
    if problems:
        raise ServiceError("; ".join(problems))
    cycle = AssessmentCycle(alliance_id=alliance.id, name=name, opens_on=opens_on, closes_on=closes_on)
    session.add(cycle)
    session.flush()
    audit(session, actor, "cycle.opened", cycle, after=snapshot(cycle))
    return cycle


def cycles_of(session: Session, alliance_id: int) -> list[AssessmentCycle]:
    """An alliance's cycles, latest first."""
    return list(
        session.exec(
            select(AssessmentCycle)
            .where(AssessmentCycle.alliance_id == alliance_id)
            .order_by(col(AssessmentCycle.opens_on).desc())
        ).all()
    )

"""What the buddying pages show: the lead's board (needs without a buddy, proposals with the other
candidates for each, pairs under way, capacity per buddy organisation) and an organisation's own pairs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional

from sqlmodel import Session, col, select

from ...models import Alliance, AssessmentCycle, BuddyAssignment, Membership, Organisation
from ..common import get_or_404
from .pairs import HELD
from .planning import OPEN_PAIRS, World, candidates, world_of


@dataclass
class PairLine:
    pair: BuddyAssignment
    mentee: str
    buddy: Optional[str]
    cycle: str
    options: list[tuple[int, str]] = field(default_factory=list)  # reassign: (buddy membership, name and why)


@dataclass
class Capacity:
    organisation: str
    used: int
    limit: int
    proposed: int


@dataclass
class Board:
    alliance: Alliance
    no_buddy: list[PairLine]
    proposals: list[PairLine]
    held: list[PairLine]
    ended: list[PairLine]
    capacity: list[Capacity]


def _names(session: Session, membership_ids: set[int]) -> dict[int, str]:
    if not membership_ids:
        return {}
    return {
        m.id: o.name + (f" ({m.specialty})" if m.specialty else "")
        for m, o in session.exec(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(col(Membership.id).in_(membership_ids))
        ).all()
    }


def pair_lines(session: Session, pairs: list[BuddyAssignment]) -> list[PairLine]:
    names = _names(
        session,
        {p.mentee_membership_id for p in pairs} | {p.buddy_membership_id for p in pairs if p.buddy_membership_id},
    )
    cycles = {
        c.id: c.name
        for c in session.exec(
            select(AssessmentCycle).where(col(AssessmentCycle.id).in_({p.cycle_id for p in pairs} or {0}))
        ).all()
    }
    return [
        PairLine(p, names[p.mentee_membership_id], names.get(p.buddy_membership_id), cycles[p.cycle_id]) for p in pairs
    ]


def board(session: Session, alliance_id: int) -> Board:
    """The lead's buddying board: needs without a buddy, proposals, pairs under way, capacity."""
    alliance = get_or_404(session, Alliance, alliance_id, "alliance")
    pairs = session.exec(
        select(BuddyAssignment).where(BuddyAssignment.alliance_id == alliance.id).order_by(col(BuddyAssignment.id))
    ).all()
    lines = pair_lines(session, list(pairs))
    worlds: dict[int, World] = {}
    for line in lines:
        if line.pair.status == "proposed":
            cycle_id = line.pair.cycle_id
            if cycle_id not in worlds:
                worlds[cycle_id] = world_of(session, alliance, session.get(AssessmentCycle, cycle_id))
            line.options = [
                (c.buddy_membership_id, f"{worlds[cycle_id].names[c.buddy_membership_id]}: " + "; ".join(c.reasons))
                for c in candidates(session, line.pair, worlds[cycle_id])
            ]
    by_org: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    organisation_of = {
        m.id: (m.organisation_id, o.name)
        for m, o in session.exec(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.alliance_id == alliance.id)
        ).all()
    }
    org_names = {}
    for pair in pairs:
        if pair.buddy_membership_id is None or pair.status not in OPEN_PAIRS:
            continue
        organisation_id, name = organisation_of[pair.buddy_membership_id]
        org_names[organisation_id] = name
        by_org[organisation_id][0 if pair.status in HELD else 1].add(pair.mentee_membership_id)
    capacity = sorted(
        (Capacity(org_names[o], len(h), alliance.max_buddy_mentees, len(p - h)) for o, (h, p) in by_org.items()),
        key=lambda c: c.organisation,
    )
    return Board(
        alliance,
        [x for x in lines if x.pair.status == "proposed" and x.pair.buddy_membership_id is None],
        [x for x in lines if x.pair.status == "proposed" and x.pair.buddy_membership_id is not None],
        [x for x in lines if x.pair.status in HELD],
        [x for x in lines if x.pair.status not in OPEN_PAIRS][-20:],
        capacity,
    )


def organisation_pairs(session: Session, organisation_id: int) -> tuple[list[PairLine], list[PairLine]]:
    """An organisation's pairs with a buddy: (its buddies, the members it buddies), open ones first."""
    mine = set(session.exec(select(Membership.id).where(Membership.organisation_id == organisation_id)).all())
    if not mine:
        return [], []
    pairs = session.exec(
        select(BuddyAssignment)
        .where(
            col(BuddyAssignment.buddy_membership_id).is_not(None),
            (col(BuddyAssignment.mentee_membership_id).in_(mine))
            | (col(BuddyAssignment.buddy_membership_id).in_(mine)),
        )
        .order_by(col(BuddyAssignment.id))
    ).all()
    lines = sorted(pair_lines(session, list(pairs)), key=lambda x: (x.pair.status not in OPEN_PAIRS, x.pair.id))
    return (
        [x for x in lines if x.pair.mentee_membership_id in mine],
        [x for x in lines if x.pair.buddy_membership_id in mine],
    )

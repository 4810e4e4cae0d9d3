"""Buddying proposals for an alliance's cycle: the database side of ``rules.buddying``.

Needs come from each member's latest decided result as of the cycle (the
rules engine decides them); candidates are the other members of the alliance
with their latest decided results. A member at risk or suspended still gets
support but does not give it. Pairs already proposed, accepted or active
count against a buddy organisation's capacity and are not proposed again, so
running the match twice adds nothing the second time. A need nobody can take
is stored as a pair without a buddy: the "no buddy available" flag the alliance
lead sees.

Planning only reads, except ``apply_plan``, which stores a plan's proposals
and flags; what happens to a stored pair afterwards is in ``pairs``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional

from sqlmodel import Session, col, select

import rules.buddying as matching
from rules.buddying import Matching, MemberProfile, Need

from ...lifecycle import MEMBER_STATUSES
from ...models import (
    Alliance,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    BuddyAssignment,
    Membership,
    Organisation,
    utcnow,
)
from .. import messages
from ..common import Actor, NotFound, ServiceError, among, audit, audit_many, insert_returning_ids, snapshot

OPEN_PAIRS = ("proposed", "accepted", "active")
#: Membership statuses that may give support (a member at risk or suspended may only receive it).
GIVING_STATUSES = frozenset({"accredited", "accredited_with_conditions", "working_towards"})


@dataclass
class BuddyPlan:
    """What a match run found: proposals, needs nobody can take, and needs already covered."""

    alliance: Alliance
    cycle: AssessmentCycle
    matching: Matching
    covered: list[Need] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # membership id -> organisation name (and specialty)

    @property
    def needs(self) -> int:
        return len(self.matching.proposals) + len(self.matching.no_buddy) + len(self.covered)


def find_alliance(session: Session, reference: str) -> Alliance:
    """An alliance by id or slug (the operator's choice on the command line)."""
    found = (
        session.get(Alliance, int(reference))
        if reference.isdigit()
        else session.exec(select(Alliance).where(Alliance.slug == reference)).first()
    )
    if found is None:
        raise NotFound(f"alliance {reference!r} does not exist (give its id or slug)")
    return found


def find_cycle(session: Session, alliance: Alliance, name: str) -> AssessmentCycle:
    found = session.exec(
        select(AssessmentCycle).where(AssessmentCycle.alliance_id == alliance.id, AssessmentCycle.name == name.strip())
    ).first()
    if found is None:
        raise NotFound(f"{alliance.name} has no cycle {name!r}")
    return found


def _latest_results(session: Session, membership_ids: list[int], cycle: AssessmentCycle) -> dict[int, dict]:
    """Each membership's latest decided result in this cycle or an earlier one (two queries for them all):
    its standard results and breaches, which is what needs and matching read."""
    return _latest_as_of(session, {cycle.opens_on: set(membership_ids)}).get(cycle.opens_on, {})


def _latest_as_of(session: Session, wanted: dict[dt.date, set[int]]) -> dict[dt.date, dict[int, dict]]:
    """For each cycle opening date, each of its memberships' latest decided result in a cycle opening then
    or before (two queries for them all)."""
    ids = set().union(*wanted.values()) if wanted else set()
    if not ids:
        return {}
    decided: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for membership_id, opens_on, assessment_id in session.execute(
        select(Assessment.membership_id, AssessmentCycle.opens_on, Assessment.id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(
            among(session, col(Assessment.membership_id), ids),
            Assessment.status == "decided",
            AssessmentCycle.opens_on <= max(wanted),
        )
    ).all():
        decided[membership_id].append((opens_on, assessment_id))
    chosen = {
        as_of: {
            m: max(found for found in decided[m] if found[0] <= as_of)[1]
            for m in members
            if any(found[0] <= as_of for found in decided[m])
        }
        for as_of, members in wanted.items()
    }
    stored = AssessmentResult.__table__.c  # the headline: what matching reads, not the whole result
    assessment_ids = {a for picked in chosen.values() for a in picked.values()}
    headlines = dict(
        session.execute(
            select(stored.assessment_id, stored.headline).where(
                among(session, stored.assessment_id, assessment_ids), stored.is_current.is_(True)
            )
        ).all()
    )
    return {as_of: {m: headlines[a] for m, a in picked.items() if a in headlines} for as_of, picked in chosen.items()}


@dataclass
class World:
    """An alliance's members as matching sees them as of one cycle."""

    profiles: list[MemberProfile]
    results: dict[int, dict]
    names: dict[int, str]


def _alliance_pairs(session: Session, alliance_id: int) -> list:
    return pairs_by_alliance(session, [alliance_id])[alliance_id]


def pairs_by_alliance(session: Session, alliance_ids: list[int]) -> dict[int, list]:
    """The alliances' pairs as plain rows, in id order: what planning reads of them (no ORM objects, so a
    large alliance plans quickly)."""
    pairs = BuddyAssignment.__table__.c
    found: dict[int, list] = {alliance_id: [] for alliance_id in alliance_ids}
    for row in session.execute(
        select(
            pairs.alliance_id,
            pairs.id,
            pairs.cycle_id,
            pairs.mentee_membership_id,
            pairs.buddy_membership_id,
            pairs.standard_id,
            pairs.status,
        )
        .where(among(session, pairs.alliance_id, alliance_ids))
        .order_by(pairs.id)
    ).all():
        found[row.alliance_id].append(row)
    return found


def _members(session: Session, alliance: Alliance) -> list:
    return _members_by_alliance(session, [alliance.id])[alliance.id]


def _members_by_alliance(session: Session, alliance_ids: list[int]) -> dict[int, list]:
    """The alliances' current members with what matching reads of each, in membership order."""
    found: dict[int, list] = {alliance_id: [] for alliance_id in alliance_ids}
    for row in session.execute(
        select(
            Membership.alliance_id,
            Membership.id,
            Membership.status,
            Membership.route,
            Membership.specialty,
            Membership.organisation_id,
            Organisation.name,
            Organisation.region,
            Organisation.latitude,
            Organisation.longitude,
        )
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(among(session, col(Membership.alliance_id), alliance_ids), col(Membership.status).in_(MEMBER_STATUSES))
        .order_by(col(Membership.id))
    ).all():
        found[row.alliance_id].append(row)
    return found


def _held(pairs: list, ignoring: frozenset[int] = frozenset()) -> list:
    """The open pairs that have a buddy, less those planned as withdrawn (``ignoring``)."""
    return [
        pair
        for pair in pairs
        if pair.status in OPEN_PAIRS and pair.buddy_membership_id is not None and pair.id not in ignoring
    ]


def _assemble(alliance: Alliance, members: list, latest: dict[int, dict], held: list) -> World:
    """The world from its parts (``held``: the pairs that use a buddy's capacity, ``_held``)."""
    mentees_of: dict[int, set[int]] = defaultdict(set)
    for pair in held:
        mentees_of[pair.buddy_membership_id].add(pair.mentee_membership_id)
    results: dict[int, dict] = {}
    profiles: list[MemberProfile] = []
    names: dict[int, str] = {}
    for member in members:
        names[member.id] = member.name + (f" ({member.specialty})" if member.specialty else "")
        result = latest.get(member.id)
        profile = MemberProfile.from_result(
            member.id,
            member.organisation_id,
            result,
            route=member.route,
            specialty=member.specialty,
            region=member.region,
            latitude=member.latitude,
            longitude=member.longitude,
            mentees=mentees_of[member.id],
            alliance_id=alliance.id,
        )
        if member.status not in GIVING_STATUSES:
            profile = dataclasses.replace(profile, statuses={})
        profiles.append(profile)
        if result is not None:
            results[member.id] = result
    return World(profiles, results, names)


def world_of(session: Session, alliance: Alliance, cycle: AssessmentCycle, held: Optional[list] = None) -> World:
    members = _members(session, alliance)
    return _assemble(
        alliance,
        members,
        _latest_results(session, [m.id for m in members], cycle),
        _held(_alliance_pairs(session, alliance.id)) if held is None else held,
    )


def _plan(alliance: Alliance, cycle: AssessmentCycle, world: World, held: list, needs: list[Need]) -> BuddyPlan:
    """Match the needs not already covered by an open pair with a buddy (``held``, as ``_held`` gives)."""
    covered_keys = {(p.mentee_membership_id, p.standard_id) for p in held}
    covered = [need for need in needs if (need.membership_id, need.standard) in covered_keys]
    open_needs = [need for need in needs if (need.membership_id, need.standard) not in covered_keys]
    found = matching.match(open_needs, world.profiles, capacity=alliance.max_buddy_mentees)
    return BuddyPlan(alliance, cycle, found, covered, world.names)


def _alliance_cycle(session: Session, alliance_id: int, cycle_id: int) -> tuple[Alliance, AssessmentCycle]:
    alliance, cycle = session.get(Alliance, alliance_id), session.get(AssessmentCycle, cycle_id)
    _check_alliance_cycle(alliance, cycle, alliance_id, cycle_id)
    return alliance, cycle


def _check_alliance_cycle(
    alliance: Optional[Alliance], cycle: Optional[AssessmentCycle], alliance_id: int, cycle_id: int
) -> None:
    if alliance is None:
        raise NotFound(f"alliance {alliance_id} does not exist")
    if cycle is None:
        raise NotFound(f"cycle {cycle_id} does not exist")
    if cycle.alliance_id != alliance.id:
        raise ServiceError(f"cycle {cycle.name} belongs to another alliance")


def plan_buddying(session: Session, alliance_id: int, cycle_id: int) -> BuddyPlan:
    """Needs and proposed buddies for an alliance's cycle, without storing anything."""
    alliance, cycle = _alliance_cycle(session, alliance_id, cycle_id)
    held = _held(_alliance_pairs(session, alliance.id))
    world = world_of(session, alliance, cycle, held)
    return _plan(alliance, cycle, world, held, matching.derive_needs(world.results))


def apply_plan(session: Session, actor: Actor, plan: BuddyPlan) -> list[int]:
    """Store a plan's proposals (status proposed) and its needs without a buddy, each audited; returns the
    ids of the pairs stored or updated. New pairs go in one statement, so a large alliance stays quick."""
    flagged = dict(
        ((mentee, standard), pair_id)
        for pair_id, mentee, standard in session.execute(
            select(BuddyAssignment.id, BuddyAssignment.mentee_membership_id, BuddyAssignment.standard_id).where(
                BuddyAssignment.alliance_id == plan.alliance.id,
                BuddyAssignment.status == "proposed",
                col(BuddyAssignment.buddy_membership_id).is_(None),
            )
        )
    )
    now = utcnow()
    stored: list[int] = []
    fresh: list[dict] = []  # new pairs, in plan order
    why: list[tuple[str, dict]] = []  # their audit action and extra detail
    for proposal in plan.matching.proposals:
        need = proposal.need
        if (need.membership_id, need.standard) in flagged:  # a need flagged earlier has found a buddy
            pair = session.get(BuddyAssignment, flagged[need.membership_id, need.standard])
            before = snapshot(pair, "buddy_membership_id", "status")
            pair.buddy_membership_id = proposal.buddy_membership_id
            pair.updated_at = now
            session.add(pair)
            session.flush()
            audit(
                session,
                actor,
                "buddy.proposed",
                pair,
                before=before,
                after={
                    **snapshot(pair, "mentee_membership_id", "buddy_membership_id", "standard_id", "status"),
                    "reason": need.reason,
                    "why": proposal.reasons,
                },
            )
            stored.append(pair.id)
            continue
        fresh.append(
            {
                "mentee_membership_id": need.membership_id,
                "buddy_membership_id": proposal.buddy_membership_id,
                "standard_id": need.standard,
            }
        )
        why.append(("buddy.proposed", {"reason": need.reason, "why": proposal.reasons}))
    for need in plan.matching.no_buddy:
        if (need.membership_id, need.standard) in flagged:
            continue
        fresh.append(
            {"mentee_membership_id": need.membership_id, "buddy_membership_id": None, "standard_id": need.standard}
        )
        why.append(("buddy.none_available", {"reason": need.reason}))
    if fresh:
        rows = [
            {
                **row,
                "alliance_id": plan.alliance.id,
                "cycle_id": plan.cycle.id,
                "status": "proposed",
                "end_reason": "",
                "created_at": now,
                "updated_at": now,
            }
            for row in fresh
        ]
        ids = insert_returning_ids(
            session,
            BuddyAssignment.__table__,
            rows,  # no ORM bookkeeping for them
            distinct_by=("mentee_membership_id", "standard_id"),
        )
        for action in ("buddy.proposed", "buddy.none_available"):
            audit_many(
                session,
                actor,
                action,
                "buddyassignment",
                [
                    (
                        pair_id,
                        None,
                        {
                            "mentee_membership_id": row["mentee_membership_id"],
                            **(
                                {"buddy_membership_id": row["buddy_membership_id"]}
                                if row["buddy_membership_id"]
                                else {}
                            ),
                            "standard_id": row["standard_id"],
                            "status": "proposed",
                            **extra,
                        },
                    )
                    for pair_id, row, (kind, extra) in zip(ids, fresh, why)
                    if kind == action
                ],
            )
        stored.extend(ids)
    messages.buddy_proposed(session, stored)  # the buddy organisations are asked to accept
    return stored


# -- who else could buddy a stored need --------------------------------------------------------------


def candidates(session: Session, pair: BuddyAssignment, world: Optional[World] = None) -> list[matching.Proposal]:
    """Who else could buddy this need, best first by the matching rules (and within capacity)."""
    alliance = session.get(Alliance, pair.alliance_id)
    if world is None:
        world = world_of(session, alliance, session.get(AssessmentCycle, pair.cycle_id))
    if pair.mentee_membership_id not in {p.membership_id for p in world.profiles}:
        return []
    current = session.get(Membership, pair.buddy_membership_id) if pair.buddy_membership_id else None
    need = Need(pair.mentee_membership_id, pair.standard_id, "not_met")

    def without(profiles: list[MemberProfile], organisation_id: int) -> list[MemberProfile]:
        return [dataclasses.replace(p, statuses={}) if p.organisation_id == organisation_id else p for p in profiles]

    profiles = without(world.profiles, current.organisation_id) if current else list(world.profiles)
    ranked: list[matching.Proposal] = []
    while True:
        found = matching.match([need], profiles, capacity=alliance.max_buddy_mentees).proposals
        if not found:
            return ranked
        ranked.append(found[0])
        profiles = without(profiles, found[0].buddy_organisation_id)


# -- after a rescore: what refreshing the needs will do (stored by ``pairs.refresh_many``) -----------


@dataclass
class NeedsRefresh:
    """What bringing an alliance cycle's pairs in line with its members' current results will do, worked
    out from a read (it can be, outside the transaction that stores it): the proposals whose need has gone,
    and the plan for the needs that are new."""

    alliance_id: int
    cycle_id: int
    gone: list[int]
    plan: BuddyPlan
    seen: list[tuple]  # the alliance's pairs as they were when this was worked out


def plan_refresh(session: Session, alliance_id: int, cycle_id: int) -> NeedsRefresh:
    """Work out a refresh of an alliance cycle's needs (stores nothing): the members' latest results are
    read once, and their needs derived once, for both the proposals that have gone and the new plan."""
    return plan_refreshes(session, [(alliance_id, cycle_id)])[0]


def plan_refreshes(session: Session, due: list[tuple[int, int]]) -> list[NeedsRefresh]:
    """``plan_refresh`` for several (alliance, cycle) pairs, with what they read fetched for all at once."""
    if not due:
        return []
    alliance_ids = sorted({alliance_id for alliance_id, _ in due})
    alliances = {a.id: a for a in session.exec(select(Alliance).where(col(Alliance.id).in_(alliance_ids)))}
    cycles = {
        c.id: c
        for c in session.exec(
            select(AssessmentCycle).where(col(AssessmentCycle.id).in_({cycle_id for _, cycle_id in due}))
        )
    }
    for alliance_id, cycle_id in due:
        _check_alliance_cycle(alliances.get(alliance_id), cycles.get(cycle_id), alliance_id, cycle_id)
    pairs = pairs_by_alliance(session, alliance_ids)
    members = _members_by_alliance(session, alliance_ids)
    proposed = {(a, c): [pair for pair in pairs[a] if pair.cycle_id == c and pair.status == "proposed"] for a, c in due}
    wanted: dict[dt.date, set[int]] = defaultdict(set)
    for a, c in due:
        wanted[cycles[c].opens_on] |= {m.id for m in members[a]} | {p.mentee_membership_id for p in proposed[a, c]}
    latest = _latest_as_of(session, wanted)
    return [
        _refresh_of(alliances[a], cycles[c], pairs[a], members[a], latest.get(cycles[c].opens_on, {}), proposed[a, c])
        for a, c in due
    ]


def _refresh_of(
    alliance: Alliance, cycle: AssessmentCycle, pairs: list, members: list, found: dict[int, dict], proposed: list
) -> NeedsRefresh:
    """One alliance cycle's refresh from what was read: needs derived once, for both the proposals that have
    gone and the new plan."""
    latest = {m.id: found[m.id] for m in members if m.id in found}  # membership order, as matching takes needs
    former = sorted({pair.mentee_membership_id for pair in proposed} - {m.id for m in members})
    needs = matching.derive_needs({**latest, **{m: found[m] for m in former if m in found}} if former else latest)
    needed = {(n.membership_id, n.standard) for n in needs}
    gone = frozenset(pair.id for pair in proposed if (pair.mentee_membership_id, pair.standard_id) not in needed)
    # Planned as if the withdrawals were done: they free their buddies' capacity.
    held = _held(pairs, gone)
    world = _assemble(alliance, members, latest, held)
    plan = _plan(alliance, cycle, world, held, [n for n in needs if n.membership_id in world.results])
    return NeedsRefresh(alliance.id, cycle.id, sorted(gone), plan, pairs)

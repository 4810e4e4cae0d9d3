"""Buddying proposals for an alliance's cycle: the database side of ``rules.buddying``.

Needs come from each member's latest decided result as of the cycle (the
rules engine decides them); candidates are the other members of the alliance
with their latest decided results. A member at risk or suspended still gets
support but does not give it. Pairs already proposed, accepted or active
count against a buddy organisation's capacity and are not proposed again, so
running the match twice adds nothing the second time. A need nobody can take
is stored as a pair without a buddy: the "no buddy available" flag the alliance
lead sees.

A stored pair then lives through the lifecycle below (acceptance by the lead and
the buddy organisation, start, completion by a later decided result, withdrawal,
reassignment), every step audited; capacity is re-checked at acceptance.
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

from ..lifecycle import MEMBER_STATUSES
from ..models import Alliance, AssessmentCycle, BuddyAssignment, Membership, Organisation, utcnow
from .common import (Actor, NotFound, ServiceError, among, audit, audit_many, get_or_404, insert_returning_ids,
                     require_text, snapshot)
from .scoring import current_result

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
    found = session.get(Alliance, int(reference)) if reference.isdigit() else session.exec(
        select(Alliance).where(Alliance.slug == reference)).first()
    if found is None:
        raise NotFound(f"alliance {reference!r} does not exist (give its id or slug)")
    return found


def find_cycle(session: Session, alliance: Alliance, name: str) -> AssessmentCycle:
    found = session.exec(select(AssessmentCycle).where(AssessmentCycle.alliance_id == alliance.id,
                                                       AssessmentCycle.name == name.strip())).first()
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
    from ..models import Assessment, AssessmentResult

    ids = set().union(*wanted.values()) if wanted else set()
    if not ids:
        return {}
    decided: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for membership_id, opens_on, assessment_id in session.execute(
            select(Assessment.membership_id, AssessmentCycle.opens_on, Assessment.id)
            .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
            .where(among(session, col(Assessment.membership_id), ids), Assessment.status == "decided",
                   AssessmentCycle.opens_on <= max(wanted))).all():
        decided[membership_id].append((opens_on, assessment_id))
    chosen = {as_of: {m: max(found for found in decided[m] if found[0] <= as_of)[1]
                      for m in members if any(found[0] <= as_of for found in decided[m])}
              for as_of, members in wanted.items()}
    stored = AssessmentResult.__table__.c  # the headline: what matching reads, not the whole result
    assessment_ids = {a for picked in chosen.values() for a in picked.values()}
    headlines = dict(session.execute(select(stored.assessment_id, stored.headline).where(
        among(session, stored.assessment_id, assessment_ids), stored.is_current.is_(True))).all())
    return {as_of: {m: headlines[a] for m, a in picked.items() if a in headlines} for as_of, picked in chosen.items()}


@dataclass
class _World:
    """An alliance's members as matching sees them as of one cycle."""

    profiles: list[MemberProfile]
    results: dict[int, dict]
    names: dict[int, str]


def _alliance_pairs(session: Session, alliance_id: int) -> list:
    return _pairs_by_alliance(session, [alliance_id])[alliance_id]


def _pairs_by_alliance(session: Session, alliance_ids: list[int]) -> dict[int, list]:
    """The alliances' pairs as plain rows, in id order: what planning reads of them (no ORM objects, so a
    large alliance plans quickly)."""
    pairs = BuddyAssignment.__table__.c
    found: dict[int, list] = {alliance_id: [] for alliance_id in alliance_ids}
    for row in session.execute(select(pairs.alliance_id, pairs.id, pairs.cycle_id, pairs.mentee_membership_id,
                                      pairs.buddy_membership_id, pairs.standard_id, pairs.status)
                               .where(among(session, pairs.alliance_id, alliance_ids)).order_by(pairs.id)).all():
        found[row.alliance_id].append(row)
    return found


def _members(session: Session, alliance: Alliance) -> list:
    return _members_by_alliance(session, [alliance.id])[alliance.id]


def _members_by_alliance(session: Session, alliance_ids: list[int]) -> dict[int, list]:
    """The alliances' current members with what matching reads of each, in membership order."""
    found: dict[int, list] = {alliance_id: [] for alliance_id in alliance_ids}
    for row in session.execute(select(
            Membership.alliance_id, Membership.id, Membership.status, Membership.route, Membership.specialty,
            Membership.organisation_id, Organisation.name, Organisation.region, Organisation.latitude,
            Organisation.longitude)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(among(session, col(Membership.alliance_id), alliance_ids),
                   col(Membership.status).in_(MEMBER_STATUSES))
            .order_by(col(Membership.id))).all():
        found[row.alliance_id].append(row)
    return found


def _held(pairs: list, ignoring: frozenset[int] = frozenset()) -> list:
    """The open pairs that have a buddy, less those planned as withdrawn (``ignoring``)."""
    return [pair for pair in pairs
            if pair.status in OPEN_PAIRS and pair.buddy_membership_id is not None and pair.id not in ignoring]


def _assemble(alliance: Alliance, members: list, latest: dict[int, dict], held: list) -> _World:
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
            member.id, member.organisation_id, result, route=member.route, specialty=member.specialty,
            region=member.region, latitude=member.latitude, longitude=member.longitude,
            mentees=mentees_of[member.id], alliance_id=alliance.id)
        if member.status not in GIVING_STATUSES:
            profile = dataclasses.replace(profile, statuses={})
        profiles.append(profile)
        if result is not None:
            results[member.id] = result
    return _World(profiles, results, names)


def _world(session: Session, alliance: Alliance, cycle: AssessmentCycle, held: Optional[list] = None) -> _World:
    members = _members(session, alliance)
    return _assemble(alliance, members, _latest_results(session, [m.id for m in members], cycle),
                     _held(_alliance_pairs(session, alliance.id)) if held is None else held)


def _plan(alliance: Alliance, cycle: AssessmentCycle, world: _World, held: list, needs: list[Need]) -> BuddyPlan:
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


def _check_alliance_cycle(alliance: Optional[Alliance], cycle: Optional[AssessmentCycle], alliance_id: int,
                          cycle_id: int) -> None:
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
    world = _world(session, alliance, cycle, held)
    return _plan(alliance, cycle, world, held, matching.derive_needs(world.results))


def apply_plan(session: Session, actor: Actor, plan: BuddyPlan) -> list[int]:
    """Store a plan's proposals (status proposed) and its needs without a buddy, each audited; returns the
    ids of the pairs stored or updated. New pairs go in one statement, so a large alliance stays quick."""
    flagged = dict(((mentee, standard), pair_id) for pair_id, mentee, standard in session.execute(
        select(BuddyAssignment.id, BuddyAssignment.mentee_membership_id, BuddyAssignment.standard_id).where(
            BuddyAssignment.alliance_id == plan.alliance.id, BuddyAssignment.status == "proposed",
            col(BuddyAssignment.buddy_membership_id).is_(None))))
    now = utcnow()
    stored: list[int] = []
    fresh: list[dict] = []   # new pairs, in plan order
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
            audit(session, actor, "buddy.proposed", pair, before=before,
                  after={**snapshot(pair, "mentee_membership_id", "buddy_membership_id", "standard_id", "status"),
                         "reason": need.reason, "why": proposal.reasons})
            stored.append(pair.id)
            continue
        fresh.append({"mentee_membership_id": need.membership_id, "buddy_membership_id": proposal.buddy_membership_id,
                      "standard_id": need.standard})
        why.append(("buddy.proposed", {"reason": need.reason, "why": proposal.reasons}))
    for need in plan.matching.no_buddy:
        if (need.membership_id, need.standard) in flagged:
            continue
        fresh.append({"mentee_membership_id": need.membership_id, "buddy_membership_id": None,
                      "standard_id": need.standard})
        why.append(("buddy.none_available", {"reason": need.reason}))
    if fresh:
        rows = [{**row, "alliance_id": plan.alliance.id, "cycle_id": plan.cycle.id, "status": "proposed",
                 "end_reason": "", "created_at": now, "updated_at": now} for row in fresh]
        ids = insert_returning_ids(session, BuddyAssignment.__table__, rows,  # no ORM bookkeeping for them
                                   distinct_by=("mentee_membership_id", "standard_id"))
        for action in ("buddy.proposed", "buddy.none_available"):
            audit_many(session, actor, action, "buddyassignment", [
                (pair_id, None, {"mentee_membership_id": row["mentee_membership_id"],
                                 **({"buddy_membership_id": row["buddy_membership_id"]} if row["buddy_membership_id"]
                                    else {}),
                                 "standard_id": row["standard_id"], "status": "proposed", **extra})
                for pair_id, row, (kind, extra) in zip(ids, fresh, why) if kind == action])
        stored.extend(ids)
    return stored


# -- lifecycle ---------------------------------------------------------------------------------------
# proposed -> accepted (once the lead and the buddy organisation have both accepted) -> active
# -> completed (the mentee's standard met in a later decided result); any open pair may be withdrawn.

LEAD, BUDDY, MENTEE = "lead", "buddy", "mentee"
HELD = ("accepted", "active")  # pairs that use a buddy organisation's capacity
PAIR_FIELDS = ("status", "buddy_membership_id", "lead_accepted_at", "buddy_accepted_at", "started_at",
               "ended_at", "end_reason")


def _pair(session: Session, pair_id: int, *, alliance_id: Optional[int] = None,
          organisation_id: Optional[int] = None, lock: bool = False) -> tuple[BuddyAssignment, str]:
    """A pair as the lead of its alliance or one of its two organisations sees it, and from which side.

    Anyone else gets NotFound, so another alliance's or organisation's pairs do not show they exist.
    ``lock`` takes the alliance row first: every change that can use capacity waits its turn there.
    """
    missing = NotFound(f"buddy pair {pair_id} does not exist")
    pair = session.get(BuddyAssignment, pair_id)
    if pair is None:
        raise missing
    if lock:
        session.exec(select(Alliance).where(Alliance.id == pair.alliance_id).with_for_update()).one()
        pair = session.exec(select(BuddyAssignment).where(BuddyAssignment.id == pair_id).with_for_update()
                            .execution_options(populate_existing=True)).one()
    if alliance_id is not None:
        if pair.alliance_id != alliance_id:
            raise missing
        return pair, LEAD
    if organisation_id is not None:
        if pair.buddy_membership_id is not None and \
                session.get(Membership, pair.buddy_membership_id).organisation_id == organisation_id:
            return pair, BUDDY
        if session.get(Membership, pair.mentee_membership_id).organisation_id == organisation_id:
            return pair, MENTEE
    raise missing


def held_mentees(session: Session, alliance_id: int, organisation_id: int) -> set[int]:
    """The distinct members an organisation buddies in an alliance through accepted or active pairs."""
    return set(session.exec(select(BuddyAssignment.mentee_membership_id).join(
        Membership, Membership.id == BuddyAssignment.buddy_membership_id).where(
        BuddyAssignment.alliance_id == alliance_id, Membership.organisation_id == organisation_id,
        col(BuddyAssignment.status).in_(HELD))).all())


def _check_capacity(session: Session, pair: BuddyAssignment) -> None:
    alliance = session.get(Alliance, pair.alliance_id)
    buddy = session.get(Membership, pair.buddy_membership_id)
    held = held_mentees(session, alliance.id, buddy.organisation_id)
    if pair.mentee_membership_id not in held and len(held) >= alliance.max_buddy_mentees:
        name = session.get(Organisation, buddy.organisation_id).name
        raise ServiceError(f"{name} already buddies {len(held)} member{'s' if len(held) != 1 else ''}, "
                           f"the alliance's limit of {alliance.max_buddy_mentees}: it cannot take another")


def _change(session: Session, actor: Actor, pair: BuddyAssignment, action: str, before: dict, **extra) -> None:
    pair.updated_at = utcnow()
    session.add(pair)
    session.flush()
    audit(session, actor, action, pair, before=before, after={**snapshot(pair, *PAIR_FIELDS), **extra})


def accept(session: Session, actor: Actor, pair_id: int, *, alliance_id: Optional[int] = None,
           organisation_id: Optional[int] = None) -> BuddyAssignment:
    """The lead's or the buddy organisation's acceptance; with both the pair is accepted.

    Capacity is checked under the alliance row's lock, so two acceptances at once cannot both take the
    buddy organisation's last place.
    """
    pair, side = _pair(session, pair_id, alliance_id=alliance_id, organisation_id=organisation_id, lock=True)
    if side == MENTEE:
        raise ServiceError("only the alliance lead and the buddy organisation accept a pair")
    if pair.buddy_membership_id is None:
        raise ServiceError("this need has no buddy yet: reassign it to a buddy first")
    if pair.status != "proposed":
        raise ServiceError(f"the pair is {pair.status}; only a proposed pair can be accepted")
    if (pair.lead_accepted_at if side == LEAD else pair.buddy_accepted_at) is not None:
        raise ServiceError(f"the {'alliance lead' if side == LEAD else 'buddy organisation'} has already accepted")
    _check_capacity(session, pair)
    before = snapshot(pair, *PAIR_FIELDS)
    if side == LEAD:
        pair.lead_accepted_at = utcnow()
    else:
        pair.buddy_accepted_at = utcnow()
    if pair.lead_accepted_at is not None and pair.buddy_accepted_at is not None:
        pair.status = "accepted"
    _change(session, actor, pair, "buddy.accepted", before, by=side)
    return pair


def start(session: Session, actor: Actor, pair_id: int, *, alliance_id: Optional[int] = None,
          organisation_id: Optional[int] = None) -> BuddyAssignment:
    pair, side = _pair(session, pair_id, alliance_id=alliance_id, organisation_id=organisation_id, lock=True)
    if side == MENTEE:
        raise ServiceError("only the alliance lead and the buddy organisation start a pair")
    if pair.status != "accepted":
        raise ServiceError(f"the pair is {pair.status}; only an accepted pair can start")
    before = snapshot(pair, *PAIR_FIELDS)
    pair.status, pair.started_at = "active", utcnow()
    _change(session, actor, pair, "buddy.started", before, by=side)
    return pair


def _end(session: Session, actor: Actor, pair: BuddyAssignment, status: str, reason: str, action: str,
         **extra) -> None:
    require_text({"reason": reason})
    before = snapshot(pair, *PAIR_FIELDS)
    pair.status, pair.ended_at, pair.end_reason = status, utcnow(), reason[:500]
    _change(session, actor, pair, action, before, **extra)


def withdraw(session: Session, actor: Actor, pair_id: int, reason: str, *, alliance_id: Optional[int] = None,
             organisation_id: Optional[int] = None) -> BuddyAssignment:
    """The lead or either organisation ends an open pair, saying why."""
    pair, side = _pair(session, pair_id, alliance_id=alliance_id, organisation_id=organisation_id, lock=True)
    if pair.status not in OPEN_PAIRS:
        raise ServiceError(f"the pair is {pair.status}; only a proposed, accepted or active pair can be withdrawn")
    if not reason.strip():
        raise ServiceError("reason: give a reason for withdrawing")
    if len(reason.strip()) > 500:
        raise ServiceError("reason: the reason must be 500 characters or fewer")
    _end(session, actor, pair, "withdrawn", reason.strip(), "buddy.withdrawn", by=side)
    return pair


def candidates(session: Session, pair: BuddyAssignment, world: Optional[_World] = None) -> list[matching.Proposal]:
    """Who else could buddy this need, best first by the matching rules (and within capacity)."""
    alliance = session.get(Alliance, pair.alliance_id)
    if world is None:
        world = _world(session, alliance, session.get(AssessmentCycle, pair.cycle_id))
    if pair.mentee_membership_id not in {p.membership_id for p in world.profiles}:
        return []
    current = session.get(Membership, pair.buddy_membership_id) if pair.buddy_membership_id else None
    need = Need(pair.mentee_membership_id, pair.standard_id, "not_met")

    def without(profiles: list[MemberProfile], organisation_id: int) -> list[MemberProfile]:
        return [dataclasses.replace(p, statuses={}) if p.organisation_id == organisation_id else p
                for p in profiles]

    profiles = without(world.profiles, current.organisation_id) if current else list(world.profiles)
    ranked: list[matching.Proposal] = []
    while True:
        found = matching.match([need], profiles, capacity=alliance.max_buddy_mentees).proposals
        if not found:
            return ranked
        ranked.append(found[0])
        profiles = without(profiles, found[0].buddy_organisation_id)


def reassign(session: Session, actor: Actor, alliance_id: int, pair_id: int, buddy_membership_id: int,
             reason: str = "") -> BuddyAssignment:
    """The lead gives a need another buddy: a need without one gets it, an open pair is withdrawn and a
    new one proposed (the buddy re-checked against the matching rules and capacity)."""
    pair, _ = _pair(session, pair_id, alliance_id=alliance_id, lock=True)
    if pair.status not in OPEN_PAIRS:
        raise ServiceError(f"the pair is {pair.status}; only an open pair can be reassigned")
    offered = {p.buddy_membership_id: p for p in candidates(session, pair)}
    if buddy_membership_id not in offered:
        raise ServiceError("buddy: that member cannot buddy this need (it must meet the standard in its latest "
                           "decided result, be another organisation in scope, and have room)")
    why = offered[buddy_membership_id].reasons
    if pair.buddy_membership_id is None:
        before = snapshot(pair, *PAIR_FIELDS)
        pair.buddy_membership_id = buddy_membership_id
        _change(session, actor, pair, "buddy.reassigned", before, why=why)
        return pair
    if not reason.strip():
        raise ServiceError("reason: give a reason for reassigning")
    _end(session, actor, pair, "withdrawn", f"reassigned: {reason.strip()}", "buddy.withdrawn", by=LEAD)
    new = BuddyAssignment(alliance_id=pair.alliance_id, cycle_id=pair.cycle_id,
                          mentee_membership_id=pair.mentee_membership_id, buddy_membership_id=buddy_membership_id,
                          standard_id=pair.standard_id)
    session.add(new)
    session.flush()
    audit(session, actor, "buddy.reassigned", new, before={"replaces": pair.id},
          after={**snapshot(new, *PAIR_FIELDS), "why": why})
    return new


def settle_met_needs(session: Session, actor: Actor, assessment_id: int) -> list[BuddyAssignment]:
    """After a decision: the mentee's open pairs whose standard its result now meets (without a major
    breach) end: accepted or active ones are completed, proposals are withdrawn as no longer needed."""
    from ..models import Assessment

    assessment = session.get(Assessment, assessment_id)
    stored = current_result(session, assessment_id)
    if stored is None or assessment.status != "decided":
        return []
    return settle_many(session, actor, [(assessment.id, assessment.membership_id, assessment.cycle_id,
                                         stored.result)])


def settle_many(session: Session, actor: Actor,
                decided: list[tuple[int, int, int, dict]]) -> list[BuddyAssignment]:
    """``settle_met_needs`` for many decided results at once: (assessment, membership, cycle, result) each."""
    met: dict[int, tuple[int, int, set[str]]] = {}  # membership -> (assessment, cycle, standards met)
    for assessment_id, membership_id, cycle_id, result in decided:
        majors = {b["standard"] for b in result.get("breaches", ()) if b.get("severity") == "major"}
        met[membership_id] = (assessment_id, cycle_id, {sid for sid, r in result.get("standard_results", {}).items()
                                                        if r.get("status") == "met"} - majors)
    ending = [pair_id for pair_id, mentee, standard in session.execute(
        select(BuddyAssignment.id, BuddyAssignment.mentee_membership_id, BuddyAssignment.standard_id).where(
            among(session, col(BuddyAssignment.mentee_membership_id), met), col(BuddyAssignment.status).in_(OPEN_PAIRS))
        .order_by(col(BuddyAssignment.id))).all() if standard in met[mentee][2]] if met else []
    if not ending:
        return []
    pairs = session.exec(select(BuddyAssignment).where(col(BuddyAssignment.id).in_(ending))
                         .order_by(col(BuddyAssignment.id))).all()
    cycles = {c.id: c for c in session.exec(select(AssessmentCycle).where(col(AssessmentCycle.id).in_(
        {pair.cycle_id for pair in pairs} | {met[pair.mentee_membership_id][1] for pair in pairs})))}
    ended = []
    for pair in pairs:
        assessment_id, cycle_id, _ = met[pair.mentee_membership_id]
        cycle = cycles[cycle_id]
        if cycles[pair.cycle_id].opens_on > cycle.opens_on:
            continue  # an earlier cycle's result says nothing about a later need
        reason = f"{pair.standard_id} met in the decided result of {cycle.name}"
        if pair.status in HELD:
            _end(session, actor, pair, "completed", reason, "buddy.completed", assessment_id=assessment_id)
        else:
            _end(session, actor, pair, "withdrawn", reason + ": no longer needed", "buddy.withdrawn",
                 by="system", assessment_id=assessment_id)
        ended.append(pair)
    return ended


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
    cycles = {c.id: c for c in session.exec(select(AssessmentCycle).where(
        col(AssessmentCycle.id).in_({cycle_id for _, cycle_id in due})))}
    for alliance_id, cycle_id in due:
        _check_alliance_cycle(alliances.get(alliance_id), cycles.get(cycle_id), alliance_id, cycle_id)
    pairs = _pairs_by_alliance(session, alliance_ids)
    members = _members_by_alliance(session, alliance_ids)
    proposed = {(a, c): [pair for pair in pairs[a] if pair.cycle_id == c and pair.status == "proposed"]
                for a, c in due}
    wanted: dict[dt.date, set[int]] = defaultdict(set)
    for a, c in due:
        wanted[cycles[c].opens_on] |= {m.id for m in members[a]} | {p.mentee_membership_id for p in proposed[a, c]}
    latest = _latest_as_of(session, wanted)
    return [_refresh_of(alliances[a], cycles[c], pairs[a], members[a], latest.get(cycles[c].opens_on, {}),
                        proposed[a, c]) for a, c in due]


def _refresh_of(alliance: Alliance, cycle: AssessmentCycle, pairs: list, members: list, found: dict[int, dict],
                proposed: list) -> NeedsRefresh:
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


def refresh_many(session: Session, actor: Actor, aheads: list[NeedsRefresh], why: str,
                 worked_out_here: bool = False) -> list[tuple[int, int]]:
    """Bring alliance cycles' pairs in line with their members' current results (after they were rescored),
    in order, in the caller's transaction (which holds their alliances' rows): proposals whose need has gone
    are withdrawn, then new needs get proposals or a "no buddy" flag, as ``buddy match --apply`` would. Pairs
    already accepted or active are left to the lead.

    Refreshes worked out before that transaction are stored when their alliance's pairs are still as they
    saw them, else worked out again here; those worked out in it (``worked_out_here``) need no check.
    Returns (withdrawn, stored) of each."""
    now = None if worked_out_here else _pairs_by_alliance(session, sorted({ahead.alliance_id for ahead in aheads}))
    changed: set[int] = set()  # alliances whose pairs a refresh here has changed since they were read
    done = []
    for ahead in aheads:
        if ahead.alliance_id in changed or (now is not None and ahead.seen != now[ahead.alliance_id]):
            ahead = plan_refresh(session, ahead.alliance_id, ahead.cycle_id)
        for pair_id in ahead.gone:
            _end(session, actor, session.get(BuddyAssignment, pair_id), "withdrawn", f"no longer needed: {why}",
                 "buddy.withdrawn", by="system")
        session.flush()
        stored = apply_plan(session, actor, ahead.plan)
        if ahead.gone or stored:
            changed.add(ahead.alliance_id)
        done.append((len(ahead.gone), len(stored)))
    return done


# -- what the pages show -----------------------------------------------------------------------------

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
    return {m.id: o.name + (f" ({m.specialty})" if m.specialty else "") for m, o in session.exec(
        select(Membership, Organisation).join(Organisation, Organisation.id == Membership.organisation_id)
        .where(col(Membership.id).in_(membership_ids))).all()}


def _lines(session: Session, pairs: list[BuddyAssignment]) -> list[PairLine]:
    names = _names(session, {p.mentee_membership_id for p in pairs}
                   | {p.buddy_membership_id for p in pairs if p.buddy_membership_id})
    cycles = {c.id: c.name for c in session.exec(select(AssessmentCycle).where(
        col(AssessmentCycle.id).in_({p.cycle_id for p in pairs} or {0}))).all()}
    return [PairLine(p, names[p.mentee_membership_id], names.get(p.buddy_membership_id), cycles[p.cycle_id])
            for p in pairs]


def board(session: Session, alliance_id: int) -> Board:
    """The lead's buddying board: needs without a buddy, proposals, pairs under way, capacity."""
    alliance = get_or_404(session, Alliance, alliance_id, "alliance")
    pairs = session.exec(select(BuddyAssignment).where(BuddyAssignment.alliance_id == alliance.id)
                         .order_by(col(BuddyAssignment.id))).all()
    lines = _lines(session, list(pairs))
    worlds: dict[int, _World] = {}
    for line in lines:
        if line.pair.status == "proposed":
            cycle_id = line.pair.cycle_id
            if cycle_id not in worlds:
                worlds[cycle_id] = _world(session, alliance, session.get(AssessmentCycle, cycle_id))
            line.options = [(c.buddy_membership_id, f"{worlds[cycle_id].names[c.buddy_membership_id]}: "
                             + "; ".join(c.reasons)) for c in candidates(session, line.pair, worlds[cycle_id])]
    by_org: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    organisation_of = {m.id: (m.organisation_id, o.name) for m, o in session.exec(
        select(Membership, Organisation).join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.alliance_id == alliance.id)).all()}
    org_names = {}
    for pair in pairs:
        if pair.buddy_membership_id is None or pair.status not in OPEN_PAIRS:
            continue
        organisation_id, name = organisation_of[pair.buddy_membership_id]
        org_names[organisation_id] = name
        by_org[organisation_id][0 if pair.status in HELD else 1].add(pair.mentee_membership_id)
    capacity = sorted((Capacity(org_names[o], len(h), alliance.max_buddy_mentees, len(p - h))
                       for o, (h, p) in by_org.items()), key=lambda c: c.organisation)
    return Board(alliance,
                 [x for x in lines if x.pair.status == "proposed" and x.pair.buddy_membership_id is None],
                 [x for x in lines if x.pair.status == "proposed" and x.pair.buddy_membership_id is not None],
                 [x for x in lines if x.pair.status in HELD],
                 [x for x in lines if x.pair.status not in OPEN_PAIRS][-20:],
                 capacity)


def organisation_pairs(session: Session, organisation_id: int) -> tuple[list[PairLine], list[PairLine]]:
    """An organisation's pairs with a buddy: (its buddies, the members it buddies), open ones first."""
    mine = set(session.exec(select(Membership.id).where(Membership.organisation_id == organisation_id)).all())
    if not mine:
        return [], []
    pairs = session.exec(select(BuddyAssignment).where(
        col(BuddyAssignment.buddy_membership_id).is_not(None),
        (col(BuddyAssignment.mentee_membership_id).in_(mine)) | (col(BuddyAssignment.buddy_membership_id).in_(mine)))
        .order_by(col(BuddyAssignment.id))).all()
    lines = sorted(_lines(session, list(pairs)), key=lambda x: (x.pair.status not in OPEN_PAIRS, x.pair.id))
    return ([x for x in lines if x.pair.mentee_membership_id in mine],
            [x for x in lines if x.pair.buddy_membership_id in mine])

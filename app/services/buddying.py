"""Buddying proposals for an alliance's cycle: the database side of ``rules.buddying``.

Needs come from each member's latest decided result as of the cycle (the
rules engine decides them); candidates are the other members of the alliance
with their latest decided results. A member at risk or suspended still gets
support but does not give it. Pairs already proposed, accepted or active
count against a buddy organisation's capacity and are not proposed again, so
running the match twice adds nothing the second time. A need nobody can take
is stored as a pair without a buddy: the "no buddy available" flag the alliance
lead sees.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional

from sqlmodel import Session, col, select

import rules.buddying as matching
from rules.buddying import Matching, MemberProfile, Need

from ..lifecycle import MEMBER_STATUSES
from ..models import Alliance, AssessmentCycle, BuddyAssignment, Membership, Organisation, utcnow
from .common import Actor, NotFound, ServiceError, audit, get_or_404, snapshot
from .decisions import decided_history
from .assessments import current_result

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


def _latest_result(session: Session, membership_id: int, cycle: AssessmentCycle) -> Optional[dict]:
    """The membership's latest decided result in this cycle or an earlier one."""
    for earlier, assessment in decided_history(session, membership_id):
        if earlier.opens_on <= cycle.opens_on:
            stored = current_result(session, assessment.id)
            return stored.result if stored is not None else None
    return None


def plan_buddying(session: Session, alliance_id: int, cycle_id: int) -> BuddyPlan:
    """Needs and proposed buddies for an alliance's cycle, without storing anything."""
    alliance = get_or_404(session, Alliance, alliance_id, "alliance")
    cycle = get_or_404(session, AssessmentCycle, cycle_id, "cycle")
    if cycle.alliance_id != alliance.id:
        raise ServiceError(f"cycle {cycle.name} belongs to another alliance")
    rows = session.exec(select(Membership, Organisation).join(
        Organisation, Organisation.id == Membership.organisation_id).where(
        Membership.alliance_id == alliance.id, col(Membership.status).in_(MEMBER_STATUSES))
        .order_by(col(Membership.id))).all()
    open_pairs = session.exec(select(BuddyAssignment).where(
        BuddyAssignment.alliance_id == alliance.id, col(BuddyAssignment.status).in_(OPEN_PAIRS))).all()
    mentees_of: dict[int, set[int]] = defaultdict(set)
    covered_keys = set()
    for pair in open_pairs:
        if pair.buddy_membership_id is not None:
            mentees_of[pair.buddy_membership_id].add(pair.mentee_membership_id)
            covered_keys.add((pair.mentee_membership_id, pair.standard_id))
    results: dict[int, dict] = {}
    profiles: list[MemberProfile] = []
    names: dict[int, str] = {}
    for membership, organisation in rows:
        names[membership.id] = organisation.name + (f" ({membership.specialty})" if membership.specialty else "")
        result = _latest_result(session, membership.id, cycle)
        profile = MemberProfile.from_result(
            membership.id, organisation.id, result, route=membership.route, specialty=membership.specialty,
            region=organisation.region, latitude=organisation.latitude, longitude=organisation.longitude,
            mentees=mentees_of[membership.id], alliance_id=alliance.id)
        if membership.status not in GIVING_STATUSES:
            profile = dataclasses.replace(profile, statuses={})
        profiles.append(profile)
        if result is not None:
            results[membership.id] = result
    needs = matching.derive_needs(results)
    covered = [need for need in needs if (need.membership_id, need.standard) in covered_keys]
    open_needs = [need for need in needs if (need.membership_id, need.standard) not in covered_keys]
    found = matching.match(open_needs, profiles, capacity=alliance.max_buddy_mentees)
    return BuddyPlan(alliance, cycle, found, covered, names)


def apply_plan(session: Session, actor: Actor, plan: BuddyPlan) -> list[BuddyAssignment]:
    """Store a plan's proposals (status proposed) and its needs without a buddy, each audited."""
    flagged = {(pair.mentee_membership_id, pair.standard_id): pair for pair in session.exec(
        select(BuddyAssignment).where(BuddyAssignment.alliance_id == plan.alliance.id,
                                      BuddyAssignment.status == "proposed",
                                      col(BuddyAssignment.buddy_membership_id).is_(None))).all()}
    stored = []
    for proposal in plan.matching.proposals:
        need = proposal.need
        pair = flagged.get((need.membership_id, need.standard))
        if pair is not None:  # a need flagged earlier has found a buddy
            before = snapshot(pair, "buddy_membership_id", "status")
            pair.buddy_membership_id = proposal.buddy_membership_id
            pair.updated_at = utcnow()
        else:
            before = None
            pair = BuddyAssignment(alliance_id=plan.alliance.id, cycle_id=plan.cycle.id,
                                   mentee_membership_id=need.membership_id,
                                   buddy_membership_id=proposal.buddy_membership_id, standard_id=need.standard)
        session.add(pair)
        session.flush()
        audit(session, actor, "buddy.proposed", pair, before=before,
              after={**snapshot(pair, "mentee_membership_id", "buddy_membership_id", "standard_id", "status"),
                     "reason": need.reason, "why": proposal.reasons})
        stored.append(pair)
    for need in plan.matching.no_buddy:
        if (need.membership_id, need.standard) in flagged:
            continue
        pair = BuddyAssignment(alliance_id=plan.alliance.id, cycle_id=plan.cycle.id,
                               mentee_membership_id=need.membership_id, buddy_membership_id=None,
                               standard_id=need.standard)
        session.add(pair)
        session.flush()
        audit(session, actor, "buddy.none_available", pair,
              after={**snapshot(pair, "mentee_membership_id", "standard_id", "status"), "reason": need.reason})
        stored.append(pair)
    return stored

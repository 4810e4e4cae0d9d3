"""A stored buddy pair's lifecycle, every step audited:

proposed -> accepted (once the lead and the buddy organisation have both accepted) -> active
-> completed (the mentee's standard met in a later decided result); any open pair may be withdrawn,
and the lead may reassign a need to another buddy. Capacity is re-checked at acceptance.

Two steps are the system's: ``settle_met_needs``/``settle_many`` end the pairs a decided result has met, and
``refresh_many`` brings an alliance cycle's proposals in line with its members' results after a rescore.
"""

from __future__ import annotations

from typing import Optional

from sqlmodel import Session, col, select

from ...models import Alliance, Assessment, AssessmentCycle, BuddyAssignment, Membership, Organisation, utcnow
from .. import messages
from ..common import Actor, NotFound, ServiceError, among, audit, require_text, snapshot
from ..scoring import current_result
from .planning import OPEN_PAIRS, NeedsRefresh, apply_plan, candidates, pairs_by_alliance, plan_refresh

LEAD, BUDDY, MENTEE = "lead", "buddy", "mentee"
HELD = ("accepted", "active")  # pairs that use a buddy organisation's capacity
PAIR_FIELDS = (
    "status",
    "buddy_membership_id",
    "lead_accepted_at",
    "buddy_accepted_at",
    "started_at",
    "ended_at",
    "end_reason",
)


def _pair(
    session: Session,
    pair_id: int,
    *,
    alliance_id: Optional[int] = None,
    organisation_id: Optional[int] = None,
    lock: bool = False,
) -> tuple[BuddyAssignment, str]:
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
        pair = session.exec(
            select(BuddyAssignment)
            .where(BuddyAssignment.id == pair_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    if alliance_id is not None:
        if pair.alliance_id != alliance_id:
            raise missing
        return pair, LEAD
    if organisation_id is not None:
        if (
            pair.buddy_membership_id is not None
            and session.get(Membership, pair.buddy_membership_id).organisation_id == organisation_id
        ):
            return pair, BUDDY
        if session.get(Membership, pair.mentee_membership_id).organisation_id == organisation_id:
            return pair, MENTEE
    raise missing


def held_mentees(session: Session, alliance_id: int, organisation_id: int) -> set[int]:
    """The distinct members an organisation buddies in an alliance through accepted or active pairs."""
    return set(
        session.exec(
            select(BuddyAssignment.mentee_membership_id)
            .join(Membership, Membership.id == BuddyAssignment.buddy_membership_id)
            .where(
                BuddyAssignment.alliance_id == alliance_id,
                Membership.organisation_id == organisation_id,
                col(BuddyAssignment.status).in_(HELD),
            )
        ).all()
    )


def _check_capacity(session: Session, pair: BuddyAssignment) -> None:
    alliance = session.get(Alliance, pair.alliance_id)
    buddy = session.get(Membership, pair.buddy_membership_id)
    held = held_mentees(session, alliance.id, buddy.organisation_id)
    if pair.mentee_membership_id not in held and len(held) >= alliance.max_buddy_mentees:
        name = session.get(Organisation, buddy.organisation_id).name
        raise ServiceError(
            f"{name} already buddies {len(held)} member{'s' if len(held) != 1 else ''}, "
            f"the alliance's limit of {alliance.max_buddy_mentees}: it cannot take another"
        )


def _change(session: Session, actor: Actor, pair: BuddyAssignment, action: str, before: dict, **extra) -> None:
    pair.updated_at = utcnow()
    session.add(pair)
    session.flush()
    audit(session, actor, action, pair, before=before, after={**snapshot(pair, *PAIR_FIELDS), **extra})


def accept(
    session: Session,
    actor: Actor,
    pair_id: int,
    *,
    alliance_id: Optional[int] = None,
    organisation_id: Optional[int] = None,
) -> BuddyAssignment:
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
    if pair.status == "accepted":
        messages.buddy_answered(session, pair.id, accepted=True)
    return pair


def start(
    session: Session,
    actor: Actor,
    pair_id: int,
    *,
    alliance_id: Optional[int] = None,
    organisation_id: Optional[int] = None,
) -> BuddyAssignment:
    pair, side = _pair(session, pair_id, alliance_id=alliance_id, organisation_id=organisation_id, lock=True)
    if side == MENTEE:
        raise ServiceError("only the alliance lead and the buddy organisation start a pair")
    if pair.status != "accepted":
        raise ServiceError(f"the pair is {pair.status}; only an accepted pair can start")
    before = snapshot(pair, *PAIR_FIELDS)
    pair.status, pair.started_at = "active", utcnow()
    _change(session, actor, pair, "buddy.started", before, by=side)
    return pair


def _end(session: Session, actor: Actor, pair: BuddyAssignment, status: str, reason: str, action: str, **extra) -> None:
    require_text({"reason": reason})
    before = snapshot(pair, *PAIR_FIELDS)
    pair.status, pair.ended_at, pair.end_reason = status, utcnow(), reason[:500]
    _change(session, actor, pair, action, before, **extra)


def withdraw(
    session: Session,
    actor: Actor,
    pair_id: int,
    reason: str,
    *,
    alliance_id: Optional[int] = None,
    organisation_id: Optional[int] = None,
) -> BuddyAssignment:
    """The lead or either organisation ends an open pair, saying why."""
    pair, side = _pair(session, pair_id, alliance_id=alliance_id, organisation_id=organisation_id, lock=True)
    if pair.status not in OPEN_PAIRS:
        raise ServiceError(f"the pair is {pair.status}; only a proposed, accepted or active pair can be withdrawn")
    if not reason.strip():
        raise ServiceError("reason: give a reason for withdrawing")
    if len(reason.strip()) > 500:
        raise ServiceError("reason: the reason must be 500 characters or fewer")
    proposed = pair.status == "proposed"
    _end(session, actor, pair, "withdrawn", reason.strip(), "buddy.withdrawn", by=side)
    if proposed and side != LEAD:  # one of its organisations declined the proposal
        messages.buddy_answered(session, pair.id, accepted=False, reason=reason.strip())
    return pair


def reassign(
    session: Session, actor: Actor, alliance_id: int, pair_id: int, buddy_membership_id: int, reason: str = ""
) -> BuddyAssignment:
    """The lead gives a need another buddy: a need without one gets it, an open pair is withdrawn and a
    new one proposed (the buddy re-checked against the matching rules and capacity)."""
    pair, _ = _pair(session, pair_id, alliance_id=alliance_id, lock=True)
    if pair.status not in OPEN_PAIRS:
        raise ServiceError(f"the pair is {pair.status}; only an open pair can be reassigned")
    offered = {p.buddy_membership_id: p for p in candidates(session, pair)}
    if buddy_membership_id not in offered:
        raise ServiceError(
            "buddy: that member cannot buddy this need (it must meet the standard in its latest "
            "decided result, be another organisation in scope, and have room)"
        )
    why = offered[buddy_membership_id].reasons
    if pair.buddy_membership_id is None:
        before = snapshot(pair, *PAIR_FIELDS)
        pair.buddy_membership_id = buddy_membership_id
        _change(session, actor, pair, "buddy.reassigned", before, why=why)
        messages.buddy_proposed(session, [pair.id])
        return pair
    if not reason.strip():
        raise ServiceError("reason: give a reason for reassigning")
    _end(session, actor, pair, "withdrawn", f"reassigned: {reason.strip()}", "buddy.withdrawn", by=LEAD)
    new = BuddyAssignment(
        alliance_id=pair.alliance_id,
        cycle_id=pair.cycle_id,
        mentee_membership_id=pair.mentee_membership_id,
        buddy_membership_id=buddy_membership_id,
        standard_id=pair.standard_id,
    )
    session.add(new)
    session.flush()
    audit(
        session,
        actor,
        "buddy.reassigned",
        new,
        before={"replaces": pair.id},
        after={**snapshot(new, *PAIR_FIELDS), "why": why},
    )
    messages.buddy_proposed(session, [new.id])
    return new


def settle_met_needs(session: Session, actor: Actor, assessment_id: int) -> list[BuddyAssignment]:
    """After a decision: the mentee's open pairs whose standard its result now meets (without a major
    breach) end: accepted or active ones are completed, proposals are withdrawn as no longer needed."""
    assessment = session.get(Assessment, assessment_id)
    stored = current_result(session, assessment_id)
    if stored is None or assessment.status != "decided":
        return []
    return settle_many(session, actor, [(assessment.id, assessment.membership_id, assessment.cycle_id, stored.result)])


def settle_many(session: Session, actor: Actor, decided: list[tuple[int, int, int, dict]]) -> list[BuddyAssignment]:
    """``settle_met_needs`` for many decided results at once: (assessment, membership, cycle, result) each."""
    met: dict[int, tuple[int, int, set[str]]] = {}  # membership -> (assessment, cycle, standards met)
    for assessment_id, membership_id, cycle_id, result in decided:
        majors = {b["standard"] for b in result.get("breaches", ()) if b.get("severity") == "major"}
        met[membership_id] = (
            assessment_id,
            cycle_id,
            {sid for sid, r in result.get("standard_results", {}).items() if r.get("status") == "met"} - majors,
        )
    ending = (
        [
            pair_id
            for pair_id, mentee, standard in session.execute(
                select(BuddyAssignment.id, BuddyAssignment.mentee_membership_id, BuddyAssignment.standard_id)
                .where(
                    among(session, col(BuddyAssignment.mentee_membership_id), met),
                    col(BuddyAssignment.status).in_(OPEN_PAIRS),
                )
                .order_by(col(BuddyAssignment.id))
            ).all()
            if standard in met[mentee][2]
        ]
        if met
        else []
    )
    if not ending:
        return []
    pairs = session.exec(
        select(BuddyAssignment).where(col(BuddyAssignment.id).in_(ending)).order_by(col(BuddyAssignment.id))
    ).all()
    cycles = {
        c.id: c
        for c in session.exec(
            select(AssessmentCycle).where(
                col(AssessmentCycle.id).in_(
                    {pair.cycle_id for pair in pairs} | {met[pair.mentee_membership_id][1] for pair in pairs}
                )
            )
        )
    }
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
            _end(
                session,
                actor,
                pair,
                "withdrawn",
                reason + ": no longer needed",
                "buddy.withdrawn",
                by="system",
                assessment_id=assessment_id,
            )
        ended.append(pair)
    return ended


def refresh_many(
    session: Session, actor: Actor, aheads: list[NeedsRefresh], why: str, worked_out_here: bool = False
) -> list[tuple[int, int]]:
    """Bring alliance cycles' pairs in line with their members' current results (after they were rescored),
    in order, in the caller's transaction (which holds their alliances' rows): proposals whose need has gone
    are withdrawn, then new needs get proposals or a "no buddy" flag, as ``buddy match --apply`` would. Pairs
    already accepted or active are left to the lead.

    Refreshes worked out before that transaction are stored when their alliance's pairs are still as they
    saw them, else worked out again here; those worked out in it (``worked_out_here``) need no check.
    Returns (withdrawn, stored) of each."""
    now = None if worked_out_here else pairs_by_alliance(session, sorted({ahead.alliance_id for ahead in aheads}))
    changed: set[int] = set()  # alliances whose pairs a refresh here has changed since they were read
    done = []
    for ahead in aheads:
        if ahead.alliance_id in changed or (now is not None and ahead.seen != now[ahead.alliance_id]):
            ahead = plan_refresh(session, ahead.alliance_id, ahead.cycle_id)
        for pair_id in ahead.gone:
            _end(
                session,
                actor,
                session.get(BuddyAssignment, pair_id),
                "withdrawn",
                f"no longer needed: {why}",
                "buddy.withdrawn",
                by="system",
            )
        session.flush()
        stored = apply_plan(session, actor, ahead.plan)
        if ahead.gone or stored:
            changed.add(ahead.alliance_id)
        done.append((len(ahead.gone), len(stored)))
    return done

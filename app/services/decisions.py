"""Accreditation decisions and the retention policy.

A decision moves the membership through the lifecycle. The retention policy
(the NOA model: benchmark targets every member must meet to keep membership)
then applies, with thresholds set per alliance: a member whose decided result
has a major breach becomes at_risk; a major breach on the same standard in
consecutive cycles puts "suspension recommended" in front of the lead, who
decides. Nothing is suspended automatically. "Consecutive" counts the
member's decided assessments in cycle order, so skipping a cycle does not
reset a streak.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlmodel import Session, select

from ..lifecycle import allowed
from ..models import Alliance, Assessment, AssessmentCycle, AssessmentResult, Breach, Decision, Membership
from ..wording import in_sentence
from .assessments import context
from .common import Actor, NotFound, ServiceError, audit, get_or_404, require_text, snapshot
from .membership import change_status, require_transition
from .scoring import current_result

#: Decision kind -> the membership status it leads to (reinstate: see ``_reinstated_status``).
DECISIONS = {
    "accredit": "accredited",
    "accredit_with_conditions": "accredited_with_conditions",
    "working_towards": "working_towards",
    "decline": "declined",
    "suspend": "suspended",
    "reinstate": None,
}
DECIDABLE = ("submitted", "under_review")


def _reinstated_status(outcome: str | None) -> str:
    return {"accredited": "accredited", "accredited_with_conditions": "accredited_with_conditions"}.get(
        outcome or "", "working_towards"
    )


def record_decision(
    session: Session,
    actor: Actor,
    assessment_id: int,
    kind: str,
    *,
    conditions: str = "",
    due_on: Optional[dt.date] = None,
    notes: str = "",
) -> Decision:
    if kind not in DECISIONS:
        raise ServiceError(f"decision: {kind!r} is not one of {', '.join(DECISIONS)}")
    require_text({"conditions": conditions, "notes": notes})
    ctx = context(session, assessment_id, lock=True)
    assessment, membership = ctx.assessment, ctx.membership
    if kind in ("suspend", "reinstate"):
        if assessment.status != "decided":
            raise ServiceError("suspend and reinstate apply to a decided assessment")
        if (kind == "reinstate") != (membership.status == "suspended"):
            raise ServiceError(
                f"the membership is {membership.status.replace('_', ' ')}: "
                + (
                    "only a suspended membership can be reinstated"
                    if kind == "reinstate"
                    else "it is already suspended"
                )
            )
    elif assessment.status not in DECIDABLE:
        raise ServiceError(
            f"assessment {assessment.id} is {assessment.status}; only a submitted assessment can be decided"
        )
    if kind == "accredit_with_conditions" and (not conditions.strip() or due_on is None):
        raise ServiceError("conditions: accreditation with conditions needs the conditions and a due date")
    result = current_result(session, assessment.id)
    target = DECISIONS[kind] or _reinstated_status(result.outcome if result else None)
    reason = f"decision: {in_sentence(kind)}" + (f" ({notes.strip()})" if notes.strip() else "")
    require_transition(membership, target)  # before anything is written: a refused decision leaves no trace
    decision = Decision(
        assessment_id=assessment.id,
        kind=kind,
        conditions=conditions.strip(),
        due_on=due_on,
        notes=notes.strip(),
        decided_by=actor.user_id,
    )
    session.add(decision)
    before = snapshot(assessment, "status")
    if assessment.status != "decided":
        assessment.status = "decided"
        assessment.decided_at = decision.decided_at
    session.add(assessment)
    session.flush()
    audit(session, actor, "decision.recorded", decision, before=before, after=snapshot(decision))
    if kind in ("decline", "suspend"):
        change_status(session, membership, target, actor, reason)
    else:
        apply_retention_policy(
            session, actor, membership, decided_status=target, reason=reason, recommend=kind != "reinstate"
        )
    from .buddying.pairs import settle_met_needs  # buddying reads decided results through this module

    settle_met_needs(session, actor, assessment.id)
    return decision


def major_breach_standards(session: Session, result: AssessmentResult) -> set[str]:
    return set(
        session.exec(select(Breach.standard_id).where(Breach.result_id == result.id, Breach.severity == "major")).all()
    )


def decided_history(session: Session, membership_id: int) -> list[tuple[AssessmentCycle, Assessment]]:
    """The membership's decided assessments, latest cycle first."""
    rows = session.exec(
        select(AssessmentCycle, Assessment)
        .join(Assessment, Assessment.cycle_id == AssessmentCycle.id)
        .where(Assessment.membership_id == membership_id, Assessment.status == "decided")
    ).all()
    return sorted(rows, key=lambda row: row[0].opens_on, reverse=True)


def consecutive_major_breaches(session: Session, membership_id: int) -> dict[str, int]:
    """Per standard with a major breach in the latest decided cycle: in how many consecutive decided
    cycles (ending with the latest) it had one."""
    streaks: dict[str, int] = {}
    alive: Optional[set[str]] = None
    for _, assessment in decided_history(session, membership_id):
        result = current_result(session, assessment.id)
        majors = major_breach_standards(session, result) if result else set()
        alive = majors if alive is None else alive & majors
        if not alive:
            break
        for standard in alive:
            streaks[standard] = streaks.get(standard, 0) + 1
    return streaks


def apply_retention_policy(
    session: Session,
    actor: Actor,
    membership: Membership,
    *,
    decided_status: Optional[str] = None,
    reason: str = "",
    recommend: bool = True,
) -> None:
    """Settle a membership's status after a decision: the decided status, or at_risk while the latest
    decided assessment has a major breach; and recommend (or withdraw the recommendation of) suspension."""
    alliance = get_or_404(session, Alliance, membership.alliance_id)
    streaks = consecutive_major_breaches(session, membership.id)
    at_risk = bool(streaks) and alliance.at_risk_on_major_breach
    policy = f"retention policy: major benchmark breach on {', '.join(sorted(streaks))}"
    if at_risk and membership.status != "at_risk":
        if allowed(membership.status, "at_risk"):
            change_status(session, membership, "at_risk", actor, f"{reason}; {policy}" if reason else policy)
        elif decided_status:  # an applicant, say: first the decided status, then at_risk
            change_status(session, membership, decided_status, actor, reason)
            change_status(session, membership, "at_risk", actor, policy)
    elif not at_risk and decided_status:
        change_status(session, membership, decided_status, actor, reason)
    repeated = sorted(s for s, n in streaks.items() if n >= alliance.suspension_after_cycles)
    if repeated and recommend and not membership.suspension_recommended:
        _set_recommendation(
            session, actor, membership, True, {"standards": repeated, "cycles": alliance.suspension_after_cycles}
        )
    elif not repeated and membership.suspension_recommended:
        _set_recommendation(session, actor, membership, False, {"reason": "no longer a repeated major breach"})


def _set_recommendation(session: Session, actor: Actor, membership: Membership, value: bool, detail: dict) -> None:
    membership.suspension_recommended = value
    session.add(membership)
    audit(
        session,
        actor,
        "membership.suspension_recommended" if value else "membership.suspension_recommendation_cleared",
        membership,
        before={"suspension_recommended": not value},
        after={"suspension_recommended": value, **detail},
    )


def dismiss_suspension_recommendation(session: Session, actor: Actor, membership_id: int, notes: str) -> Membership:
    """The lead decides not to suspend; the member stays at its status. A further cycle with the same
    major breach recommends suspension again."""
    membership = session.exec(
        select(Membership)
        .where(Membership.id == membership_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if membership is None:
        raise NotFound(f"membership {membership_id} does not exist")
    if not membership.suspension_recommended:
        raise ServiceError(f"membership {membership_id} has no suspension recommendation")
    if not notes.strip():
        raise ServiceError("notes: record why the member is not suspended")
    require_text({"notes": notes})
    _set_recommendation(session, actor, membership, False, {"reason": notes.strip(), "dismissed": True})
    return membership


def suspension_recommendations(session: Session, alliance_id: int) -> list[tuple[Membership, dict[str, int]]]:
    """Memberships of an alliance awaiting the lead's decision on suspension, with their breach streaks."""
    rows = session.exec(
        select(Membership)
        .where(Membership.alliance_id == alliance_id, Membership.suspension_recommended == True)  # noqa: E712
        .order_by(Membership.id)
    ).all()
    return [(m, consecutive_major_breaches(session, m.id)) for m in rows]

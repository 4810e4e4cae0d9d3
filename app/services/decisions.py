"""Accreditation decisions and the retention policy.

A decision moves the membership through the lifecycle. The retention policy
(the NOA model: benchmark targets every member must meet to keep membership)
then applies, with thresholds set per alliance: a member whose decided result
has a major breach becomes at_risk; a major breach on the same standard in
consecutive cycles puts "suspension recommended" in front of the lead, who
decides. Nothing is suspended automatically.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlmodel import Session, select

from ..models import Alliance, Assessment, AssessmentCycle, AssessmentResult, Breach, Decision, Membership
from .assessments import context, current_result
from .common import Actor, ServiceError, audit, get_or_404, snapshot
from .membership import change_status

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
        outcome or "", "working_towards")


def record_decision(session: Session, actor: Actor, assessment_id: int, kind: str, *, conditions: str = "",
                    due_on: Optional[dt.date] = None, notes: str = "") -> Decision:
    if kind not in DECISIONS:
        raise ServiceError(f"decision: {kind!r} is not one of {', '.join(DECISIONS)}")
    ctx = context(session, assessment_id)
    assessment, membership = ctx.assessment, ctx.membership
    if kind in ("suspend", "reinstate"):
        if assessment.status != "decided":
            raise ServiceError("suspend and reinstate apply to a decided assessment")
    elif assessment.status not in DECIDABLE:
        raise ServiceError(f"assessment {assessment.id} is {assessment.status}; only a submitted assessment can be decided")
    if kind == "accredit_with_conditions" and (not conditions.strip() or due_on is None):
        raise ServiceError("conditions: accreditation with conditions needs the conditions and a due date")
    result = current_result(session, assessment.id)
    target = DECISIONS[kind] or _reinstated_status(result.outcome if result else None)
    reason = f"decision: {kind}" + (f" ({notes.strip()})" if notes.strip() else "")
    change_status(session, membership, target, actor, reason)  # raises LifecycleError when not allowed
    decision = Decision(assessment_id=assessment.id, kind=kind, conditions=conditions.strip(), due_on=due_on,
                        notes=notes.strip(), decided_by=actor.user_id)
    session.add(decision)
    before = snapshot(assessment, "status")
    assessment.status = "decided"
    assessment.decided_at = decision.decided_at
    session.add(assessment)
    session.flush()
    audit(session, actor, "decision.recorded", decision, before=before, after=snapshot(decision))
    if kind not in ("decline", "suspend"):
        apply_retention_policy(session, actor, membership)
    return decision


def major_breach_standards(session: Session, result: AssessmentResult) -> set[str]:
    return set(session.exec(select(Breach.standard_id).where(
        Breach.result_id == result.id, Breach.severity == "major")).all())


def decided_history(session: Session, membership_id: int) -> list[tuple[AssessmentCycle, Assessment]]:
    """The membership's decided assessments, latest cycle first."""
    rows = session.exec(select(AssessmentCycle, Assessment).join(
        Assessment, Assessment.cycle_id == AssessmentCycle.id).where(
        Assessment.membership_id == membership_id, Assessment.status == "decided")).all()
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


def apply_retention_policy(session: Session, actor: Actor, membership: Membership) -> None:
    alliance = get_or_404(session, Alliance, membership.alliance_id)
    streaks = consecutive_major_breaches(session, membership.id)
    if streaks and alliance.at_risk_on_major_breach and membership.status != "at_risk":
        standards = ", ".join(sorted(streaks))
        change_status(session, membership, "at_risk", actor, f"retention policy: major benchmark breach on {standards}")
    repeated = sorted(s for s, n in streaks.items() if n >= alliance.suspension_after_cycles)
    if repeated and not membership.suspension_recommended:
        membership.suspension_recommended = True
        session.add(membership)
        audit(session, actor, "membership.suspension_recommended", membership,
              before={"suspension_recommended": False},
              after={"suspension_recommended": True, "standards": repeated,
                     "cycles": alliance.suspension_after_cycles})

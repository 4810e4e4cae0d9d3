"""Four-eyes decisions: actions of a lead that need a second lead of the same alliance before they take effect.

Each alliance chooses (``ApprovalSetting``; no row: all three on) which of three kinds need a second lead:

- ``decision``: a decision more favourable than the engine's outcome (outcomes ordered accredited >
  accredited with conditions > working towards > not accredited; accredit, accredit with conditions, working
  towards and decline are compared with the result's outcome);
- ``override``: an override (of a criterion's score or a standard's status) that changes a standard's status,
  found by scoring the assessment with the override through the engine without storing anything;
- ``suspension``: suspending a member.

When the setting asks for it, ``decide`` and ``override`` record an ``Approval`` (pending) instead of acting:
nothing the member sees changes. A different lead of the alliance approves it (``approve``: the action is
applied through ``review`` exactly as if its proposer had taken it then, in the same transaction, and the member
is told as for any decision), or sends it back with a reason (``send_back``: the proposer is told on the
approvals page and by email); the proposer may withdraw it. Nobody approves their own proposal, and only a lead
of the alliance approves (an administrator is not one: an alliance with one lead needs a second lead).

While a proposal is pending on a self-assessment, no other decision or override can be taken on it.
Removing an override needs no approval: it returns the standard to the engine's own finding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

from sqlmodel import Session, col, select

import rules
from rules.answers import carry_over

from ..models import Approval, ApprovalSetting, Assessment, AssessmentCycle, Membership, Organisation, User, utcnow
from ..wording import label
from . import messages, review
from . import overrides as override_service
from .assessments import AssessmentContext, answers_of, context
from .common import Actor, NotFound, ServiceError, audit, require_text, snapshot
from .decisions import DECISIONS
from .membership import require_transition
from .scoring import current_result, kept, override_rows

#: Outcomes from the least favourable to the most.
OUTCOME_ORDER = ("not_accredited", "working_towards", "accredited_with_conditions", "accredited")
#: The outcome each decision amounts to, for the comparison with the engine's.
DECISION_OUTCOME = {
    "accredit": "accredited",
    "accredit_with_conditions": "accredited_with_conditions",
    "working_towards": "working_towards",
    "decline": "not_accredited",
}
#: Approval kind -> its switch in ``ApprovalSetting``, and what it is in words.
SETTINGS = {"decision": "decisions", "override": "overrides", "suspension": "suspensions"}
KIND_WORDS = {
    "decision": "A decision more favourable than the engine's outcome",
    "override": "An override that changes a standard's status",
    "suspension": "Suspending a member",
}
STATE_WORDS = {
    "pending": "awaiting approval",
    "approved": "approved",
    "sent_back": "sent back",
    "withdrawn": "withdrawn",
}
REASON_MAX = 5000


# -- the alliance's setting ---------------------------------------------------------------------------------------


def setting_of(session: Session, alliance_id: int) -> ApprovalSetting:
    """The alliance's four-eyes setting (a fresh, unsaved one with all three on when never changed)."""
    return session.get(ApprovalSetting, alliance_id) or ApprovalSetting(alliance_id=alliance_id)


def needs_approval(session: Session, alliance_id: int, kind: str) -> bool:
    return bool(getattr(setting_of(session, alliance_id), SETTINGS[kind]))


def save_setting(
    session: Session, actor: Actor, alliance_id: Optional[int], *, decisions: bool, overrides: bool, suspensions: bool
) -> ApprovalSetting:
    """A lead chooses which kinds need a second lead (audited). Proposals already pending stay pending."""
    if alliance_id is None:
        raise NotFound("you are not a lead of an alliance")
    setting = setting_of(session, alliance_id)
    before = snapshot(setting, *SETTINGS.values())
    setting.decisions, setting.overrides, setting.suspensions = bool(decisions), bool(overrides), bool(suspensions)
    setting.updated_by, setting.updated_at = actor.user_id, utcnow()
    session.add(setting)
    session.flush()
    audit(
        session,
        actor,
        "approval.settings_changed",
        entity_type="alliance",
        entity_id=alliance_id,
        before=before,
        after=snapshot(setting, *SETTINGS.values()),
    )
    return setting


def leads_count(session: Session, alliance_id: int) -> int:
    """The alliance's active leads: with fewer than two, nobody can approve a proposal."""
    return len(messages.leads_of(session, alliance_id))


# -- what needs approval ----------------------------------------------------------------------------------------------


def more_favourable(decision_kind: str, outcome: Optional[str]) -> bool:
    """Is this decision more favourable than the engine's outcome? (No outcome: anything but decline is.)"""
    if decision_kind not in DECISION_OUTCOME:
        return False
    if outcome not in OUTCOME_ORDER:
        return decision_kind != "decline"
    return OUTCOME_ORDER.index(DECISION_OUTCOME[decision_kind]) > OUTCOME_ORDER.index(outcome)


def _statuses(ctx: AssessmentContext, overrides: Optional[rules.Overrides], answers: dict) -> dict[str, Any]:
    result = rules.score_submission(ctx.standards, rules.Submission(member=ctx.member, answers=answers), overrides)
    return {sid: (r or {}).get("status") for sid, r in result["standard_results"].items()}


def standard_changes(
    session: Session, ctx: AssessmentContext, checked: override_service.CheckedOverride
) -> list[list[str]]:
    """[standard, status now, status with the override] for each standard whose status the override changes:
    the assessment scored through the engine with and without it (nothing stored)."""
    answers, _ = carry_over(ctx.standards, answers_of(session, ctx.assessment.id))
    now = _statuses(ctx, kept(ctx.standards, override_rows(session, ctx.assessment.id), ctx.member), answers)
    then = _statuses(ctx, kept(ctx.standards, checked.trial, ctx.member), answers)
    return [
        [sid, str(now.get(sid)), str(then.get(sid))]
        for sid in sorted(set(now) | set(then))
        if now.get(sid) != then.get(sid)
    ]


# -- proposing, or acting at once ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Taken:
    """What a lead's action came to: applied (``applied``: the decision or override), or proposed
    (``approval``: pending until a second lead approves it)."""

    approval: Optional[Approval] = None
    applied: Any = None

    @property
    def awaiting(self) -> bool:
        return self.approval is not None


def pending_on(session: Session, assessment_id: int) -> list[Approval]:
    return list(
        session.exec(
            select(Approval)
            .where(Approval.assessment_id == assessment_id, Approval.status == "pending")
            .order_by(col(Approval.id))
        ).all()
    )


def _none_pending(session: Session, assessment_id: int) -> None:
    if pending_on(session, assessment_id):
        raise ServiceError(
            "a proposal on this self-assessment awaits a second lead's approval: "
            "it must be approved, sent back or withdrawn first"
        )


def _propose(session: Session, actor: Actor, ctx: AssessmentContext, kind: str, action: dict) -> Approval:
    if actor.user_id is None:
        raise ServiceError("only a lead can propose an action for approval")
    approval = Approval(
        alliance_id=ctx.membership.alliance_id,
        kind=kind,
        assessment_id=ctx.assessment.id,
        membership_id=ctx.membership.id,
        action=action,
        proposed_by=actor.user_id,
    )
    session.add(approval)
    session.flush()
    audit(session, actor, "approval.proposed", approval, after=snapshot(approval))
    proposer = session.get(User, actor.user_id)
    messages.approval_requested(
        session, approval.id, approval.alliance_id, proposer, summary(approval), ctx.assessment.id
    )
    return approval


def return_to_member(
    session: Session, actor: Actor, alliance_id: Optional[int], assessment_id: int, note: str
) -> Assessment:
    """Send an assessment back to the member, unless a proposal on it awaits a second lead (approving it later
    would act on an assessment the member is changing)."""
    review.lead_assessment(session, alliance_id, assessment_id)  # another alliance's: not found, not "pending"
    _none_pending(session, assessment_id)
    return review.return_to_member(session, actor, alliance_id, assessment_id, note)


def decide(
    session: Session,
    actor: Actor,
    alliance_id: Optional[int],
    assessment_id: int,
    kind: str,
    *,
    conditions: str = "",
    due_on: Optional[dt.date] = None,
    notes: str = "",
) -> Taken:
    """A lead's decision: proposed for approval when the alliance's setting asks for it (a suspension, or a
    decision more favourable than the engine's outcome), otherwise recorded at once (``review.decide``)."""
    review.lead_assessment(session, alliance_id, assessment_id)
    ctx = context(session, assessment_id, lock=True)
    _none_pending(session, assessment_id)
    review.check_decision(ctx, kind, conditions, due_on)
    require_text({"conditions": conditions, "notes": notes})
    result = current_result(session, assessment_id)
    outcome = result.outcome if result else None
    approval_kind = "suspension" if kind == "suspend" else "decision" if more_favourable(kind, outcome) else None
    if approval_kind is None or not needs_approval(session, ctx.membership.alliance_id, approval_kind):
        return Taken(
            applied=review.decide(
                session, actor, alliance_id, assessment_id, kind, conditions=conditions, due_on=due_on, notes=notes
            )
        )
    if DECISIONS[kind] is not None:
        require_transition(ctx.membership, DECISIONS[kind])  # refused now, not when a second lead approves
    action = {
        "decision": kind,
        "conditions": conditions.strip(),
        "due_on": due_on.isoformat() if due_on else None,
        "notes": notes.strip(),
        "engine_outcome": outcome,
        "membership_status": ctx.membership.status,
    }
    return Taken(approval=_propose(session, actor, ctx, approval_kind, action))


def override(
    session: Session,
    actor: Actor,
    alliance_id: Optional[int],
    assessment_id: int,
    kind: str,
    target_id: str,
    value: Any,
    reason: str,
) -> Taken:
    """A lead's override: proposed for approval when it changes a standard's status and the alliance's setting
    asks for it, otherwise set at once (``review.override``)."""
    review.lead_assessment(session, alliance_id, assessment_id)
    ctx = context(session, assessment_id, lock=True)
    _none_pending(session, assessment_id)
    checked = override_service.check_override(session, ctx, kind, target_id, value, reason)
    changes = standard_changes(session, ctx, checked)
    if not changes or not needs_approval(session, ctx.membership.alliance_id, "override"):
        return Taken(
            applied=review.override(session, actor, alliance_id, assessment_id, kind, target_id, value, reason)
        )
    action = {
        "kind": checked.kind,
        "target_id": checked.target_id,
        "value": checked.value,
        "reason": checked.reason,
        "changes": changes,
    }
    return Taken(approval=_propose(session, actor, ctx, "override", action))


def remove_override(
    session: Session, actor: Actor, alliance_id: Optional[int], assessment_id: int, override_id: int, reason: str = ""
) -> None:
    """Remove an override (no approval: the engine's own finding returns), unless a proposal is pending."""
    review.lead_assessment(session, alliance_id, assessment_id)
    _none_pending(session, assessment_id)
    review.remove_override(session, actor, alliance_id, assessment_id, override_id, reason)


# -- the second lead --------------------------------------------------------------------------------------------------


def _lead_of(session: Session, actor: Actor, alliance_id: Optional[int]) -> User:
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or user.role != "lead" or not user.active or alliance_id is None or user.alliance_id != alliance_id:
        raise ServiceError("only a lead of the alliance can approve, send back or withdraw a proposal")
    return user


def _pending(session: Session, alliance_id: Optional[int], approval_id: int) -> Approval:
    """The alliance's proposal, locked; another alliance's is not found."""
    approval = session.exec(
        select(Approval).where(Approval.id == approval_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if approval is None or alliance_id is None or approval.alliance_id != alliance_id:
        raise NotFound(f"proposal {approval_id} does not exist")
    if approval.status != "pending":
        raise ServiceError(f"this proposal is already {STATE_WORDS[approval.status]}: nothing more can be done with it")
    return approval


def _close(session: Session, actor: Actor, approval: Approval, status: str, reason: str = "") -> None:
    before = snapshot(approval, "status", "decided_by", "decided_at", "reason")
    approval.status, approval.decided_by, approval.decided_at, approval.reason = status, actor.user_id, utcnow(), reason
    session.add(approval)
    session.flush()
    audit(
        session,
        actor,
        {"approved": "approval.approved", "sent_back": "approval.sent_back", "withdrawn": "approval.withdrawn"}[status],
        approval,
        before=before,
        after={
            **snapshot(approval, "kind", "status", "decided_by", "decided_at", "reason", "proposed_by"),
            "action": approval.action,
        },
    )


def approve(session: Session, actor: Actor, alliance_id: Optional[int], approval_id: int) -> Approval:
    """A second lead approves: the action is applied now, as its proposer would have applied it, and the member
    is told as for any decision; both the approval and the action are audited. Refused for the proposer."""
    approver = _lead_of(session, actor, alliance_id)
    approval = _pending(session, alliance_id, approval_id)
    if approval.proposed_by == approver.id:
        raise ServiceError("you proposed this: a second lead of the alliance must approve it")
    proposer = session.get(User, approval.proposed_by)
    by = Actor(proposer.email, proposer.id)
    action = approval.action
    try:
        if approval.kind == "override":
            applied = review.override(
                session,
                by,
                alliance_id,
                approval.assessment_id,
                action["kind"],
                action["target_id"],
                action["value"],
                action["reason"],
            )
        else:
            due = action.get("due_on")
            applied = review.decide(
                session,
                by,
                alliance_id,
                approval.assessment_id,
                action["decision"],
                conditions=action.get("conditions", ""),
                due_on=dt.date.fromisoformat(due) if due else None,
                notes=action.get("notes", ""),
            )
    except NotFound as exc:  # returned to the member meanwhile, say: not the lead's to decide on any more
        raise ServiceError(
            "it can no longer take effect: the self-assessment is no longer awaiting a decision; send it back"
        ) from exc
    approval.action = {**action, "applied_id": applied.id}
    _close(session, actor, approval, "approved")
    messages.approval_answered(session, approval.id, proposer, approver, summary(approval), approval.assessment_id, "")
    return approval


def send_back(session: Session, actor: Actor, alliance_id: Optional[int], approval_id: int, reason: str) -> Approval:
    """A second lead does not approve, saying why; nothing takes effect and the proposer is told."""
    approver = _lead_of(session, actor, alliance_id)
    approval = _pending(session, alliance_id, approval_id)
    if approval.proposed_by == approver.id:
        raise ServiceError("you proposed this: withdraw it instead")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason: say why the proposal is sent back (its proposer sees it)")
    if len(reason) > REASON_MAX:
        raise ServiceError(f"reason: at most {REASON_MAX} characters")
    require_text({"reason": reason})
    _close(session, actor, approval, "sent_back", reason)
    proposer = session.get(User, approval.proposed_by)
    messages.approval_answered(
        session, approval.id, proposer, approver, summary(approval), approval.assessment_id, reason
    )
    return approval


def withdraw(session: Session, actor: Actor, alliance_id: Optional[int], approval_id: int) -> Approval:
    """The proposer takes its proposal back; nothing takes effect."""
    lead = _lead_of(session, actor, alliance_id)
    approval = _pending(session, alliance_id, approval_id)
    if approval.proposed_by != lead.id:
        raise ServiceError("only the lead who proposed it can withdraw a proposal")
    _close(session, actor, approval, "withdrawn")
    return approval


# -- read models ------------------------------------------------------------------------------------------------------


def summary(approval: Approval) -> str:
    """The proposed action in words."""
    action = approval.action or {}
    if approval.kind == "override":
        value = action.get("value")
        what = (
            f"standard {action.get('target_id')} {label(value)}"
            if action.get("kind") == "standard"
            else f"criterion {action.get('target_id')} scored {value}"
        )
        changes = "; ".join(f"{sid} {label(a)} to {label(b)}" for sid, a, b in action.get("changes", []))
        return f"Override: {what} (changes {changes}). Reason: {action.get('reason', '')}"
    words = review.DECISION_WORDS.get(action.get("decision", ""), action.get("decision", ""))
    text = f"Decision: {words}"
    if approval.kind == "decision" and action.get("engine_outcome"):
        text += f" (the engine's outcome: {label(action['engine_outcome'])})"
    if action.get("conditions"):
        text += f". Conditions: {action['conditions']}"
    if action.get("due_on"):
        due = dt.date.fromisoformat(action["due_on"])
        text += f", due by {due.day} {due:%B %Y}"
    if action.get("notes"):
        text += f". Notes: {action['notes']}"
    return text


@dataclass(frozen=True)
class ApprovalLine:
    approval: Approval
    organisation: Organisation
    cycle: AssessmentCycle
    proposer: str
    decider: Optional[str]
    what: str
    mine: bool  # the viewer proposed it: may withdraw, may not approve

    @property
    def can_approve(self) -> bool:
        return self.approval.status == "pending" and not self.mine


def _lines(session: Session, rows: list[Approval], viewer_id: Optional[int]) -> list[ApprovalLine]:
    names: dict[Optional[int], Optional[str]] = {None: None}
    out = []
    for row in rows:
        for uid in (row.proposed_by, row.decided_by):
            if uid not in names:
                user = session.get(User, uid)
                names[uid] = user.name if user else "A lead"
        assessment = session.get(Assessment, row.assessment_id)
        membership = session.get(Membership, row.membership_id)
        out.append(
            ApprovalLine(
                row,
                session.get(Organisation, membership.organisation_id),
                session.get(AssessmentCycle, assessment.cycle_id),
                names[row.proposed_by] or "A lead",
                names[row.decided_by],
                summary(row),
                row.proposed_by == viewer_id,
            )
        )
    return out


def pending_lines(
    session: Session, alliance_id: Optional[int], viewer_id: Optional[int], assessment_id: Optional[int] = None
) -> list[ApprovalLine]:
    """The alliance's proposals awaiting approval, oldest first (one assessment's, with ``assessment_id``)."""
    if alliance_id is None:
        return []
    query = select(Approval).where(Approval.alliance_id == alliance_id, Approval.status == "pending")
    if assessment_id is not None:
        query = query.where(Approval.assessment_id == assessment_id)
    return _lines(
        session, list(session.exec(query.order_by(col(Approval.proposed_at), col(Approval.id))).all()), viewer_id
    )


def answered_lines(
    session: Session, alliance_id: Optional[int], viewer_id: Optional[int], limit: int = 20
) -> list[ApprovalLine]:
    """The viewer's own proposals that are no longer pending, latest first: approved, sent back (with the
    reason) or withdrawn."""
    if alliance_id is None or viewer_id is None:
        return []
    rows = session.exec(
        select(Approval)
        .where(Approval.alliance_id == alliance_id, Approval.proposed_by == viewer_id, Approval.status != "pending")
        .order_by(col(Approval.decided_at).desc(), col(Approval.id).desc())
        .limit(limit)
    ).all()
    return _lines(session, list(rows), viewer_id)

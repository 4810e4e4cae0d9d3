"""An alliance lead's review: one assessment in full, comments and decisions (the member hears of
each comment, decision and return through ``notifications``).

Every function takes the lead's alliance and refuses (``NotFound``) anything
of another alliance, so a lead of one alliance can neither read nor change
another's members, and cannot tell whether an id exists there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..models import (
    Alliance,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    Decision,
    Evidence,
    Membership,
    Organisation,
    ReviewComment,
    User,
    utcnow,
)
from . import messages
from . import overrides as override_service
from .assessments import AssessmentContext, answers_of, context, return_to_draft, start_review
from .common import Actor, NotFound, ServiceError, audit, get_or_404, require_text, snapshot
from .decisions import DECISIONS, consecutive_major_breaches, dismiss_suspension_recommendation, record_decision
from .evidence import one_evidence
from .notifications import notify
from .plans import PlanLine, plan_lines
from .progress import evidence_by_criterion
from .results import ResultView, result_view
from .scoring import current_result

DECISION_WORDS = {
    "accredit": "Accredited",
    "accredit_with_conditions": "Accredited with conditions",
    "working_towards": "Working towards accreditation",
    "decline": "Declined",
    "suspend": "Suspended",
    "reinstate": "Reinstated",
}
COMMENT_MAX = 5000


# -- one assessment ----------------------------------------------------------------------------------------------


def lead_assessment(session: Session, alliance_id: Optional[int], assessment_id: int) -> AssessmentContext:
    """A submitted assessment of the lead's own alliance; anything else is not found."""
    found = session.get(Assessment, assessment_id)
    membership = session.get(Membership, found.membership_id) if found else None
    if (
        found is None
        or membership is None
        or alliance_id is None
        or membership.alliance_id != alliance_id
        or found.status == "draft"
    ):
        raise NotFound(f"assessment {assessment_id} does not exist")
    return context(session, assessment_id)


def lead_evidence(session: Session, alliance_id: Optional[int], assessment_id: int, evidence_id: int) -> Evidence:
    lead_assessment(session, alliance_id, assessment_id)
    return one_evidence(session, assessment_id, evidence_id)


@dataclass(frozen=True)
class EarlierCycle:
    cycle: AssessmentCycle
    assessment: Assessment
    result: Optional[AssessmentResult]
    decision: Optional[Decision]


@dataclass(frozen=True)
class CommentLine:
    comment: ReviewComment
    author: str


@dataclass(frozen=True)
class ReviewPage:
    ctx: AssessmentContext
    cycle: AssessmentCycle
    view: ResultView
    answers: dict[str, Any]
    evidence: dict[str, list[Evidence]]
    earlier: list[EarlierCycle]
    comments: list[CommentLine]
    decisions: list[Decision]
    breach_streaks: dict[str, int]
    suspension_after_cycles: int
    decisions_open: list[str] = field(default_factory=list)
    plans: list[PlanLine] = field(default_factory=list)
    overrides: list[override_service.OverrideLine] = field(default_factory=list)
    overridable_criteria: list[tuple[str, str]] = field(default_factory=list)  # (id, words)
    overridable_standards: list[tuple[str, str]] = field(default_factory=list)

    @property
    def can_override(self) -> bool:
        return self.ctx.assessment.status in override_service.OVERRIDABLE


def latest_decision(session: Session, assessment_id: int) -> Optional[Decision]:
    return session.exec(
        select(Decision)
        .where(Decision.assessment_id == assessment_id)
        .order_by(col(Decision.decided_at).desc(), col(Decision.id).desc())
    ).first()


def decisions_of(session: Session, assessment_id: int) -> list[Decision]:
    return list(
        session.exec(
            select(Decision)
            .where(Decision.assessment_id == assessment_id)
            .order_by(col(Decision.decided_at), col(Decision.id))
        ).all()
    )


def earlier_cycles(session: Session, ctx: AssessmentContext) -> list[EarlierCycle]:
    """The same membership's submitted assessments of earlier cycles, latest first."""
    this_cycle = get_or_404(session, AssessmentCycle, ctx.assessment.cycle_id)
    rows = session.exec(
        select(AssessmentCycle, Assessment)
        .join(Assessment, Assessment.cycle_id == AssessmentCycle.id)
        .where(
            Assessment.membership_id == ctx.membership.id,
            Assessment.id != ctx.assessment.id,
            Assessment.status != "draft",
            AssessmentCycle.opens_on < this_cycle.opens_on,
        )
    ).all()
    rows = sorted(rows, key=lambda row: row[0].opens_on, reverse=True)
    return [EarlierCycle(c, a, current_result(session, a.id), latest_decision(session, a.id)) for c, a in rows]


def comments_on(session: Session, assessment_id: int) -> list[CommentLine]:
    rows = session.exec(
        select(ReviewComment, User)
        .join(User, User.id == ReviewComment.author_id, isouter=True)
        .where(ReviewComment.assessment_id == assessment_id)
        .order_by(col(ReviewComment.created_at), col(ReviewComment.id))
    ).all()
    return [CommentLine(c, u.name if u else "Alliance lead") for c, u in rows]


def decisions_open(ctx: AssessmentContext) -> list[str]:
    """The decisions the lead can take on this assessment now."""
    status, membership = ctx.assessment.status, ctx.membership.status
    if status in ("submitted", "under_review"):
        return ["accredit", "accredit_with_conditions", "working_towards", "decline"]
    if status == "decided":
        return ["reinstate"] if membership == "suspended" else ["suspend"]
    return []


def review_page(session: Session, alliance_id: Optional[int], assessment_id: int, min_peers: int) -> ReviewPage:
    ctx = lead_assessment(session, alliance_id, assessment_id)
    alliance = get_or_404(session, Alliance, ctx.membership.alliance_id)
    stored = current_result(session, assessment_id)
    return ReviewPage(
        ctx=ctx,
        cycle=get_or_404(session, AssessmentCycle, ctx.assessment.cycle_id),
        view=result_view(session, ctx, min_peers),
        answers=answers_of(session, assessment_id),
        evidence=evidence_by_criterion(session, assessment_id),
        earlier=earlier_cycles(session, ctx),
        comments=comments_on(session, assessment_id),
        decisions=decisions_of(session, assessment_id),
        breach_streaks=consecutive_major_breaches(session, ctx.membership.id),
        suspension_after_cycles=alliance.suspension_after_cycles,
        decisions_open=decisions_open(ctx),
        plans=plan_lines(session, ctx),
        overrides=override_service.lines_of(session, assessment_id, stored.result if stored else None),
        overridable_criteria=[(c.id, f"{c.id} {c.text}") for s, c in ctx.applicable_criteria() if c.scored],
        overridable_standards=[
            (s.id, f"{s.id} {s.title}")
            for s in ctx.standards.standards
            if s.applies.covers(ctx.member.route, ctx.member.specialty, ctx.member.org_type)
        ],
    )


# -- comments ----------------------------------------------------------------------------------------------------


def add_comment(
    session: Session,
    actor: Actor,
    alliance_id: Optional[int],
    assessment_id: int,
    body: str,
    criterion_id: Optional[str] = None,
) -> ReviewComment:
    """A comment to the member, which it sees with its assessment and in its notifications."""
    ctx = lead_assessment(session, alliance_id, assessment_id)
    text = (body or "").strip()
    if not text:
        raise ServiceError("comment: enter a comment for the member")
    if len(text) > COMMENT_MAX:
        raise ServiceError(f"comment: a comment can be at most {COMMENT_MAX} characters (this one has {len(text)})")
    require_text({"comment": text})
    criterion_id = (criterion_id or "").strip() or None
    if criterion_id is not None and criterion_id not in ctx.standards.criterion_lookup:
        raise ServiceError(f"criterion: {criterion_id} is not a question of {ctx.standards.title}")
    comment = ReviewComment(assessment_id=assessment_id, criterion_id=criterion_id, body=text, author_id=actor.user_id)
    session.add(comment)
    session.flush()
    audit(session, actor, "comment.added", comment, after=snapshot(comment))
    cycle = get_or_404(session, AssessmentCycle, ctx.assessment.cycle_id)
    notify(
        session,
        ctx.organisation.id,
        "comment",
        f"The alliance lead commented on your {cycle.name} self-assessment",
        text,
        assessment_id,
    )
    messages.lead_commented(session, comment.id, assessment_id, text)
    return comment


def member_comments(session: Session, assessment_id: int) -> list[CommentLine]:
    """Comments for the member's own pages (the caller has checked the assessment is theirs)."""
    return comments_on(session, assessment_id)


# -- decisions ---------------------------------------------------------------------------------------------------


def parse_due_date(day: str, month: str, year: str) -> Optional[dt.date]:
    """A due date from the three boxes of a date input; none when all are empty."""
    parts = [(p or "").strip() for p in (day, month, year)]
    if not any(parts):
        return None
    if not all(p.isdigit() for p in parts):
        raise ServiceError("due_on: the due date must be a real date, like 31 3 2027")
    try:
        return dt.date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        raise ServiceError("due_on: the due date must be a real date, like 31 3 2027") from None


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
) -> Decision:
    """Record the lead's decision (lifecycle and retention policy in ``record_decision``) and tell the member."""
    ctx = lead_assessment(session, alliance_id, assessment_id)
    check_decision(ctx, kind, conditions, due_on)
    decision = record_decision(session, actor, assessment_id, kind, conditions=conditions, due_on=due_on, notes=notes)
    session.flush()
    membership = get_or_404(session, Membership, ctx.membership.id)
    _told(session, ctx, decision, kind, membership)
    return decision


def check_decision(ctx: AssessmentContext, kind: str, conditions: str, due_on: Optional[dt.date]) -> None:
    """Refuse (``ServiceError``) a decision the lead cannot take on this assessment now, naming each problem."""
    if kind not in DECISIONS:
        raise ServiceError(f"decision: choose one of {', '.join(DECISION_WORDS[k].lower() for k in DECISIONS)}")
    if kind not in decisions_open(ctx):
        raise ServiceError(f"decision: {DECISION_WORDS[kind].lower()} is not open for this assessment now")
    if kind == "accredit_with_conditions":
        problems = []
        if not conditions.strip():
            problems.append("conditions: enter the conditions the member must meet")
        if due_on is None:
            problems.append("due_on: enter the date the conditions are due")
        elif due_on <= utcnow().date():
            problems.append("due_on: the due date must be in the future")
        if problems:
            raise ServiceError("; ".join(problems))


def _told(session: Session, ctx: AssessmentContext, decision: Decision, kind: str, membership: Membership) -> None:
    """The member hears of a decision: in the app and by email."""
    cycle = get_or_404(session, AssessmentCycle, ctx.assessment.cycle_id)
    lines = [f"Decision on your {cycle.name} self-assessment: {DECISION_WORDS[kind]}."]
    if decision.conditions:
        lines.append(f"Conditions: {decision.conditions}")
    if decision.due_on:
        lines.append(f"Due by {decision.due_on.day} {decision.due_on:%B %Y}.")
    if decision.notes:
        lines.append(decision.notes)
    lines.append(f"Your membership status is now {membership.status.replace('_', ' ')}.")
    notify(
        session,
        ctx.organisation.id,
        "decision",
        f"{DECISION_WORDS[kind]}: {cycle.name} self-assessment",
        "\n".join(lines),
        ctx.assessment.id,
    )
    messages.decision_made(session, decision, DECISION_WORDS[kind], membership.status)


def take_into_review(session: Session, actor: Actor, alliance_id: Optional[int], assessment_id: int) -> Assessment:
    """The lead takes a submitted assessment into review (the queue shows who is being looked at)."""
    lead_assessment(session, alliance_id, assessment_id)
    return start_review(session, actor, assessment_id)


def return_to_member(
    session: Session, actor: Actor, alliance_id: Optional[int], assessment_id: int, note: str
) -> Assessment:
    """Send an assessment back to the member for changes, telling it what to change."""
    ctx = lead_assessment(session, alliance_id, assessment_id)
    assessment = return_to_draft(session, actor, assessment_id, note)
    cycle = get_or_404(session, AssessmentCycle, assessment.cycle_id)
    notify(
        session,
        ctx.organisation.id,
        "returned",
        f"Your {cycle.name} self-assessment is returned for changes",
        note.strip(),
        assessment_id,
    )
    messages.assessment_returned(session, assessment_id, note)
    return assessment


def keep_member(
    session: Session, actor: Actor, alliance_id: Optional[int], membership_id: int, notes: str
) -> Membership:
    """The lead decides not to suspend a member the retention policy recommends suspending, saying why."""
    membership = session.get(Membership, membership_id)
    if membership is None or alliance_id is None or membership.alliance_id != alliance_id:
        raise NotFound(f"membership {membership_id} does not exist")
    return dismiss_suspension_recommendation(session, actor, membership_id, notes)


# -- overrides ---------------------------------------------------------------------------------------------------


def override(
    session: Session,
    actor: Actor,
    alliance_id: Optional[int],
    assessment_id: int,
    kind: str,
    target_id: str,
    value: Any,
    reason: str,
):
    """Set a lead's override on an assessment of its own alliance and score the assessment again."""
    lead_assessment(session, alliance_id, assessment_id)
    return override_service.set_override(
        session, actor, context(session, assessment_id, lock=True), kind, target_id, value, reason
    )


def remove_override(
    session: Session, actor: Actor, alliance_id: Optional[int], assessment_id: int, override_id: int, reason: str = ""
) -> None:
    lead_assessment(session, alliance_id, assessment_id)
    override_service.remove_override(session, actor, context(session, assessment_id, lock=True), override_id, reason)


# -- retention -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionCase:
    membership: Membership
    organisation: Organisation
    streaks: dict[str, int]


def retention_cases(
    session: Session, alliance_id: int, limit: Optional[int] = None
) -> tuple[list[RetentionCase], list[RetentionCase]]:
    """(suspension recommended, at risk without a recommendation) for the lead's attention, by name; at most
    ``limit`` of each (their streaks are read member by member), ``retention_counts`` says how many in all."""

    def cases(condition) -> list[RetentionCase]:
        rows = session.exec(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.alliance_id == alliance_id, condition)
            .order_by(col(Organisation.name), col(Membership.id))
            .limit(limit)
        ).all()
        return [RetentionCase(m, o, consecutive_major_breaches(session, m.id)) for m, o in rows]

    recommended = Membership.suspension_recommended == True  # noqa: E712
    return cases(recommended), cases(~recommended & (Membership.status == "at_risk"))


def retention_counts(session: Session, alliance_id: int) -> tuple[int, int]:
    """How many members have suspension recommended, and how many more are at risk."""
    recommended = Membership.suspension_recommended == True  # noqa: E712
    rows = session.exec(
        select(recommended, func.count())
        .where(Membership.alliance_id == alliance_id, recommended | (Membership.status == "at_risk"))
        .group_by(recommended)
    ).all()
    found = {bool(flag): count for flag, count in rows}
    return found.get(True, 0), found.get(False, 0)

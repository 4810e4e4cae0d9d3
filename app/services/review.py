"""An alliance lead's review: the queue, one assessment in full, comments and decisions (the member hears of
each comment, decision and return through ``notifications``).

Every function takes the lead's alliance and refuses (``NotFound``) anything
of another alliance, so a lead of one alliance can neither read nor change
another's members, and cannot tell whether an id exists there.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from sqlmodel import Session, col, select

from ..models import (
    ASSESSMENT_STATES,
    ROUTES,
    Alliance,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    Breach,
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
from .alliances import cycles_of
from .assessments import AssessmentContext, answers_of, context, return_to_draft, start_review
from .common import Actor, NotFound, ServiceError, audit, get_or_404, require_text, snapshot
from .decisions import DECISIONS, consecutive_major_breaches, dismiss_suspension_recommendation, record_decision
from .evidence import one_evidence
from .notifications import notify
from .plans import PlanLine, plan_lines
from .progress import evidence_by_criterion
from .results import ResultView, result_view
from .scoring import current_result

OUTCOMES = ("accredited", "accredited_with_conditions", "working_towards", "not_accredited")
QUEUE_STATES = tuple(s for s in ASSESSMENT_STATES if s != "draft")
SORTS = {
    "submitted": "Date submitted",
    "member": "Member name",
    "score": "Overall score",
    "breaches": "Major breaches",
    "cycle": "Cycle",
}
DECISION_WORDS = {
    "accredit": "Accredited",
    "accredit_with_conditions": "Accredited with conditions",
    "working_towards": "Working towards accreditation",
    "decline": "Declined",
    "suspend": "Suspended",
    "reinstate": "Reinstated",
}
COMMENT_MAX = 5000


# -- the queue -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    cycle_id: Optional[int] = None
    status: Optional[str] = None
    outcome: Optional[str] = None
    route: Optional[str] = None
    specialty: Optional[str] = None
    major_breach: Optional[bool] = None
    at_risk: Optional[bool] = None
    sort: str = "submitted"
    descending: bool = False


#: What each filter asks for, in the words of its error message.
FILTER_CHOICES = {
    "status": "a status",
    "outcome": "an engine outcome",
    "route": "a route",
    "major_breach": "yes or no for a major breach",
    "at_risk": "yes or no for a member at risk",
    "sort": "what to sort by",
}


def parse_filters(args: Mapping[str, str], cycles: list[AssessmentCycle]) -> tuple[QueueFilters, dict[str, str]]:
    """Filters from a query string; each value not understood is named in ``errors`` and ignored."""
    errors: dict[str, str] = {}

    def choice(name: str, allowed) -> Optional[str]:
        value = (args.get(name) or "").strip()
        if not value:
            return None
        if value not in allowed:
            errors[name] = f"Choose {FILTER_CHOICES.get(name, 'a value')} from the list: “{value}” is not one"
            return None
        return value

    def yes_no(name: str) -> Optional[bool]:
        value = choice(name, ("yes", "no"))
        return None if value is None else value == "yes"

    cycle_id = None
    raw_cycle = (args.get("cycle") or "").strip()
    if raw_cycle:
        known = {str(c.id): c.id for c in cycles}
        if raw_cycle not in known:
            errors["cycle"] = cycle_problem(raw_cycle)
        else:
            cycle_id = known[raw_cycle]
    specialty = (args.get("specialty") or "").strip() or None
    filters = QueueFilters(
        cycle_id=cycle_id,
        status=choice("status", QUEUE_STATES),
        outcome=choice("outcome", OUTCOMES),
        route=choice("route", ROUTES),
        specialty=specialty,
        major_breach=yes_no("major_breach"),
        at_risk=yes_no("at_risk"),
        sort=choice("sort", tuple(SORTS)) or "submitted",
        descending=(args.get("order") or "") == "desc",
    )
    if (args.get("order") or "") not in ("", "asc", "desc"):
        errors["order"] = "Choose ascending or descending order"
    return filters, errors


def cycle_problem(asked: str) -> str:
    """A cycle asked for (in a query string) that is not one of the alliance's, in a person's words."""
    return f"Choose a cycle from the list: “{asked}” is not one of this alliance’s cycles"


@dataclass(frozen=True)
class QueueItem:
    assessment: Assessment
    membership: Membership
    organisation: Organisation
    cycle: AssessmentCycle
    result: Optional[AssessmentResult]
    major_breaches: int
    minor_breaches: int

    @property
    def outcome(self) -> Optional[str]:
        return self.result.outcome if self.result else None

    @property
    def overall(self) -> Optional[float]:
        return self.result.overall if self.result else None

    @property
    def at_risk(self) -> bool:
        return self.membership.status == "at_risk"


@dataclass(frozen=True)
class Queue:
    items: list[QueueItem]
    counts: dict[str, int]  # per assessment state, over every other filter
    total: int
    cycles: list[AssessmentCycle]
    specialties: list[str]


def _queue_items(session: Session, alliance_id: int) -> list[QueueItem]:
    rows = session.exec(
        select(Assessment, Membership, Organisation, AssessmentCycle)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(Membership.alliance_id == alliance_id, Assessment.status != "draft")
    ).all()
    ids = [a.id for a, _, _, _ in rows]
    current = select(AssessmentResult).where(
        AssessmentResult.is_current == True,  # noqa: E712
        col(AssessmentResult.assessment_id).in_(ids or [-1]),
    )
    results = {r.assessment_id: r for r in session.exec(current).all()}
    severities: dict[int, Counter] = {}
    if results:
        current_ids = [r.id for r in results.values()]
        for breach in session.exec(select(Breach).where(col(Breach.result_id).in_(current_ids))).all():
            severities.setdefault(breach.assessment_id, Counter())[breach.severity] += 1
    return [
        QueueItem(
            a,
            m,
            o,
            c,
            results.get(a.id),
            severities.get(a.id, Counter())["major"],
            severities.get(a.id, Counter())["minor"],
        )
        for a, m, o, c in rows
    ]


def _matches(item: QueueItem, f: QueueFilters, ignore_status: bool = False) -> bool:
    return (
        (f.cycle_id is None or item.cycle.id == f.cycle_id)
        and (ignore_status or f.status is None or item.assessment.status == f.status)
        and (f.outcome is None or item.outcome == f.outcome)
        and (f.route is None or item.membership.route == f.route)
        and (f.specialty is None or item.membership.specialty == f.specialty)
        and (f.major_breach is None or (item.major_breaches > 0) == f.major_breach)
        and (f.at_risk is None or item.at_risk == f.at_risk)
    )


def _sort_key(sort: str):
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    keys = {
        "submitted": lambda i: (i.assessment.submitted_at or far, i.assessment.id),
        "member": lambda i: (i.organisation.name.lower(), i.assessment.id),
        "score": lambda i: (i.overall is None, i.overall or 0.0, i.assessment.id),
        "breaches": lambda i: (i.major_breaches, i.minor_breaches, i.assessment.id),
        "cycle": lambda i: (i.cycle.opens_on, i.organisation.name.lower()),
    }
    return keys[sort]


def review_queue(session: Session, alliance_id: int, filters: QueueFilters = QueueFilters()) -> Queue:
    """The alliance's submitted assessments that match the filters, sorted, with counts per state."""
    everything = _queue_items(session, alliance_id)
    matching = [i for i in everything if _matches(i, filters)]
    matching.sort(key=_sort_key(filters.sort), reverse=filters.descending)
    counts = Counter(i.assessment.status for i in everything if _matches(i, filters, ignore_status=True))
    cycles = cycles_of(session, alliance_id)
    specialties = sorted(
        {s for s in session.exec(select(Membership.specialty).where(Membership.alliance_id == alliance_id)).all() if s}
    )
    return Queue(matching, {state: counts.get(state, 0) for state in QUEUE_STATES}, len(matching), cycles, specialties)


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


def retention_cases(session: Session, alliance_id: int) -> tuple[list[RetentionCase], list[RetentionCase]]:
    """(suspension recommended, at risk without a recommendation) for the lead's attention."""
    rows = session.exec(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Membership.alliance_id == alliance_id,
            (Membership.suspension_recommended == True) | (Membership.status == "at_risk"),
        )  # noqa: E712
        .order_by(Organisation.name)
    ).all()
    recommended, at_risk = [], []
    for membership, organisation in rows:
        case = RetentionCase(membership, organisation, consecutive_major_breaches(session, membership.id))
        (recommended if membership.suspension_recommended else at_risk).append(case)
    return recommended, at_risk

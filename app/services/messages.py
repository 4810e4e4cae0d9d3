"""Who gets which email: the kinds of message, each person's email settings, and the outgoing mail written in
the caller's transaction (with the event's audit record) for a job to send once it commits.

One path for every email: ``queue_mail(session, kind, users, title, context)``: a kind (``KINDS``), its
recipients, a template (``context["template"]``, ``message`` unless said otherwise) and the template's
values, with ``path`` the page to act on (made absolute from ``BASE_URL`` when sent). Each recipient gets an
``OutgoingMail`` row, unique per (user, kind, subject, marker): an event or reminder is mailed once, however
often it is computed. The ids of rows to send are kept in ``session.info`` (``OUTBOX``): ``app/jobs/mail.py``
enqueues them when the transaction commits, and a rolled-back change sends nothing.

A member's emails go to the active member users of that organisation only; a lead's to the active leads of
that alliance. Essential kinds cannot be turned off; a lead may take the lead kinds as one daily digest.

Account emails (``ACCOUNT``: an invitation, a password reset link) carry a link that acts as a password for a
while. An invitation goes to an address with no account yet (``queue_mail_to``: the row has no user, and is
unique per kind, subject, marker and address instead). Their kinds are ``secret``: once such a mail is sent
(or has finally failed), its link is removed from the stored row (``REDACTED``), so the database keeps only
the token's hash for longer than the send takes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select, update

from ..models import (
    Assessment,
    AssessmentCycle,
    Decision,
    EmailSetting,
    ImprovementPlan,
    Membership,
    Organisation,
    OutgoingMail,
    User,
    utcnow,
)
from ..wording import label
from .common import Actor, NotFound, ServiceError, audit

#: ``session.info`` key: ids of outgoing mail written in this transaction, to enqueue once it commits.
OUTBOX = "outgoing_mail"
MEMBER, LEAD, ACCOUNT = "member", "lead", "account"
#: What a secret kind's ``path`` becomes once the mail has gone (or every retry failed).
REDACTED = "/"
#: Cycle-closing reminders, days before the cycle closes (the smallest threshold reached is the one sent).
CLOSING_DAYS = (14, 7, 1)
#: Plan actions and conditions: reminded this many days before they are due, and once when overdue.
DUE_SOON_DAYS = 7
SETTINGS_PATH = "/account/email"


@dataclass(frozen=True)
class Kind:
    name: str
    audience: str
    label: str
    essential: bool = False
    #: Its link signs someone in or sets a password: not kept once sent.
    secret: bool = False

    @property
    def digestible(self) -> bool:
        return self.audience == LEAD and self.name != "lead_digest"


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("application_decided", MEMBER, "Your application for membership is admitted or declined", essential=True),
        Kind("assessment_returned", MEMBER, "Your self-assessment is returned for changes", essential=True),
        Kind("decision_made", MEMBER, "A decision on your self-assessment, with any conditions", essential=True),
        Kind("condition_due", MEMBER, "A condition of accreditation due in 7 days or overdue", essential=True),
        Kind("lead_comment", MEMBER, "The alliance lead comments on your self-assessment"),
        Kind("buddy_proposal", MEMBER, "Your organisation is proposed as a buddy"),
        Kind("cycle_closing", MEMBER, "The cycle closes in 14, 7 or 1 days and your self-assessment is a draft"),
        Kind("plan_due", MEMBER, "An improvement plan's actions due in 7 days or overdue"),
        Kind("application_received", LEAD, "An organisation applies for membership"),
        Kind("assessment_submitted", LEAD, "A member submits a self-assessment"),
        Kind("buddy_response", LEAD, "A buddy pair is accepted or declined"),
        Kind("condition_overdue", LEAD, "A member's condition of accreditation is overdue"),
        Kind("approval_requested", LEAD, "Another lead's decision or override awaits your approval"),
        Kind("approval_answered", LEAD, "Your proposal is approved or sent back", essential=True),
        Kind("lead_digest", LEAD, "Your daily digest", essential=True),
        Kind("invitation", ACCOUNT, "An invitation to join, with a link to set a password", True, True),
        Kind("password_reset", ACCOUNT, "A link to reset your password, when you ask for one", True, True),
    )
}


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


# -- recipients and settings -------------------------------------------------------------------------------------


def members_of(session: Session, organisation_id: int) -> list[User]:
    """The active member users of one organisation: nobody else gets its email."""
    return list(
        session.exec(
            select(User)
            .where(User.organisation_id == organisation_id, User.role == MEMBER, User.active == True)  # noqa: E712
            .order_by(col(User.id))
        ).all()
    )


def leads_of(session: Session, alliance_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(User.alliance_id == alliance_id, User.role == LEAD, User.active == True)  # noqa: E712
            .order_by(col(User.id))
        ).all()
    )


def settings_of(session: Session, user_id: int) -> EmailSetting:
    """A person's email settings (a fresh, unsaved one when they have never changed them)."""
    return session.get(EmailSetting, user_id) or EmailSetting(user_id=user_id, muted=[], digest=False)


def kinds_for(role: str) -> list[Kind]:
    """The kinds a person of ``role`` may get, as the settings page lists them."""
    audience = LEAD if role == LEAD else MEMBER
    return [kind for kind in KINDS.values() if kind.audience == audience and kind.name != "lead_digest"]


def save_settings(session: Session, actor: Actor, user_id: int, enabled: Iterable[str], digest: bool) -> EmailSetting:
    """Keep the kinds ``enabled`` on and turn the person's other non-essential kinds off (essential ones stay
    on whatever is asked); ``digest`` only for a lead."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    offered = {kind.name: kind for kind in kinds_for(user.role)}
    enabled = set(enabled)
    unknown = sorted(enabled - set(offered))
    if unknown:
        raise ServiceError(f"kinds: {unknown[0]!r} is not a kind of email you can get")
    if digest and user.role != LEAD:
        raise ServiceError("digest: the daily digest is for alliance leads")
    setting = settings_of(session, user_id)
    before = {"muted": list(setting.muted), "digest": setting.digest}
    setting.muted = sorted(name for name, kind in offered.items() if not kind.essential and name not in enabled)
    setting.digest, setting.updated_at = bool(digest), utcnow()
    session.add(setting)
    session.flush()
    audit(
        session,
        actor,
        "email.settings_changed",
        entity_type="user",
        entity_id=user_id,
        before=before,
        after={"muted": setting.muted, "digest": setting.digest},
    )
    return setting


# -- the one path ------------------------------------------------------------------------------------------------


def queue_mail(
    session: Session,
    kind: str,
    users: Sequence[User],
    *,
    title: str,
    context: Mapping[str, Any],
    subject: str,
    marker: str = "",
) -> list[int]:
    """One email of ``kind`` to each of ``users`` who gets it, in the caller's transaction; the ids written.

    ``context`` is JSON (the template's values, ``path`` the page to act on); ``subject`` and ``marker`` make
    the row's unique key with the user and kind: a second call for the same ones writes nothing."""
    spec = KINDS[kind]
    if not users:
        return []
    if spec.audience == ACCOUNT and len(users) != 1:
        raise ValueError(f"{kind} emails go to one person at a time")
    chosen = {
        s.user_id: s
        for s in session.exec(select(EmailSetting).where(col(EmailSetting.user_id).in_([u.id for u in users])))
    }
    rows = []
    for user in users:
        setting = chosen.get(user.id)
        if setting is not None and not spec.essential and kind in (setting.muted or []):
            continue
        held = spec.digestible and setting is not None and setting.digest
        rows.append(_row(user.id, kind, user.email, user.name, title, context, subject, marker, held))
    return _write(session, rows, ["user_id", "kind", "subject", "marker"])


def queue_mail_to(
    session: Session,
    kind: str,
    address: str,
    *,
    name: str,
    title: str,
    context: Mapping[str, Any],
    subject: str,
    marker: str = "",
) -> list[int]:
    """One essential account email (an invitation) to an address that has no account yet, in the caller's
    transaction, as ``queue_mail`` writes one: once per (kind, subject, marker, address)."""
    if KINDS[kind].audience != ACCOUNT:
        raise ValueError(f"{kind} emails go to people with an account: use queue_mail")
    row = _row(None, kind, address, name, title, context, subject, marker, held=False)
    return _write(session, [row], ["kind", "subject", "marker", "to_address"], where="user_id IS NULL")


def _row(
    user_id: Optional[int],
    kind: str,
    address: str,
    name: str,
    title: str,
    context: Mapping[str, Any],
    subject: str,
    marker: str,
    held: bool,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "kind": kind,
        "subject": subject[:64],
        "marker": marker[:64],
        "to_address": address,
        "title": title[:300],
        "context": {"template": "message", **context, "name": name},
        "status": "held" if held else "pending",
        "attempts": 0,
        "last_error": "",
        "created_at": utcnow(),
    }


def _write(session: Session, rows: list[dict[str, Any]], unique: list[str], where: Optional[str] = None) -> list[int]:
    """Insert the rows, leaving out any that were written before (``unique``, under ``where``); the ids written,
    the pending ones noted for the hook that enqueues them after the commit."""
    if not rows:
        return []
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(OutgoingMail)
        .values(rows)
        .on_conflict_do_nothing(index_elements=unique, index_where=text(where) if where else None)
        .returning(OutgoingMail.id, OutgoingMail.status)
    )
    written = session.execute(statement).all()
    session.info.setdefault(OUTBOX, []).extend(row_id for row_id, status in written if status == "pending")
    return [row_id for row_id, _ in written]


# -- events (called by the services where they happen) -----------------------------------------------------------


def _assessment_world(session: Session, assessment_id: int) -> tuple[Assessment, Membership, Organisation, str]:
    assessment = session.get(Assessment, assessment_id)
    membership = session.get(Membership, assessment.membership_id)
    organisation = session.get(Organisation, membership.organisation_id)
    cycle = session.get(AssessmentCycle, assessment.cycle_id)
    return assessment, membership, organisation, cycle.name


def assessment_submitted(session: Session, assessment_id: int, outcome: Optional[str]) -> list[int]:
    assessment, membership, organisation, cycle = _assessment_world(session, assessment_id)
    return queue_mail(
        session,
        "assessment_submitted",
        leads_of(session, membership.alliance_id),
        title=f"{organisation.name} submitted its {cycle} self-assessment",
        subject=f"assessment:{assessment_id}",
        marker=assessment.submitted_at.isoformat() if assessment.submitted_at else "",
        context={
            "paragraphs": [f"{organisation.name} has submitted its {cycle} self-assessment for review."],
            "details": [["Organisation", organisation.name], ["Cycle", cycle]]
            + ([["Engine outcome", label(outcome)]] if outcome else []),
            "action": "Review the self-assessment",
            "path": f"/review/assessments/{assessment_id}",
        },
    )


def assessment_returned(session: Session, assessment_id: int, note: str) -> list[int]:
    assessment, _, organisation, cycle = _assessment_world(session, assessment_id)
    return queue_mail(
        session,
        "assessment_returned",
        members_of(session, organisation.id),
        title=f"Your {cycle} self-assessment is returned for changes",
        subject=f"assessment:{assessment_id}",
        marker=utcnow().isoformat(),
        context={
            "paragraphs": [
                f"The alliance lead has returned {organisation.name}'s {cycle} self-assessment for changes."
            ],
            "quote": note.strip(),
            "quote_label": "What to change",
            "action": "Change your self-assessment",
            "path": f"/member/assessments/{assessment_id}",
        },
    )


def decision_made(session: Session, decision: Decision, words: str, status: str) -> list[int]:
    _, _, organisation, cycle = _assessment_world(session, decision.assessment_id)
    details = [["Decision", words], ["Membership status", label(status)]]
    if decision.conditions:
        details.append(["Conditions", decision.conditions])
    if decision.due_on:
        details.append(["Conditions due by", _day(decision.due_on)])
    if decision.notes:
        details.append(["Notes", decision.notes])
    return queue_mail(
        session,
        "decision_made",
        members_of(session, organisation.id),
        title=f"Decision on your {cycle} self-assessment: {words}",
        subject=f"decision:{decision.id}",
        context={
            "paragraphs": [f"The alliance lead has decided on {organisation.name}'s {cycle} self-assessment."],
            "details": details,
            "action": "See the decision and your result",
            "path": f"/member/assessments/{decision.assessment_id}/result",
        },
    )


def lead_commented(session: Session, comment_id: int, assessment_id: int, body: str) -> list[int]:
    _, _, organisation, cycle = _assessment_world(session, assessment_id)
    return queue_mail(
        session,
        "lead_comment",
        members_of(session, organisation.id),
        title=f"The alliance lead commented on your {cycle} self-assessment",
        subject=f"comment:{comment_id}",
        context={
            "paragraphs": [f"The alliance lead left a comment on {organisation.name}'s {cycle} self-assessment."],
            "quote": body,
            "quote_label": "Comment",
            "action": "Read the comment",
            "path": f"/member/assessments/{assessment_id}",
        },
    )


def application_received(
    session: Session, application_id: int, alliance_id: int, organisation: Organisation, route: str
) -> list[int]:
    """The alliance's leads hear of a new application (``services/admission.py``)."""
    return queue_mail(
        session,
        "application_received",
        leads_of(session, alliance_id),
        title=f"{organisation.name} applies for membership",
        subject=f"application:{application_id}",
        context={
            "paragraphs": [f"{organisation.name} has applied for {route} membership of your alliance."],
            "details": [
                ["Organisation", f"{organisation.name} ({organisation.ods_code})"],
                ["Type", label(organisation.org_type)],
                ["Region", organisation.region],
                ["Route", route],
            ],
            "action": "Consider the application",
            "path": f"/review/applications/{application_id}",
        },
    )


def approval_requested(
    session: Session, approval_id: int, alliance_id: int, proposer: User, what: str, assessment_id: int
) -> list[int]:
    """A lead proposed an action that needs a second lead: the alliance's other leads are asked to approve it."""
    _, _, organisation, cycle = _assessment_world(session, assessment_id)
    others = [u for u in leads_of(session, alliance_id) if u.id != proposer.id]
    return queue_mail(
        session,
        "approval_requested",
        others,
        title=f"Awaiting your approval: {organisation.name}, {cycle}",
        subject=f"approval:{approval_id}",
        context={
            "paragraphs": [
                f"{proposer.name} proposes an action on {organisation.name}'s {cycle} self-assessment that needs "
                "a second lead's approval before it takes effect."
            ],
            "details": [["Proposed by", proposer.name], ["Organisation", organisation.name], ["Proposal", what]],
            "action": "Approve or send it back",
            "path": "/review/approvals",
        },
    )


def application_decided(
    session: Session, application_id: int, organisation: Organisation, alliance_name: str, admitted: bool, reason: str
) -> list[int]:
    """The applicant's users hear that its application is admitted or declined (essential)."""
    words = "admitted" if admitted else "declined"
    paragraphs = [f"{alliance_name} has {words} {organisation.name}'s application for membership."]
    if admitted:
        paragraphs.append("Your membership starts now, working towards accreditation: begin your self-assessment.")
    return queue_mail(
        session,
        "application_decided",
        members_of(session, organisation.id),
        title=f"Your application to {alliance_name} is {words}",
        subject=f"application:{application_id}",
        context={
            "paragraphs": paragraphs,
            **({"quote": reason, "quote_label": "Reason"} if reason else {}),
            "action": "See your membership",
            "path": "/member/",
        },
    )


def approval_answered(
    session: Session, approval_id: int, proposer: User, approver: User, what: str, assessment_id: int, reason: str
) -> list[int]:
    """The proposer hears that a second lead approved its proposal (it has taken effect), or sent it back."""
    _, _, organisation, cycle = _assessment_world(session, assessment_id)
    approved = not reason
    verb = "approved" if approved else "sent back"
    context: dict[str, Any] = {
        "paragraphs": [
            f"{approver.name} {verb} your proposal on {organisation.name}'s {cycle} self-assessment."
            + (" It has taken effect and the member has been told." if approved else " It has not taken effect.")
        ],
        "details": [["Proposal", what], ["Organisation", organisation.name]],
        "action": "See the self-assessment" if approved else "See your proposals",
        "path": f"/review/assessments/{assessment_id}" if approved else "/review/approvals",
    }
    if not approved:
        context.update(quote=reason, quote_label="Why it was sent back")
    return queue_mail(
        session,
        "approval_answered",
        [proposer],
        title=f"Your proposal is {verb}: {organisation.name}, {cycle}",
        subject=f"approval:{approval_id}",
        marker=verb,
        context=context,
    )


def buddy_proposed(session: Session, pair_ids: Sequence[int]) -> list[int]:
    """Each proposed pair with a buddy: the buddy organisation's users are asked to accept it."""
    from ..models import BuddyAssignment  # noqa: PLC0415  (kept beside its only use)

    written = []
    for pair in session.exec(select(BuddyAssignment).where(col(BuddyAssignment.id).in_(list(pair_ids)))):
        if pair.buddy_membership_id is None or pair.status != "proposed":
            continue
        buddy = session.get(Membership, pair.buddy_membership_id)
        mentee = session.get(Organisation, session.get(Membership, pair.mentee_membership_id).organisation_id)
        written += queue_mail(
            session,
            "buddy_proposal",
            members_of(session, buddy.organisation_id),
            title=f"Will you buddy {mentee.name} on {pair.standard_id}?",
            subject=f"pair:{pair.id}",
            context={
                "paragraphs": [
                    f"Your organisation meets standard {pair.standard_id} and is proposed as a buddy to "
                    f"{mentee.name}, which is working towards it.",
                    "Accept the proposal, or withdraw it saying why, from your home page.",
                ],
                "details": [["Member to support", mentee.name], ["Standard", pair.standard_id]],
                "action": "Accept or decline the proposal",
                "path": "/member/#buddying",
            },
        )
    return written


def buddy_answered(session: Session, pair_id: int, accepted: bool, reason: str = "") -> list[int]:
    """A pair accepted by both sides, or declined (withdrawn by one of its organisations): its alliance's leads."""
    from ..models import BuddyAssignment  # noqa: PLC0415

    pair = session.get(BuddyAssignment, pair_id)
    mentee = session.get(Organisation, session.get(Membership, pair.mentee_membership_id).organisation_id)
    buddy = (
        session.get(Organisation, session.get(Membership, pair.buddy_membership_id).organisation_id)
        if pair.buddy_membership_id
        else None
    )
    what = "accepted" if accepted else "declined"
    details = [["Member supported", mentee.name], ["Buddy", buddy.name if buddy else "none"]]
    details.append(["Standard", pair.standard_id])
    if reason:
        details.append(["Reason", reason])
    return queue_mail(
        session,
        "buddy_response",
        leads_of(session, pair.alliance_id),
        title=f"Buddy pair {what}: {buddy.name if buddy else 'no buddy'} and {mentee.name} on {pair.standard_id}",
        subject=f"pair:{pair.id}",
        marker=what,
        context={
            "paragraphs": [f"The buddy pair for {mentee.name} on {pair.standard_id} is {what}."],
            "details": details,
            "action": "Open the buddying board",
            "path": f"/review/buddying#pair-{pair.id}",
        },
    )


# -- account emails (one person, a link that works once) ----------------------------------------------------------


def invitation(session: Session, invitation: Any, token: str, place: str, inviter: str) -> list[int]:
    """An invitation's email (the first or a resend: ``sends`` is the marker) to its address, which has no
    account yet. ``token`` goes into the link only: the row keeps it until the mail is sent."""
    days = max(1, round((invitation.expires_at - utcnow()).total_seconds() / 86400))
    return queue_mail_to(
        session,
        "invitation",
        invitation.email,
        name=invitation.email,
        title=f"You are invited to join Alliance accreditation as {place}",
        subject=f"invitation:{invitation.id}",
        marker=f"send-{invitation.sends}",
        context={
            "paragraphs": [
                f"{inviter} has invited you to join Alliance accreditation as {place}.",
                f"Follow the link to choose your password and sign in. The link works once, for {days} "
                f"day{'s' if days != 1 else ''} (until {_day(invitation.expires_at.date())}).",
                "If you did not expect this invitation, you can ignore this email.",
            ],
            "action": "Accept the invitation",
            "path": f"/invitation/{token}",
        },
    )


def password_reset(session: Session, user: User, reset_id: int, token: str, minutes: int) -> list[int]:
    """A password reset link, to the person who asked for it (only to an account's own address)."""
    return queue_mail(
        session,
        "password_reset",
        [user],
        title="Reset your password for Alliance accreditation",
        subject=f"reset:{reset_id}",
        context={
            "paragraphs": [
                "Someone, hopefully you, asked to reset the password of your account.",
                f"Follow the link to choose a new password. The link works once, for {minutes} minutes. "
                "Every session of yours is signed out when the password changes.",
                "If you did not ask for this, you can ignore this email: your password stays as it is.",
            ],
            "action": "Choose a new password",
            "path": f"/reset-password/{token}",
        },
    )


# -- reminders: computed from the database, each once per person and due marker -------------------------------------


def closing_marker(days_left: int) -> Optional[str]:
    """The cycle-closing threshold reached with ``days_left`` (the smallest one): "14", "7", "1" or none."""
    if days_left < 0:
        return None
    reached = [days for days in CLOSING_DAYS if days_left <= days]
    return str(min(reached)) if reached else None


def due_marker(due_on: dt.date, today: dt.date) -> Optional[str]:
    """``due`` from 7 days before ``due_on``, ``overdue`` after it; none before that."""
    if due_on < today:
        return "overdue"
    if (due_on - today).days <= DUE_SOON_DAYS:
        return "due"
    return None


def queue_reminders(session: Session, today: dt.date) -> int:
    """Every reminder due ``today`` that has not been written yet; how many emails were written."""
    written = 0
    written += _closing_reminders(session, today)
    written += _plan_reminders(session, today)
    written += _condition_reminders(session, today)
    return written


def _closing_reminders(session: Session, today: dt.date) -> int:
    written = 0
    rows = session.exec(
        select(Assessment, AssessmentCycle, Membership, Organisation)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Assessment.status == "draft",
            AssessmentCycle.closes_on >= today,
            AssessmentCycle.closes_on <= today + dt.timedelta(days=max(CLOSING_DAYS)),
        )
    ).all()
    for assessment, cycle, _, organisation in rows:
        days_left = (cycle.closes_on - today).days
        marker = closing_marker(days_left)
        if marker is None:
            continue
        when = "tomorrow" if days_left == 1 else "today" if days_left == 0 else f"in {days_left} days"
        written += len(
            queue_mail(
                session,
                "cycle_closing",
                members_of(session, organisation.id),
                title=f"The {cycle.name} cycle closes {when}: your self-assessment is still a draft",
                subject=f"assessment:{assessment.id}",
                marker=f"closing-{marker}",
                context={
                    "paragraphs": [
                        f"The {cycle.name} cycle closes on {_day(cycle.closes_on)} and {organisation.name}'s "
                        "self-assessment is still a draft.",
                        "Finish your answers and evidence and submit it before the cycle closes.",
                    ],
                    "details": [["Cycle", cycle.name], ["Closes", _day(cycle.closes_on)]],
                    "action": "Finish your self-assessment",
                    "path": f"/member/assessments/{assessment.id}",
                },
            )
        )
    return written


def _plan_reminders(session: Session, today: dt.date) -> int:
    written = 0
    rows = session.exec(
        select(ImprovementPlan, Membership, Organisation)
        .join(Assessment, Assessment.id == ImprovementPlan.assessment_id)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            ImprovementPlan.progress != "completed",
            ImprovementPlan.due_on <= today + dt.timedelta(days=DUE_SOON_DAYS),
        )
    ).all()
    for plan, _, organisation in rows:
        marker = due_marker(plan.due_on, today)
        if marker is None:
            continue
        overdue = marker == "overdue"
        written += len(
            queue_mail(
                session,
                "plan_due",
                members_of(session, organisation.id),
                title=(
                    f"Improvement plan for {plan.standard_id} is overdue"
                    if overdue
                    else f"Improvement plan for {plan.standard_id} is due on {_day(plan.due_on)}"
                ),
                subject=f"plan:{plan.id}",
                marker=f"{marker}-{plan.due_on.isoformat()}",
                context={
                    "paragraphs": [
                        f"The actions of {organisation.name}'s improvement plan for {plan.standard_id} "
                        + (f"were due on {_day(plan.due_on)}." if overdue else f"are due on {_day(plan.due_on)}."),
                        "Update the plan's progress, or its due date if it has moved.",
                    ],
                    "details": [["Gap", plan.gap], ["Owner", plan.owner], ["Due", _day(plan.due_on)]],
                    "action": "Update the improvement plan",
                    "path": f"/member/assessments/{plan.assessment_id}/plans/{plan.gap}",
                },
            )
        )
    return written


def _open_conditions(session: Session, today: dt.date) -> list[tuple[Decision, Membership, Organisation, str]]:
    """Decisions with conditions, the latest decision on their assessment, whose membership is still
    accredited with conditions, due within 7 days or overdue."""
    rows = session.exec(
        select(Decision, Membership, Organisation, AssessmentCycle)
        .join(Assessment, Assessment.id == Decision.assessment_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Decision.kind == "accredit_with_conditions",
            col(Decision.due_on).is_not(None),
            Decision.due_on <= today + dt.timedelta(days=DUE_SOON_DAYS),
            Membership.status == "accredited_with_conditions",
        )
        .order_by(col(Decision.id))
    ).all()
    latest = {}
    for decision_id, assessment_id in session.exec(
        select(Decision.id, Decision.assessment_id).where(
            col(Decision.assessment_id).in_({row[0].assessment_id for row in rows})
        )
    ):
        latest[assessment_id] = max(latest.get(assessment_id, 0), decision_id)
    return [
        (decision, membership, organisation, cycle.name)
        for decision, membership, organisation, cycle in rows
        if latest.get(decision.assessment_id) == decision.id
    ]


def _condition_reminders(session: Session, today: dt.date) -> int:
    written = 0
    for decision, membership, organisation, cycle in _open_conditions(session, today):
        marker = due_marker(decision.due_on, today)
        if marker is None:
            continue
        overdue = marker == "overdue"
        due = _day(decision.due_on)
        written += len(
            queue_mail(
                session,
                "condition_due",
                members_of(session, organisation.id),
                title=f"Conditions of your {cycle} accreditation "
                + ("are overdue" if overdue else f"are due on {due}"),
                subject=f"decision:{decision.id}",
                marker=f"{marker}-{decision.due_on.isoformat()}",
                context={
                    "paragraphs": [
                        f"{organisation.name} is accredited with conditions for {cycle}; the conditions "
                        + (f"were due on {due}." if overdue else f"are due on {due}.")
                    ],
                    "details": [["Conditions", decision.conditions], ["Due by", due]],
                    "action": "See the conditions",
                    "path": f"/member/assessments/{decision.assessment_id}/result",
                },
            )
        )
        if overdue:
            written += len(
                queue_mail(
                    session,
                    "condition_overdue",
                    leads_of(session, membership.alliance_id),
                    title=f"{organisation.name}: conditions of its {cycle} accreditation are overdue",
                    subject=f"decision:{decision.id}",
                    marker=f"overdue-{decision.due_on.isoformat()}",
                    context={
                        "paragraphs": [f"The conditions set for {organisation.name} ({cycle}) were due on {due}."],
                        "details": [["Organisation", organisation.name], ["Conditions", decision.conditions]],
                        "action": "Review the member",
                        "path": f"/review/assessments/{decision.assessment_id}",
                    },
                )
            )
    return written


# -- digests -------------------------------------------------------------------------------------------------------


def queue_digests(session: Session, today: dt.date) -> int:
    """One digest to each lead with held messages: the messages it lists are marked digested. How many."""
    held = session.exec(select(OutgoingMail).where(OutgoingMail.status == "held").order_by(col(OutgoingMail.id))).all()
    by_user: dict[int, list[OutgoingMail]] = {}
    for row in held:
        by_user.setdefault(row.user_id, []).append(row)
    written = 0
    for user_id, rows in by_user.items():
        user = session.get(User, user_id)
        ids = queue_mail(
            session,
            "lead_digest",
            [user],
            title=f"Your daily digest: {len(rows)} update{'s' if len(rows) != 1 else ''} for {_day(today)}",
            subject="digest",
            marker=today.isoformat(),
            context={
                "template": "digest",
                "items": [{"title": row.title, "path": row.context.get("path", "/")} for row in rows],
                "paragraphs": [f"What happened in your alliance since the last digest ({len(rows)})."],
                "action": "Open your review queue",
                "path": "/review/",
            },
        )
        if not ids:
            continue  # today's digest has gone already: these wait for tomorrow's
        session.execute(
            update(OutgoingMail)
            .where(col(OutgoingMail.id).in_([row.id for row in rows]))
            .values(status="digested", digest_id=ids[0])
        )
        written += 1
    return written


# -- delivery (the job's side) ------------------------------------------------------------------------------------


def claim(session: Session, mail_id: int) -> Optional[OutgoingMail]:
    """Take a pending email to send (None if it is not pending: sent, failed, or taken by another job)."""
    taken = session.execute(
        update(OutgoingMail)
        .where(col(OutgoingMail.id) == mail_id, col(OutgoingMail.status) == "pending")
        .values(status="sending", claimed_at=utcnow(), attempts=OutgoingMail.attempts + 1)
    )
    if taken.rowcount != 1:
        return None
    return session.get(OutgoingMail, mail_id)


def mark_sent(session: Session, mail_id: int) -> None:
    session.execute(
        update(OutgoingMail)
        .where(col(OutgoingMail.id) == mail_id)
        .values(status="sent", sent_at=utcnow(), last_error="")
    )
    _forget_link(session, mail_id)


def _forget_link(session: Session, mail_id: int) -> None:
    """A secret kind's link leaves the stored row once the mail is sent or has finally failed."""
    row = session.get(OutgoingMail, mail_id)
    if row is not None and row.kind in KINDS and KINDS[row.kind].secret:
        session.execute(
            update(OutgoingMail)
            .where(col(OutgoingMail.id) == mail_id)
            .values(context={**(row.context or {}), "path": REDACTED})
        )


def mark_failed(session: Session, mail_id: int, error: str, final: bool) -> None:
    """Back to pending for the next retry, or failed when none is left; the error kept for operators."""
    session.execute(
        update(OutgoingMail)
        .where(col(OutgoingMail.id) == mail_id)
        .values(status="failed" if final else "pending", last_error=error[:2000], claimed_at=None)
    )
    if final:
        _forget_link(session, mail_id)


def stranded(session: Session, now: dt.datetime, older_than: dt.timedelta) -> list[int]:
    """Emails no job is sending: never tried (written where no queue hook ran, or the queue was down), or
    claimed by a job that stopped mid-send; those are put back to pending. Their ids, to enqueue again."""
    cutoff = now - older_than
    stopped = list(
        session.exec(
            select(OutgoingMail.id).where(OutgoingMail.status == "sending", col(OutgoingMail.claimed_at) < cutoff)
        ).all()
    )
    if stopped:
        session.execute(
            update(OutgoingMail)
            .where(col(OutgoingMail.id).in_(stopped), col(OutgoingMail.status) == "sending")
            .values(status="pending", claimed_at=None)
        )
    never_tried = session.exec(
        select(OutgoingMail.id).where(
            OutgoingMail.status == "pending", OutgoingMail.attempts == 0, col(OutgoingMail.created_at) < cutoff
        )
    ).all()
    return sorted(set(stopped) | set(never_tried))

"""The database model of the alliance world, in one module.

Schema changes go through Alembic migrations (``migrations/``); a test checks
that these models and the migrated schema agree.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Optional

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

_clock: ContextVar[Optional[dt.datetime]] = ContextVar("alliance_clock", default=None)


def utcnow() -> dt.datetime:
    """The current time, or the time set by ``clock_at`` (demo history is recorded as it happened)."""
    fixed = _clock.get()
    return fixed if fixed is not None else dt.datetime.now(dt.timezone.utc)


@contextmanager
def clock_at(moment: dt.datetime) -> Iterator[None]:
    """Stamp everything done inside (in this thread) with ``moment``, which must be timezone-aware."""
    if moment.utcoffset() is None:
        raise ValueError("clock_at needs a timezone-aware datetime")
    token = _clock.set(moment)
    try:
        yield
    finally:
        _clock.reset(token)


# Vocabulary shared by models, services and views.
ROLES = ("member", "lead", "admin")
ROUTES = ("full", "specialty")
VERSION_STATES = ("draft", "published", "retired")
ASSESSMENT_STATES = ("draft", "submitted", "under_review", "decided")
BUDDY_STATES = ("proposed", "accepted", "active", "completed", "withdrawn")
APPLICATION_STATES = ("new", "under_consideration", "admitted", "declined", "withdrawn")
SPONSOR_STATES = ("", "requested", "confirmed", "refused")
#: A member user's roles inside their organisation (app/services/teams.py), kept space-separated.
TEAM_ROLES = ("org_admin", "contributor", "approver")
ALL_TEAM_ROLES = " ".join(TEAM_ROLES)


class Alliance(SQLModel, table=True):
    """An alliance of providers that accredits its members against one standards set."""

    id: Optional[int] = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    standards_set: str = Field(max_length=64, description="id of the standards set this alliance accredits against")
    # Retention policy (NOA model): benchmark targets every member must meet to retain membership.
    at_risk_on_major_breach: bool = True
    suspension_after_cycles: int = Field(
        default=2, description="consecutive cycles with a major breach on one standard before suspension is recommended"
    )
    max_buddy_mentees: int = 3
    created_at: dt.datetime = Field(default_factory=utcnow)


class StandardsVersion(SQLModel, table=True):
    """A standards file as stored: published by an operator, or a draft a lead uploaded to preview its impact
    (``created_by``: that lead; only a draft nothing is on can be deleted)."""

    __table_args__ = (UniqueConstraint("set_id", "version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    set_id: str = Field(max_length=64, index=True)
    version: str = Field(max_length=32)
    title: str = Field(max_length=300)
    content_hash: str = Field(max_length=64)
    source_name: str = Field(max_length=300)
    source_text: str = Field(sa_column=Column(Text, nullable=False))
    effective_from: dt.date
    state: str = Field(default="draft", max_length=16)
    created_at: dt.datetime = Field(default_factory=utcnow)
    published_at: Optional[dt.datetime] = None
    created_by: Optional[int] = Field(
        default=None, foreign_key="user.id", description="who registered it (none: the command line)"
    )


class Organisation(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    ods_code: str = Field(max_length=16, unique=True, description="ODS-style organisation code")
    org_type: str = Field(max_length=32)
    region: str = Field(max_length=100)
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class Membership(SQLModel, table=True):
    """An organisation's membership of an alliance on one route (and, for specialty, one specialty)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    alliance_id: int = Field(foreign_key="alliance.id", index=True)
    route: str = Field(max_length=16)
    specialty: Optional[str] = Field(default=None, max_length=64)
    status: str = Field(default="applicant", max_length=32)
    suspension_recommended: bool = False
    joined_on: Optional[dt.date] = None
    left_on: Optional[dt.date] = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class MembershipStatusChange(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    membership_id: int = Field(foreign_key="membership.id", index=True)
    from_status: Optional[str] = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    changed_by: Optional[int] = Field(default=None, foreign_key="user.id")
    changed_at: dt.datetime = Field(default_factory=utcnow)


class AssessmentCycle(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("alliance_id", "name"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    alliance_id: int = Field(foreign_key="alliance.id", index=True)
    name: str = Field(max_length=32, description="e.g. 2026/27")
    opens_on: dt.date
    closes_on: dt.date
    closed_at: Optional[dt.datetime] = Field(
        default=None, description="when the lead closed it (none: not closed); its dates are fixed from then"
    )
    closed_by: Optional[int] = Field(default=None, foreign_key="user.id")


class Assessment(SQLModel, table=True):
    """A membership's self-assessment for one cycle against one standards version."""

    __table_args__ = (
        UniqueConstraint("membership_id", "cycle_id"),
        # The review queue: an alliance's assessments by state, the waiting ones oldest first (migration 0022).
        Index("ix_assessment_membership_status", "membership_id", "status", "submitted_at"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    membership_id: int = Field(foreign_key="membership.id", index=True)
    cycle_id: int = Field(foreign_key="assessmentcycle.id", index=True)
    standards_version_id: int = Field(foreign_key="standardsversion.id", index=True)
    status: str = Field(default="draft", max_length=16)
    created_at: dt.datetime = Field(default_factory=utcnow)
    submitted_at: Optional[dt.datetime] = None
    decided_at: Optional[dt.datetime] = None
    # The approver's attestation given with the submission (app/services/teams.py); cleared when it is returned.
    attested_by: Optional[int] = Field(default=None, foreign_key="user.id")
    attested_name: Optional[str] = Field(default=None, max_length=200)
    attested_role: Optional[str] = Field(default=None, max_length=200)
    attested_at: Optional[dt.datetime] = None
    attestation: Optional[str] = Field(default=None, max_length=500)


class ReviewAssignment(SQLModel, table=True):
    """The lead of an assessment's alliance who is to review it, one at a time (no row: nobody yet).

    Set and cleared by the alliance's leads from the review queue or the assessment's page, each change audited
    (``services/review_queue.py:assign``)."""

    assessment_id: int = Field(primary_key=True, foreign_key="assessment.id")
    reviewer_id: int = Field(foreign_key="user.id", index=True)
    assigned_by: Optional[int] = Field(default=None, foreign_key="user.id")
    assigned_at: dt.datetime = Field(default_factory=utcnow)


class Answer(SQLModel, table=True):
    """One criterion's answer; one row per criterion so concurrent saves of different criteria never collide."""

    __table_args__ = (UniqueConstraint("assessment_id", "criterion_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    criterion_id: str = Field(max_length=64)
    value: Any = Field(default=None, sa_column=Column(JSON))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_by: Optional[int] = Field(default=None, foreign_key="user.id", description="who gave the answer last")
    updated_at: dt.datetime = Field(default_factory=utcnow)


class TeamAssignment(SQLModel, table=True):
    """The owner of a domain or a standard of a membership's self-assessments (app/services/teams.py): only
    they, among contributors, answer its questions. Kept per membership, so it carries over to the next cycle."""

    __table_args__ = (UniqueConstraint("membership_id", "scope", "ref"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    membership_id: int = Field(foreign_key="membership.id", index=True)
    scope: str = Field(max_length=16, description="domain or standard")
    ref: str = Field(max_length=64, description="the domain's or standard's id in the standards file")
    user_id: int = Field(foreign_key="user.id", index=True)
    assigned_by: Optional[int] = Field(default=None, foreign_key="user.id")
    assigned_at: dt.datetime = Field(default_factory=utcnow)


class Evidence(SQLModel, table=True):
    """A file or link backing an answer; file bytes live in the upload store, metadata here."""

    id: Optional[int] = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    criterion_id: str = Field(max_length=64)
    kind: str = Field(max_length=8, description="file or link")
    url: Optional[str] = Field(default=None, max_length=2000)
    filename: Optional[str] = Field(default=None, max_length=255)
    content_type: Optional[str] = Field(default=None, max_length=100)
    size: Optional[int] = None
    storage_key: Optional[str] = Field(default=None, max_length=255)
    sha256: Optional[str] = Field(default=None, max_length=64, description="checksum of a stored file's bytes")
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    uploaded_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)


class AssessmentResult(SQLModel, table=True):
    """The engine's result for an assessment, with the standards hash it was computed with.

    ``headline`` holds the parts other results are compared and matched on (``headline_of``), so those
    reads skip the whole document; the document is the last column (SQLite reads a row's columns in order).
    """

    __table_args__ = (
        Index(
            "ux_assessmentresult_current",
            "assessment_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    standards_version_id: int = Field(foreign_key="standardsversion.id")
    standards_hash: str = Field(max_length=64)
    overall: Optional[float] = None
    rating: Optional[str] = Field(default=None, max_length=32)
    outcome: str = Field(max_length=32)
    is_current: bool = True
    computed_at: dt.datetime = Field(default_factory=utcnow)
    headline: Any = Field(sa_column=Column(JSON, nullable=False))
    result: Any = Field(sa_column=Column(JSON, nullable=False))


class Breach(SQLModel, table=True):
    """A benchmark breach of a stored result, queryable across members.

    A copy of one of its result's breaches, found through its result. It is written only with its result,
    from the result itself, in the transaction that stores it (``write_results``). Its key to the result is
    the one check per row it pays (a result holds about ten breaches, written by the hundred thousand when a
    standards set is rescored), and a deleted result takes its breaches with it (migration 0012). Its
    assessment is a copy of its result's, not a key: ``python cli.py db status`` checks it.
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    result_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("assessmentresult.id", name="fk_breach_result", ondelete="CASCADE"),
            index=True,
            nullable=False,
        )
    )
    assessment_id: int
    criterion_id: str = Field(max_length=64)
    standard_id: str = Field(max_length=64)
    value: float
    target: float
    direction: str = Field(max_length=8)
    severity: str = Field(max_length=8)


class Decision(SQLModel, table=True):
    """An alliance lead's accreditation decision on an assessment."""

    id: Optional[int] = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    kind: str = Field(max_length=32)
    conditions: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    due_on: Optional[dt.date] = None
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    decided_by: Optional[int] = Field(default=None, foreign_key="user.id")
    decided_at: dt.datetime = Field(default_factory=utcnow)


class BuddyAssignment(SQLModel, table=True):
    """A pairing of a member needing support on a standard with a peer that meets it."""

    id: Optional[int] = Field(default=None, primary_key=True)
    alliance_id: int = Field(foreign_key="alliance.id", index=True)
    cycle_id: int = Field(foreign_key="assessmentcycle.id")
    mentee_membership_id: int = Field(foreign_key="membership.id", index=True)
    buddy_membership_id: Optional[int] = Field(default=None, foreign_key="membership.id", index=True)
    standard_id: str = Field(max_length=64)
    status: str = Field(default="proposed", max_length=16)
    lead_accepted_at: Optional[dt.datetime] = None
    buddy_accepted_at: Optional[dt.datetime] = None
    started_at: Optional[dt.datetime] = None
    ended_at: Optional[dt.datetime] = None
    end_reason: str = Field(default="", max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person: a member user (one organisation), an alliance lead (one alliance) or an admin."""

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    organisation_id: Optional[int] = Field(default=None, foreign_key="organisation.id")
    alliance_id: Optional[int] = Field(default=None, foreign_key="alliance.id")
    active: bool = True
    team_roles: str = Field(
        default=ALL_TEAM_ROLES,
        max_length=64,
        sa_column_kwargs={"server_default": ALL_TEAM_ROLES},
        description="a member user's roles in their organisation, space-separated (TEAM_ROLES)",
    )
    created_at: dt.datetime = Field(default_factory=utcnow)
    session_generation: int = Field(
        default=0,
        description="moves on to end every session of the user (sign out "
        "everywhere, a password change): a session begun "
        "under another generation is not signed in",
    )


class AuditEvent(SQLModel, table=True):
    """Append-only record of every state change: who, when, what, before and after."""

    id: Optional[int] = Field(default=None, primary_key=True)
    occurred_at: dt.datetime = Field(default_factory=utcnow, index=True)
    actor_id: Optional[int] = Field(default=None, foreign_key="user.id")
    actor: str = Field(max_length=254, description="who acted: a user's email, or 'cli' / 'system'")
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=32)
    entity_id: Optional[int] = None
    before: Any = Field(default=None, sa_column=Column(JSON))
    after: Any = Field(default=None, sa_column=Column(JSON))


class ReviewComment(SQLModel, table=True):
    """A lead's comment to a member on its self-assessment, shown to the member with the assessment."""

    id: Optional[int] = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    criterion_id: Optional[str] = Field(default=None, max_length=64, description="the question it is about, if any")
    body: str = Field(sa_column=Column(Text, nullable=False))
    author_id: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)


class Notification(SQLModel, table=True):
    """An in-app message to a member organisation (every user of it sees it) until one marks it read."""

    id: Optional[int] = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    assessment_id: Optional[int] = Field(default=None, foreign_key="assessment.id")
    kind: str = Field(max_length=32, description="decision or comment")
    title: str = Field(max_length=200)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: dt.datetime = Field(default_factory=utcnow)
    read_at: Optional[dt.datetime] = None
    read_by: Optional[int] = Field(default=None, foreign_key="user.id")


class ImprovementPlan(SQLModel, table=True):
    """A member's plan to close one gap of an assessment: a standard not met, or a benchmark breach."""

    __table_args__ = (UniqueConstraint("assessment_id", "gap"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    gap: str = Field(max_length=80, description="standard:<id> for a standard not met, breach:<criterion id>")
    standard_id: str = Field(max_length=64)
    criterion_id: Optional[str] = Field(default=None, max_length=64)
    actions: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=200)
    due_on: dt.date
    progress: str = Field(default="not_started", max_length=16)
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class ResultOverride(SQLModel, table=True):
    """A lead's override of a criterion's score or a standard's status, kept by id so it stays attached to
    its criterion or standard whenever the assessment is scored again."""

    __table_args__ = (UniqueConstraint("assessment_id", "kind", "target_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    kind: str = Field(max_length=16, description="criterion or standard")
    target_id: str = Field(max_length=64, description="the criterion or standard id")
    value: Any = Field(sa_column=Column(JSON, nullable=False), description="a score from 0 to 1, or met / not_met")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)


class RescoreRun(SQLModel, table=True):
    """An applied rescore of a standards set's assessments against one version: its work list, split into
    numbered batches that are tasks of the job queue (or of ``--jobs`` processes on one machine)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    set_id: str = Field(max_length=64, index=True)
    to_version_id: int = Field(foreign_key="standardsversion.id")
    cycle_name: Optional[str] = Field(default=None, max_length=32, description="only this cycle's assessments")
    status: str = Field(default="running", max_length=16, description="running or finished")
    total: int = 0
    started_by: str = Field(max_length=254)
    created_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: Optional[dt.datetime] = None


class RescoreItem(SQLModel, table=True):
    """One assessment of a rescore run, in one of its batches; ``done`` is set in the same transaction that
    stores its new result and marks its batch done, so an item is never done without its result nor rescored
    twice."""

    __table_args__ = (
        UniqueConstraint("run_id", "assessment_id"),
        Index("ix_rescoreitem_run_state", "run_id", "state"),
        Index("ix_rescoreitem_run_alliance", "run_id", "alliance_id"),
        Index("ix_rescoreitem_run_batch", "run_id", "batch"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="rescorerun.id")
    assessment_id: int = Field(foreign_key="assessment.id")
    alliance_id: int = Field(
        description="its assessment's alliance, copied when the run lists its items: they "
        "are batched alliance by alliance (not a key: migration 0009)"
    )
    batch: int = Field(description="the number of its batch in the run (rescorebatch.number)")
    state: str = Field(default="pending", max_length=16, description="pending, done or failed")
    done_at: Optional[dt.datetime] = None
    change: Any = Field(default=None, sa_column=Column(JSON), description="the report line: old and new result")


class RescoreBatch(SQLModel, table=True):
    """A batch of a rescore run: one task of the job queue. It is marked done in the transaction that stores
    its items' results, so a task delivered twice, or run again after its worker died, does nothing twice."""

    __table_args__ = (UniqueConstraint("run_id", "number"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="rescorerun.id")
    number: int
    size: int = 0
    state: str = Field(default="pending", max_length=16, description="pending or done")
    attempts: int = Field(default=0, description="how many times a task has started on it")
    enqueued_at: Optional[dt.datetime] = None
    started_at: Optional[dt.datetime] = Field(default=None, description="when a task last started on it")
    done_at: Optional[dt.datetime] = None


class RescoreRefresh(SQLModel, table=True):
    """An alliance cycle whose buddying needs a rescore run has refreshed (once its self-assessments were
    all rescored), so a resumed or shared run refreshes each one once."""

    __table_args__ = (UniqueConstraint("run_id", "alliance_id", "cycle_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="rescorerun.id", index=True)
    alliance_id: int = Field(foreign_key="alliance.id")
    cycle_id: int = Field(foreign_key="assessmentcycle.id")
    withdrawn: int = 0
    stored: int = 0
    refreshed_at: dt.datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token another system uses for the JSON API, scoped to one organisation or one alliance.

    Only a SHA-256 of the token is kept: the token itself is shown once, when it is created, so a copy of
    the database lets nobody call the API. ``prefix`` is its first characters, for telling tokens apart."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, description="what the token is for, e.g. the system that uses it")
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, description="SHA-256 of the token, hex")
    organisation_id: Optional[int] = Field(default=None, foreign_key="organisation.id", index=True)
    alliance_id: Optional[int] = Field(default=None, foreign_key="alliance.id", index=True)
    created_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_used_at: Optional[dt.datetime] = None
    revoked_at: Optional[dt.datetime] = None
    revoked_by: Optional[int] = Field(default=None, foreign_key="user.id")


class WebSession(SQLModel, table=True):
    """A browser's session, kept on the server (app/web/sessions.py); the cookie holds only a random id.

    Only a SHA-256 of that id is kept, so a copy of the database opens no session. ``expires_at`` moves on
    with each use (the idle limit) but never past ``ends_at``, which is fixed when the session begins."""

    id_hash: str = Field(primary_key=True, max_length=64, description="SHA-256 of the session id, hex")
    user_id: Optional[int] = Field(
        default=None, foreign_key="user.id", index=True, description="who is signed in, if anyone"
    )
    data: str = Field(sa_column=Column(Text, nullable=False), description="the session's values, as Flask tags them")
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime = Field(index=True)
    ends_at: dt.datetime


class MfaFactor(SQLModel, table=True):
    """A person's authenticator app (TOTP, app/services/mfa.py): one per person, pending until its first code
    is confirmed. The secret is kept only encrypted (Fernet, with a key derived from MFA_KEY or SECRET_KEY)."""

    user_id: int = Field(primary_key=True, foreign_key="user.id")
    secret_encrypted: str = Field(sa_column=Column(Text, nullable=False), description="Fernet token of the secret")
    created_at: dt.datetime = Field(default_factory=utcnow)
    confirmed_at: Optional[dt.datetime] = Field(default=None, description="none: enrolment not finished")
    last_step: Optional[int] = Field(
        default=None, description="the TOTP time step of the last code accepted: that code and older are refused"
    )
    failures: int = Field(default=0, description="wrong codes in a row since the last success or lock")
    locked_until: Optional[dt.datetime] = Field(default=None, description="no code is checked before this time")


class MfaRecoveryCode(SQLModel, table=True):
    """A one-time recovery code, kept only as a SHA-256 (the codes are 80 random bits: app/services/mfa.py)."""

    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    code_hash: str = Field(max_length=64, description="SHA-256 of the user id and the code, hex")
    created_at: dt.datetime = Field(default_factory=utcnow)
    used_at: Optional[dt.datetime] = None


class EmailSetting(SQLModel, table=True):
    """A person's choices on the "Email settings" page: the kinds of non-essential email turned off, and (a
    lead) one daily digest instead of single messages. No row: every kind on, no digest."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    muted: Any = Field(default_factory=list, sa_column=Column(JSON, nullable=False), description="kinds turned off")
    digest: bool = False
    updated_at: dt.datetime = Field(default_factory=utcnow)


class OutgoingMail(SQLModel, table=True):
    """One email to one person, written in the transaction of the event it tells of (so a change rolled back
    sends nothing) and sent by a job after that transaction commits (``app/jobs/mail.py``).

    (user, kind, subject, marker) is unique, and (kind, subject, marker, address) for mail to an address with
    no account (an invitation, ``user_id`` none): an event or a reminder (``marker``: which due date, which
    threshold) is mailed once per person, however often a reminder run or a retry comes round.
    ``status``: pending (to send), sending (claimed by a job since ``claimed_at``), sent, failed (every retry
    failed), held (waits for the lead's daily digest), digested (went out in one, ``digest_id``)."""

    __table_args__ = (
        UniqueConstraint("user_id", "kind", "subject", "marker", name="uq_outgoingmail_once"),
        Index("ix_outgoingmail_status", "status"),
        # Mail to an address with no account yet (an invitation): once per (kind, subject, marker, address).
        Index(
            "uq_outgoingmail_once_to_address",
            "kind",
            "subject",
            "marker",
            "to_address",
            unique=True,
            sqlite_where=text("user_id IS NULL"),
            postgresql_where=text("user_id IS NULL"),
        ),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: Optional[int] = Field(
        default=None, foreign_key="user.id", index=True, description="none: to an address with no account yet"
    )
    kind: str = Field(max_length=32)
    subject: str = Field(max_length=64, description="what it is about, e.g. assessment:12, decision:3")
    marker: str = Field(default="", max_length=64, description="which occurrence: a due threshold, a date")
    to_address: str = Field(max_length=254)
    title: str = Field(max_length=300, description="the email's subject line")
    context: Any = Field(default=None, sa_column=Column(JSON, nullable=False), description="the template's values")
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    digest_id: Optional[int] = Field(default=None, description="the digest email it went out in")
    created_at: dt.datetime = Field(default_factory=utcnow)
    claimed_at: Optional[dt.datetime] = None
    sent_at: Optional[dt.datetime] = None


class ExternalIdentity(SQLModel, table=True):
    """A person's identity at the single sign-on provider, linked to their account here (app/services/sso.py).

    The provider names a person by ``subject`` (``sub``), unique within its ``issuer``; the pair never changes,
    so a later sign-in finds the account by it, whatever the person's email becomes. ``email`` is the verified
    email the link was made with, kept for operators to see."""

    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    user_id: int = Field(foreign_key="user.id", index=True)
    email: str = Field(max_length=254)
    linked_at: dt.datetime = Field(default_factory=utcnow)
    last_signed_in_at: Optional[dt.datetime] = None


class SsoLinkPermit(SQLModel, table=True):
    """An operator's leave for one account to be linked to a single sign-on identity by verified email.

    Without it, a first sign-in through the provider links nothing and signs nobody in (app/services/sso.py)."""

    user_id: int = Field(primary_key=True, foreign_key="user.id")
    allowed_by: Optional[int] = Field(default=None, foreign_key="user.id")
    allowed_at: dt.datetime = Field(default_factory=utcnow)


class JobFailure(SQLModel, table=True):
    """A queued task that raised (``app/jobs/failures.py``): one row per failed attempt, for operators.

    Only what names the failure is kept: the task, the attempt, the error's type and first line. Never the
    traceback (it goes to the worker's log) nor the task's arguments beyond ``subject``, a short label made of
    ids (``impact preview 12``), so nothing a member entered is copied here."""

    id: Optional[int] = Field(default=None, primary_key=True)
    task_name: str = Field(max_length=200, index=True)
    task_id: str = Field(max_length=64)
    subject: str = Field(default="", max_length=200)
    failed_at: dt.datetime = Field(default_factory=utcnow, index=True)
    retries_left: int = Field(default=0, description="further attempts Huey will make (0: this was the last)")
    error_type: str = Field(max_length=200)
    message: str = Field(default="", max_length=500)


class ImpactPreview(SQLModel, table=True):
    """A lead's impact preview of a standards version for their alliance, computed by a queued job and kept
    until the version's content (``fingerprint``) or the published version it is compared with changes.
    ``lines`` and ``failures`` are the dry run's report; the outline and diff are read again from the versions."""

    __table_args__ = (UniqueConstraint("version_id", "alliance_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="standardsversion.id", index=True)
    alliance_id: int = Field(foreign_key="alliance.id")
    fingerprint: str = Field(max_length=100, description="the version's content hash and the compared version's id")
    status: str = Field(default="queued", max_length=16, description="queued, running, done or failed")
    done: int = 0
    total: int = 0
    lines: Any = Field(default=None, sa_column=Column(JSON))
    failures: Any = Field(default=None, sa_column=Column(JSON))
    error: str = Field(default="", max_length=500)
    requested_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: Optional[dt.datetime] = None
    cycle_id: Optional[int] = Field(
        default=None, foreign_key="assessmentcycle.id", description="only this cycle's self-assessments (none: all)"
    )


class CycleExport(SQLModel, table=True):
    """A whole cycle's export (results, breaches or decisions as CSV or JSON, or all of them in a zip), written
    by a queued job into ``EXPORT_DIR`` under a random name and downloaded by the alliance's leads."""

    id: Optional[int] = Field(default=None, primary_key=True)
    alliance_id: int = Field(foreign_key="alliance.id", index=True)
    cycle_id: int = Field(foreign_key="assessmentcycle.id")
    kind: str = Field(max_length=16)
    fmt: str = Field(max_length=8)
    status: str = Field(default="queued", max_length=16, description="queued, running, done or failed")
    file_name: Optional[str] = Field(default=None, max_length=100, description="inside EXPORT_DIR")
    size: Optional[int] = None
    rows: Optional[int] = None
    error: str = Field(default="", max_length=500)
    requested_by: Optional[int] = Field(default=None, foreign_key="user.id")
    created_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: Optional[dt.datetime] = None


class Invitation(SQLModel, table=True):
    """Someone asked by email to join as a member user of an organisation, a lead of an alliance, or an admin
    (app/services/invitations.py). Only a SHA-256 of the link's token is kept; the link works once, until
    ``expires_at``. Resending makes a new token (the old link stops working) and counts in ``sends``."""

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    role: str = Field(max_length=16)
    organisation_id: Optional[int] = Field(default=None, foreign_key="organisation.id", index=True)
    alliance_id: Optional[int] = Field(default=None, foreign_key="alliance.id", index=True)
    invited_by: Optional[int] = Field(default=None, foreign_key="user.id", description="none: the command line")
    team_roles: str = Field(
        default=ALL_TEAM_ROLES,
        max_length=64,
        sa_column_kwargs={"server_default": ALL_TEAM_ROLES},
        description="a member user's roles in the organisation once accepted",
    )
    token_hash: str = Field(max_length=64, unique=True, description="SHA-256 of the link's token, hex")
    sends: int = Field(default=1, description="emails sent: the first and each resend")
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    accepted_at: Optional[dt.datetime] = None
    user_id: Optional[int] = Field(default=None, foreign_key="user.id", description="the account it made")
    revoked_at: Optional[dt.datetime] = None
    revoked_by: Optional[int] = Field(default=None, foreign_key="user.id")


class PasswordReset(SQLModel, table=True):
    """A "forgot your password" link (app/services/password_resets.py): only a SHA-256 of its token is kept;
    it works once, until ``expires_at``."""

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, description="SHA-256 of the link's token, hex")
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    used_at: Optional[dt.datetime] = None


class MembershipApplication(SQLModel, table=True):
    """An organisation's application for membership (``app/services/admission.py``): its applicant membership,
    where it stands (``APPLICATION_STATES``: new, under consideration, then admitted, declined or withdrawn, which
    are final), the sponsor it names (an accredited member of the alliance, who confirms or refuses) and the
    lead's decision with its reason. A new application after a decline is a new row, with a new membership."""

    id: Optional[int] = Field(default=None, primary_key=True)
    membership_id: int = Field(foreign_key="membership.id", unique=True)
    alliance_id: int = Field(foreign_key="alliance.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    status: str = Field(default="new", max_length=32)
    sponsor_organisation_id: Optional[int] = Field(default=None, foreign_key="organisation.id", index=True)
    sponsor_status: str = Field(default="", max_length=16, description="requested, confirmed or refused")
    sponsor_answered_by: Optional[int] = Field(default=None, foreign_key="user.id")
    sponsor_answered_at: Optional[dt.datetime] = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    decided_by: Optional[int] = Field(default=None, foreign_key="user.id")
    decided_at: Optional[dt.datetime] = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class AdmissionPolicy(SQLModel, table=True):
    """Who may be admitted to an alliance: the organisation types and regions allowed (empty: any) and whether
    an application needs a confirmed sponsor. No row: anyone may be admitted, with no sponsor."""

    alliance_id: int = Field(primary_key=True, foreign_key="alliance.id")
    org_types: Any = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    regions: Any = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sponsor_required: bool = False
    updated_by: Optional[int] = Field(default=None, foreign_key="user.id")
    updated_at: dt.datetime = Field(default_factory=utcnow)


#: What a second lead approves (``app/services/approvals.py``), and an approval's states.
APPROVAL_KINDS = ("decision", "override", "suspension")
APPROVAL_STATES = ("pending", "approved", "sent_back", "withdrawn")


class ApprovalSetting(SQLModel, table=True):
    """Which of a lead's actions need a second lead of the alliance before they take effect (four eyes).
    No row: all three do."""

    alliance_id: int = Field(foreign_key="alliance.id", primary_key=True)
    decisions: bool = Field(default=True, description="a decision more favourable than the engine's outcome")
    overrides: bool = Field(default=True, description="an override that changes a standard's status")
    suspensions: bool = Field(default=True, description="suspending a member")
    updated_by: Optional[int] = Field(default=None, foreign_key="user.id")
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Approval(SQLModel, table=True):
    """A lead's proposed action waiting for a second lead of the same alliance: approved (then applied as if
    taken directly), sent back with a reason, or withdrawn by its proposer. ``action`` holds what is proposed:
    a decision (kind, conditions, due date, notes), an override (kind, target, value, reason) or a suspension
    (notes)."""

    __table_args__ = (Index("ix_approval_alliance_status", "alliance_id", "status"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    alliance_id: int = Field(foreign_key="alliance.id")
    kind: str = Field(max_length=16, description="decision, override or suspension")
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    membership_id: int = Field(foreign_key="membership.id", index=True)
    action: Any = Field(sa_column=Column(JSON, nullable=False))
    proposed_by: int = Field(foreign_key="user.id")
    proposed_at: dt.datetime = Field(default_factory=utcnow)
    status: str = Field(default="pending", max_length=16)
    decided_by: Optional[int] = Field(default=None, foreign_key="user.id")
    decided_at: Optional[dt.datetime] = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))

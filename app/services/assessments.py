"""Self-assessments: context, open, answer, status moves. Scoring and storing a result is
``scoring``'s; submitting is ``submission``'s; evidence is ``evidence``'s; both build on this module, which imports neither."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete, select

import rules
from rules.model import StandardsSet

from ..models import Alliance, Answer, Assessment, AssessmentCycle, Membership, Organisation, StandardsVersion, utcnow
from .common import Actor, NotFound, ServiceError, audit, get_or_404, require_text, snapshot, text_problems
from .standards import latest_published, parsed
from .teams import answer_refusals

EDITABLE = ("draft",)


@dataclass
class SaveOutcome:
    """What a save did: valid answers are kept even when others are refused."""

    saved: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class AssessmentContext:
    assessment: Assessment
    membership: Membership
    organisation: Organisation
    version: StandardsVersion
    standards: StandardsSet

    @property
    def member(self) -> rules.Member:
        return rules.Member(
            route=self.membership.route, specialty=self.membership.specialty, org_type=self.organisation.org_type
        )

    def applicable_criteria(self) -> list[tuple[Any, Any]]:
        member = self.member
        return [
            (s, c)
            for s in self.standards.standards
            if s.applies.covers(member.route, member.specialty, member.org_type)
            for c in s.criteria
        ]


def _locked(session: Session, assessment_id: int) -> Assessment:
    """The assessment row, fresh from the database and locked for this transaction, so saves,
    evidence, submission and decisions on one assessment take turns and never interleave."""
    found = session.exec(
        select(Assessment)
        .where(Assessment.id == assessment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise NotFound(f"assessment {assessment_id} does not exist")
    return found


def context(session: Session, assessment_id: int, lock: bool = False) -> AssessmentContext:
    """An assessment with its membership, organisation and standards; ``lock`` for a change to it."""
    assessment = (
        _locked(session, assessment_id) if lock else get_or_404(session, Assessment, assessment_id, "assessment")
    )
    membership = get_or_404(session, Membership, assessment.membership_id)
    organisation = get_or_404(session, Organisation, membership.organisation_id)
    version = get_or_404(session, StandardsVersion, assessment.standards_version_id)
    return AssessmentContext(assessment, membership, organisation, version, parsed(version))


def open_assessment(
    session: Session, actor: Actor, *, membership_id: int, cycle_id: int, standards_version_id: Optional[int] = None
) -> Assessment:
    """Start a membership's self-assessment for a cycle (one per cycle), on the latest published version."""
    membership = get_or_404(session, Membership, membership_id, "membership")
    cycle = get_or_404(session, AssessmentCycle, cycle_id, "cycle")
    if cycle.alliance_id != membership.alliance_id:
        raise ServiceError(f"cycle {cycle.name} belongs to another alliance")
    if membership.status in ("lapsed", "withdrawn", "declined"):
        raise ServiceError(f"a {membership.status} membership cannot open an assessment")
    existing = session.exec(
        select(Assessment).where(Assessment.membership_id == membership.id, Assessment.cycle_id == cycle.id)
    ).first()
    if existing is not None:
        raise ServiceError(f"this membership already has an assessment for {cycle.name} (assessment {existing.id})")
    alliance = get_or_404(session, Alliance, membership.alliance_id)
    if standards_version_id is None:
        version = latest_published(session, alliance.standards_set)
        if version is None:
            raise ServiceError(f"{alliance.name} has no published standards yet")
    else:
        version = get_or_404(session, StandardsVersion, standards_version_id, "standards version")
        if version.set_id != alliance.standards_set:
            raise ServiceError(f"{version.set_id} is not the standards set of {alliance.name}")
    assessment = Assessment(membership_id=membership.id, cycle_id=cycle.id, standards_version_id=version.id)
    session.add(assessment)
    session.flush()
    audit(session, actor, "assessment.opened", assessment, after=snapshot(assessment))
    return assessment


def answers_of(session: Session, assessment_id: int) -> dict[str, Any]:
    rows = session.exec(select(Answer).where(Answer.assessment_id == assessment_id)).all()
    return {row.criterion_id: row.value for row in rows}


def require_editable(assessment: Assessment) -> None:
    if assessment.status not in EDITABLE:
        raise ServiceError(f"assessment {assessment.id} is {assessment.status}; only a draft can be changed")


def _upsert_answers(
    session: Session, assessment_id: int, rows: list[tuple[str, Any, Optional[str]]], actor: Actor
) -> None:
    """Insert or replace answers atomically, in the order given: concurrent saves never lose a write
    (the last writer wins per criterion), and writing every save in file order means two saves never
    wait on each other's rows in opposite orders. A note of None keeps the stored note."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    now = utcnow()
    # Consecutive rows that treat the note alike share one statement; order is kept across statements.
    runs: list[tuple[bool, list[tuple[str, Any, Optional[str]]]]] = []
    for row in rows:
        keeps_note = row[2] is None
        if runs and runs[-1][0] == keeps_note:
            runs[-1][1].append(row)
        else:
            runs.append((keeps_note, [row]))
    for keeps_note, run in runs:
        statement = insert(Answer).values(
            [
                {
                    "assessment_id": assessment_id,
                    "criterion_id": criterion_id,
                    "value": value,
                    "note": note or "",
                    "updated_by": actor.user_id,
                    "updated_at": now,
                }
                for criterion_id, value, note in run
            ]
        )
        changes = {
            "value": statement.excluded.value,
            "updated_by": statement.excluded.updated_by,
            "updated_at": statement.excluded.updated_at,
        }
        if not keeps_note:
            changes["note"] = statement.excluded.note
        session.execute(statement.on_conflict_do_update(index_elements=["assessment_id", "criterion_id"], set_=changes))


def save_answers(
    session: Session, actor: Actor, assessment_id: int, answers: dict[str, Any], notes: Optional[dict[str, str]] = None
) -> SaveOutcome:
    """Save a draft's answers: each valid answer is stored, each invalid one is reported by criterion
    and the stored answer for it is left as it was. ``None`` (or blank text) clears an answer.

    Each criterion's answer is its own row, written with an atomic upsert, and saves to one assessment
    take turns (the assessment row is locked): concurrent saves of different criteria all persist,
    and for one criterion the last writer wins.

    A member user saves only as a contributor, and only questions nobody else owns (``teams``): another
    owner's question is refused by criterion, like an invalid answer."""
    ctx = context(session, assessment_id, lock=True)
    require_editable(ctx.assessment)
    notes = notes or {}
    refused = answer_refusals(session, actor, ctx.membership, ctx.standards, set(answers) | set(notes))
    applicable = {c.id: c for _, c in ctx.applicable_criteria()}
    every = ctx.standards.criterion_lookup
    outcome = SaveOutcome()
    before = answers_of(session, assessment_id)
    stored: dict[str, Any] = {}
    writes: list[tuple[str, Any, Optional[str]]] = []
    clears: list[str] = []
    order = {cid: index for index, cid in enumerate(every)}
    for criterion_id in sorted(set(answers) | set(notes), key=lambda cid: order.get(cid, -1)):
        criterion = applicable.get(criterion_id)
        if criterion_id in refused:
            outcome.errors[criterion_id] = refused[criterion_id]
            continue
        if criterion is None:
            outcome.errors[criterion_id] = (
                "this criterion does not apply to this membership"
                if criterion_id in every
                else "no such criterion in these standards"
            )
            continue
        raw = answers.get(criterion_id, before.get(criterion_id))
        value, problem = rules.check_answer(criterion, raw)
        note = notes.get(criterion_id)
        problem = problem or next(iter(text_problems({"note": note})), None)
        if problem:
            outcome.errors[criterion_id] = problem
            continue
        if value is None and not note:
            if criterion_id in before:
                clears.append(criterion_id)
                outcome.cleared.append(criterion_id)
            continue
        writes.append((criterion_id, value, note))
        outcome.saved.append(criterion_id)
        stored[criterion_id] = value
    _upsert_answers(session, assessment_id, writes, actor)
    if clears:
        session.execute(
            delete(Answer).where(col(Answer.assessment_id) == assessment_id, col(Answer.criterion_id).in_(clears))
        )
    if outcome.saved or outcome.cleared:
        after = {cid: stored.get(cid) for cid in outcome.saved + outcome.cleared}
        audit(
            session, actor, "answers.saved", ctx.assessment, before={cid: before.get(cid) for cid in after}, after=after
        )
    return outcome


def _move(
    session: Session,
    actor: Actor,
    assessment_id: int,
    allowed_from: tuple[str, ...],
    to_status: str,
    action: str,
    note: str = "",
) -> Assessment:
    assessment = _locked(session, assessment_id)
    if assessment.status not in allowed_from:
        raise ServiceError(
            f"assessment {assessment.id} is {assessment.status}; "
            f"only {' or '.join(allowed_from)} can become {to_status.replace('_', ' ')}"
        )
    before = snapshot(assessment, "status")
    assessment.status = to_status
    if to_status == "draft":
        assessment.submitted_at = None
        # A resubmission is attested afresh (the audit log keeps the attestation given before).
        assessment.attested_by = assessment.attested_name = assessment.attested_role = None
        assessment.attested_at = assessment.attestation = None
    session.add(assessment)
    session.flush()
    audit(
        session,
        actor,
        action,
        assessment,
        before=before,
        after={"status": to_status, **({"note": note.strip()} if note.strip() else {})},
    )
    return assessment


def start_review(session: Session, actor: Actor, assessment_id: int) -> Assessment:
    """A lead takes a submitted assessment into review."""
    return _move(session, actor, assessment_id, ("submitted",), "under_review", "assessment.review_started")


def return_to_draft(session: Session, actor: Actor, assessment_id: int, note: str = "") -> Assessment:
    """A lead sends a submitted assessment back to the member for changes; its answers are kept."""
    if not note.strip():
        raise ServiceError("note: tell the member what to change")
    require_text({"note": note})
    return _move(session, actor, assessment_id, ("submitted", "under_review"), "draft", "assessment.returned", note)

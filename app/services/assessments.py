"""Self-assessments: open, answer, attach evidence, submit, score."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, delete, select

import rules
from rules.model import StandardsSet
from rules.rescore import carry_over

from ..db import json_text
from ..models import (Alliance, Answer, Assessment, AssessmentCycle, AssessmentResult, Breach, Evidence, Membership,
                      Organisation, StandardsVersion, utcnow)
from .common import Actor, NotFound, ServiceError, among, audit, get_or_404, insert_rows, snapshot
from .standards import latest_published, parsed

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


class SubmissionRefused(ServiceError):
    """Submission blocked; ``missing`` lists each required answer or evidence still needed."""

    def __init__(self, missing: list[dict[str, str]]):
        self.missing = missing
        listed = "; ".join(f"{m['criterion']}: {m['reason']}" for m in missing)
        super().__init__(f"cannot submit yet, {len(missing)} item(s) missing: {listed}")


@dataclass(frozen=True)
class AssessmentContext:
    assessment: Assessment
    membership: Membership
    organisation: Organisation
    version: StandardsVersion
    standards: StandardsSet

    @property
    def member(self) -> rules.Member:
        return rules.Member(route=self.membership.route, specialty=self.membership.specialty,
                            org_type=self.organisation.org_type)

    def applicable_criteria(self) -> list[tuple[Any, Any]]:
        member = self.member
        return [(s, c) for s in self.standards.standards
                if s.applies.covers(member.route, member.specialty, member.org_type) for c in s.criteria]


def _locked(session: Session, assessment_id: int) -> Assessment:
    """The assessment row, fresh from the database and locked for this transaction, so saves,
    evidence, submission and decisions on one assessment take turns and never interleave."""
    found = session.exec(select(Assessment).where(Assessment.id == assessment_id).with_for_update()
                         .execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound(f"assessment {assessment_id} does not exist")
    return found


def context(session: Session, assessment_id: int, lock: bool = False) -> AssessmentContext:
    """An assessment with its membership, organisation and standards; ``lock`` for a change to it."""
    assessment = (_locked(session, assessment_id) if lock
                  else get_or_404(session, Assessment, assessment_id, "assessment"))
    membership = get_or_404(session, Membership, assessment.membership_id)
    organisation = get_or_404(session, Organisation, membership.organisation_id)
    version = get_or_404(session, StandardsVersion, assessment.standards_version_id)
    return AssessmentContext(assessment, membership, organisation, version, parsed(version))


def open_assessment(session: Session, actor: Actor, *, membership_id: int, cycle_id: int,
                    standards_version_id: Optional[int] = None) -> Assessment:
    """Start a membership's self-assessment for a cycle (one per cycle), on the latest published version."""
    membership = get_or_404(session, Membership, membership_id, "membership")
    cycle = get_or_404(session, AssessmentCycle, cycle_id, "cycle")
    if cycle.alliance_id != membership.alliance_id:
        raise ServiceError(f"cycle {cycle.name} belongs to another alliance")
    if membership.status in ("lapsed", "withdrawn", "declined"):
        raise ServiceError(f"a {membership.status} membership cannot open an assessment")
    existing = session.exec(select(Assessment).where(Assessment.membership_id == membership.id,
                                                     Assessment.cycle_id == cycle.id)).first()
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


def _upsert_answers(session: Session, assessment_id: int, rows: list[tuple[str, Any, Optional[str]]],
                    actor: Actor) -> None:
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
        statement = insert(Answer).values([
            {"assessment_id": assessment_id, "criterion_id": criterion_id, "value": value, "note": note or "",
             "updated_by": actor.user_id, "updated_at": now} for criterion_id, value, note in run])
        changes = {"value": statement.excluded.value, "updated_by": statement.excluded.updated_by,
                   "updated_at": statement.excluded.updated_at}
        if not keeps_note:
            changes["note"] = statement.excluded.note
        session.execute(statement.on_conflict_do_update(index_elements=["assessment_id", "criterion_id"],
                                                        set_=changes))


def save_answers(session: Session, actor: Actor, assessment_id: int, answers: dict[str, Any],
                 notes: Optional[dict[str, str]] = None) -> SaveOutcome:
    """Save a draft's answers: each valid answer is stored, each invalid one is reported by criterion
    and the stored answer for it is left as it was. ``None`` (or blank text) clears an answer.

    Each criterion's answer is its own row, written with an atomic upsert, and saves to one assessment
    take turns (the assessment row is locked): concurrent saves of different criteria all persist,
    and for one criterion the last writer wins."""
    ctx = context(session, assessment_id, lock=True)
    require_editable(ctx.assessment)
    notes = notes or {}
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
        if criterion is None:
            outcome.errors[criterion_id] = ("this criterion does not apply to this membership"
                                            if criterion_id in every else "no such criterion in these standards")
            continue
        raw = answers.get(criterion_id, before.get(criterion_id))
        value, problem = rules.check_answer(criterion, raw)
        if problem:
            outcome.errors[criterion_id] = problem
            continue
        note = notes.get(criterion_id)
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
        session.execute(delete(Answer).where(col(Answer.assessment_id) == assessment_id,
                                             col(Answer.criterion_id).in_(clears)))
    if outcome.saved or outcome.cleared:
        after = {cid: stored.get(cid) for cid in outcome.saved + outcome.cleared}
        audit(session, actor, "answers.saved", ctx.assessment,
              before={cid: before.get(cid) for cid in after}, after=after)
    return outcome


def missing_for_submission(session: Session, ctx: AssessmentContext) -> list[dict[str, str]]:
    """Every required answer and required evidence still missing, in file order."""
    answers = answers_of(session, ctx.assessment.id)
    with_evidence = set(session.exec(select(Evidence.criterion_id).where(
        Evidence.assessment_id == ctx.assessment.id)).all())
    missing = []
    for standard, criterion in ctx.applicable_criteria():
        answer = answers.get(criterion.id)
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            if criterion.required:
                missing.append({"criterion": criterion.id, "standard": standard.id, "reason": "answer required"})
            continue
        if criterion.evidence == "required" and answer != "na" and criterion.id not in with_evidence:
            missing.append({"criterion": criterion.id, "standard": standard.id, "reason": "evidence required"})
    return missing


def submit(session: Session, actor: Actor, assessment_id: int) -> AssessmentResult:
    """Submit a draft for review: refused, with everything missing listed, until it is complete."""
    ctx = context(session, assessment_id, lock=True)
    require_editable(ctx.assessment)
    missing = missing_for_submission(session, ctx)
    if missing:
        raise SubmissionRefused(missing)
    # Claim the draft atomically: of two concurrent submissions only one changes the row.
    submitted_at = utcnow()
    claimed = session.execute(update(Assessment).where(
        col(Assessment.id) == assessment_id, col(Assessment.status) == "draft"
    ).values(status="submitted", submitted_at=submitted_at))
    if claimed.rowcount != 1:
        raise ServiceError(f"assessment {assessment_id} has just been submitted by someone else")
    assessment = ctx.assessment
    session.refresh(assessment)
    result = store_result(session, actor, ctx)
    audit(session, actor, "assessment.submitted", assessment,
          before={"status": "draft"}, after={"status": "submitted", "outcome": result.outcome})
    return result


def score(session: Session, assessment_id: int) -> dict:
    """Score an assessment as it stands (a draft too) without storing anything."""
    ctx = context(session, assessment_id)
    return _score(session, ctx)


def _score(session: Session, ctx: AssessmentContext) -> dict:
    from .overrides import kept_overrides  # a lead's overrides apply whenever the assessment is scored
    # Answers kept from an earlier standards version that no longer fit this one are left out, not scored.
    answers, _ = carry_over(ctx.standards, answers_of(session, ctx.assessment.id))
    return rules.score_submission(ctx.standards, rules.Submission(member=ctx.member, answers=answers),
                                  kept_overrides(session, ctx))


def store_result(session: Session, actor: Actor, ctx: AssessmentContext) -> AssessmentResult:
    """Score with the engine and store the result and its breaches as the assessment's current result."""
    result = _score(session, ctx)
    stored = session.get(AssessmentResult, write_results(session, ctx.version, [(ctx.assessment.id, result)])[0])
    audit(session, actor, "result.stored", stored,
          after={"overall": stored.overall, "rating": stored.rating, "outcome": stored.outcome,
                 "breaches": len(result["breaches"]), "standards_hash": stored.standards_hash})
    return stored


def headline_of(result: dict) -> dict:
    """What other results are compared and matched on (rescoring's report, buddying needs and matching):
    stored beside the result, so those reads take about 1 KB of a result and not the whole document."""
    return {"standard_results": {sid: {"score": r.get("score"), "status": r.get("status")}
                                 for sid, r in result["standard_results"].items()},
            "breaches": [{"criterion": b["criterion"], "standard": b["standard"], "severity": b["severity"]}
                         for b in result["breaches"]],
            "support_needs": list(result.get("support_needs") or ())}


@dataclass(frozen=True)
class StoredForm:
    """A result as it is stored, its JSON text and its headline: made ahead, outside the transaction that
    stores it (a transaction on SQLite holds the one write lock)."""

    text: str
    headline: dict


def stored_form(result: dict) -> StoredForm:
    return StoredForm(json_text(result), headline_of(result))


def write_results(session: Session, version: StandardsVersion, results: list[tuple[int, dict]],
                  computed_at: Optional[dt.datetime] = None, forms: Optional[list[StoredForm]] = None) -> list[int]:
    """Store engine results and their breaches as their assessments' current results (each previous one is
    kept, no longer current); returns the new results' ids. Many at once take a few statements in all.
    ``forms``: the results' stored forms, if made ahead."""
    if not results:
        return []
    computed_at = computed_at or utcnow()
    forms = forms or [stored_form(result) for _, result in results]
    assessment_ids = [assessment_id for assessment_id, _ in results]
    session.execute(update(AssessmentResult).where(
        among(session, col(AssessmentResult.assessment_id), assessment_ids),
        col(AssessmentResult.is_current).is_(True)).values(is_current=False))
    insert_rows(session, AssessmentResult.__table__, [
        {"assessment_id": assessment_id, "standards_version_id": version.id, "standards_hash": version.content_hash,
         "result": form.text, "overall": result["overall"], "rating": result["rating"], "outcome": result["outcome"],
         "is_current": True, "computed_at": computed_at, "headline": form.headline}
        for (assessment_id, result), form in zip(results, forms)], stored_as_is=frozenset({"result"}))
    stored = dict(session.execute(select(AssessmentResult.assessment_id, AssessmentResult.id).where(
        among(session, col(AssessmentResult.assessment_id), assessment_ids),
        col(AssessmentResult.is_current).is_(True))).all())  # one current result each (a unique index)
    ids = [stored[assessment_id] for assessment_id in assessment_ids]
    breaches = [{"result_id": result_id, "assessment_id": assessment_id, "criterion_id": b["criterion"],
                 "standard_id": b["standard"], "value": b["value"], "target": b["target"],
                 "direction": b["direction"], "severity": b["severity"]}
                for result_id, (assessment_id, result) in zip(ids, results) for b in result["breaches"]]
    insert_rows(session, Breach.__table__, breaches)
    return list(ids)


def current_result(session: Session, assessment_id: int) -> Optional[AssessmentResult]:
    return session.exec(select(AssessmentResult).where(
        AssessmentResult.assessment_id == assessment_id, AssessmentResult.is_current == True)  # noqa: E712
    ).first()


def _move(session: Session, actor: Actor, assessment_id: int, allowed_from: tuple[str, ...], to_status: str,
          action: str, note: str = "") -> Assessment:
    assessment = _locked(session, assessment_id)
    if assessment.status not in allowed_from:
        raise ServiceError(f"assessment {assessment.id} is {assessment.status}; "
                           f"only {' or '.join(allowed_from)} can become {to_status.replace('_', ' ')}")
    before = snapshot(assessment, "status")
    assessment.status = to_status
    if to_status == "draft":
        assessment.submitted_at = None
    session.add(assessment)
    session.flush()
    audit(session, actor, action, assessment, before=before,
          after={"status": to_status, **({"note": note.strip()} if note.strip() else {})})
    return assessment


def start_review(session: Session, actor: Actor, assessment_id: int) -> Assessment:
    """A lead takes a submitted assessment into review."""
    return _move(session, actor, assessment_id, ("submitted",), "under_review", "assessment.review_started")


def return_to_draft(session: Session, actor: Actor, assessment_id: int, note: str = "") -> Assessment:
    """A lead sends a submitted assessment back to the member for changes; its answers are kept."""
    if not note.strip():
        raise ServiceError("note: tell the member what to change")
    return _move(session, actor, assessment_id, ("submitted", "under_review"), "draft",
                 "assessment.returned", note)

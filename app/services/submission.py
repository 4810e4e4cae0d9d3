"""Submitting a self-assessment for review: what is still missing, and the submission itself, which claims
the draft and stores its first result through ``scoring``."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import update
from sqlmodel import Session, col, select

from ..models import Assessment, AssessmentResult, Evidence, utcnow
from . import messages
from .assessments import AssessmentContext, answers_of, context, require_editable
from .common import Actor, ServiceError, audit
from .questions import not_asked
from .scoring import store_result
from .teams import Attestation, record_attestation, require_approver


class SubmissionRefused(ServiceError):
    """Submission blocked; ``missing`` lists each required answer or evidence still needed."""

    def __init__(self, missing: list[dict[str, str]]):
        self.missing = missing
        listed = "; ".join(f"{m['criterion']}: {m['reason']}" for m in missing)
        super().__init__(f"cannot submit yet, {len(missing)} item(s) missing: {listed}")


def missing_for_submission(session: Session, ctx: AssessmentContext) -> list[dict[str, str]]:
    """Every required answer and required evidence still missing, in file order. A conditional question the
    answers leave unasked needs neither (any answer it has stays stored)."""
    answers = answers_of(session, ctx.assessment.id)
    with_evidence = set(
        session.exec(select(Evidence.criterion_id).where(Evidence.assessment_id == ctx.assessment.id)).all()
    )
    unasked = not_asked(ctx, answers)
    missing = []
    for standard, criterion in ctx.applicable_criteria():
        if criterion.id in unasked:
            continue
        answer = answers.get(criterion.id)
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            if criterion.required:
                missing.append({"criterion": criterion.id, "standard": standard.id, "reason": "answer required"})
            continue
        if criterion.evidence == "required" and answer != "na" and criterion.id not in with_evidence:
            missing.append({"criterion": criterion.id, "standard": standard.id, "reason": "evidence required"})
    return missing


def submit(session: Session, actor: Actor, assessment_id: int, attestation: Optional[Attestation]) -> AssessmentResult:
    """Submit a draft for review: only by an approver of the organisation (``teams``), only with their
    attestation, and refused, with everything missing listed, until it is complete."""
    ctx = context(session, assessment_id, lock=True)
    approver = require_approver(session, actor, ctx.organisation.id)
    require_editable(ctx.assessment)
    attestation = (
        attestation.checked() if isinstance(attestation, Attestation) else Attestation(False, "", "").checked()
    )
    missing = missing_for_submission(session, ctx)
    if missing:
        raise SubmissionRefused(missing)
    # Claim the draft atomically: of two concurrent submissions only one changes the row.
    submitted_at = utcnow()
    claimed = session.execute(
        update(Assessment)
        .where(col(Assessment.id) == assessment_id, col(Assessment.status) == "draft")
        .values(status="submitted", submitted_at=submitted_at)
    )
    if claimed.rowcount != 1:
        raise ServiceError(f"assessment {assessment_id} has just been submitted by someone else")
    assessment = ctx.assessment
    session.refresh(assessment)
    record_attestation(assessment, approver, attestation)
    session.add(assessment)
    session.flush()
    result = store_result(session, actor, ctx)
    audit(
        session,
        actor,
        "assessment.submitted",
        assessment,
        before={"status": "draft"},
        after={
            "status": "submitted",
            "outcome": result.outcome,
            "attestation": {"statement": attestation.statement, "name": attestation.name, "role": attestation.role},
        },
    )
    messages.assessment_submitted(session, assessment.id, result.outcome)
    return result

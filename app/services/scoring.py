"""Score and store a self-assessment's result: the one home of a result. The assessment's answers (carried
over to its standards version) and a lead's overrides that still fit go into the rules engine; the result and
its breaches are stored as the assessment's current result, each earlier one kept, no longer current.
Submission, overrides and rescoring call down into this module; it calls only into ``assessments``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import update
from sqlmodel import Session, col, select

import rules
from rules.answers import carry_over

from ..db import json_text
from ..models import AssessmentResult, Breach, ResultOverride, StandardsVersion, utcnow
from .assessments import AssessmentContext, answers_of, context
from .common import Actor, among, audit, insert_rows


def override_rows(session: Session, assessment_id: int) -> list[ResultOverride]:
    """A lead's stored overrides of an assessment, by kind and target."""
    return list(
        session.exec(
            select(ResultOverride)
            .where(ResultOverride.assessment_id == assessment_id)
            .order_by(col(ResultOverride.kind), col(ResultOverride.target_id))
        ).all()
    )


def as_overrides(rows: list[ResultOverride]) -> rules.Overrides:
    """Stored override rows as the engine's plain data."""
    return rules.Overrides(
        criteria={r.target_id: rules.CriterionOverride(r.value, r.reason) for r in rows if r.kind == "criterion"},
        standards={r.target_id: rules.StandardOverride(r.value, r.reason) for r in rows if r.kind == "standard"},
    )


def kept(standards: rules.StandardsSet, rows: list[ResultOverride], member: rules.Member) -> Optional[rules.Overrides]:
    """The overrides among ``rows`` that fit these standards and this member (None when none do)."""
    if not rows:
        return None
    found, _ = rules.split_overrides(standards, as_overrides(rows), member)
    return found if found else None


def kept_overrides(session: Session, ctx: AssessmentContext) -> Optional[rules.Overrides]:
    """The stored overrides that fit this assessment's standards and member (None when there are none)."""
    return kept(ctx.standards, override_rows(session, ctx.assessment.id), ctx.member)


def score(session: Session, assessment_id: int) -> dict:
    """Score an assessment as it stands (a draft too) without storing anything."""
    ctx = context(session, assessment_id)
    return _score(session, ctx)


def _score(session: Session, ctx: AssessmentContext) -> dict:
    """The engine's result for the assessment as it stands; a lead's overrides apply whenever it is scored."""
    # Answers kept from an earlier standards version that no longer fit this one are left out, not scored.
    answers, _ = carry_over(ctx.standards, answers_of(session, ctx.assessment.id))
    return rules.score_submission(
        ctx.standards, rules.Submission(member=ctx.member, answers=answers), kept_overrides(session, ctx)
    )


def store_result(session: Session, actor: Actor, ctx: AssessmentContext) -> AssessmentResult:
    """Score with the engine and store the result and its breaches as the assessment's current result."""
    result = _score(session, ctx)
    stored = session.get(AssessmentResult, write_results(session, ctx.version, [(ctx.assessment.id, result)])[0])
    audit(
        session,
        actor,
        "result.stored",
        stored,
        after={
            "overall": stored.overall,
            "rating": stored.rating,
            "outcome": stored.outcome,
            "breaches": len(result["breaches"]),
            "standards_hash": stored.standards_hash,
        },
    )
    return stored


def headline_of(result: dict) -> dict:
    """What other results are compared and matched on (rescoring's report, buddying needs and matching):
    stored beside the result, so those reads take about 1 KB of a result and not the whole document."""
    return {
        "standard_results": {
            sid: {"score": r.get("score"), "status": r.get("status")} for sid, r in result["standard_results"].items()
        },
        "breaches": [
            {"criterion": b["criterion"], "standard": b["standard"], "severity": b["severity"]}
            for b in result["breaches"]
        ],
        "support_needs": list(result.get("support_needs") or ()),
    }


@dataclass(frozen=True)
class StoredForm:
    """A result as it is stored, its JSON text and its headline: made ahead, outside the transaction that
    stores it (a transaction on SQLite holds the one write lock)."""

    text: str
    headline: dict


def stored_form(result: dict) -> StoredForm:
    return StoredForm(json_text(result), headline_of(result))


def write_results(
    session: Session,
    version: StandardsVersion,
    results: list[tuple[int, dict]],
    computed_at: Optional[dt.datetime] = None,
    forms: Optional[list[StoredForm]] = None,
) -> list[int]:
    """Store engine results and their breaches as their assessments' current results (each previous one is
    kept, no longer current); returns the new results' ids. Many at once take a few statements in all.
    ``forms``: the results' stored forms, if made ahead."""
    if not results:
        return []
    computed_at = computed_at or utcnow()
    forms = forms or [stored_form(result) for _, result in results]
    assessment_ids = [assessment_id for assessment_id, _ in results]
    session.execute(
        update(AssessmentResult)
        .where(
            among(session, col(AssessmentResult.assessment_id), assessment_ids),
            col(AssessmentResult.is_current).is_(True),
        )
        .values(is_current=False)
    )
    insert_rows(
        session,
        AssessmentResult.__table__,
        [
            {
                "assessment_id": assessment_id,
                "standards_version_id": version.id,
                "standards_hash": version.content_hash,
                "result": form.text,
                "overall": result["overall"],
                "rating": result["rating"],
                "outcome": result["outcome"],
                "is_current": True,
                "computed_at": computed_at,
                "headline": form.headline,
            }
            for (assessment_id, result), form in zip(results, forms)
        ],
        stored_as_is=frozenset({"result"}),
    )
    stored = dict(
        session.execute(
            select(AssessmentResult.assessment_id, AssessmentResult.id).where(
                among(session, col(AssessmentResult.assessment_id), assessment_ids),
                col(AssessmentResult.is_current).is_(True),
            )
        ).all()
    )  # one current result each (a unique index)
    ids = [stored[assessment_id] for assessment_id in assessment_ids]
    breaches = [
        {
            "result_id": result_id,
            "assessment_id": assessment_id,
            "criterion_id": b["criterion"],
            "standard_id": b["standard"],
            "value": b["value"],
            "target": b["target"],
            "direction": b["direction"],
            "severity": b["severity"],
        }
        for result_id, (assessment_id, result) in zip(ids, results)
        for b in result["breaches"]
    ]
    insert_rows(session, Breach.__table__, breaches)
    return list(ids)


def current_result(session: Session, assessment_id: int) -> Optional[AssessmentResult]:
    return session.exec(
        select(AssessmentResult).where(
            AssessmentResult.assessment_id == assessment_id, AssessmentResult.is_current == True
        )  # noqa: E712
    ).first()

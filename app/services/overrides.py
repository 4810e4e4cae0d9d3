"""A lead's overrides of an assessment's result: set and removed here, stored by criterion or standard id, then
the result stored again through ``scoring``, which applies every kept override each time the assessment is scored,
so an override stays attached to its criterion through any later scoring; an override that no longer fits the
standards is left out, not lost."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from sqlmodel import Session

import rules

from ..models import ResultOverride, User
from .assessments import AssessmentContext
from .common import Actor, NotFound, ServiceError, audit, require_text, snapshot, text_problems
from .scoring import as_overrides, current_result, override_rows, store_result

KINDS = ("criterion", "standard")
OVERRIDABLE = ("submitted", "under_review")
REASON_MAX = 5000


def _value(kind: str, raw: Any) -> Any:
    text = str(raw if raw is not None else "").strip()
    if kind == "standard":
        if text not in rules.overrides.SETTABLE_STATUSES:
            raise ServiceError("status: choose met or not met")
        return text
    try:
        score = float(text)
    except ValueError:
        raise ServiceError(f"score: enter a number from 0 to 1 (1 full credit, 0.5 half), not '{text}'") from None
    if not math.isfinite(score) or not 0 <= score <= 1:
        raise ServiceError(f"score: enter a number from 0 to 1 (1 full credit, 0.5 half), not '{text}'")
    return int(score) if score.is_integer() else score


def _picture(ctx: AssessmentContext, result: dict, kind: str, target: str) -> dict:
    """What the result says about the overridden thing, and the headline, for the audit log."""
    if kind == "criterion":
        detail = (result.get("criteria") or {}).get(target) or {}
        found = ctx.standards.criterion_lookup.get(target)
        focus = {"criterion_status": detail.get("status"), "criterion_score": detail.get("score")}
        if found:
            focus["standard_status"] = (result["standard_results"].get(found[0].id) or {}).get("status")
    else:
        focus = {"standard_status": (result["standard_results"].get(target) or {}).get("status")}
    return {
        **focus,
        "overall": result.get("overall"),
        "rating": result.get("rating"),
        "outcome": result.get("outcome"),
        "breaches": len(result.get("breaches", [])),
    }


@dataclass(frozen=True)
class CheckedOverride:
    """An override as asked for, checked against the standards: what it sets, the row it replaces (if any) and
    every override the assessment would then have."""

    kind: str
    target_id: str
    value: Any
    reason: str
    existing: Optional[ResultOverride]
    trial: list[ResultOverride]


def check_override(
    session: Session, ctx: AssessmentContext, kind: str, target_id: str, value: Any, reason: str
) -> CheckedOverride:
    """Refuse (``ServiceError``, naming each problem) an override that cannot be set on this assessment now."""
    if ctx.assessment.status not in OVERRIDABLE:
        raise ServiceError(
            f"the self-assessment is {ctx.assessment.status.replace('_', ' ')}: "
            "only a submitted self-assessment awaiting a decision can be overridden"
        )
    if kind not in KINDS:
        raise ServiceError(f"kind: '{kind}' is not criterion or standard")
    target_id = (target_id or "").strip()
    reason = (reason or "").strip()
    problems = []
    if not target_id:
        problems.append(f"{kind}: choose the {kind} to override")
    try:
        parsed_value = _value(kind, value)
    except ServiceError as exc:
        problems.append(str(exc))
        parsed_value = None
    if not reason:
        problems.append("reason: give the reason for the override (the member and the audit trail see it)")
    elif len(reason) > REASON_MAX:
        problems.append(f"reason: at most {REASON_MAX} characters")
    problems += text_problems({"reason": reason})
    if problems:
        raise ServiceError("; ".join(problems))
    rows = override_rows(session, ctx.assessment.id)
    existing = next((r for r in rows if r.kind == kind and r.target_id == target_id), None)
    trial = [r for r in rows if r is not existing] + [
        ResultOverride(
            assessment_id=ctx.assessment.id, kind=kind, target_id=target_id, value=parsed_value, reason=reason
        )
    ]
    refused = rules.check_overrides(ctx.standards, ctx.member, as_overrides(trial))
    if refused:
        raise ServiceError(f"{kind}: " + "; ".join(p.split(": ", 1)[-1] for p in refused))
    return CheckedOverride(kind, target_id, parsed_value, reason, existing, trial)


def set_override(
    session: Session, actor: Actor, ctx: AssessmentContext, kind: str, target_id: str, value: Any, reason: str
) -> ResultOverride:
    """Override a criterion's score or a standard's status (the caller has scoped and locked ``ctx``), then
    score the assessment again through the engine with every override applied."""
    checked = check_override(session, ctx, kind, target_id, value, reason)
    kind, target_id, parsed_value, reason, existing = (
        checked.kind,
        checked.target_id,
        checked.value,
        checked.reason,
        checked.existing,
    )
    before_result = current_result(session, ctx.assessment.id)
    before = {
        "override": snapshot(existing, "value", "reason") if existing else None,
        **_picture(ctx, before_result.result if before_result else {"standard_results": {}}, kind, target_id),
    }
    if existing is None:
        existing = ResultOverride(
            assessment_id=ctx.assessment.id,
            kind=kind,
            target_id=target_id,
            value=parsed_value,
            reason=reason,
            created_by=actor.user_id,
        )
    else:
        existing.value, existing.reason, existing.created_by = parsed_value, reason, actor.user_id
    session.add(existing)
    session.flush()
    stored = store_result(session, actor, ctx)
    audit(
        session,
        actor,
        "override.set",
        existing,
        before=before,
        after={
            "override": {"kind": kind, "target": target_id, "value": parsed_value, "reason": reason},
            **_picture(ctx, stored.result, kind, target_id),
        },
    )
    return existing


def remove_override(session: Session, actor: Actor, ctx: AssessmentContext, override_id: int, reason: str = "") -> None:
    row = session.get(ResultOverride, override_id)
    if row is None or row.assessment_id != ctx.assessment.id:
        raise NotFound(f"override {override_id} does not exist")
    if ctx.assessment.status not in OVERRIDABLE:
        raise ServiceError("only a submitted self-assessment awaiting a decision can be changed")
    require_text({"reason": reason})
    before_result = current_result(session, ctx.assessment.id)
    before = {
        "assessment_id": ctx.assessment.id,
        "override": snapshot(row, "kind", "target_id", "value", "reason"),
        **_picture(ctx, before_result.result, row.kind, row.target_id),
    }
    kind, target = row.kind, row.target_id
    session.delete(row)
    session.flush()
    stored = store_result(session, actor, ctx)
    audit(
        session,
        actor,
        "override.removed",
        entity_type="resultoverride",
        entity_id=override_id,
        before=before,
        after={"reason": reason.strip(), **_picture(ctx, stored.result, kind, target)},
    )


@dataclass(frozen=True)
class OverrideLine:
    row: ResultOverride
    author: str
    applied: Optional[dict]  # the engine's record of it in the current result (from, to); None if left out


def lines_of(session: Session, assessment_id: int, result: Optional[dict]) -> list[OverrideLine]:
    applied = {(o["kind"], o["id"]): o for o in (result or {}).get("overrides", [])}
    names = {}
    out = []
    for row in override_rows(session, assessment_id):
        if row.created_by not in names:
            user = session.get(User, row.created_by) if row.created_by else None
            names[row.created_by] = user.name if user else "Alliance lead"
        out.append(OverrideLine(row, names[row.created_by], applied.get((row.kind, row.target_id))))
    return out

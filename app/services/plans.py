"""Improvement plans: for every standard not met and every benchmark breach of a submitted assessment, the
member records how it will close the gap; the lead tracks them, overdue actions first.

A gap is closed when a later submitted assessment of the same membership no
longer has it (the standard is met, or the measure is no longer breached);
that later cycle is shown as the one that closed it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from sqlmodel import Session, col, select

from ..models import Assessment, AssessmentCycle, ImprovementPlan, Membership, Organisation, utcnow
from .assessments import AssessmentContext, context
from .common import Actor, NotFound, ServiceError, audit, snapshot, text_problems
from .scoring import current_result

PROGRESS = {"not_started": "Not started", "in_progress": "In progress", "completed": "Completed"}
TEXT_MAX = 5000


@dataclass(frozen=True)
class Gap:
    key: str  # standard:<id> or breach:<criterion id>
    kind: str  # not_met or breach
    standard_id: str
    criterion_id: Optional[str]
    title: str
    severity: Optional[str] = None


def gaps_of(ctx: AssessmentContext, result: Optional[dict]) -> list[Gap]:
    """The gaps a stored result shows: each standard not met, then each breach."""
    if not result:
        return []
    titles = {s.id: s.title for s in ctx.standards.standards}
    lookup = ctx.standards.criterion_lookup
    found = [
        Gap(f"standard:{sid}", "not_met", sid, None, f"{sid} {titles.get(sid, '')} not met")
        for sid, outcome in result.get("standard_results", {}).items()
        if (outcome or {}).get("status") == "not_met"
    ]
    for breach in result.get("breaches", []):
        criterion = lookup[breach["criterion"]][1] if breach["criterion"] in lookup else None
        found.append(
            Gap(
                f"breach:{breach['criterion']}",
                "breach",
                breach["standard"],
                breach["criterion"],
                f"{breach['criterion']} {criterion.text if criterion else ''}: {breach['severity']} breach",
                breach["severity"],
            )
        )
    return found


def still_open(gap_key: str, result: Optional[dict]) -> bool:
    """Whether a later result still has the gap."""
    if not result:
        return True
    kind, _, ident = gap_key.partition(":")
    if kind == "standard":
        return (result.get("standard_results", {}).get(ident) or {}).get("status") != "met"
    return any(b["criterion"] == ident for b in result.get("breaches", []))


@dataclass(frozen=True)
class PlanLine:
    gap: Gap
    plan: Optional[ImprovementPlan]
    overdue: bool
    closed_by: Optional[AssessmentCycle]


def is_overdue(plan: Optional[ImprovementPlan], today: Optional[dt.date] = None) -> bool:
    return bool(plan and plan.progress != "completed" and plan.due_on < (today or utcnow().date()))


def _plans(session: Session, assessment_id: int) -> dict[str, ImprovementPlan]:
    return {
        p.gap: p for p in session.exec(select(ImprovementPlan).where(ImprovementPlan.assessment_id == assessment_id))
    }


def _later(session: Session, ctx: AssessmentContext) -> list[tuple[AssessmentCycle, dict]]:
    """Later submitted assessments of the same membership with their results, earliest first."""
    this = session.get(AssessmentCycle, ctx.assessment.cycle_id)
    rows = session.exec(
        select(AssessmentCycle, Assessment)
        .join(Assessment, Assessment.cycle_id == AssessmentCycle.id)
        .where(
            Assessment.membership_id == ctx.membership.id,
            Assessment.status != "draft",
            AssessmentCycle.opens_on > this.opens_on,
        )
    ).all()
    out = []
    for cycle, assessment in sorted(rows, key=lambda r: r[0].opens_on):
        stored = current_result(session, assessment.id)
        if stored is not None:
            out.append((cycle, stored.result))
    return out


def plan_lines(session: Session, ctx: AssessmentContext) -> list[PlanLine]:
    stored = current_result(session, ctx.assessment.id)
    plans = _plans(session, ctx.assessment.id)
    later = _later(session, ctx)
    lines = []
    for gap in gaps_of(ctx, stored.result if stored else None):
        closed = next((cycle for cycle, result in later if not still_open(gap.key, result)), None)
        plan = plans.get(gap.key)
        lines.append(PlanLine(gap, plan, is_overdue(plan) and closed is None, closed))
    return lines


def find_gap(session: Session, ctx: AssessmentContext, gap_key: str) -> Gap:
    stored = current_result(session, ctx.assessment.id)
    for gap in gaps_of(ctx, stored.result if stored else None):
        if gap.key == gap_key:
            return gap
    raise NotFound(f"gap {gap_key} does not exist")


def save_plan(
    session: Session, actor: Actor, ctx: AssessmentContext, gap_key: str, fields: Mapping[str, Any]
) -> ImprovementPlan:
    """Record or update the member's plan for one gap; every problem is named with its field."""
    if ctx.assessment.status == "draft":
        raise ServiceError("improvement plans are for a submitted self-assessment")
    gap = find_gap(session, ctx, gap_key)
    actions = str(fields.get("actions") or "").strip()
    owner = str(fields.get("owner") or "").strip()
    evidence = str(fields.get("evidence") or "").strip()
    progress = str(fields.get("progress") or "").strip()
    due_on = fields.get("due_on")
    problems = []
    if not actions:
        problems.append("actions: enter the actions that will close the gap")
    elif len(actions) > TEXT_MAX:
        problems.append(f"actions: at most {TEXT_MAX} characters")
    if not owner:
        problems.append("owner: enter who owns the plan")
    elif len(owner) > 200:
        problems.append("owner: at most 200 characters")
    if not isinstance(due_on, dt.date):
        problems.append("due_on: enter the date the actions are due")
    if progress not in PROGRESS:
        problems.append("progress: choose not started, in progress or completed")
    if len(evidence) > TEXT_MAX:
        problems.append(f"evidence: at most {TEXT_MAX} characters")
    problems += text_problems({"owner": owner}, single_line=True) + text_problems(
        {"actions": actions, "evidence": evidence}
    )
    if problems:
        raise ServiceError("; ".join(problems))
    plan = _plans(session, ctx.assessment.id).get(gap.key)
    before = snapshot(plan, "actions", "owner", "due_on", "progress", "evidence") if plan else None
    if plan is None:
        plan = ImprovementPlan(
            assessment_id=ctx.assessment.id,
            gap=gap.key,
            standard_id=gap.standard_id,
            criterion_id=gap.criterion_id,
            actions=actions,
            owner=owner,
            due_on=due_on,
            progress=progress,
            evidence=evidence,
            updated_by=actor.user_id,
        )
    else:
        plan.actions, plan.owner, plan.due_on, plan.progress, plan.evidence = actions, owner, due_on, progress, evidence
        plan.updated_by, plan.updated_at = actor.user_id, utcnow()
    session.add(plan)
    session.flush()
    audit(
        session,
        actor,
        "plan.saved",
        plan,
        before=before,
        after=snapshot(plan, "gap", "actions", "owner", "due_on", "progress", "evidence"),
    )
    return plan


@dataclass(frozen=True)
class TrackedPlan:
    plan: ImprovementPlan
    organisation: Organisation
    membership: Membership
    cycle: AssessmentCycle
    overdue: bool
    closed_by: Optional[AssessmentCycle]


def alliance_plans(session: Session, alliance_id: int, overdue_only: bool = False) -> list[TrackedPlan]:
    """Every plan of the alliance's members, overdue first, then by due date."""
    rows = session.exec(
        select(ImprovementPlan, Assessment, Membership, Organisation, AssessmentCycle)
        .join(Assessment, Assessment.id == ImprovementPlan.assessment_id)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(Membership.alliance_id == alliance_id)
        .order_by(col(ImprovementPlan.due_on), col(ImprovementPlan.id))
    ).all()
    later_of: dict[int, list[tuple[AssessmentCycle, dict]]] = {}
    tracked = []
    for plan, assessment, membership, organisation, cycle in rows:
        if assessment.id not in later_of:
            later_of[assessment.id] = _later(session, context(session, assessment.id))
        closed = next((c for c, result in later_of[assessment.id] if not still_open(plan.gap, result)), None)
        overdue = is_overdue(plan) and closed is None
        if overdue_only and not overdue:
            continue
        tracked.append(TrackedPlan(plan, organisation, membership, cycle, overdue, closed))
    return sorted(tracked, key=lambda t: (not t.overdue, t.plan.due_on, t.plan.id))

"""A member's improvement plans: one per gap (a standard not met, a benchmark breach) of a submitted
self-assessment. Member users only, scoped to their own organisation like every member page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..services import NotFound, ServiceError, portal
from ..services import plans as service
from ..services.review import parse_due_date
from .access import actor, roles, unit_of_work
from .review import field_problems

bp = Blueprint("plans", __name__, url_prefix="/member")


@bp.get("/assessments/<int:assessment_id>/plans")
@roles("member")
def plans(assessment_id: int):
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, current_user.organisation_id, assessment_id)
        lines = service.plan_lines(session, ctx) if ctx.assessment.status != "draft" else []
    return render_template("review/member_plans.html", ctx=ctx, lines=lines, progress=service.PROGRESS)


@bp.route("/assessments/<int:assessment_id>/plans/<gap>", methods=["GET", "POST"])
@roles("member")
def plan(assessment_id: int, gap: str):
    errors: dict[str, str] = {}
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, current_user.organisation_id, assessment_id)
        line = next((x for x in service.plan_lines(session, ctx) if x.gap.key == gap), None)
    if line is None:
        raise NotFound(f"gap {gap} does not exist")
    entered = dict(request.form) if request.method == "POST" else {}
    if request.method == "POST":
        try:
            due_on = parse_due_date(
                request.form.get("due_on-day", ""),
                request.form.get("due_on-month", ""),
                request.form.get("due_on-year", ""),
            )
            with unit_of_work() as session:
                ctx = portal.own_assessment(session, current_user.organisation_id, assessment_id)
                service.save_plan(session, actor(), ctx, gap, {**request.form.to_dict(), "due_on": due_on})
        except NotFound:
            raise
        except ServiceError as exc:
            errors = field_problems(str(exc))
        else:
            flash(f"Improvement plan saved for {line.gap.title}.", "success")
            return redirect(url_for("plans.plans", assessment_id=assessment_id))
    with unit_of_work() as session:  # fresh rows: a refused save rolled its transaction back
        ctx = portal.own_assessment(session, current_user.organisation_id, assessment_id)
        line = next(x for x in service.plan_lines(session, ctx) if x.gap.key == gap)
        return render_template(
            "review/member_plan.html",
            ctx=ctx,
            line=line,
            errors=errors,
            entered=entered,
            progress=service.PROGRESS,
            page_has_errors=bool(errors),
        )

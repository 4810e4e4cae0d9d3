"""JSON for other systems: who is signed in, and a member's own results (more in a later release)."""
from __future__ import annotations

from flask import Blueprint, url_for
from flask_login import current_user

from ..services import current_result, portal
from .access import public, roles, unit_of_work

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/health")
@public
def health():
    return {"status": "ok"}


@bp.get("/")
@roles("member", "lead", "admin")
def home():
    links = {"health": url_for("api.health")}
    return {"user": {"email": current_user.email, "name": current_user.name, "role": current_user.role},
            "links": links}


@bp.get("/assessments/<int:assessment_id>/result")
@roles("member")
def assessment_result(assessment_id: int):
    """The stored result of one of the member's own submitted assessments (404 for anyone else's)."""
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, current_user.organisation_id, assessment_id)
        stored = current_result(session, assessment_id)
        status = ctx.assessment.status
    if stored is None:
        return {"assessment": assessment_id, "status": status, "result": None}
    return {"assessment": assessment_id, "status": status, "computed_at": stored.computed_at.isoformat(),
            "result": stored.result}

"""Service status under ``/api``: ``/api/health`` for the load balancer and monitoring (the footer's "Service
status" link), and two small JSON reads for a signed-in browser session: who is signed in (``/api/``) and a
member's own stored result. The blueprint keeps the name ``api`` its endpoints have always had (``api.health``).
Other systems use the token-authenticated JSON API, ``api_v1``."""

from __future__ import annotations

from flask import Blueprint, current_app, url_for
from flask_login import current_user

from .. import db
from ..jobs import queue
from ..services import current_result, portal
from .access import public, roles, unit_of_work

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/health")
@public
def health():
    """For the load balancer and monitoring: up only when the database answers; ``queue`` says whether the job
    queue answers too (``ok``, ``immediate`` or ``unreachable (...)``), without changing the status code."""
    try:
        connection = db.get_engine(current_app.config["DATABASE_URL"]).raw_connection()
        try:
            # The driver's own connection: no unit of work, so SQLite's write lock is not taken.
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            cursor.close()
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001  (unreachable server, unreadable file, bad URL)
        current_app.logger.warning(
            "health: the database %s does not answer: %s: %s",
            db.describe(current_app.config["DATABASE_URL"]),
            exc.__class__.__name__,
            str(exc).splitlines()[0] if str(exc) else "",
        )
        return {"status": "unavailable", "database": f"unreachable ({exc.__class__.__name__})"}, 503
    # The job queue does not take the service down: pages answer without it, only jobs wait.
    return {"status": "ok", "database": "ok", "queue": queue.check()}


@bp.get("/")
@roles("member", "lead", "admin")
def home():
    links = {"health": url_for("api.health")}
    return {"user": {"email": current_user.email, "name": current_user.name, "role": current_user.role}, "links": links}


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
    return {
        "assessment": assessment_id,
        "status": status,
        "computed_at": stored.computed_at.isoformat(),
        "result": stored.result,
    }

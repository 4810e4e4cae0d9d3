"""Alliance leads' pages: the review of submitted self-assessments (decisions come in a later release)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from ..services import overview
from .access import roles, unit_of_work

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/")
@roles("lead")
def home():
    with unit_of_work() as session:
        alliance = overview.alliance(session, current_user.alliance_id)
        queue = overview.review_queue(session, current_user.alliance_id) if alliance else []
    return render_template("review/home.html", alliance=alliance, queue=queue)

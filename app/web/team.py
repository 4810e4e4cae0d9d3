"""A member organisation's team (``services.teams``): the Team page (everyone's roles, and the owner of each
domain and standard of a self-assessment; organisation admins change them), "My questions" (what is assigned
to me, with progress), and leaving. Member users only; every read and change is scoped to the signed-in
person's own organisation by the service, and only an organisation admin changes anything but their own
leaving (others get 403)."""

from __future__ import annotations

from typing import Optional

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from ..models import TEAM_ROLES
from ..services import NotFound, ServiceError
from ..services import team_views as views
from ..services import teams as service
from .access import actor, roles, unit_of_work

bp = Blueprint("team", __name__, url_prefix="/member/team")


def _int(value: Optional[str]) -> Optional[int]:
    return int(value) if value and value.isdigit() else None


@bp.get("/")
@roles("member")
def home():
    with unit_of_work() as session:
        view = views.team(session, current_user.id, _int(request.args.get("assessment")))
    return render_template("team/home.html", view=view, role_words=service.ROLE_WORDS, team_roles=TEAM_ROLES)


def _change(what, done: str, back: str):  # noqa: ANN001, ANN202
    """Run one change in a unit of work: 403 for a person whose roles do not allow it, the refusal's words
    on the page for anything else refused."""
    try:
        with unit_of_work() as session:
            what(session)
    except service.NotPermitted:
        abort(403)
    except NotFound:
        raise
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "success")
    return redirect(back)


@bp.post("/people/<int:user_id>/roles")
@roles("member")
def set_roles(user_id: int):
    chosen = [r for r in TEAM_ROLES if request.form.get(r)]
    return _change(
        lambda session: service.set_roles(session, actor(), user_id, chosen),
        "Their roles are saved.",
        url_for("team.home"),
    )


@bp.post("/people/<int:user_id>/leave")
@roles("member")
def leave(user_id: int):
    """Someone leaves the organisation: the person themselves (then signed out: their sessions have ended), or
    removed by an organisation admin."""
    myself = user_id == current_user.id
    try:
        with unit_of_work() as session:
            service.leave(session, actor(), user_id)
    except service.NotPermitted:
        abort(403)
    except NotFound:
        raise
    except ServiceError as exc:
        flash(str(exc), "error")
        return redirect(url_for("team.home"))
    if myself:
        logout_user()
        flash("You have left the organisation.", "success")
        return redirect(url_for("auth.login"))
    flash("They have left the organisation: the questions they owned are unassigned.", "success")
    return redirect(url_for("team.home"))


@bp.post("/assessments/<int:assessment_id>/owners")
@roles("member")
def assign(assessment_id: int):
    scope, ref = request.form.get("scope", ""), request.form.get("ref", "")
    owner = _int(request.form.get("owner"))
    return _change(
        lambda session: service.assign(session, actor(), assessment_id, scope, ref, owner),
        f"The owner of {scope} {ref} is saved."
        if owner
        else f"{scope.capitalize()} {ref} is open to every contributor.",
        url_for("team.home", assessment=assessment_id),
    )


@bp.get("/mine")
@roles("member")
def mine():
    with unit_of_work() as session:
        found = views.my_questions(session, current_user.id)
    return render_template("team/mine.html", found=found)

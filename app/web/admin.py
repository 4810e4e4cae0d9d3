"""Operators' pages: what the service holds, the people who sign in (and ending their sessions), and the
API tokens other systems use."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from ..services import ServiceError, accounts, api_tokens, job_failures, overview
from .access import actor, roles, unit_of_work
from .forms import ApiTokenForm, show_service_error
from .sessions import end_sessions_of

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@roles("admin")
def home():
    with unit_of_work() as session:
        figures = overview.counts(session)
    return render_template("admin/home.html", figures=figures)


@bp.get("/users")
@roles("admin")
def users():
    with unit_of_work() as session:
        people = accounts.users(session)
    return render_template("admin/users.html", people=people)


@bp.post("/users/<int:user_id>/sign-out-everywhere")
@roles("admin")
def sign_out_user(user_id: int):
    """End every session of a person (say their device was lost): they must sign in again."""
    with unit_of_work() as session:
        user = accounts.end_sessions(session, actor(), user_id)
        email = user.email
    end_sessions_of(user_id)
    flash(f"{email} is signed out everywhere: every session of theirs has ended.", "success")
    return redirect(url_for("admin.users"))


@bp.get("/jobs")
@roles("admin")
def jobs():
    """Queued tasks that failed, newest first (``cli.py jobs failures`` prints the same)."""
    with unit_of_work() as session:
        lines = job_failures.recent(session)
    return render_template("admin/jobs.html", lines=lines, limit=job_failures.LIMIT)


@bp.get("/tokens")
@roles("admin")
def tokens():
    with unit_of_work() as session:
        lines = api_tokens.token_lines(session)
    return render_template("admin/tokens.html", lines=lines)


@bp.route("/tokens/new", methods=["GET", "POST"])
@roles("admin")
def new_token():
    with unit_of_work() as session:
        organisations, alliances = api_tokens.scope_choices(session)
    form = ApiTokenForm(organisations=organisations, alliances=alliances)
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                row, token = api_tokens.create_token(session, actor(), name=form.name.data, **form.chosen)
                created = {"name": row.name, "prefix": row.prefix}
        except ServiceError as exc:
            show_service_error(form, str(exc), {"name": "name", "scope": "scope"})
        else:
            # Shown on this response only (never flashed or kept in the session): it cannot be shown again.
            return render_template(
                "admin/token_created.html",
                created=created,
                token=token,
                scope=dict(form.scope.choices)[form.scope.data],
            )
    return render_template("admin/token_new.html", form=form)


@bp.post("/tokens/<int:token_id>/revoke")
@roles("admin")
def revoke_token(token_id: int):
    with unit_of_work() as session:
        row = api_tokens.revoke_token(session, actor(), token_id)
        name = row.name
    flash(f"The token “{name}” is revoked: it no longer opens the API.", "success")
    return redirect(url_for("admin.tokens"))

"""Operators' pages: what the service holds, the people who sign in (and ending their sessions), single sign-on
(who may be linked, and linked identities), and the API tokens other systems use."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from ..services import ServiceError, accounts, api_tokens, job_failures, mfa, overview, sso
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
        two_step = mfa.enrolled_user_ids(session)
    return render_template("admin/users.html", people=people, two_step=two_step)


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


@bp.post("/users/<int:user_id>/two-step-reset")
@roles("admin")
def reset_two_step(user_id: int):
    """Remove a person's two-step verification (a lost phone): their sessions end, and they set it up again
    at their next sign-in if their role requires it. Not one's own: another administrator does that."""
    with unit_of_work() as session:
        user = mfa.reset(session, actor(), user_id)
        email = user.email
    end_sessions_of(user_id)
    flash(f"Two-step verification for {email} is reset, and every session of theirs has ended.", "success")
    return redirect(url_for("admin.users"))


@bp.get("/sso")
@roles("admin")
def single_sign_on():
    with unit_of_work() as session:
        lines = sso.account_lines(session)
    return render_template(
        "admin/sso.html",
        lines=lines,
        enabled=current_app.config.get("OIDC_ENABLED"),
        issuer=current_app.config.get("OIDC_ISSUER"),
    )


@bp.post("/sso/users/<int:user_id>/allow")
@roles("admin")
def sso_allow(user_id: int):
    with unit_of_work() as session:
        email = sso.allow_linking(session, actor(), user_id).email
    flash(f"{email} may now be linked to single sign-on, by verified email, at their next sign-in with it.", "success")
    return redirect(url_for("admin.single_sign_on"))


@bp.post("/sso/users/<int:user_id>/revoke")
@roles("admin")
def sso_revoke(user_id: int):
    with unit_of_work() as session:
        email = sso.revoke_linking(session, actor(), user_id).email
    flash(
        f"{email} can no longer be linked to single sign-on. Identities linked already stay until unlinked.", "success"
    )
    return redirect(url_for("admin.single_sign_on"))


@bp.post("/sso/identities/<int:identity_id>/unlink")
@roles("admin")
def sso_unlink(identity_id: int):
    with unit_of_work() as session:
        user, identity = sso.unlink(session, actor(), identity_id)
        email, subject = user.email, identity.subject
    flash(f"The single sign-on identity {subject} is unlinked from {email}: it no longer signs them in.", "success")
    return redirect(url_for("admin.single_sign_on"))


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

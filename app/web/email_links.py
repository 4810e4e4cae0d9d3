"""The pages an email's link opens for someone who is not signed in: accepting an invitation (choosing a
name and password, then signed in through ``two_step.finish_sign_in``), "Forgot your password?", and setting
a new password with a reset link.

"Forgot your password?" answers the same, in the same time, whether or not the email has an account
(``services.password_resets.request_reset``), and is rate limited per email and per address. Token pages are
never cached and send no referrer.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, session, url_for
from flask_login import logout_user

from ..services import ServiceError, invitations, password_resets
from .access import public, unit_of_work
from .forms import AcceptInvitationForm, ForgotPasswordForm, ResetPasswordForm, show_service_error
from .limits import limiter, reset_address_key, reset_address_limit, reset_key, reset_limit
from .sessions import end_sessions_of
from .two_step import finish_sign_in

bp = Blueprint("email_links", __name__)


@bp.after_request
def _private(response):  # noqa: ANN001, ANN202
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def requested(response) -> bool:  # noqa: ANN001
    """A reset request that was made (a well-formed email): the limits count only these."""
    return bool(g.get("reset_requested"))


def _unusable(message: str):  # noqa: ANN202
    return render_template("auth/link_unusable.html", message=message), 404


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str):
    with unit_of_work() as db_session:
        invitation = invitations.usable(db_session, token)
        if invitation is not None:
            email, role, place = invitation.email, invitation.role, invitations.place_name(db_session, invitation)
    if invitation is None:
        return _unusable(invitations.UNUSABLE)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as db_session:
                user = invitations.accept(db_session, token, name=form.name.data, password=form.password.data)
        except invitations.Unusable as exc:
            return _unusable(str(exc))
        except ServiceError as exc:
            show_service_error(form, str(exc), {"name": "name", "password": "password"})
        else:
            target = finish_sign_in(user, mfa_asserted=False)  # a new session: the message goes into it
            flash("Welcome: your account is ready.", "success")
            return redirect(target)
    return render_template(
        "auth/accept_invitation.html", form=form, email=email, role=invitations.ROLE_WORDS[role], place=place
    )


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
@limiter.limit(reset_limit, key_func=reset_key, methods=["POST"], deduct_when=requested)
@limiter.limit(reset_address_limit, key_func=reset_address_key, methods=["POST"], deduct_when=requested)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        g.reset_requested = True
        with unit_of_work() as db_session:
            password_resets.request_reset(
                db_session, form.email.data, minutes=current_app.config["PASSWORD_RESET_MINUTES"]
            )
        return render_template("auth/reset_sent.html", minutes=current_app.config["PASSWORD_RESET_MINUTES"])
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    with unit_of_work() as db_session:
        works = password_resets.usable(db_session, token) is not None
    if not works:
        return _unusable(password_resets.UNUSABLE)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as db_session:
                user = password_resets.reset_password(db_session, token, form.password.data)
                user_id = user.id
        except password_resets.Unusable as exc:
            return _unusable(str(exc))
        except ServiceError as exc:
            show_service_error(form, str(exc), {"password": "password"})
        else:
            end_sessions_of(user_id)
            logout_user()
            session.clear()
            flash("Your password is reset, and every session of yours is signed out. Sign in with it now.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)

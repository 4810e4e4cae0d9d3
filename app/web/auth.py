"""Start page, sign in and out, registration of an applicant organisation, and a person's own account
(their password, and signing out everywhere).

Pages anyone can reach do not tell which emails have an account: sign-in gives one message for a wrong
password and an unknown email (and takes as long for both: ``services.accounts.authenticate``), and
registration with an email that has an account is refused without saying so.

Single sign-on (``/login/sso``, with ``sso.py`` for the protocol and ``services.sso`` for the accounts) does say
why it refuses, but only about the email the provider verified for the person signing in: their own.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from ..services import ServiceError, authenticate, messages
from ..services import sso as sso_accounts
from ..services.accounts import EmailTaken, change_password, end_sessions
from ..services.common import Actor
from ..services.portal import register_applicant
from ..services.sso import SsoRefused
from . import sso
from .access import actor, home_of, keep_signed_in, public, roles, sign_in, unit_of_work
from .forms import ChangePasswordForm, LoginForm, RegisterForm, show_service_error
from .limits import address_key, address_limit, limiter, register_key, register_limit, sign_in_key, sign_in_limit
from .mfa import account_page
from .sessions import end_sessions_of
from .two_step import finish_sign_in

bp = Blueprint("auth", __name__)
REGISTER_FIELDS = {
    "name": "organisation_name",
    "ods_code": "ods_code",
    "org_type": "org_type",
    "region": "region",
    "email": "email",
    "password": "password",
}
#: Registration refused for an email that has an account, in words that do not say so.
NOT_REGISTERED = "We could not register you with these details. If you already have an account, sign in instead."


def failed(response) -> bool:  # noqa: ANN001
    """A sign-in attempt that did not sign anyone in (a success redirects)."""
    return response.status_code != 302


@bp.get("/")
@public
def start():
    if current_user.is_authenticated:
        return redirect(home_of(current_user))
    return render_template("auth/start.html")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(sign_in_limit, key_func=sign_in_key, methods=["POST"], deduct_when=failed)
@limiter.limit(address_limit, key_func=address_key, methods=["POST"], deduct_when=failed)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        with unit_of_work() as db_session:
            user = authenticate(db_session, form.email.data, form.password.data)
        if user is None:
            form.form_errors.append("Enter a correct email address and password")
        else:
            return redirect(finish_sign_in(user, mfa_asserted=False, next_url=request.args.get("next")))
    sso_label = current_app.config["OIDC_LABEL"] if sso.enabled() else None
    return render_template("auth/login.html", form=form, sso_label=sso_label)


@bp.get("/login/sso")
@public
def sso_start():
    """Off to the single sign-on provider (only when OIDC is configured)."""
    if not sso.enabled():
        abort(404)
    try:
        return sso.start(url_for("auth.sso_callback", _external=True))
    except sso.SsoFailure as failure:
        return _sso_failed(failure)


@bp.get("/login/sso/callback")
@public
def sso_callback():
    """The provider's answer: its ID token checked, then the account it signs in to (or a refusal)."""
    if not sso.enabled():
        abort(404)
    try:
        claims = sso.finish()
    except sso.SsoFailure as failure:
        return _sso_failed(failure)
    refused = None
    with unit_of_work() as db_session:
        try:
            outcome = sso_accounts.sign_in_with(db_session, claims, current_app.config["OIDC_MFA_ACR"])
        except SsoRefused as exc:  # caught inside the unit of work: its audit event is kept
            refused = exc
    if refused is not None:
        return render_template("auth/sso_failed.html", message=str(refused), refused=True), 403
    response = redirect(finish_sign_in(outcome.user, mfa_asserted=outcome.mfa_asserted))
    if outcome.linked_now:  # after signing in, which begins a new session
        flash("Your account is now linked to your single sign-on: next time, sign in with it.", "success")
    return response


def _sso_failed(failure: sso.SsoFailure):
    with unit_of_work() as db_session:
        sso_accounts.record_failure(db_session, failure.reason, failure.detail)
    status = 503 if failure.reason == "provider_unreachable" else 400
    return render_template("auth/sso_failed.html", message=failure.message, refused=False), status


@bp.post("/logout")
@roles("member", "lead", "admin")
def logout():
    logout_user()
    session.clear()  # the stored session goes; what is kept from here on is under a new id
    flash("You have signed out.", "success")
    return redirect(url_for("auth.start"))


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(register_limit, key_func=register_key, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(home_of(current_user))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as db_session:
                _, user = register_applicant(
                    db_session,
                    Actor(form.email.data.strip().lower()),
                    organisation={
                        "name": form.organisation_name.data,
                        "ods_code": form.ods_code.data,
                        "org_type": form.org_type.data,
                        "region": form.region.data,
                    },
                    user={
                        "email": form.email.data,
                        "name": form.name.data,
                        "password": form.password.data,
                        "others": [form.organisation_name.data, form.ods_code.data],
                    },
                )
        except EmailTaken:
            form.form_errors.append(NOT_REGISTERED)
        except ServiceError as exc:
            show_service_error(form, str(exc), REGISTER_FIELDS)
        else:
            sign_in(user)
            flash("Your organisation is registered. Now apply for membership of an alliance.", "success")
            return redirect(url_for("member.apply"))
    return render_template("auth/register.html", form=form)


@bp.get("/account")
@roles("member", "lead", "admin")
def account():
    return account_page(form=ChangePasswordForm())


@bp.post("/account/password")
@roles("member", "lead", "admin")
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as db_session:
                user = change_password(
                    db_session, actor(), current_user.id, current=form.current.data, new=form.password.data
                )
        except ServiceError as exc:
            show_service_error(form, str(exc), {"current": "current", "password": "password"})
        else:
            end_sessions_of(user.id)
            keep_signed_in(user)
            flash("Your password is changed. Every other session of yours has been signed out.", "success")
            return redirect(url_for("auth.account"))
    return account_page(form=form)


@bp.route("/account/email", methods=["GET", "POST"])
@roles("member", "lead", "admin")
def email_settings():
    """Which emails a person gets: non-essential kinds on or off, and a lead's daily digest."""
    kinds = messages.kinds_for(current_user.role)
    if request.method == "POST":
        try:
            with unit_of_work() as db_session:
                messages.save_settings(
                    db_session,
                    actor(),
                    current_user.id,
                    request.form.getlist("kinds"),
                    digest=request.form.get("digest") == "yes",
                )
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash("Your email settings are saved.", "success")
            return redirect(url_for("auth.email_settings"))
    with unit_of_work() as db_session:
        setting = messages.settings_of(db_session, current_user.id)
        muted, digest = set(setting.muted or []), setting.digest
    return render_template(
        "auth/email_settings.html", kinds=kinds, muted=muted, digest=digest, is_lead=current_user.role == "lead"
    )


@bp.post("/account/sign-out-everywhere")
@roles("member", "lead", "admin")
def sign_out_everywhere():
    with unit_of_work() as db_session:
        user = end_sessions(db_session, actor(), current_user.id)
    end_sessions_of(user.id)
    logout_user()
    session.clear()
    flash("You have signed out everywhere: on this device and every other.", "success")
    return redirect(url_for("auth.start"))

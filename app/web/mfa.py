"""Two-step verification pages: the second step of signing in, setting it up (a QR code and the secret as
text), new recovery codes, turning it off (members only), and the account page's section about it.

The decision after a right password is ``two_step.finish_sign_in``; the work is ``services.mfa``. Recovery
codes are shown on the response that made them, never flashed or kept in the session.
"""

from __future__ import annotations

from typing import Optional

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_login import current_user

from ..models import User
from ..services import mfa
from ..services.common import Actor
from .access import actor, home_of, public, roles, unit_of_work
from .forms import ChangePasswordForm, CodeForm, show_service_error
from .limits import limiter
from .two_step import (
    complete,
    enrol_only,
    enrolled,
    mfa_address_key,
    mfa_address_limit,
    mfa_user_key,
    mfa_user_limit,
    pending,
    pending_user,
    policy,
    refused,
)

bp = Blueprint("mfa", __name__)


def _limited(view):  # noqa: ANN001, ANN202
    """Refused codes are counted per person and per address (``two_step``); a right code is not."""
    view = limiter.limit(mfa_user_limit, key_func=mfa_user_key, methods=["POST"], deduct_when=refused)(view)
    return limiter.limit(mfa_address_limit, key_func=mfa_address_key, methods=["POST"], deduct_when=refused)(view)


def _refuse(form: CodeForm, message: str) -> None:
    g.mfa_refused = True
    show_service_error(form, message, {"code": "code"})


@bp.route("/auth/mfa", methods=["GET", "POST"])
@public
@_limited
def second_step():
    state = pending()
    if state is None:
        flash("Sign in again: the time to enter your code ran out, or you had not signed in.", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        user = pending_user(state)
        if user is None:
            flash("Sign in again.", "info")
            return redirect(url_for("auth.login"))
        with unit_of_work() as session:
            check = mfa.verify(session, Actor(user.email, user.id), user.id, form.code.data, policy())
        if check.ok:
            target = complete(user, state)
            if check.method == "recovery":
                flash(
                    f"You signed in with a recovery code: it cannot be used again. You have {check.codes_left} "
                    "left; make new ones on your account page if you are running out.",
                    "warning",
                )
            return redirect(target)
        _refuse(form, check.problem or "The code is not correct")
    return render_template("auth/mfa.html", form=form)


@bp.route("/account/two-step", methods=["GET", "POST"])
@roles("member", "lead", "admin")
@_limited
def enrol():
    with unit_of_work() as session:
        already = mfa.is_enrolled(session, current_user.id)
    if already:
        enrolled()
        return redirect(url_for("auth.account"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                codes = mfa.confirm_enrolment(session, actor(), current_user.id, form.code.data, policy())
        except mfa.MfaError as exc:
            _refuse(form, str(exc))
        else:
            enrolled()
            return render_template("auth/mfa_codes.html", codes=codes, enrolled_now=True, onward=home_of(current_user))
    with unit_of_work() as session:
        enrolment = mfa.enrolment(session, actor(), current_user.id, policy())
    return render_template(
        "auth/mfa_enrol.html",
        form=form,
        enrolment=enrolment,
        required=policy().required_for(current_user.role),
        enrol_only=enrol_only(),
    )


@bp.post("/account/two-step/recovery-codes")
@roles("member", "lead", "admin")
@_limited
def regenerate():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                codes = mfa.regenerate_codes(session, actor(), current_user.id, form.code.data, policy())
        except mfa.MfaError as exc:
            _refuse(form, str(exc))
        else:
            return render_template(
                "auth/mfa_codes.html", codes=codes, enrolled_now=False, onward=url_for("auth.account")
            )
    return account_page(regenerate=form)


@bp.post("/account/two-step/turn-off")
@roles("member")
@_limited
def disable():
    form = CodeForm()
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                mfa.disable(session, actor(), current_user.id, form.code.data, policy())
        except mfa.MfaError as exc:
            _refuse(form, str(exc))
        else:
            flash("Two-step verification is turned off. Signing in now takes only your password.", "success")
            return redirect(url_for("auth.account"))
    return account_page(disable=form)


def account_page(
    form: Optional[ChangePasswordForm] = None,
    regenerate: Optional[CodeForm] = None,
    disable: Optional[CodeForm] = None,
):
    """The account page (``auth.account``), with its two-step verification section."""
    with unit_of_work() as session:
        status = mfa.status(session, current_user.id)
        user = session.get(User, current_user.id)
        may_disable = user is not None and mfa.may_disable(user, policy())
    return render_template(
        "auth/account.html",
        form=form or ChangePasswordForm(formdata=None),
        mfa_status=status,
        mfa_required=policy().required_for(current_user.role) or current_user.role in mfa.STAFF_ROLES,
        may_disable=may_disable,
        regenerate_form=regenerate or CodeForm(formdata=None),
        disable_form=disable or CodeForm(formdata=None),
    )

"""Admission pages: the lead's Applications list, one application with its decision, and the alliance's
admission policy; the applicant's withdrawal and the sponsor's answer, from the member pages.

Leads reach only their own alliance's applications (another's is a 404, reading and writing alike); a member user
withdraws only its own organisation's application and answers only sponsorships that name its organisation.
The policy is the lead's (``/review/admission``) or an admin's, for any alliance
(``/admin/alliances/<id>/admission``). Every form carries the CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField

from ..models import APPLICATION_STATES
from ..services import NotFound, ServiceError, overview
from ..services import admission as service
from .access import actor, roles, unit_of_work
from .review import field_problems

bp = Blueprint("admission", __name__)

DONE = {
    "consider": "The application is now under consideration.",
    "admit": "Admitted: the membership has started and the applicant has been told.",
    "decline": "Declined: the applicant has been told, with your reason.",
}


class PolicyForm(FlaskForm):
    org_types = TextAreaField("Organisation types admitted")
    regions = TextAreaField("Regions admitted")
    sponsor_required = BooleanField("An applicant needs a sponsor: an accredited member that confirms it")


def _lines(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace(",", "\n").splitlines() if part.strip()]


# -- the lead's pages ----------------------------------------------------------------------------------------------


@bp.get("/review/applications")
@roles("lead")
def applications():
    status = (request.args.get("status") or "").strip() or None
    if status is not None and status not in APPLICATION_STATES:
        status = None
    with unit_of_work() as session:
        alliance = overview.alliance(session, current_user.alliance_id)
        lines = service.applications_of(session, current_user.alliance_id, status) if alliance else []
        counts = service.counts_of(session, current_user.alliance_id) if alliance else {}
        policy = service.policy_of(session, current_user.alliance_id) if alliance else None
    return render_template(
        "admission/applications.html",
        alliance=alliance,
        lines=lines,
        counts=counts,
        status=status,
        states=APPLICATION_STATES,
        policy=policy,
    )


def _render_application(application_id: int, errors: dict | None = None, entered: dict | None = None, code: int = 200):
    with unit_of_work() as session:
        page = service.application_page(session, current_user.alliance_id, application_id)
    return (
        render_template(
            "admission/application.html",
            page=page,
            line=page.line,
            errors=errors or {},
            entered=entered or {},
            page_has_errors=bool(errors),
        ),
        code,
    )


@bp.get("/review/applications/<int:application_id>")
@roles("lead")
def application(application_id: int):
    return _render_application(application_id)


@bp.post("/review/applications/<int:application_id>/<step>")
@roles("lead")
def decide(application_id: int, step: str):
    """The lead's steps: consider, admit, decline (with a reason)."""
    if step not in DONE:
        abort(404)
    try:
        with unit_of_work() as session:
            if step == "consider":
                service.consider(session, actor(), current_user.alliance_id, application_id)
            elif step == "admit":
                service.admit(session, actor(), current_user.alliance_id, application_id)
            else:
                service.decline(
                    session, actor(), current_user.alliance_id, application_id, request.form.get("reason", "")
                )
    except NotFound:
        raise
    except ServiceError as exc:
        return _render_application(application_id, field_problems(str(exc)), dict(request.form), 400)
    flash(DONE[step], "success")
    return redirect(url_for("admission.application", application_id=application_id))


def _policy_page(alliance_id: int, back: str):
    with unit_of_work() as session:
        alliance = overview.alliance(session, alliance_id)
        if alliance is None:
            abort(404)
        policy = service.policy_of(session, alliance_id)
        alliance_name = alliance.name
    form = PolicyForm()
    if request.method == "GET":
        form.org_types.data = "\n".join(policy.org_types)
        form.regions.data = "\n".join(policy.regions)
        form.sponsor_required.data = policy.sponsor_required
    elif form.validate_on_submit():
        try:
            with unit_of_work() as session:
                service.set_policy(
                    session,
                    actor(),
                    alliance_id,
                    org_types=_lines(form.org_types.data),
                    regions=_lines(form.regions.data),
                    sponsor_required=bool(form.sponsor_required.data),
                )
        except ServiceError as exc:
            for key, message in field_problems(str(exc)).items():
                target = form._fields.get(key)
                (target.errors if target is not None else form.form_errors).append(message)
        else:
            flash("The admission policy is saved. It applies to every open application from now on.", "success")
            return redirect(request.path)
    code = 400 if request.method == "POST" else 200
    return render_template(
        "admission/policy.html", form=form, alliance_name=alliance_name, back=back, page_has_errors=code == 400
    ), code


@bp.route("/review/admission", methods=["GET", "POST"])
@roles("lead")
def policy():
    return _policy_page(current_user.alliance_id, url_for("admission.applications"))


@bp.route("/admin/alliances/<int:alliance_id>/admission", methods=["GET", "POST"])
@roles("admin")
def admin_policy(alliance_id: int):
    return _policy_page(alliance_id, url_for("admin.home"))


# -- the member's steps ---------------------------------------------------------------------------------------------


@bp.post("/member/applications/<int:application_id>/withdraw")
@roles("member")
def withdraw(application_id: int):
    try:
        with unit_of_work() as session:
            application = service.withdraw(session, actor(), current_user.organisation_id, application_id)
            membership_id = application.membership_id
    except NotFound:
        raise
    except ServiceError as exc:
        flash(_sentence(str(exc)), "error")
        return redirect(url_for("member.home"))
    flash("Your application is withdrawn.", "success")
    return redirect(url_for("member.membership", membership_id=membership_id))


@bp.post("/member/sponsorships/<int:application_id>/<answer>")
@roles("member")
def sponsorship(application_id: int, answer: str):
    """The named sponsor's answer: confirm or refuse."""
    if answer not in ("confirm", "refuse"):
        abort(404)
    try:
        with unit_of_work() as session:
            service.answer_sponsorship(
                session, actor(), current_user.organisation_id, application_id, answer == "confirm"
            )
    except NotFound:
        raise
    except ServiceError as exc:
        flash(_sentence(str(exc)), "error")
        return redirect(url_for("member.home", _anchor="sponsorships"))
    flash("Sponsorship confirmed." if answer == "confirm" else "Sponsorship refused.", "success")
    return redirect(url_for("member.home", _anchor="sponsorships"))


def _sentence(message: str) -> str:
    key, sep, text = message.partition(": ")
    message = text if sep and " " not in key else message
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")

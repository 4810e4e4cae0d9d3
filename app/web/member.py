"""A member organisation's pages: memberships, the self-assessment, evidence, submission and the result.

Every route is for member users only, and every lookup is scoped to the
user's own organisation (``app.services.portal``): another organisation's
membership or assessment is a 404, for reading and for writing alike.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..models import User
from ..services import (
    NotFound,
    ServiceError,
    SubmissionRefused,
    admission,
    exports,
    portal,
    submit,
    team_views,
    teams,
)
from ..services import review as review_service
from ..services.buddying.board import organisation_pairs
from ..services.evidence import NoEvidenceFile, add_evidence, attach_file, detach_file, evidence_of
from ..services.notifications import mark_read, notifications_of
from ..services.progress import progress
from ..services.questions import not_asked
from ..services.results import result_view
from ..uploads import UploadRefused, allowed_extensions
from .access import actor, roles, unit_of_work
from .downloads import evidence_download, export_download
from .forms import (
    ApplyForm,
    AttestationForm,
    EvidenceForm,
    domain_form,
    field_names,
    page_layout,
    save_problem,
    show_service_error,
)

bp = Blueprint("member", __name__, url_prefix="/member")


def _organisation_id() -> int:
    return current_user.organisation_id


def _store():
    return current_app.extensions["upload_store"]


@bp.get("/")
@roles("member")
def home():
    with unit_of_work() as session:
        organisation = portal.get_organisation(session, _organisation_id())
        memberships = portal.memberships_of(session, _organisation_id())
        notifications = notifications_of(session, _organisation_id())
        buddies, buddying = organisation_pairs(session, _organisation_id())
        applications = admission.applications_by_membership(session, _organisation_id())
        sponsorships = admission.sponsor_requests(session, _organisation_id())
    return render_template(
        "member/home.html",
        applications=applications,
        sponsorships=sponsorships,
        organisation=organisation,
        memberships=memberships,
        notifications=notifications,
        buddies=buddies,
        buddying=buddying,
    )


@bp.post("/notifications/<int:notification_id>/read")
@roles("member")
def read_notification(notification_id: int):
    with unit_of_work() as session:
        mark_read(session, actor(), _organisation_id(), notification_id)
    return redirect(url_for("member.home", _anchor="notifications"))


@bp.get("/apply")
@roles("member")
def apply():
    with unit_of_work() as session:
        offers = portal.alliances_open(session)
    return render_template("member/apply.html", offers=offers)


@bp.route("/apply/<slug>", methods=["GET", "POST"])
@roles("member")
def apply_to(slug: str):
    with unit_of_work() as session:
        offer = portal.alliance_offer(session, slug)
        sponsor_required = admission.policy_of(session, offer.alliance.id).sponsor_required
    form = ApplyForm(routes=[(r.id, r.title) for r in offer.standards.routes], specialties=offer.specialties)
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                application = admission.apply(
                    session,
                    actor(),
                    organisation_id=_organisation_id(),
                    alliance_id=offer.alliance.id,
                    route=form.route.data,
                    specialty=form.chosen_specialty,
                    sponsor_ods=form.sponsor.data or "",
                )
                membership_id = application.membership_id
        except ServiceError as exc:
            show_service_error(form, str(exc), {"route": "route", "specialty": "specialty", "sponsor": "sponsor"})
        else:
            flash(f"You have applied for {form.route.data} membership of {offer.alliance.name}.", "success")
            return redirect(url_for("member.membership", membership_id=membership_id))
    return render_template("member/apply_to.html", form=form, offer=offer, sponsor_required=sponsor_required)


@bp.get("/memberships/<int:membership_id>")
@roles("member")
def membership(membership_id: int):
    with unit_of_work() as session:
        overview = portal.membership_overview(session, _organisation_id(), membership_id)
        application = admission.application_for(session, _organisation_id(), membership_id)
    return render_template("member/membership.html", overview=overview, application=application)


@bp.get("/memberships/<int:membership_id>/frameworks/<framework_id>/evidence.<fmt>")
@roles("member")
def framework_export(membership_id: int, framework_id: str, fmt: str):
    """What the membership's latest submitted result evidences for one framework ("our CQC evidence")."""
    if fmt not in exports.FORMATS:
        abort(404)
    with unit_of_work() as session:
        found = portal.own_framework_evidence(session, _organisation_id(), membership_id, framework_id)
        organisation = portal.get_organisation(session, _organisation_id())
    body = exports.evidence_csv(found) if fmt == "csv" else exports.evidence_json(found, organisation.name)
    return export_download(body, fmt, exports.evidence_filename(found, organisation.ods_code, fmt))


@bp.post("/memberships/<int:membership_id>/assessments")
@roles("member")
def start_assessment(membership_id: int):
    try:
        with unit_of_work() as session:
            assessment = portal.start_assessment(session, actor(), _organisation_id(), membership_id)
            assessment_id = assessment.id
    except NotFound:
        raise
    except ServiceError as exc:
        flash(f"The self-assessment could not be started: {exc}", "error")
        return redirect(url_for("member.membership", membership_id=membership_id))
    return redirect(url_for("member.assessment", assessment_id=assessment_id))


@bp.get("/assessments/<int:assessment_id>")
@roles("member")
def assessment(assessment_id: int):
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, _organisation_id(), assessment_id)
        state = progress(session, ctx)
        overview = portal.membership_overview(session, _organisation_id(), ctx.membership.id)
        comments = review_service.member_comments(session, assessment_id)
        returned = portal.returns_of(session, [ctx.assessment]).get(assessment_id)
    return render_template(
        "member/assessment.html", ctx=ctx, progress=state, overview=overview, comments=comments, returned=returned
    )


@bp.route("/assessments/<int:assessment_id>/domains/<path:domain_id>", methods=["GET", "POST"])
@roles("member")
def domain(assessment_id: int, domain_id: str):
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, _organisation_id(), assessment_id)
        state = progress(session, ctx)
    row = state.domain(domain_id)
    if row is None:
        abort(404)
    names = field_names(ctx.standards)
    form = domain_form(row.criteria, names, state.answers)
    editable = ctx.assessment.status == "draft"
    saved = 0
    # The answers this page showed travel with it, so a save changes only what this person changed and
    # never clears an answer a colleague saved since the page was opened.
    shown = json.dumps({c.id: state.answers.get(c.id) for c in row.criteria}, separators=(",", ":"))
    if request.method == "POST":
        shown = request.form.get("shown", "")
        if not editable:
            raise ServiceError(
                f"this self-assessment is {ctx.assessment.status.replace('_', ' ')}; only a draft can be changed"
            )
        form.validate()
        # A question this save leaves unasked keeps what is stored for it; what was typed into it is ignored.
        form.leave_as_stored(not_asked(ctx, {**state.answers, **form.answers()}))
        with unit_of_work() as session:
            outcome = portal.save_changed_answers(
                session, actor(), assessment_id, form.answers(), shown=portal.shown_answers(shown)
            )
            state = progress(session, ctx)
        row = state.domain(domain_id)
        saved = len(outcome.saved) + len(outcome.cleared)
        sent = form.answers()
        for criterion_id, problem in outcome.errors.items():
            field = form[names[criterion_id]]
            field.errors = [*field.errors, save_problem(field.criterion, sent.get(criterion_id), problem)]
        if not form.errors:
            flash(f"{row.domain.title}: your answers are saved.", "success")
            following = state.next_domain(domain_id)
            if request.form.get("action") == "continue" and following:
                return redirect(url_for("member.domain", assessment_id=assessment_id, domain_id=following))
            return redirect(url_for("member.assessment", assessment_id=assessment_id))
    layout = page_layout(ctx.standards, row.standards, names)
    with unit_of_work() as session:
        owned = team_views.owners_on_page(session, current_user.id, ctx.membership.id, row.standards)
    return render_template(
        "member/domain.html",
        owned=owned,
        ctx=ctx,
        progress=state,
        row=row,
        form=form,
        names=names,
        editable=editable,
        saved=saved,
        shown=shown,
        layout=layout,
    )


@bp.route("/assessments/<int:assessment_id>/criteria/<path:criterion_id>/evidence", methods=["GET", "POST"])
@roles("member")
def evidence(assessment_id: int, criterion_id: str):
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, _organisation_id(), assessment_id)
        applicable = {c.id: (s, c) for s, c in ctx.applicable_criteria()}
        if criterion_id not in applicable:
            abort(404)
        items = evidence_of(session, assessment_id, criterion_id)
    standard, criterion = applicable[criterion_id]
    editable = ctx.assessment.status == "draft"
    form = EvidenceForm()
    if request.method == "POST":
        if not editable:
            raise ServiceError(
                f"this self-assessment is {ctx.assessment.status.replace('_', ' ')}; "
                "evidence can be added to a draft only"
            )
        if form.validate():
            note = (form.note.data or "").strip()
            try:
                with unit_of_work() as session:
                    if form.kind.data == "file":
                        upload = form.upload.data
                        attach_file(
                            session,
                            actor(),
                            assessment_id,
                            criterion_id,
                            data=upload.stream,
                            filename=upload.filename,
                            content_type=upload.mimetype,
                            note=note,
                            store=_store(),
                        )
                    else:
                        add_evidence(
                            session,
                            actor(),
                            assessment_id,
                            criterion_id,
                            kind="link",
                            url=form.url.data.strip(),
                            note=note,
                        )
            except UploadRefused as exc:
                form.upload.errors = [*form.upload.errors, str(exc)]
            except ServiceError as exc:
                show_service_error(form, str(exc), {})
            else:
                flash(f"Evidence added to {criterion_id}.", "success")
                return redirect(url_for("member.evidence", assessment_id=assessment_id, criterion_id=criterion_id))
    domain_id = standard.domain
    return render_template(
        "member/evidence.html",
        ctx=ctx,
        standard=standard,
        criterion=criterion,
        items=items,
        form=form,
        editable=editable,
        domain_id=domain_id,
        names=field_names(ctx.standards),
        store=_store(),
        allowed_types=allowed_extensions(),
    )


@bp.get("/assessments/<int:assessment_id>/evidence/<int:evidence_id>")
@roles("member")
def evidence_file(assessment_id: int, evidence_id: int):
    with unit_of_work() as session:
        item = portal.own_evidence(session, _organisation_id(), assessment_id, evidence_id)
    try:
        return evidence_download(item)
    except NoEvidenceFile:
        abort(404)


@bp.route("/assessments/<int:assessment_id>/evidence/<int:evidence_id>/remove", methods=["GET", "POST"])
@roles("member")
def remove_evidence(assessment_id: int, evidence_id: int):
    """Remove a piece of evidence once the member confirms it (the GET asks)."""
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, _organisation_id(), assessment_id)
        item = portal.own_evidence(session, _organisation_id(), assessment_id, evidence_id)
        criterion_id = item.criterion_id
        if request.method == "POST":
            detach_file(session, actor(), evidence_id, store=_store())
    if request.method == "GET":
        return render_template("member/evidence_remove.html", ctx=ctx, item=item)
    flash(f"Evidence removed from {criterion_id}.", "success")
    return redirect(url_for("member.evidence", assessment_id=assessment_id, criterion_id=criterion_id))


@bp.route("/assessments/<int:assessment_id>/submit", methods=["GET", "POST"])
@roles("member")
def submit_assessment(assessment_id: int):
    """Check and submit: an approver submits with their attestation; anyone else sees who may."""
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, _organisation_id(), assessment_id)
        state = progress(session, ctx)
        may_submit = "approver" in teams.roles_of(session.get(User, current_user.id))
        approvers = [
            m.name for m in team_views.team(session, current_user.id, assessment_id).mates if "approver" in m.roles
        ]
    missing = state.missing
    refused = False
    form = AttestationForm(data=None if request.method == "POST" else {"name": current_user.name})
    if request.method == "POST":
        if not may_submit:
            abort(403)
        if form.validate_on_submit():
            attestation = teams.Attestation(form.confirmed.data, form.name.data, form.role.data)
            try:
                with unit_of_work() as session:
                    submit(session, actor(), assessment_id, attestation)
            except SubmissionRefused as exc:
                missing, refused = exc.missing, True
            except teams.AttestationRefused as exc:
                show_service_error(form, str(exc), {"attestation": "confirmed", "name": "name", "role": "role"})
            else:
                flash("Your self-assessment is submitted. The alliance lead will review it.", "success")
                return redirect(url_for("member.result", assessment_id=assessment_id))
    return render_template(
        "member/submit.html",
        ctx=ctx,
        progress=state,
        missing=missing,
        refused=refused,
        form=form,
        may_submit=may_submit,
        approvers=approvers,
        names=field_names(ctx.standards),
        page_has_errors=refused or bool(form.errors),
    )


@bp.get("/assessments/<int:assessment_id>/result")
@roles("member")
def result(assessment_id: int):
    min_peers = current_app.config["BENCHMARK_MIN_PEERS"]
    with unit_of_work() as session:
        ctx = portal.own_assessment(session, _organisation_id(), assessment_id)
        view = result_view(session, ctx, min_peers)
        comments = review_service.member_comments(session, assessment_id)
    return render_template("member/result.html", ctx=ctx, view=view, min_peers=min_peers, comments=comments)

"""Alliance leads' pages: the review queue, one assessment in full, comments and decisions.

Every route is for leads only, and every lookup goes through
``app.services.review`` with the lead's own alliance: another alliance's
assessment or evidence is a 404, for reading and for writing alike.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename

from ..jobs import exports as export_jobs
from ..jobs import previews as preview_jobs
from ..services import ServiceError, approvals, audit_trail, cycle_exports, cycles_of, exports, overview, previews
from ..services import cycles as cycle_service
from ..services import dashboard as dashboards
from ..services import frameworks as framework_service
from ..services import impact as preview
from ..services import plans as plan_service
from ..services import review as service
from ..services import review_assignments as assignments
from ..services import review_queue as queue_service
from ..services.evidence import NoEvidenceFile
from ..wording import label
from .access import actor, roles, unit_of_work
from .downloads import evidence_download, export_download
from .forms import ApprovalSettingsForm, LibraryImportForm, StandardsUploadForm

bp = Blueprint("review", __name__, url_prefix="/review")


def _alliance_id():
    return current_user.alliance_id


AWAITING = (
    "{what} awaits approval: another lead of the alliance must approve it before it takes effect. "
    "The member sees nothing of it until then."
)


def field_problems(message: str) -> dict[str, str]:
    """A service refusal ("field: problem; field: problem") as a message per form field."""
    found: dict[str, str] = {}
    for part in (p.strip() for p in message.split("; ") if p.strip()):
        key, sep, text = part.partition(": ")
        if not sep or " " in key:
            return {"form": message[:1].upper() + message[1:]}
        found[key] = text[:1].upper() + text[1:]
    return found


def _filter_options(queue: queue_service.Queue) -> list[tuple[str, str, list[tuple[str, str]]]]:
    either = [("", "Either"), ("yes", "Yes"), ("no", "No")]
    options = [
        ("cycle", "Cycle", [("", "Any cycle")] + [(str(c.id), c.name) for c in queue.cycles]),
        ("status", "Status", [("", "Any status")] + [(s, label(s)) for s in queue_service.QUEUE_STATES]),
        ("outcome", "Engine outcome", [("", "Any outcome")] + [(o, label(o)) for o in queue_service.OUTCOMES]),
        ("route", "Route", [("", "Any route"), ("full", "Full"), ("specialty", "Specialty")]),
    ]
    if queue.specialties:
        options.append(("specialty", "Specialty", [("", "Any specialty")] + [(s, label(s)) for s in queue.specialties]))
    options += [
        ("major_breach", "Has a major breach", either),
        ("at_risk", "Member at risk", either),
        (
            "assignee",
            "Reviewer",
            [("", "Anyone or nobody"), (assignments.ME, "Assigned to me"), (assignments.NOBODY, "Nobody yet")]
            + [(str(r.id), r.name) for r in queue.reviewers],
        ),
        ("sort", "Sort by", list(queue_service.SORTS.items())),
        ("order", "Order", [("asc", "Ascending"), ("desc", "Descending")]),
    ]
    return options


#: How many members of each retention list the queue page names (the rest are counted, and filtered for).
RETENTION_SHOWN = 10
#: The query string keys the queue page keeps from one page to the next (and after an assignment).
QUEUE_KEYS = (
    "cycle",
    "status",
    "outcome",
    "route",
    "specialty",
    "major_breach",
    "at_risk",
    "assignee",
    "sort",
    "order",
)


def _queue_args(args) -> dict[str, str]:
    """The queue's filters and sort from a query string (or a form's ``back`` field), nothing else."""
    return {key: args.get(key) for key in QUEUE_KEYS if args.get(key)}


def _pagination(queue: queue_service.Queue, args: dict[str, str]) -> dict | None:
    """The NHS.UK pagination component's parameters: previous, next, the first, last and nearby pages."""
    if queue.pages <= 1:
        return None

    def href(number: int) -> str:
        return url_for("review.home", **args, page=number) if number > 1 else url_for("review.home", **args)

    shown = sorted({1, queue.pages, *range(max(1, queue.page - 2), min(queue.pages, queue.page + 2) + 1)})
    items, last = [], 0
    for number in shown:
        if number > last + 1:
            items.append({"ellipsis": True})
        items.append({"number": number, "href": href(number), "current": number == queue.page})
        last = number
    return {
        "id": "pages",
        "items": items,
        "previous": {"href": href(queue.page - 1)} if queue.page > 1 else {},
        "next": {"href": href(queue.page + 1)} if queue.page < queue.pages else {},
    }


@bp.get("/")
@roles("lead")
def home():
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        if alliance is None:
            return render_template(
                "review/home.html", alliance=None, queue=None, filters=None, errors={}, recommended=[], at_risk=[]
            )
        filters, errors = queue_service.parse_filters(
            request.args, cycles_of(session, alliance.id), assignments.reviewers_of(session, alliance.id)
        )
        queue = queue_service.review_queue(
            session, alliance.id, filters, viewer_id=current_user.id, per_page=queue_service.PER_PAGE
        )
        recommended, at_risk = service.retention_cases(session, alliance.id, limit=RETENTION_SHOWN)
        retention_counts = service.retention_counts(session, alliance.id)
    if queue.past_the_end:
        errors["page"] = f"There is no page {queue.asked_page}: the list has {queue.pages}. This is the last page"
    args = _queue_args(request.args)
    return render_template(
        "review/home.html",
        alliance=alliance,
        queue=queue,
        filters=filters,
        errors=errors,
        recommended=recommended,
        at_risk=at_risk,
        retention_counts=retention_counts,
        options=_filter_options(queue),
        states=queue_service.QUEUE_STATES,
        args=args,
        pagination=_pagination(queue, args),
        back=urlencode({**args, **({"page": str(queue.page)} if queue.page > 1 else {})}),
        page_has_errors=bool(errors),
    )


@bp.post("/assessments/<int:assessment_id>/assign")
@roles("lead")
def assign(assessment_id: int):
    """Assign the assessment to a lead of the alliance (or to nobody); back to the queue's same page and
    filters when sent from there, else to the assessment."""
    back = request.form.get("back")
    try:
        reviewer_id = assignments.parse_reviewer(request.form.get("reviewer", ""), current_user.id)
        with unit_of_work() as session:
            reviewer = assignments.assign(session, actor(), _alliance_id(), assessment_id, reviewer_id)
            name = reviewer.name if reviewer else None
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        flash(field_problems(str(exc)).get("reviewer", str(exc)), "error")
    else:
        flash(f"Assigned to {name}." if name else "No reviewer is assigned now.", "success")
    if back is not None:
        args = dict(parse_qsl(back[:2000]))
        page = args.get("page", "")
        extra = {"page": page} if page.isascii() and page.isdigit() and len(page) <= 6 else {}
        return redirect(url_for("review.home", **_queue_args(args), **extra, _anchor=f"row-{assessment_id}"))
    return redirect(url_for("review.assessment", assessment_id=assessment_id, _anchor="reviewer"))


def _render_assessment(assessment_id: int, errors: dict[str, str] | None = None, form: dict | None = None):
    min_peers = current_app.config["BENCHMARK_MIN_PEERS"]
    with unit_of_work() as session:
        page = service.review_page(session, _alliance_id(), assessment_id, min_peers)
        awaiting = approvals.pending_lines(session, _alliance_id(), current_user.id, assessment_id)
        leads = approvals.leads_count(session, _alliance_id())
        assignment = assignments.assignment_of(session, _alliance_id(), assessment_id)
        reviewers = assignments.reviewers_of(session, _alliance_id())
        assignment_name = assignments.reviewer_name(session, assignment)
    return render_template(
        "review/assessment.html",
        awaiting=awaiting,
        kinds=approvals.KIND_WORDS,
        second_lead_needed=leads < 2,
        assignment=assignment,
        assignment_name=assignment_name,
        reviewers=reviewers,
        page=page,
        ctx=page.ctx,
        view=page.view,
        min_peers=min_peers,
        errors=errors or {},
        entered=form or {},
        words=service.DECISION_WORDS,
        page_has_errors=bool(errors),
    )


@bp.get("/assessments/<int:assessment_id>")
@roles("lead")
def assessment(assessment_id: int):
    return _render_assessment(assessment_id)


@bp.get("/assessments/<int:assessment_id>/evidence/<int:evidence_id>")
@roles("lead")
def evidence_file(assessment_id: int, evidence_id: int):
    with unit_of_work() as session:
        item = service.lead_evidence(session, _alliance_id(), assessment_id, evidence_id)
    try:
        return evidence_download(item)
    except NoEvidenceFile:
        abort(404)


@bp.post("/assessments/<int:assessment_id>/comments")
@roles("lead")
def comment(assessment_id: int):
    try:
        with unit_of_work() as session:
            service.add_comment(
                session,
                actor(),
                _alliance_id(),
                assessment_id,
                request.form.get("comment", ""),
                request.form.get("criterion") or None,
            )
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        return _render_assessment(assessment_id, field_problems(str(exc)), dict(request.form))
    flash("Your comment is sent to the member.", "success")
    return redirect(url_for("review.assessment", assessment_id=assessment_id, _anchor="comments"))


@bp.post("/assessments/<int:assessment_id>/decision")
@roles("lead")
def decide(assessment_id: int):
    form = request.form
    try:
        due_on = service.parse_due_date(
            form.get("due_on-day", ""), form.get("due_on-month", ""), form.get("due_on-year", "")
        )
        with unit_of_work() as session:
            taken = approvals.decide(
                session,
                actor(),
                _alliance_id(),
                assessment_id,
                form.get("kind", ""),
                conditions=form.get("conditions", ""),
                due_on=due_on,
                notes=form.get("notes", ""),
            )
            kind = form.get("kind", "")
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        return _render_assessment(assessment_id, field_problems(str(exc)), dict(form))
    if taken.awaiting:
        flash(AWAITING.format(what=f"Your decision ({service.DECISION_WORDS[kind].lower()})"), "success")
        return redirect(url_for("review.assessment", assessment_id=assessment_id, _anchor="awaiting-approval"))
    flash(f"Decision recorded: {service.DECISION_WORDS[kind]}. The member has been notified.", "success")
    return redirect(url_for("review.assessment", assessment_id=assessment_id))


@bp.get("/exports")
@roles("lead")
def exports_page():
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        cycles = cycles_of(session, alliance.id) if alliance else []
        lines = cycle_exports.exports_of(session, _alliance_id())
    return render_template(
        "review/exports.html",
        alliance=alliance,
        cycles=cycles,
        choices=cycle_exports.CHOICES,
        lines=lines,
        waiting=any(line.export.status in ("queued", "running") for line in lines),
    )


@bp.post("/exports")
@roles("lead")
def request_export():
    """A whole cycle's export, written by a job; the exports page lists it, then links its file."""
    form = request.form
    raw_cycle = form.get("cycle_id", "")
    try:
        with unit_of_work() as session:
            row = cycle_exports.request(
                session,
                actor(),
                _alliance_id(),
                int(raw_cycle) if raw_cycle.isdigit() else 0,
                form.get("kind", ""),
                form.get("fmt", ""),
            )
            export_id = row.id
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        flash(f"The export cannot be made: {exc}", "error")
        return redirect(url_for("review.exports_page"))
    export_jobs.enqueue(export_id)
    flash("Export requested. It is listed below; download it once it is ready.", "success")
    return redirect(url_for("review.exports_page", _anchor="requested"))


@bp.get("/exports/<int:export_id>/download")
@roles("lead")
def cycle_export_download(export_id: int):
    with unit_of_work() as session:
        path, name = cycle_exports.for_download(
            session, _alliance_id(), export_id, Path(current_app.config["EXPORT_DIR"])
        )
    return send_file(path, as_attachment=True, download_name=name, max_age=0)


@bp.get("/assessments/<int:assessment_id>/summary")
@roles("lead")
def summary(assessment_id: int):
    min_peers = current_app.config["BENCHMARK_MIN_PEERS"]
    with unit_of_work() as session:
        page = service.review_page(session, _alliance_id(), assessment_id, min_peers)
    return render_template("review/summary.html", page=page, ctx=page.ctx, view=page.view, words=service.DECISION_WORDS)


@bp.get("/dashboard")
@roles("lead")
def dashboard():
    raw = (request.args.get("cycle") or "").strip()
    error = None
    if raw and not raw.isdigit():
        error, raw = queue_service.cycle_problem(raw), ""
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        board = dashboards.dashboard(session, alliance.id, int(raw) if raw else None) if alliance else None
        members = dashboards.memberships_of(session, alliance.id) if alliance else []
        frameworks = framework_service.alliance_summaries(session, alliance.id) if alliance else []
    return render_template(
        "review/dashboard.html",
        alliance=alliance,
        board=board,
        members=members,
        frameworks=frameworks,
        error=error,
        page_has_errors=bool(error),
    )


@bp.get("/frameworks/<framework_id>")
@roles("lead")
def framework(framework_id: str):
    """One framework the alliance's standards are mapped to: per ref, which members' latest results meet it."""
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        summary = framework_service.alliance_summary(session, _alliance_id(), framework_id)
    return render_template("review/framework.html", alliance=alliance, summary=summary, formats=exports.FORMATS)


@bp.get("/frameworks/<framework_id>/evidence.<fmt>")
@roles("lead")
def framework_export(framework_id: str, fmt: str):
    """What every member's latest result evidences for one framework, one row per member and ref."""
    if fmt not in exports.FORMATS:
        abort(404)
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        found = framework_service.lead_evidence(session, _alliance_id(), framework_id)
    body = exports.evidence_csv(found) if fmt == "csv" else exports.evidence_json(found, alliance.name)
    return export_download(body, fmt, exports.evidence_filename(found, alliance.slug, fmt))


@bp.get("/members/<int:membership_id>")
@roles("lead")
def member_timeline(membership_id: int):
    with unit_of_work() as session:
        timeline = dashboards.member_timeline(session, _alliance_id(), membership_id)
    return render_template("review/timeline.html", timeline=timeline)


@bp.get("/audit")
@roles("lead")
def audit():
    filters, errors = audit_trail.parse_filters(request.args)
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        trail = audit_trail.audit_trail(session, alliance.id, filters) if alliance else None
    return render_template(
        "review/audit.html",
        alliance=alliance,
        trail=trail,
        args=request.args,
        errors=errors,
        limit=audit_trail.LIMIT,
        page_has_errors=bool(errors),
    )


@bp.get("/plans")
@roles("lead")
def plans():
    overdue = (request.args.get("overdue") or "") == "yes"
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        tracked = plan_service.alliance_plans(session, alliance.id, overdue_only=overdue) if alliance else []
    return render_template("review/plans.html", alliance=alliance, tracked=tracked, overdue=overdue)


@bp.post("/assessments/<int:assessment_id>/overrides")
@roles("lead")
def set_override(assessment_id: int):
    form = request.form
    kind = form.get("kind", "")
    try:
        with unit_of_work() as session:
            taken = approvals.override(
                session,
                actor(),
                _alliance_id(),
                assessment_id,
                kind,
                form.get("criterion" if kind == "criterion" else "standard", ""),
                form.get("score" if kind == "criterion" else "status", ""),
                form.get("reason", ""),
            )
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        errors = {f"override-{k}": v for k, v in field_problems(str(exc)).items()}
        return _render_assessment(assessment_id, errors, dict(form))
    if taken.awaiting:
        flash(AWAITING.format(what="Your override changes a standard's status: it"), "success")
        return redirect(url_for("review.assessment", assessment_id=assessment_id, _anchor="awaiting-approval"))
    flash("Override recorded and the result scored again.", "success")
    return redirect(url_for("review.assessment", assessment_id=assessment_id, _anchor="overrides"))


@bp.post("/assessments/<int:assessment_id>/overrides/<int:override_id>/remove")
@roles("lead")
def remove_override(assessment_id: int, override_id: int):
    try:
        with unit_of_work() as session:
            approvals.remove_override(
                session, actor(), _alliance_id(), assessment_id, override_id, request.form.get("reason", "")
            )
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        return _render_assessment(assessment_id, {"override-form": field_problems(str(exc)).get("form", str(exc))})
    flash("Override removed and the result scored again.", "success")
    return redirect(url_for("review.assessment", assessment_id=assessment_id, _anchor="overrides"))


@bp.post("/members/<int:membership_id>/keep")
@roles("lead")
def keep_member(membership_id: int):
    back = request.form.get("assessment_id", "")
    try:
        with unit_of_work() as session:
            service.keep_member(session, actor(), _alliance_id(), membership_id, request.form.get("notes", ""))
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        if back.isdigit():
            return _render_assessment(int(back), {"keep": field_problems(str(exc)).get("notes", str(exc))})
        flash(str(exc), "error")
        return redirect(url_for("review.home"))
    flash(
        "Suspension not recommended any more: the member keeps its status. A further cycle with the same "
        "major breach recommends it again.",
        "success",
    )
    if back.isdigit():
        return redirect(url_for("review.assessment", assessment_id=int(back)))
    return redirect(url_for("review.home"))


@bp.post("/assessments/<int:assessment_id>/start")
@roles("lead")
def start(assessment_id: int):
    with unit_of_work() as session:
        service.take_into_review(session, actor(), _alliance_id(), assessment_id)
    flash("The self-assessment is under review.", "success")
    return redirect(url_for("review.assessment", assessment_id=assessment_id))


@bp.post("/assessments/<int:assessment_id>/return")
@roles("lead")
def return_assessment(assessment_id: int):
    try:
        with unit_of_work() as session:
            approvals.return_to_member(session, actor(), _alliance_id(), assessment_id, request.form.get("note", ""))
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        return _render_assessment(assessment_id, {"return": field_problems(str(exc)).get("note", str(exc))})
    flash("The self-assessment is returned to the member for changes. The member has been notified.", "success")
    return redirect(url_for("review.home"))


# -- standards versions and the impact of a new one -------------------------------------------------


@bp.route("/standards", methods=["GET", "POST"])
@roles("lead")
def standards():
    """The alliance's standards versions, and an upload of a draft version to preview."""
    form = StandardsUploadForm()
    problems: list[str] = []
    if request.method == "POST" and form.validate_on_submit():
        upload = form.standards_file.data
        name = secure_filename(upload.filename or "") or "standards.yaml"
        try:
            draft = preview.read_draft(upload.stream.read(preview.MAX_UPLOAD_BYTES + 1), name)  # no transaction
            with unit_of_work() as session:
                version_id = preview.store_draft(session, actor(), _alliance_id(), draft).id
        except preview.DraftRefused as exc:
            problems = exc.problems
        else:
            return redirect(url_for("review.impact", version_id=version_id))
    return _standards_page(form=form, problems=problems)


@bp.post("/standards/library")
@roles("lead")
def import_library():
    """A CISO Assistant framework library converted into a draft version of the alliance's set, then its preview."""
    library_form = LibraryImportForm()
    problems: list[tuple[str, str]] = []
    if library_form.validate_on_submit():
        upload = library_form.library_file.data
        name = secure_filename(upload.filename or "") or "library.yaml"
        try:
            with unit_of_work() as session:
                target = preview.library_target(session, _alliance_id())
            draft = preview.read_library_draft(  # converted and loaded outside any transaction
                upload.stream.read(preview.MAX_LIBRARY_BYTES + 1),
                name,
                library_form.set_id.data,
                library_form.version.data,
                target,
            )
            with unit_of_work() as session:
                version_id = preview.store_library_draft(session, actor(), target, draft).id
        except preview.DraftRefused as exc:
            problems = [(exc.field or "library_file", problem) for problem in exc.problems]
        else:
            return redirect(url_for("review.impact", version_id=version_id))
    problems += [(name, message) for name, messages in library_form.errors.items() for message in messages]
    return _standards_page(library_form=library_form, library_problems=problems)


def _standards_page(
    form: StandardsUploadForm | None = None,
    problems: list[str] | None = None,
    library_form: LibraryImportForm | None = None,
    library_problems: list[tuple[str, str]] | None = None,
):
    """The standards page; after a refused upload (``problems``) or import (``library_problems``: field and
    message), with them shown and status 400."""
    form = form or StandardsUploadForm(formdata=None)
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        versions = preview.versions_of(session, _alliance_id())
        drafts = len(preview.drafts_of(session, _alliance_id()))
    if library_form is None:
        library_form = LibraryImportForm(formdata=None, set_id=alliance.standards_set if alliance else None)
    refused = request.method == "POST"
    return render_template(
        "review/standards.html",
        alliance=alliance,
        versions=versions,
        form=form,
        problems=problems or [],
        drafts=drafts,
        max_drafts=preview.MAX_DRAFTS,
        library_form=library_form,
        library_problems=library_problems or [],
        max_library_mb=preview.MAX_LIBRARY_BYTES // (1024 * 1024),
        page_has_errors=refused,
    ), 400 if refused else 200


@bp.route("/standards/<int:version_id>/delete", methods=["GET", "POST"])
@roles("lead")
def delete_draft(version_id: int):
    """Delete a draft the lead uploaded, after they confirm it (the version number is free again)."""
    if request.method == "POST":
        try:
            with unit_of_work() as session:
                version = preview.delete_draft(session, actor(), _alliance_id(), version_id)
                deleted = f"{version.set_id} {version.version}"
        except ServiceError as exc:
            if isinstance(exc, service.NotFound):
                raise
            flash(f"The version cannot be deleted: {exc}", "error")
        else:
            flash(f"Draft {deleted} deleted. Its version number can be used again.", "success")
        return redirect(url_for("review.standards"))
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        line = next((v for v in preview.versions_of(session, _alliance_id()) if v.version.id == version_id), None)
    if line is None or line.version.state != "draft" or line.version.created_by != current_user.id:
        abort(404)  # only its uploader is asked (an administrator deletes from the command line)
    return render_template("review/standards_delete.html", alliance=alliance, line=line)


def _preview_cycle(session, raw: str):  # noqa: ANN001, ANN202
    """The cycle a preview covers, from ``?cycle=``: "all" for every cycle, an id for one of the alliance's
    (another's is 404), nothing for the open cycle (every cycle when none is open)."""
    raw = (raw or "").strip()
    if raw == "all":
        return None
    if raw.isdigit():
        return int(raw)
    if raw:
        abort(404)
    found = cycle_service.open_cycle_of(session, _alliance_id())
    return found.id if found is not None else None


@bp.get("/standards/<int:version_id>/impact")
@roles("lead")
def impact(version_id: int):
    """The dry run of rescoring the alliance's assessments (of the open cycle, unless another or every cycle is
    chosen) against a version: worked out by a job the first time it is viewed (and again once the version, the
    published one or the cycle changes), shown while it runs, kept."""
    with unit_of_work() as session:
        cycle_id = _preview_cycle(session, request.args.get("cycle", ""))
        row, run = previews.request(session, actor(), _alliance_id(), version_id, cycle_id=cycle_id)
        preview_id = row.id
    if run:
        preview_jobs.enqueue(preview_id)
    return _impact_page(version_id, cycle_id)


@bp.post("/standards/<int:version_id>/impact")
@roles("lead")
def impact_again(version_id: int):
    """Start the preview again (after a failure, or one that has waited too long)."""
    with unit_of_work() as session:
        cycle_id = _preview_cycle(session, request.form.get("cycle", ""))
        row, run = previews.request(session, actor(), _alliance_id(), version_id, again=True, cycle_id=cycle_id)
        preview_id = row.id
    if run:
        preview_jobs.enqueue(preview_id)
    return redirect(url_for("review.impact", version_id=version_id, cycle=cycle_id or "all"))


def _impact_page(version_id: int, cycle_id):  # noqa: ANN001
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        shown = previews.page(session, _alliance_id(), version_id)
        choices = cycle_service.lines_of(session, _alliance_id())
    if shown is None:
        abort(404)
    chosen = str(cycle_id) if cycle_id else "all"
    if shown.impact is not None:
        return render_template(
            "review/impact.html", alliance=alliance, impact=shown.impact, cycles=choices, chosen=chosen
        )
    return render_template(
        "review/impact_waiting.html", alliance=alliance, shown=shown, version=shown.version, chosen=chosen
    )


# -- four-eyes approvals ------------------------------------------------------------------------------------------


@bp.get("/approvals")
@roles("lead")
def approvals_page():
    """The alliance's proposals awaiting a second lead, and the lead's own answered proposals."""
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        pending = approvals.pending_lines(session, _alliance_id(), current_user.id)
        answered = approvals.answered_lines(session, _alliance_id(), current_user.id)
        setting = approvals.setting_of(session, alliance.id) if alliance else None
        leads = approvals.leads_count(session, _alliance_id()) if alliance else 0
    return render_template(
        "review/approvals.html",
        alliance=alliance,
        pending=pending,
        answered=answered,
        setting=setting,
        kinds=approvals.KIND_WORDS,
        fields=approvals.SETTINGS,
        states=approvals.STATE_WORDS,
        second_lead_needed=leads < 2,
    )


def _back_from_approval(approval_id: int):
    back = request.form.get("assessment_id", "")
    if back.isdigit():
        return redirect(url_for("review.assessment", assessment_id=int(back)))
    return redirect(url_for("review.approvals_page", _anchor=f"approval-{approval_id}"))


def _answer_approval(approval_id: int, act, done: str):
    try:
        with unit_of_work() as session:
            act(session)
    except ServiceError as exc:
        if isinstance(exc, service.NotFound):
            raise
        flash(f"Not done: {exc}", "error")
        return _back_from_approval(approval_id)
    flash(done, "success")
    return _back_from_approval(approval_id)


@bp.post("/approvals/<int:approval_id>/approve")
@roles("lead")
def approve(approval_id: int):
    return _answer_approval(
        approval_id,
        lambda session: approvals.approve(session, actor(), _alliance_id(), approval_id),
        "Approved: it has taken effect, and the member and the lead who proposed it have been told.",
    )


@bp.post("/approvals/<int:approval_id>/send-back")
@roles("lead")
def send_back(approval_id: int):
    return _answer_approval(
        approval_id,
        lambda session: approvals.send_back(
            session, actor(), _alliance_id(), approval_id, request.form.get("reason", "")
        ),
        "Sent back: nothing has taken effect. The lead who proposed it has been told why.",
    )


@bp.post("/approvals/<int:approval_id>/withdraw")
@roles("lead")
def withdraw(approval_id: int):
    return _answer_approval(
        approval_id,
        lambda session: approvals.withdraw(session, actor(), _alliance_id(), approval_id),
        "Withdrawn: nothing has taken effect.",
    )


@bp.route("/approvals/settings", methods=["GET", "POST"])
@roles("lead")
def approval_settings():
    """Which of a lead's actions need a second lead of the alliance (a CSRF form, audited)."""
    with unit_of_work() as session:
        alliance = overview.alliance(session, _alliance_id())
        if alliance is None:
            abort(404)
        setting = approvals.setting_of(session, alliance.id)
        current = {name: getattr(setting, name) for name in approvals.SETTINGS.values()}
    form = ApprovalSettingsForm(data=current) if request.method == "GET" else ApprovalSettingsForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        with unit_of_work() as session:
            approvals.save_setting(
                session,
                actor(),
                _alliance_id(),
                decisions=form.decisions.data,
                overrides=form.overrides.data,
                suspensions=form.suspensions.data,
            )
        flash("Saved: which actions need a second lead's approval.", "success")
        return redirect(url_for("review.approvals_page"))
    return render_template("review/approval_settings.html", alliance=alliance, form=form, kinds=approvals.KIND_WORDS)

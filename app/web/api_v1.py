"""The JSON API for other systems (``/api/v1``): read standards, memberships, self-assessments, results,
breaches and buddying pairs; answer and submit a member's self-assessment and add or remove its evidence.

Only an API token authenticates here (``@token_scoped``), never a browser's session cookie, so these routes
need no CSRF token. A token sees exactly what its pages would show (``app.services.token_access``); anything
else is 404. Requests are rate limited per token (``API_RATE_LIMIT``), all but the OpenAPI document
(``openapi.py``), which describes every route. Each resource's JSON shape is in ``api_v1_shapes``.
"""

from __future__ import annotations

from typing import Any, Optional

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from ..models import Alliance, Organisation
from ..services import NotFound, ServiceError, SubmissionRefused
from ..services import token_access as service
from ..services.assessments import AssessmentContext
from ..services.common import get_or_404, text_problems
from ..services.evidence import EvidenceRefused, NoEvidenceFile
from ..services.teams import Attestation, AttestationRefused
from ..uploads import UploadRefused
from . import api_v1_shapes as shapes
from . import csrf, openapi
from .access import public, token_scope, token_scoped, unit_of_work
from .downloads import evidence_download
from .forms import save_problem
from .limits import api_key, api_limit, api_refused_key, limiter

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # no cookie authenticates here: a request without a valid bearer token is refused
ATTESTATION_NEEDED = (
    'attestation: submitting needs the approver\'s attestation, like {"confirmed": true, "name": "Sam Patel", '
    '"role": "Director of Nursing"}'
)
ID = f"int(min=1, max={openapi.MAX_ID})"  # larger ids cannot exist (and would overflow the database's integer)


def _unlimited() -> bool:
    return request.endpoint == "api_v1.openapi_document"


# Every request, to any route, counts against its token (its address without one). Requests refused for their
# token count against their address as well, so making up a new token for each request buys no fresh allowance.
limiter.shared_limit(api_limit, "api_v1", key_func=api_key, exempt_when=_unlimited)(bp)
limiter.shared_limit(
    api_limit,
    "api_v1_refused",
    key_func=api_refused_key,
    exempt_when=_unlimited,
    deduct_when=lambda response: response.status_code == 401,
)(bp)


def _problem(status: int, message: str, **extra: Any):
    response = jsonify({"error": message, "status": status, **extra})
    response.status_code = status
    return response


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return _problem(404, "not found")


@bp.errorhandler(service.MemberOnly)
def _member_only(exc: service.MemberOnly):
    return _problem(403, str(exc))


@bp.errorhandler(ServiceError)
@bp.errorhandler(UploadRefused)
def _refused(exc: ServiceError | UploadRefused):
    return _problem(409, str(exc))


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded):
    return _problem(
        429,
        f"too many requests: at most {exc.limit.limit} per token (per address without a valid "
        "token); wait the number of seconds in Retry-After",
    )


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _problem(exc.code or 500, (exc.name or "error").lower())


@bp.errorhandler(500)
def _server_error(exc):
    current_app.logger.error(
        "unhandled error on %s %s", request.method, request.path, exc_info=getattr(exc, "original_exception", exc)
    )
    return _problem(500, "internal server error")


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# -- reading ---------------------------------------------------------------------------------------------------


@bp.get("/openapi.json")
@public
def openapi_document():
    return jsonify(openapi.document())


@bp.get("/token")
@token_scoped
def token():
    scope = token_scope()
    with unit_of_work() as session:
        organisation = (
            shapes.organisation(get_or_404(session, Organisation, scope.organisation_id))
            if scope.organisation_id is not None
            else None
        )
        alliance = shapes.alliance(get_or_404(session, Alliance, scope.alliance_id)) if scope.alliance_id else None
    links = {name: url_for(f"api_v1.{name}") for name in ("standards", "memberships", "assessments", "pairs")}
    links["openapi"] = url_for("api_v1.openapi_document")
    return {
        "token": {"id": scope.token_id, "name": scope.name},
        "scope": {"kind": scope.kind, "organisation": organisation, "alliance": alliance},
        "links": links,
    }


@bp.get("/standards")
@token_scoped
def standards():
    with unit_of_work() as session:
        versions = [shapes.version(v) for v in service.standards_versions(session, token_scope())]
    return {"versions": versions}


@bp.get(f"/standards/<{ID}:version_id>")
@token_scoped
def standards_version(version_id: int):
    with unit_of_work() as session:
        version, content = service.standards_version(session, token_scope(), version_id)
        shown = shapes.version(version)
    return {
        "version": shown,
        "schema": content.schema_version,
        "alliance": content.alliance,
        "pass_mark": content.pass_mark,
        "routes": [{"id": r.id, "title": r.title} for r in content.routes],
        "frameworks": [{"id": f.id, "title": f.title} for f in content.frameworks],
        "ratings": [{"rating": r.rating, "min": r.min} for r in content.ratings],
        "core_proposition": [
            {"id": o.id, "title": o.title, "routes": shapes.optional_list(o.routes)} for o in content.core_proposition
        ],
        "domains": [
            {"id": d.id, "title": d.title, "weight": d.weight, "standards": [shapes.standard(s) for s in d.standards]}
            for d in content.domains
        ],
    }


@bp.get("/memberships")
@token_scoped
def memberships():
    with unit_of_work() as session:
        found = [
            {
                "id": line.membership.id,
                "organisation": shapes.organisation(line.organisation),
                "alliance": shapes.alliance(line.alliance),
                "route": line.membership.route,
                "specialty": line.membership.specialty,
                "status": line.membership.status,
                "suspension_recommended": line.membership.suspension_recommended,
                "joined_on": shapes.when(line.membership.joined_on),
                "left_on": shapes.when(line.membership.left_on),
            }
            for line in service.memberships(session, token_scope())
        ]
    return {"memberships": found}


@bp.get("/assessments")
@token_scoped
def assessments():
    with unit_of_work() as session:
        found = [shapes.assessment(line) for line in service.assessments(session, token_scope())]
    return {"assessments": found}


@bp.get(f"/assessments/<{ID}:assessment_id>")
@token_scoped
def assessment(assessment_id: int):
    with unit_of_work() as session:
        detail = service.assessment_detail(session, token_scope(), assessment_id)
        ctx = detail.ctx
        shown = shapes.assessment(
            service.AssessmentLine(ctx.assessment, ctx.membership, ctx.organisation, detail.cycle, detail.result)
        )
    return {
        **shown,
        "answers": detail.answers,
        "missing": detail.missing,
        "not_asked": shapes.not_asked(detail.not_asked),
        "links": shapes.links(assessment_id),
    }


def _result_of(assessment_id: int) -> tuple[AssessmentContext, Any]:
    with unit_of_work() as session:
        return service.result(session, token_scope(), assessment_id, current_app.config["BENCHMARK_MIN_PEERS"])


@bp.get(f"/assessments/<{ID}:assessment_id>/result")
@token_scoped
def result(assessment_id: int):
    ctx, view = _result_of(assessment_id)
    # A result stored before framework mappings existed has no "mapped": its file had none to map.
    return {
        "assessment_id": assessment_id,
        "status": ctx.assessment.status,
        "provisional": view.provisional,
        "computed_at": shapes.when(view.computed_at),
        "result": {"mapped": {}, **view.result},
    }


@bp.get(f"/assessments/<{ID}:assessment_id>/breaches")
@token_scoped
def breaches(assessment_id: int):
    _, view = _result_of(assessment_id)
    lines = [
        {**breach, "criterion_text": criterion.text, "standard_title": standard.title, "unit": criterion.unit}
        for breach, criterion, standard in view.breaches
    ]
    return {"assessment_id": assessment_id, "provisional": view.provisional, "breaches": lines}


@bp.get("/buddying/pairs")
@token_scoped
def pairs():
    with unit_of_work() as session:
        found = [shapes.pair(view) for view in service.pairs(session, token_scope())]
    return {"pairs": found}


# -- writing ---------------------------------------------------------------------------------------------------


def _read_attestation(given: Any) -> tuple[Optional[Attestation], list[dict]]:
    """The approver's attestation a submission needs: {"confirmed": true, "name": ..., "role": ...}."""
    if not isinstance(given, dict):
        return None, [{"criterion": "attestation", "message": ATTESTATION_NEEDED}]
    errors = [
        {
            "criterion": "attestation",
            "message": f"attestation.{key}: not a field of the attestation (confirmed, name, role)",
        }
        for key in sorted(set(given) - {"confirmed", "name", "role"})
    ]
    confirmed, name, role = given.get("confirmed"), given.get("name", ""), given.get("role", "")
    for key, value, kind in (("confirmed", confirmed, bool), ("name", name, str), ("role", role, str)):
        if not isinstance(value, kind):
            errors.append({"criterion": "attestation", "message": f"attestation.{key}: expected {kind.__name__}"})
    if errors:
        return None, errors
    try:
        return Attestation(confirmed, name, role).checked(), []
    except AttestationRefused as exc:
        return None, [{"criterion": "attestation", "message": f"attestation.{p}"} for p in str(exc).split("; ")]


def _read_answers(body: Any) -> tuple[dict, dict, bool, list[dict]]:
    """(answers, notes, submit, errors): what the body asks, and each part of it refused before saving."""
    errors: list[dict] = []
    unknown = sorted(set(body) - {"answers", "notes", "submit", "attestation"})
    for key in unknown:
        errors.append(
            {"criterion": key, "message": f"{key}: not a field of this request (answers, notes, submit, attestation)"}
        )
    answers, notes, submit = body.get("answers", {}), body.get("notes", {}), body.get("submit", False)
    if not isinstance(answers, dict):
        errors.append({"criterion": "answers", "message": "answers: expected an object of criterion id -> answer"})
        answers = {}
    if not isinstance(notes, dict):
        errors.append({"criterion": "notes", "message": "notes: expected an object of criterion id -> text"})
        notes = {}
    if not isinstance(submit, bool):
        errors.append({"criterion": "submit", "message": "submit: expected true or false"})
        submit = False
    for criterion_id in [k for k, v in notes.items() if not isinstance(v, str)]:
        errors.append({"criterion": criterion_id, "message": "note: expected text"})
        del notes[criterion_id]
    return answers, notes, submit, errors


@bp.post(f"/assessments/<{ID}:assessment_id>/answers")
@token_scoped
def answers(assessment_id: int):
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return _problem(400, 'the body must be a JSON object, like {"answers": {"C1.1": "yes"}}')
    scope = token_scope()
    answers, notes, submit, errors = _read_answers(body)
    attestation = None
    if submit:
        attestation, refused = _read_attestation(body.get("attestation"))
        errors += refused
    with unit_of_work() as session:  # valid answers are kept whatever else is refused
        outcome = service.save(session, scope, assessment_id, answers, notes)
        lookup = service.assessment(session, scope, assessment_id).standards.criterion_lookup
    errors += [
        {
            "criterion": cid,
            "message": save_problem(
                lookup[cid][1] if cid in lookup else None,
                answers.get(cid),
                message,
                na_choice='send "na"',
                option_ids=True,
            ),
        }
        for cid, message in outcome.errors.items()
    ]
    done = {"saved": outcome.saved, "cleared": outcome.cleared, "submitted": False}
    if errors:
        return _problem(
            422, f"{len(errors)} answer(s) refused; the others are saved", errors=errors, missing=[], **done
        )
    stored = None
    if submit:
        try:
            with unit_of_work() as session:
                stored = shapes.summary(service.submit_for_review(session, scope, assessment_id, attestation))
        except SubmissionRefused as exc:
            return _problem(422, str(exc), errors=[], missing=exc.missing, **done)
        done["submitted"] = True
    with unit_of_work() as session:
        status = service.status_of(session, scope, assessment_id)
    return {"assessment_id": assessment_id, "status": status, **done, "result": stored}


# -- evidence --------------------------------------------------------------------------------------------------


def _store():
    return current_app.extensions["upload_store"]


# One rule for both methods: with two, an id out of range would be a 405 for one of them instead of a 404.
@bp.route(f"/assessments/<{ID}:assessment_id>/evidence", methods=["GET", "POST"])
@token_scoped
def evidence(assessment_id: int):
    if request.method == "POST":
        return _add_evidence(assessment_id)
    with unit_of_work() as session:
        found = [shapes.evidence(item) for item in service.evidence(session, token_scope(), assessment_id)]
    return {"assessment_id": assessment_id, "evidence": found}


@bp.get(f"/assessments/<{ID}:assessment_id>/evidence/<{ID}:evidence_id>/file")
@token_scoped
def evidence_file(assessment_id: int, evidence_id: int):
    with unit_of_work() as session:
        item = service.evidence_item(session, token_scope(), assessment_id, evidence_id)
    try:
        return evidence_download(item)
    except NoEvidenceFile as exc:
        return _problem(404, str(exc))


def _evidence_refused(message: str, criterion: Optional[str], errors: list[dict]):
    return _problem(422, message, criterion=criterion or None, errors=errors)


def _text_field(body: Any, name: str, errors: list[dict], required: bool = True) -> str:
    """A text field of the request (JSON or form), or "" with the problem added to ``errors``."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append({"field": name, "message": f"{name}: required"})
        return ""
    if not isinstance(value, str):
        errors.append({"field": name, "message": f"{name}: expected text"})
        return ""
    problems = text_problems({name: value}, single_line=name != "note")
    if problems:
        errors.append({"field": name, "message": problems[0]})
        return ""
    return value.strip()


def _read_evidence() -> Optional[tuple[str, str, str, Any, list[dict]]]:
    """(criterion, url, note, upload, errors) of a link (a JSON object) or a file (multipart/form-data), each
    problem named by its field; None when the body is neither."""
    errors: list[dict] = []
    if request.mimetype == "multipart/form-data":
        body, fields, upload = request.form, ("criterion", "file", "note"), request.files.get("file")
        given = set(request.form) | set(request.files)
        if upload is None or not upload.filename:
            errors.append({"field": "file", "message": "file: choose a file to upload (send a link as JSON)"})
            upload = None
    else:
        body, fields, upload = request.get_json(force=True, silent=True), ("criterion", "url", "note"), None
        if not isinstance(body, dict):
            return None
        given = set(body)
    for key in sorted(given - set(fields)):
        errors.append({"field": key, "message": f"{key}: not a field of this request ({', '.join(fields)})"})
    criterion = _text_field(body, "criterion", errors)
    url = _text_field(body, "url", errors) if "url" in fields else ""
    note = _text_field(body, "note", errors, required=False)
    return criterion, url, note, upload, errors


def _add_evidence(assessment_id: int):
    """A link (JSON) or a file (multipart/form-data) for a criterion of the token's own draft."""
    scope = token_scope()
    with unit_of_work() as session:  # who may change it, and whether it is a draft, before what is asked
        service.evidence_writable(session, scope, assessment_id)
    read = _read_evidence()
    if read is None:
        return _problem(
            400,
            'the body must be a JSON object, like {"criterion": "C1.1", "url": "https://..."}, '
            "or multipart/form-data with the fields criterion and file",
        )
    criterion, url, note, upload, errors = read
    if errors:
        return _evidence_refused(
            f"{len(errors)} problem(s) with this evidence: " + "; ".join(e["message"] for e in errors),
            criterion,
            errors,
        )
    try:
        with unit_of_work() as session:
            if upload is not None:
                item = service.add_file(
                    session,
                    scope,
                    assessment_id,
                    criterion,
                    data=upload.stream,
                    filename=upload.filename,
                    content_type=upload.mimetype,
                    note=note,
                    store=_store(),
                )
            else:
                item = service.add_link(session, scope, assessment_id, criterion, url, note)
            shown = shapes.evidence(item)
    except EvidenceRefused as exc:
        return _evidence_refused(str(exc), criterion, [{"field": exc.field, "message": str(exc)}])
    except UploadRefused as exc:
        return _evidence_refused(str(exc), criterion, [{"field": "file", "message": str(exc)}])
    response = jsonify(shown)
    response.status_code = 201
    response.headers["Location"] = url_for("api_v1.evidence_item", assessment_id=assessment_id, evidence_id=shown["id"])
    return response


@bp.route(f"/assessments/<{ID}:assessment_id>/evidence/<{ID}:evidence_id>", methods=["GET", "DELETE"])
@token_scoped
def evidence_item(assessment_id: int, evidence_id: int):
    if request.method == "GET":
        with unit_of_work() as session:
            return shapes.evidence(service.evidence_item(session, token_scope(), assessment_id, evidence_id))
    with unit_of_work() as session:
        item = service.remove_evidence(session, token_scope(), assessment_id, evidence_id, _store())
        shown = {**shapes.evidence(item), "download": None}
    return {"assessment_id": assessment_id, "removed": shown}

"""Blueprints per audience (auth, member, plans, review, buddying, admin, the JSON API ``api_v1``, and ``health``
for service status) and what every page shares: sessions on the server, sign-in, CSRF, rate limits, security
headers, NHS.UK frontend assets and error pages."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask, abort, current_app, g, render_template, request, send_from_directory
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from .. import wording
from ..db import ROOT
from ..lifecycle import LifecycleError
from ..services import NotFound, ServiceError
from ..services.cycles import is_late
from ..services.questions import answer_words
from ..uploads import UploadRefused, UploadStore
from . import charts, faults, request_log, sessions, sso
from .access import check_every_route_is_marked, login_manager, public, safe_next
from .limits import check_limiter_storage, limiter

csrf = CSRFProtect()
NHSUK_DIST = ROOT / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
#: Files that are the same for every visitor: they stay cacheable, signed in or not.
SHARED_FILES = ("static", "nhsuk_vendor", "nhsuk_assets")
VENDOR_FILES = (
    "nhsuk-frontend.min.css",
    "nhsuk-frontend.min.css.map",
    "nhsuk-frontend.min.js",
    "nhsuk-frontend.min.js.map",
)
ERROR_TITLES = {
    400: "Sorry, there is a problem with the request",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "Sorry, that cannot be done here",
    409: "Sorry, that cannot be done",
    413: "The file is too large",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
}


def register(app: Flask) -> None:
    from . import admin, admission, api_v1, auth, buddying, cycles, health, member, mfa, plans, review, status, two_step
    from .email_links import bp as email_links_bp  # invitations and password resets
    from .people import bp as people_bp
    from .team import bp as team_bp  # a member organisation's team

    app.config.setdefault("NHSUK_FRONTEND_DIST", str(NHSUK_DIST))
    app.extensions["upload_store"] = UploadStore(app.config["UPLOAD_DIR"], app.config["UPLOAD_MAX_BYTES"])
    sessions.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    check_limiter_storage(app)
    request_log.init_app(app)
    two_step.init_app(app)
    sso.init_app(app)
    for blueprint in (
        auth.bp,
        mfa.bp,
        email_links_bp,
        people_bp,
        member.bp,
        plans.bp,
        team_bp,
        review.bp,
        admission.bp,
        cycles.bp,
        buddying.bp,
        admin.bp,
        health.bp,
        api_v1.bp,
        status.bp,
    ):
        app.register_blueprint(blueprint)
    _vendor_routes(app)
    _error_pages(app)
    faults.init_app(app)
    _page_context(app)
    check_every_route_is_marked(app)


def _vendor_routes(app: Flask) -> None:
    """NHS.UK frontend from its npm package (installed by scripts/assets.sh, never committed)."""
    dist = Path(app.config["NHSUK_FRONTEND_DIST"])
    if not (dist / "nhsuk-frontend.min.css").is_file():
        app.logger.warning("NHS.UK frontend is not installed at %s: run `bash scripts/assets.sh`", dist)

    @public
    def nhsuk_vendor(filename: str):
        if filename not in VENDOR_FILES:
            abort(404)
        return send_from_directory(dist, filename, max_age=3600)

    @public
    def nhsuk_assets(filename: str):
        return send_from_directory(dist / "assets", filename, max_age=3600)

    # The frontend's CSS refers to its images as /assets/..., so they are served there.
    app.add_url_rule("/vendor/nhsuk/<path:filename>", "nhsuk_vendor", nhsuk_vendor)
    app.add_url_rule("/assets/<path:filename>", "nhsuk_assets", nhsuk_assets)


def error_page(code: int, message: str = ""):
    return render_template(
        "error.html", code=code, title=ERROR_TITLES.get(code, ERROR_TITLES[500]), message=message, back=way_back()
    ), code


def way_back() -> str | None:
    """Where the person was before this error: the form they sent (a POST to an address that also shows a
    page), else the page that linked here on this site; None when neither is known."""
    adapter = current_app.create_url_adapter(request)
    if request.method == "POST" and adapter is not None:
        try:
            adapter.match(request.path, method="GET")
        except HTTPException:
            pass
        else:
            return request.path
    referrer = request.referrer or ""
    if referrer.startswith(request.host_url):
        back = safe_next("/" + referrer[len(request.host_url) :])
        return back if back != request.full_path.rstrip("?") else None
    return None


def _error_pages(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.blueprint == "api" or request.path.startswith("/api/"):
            return {"error": exc.name.lower(), "status": exc.code}, exc.code
        code = exc.code or 500
        messages = {
            413: f"Files can be at most {wording.size_text(app.config['UPLOAD_MAX_BYTES'])}. "
            "Go back and choose a smaller file.",
            429: "You have tried this too many times. Wait a minute, then try again.",
        }
        return error_page(code if code in ERROR_TITLES else 500, messages.get(code, ""))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_page(
            400, "The form had expired or did not come from this service. Go back, reload the page and try again."
        )

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):
        if request.blueprint == "api":
            return {"error": "not found", "status": 404}, 404
        return error_page(404)

    @app.errorhandler(ServiceError)
    @app.errorhandler(UploadRefused)
    def refused(exc: ServiceError | UploadRefused):
        if request.blueprint == "api":
            return {"error": str(exc), "status": 409}, 409
        return error_page(409, str(exc))

    @app.errorhandler(LifecycleError)
    def lifecycle_refused(exc: LifecycleError):
        return error_page(409, str(exc))

    @app.errorhandler(500)
    def server_error(exc):
        app.logger.error(
            "unhandled error on %s %s", request.method, request.path, exc_info=getattr(exc, "original_exception", exc)
        )
        if request.blueprint == "api":
            return {"error": "internal server error", "status": 500}, 500
        return error_page(500, "Try again later.")


def _page_context(app: Flask) -> None:
    @app.before_request
    def _nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    app.add_template_filter(charts.number, "num")
    app.add_template_filter(wording.size_text, "size")
    app.add_template_filter(wording.label, "label")
    app.add_template_filter(wording.in_sentence, "in_sentence")
    app.add_template_filter(wording.with_article, "with_article")
    app.add_template_filter(wording.with_unit, "with_unit")
    app.add_template_filter(wording.decimal_text, "decimal")
    app.add_template_filter(wording.tag_colour, "tag_colour")
    app.add_template_filter(answer_words, "answer")  # criterion | answer(value): an answer in the member's words
    app.add_template_global(charts.strip, "chart_strip")
    app.add_template_global(lambda assessment, cycle: is_late(assessment.submitted_at, cycle), "is_late")

    @app.context_processor
    def _context():
        return {"cspNonce": g.get("csp_nonce", "")}

    @app.after_request
    def _security_headers(response):
        nonce = g.get("csp_nonce", "")
        response.headers.setdefault(
            "Content-Security-Policy",
            "; ".join(
                [
                    "default-src 'self'",
                    f"script-src 'self' 'nonce-{nonce}'",
                    "style-src 'self'",
                    "img-src 'self' data:",
                    "font-src 'self' https://assets.nhs.uk",
                    "connect-src 'self'",
                    "form-action 'self'",
                    "frame-ancestors 'none'",
                    "base-uri 'self'",
                    "object-src 'none'",
                ]
            ),
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint not in SHARED_FILES and ("token_scope" in g or current_user.is_authenticated):
            # An answer to a signed-in person or an API token is theirs: pages, exports, evidence files, JSON.
            response.headers["Cache-Control"] = "no-store"
        return response

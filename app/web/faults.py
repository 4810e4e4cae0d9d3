"""When the database fails mid-request: a clear "try again" page (JSON on /api/), never a stack trace.

A unit of work that fails rolls back as a whole (``db.session_scope``), so what a member saved earlier
stays saved and nothing half-written is kept; the page says so. The failure itself is logged here,
with its cause, for the operators.
"""

from __future__ import annotations

from flask import Flask, current_app, g, render_template, request
from sqlalchemy import exc as sa_exc

from .. import db

STATUS = 503
RETRY_AFTER_SECONDS = 30
TITLE = "Sorry, the service is unavailable"
MESSAGE = "The service is temporarily unavailable. Your earlier saved answers are safe. Try again in a few minutes."
NOT_SAVED = " What you sent from this page has not been saved, so send it again when the service is back."

#: Failures of the database itself (lost connection, server down, locked, pool exhausted), as opposed to
#: refusals the services turn into their own errors.
UNAVAILABLE = (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError, db.SchemaOutOfDate)


def init_app(app: Flask) -> None:
    for kind in UNAVAILABLE:
        app.register_error_handler(kind, _unavailable)


def _unavailable(exc: Exception):
    current_app.logger.error(
        "database unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__, exc_info=exc
    )
    if "_login_user" not in g:
        # The signed-in user is looked up in the database too: the page must not try again.
        g._login_user = current_app.login_manager.anonymous_user()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return {"error": "service temporarily unavailable", "status": STATUS}, STATUS, headers
    message = MESSAGE + (NOT_SAVED if request.method not in ("GET", "HEAD") else "")
    body = render_template("error.html", code=STATUS, title=TITLE, message=message)
    return body, STATUS, headers

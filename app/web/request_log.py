"""One JSON line per request on the ``alliance.request`` logger, for operators and log search.

Each line carries a request id: the ``X-Request-ID`` the proxy sent (when it
looks like an id) or a new one, returned on the response, so a line in these
logs can be matched to the proxy's log and to what the person saw. Paths are
logged without their query strings, which may carry personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request
from flask_login import current_user

LOGGER_NAME = "alliance.request"
HEADER = "X-Request-ID"
#: What an incoming id may look like (UUIDs, proxies' hex ids): anything else is replaced, not logged.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

logger = logging.getLogger(LOGGER_NAME)


def init_app(app: Flask) -> None:
    _configure_logger()
    app.before_request(_start)
    app.after_request(_finish)


def _configure_logger() -> None:
    """INFO lines reach stderr under gunicorn (which configures only its own loggers); where logging is
    already set up (a logging config, pytest) the lines go to its handlers instead."""
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)


def request_id() -> str:
    """This request's id (the caller's when acceptable)."""
    if "request_id" not in g:
        offered = request.headers.get(HEADER, "")
        g.request_id = offered if ACCEPTED_ID.fullmatch(offered) else uuid.uuid4().hex
    return g.request_id


def _start() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _user_id():
    try:
        return current_user.id if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001  (the user could not be loaded, e.g. the database is down: still log)
        return None


def _finish(response):
    started = g.get("request_started")
    duration = (time.perf_counter() - started) * 1000 if started is not None else None
    ident = request_id()
    response.headers[HEADER] = ident
    logger.info(
        json.dumps(
            {
                "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration, 1) if duration is not None else None,
                "user": _user_id(),
                "remote_addr": request.remote_addr,
                "request_id": ident,
            },
            separators=(",", ":"),
        )
    )
    return response

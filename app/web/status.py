"""The service status page people reach from every page's footer: the health check (``api.health``, JSON for
load balancers and monitoring) in words."""

from __future__ import annotations

from flask import Blueprint, render_template

from .access import public
from .health import health

bp = Blueprint("status", __name__)


@bp.get("/status")
@public
def page():
    """Whether the service and its database answer, for a person."""
    answer = health()
    body, code = answer if isinstance(answer, tuple) else (answer, 200)
    return render_template("status.html", up=code == 200, check=body), code

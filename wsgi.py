"""The WSGI entry point: ``gunicorn wsgi:app`` (settings from the environment, see app/config.py;
gunicorn's own from gunicorn.conf.py).

A configuration or schema problem stops start-up with one clear line naming
what to do, not a traceback.
"""

from __future__ import annotations

import sys

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import StartupError, create_app


def behind_proxies(app: Flask) -> Flask:
    """Behind a TLS proxy the client's address (sign-in limits, request log) and scheme come from its
    X-Forwarded-For/-Proto, believed for ``TRUSTED_PROXIES`` hops only: anyone can send those headers."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


try:
    app = behind_proxies(create_app())
except StartupError as exc:
    print(f"error: cannot start the web application: {exc}", file=sys.stderr)
    raise SystemExit(1) from None

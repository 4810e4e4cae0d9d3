"""The WSGI entry point: ``gunicorn wsgi:app`` (settings from the environment, see app/config.py).

A configuration or schema problem stops start-up with one clear line naming
what to do, not a traceback.
"""
from __future__ import annotations

import sys

from app import StartupError, create_app

try:
    app = create_app()
except StartupError as exc:
    print(f"error: cannot start the web application: {exc}", file=sys.stderr)
    raise SystemExit(1) from None

"""Rate limits (Flask-Limiter): in memory by default, shared through ``RATELIMIT_STORAGE_URI`` when set."""
from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)


def sign_in_key() -> str:
    """Attempts are counted per address and email, so one person cannot lock out everyone behind a proxy."""
    return f"{get_remote_address()}|{(request.form.get('email') or '').strip().lower()}"


def sign_in_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]

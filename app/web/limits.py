"""Rate limits (Flask-Limiter): in memory by default, shared through ``RATELIMIT_STORAGE_URI`` when set."""
from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from ..services.api_tokens import digest

limiter = Limiter(key_func=get_remote_address)


def sign_in_key() -> str:
    """Attempts are counted per address and email, so one person cannot lock out everyone behind a proxy."""
    return f"{get_remote_address()}|{(request.form.get('email') or '').strip().lower()}"


def sign_in_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def api_key() -> str:
    """API requests are counted per token (a hash of it, so the limiter's storage never holds a usable token),
    and requests without one per address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        return "api-token:" + digest(token)
    return f"api-address:{get_remote_address()}"


def api_refused_key() -> str:
    return f"api-refused:{get_remote_address()}"


def api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]

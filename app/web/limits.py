"""Rate limits (Flask-Limiter): in memory by default, shared through ``RATELIMIT_STORAGE_URI`` when set.

In memory, each process counts on its own: with four gunicorn workers a limit of 5 lets about 20 through.
Production therefore refuses to start more than one worker with in-memory limits (``unshared_limits``, read
by gunicorn.conf.py), and says so in the log even with one.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from ..services.api_tokens import digest

limiter = Limiter(key_func=get_remote_address)


def sign_in_key() -> str:
    """Attempts are counted per address and email, so one person cannot lock out everyone behind a proxy."""
    return f"{get_remote_address()}|{(request.form.get('email') or '').strip().lower()}"


def sign_in_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def address_key() -> str:
    """Failed sign-ins per address, whatever the email: one address trying many accounts."""
    return f"sign-in-address:{get_remote_address()}"


def address_limit() -> str:
    return current_app.config["LOGIN_ADDRESS_RATE_LIMIT"]


def register_key() -> str:
    return f"register:{get_remote_address()}"


def register_limit() -> str:
    return current_app.config["REGISTER_RATE_LIMIT"]


def reset_key() -> str:
    """Password reset requests per email (whoever asks), so one address cannot flood a person's inbox."""
    return f"reset-email:{(request.form.get('email') or '').strip().lower()[:254]}"


def reset_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


def reset_address_key() -> str:
    return f"reset-address:{get_remote_address()}"


def reset_address_limit() -> str:
    return current_app.config["RESET_ADDRESS_RATE_LIMIT"]


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


def in_memory(config: Mapping[str, Any]) -> bool:
    return bool(config["RATELIMIT_ENABLED"]) and str(config["RATELIMIT_STORAGE_URI"]).startswith("memory://")


def unshared_limits(config: Mapping[str, Any], workers: int) -> Optional[str]:
    """Why production must not start ``workers`` processes with these settings, or None."""
    if config["APP_ENV"] != "production" or workers <= 1 or not in_memory(config):
        return None
    return (
        f"rate limits are counted in memory, by each of {workers} workers on its own, so every limit would "
        f"let up to {workers} times as many requests through: set RATELIMIT_STORAGE_URI=redis://host:6379/0 "
        "(shared by every worker; see docs/operations.md), or run one worker (GUNICORN_WORKERS=1)"
    )


def check_limiter_storage(app: Flask) -> None:
    if app.config["APP_ENV"] == "production" and in_memory(app.config):
        app.logger.warning(
            "rate limits are counted in memory, in this process only: with more than one worker "
            "process set RATELIMIT_STORAGE_URI=redis://... (gunicorn refuses to start more than one "
            "worker without it)"
        )

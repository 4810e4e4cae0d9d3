"""Settings of the web application, read from the environment.

``APP_ENV`` is ``production`` (the default), ``development`` or ``testing``.
Production refuses to start without ``SECRET_KEY``: a guessable key would let
anyone forge a session. Cookies are sent over HTTPS only, except in
development and testing (override with ``SESSION_COOKIE_SECURE``).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Mapping, Optional

from .db import ROOT, database_url

ENVIRONMENTS = ("production", "development", "testing")
MEGABYTE = 1024 * 1024
#: Where evidence files are kept unless ``UPLOAD_DIR`` says otherwise (outside the served static files).
DEFAULT_UPLOAD_DIR = ROOT / "instance" / "uploads"


class ConfigError(RuntimeError):
    """Settings the application cannot start with."""


def _flag(value: Optional[str], name: str) -> Optional[bool]:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _int(value: Optional[str], name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name}: must be greater than 0, got {number}")
    return number


def _rate(value: Optional[str], name: str, default: str) -> str:
    """A rate limit such as ``300 per minute`` (Flask-Limiter's notation), checked now rather than on a request."""
    if value is None or value.strip() == "":
        return default
    try:
        from limits import parse_many  # only where rate limits are read: it is slow to import

        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a rate like '300 per minute' or '10/second', got {value!r}") from None
    return value.strip()


def _store(value: Optional[str], name: str) -> str:
    """``database`` (the default) or a Redis URL."""
    if value is None or value.strip() in ("", "database"):
        return "database"
    if not value.strip().startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name}: expected 'database' or a Redis URL like redis://127.0.0.1:6379/0, got {value!r}")
    return value.strip()


def _jobs(value: Optional[str], testing: bool) -> str:
    """Where the job queue is (``app.jobs.queue``): the tests run tasks in the caller unless they say otherwise."""
    from .jobs.queue import DEFAULT_URL, IMMEDIATE, check_url

    if value is None or value.strip() == "":
        return IMMEDIATE if testing else DEFAULT_URL
    try:
        return check_url(value)
    except ValueError as exc:
        raise ConfigError(f"JOBS_URL: {exc}") from None


def jobs_url(environ: Optional[Mapping[str, str]] = None) -> str:
    """``JOBS_URL`` as ``load`` reads it, without the rest of the configuration (a command that only enqueues
    needs no ``SECRET_KEY``)."""
    env = os.environ if environ is None else environ
    return _jobs(env.get("JOBS_URL"), str(env.get("APP_ENV") or "").strip().lower() == "testing")


def load(overrides: Optional[Mapping[str, Any]] = None, environ: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """The configuration: the environment first, then ``overrides`` (tests and scripts pass theirs)."""
    env = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    app_env = str(overrides.get("APP_ENV") or env.get("APP_ENV") or "production").strip().lower()
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV: one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    testing = app_env == "testing"
    development = app_env == "development"
    upload_max = _int(env.get("UPLOAD_MAX_BYTES"), "UPLOAD_MAX_BYTES", 10 * MEGABYTE)
    secure = _flag(env.get("SESSION_COOKIE_SECURE"), "SESSION_COOKIE_SECURE")
    if secure is None:
        secure = not (testing or development)
    config: dict[str, Any] = {
        "APP_ENV": app_env,
        "TESTING": testing,
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "DATABASE_URL": database_url(env.get("DATABASE_URL")),
        "UPLOAD_DIR": env.get("UPLOAD_DIR") or str(DEFAULT_UPLOAD_DIR),
        "UPLOAD_MAX_BYTES": upload_max,
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "__Host-session" if secure else "session",
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # A session ends SESSION_HOURS after sign-in however it is used, and sooner after SESSION_IDLE_MINUTES
        # without a request (app/web/sessions.py); it is kept in the database, or in Redis (SESSION_STORE).
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=_int(env.get("SESSION_HOURS"), "SESSION_HOURS", 8)),
        "SESSION_IDLE": dt.timedelta(minutes=_int(env.get("SESSION_IDLE_MINUTES"), "SESSION_IDLE_MINUTES", 60)),
        "SESSION_STORE": _store(env.get("SESSION_STORE"), "SESSION_STORE"),
        "SESSION_KEY_PREFIX": env.get("SESSION_KEY_PREFIX") or "alliance:session:",
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_ENABLED": _flag(env.get("RATELIMIT_ENABLED"), "RATELIMIT_ENABLED") is not False,
        # Failed sign-ins per address and email, failed sign-ins per address whatever the email, and
        # registrations per address.
        "LOGIN_RATE_LIMIT": _rate(env.get("LOGIN_RATE_LIMIT"), "LOGIN_RATE_LIMIT", "5 per minute"),
        "LOGIN_ADDRESS_RATE_LIMIT": _rate(
            env.get("LOGIN_ADDRESS_RATE_LIMIT"), "LOGIN_ADDRESS_RATE_LIMIT", "10 per minute;50 per hour"
        ),
        "REGISTER_RATE_LIMIT": _rate(env.get("REGISTER_RATE_LIMIT"), "REGISTER_RATE_LIMIT", "10 per hour"),
        # Requests to /api/v1 per token (per address without one); the OpenAPI document is not limited.
        "API_RATE_LIMIT": _rate(env.get("API_RATE_LIMIT"), "API_RATE_LIMIT", "300 per minute"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "BENCHMARK_MIN_PEERS": _int(env.get("BENCHMARK_MIN_PEERS"), "BENCHMARK_MIN_PEERS", 3),
        # Reverse proxies in front (each adds X-Forwarded-For/-Proto): 0 trusts none of those headers.
        "TRUSTED_PROXIES": (
            0
            if (env.get("TRUSTED_PROXIES") or "0").strip() == "0"
            else _int(env.get("TRUSTED_PROXIES"), "TRUSTED_PROXIES", 0)
        ),
        "CHECK_SCHEMA": True,
        "JOBS_URL": _jobs(env.get("JOBS_URL"), testing),
    }
    config.update(overrides)
    config["APP_ENV"] = app_env
    # A little over the file limit, so a slightly oversized file gets a message on the form, not a bare 413.
    config.setdefault("MAX_CONTENT_LENGTH", int(config["UPLOAD_MAX_BYTES"]) + MEGABYTE)
    if not config["SECRET_KEY"]:
        if app_env == "production":
            raise ConfigError(
                "SECRET_KEY is not set: set it in the environment to a long random value, e.g. "
                "`export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')`"
            )
        config["SECRET_KEY"] = f"{app_env}-only-not-secret"
    return config

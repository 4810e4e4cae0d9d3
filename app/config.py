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
from urllib.parse import urlsplit

from .db import ROOT, database_url
from .models import ROLES

#: Roles that must use two-step verification in production (``MFA_REQUIRED_ROLES``).
MFA_STAFF = ("lead", "admin")
MFA_ISSUER = "NHS Alliance Accreditation"

ENVIRONMENTS = ("production", "development", "testing")
MEGABYTE = 1024 * 1024
#: Where evidence files are kept unless ``UPLOAD_DIR`` says otherwise (outside the served static files).
DEFAULT_UPLOAD_DIR = ROOT / "instance" / "uploads"
MAIL_KEYS = ("MAIL_URL", "MAIL_FROM", "BASE_URL", "MAIL_RETRIES", "MAIL_RETRY_SECONDS")
#: Where whole-cycle exports are written unless ``EXPORT_DIR`` says otherwise (never served directly).
DEFAULT_EXPORT_DIR = ROOT / "instance" / "exports"


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


def _roles(value: Any, name: str) -> frozenset[str]:
    """A comma-separated list of roles (or any iterable of them, from the tests' overrides)."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    roles = frozenset(str(item).strip().lower() for item in items if str(item).strip())
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise ConfigError(f"{name}: roles are {', '.join(ROLES)}; got {', '.join(unknown)}")
    return roles


def _base_url(value: Optional[str]) -> str:
    """The address people reach the application at, for the links in emails: http(s)://HOST[/PREFIX]."""
    from urllib.parse import urlsplit

    text = (value or "").strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"BASE_URL: expected the service's address, like https://accreditation.example.nhs.uk, got {value!r}"
        )
    return text


def _mail(env: Mapping[str, str], production: bool) -> dict[str, Any]:
    """``MAIL_URL``, ``MAIL_FROM`` and ``BASE_URL`` (see ``app/mail.py``), and how a failed send is retried."""
    from .mail import CONSOLE, SMTP, SMTPS, check_sender, parse_mail_url

    url = (env.get("MAIL_URL") or "").strip() or "console:"
    try:
        settings = parse_mail_url(url)
    except ValueError as exc:
        raise ConfigError(f"MAIL_URL: {exc}") from None
    real = settings.backend in (SMTP, SMTPS)
    sender = (env.get("MAIL_FROM") or "").strip()
    if not sender and real:
        raise ConfigError(
            "MAIL_FROM is not set: mail sent through a server needs a sender, like "
            "MAIL_FROM='Alliance accreditation <noreply@example.nhs.uk>' (on NHSmail, the relay account's address)"
        )
    try:
        sender = check_sender(sender or "Alliance accreditation <noreply@localhost>")
    except ValueError as exc:
        raise ConfigError(f"MAIL_FROM: {exc}") from None
    base = env.get("BASE_URL")
    if not (base or "").strip():
        if real or (production and settings.backend != CONSOLE):
            raise ConfigError(
                "BASE_URL is not set: every email links to the page to act on, so the service's address is "
                "needed, like BASE_URL=https://accreditation.example.nhs.uk"
            )
        base = "http://localhost:5000"
    return {
        "MAIL_URL": url,
        "MAIL": settings,
        "MAIL_FROM": sender,
        "BASE_URL": _base_url(base),
        "MAIL_RETRIES": _int(env.get("MAIL_RETRIES"), "MAIL_RETRIES", 8),
        "MAIL_RETRY_SECONDS": _int(env.get("MAIL_RETRY_SECONDS"), "MAIL_RETRY_SECONDS", 300),
    }


#: The single sign-on settings, read from the environment (or the overrides) and checked by ``_oidc``.
OIDC_SETTINGS = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES", "OIDC_LABEL", "OIDC_MFA_ACR")
OIDC_DEFAULT_SCOPES = "openid email profile"
OIDC_DEFAULT_LABEL = "Sign in with NHSmail"
#: Hosts an issuer may be reached on over plain HTTP: this machine only (the tests' provider), never the network.
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def _oidc(config: Mapping[str, Any]) -> dict[str, Any]:
    """Single sign-on: ``OIDC_ENABLED`` and the settings checked and tidied, or a ConfigError naming the setting.

    ``OIDC_ISSUER`` switches it on: the provider's issuer (for Entra ID
    ``https://login.microsoftonline.com/<tenant id>/v2.0``); its ``/.well-known/openid-configuration`` is read
    on the first sign-in. ``OIDC_CLIENT_ID`` and ``OIDC_CLIENT_SECRET`` are then required; ``OIDC_SCOPES``
    (space-separated, with ``openid``), ``OIDC_LABEL`` (the button's words) and ``OIDC_MFA_ACR`` (``acr`` values,
    space- or comma-separated, that mean the provider checked a second factor) are optional."""
    values = {name: (str(config[name]).strip() if config.get(name) else "") for name in OIDC_SETTINGS}
    issuer = values["OIDC_ISSUER"]  # exactly as the provider writes it: ID tokens' ``iss`` must equal it
    if not issuer:
        stray = [name for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET") if values[name]]
        if stray:
            raise ConfigError(f"{stray[0]} is set but OIDC_ISSUER is not: set OIDC_ISSUER to turn single sign-on on")
        return {"OIDC_ENABLED": False, **{name: None for name in OIDC_SETTINGS}}
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"OIDC_ISSUER: expected the provider's issuer URL, e.g. "
            f"https://login.microsoftonline.com/<tenant id>/v2.0, got {issuer!r}"
        )
    if parts.scheme == "http" and parts.netloc.rsplit(":", 1)[0] not in LOOPBACK:
        raise ConfigError(f"OIDC_ISSUER: must use https (plain http only on this machine, 127.0.0.1), got {issuer!r}")
    for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        if not values[name]:
            raise ConfigError(
                f"{name} is not set: OIDC_ISSUER turns single sign-on on, and it needs the client id and secret "
                "of this application's registration at the provider"
            )
    scopes = values["OIDC_SCOPES"] or OIDC_DEFAULT_SCOPES
    if "openid" not in scopes.split():
        raise ConfigError(f"OIDC_SCOPES: must include openid (space-separated scopes), got {scopes!r}")
    if "email" not in scopes.split():
        raise ConfigError(f"OIDC_SCOPES: must include email (accounts are linked by verified email), got {scopes!r}")
    return {
        "OIDC_ENABLED": True,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": values["OIDC_CLIENT_ID"],
        "OIDC_CLIENT_SECRET": values["OIDC_CLIENT_SECRET"],
        "OIDC_SCOPES": " ".join(scopes.split()),
        "OIDC_LABEL": values["OIDC_LABEL"] or OIDC_DEFAULT_LABEL,
        "OIDC_MFA_ACR": tuple(value for value in values["OIDC_MFA_ACR"].replace(",", " ").split() if value),
    }


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
        "EXPORT_DIR": env.get("EXPORT_DIR") or str(DEFAULT_EXPORT_DIR),
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
        # Invitations and password resets (app/services/invitations.py, password_resets.py): how long their
        # links work, and "forgot your password" requests per email and per address.
        "INVITATION_DAYS": _int(env.get("INVITATION_DAYS"), "INVITATION_DAYS", 7),
        "PASSWORD_RESET_MINUTES": _int(env.get("PASSWORD_RESET_MINUTES"), "PASSWORD_RESET_MINUTES", 60),
        "RESET_RATE_LIMIT": _rate(env.get("RESET_RATE_LIMIT"), "RESET_RATE_LIMIT", "3 per hour"),
        "RESET_ADDRESS_RATE_LIMIT": _rate(
            env.get("RESET_ADDRESS_RATE_LIMIT"), "RESET_ADDRESS_RATE_LIMIT", "20 per hour"
        ),
        # Two-step verification (app/services/mfa.py, app/web/two_step.py). The roles that must use it: leads
        # and admins, always in production; the tests' configuration has none unless a test names them, so
        # the many tests that sign in a lead or an admin need not enrol first.
        "MFA_REQUIRED_ROLES": env.get("MFA_REQUIRED_ROLES", "" if testing else ",".join(MFA_STAFF)),
        "MFA_ISSUER": (env.get("MFA_ISSUER") or "").strip() or MFA_ISSUER,
        # The key the TOTP secrets are encrypted with (comma separated, newest first, to rotate); without it
        # SECRET_KEY is used, and changing SECRET_KEY then makes every enrolled secret unreadable.
        "MFA_KEY": env.get("MFA_KEY") or None,
        # Wrong codes per person and per address (a refused code counts, a right one does not); after
        # MFA_MAX_FAILURES wrong codes in a row no code is checked for MFA_LOCK_MINUTES.
        "MFA_RATE_LIMIT": _rate(env.get("MFA_RATE_LIMIT"), "MFA_RATE_LIMIT", "5 per minute"),
        "MFA_ADDRESS_RATE_LIMIT": _rate(
            env.get("MFA_ADDRESS_RATE_LIMIT"), "MFA_ADDRESS_RATE_LIMIT", "20 per minute;100 per hour"
        ),
        "MFA_MAX_FAILURES": _int(env.get("MFA_MAX_FAILURES"), "MFA_MAX_FAILURES", 5),
        "MFA_LOCK_MINUTES": _int(env.get("MFA_LOCK_MINUTES"), "MFA_LOCK_MINUTES", 15),
        # How long the second step waits for its code after a right password.
        "MFA_PENDING_MINUTES": _int(env.get("MFA_PENDING_MINUTES"), "MFA_PENDING_MINUTES", 5),
        # Single sign-on with OpenID Connect (app/web/sso.py): off unless OIDC_ISSUER is set; checked below.
        **{name: env.get(name) or None for name in OIDC_SETTINGS},
        "JOBS_NAME": (env.get("JOBS_NAME") or "alliance").strip(),
    }
    # Mail settings given as overrides are checked as the environment's are.
    mail_env = {**env, **{key: str(overrides.pop(key)) for key in MAIL_KEYS if overrides.get(key) is not None}}
    config.update(_mail(mail_env, app_env == "production"))
    config.update(overrides)
    config.update(_oidc(config))
    config["APP_ENV"] = app_env
    config["MFA_REQUIRED_ROLES"] = _roles(config["MFA_REQUIRED_ROLES"], "MFA_REQUIRED_ROLES")
    if app_env == "production" and not set(MFA_STAFF) <= config["MFA_REQUIRED_ROLES"]:
        raise ConfigError(
            "MFA_REQUIRED_ROLES: leads and admins must always use two-step verification in production; "
            f"got {', '.join(sorted(config['MFA_REQUIRED_ROLES'])) or 'none'} (leave it unset, or add member)"
        )
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

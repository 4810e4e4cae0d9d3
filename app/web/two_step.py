"""Signing in with two-step verification: what happens after a right password (or a single sign-on).

``finish_sign_in(user, mfa_asserted)`` is the one decision, for every way of signing in:

- a person with two-step verification set up, whose sign-in did not already prove a second factor
  (``mfa_asserted``: an identity provider that says it checked one), is *half signed in*: the session holds
  only who they are and until when (``MFA_PENDING_MINUTES``) under ``PENDING``, and no Flask-Login user, so
  ``@roles`` treats them as anonymous. The second step page (``mfa.second_step``) signs them in with a code;
- a person whose role requires it (``MFA_REQUIRED_ROLES``) and who has not set it up is signed in to the
  set-up page only: ``ENROL_ONLY`` in the session, and ``_enrolment_gate`` sends every other page there
  until they have set it up (public pages and signing out still work);
- anyone else is signed in.

Rate limits count refused codes per person (``mfa_user_key``) and per address (``mfa_address_key``); the
service locks a person's second step after ``MFA_MAX_FAILURES`` wrong codes in a row.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Optional

from flask import Flask, current_app, g, jsonify, redirect, request, url_for
from flask import session as web_session
from flask_limiter.util import get_remote_address
from flask_login import current_user

from ..models import User
from ..services import mfa
from .access import home_of, safe_next, sign_in, unit_of_work
from .sessions import renew_id

#: The half-signed-in state: {"user": id, "generation": session generation, "until": epoch seconds, "next": url}.
PENDING = "_mfa_pending"
#: Signed in to the two-step set-up page only (a lead or admin who has not set it up).
ENROL_ONLY = "_mfa_enrol_only"
#: What a person signed in to the set-up page only may still reach.
ENROL_ENDPOINTS = {"mfa.enrol", "auth.logout", "static", "nhsuk_vendor", "nhsuk_assets"}


def policy() -> mfa.Policy:
    return current_app.extensions["mfa_policy"]


def init_app(app: Flask) -> None:
    keys = (app.config.get("MFA_KEY") or "").split(",") if app.config.get("MFA_KEY") else [app.config["SECRET_KEY"]]
    app.extensions["mfa_policy"] = mfa.Policy(
        box=mfa.SecretBox(keys),
        issuer=app.config["MFA_ISSUER"],
        max_failures=app.config["MFA_MAX_FAILURES"],
        lock=dt.timedelta(minutes=app.config["MFA_LOCK_MINUTES"]),
        required_roles=frozenset(app.config["MFA_REQUIRED_ROLES"]),
    )
    app.before_request(_enrolment_gate)


def finish_sign_in(user: User, mfa_asserted: bool, next_url: Optional[str] = None) -> str:
    """After the first factor (a right password, or an identity provider's answer): sign ``user`` in, half
    sign them in, or sign them in to the set-up page only. Returns where to send them next."""
    with unit_of_work() as session:
        enrolled = mfa.is_enrolled(session, user.id)
    if enrolled and not mfa_asserted:
        web_session.clear()
        web_session[PENDING] = {
            "user": user.id,
            "generation": user.session_generation,
            "until": time.time() + 60 * current_app.config["MFA_PENDING_MINUTES"],
            "next": safe_next(next_url),
        }
        renew_id(restart=True)
        return url_for("mfa.second_step")
    signed_in = sign_in(user)
    if not enrolled and not mfa_asserted and policy().required_for(user.role):
        web_session[ENROL_ONLY] = True
        return url_for("mfa.enrol")
    return safe_next(next_url) or home_of(signed_in)


@dataclass(frozen=True)
class Pending:
    user_id: int
    generation: int
    next_url: Optional[str]


def pending() -> Optional[Pending]:
    """Who is half signed in here, while their time lasts; None otherwise (and the state is dropped)."""
    state = web_session.get(PENDING)
    if not isinstance(state, dict):
        return None
    if time.time() >= float(state.get("until", 0)):
        web_session.pop(PENDING, None)
        return None
    return Pending(int(state["user"]), int(state["generation"]), state.get("next"))


def pending_user(state: Pending) -> Optional[User]:
    """The half-signed-in person, while they may still sign in (active, no session ended since)."""
    with unit_of_work() as session:
        user = session.get(User, state.user_id)
        if user is None or not user.active or user.session_generation != state.generation:
            return None
        return user


def complete(user: User, state: Pending) -> str:
    """The second step passed: a new, fully signed-in session (``sign_in`` clears the half-signed-in one)."""
    signed_in = sign_in(user)
    return state.next_url or home_of(signed_in)


def enrolled() -> None:
    """Set-up finished in this session: every page opens again, under a new session id."""
    web_session.pop(ENROL_ONLY, None)
    renew_id()


def enrol_only() -> bool:
    return bool(web_session.get(ENROL_ONLY))


def _enrolment_gate():
    if not web_session.get(ENROL_ONLY) or not current_user.is_authenticated:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint in ENROL_ENDPOINTS or getattr(view, "access", None) == ("public",):
        return None
    if request.blueprint == "api":
        return jsonify({"error": "set up two-step verification first", "status": 403}), 403
    return redirect(url_for("mfa.enrol"))


def refused(response) -> bool:  # noqa: ANN001
    """A code the view refused (the rate limits count only these)."""
    return bool(g.get("mfa_refused"))


def mfa_user_key() -> str:
    """Refused codes per person: the half-signed-in one, else the signed-in one."""
    state = web_session.get(PENDING)
    if isinstance(state, dict) and "user" in state:
        return f"mfa-user:{state['user']}"
    if current_user.is_authenticated:
        return f"mfa-user:{current_user.id}"
    return f"mfa-anonymous:{get_remote_address()}"


def mfa_user_limit() -> str:
    return current_app.config["MFA_RATE_LIMIT"]


def mfa_address_key() -> str:
    return f"mfa-address:{get_remote_address()}"


def mfa_address_limit() -> str:
    return current_app.config["MFA_ADDRESS_RATE_LIMIT"]

"""Who may see what: sign-in, roles on every route, and the unit of work for a request.

Every view carries an ``access`` mark (``@public``, ``@roles(...)``, or ``@token_scoped`` for the JSON API);
``check_every_route_is_marked`` refuses to start an application with a route
that has none, so a new page cannot be reachable by accident.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Callable, Iterator, Optional
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, jsonify, redirect, request, url_for
from flask import session as web_session
from flask_login import LoginManager, UserMixin, current_user, login_user
from sqlmodel import Session

from .. import db
from ..models import User
from ..services import Actor
from ..services.api_tokens import TokenScope, authenticate_token
from .sessions import renew_id

#: Each role's landing page.
HOMES = {"member": "member.home", "lead": "review.home", "admin": "admin.home"}
#: Whom ``sign_in`` began the session for, with their ``User.session_generation`` then: "id:generation".
SIGNED_IN = "_signed_in"


def _signed_in_as(user: User) -> str:
    return f"{user.id}:{user.session_generation}"


login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Sign in to see this page."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@dataclass(frozen=True)
class SignedIn(UserMixin):
    """The signed-in person as the views need them (detached from any database session)."""

    id: int
    email: str
    name: str
    role: str
    organisation_id: Optional[int]
    alliance_id: Optional[int]

    @classmethod
    def of(cls, user: User) -> SignedIn:
        return cls(user.id, user.email, user.name, user.role, user.organisation_id, user.alliance_id)

    @property
    def actor(self) -> Actor:
        return Actor(self.email, self.id)


@login_manager.user_loader
def _load_user(user_id: str) -> Optional[SignedIn]:
    """The person this session was signed in for, while their sessions have not all been ended since.
    Flask-Login asks this for a "remember me" cookie too: such a cookie comes with no session begun by
    ``sign_in``, so it signs nobody in."""
    if not user_id.isdigit():
        return None
    with unit_of_work() as session:
        user = session.get(User, int(user_id))
        if user is None or not user.active or web_session.get(SIGNED_IN) != _signed_in_as(user):
            return None
        return SignedIn.of(user)


def sign_in(user: User) -> SignedIn:
    """Begin a new session for ``user`` (a new id and lifetime: nothing of the one before is kept)."""
    signed_in = SignedIn.of(user)
    web_session.clear()
    login_user(signed_in)
    web_session[SIGNED_IN] = _signed_in_as(user)
    web_session.permanent = True
    renew_id(restart=True)
    return signed_in


def home_of(user: SignedIn) -> str:
    return url_for(HOMES[user.role])


def keep_signed_in(user: User) -> None:
    """After ending every session of the person signed in here (a password change): this one goes on
    under a new id, so a copy of its old cookie opens nothing."""
    web_session[SIGNED_IN] = _signed_in_as(user)
    renew_id()


@login_manager.unauthorized_handler
def _unauthorised():
    if request.blueprint == "api":
        return jsonify({"error": "sign in first"}), 401
    if request.method != "GET":  # a form posted after the session ended: come back to a page, not the post
        return redirect(url_for("auth.login"))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction on the application's database (commits on success, rolls back on error)."""
    with db.session_scope(current_app.config["DATABASE_URL"]) as session:
        yield session


def actor() -> Actor:
    return current_user.actor


def public(view: Callable) -> Callable:
    view.access = ("public",)
    return view


def roles(*allowed: str) -> Callable[[Callable], Callable]:
    """Only signed-in users with one of these roles; others get the sign-in page (anonymous) or 403."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        guarded.access = tuple(allowed)
        return guarded

    return decorate


def token_scoped(view: Callable) -> Callable:
    """The JSON API: only a live token in ``Authorization: Bearer <token>`` lets a request in (a signed-in
    browser's session cookie does not), and the view works in the token's scope (``token_scope()``)."""

    @wraps(view)
    def guarded(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _token_refused("send an API token in the Authorization header: Bearer <token>")
        with unit_of_work() as session:
            scope = authenticate_token(session, token.strip())
        if scope is None:
            return _token_refused("the API token is not valid: it is unknown or has been revoked")
        g.token_scope = scope
        return view(*args, **kwargs)

    guarded.access = ("token",)
    return guarded


def token_scope() -> TokenScope:
    return g.token_scope


def _token_refused(message: str):
    response = jsonify({"error": message, "status": 401})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def check_every_route_is_marked(app: Flask) -> None:
    unmarked = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not getattr(view, "access", None)
    )
    if unmarked:
        raise RuntimeError(f"routes without an access rule (@public, @roles or @token_scoped): {', '.join(unmarked)}")


def safe_next(target: Optional[str]) -> Optional[str]:
    """A redirect target only when it stays on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target

"""Forgotten passwords: a reset link by email, and setting a new password with it.

Asking (``request_reset``) does the same work and returns the same nothing whether or not the email has an
account: the page says the same, a token is made and hashed either way, and only an active account's
address gets an email (with an audit event, in the same transaction). The link holds a random token (256
bits) of which only a SHA-256 is stored; it works once, for ``minutes`` (PASSWORD_RESET_MINUTES). Setting
the new password (``reset_password``) checks it as registration does, ends every session of the person
(``accounts.end_sessions``), and uses up every other reset link of theirs. Two-step verification is not
touched: the person signs in as before, second step included.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select, update

from ..models import PasswordReset, User, utcnow
from . import messages
from .accounts import EMAIL, end_sessions, hash_password, password_problem
from .api_tokens import digest
from .common import Actor, ServiceError, audit
from .invitations import new_token

#: How long a reset link works, unless the settings say otherwise (PASSWORD_RESET_MINUTES).
MINUTES = 60
UNUSABLE = (
    "This password reset link does not work: it has expired or has been used already. "
    "Ask for a new link if you still need to reset your password."
)


class Unusable(ServiceError):
    """A reset link that has expired or been used (or never existed)."""


def request_reset(session: Session, email: str, *, minutes: int = MINUTES) -> None:
    """Email a reset link to ``email`` if it is an active account's; otherwise do nothing. Says nothing back."""
    address = (email or "").strip().lower()
    token, token_hash = new_token()  # made whether or not it is needed: the two paths take alike
    user = (
        session.exec(select(User).where(User.email == address)).first()
        if EMAIL.match(address) and len(address) <= 254
        else None
    )
    if user is None or not user.active:
        return None
    reset = PasswordReset(user_id=user.id, token_hash=token_hash, expires_at=utcnow() + dt.timedelta(minutes=minutes))
    session.add(reset)
    session.flush()
    audit(session, Actor(address), "password_reset.requested", user, after={"reset_id": reset.id})
    messages.password_reset(session, user, reset.id, token, minutes)
    return None


def usable(session: Session, token: str) -> PasswordReset | None:
    """The unused, unexpired reset whose link holds ``token``, for an active account; None otherwise."""
    reset = session.exec(select(PasswordReset).where(PasswordReset.token_hash == digest(token or ""))).first()
    if reset is None or reset.used_at is not None or utcnow() >= reset.expires_at:
        return None
    user = session.get(User, reset.user_id)
    return reset if user is not None and user.active else None


def reset_password(session: Session, token: str, password: str) -> User:
    """Set a new password with a reset link: every session of the person ends, the link and any other of
    theirs are used up. Refused (nothing changed) for a link that does not work or a weak password."""
    reset = usable(session, token)
    if reset is None:
        raise Unusable(UNUSABLE)
    user = session.get(User, reset.user_id)
    weak = password_problem(password, email=user.email, name=user.name)
    if weak:
        raise ServiceError(f"password: {weak}")
    now = utcnow()
    claimed = session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.id) == reset.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # used a moment ago in another request
        raise Unusable(UNUSABLE)
    session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    actor = Actor(user.email, user.id)
    user.password_hash = hash_password(password)
    session.add(user)
    end_sessions(session, actor, user.id)
    audit(session, actor, "user.password_reset", user, after={"reset_id": reset.id})
    return user

"""User accounts and roles: who may sign in, the passwords they may choose, and ending their sessions.

A password is at least ``MIN_PASSWORD`` characters and hard to guess: zxcvbn's estimate (which knows common
and breached passwords, keyboard patterns, repeats, dates and the person's own name and email) must reach
``MIN_STRENGTH``. Signing in checks a password hash whether or not the email has an account, so the time
taken does not tell which emails do. ``User.session_generation`` moves on to end every session of a person.
"""

from __future__ import annotations

import functools
import re
import secrets
from typing import Iterable, Optional

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import ROLES, Alliance, Organisation, User
from .common import Actor, ServiceError, audit, get_or_404, snapshot, text_problems

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
MIN_PASSWORD = 12
MAX_PASSWORD = 200
#: zxcvbn's score, 0 to 4: 3 is "safely unguessable" (about 10^8 guesses or more), 4 "very unguessable".
MIN_STRENGTH = 3
#: zxcvbn reads at most this many characters (its time grows with the length); a longer password is at
#: least as strong as its beginning.
STRENGTH_READS = 72
ADVICE = "Choose a password that is harder to guess, for example 3 or more random words"


class EmailTaken(ServiceError):
    """The email already has an account. Pages that anyone can reach must not say so (enumeration)."""


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


@functools.lru_cache(maxsize=1)
def _unknown_account_hash() -> str:
    """A hash of a random password, made like every other: checked when an email has no account."""
    return hash_password(secrets.token_urlsafe(24))


def _words(texts: Iterable[str]) -> list[str]:
    """The words of the texts (3 letters or more: a name, an email's parts), then the texts whole. zxcvbn
    counts the first in this list as the likeliest guesses."""
    whole = [text.strip().lower() for text in texts if text and text.strip()]
    words = [word for text in whole for word in re.split(r"[^a-z0-9]+", text) if len(word) >= 3]
    return list(dict.fromkeys(words + whole))


def password_problem(password: str, *, email: str = "", name: str = "", others: Iterable[str] = ()) -> Optional[str]:
    """What is wrong with a new password, in words for the person choosing it, or None. ``email``, ``name``
    and ``others`` (say the organisation's name) are what a guesser would try first."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters for your password"
    if len(password) > MAX_PASSWORD:
        return f"Use {MAX_PASSWORD} characters or fewer for your password"
    if email.strip() and email.strip().lower() in password.lower():
        return "Do not use your email address in your password"
    from zxcvbn import zxcvbn  # only where a password is chosen: it takes a tenth of a second to import

    estimate = zxcvbn(password[:STRENGTH_READS], user_inputs=_words([email, name, *others]))
    if estimate["score"] >= MIN_STRENGTH:
        return None
    warning = estimate["feedback"]["warning"].strip()
    return f"{warning.rstrip('.')}. {ADVICE}" if warning else ADVICE


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    password: str,
    role: str,
    organisation_id: Optional[int] = None,
    alliance_id: Optional[int] = None,
    password_hash: Optional[str] = None,
    others: Iterable[str] = (),
) -> User:
    """A member user belongs to one organisation, a lead to one alliance; an admin to neither.
    ``password_hash``, when given, must be ``hash_password(password)`` computed ahead (bulk loads); ``others``
    are more words the password must not be guessable from (``password_problem``)."""
    email = email.strip().lower()
    problems = text_problems({"email": email, "name": name}, single_line=True)  # before any query holds them
    if not EMAIL.match(email):
        problems.append("email: not an email address")
    if role not in ROLES:
        problems.append(f"role: one of {', '.join(ROLES)}")
    weak = password_problem(password, email=email, name=name, others=others)
    if weak:
        problems.append(f"password: {weak}")
    if role == "member" and (organisation_id is None or alliance_id is not None):
        problems.append("a member user belongs to exactly one organisation")
    if role == "lead" and (alliance_id is None or organisation_id is not None):
        problems.append("an alliance lead belongs to exactly one alliance")
    if role == "admin" and (alliance_id is not None or organisation_id is not None):
        problems.append("an admin belongs to no organisation or alliance")
    if problems:
        raise ServiceError("; ".join(problems))
    if session.exec(select(User).where(User.email == email)).first():
        raise EmailTaken(f"email: {email} already has an account")
    if organisation_id is not None:
        get_or_404(session, Organisation, organisation_id, "organisation")
    if alliance_id is not None:
        get_or_404(session, Alliance, alliance_id, "alliance")
    user = User(
        email=email,
        name=name.strip() or email,
        password_hash=password_hash or hash_password(password),
        role=role,
        organisation_id=organisation_id,
        alliance_id=alliance_id,
    )
    session.add(user)
    session.flush()
    audit(session, actor, "user.created", user, after=snapshot(user, "email", "role", "organisation_id", "alliance_id"))
    return user


def authenticate(session: Session, email: str, password: str) -> Optional[User]:
    """The active user with this email and password, or None. A password hash is checked either way."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    matches = check_password_hash(user.password_hash if user is not None else _unknown_account_hash(), password)
    if user is None or not matches or not user.active:
        return None
    return user


def end_sessions(session: Session, actor: Actor, user_id: int) -> User:
    """Every session of the user ends ("sign out everywhere"): none begun before is signed in any more."""
    user = get_or_404(session, User, user_id, "user")
    user.session_generation += 1
    audit(session, actor, "user.sessions_ended", user)
    return user


def change_password(session: Session, actor: Actor, user_id: int, *, current: str, new: str) -> User:
    """A new password, given the current one; every session of the user ends with the old password."""
    user = get_or_404(session, User, user_id, "user")
    if not check_password_hash(user.password_hash, current):
        raise ServiceError("current: Enter your current password correctly")
    weak = password_problem(new, email=user.email, name=user.name)
    if weak:
        raise ServiceError(f"password: {weak}")
    if check_password_hash(user.password_hash, new):
        raise ServiceError("password: Choose a password different from your current one")
    user.password_hash = hash_password(new)
    user.session_generation += 1
    audit(session, actor, "user.password_changed", user)
    return user


def users(session: Session) -> list[User]:
    """Every account, for operators: by role, then email."""
    return list(session.exec(select(User).order_by(User.role, User.email)))

"""User accounts and roles."""
from __future__ import annotations

import re
from typing import Optional

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import ROLES, Alliance, Organisation, User
from .common import Actor, ServiceError, audit, get_or_404, snapshot, text_problems

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
MIN_PASSWORD = 12


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def create_user(session: Session, actor: Actor, *, email: str, name: str, password: str, role: str,
                organisation_id: Optional[int] = None, alliance_id: Optional[int] = None,
                password_hash: Optional[str] = None) -> User:
    """A member user belongs to one organisation, a lead to one alliance; an admin to neither.
    ``password_hash``, when given, must be ``hash_password(password)`` computed ahead (bulk loads)."""
    email = email.strip().lower()
    problems = text_problems({"email": email, "name": name}, single_line=True)  # before any query holds them
    if not EMAIL.match(email):
        problems.append("email: not an email address")
    elif not problems and session.exec(select(User).where(User.email == email)).first():
        problems.append(f"email: {email} already has an account")
    if role not in ROLES:
        problems.append(f"role: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        problems.append(f"password: at least {MIN_PASSWORD} characters")
    if role == "member" and (organisation_id is None or alliance_id is not None):
        problems.append("a member user belongs to exactly one organisation")
    if role == "lead" and (alliance_id is None or organisation_id is not None):
        problems.append("an alliance lead belongs to exactly one alliance")
    if role == "admin" and (alliance_id is not None or organisation_id is not None):
        problems.append("an admin belongs to no organisation or alliance")
    if problems:
        raise ServiceError("; ".join(problems))
    if organisation_id is not None:
        get_or_404(session, Organisation, organisation_id, "organisation")
    if alliance_id is not None:
        get_or_404(session, Alliance, alliance_id, "alliance")
    user = User(email=email, name=name.strip() or email, password_hash=password_hash or hash_password(password),
                role=role, organisation_id=organisation_id, alliance_id=alliance_id)
    session.add(user)
    session.flush()
    audit(session, actor, "user.created", user, after=snapshot(user, "email", "role", "organisation_id", "alliance_id"))
    return user


def authenticate(session: Session, email: str, password: str) -> Optional[User]:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    return user

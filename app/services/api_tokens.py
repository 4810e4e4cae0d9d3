"""API tokens: how another system is let into the JSON API, and only into one organisation's or one
alliance's world.

A token is a random string shown once, when an admin creates it; the database keeps only its SHA-256, so a
copy of the database opens nothing. A token scoped to an organisation acts as a member user of it; one
scoped to an alliance acts as that alliance's lead. Revoked tokens stay listed (and audited) but open nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Optional

from sqlmodel import Session, col, select

from ..models import Alliance, ApiToken, Organisation, utcnow
from .common import Actor, NotFound, ServiceError, audit, snapshot, text_problems

PREFIX = "aat_"  # "alliance accreditation token": lets a leaked token be recognised in logs and code scanners
SHOWN = 12  # characters of the token kept in clear to tell tokens apart in the list
NAME_MAX = 100
#: last_used_at is written at most this often per token, so reads do not each become a write.
USE_RESOLUTION = dt.timedelta(minutes=1)
AUDITED = ("name", "prefix", "organisation_id", "alliance_id", "created_at", "revoked_at")


def digest(token: str) -> str:
    """The SHA-256 a token is stored and counted under (any header text hashes, even text no token has)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TokenScope:
    """What a request made with a token may see: one organisation (as its member) or one alliance (as its lead)."""

    token_id: int
    name: str
    organisation_id: Optional[int]
    alliance_id: Optional[int]

    @property
    def kind(self) -> str:
        return "organisation" if self.organisation_id is not None else "alliance"

    @property
    def actor(self) -> Actor:
        return Actor(f"api-token:{self.token_id} ({self.name})"[:254])


def create_token(
    session: Session,
    actor: Actor,
    *,
    name: str,
    organisation_id: Optional[int] = None,
    alliance_id: Optional[int] = None,
) -> tuple[ApiToken, str]:
    """A new token for exactly one organisation or one alliance: the row, and the token to show once."""
    name = (name or "").strip()
    problems = []
    if not name:
        problems.append("name: enter what the token is for")
    elif len(name) > NAME_MAX:
        problems.append(f"name: use {NAME_MAX} characters or fewer")
    problems += text_problems({"name": name}, single_line=True)
    if (organisation_id is None) == (alliance_id is None):
        problems.append("scope: choose one organisation or one alliance")
    if problems:
        raise ServiceError("; ".join(problems))
    if organisation_id is not None and session.get(Organisation, organisation_id) is None:
        raise NotFound(f"organisation {organisation_id} does not exist")
    if alliance_id is not None and session.get(Alliance, alliance_id) is None:
        raise NotFound(f"alliance {alliance_id} does not exist")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        prefix=token[:SHOWN],
        token_hash=digest(token),
        organisation_id=organisation_id,
        alliance_id=alliance_id,
        created_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit(session, actor, "api_token.created", row, after=snapshot(row, *AUDITED))
    return row, token


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Stop a token working from the next request on; revoking it again changes nothing."""
    row = session.exec(select(ApiToken).where(ApiToken.id == token_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"API token {token_id} does not exist")
    if row.revoked_at is not None:
        return row
    before = snapshot(row, *AUDITED)
    row.revoked_at, row.revoked_by = utcnow(), actor.user_id
    session.add(row)
    session.flush()
    audit(session, actor, "api_token.revoked", row, before=before, after=snapshot(row, *AUDITED))
    return row


@dataclass(frozen=True)
class TokenLine:
    token: ApiToken
    scope: str  # the organisation's or alliance's name, as the admin reads it

    @property
    def active(self) -> bool:
        return self.token.revoked_at is None


def token_lines(session: Session) -> list[TokenLine]:
    """Every token, active ones first, newest first within each."""
    organisations = {o.id: o.name for o in session.exec(select(Organisation)).all()}
    alliances = {a.id: a.name for a in session.exec(select(Alliance)).all()}
    rows = session.exec(select(ApiToken).order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())).all()
    lines = [
        TokenLine(
            t,
            f"Organisation: {organisations.get(t.organisation_id, '?')}"
            if t.organisation_id
            else f"Alliance: {alliances.get(t.alliance_id, '?')}",
        )
        for t in rows
    ]
    return sorted(lines, key=lambda line: not line.active)


def authenticate_token(session: Session, token: str) -> Optional[TokenScope]:
    """The scope of a live token, noting when it was used; None for an unknown or revoked one."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= USE_RESOLUTION:
        row.last_used_at = now
        session.add(row)
    return TokenScope(row.id, row.name, row.organisation_id, row.alliance_id)


def scope_choices(session: Session) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(organisations, alliances) a token can be scoped to, each as (id, name) by name."""
    organisations = [
        (o.id, f"{o.name} ({o.ods_code})")
        for o in session.exec(select(Organisation).order_by(col(Organisation.name))).all()
    ]
    alliances = [(a.id, a.name) for a in session.exec(select(Alliance).order_by(col(Alliance.name))).all()]
    return organisations, alliances

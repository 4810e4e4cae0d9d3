"""Browser sessions kept on the server: the cookie holds only a random id, and the store (the database by
default, Redis with ``SESSION_STORE=redis://...``) holds the session under a SHA-256 of that id, so a copy of
the store opens no session.

A session ends when its person signs out (its record is deleted: a copied cookie then opens nothing), after
``SESSION_IDLE_MINUTES`` without a request, and ``SESSION_HOURS`` after it began, however much it is used (that
end never moves). Whenever who is signed in changes, and on ``renew_id``, the session gets a new id and the old
one is deleted (no fixation). ``end_sessions_of`` deletes every session of a person; together with their
``User.session_generation``, which ``access`` checks, that ends them all even in a request already under way.

Flask-Session was weighed: its SQLAlchemy store needs Flask-SQLAlchemy and creates its own table outside the
migrations, keeps ids as they are, and has neither an absolute lifetime nor a way to find a person's sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol

from flask import Flask, Request, current_app, session
from flask.sessions import SecureCookieSession, SessionInterface, session_json_serializer
from flask.wrappers import Response
from sqlalchemy import delete

from .. import db
from ..models import WebSession, utcnow

TOKEN = re.compile(r"[A-Za-z0-9_-]{43}\Z")  # secrets.token_urlsafe(32)
USER_KEY = "_user_id"  # where Flask-Login keeps who is signed in
#: An unchanged session is written back (its idle end moved on) at most this often.
TOUCH_EVERY = dt.timedelta(minutes=1)
PRUNE_EVERY = dt.timedelta(minutes=5)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Stored:
    """One session as a store keeps it; ``data`` is the session's values as Flask's tagged JSON."""

    data: str
    user_id: Optional[int]
    created_at: dt.datetime
    expires_at: dt.datetime  # the idle end: moves on with use, never past ends_at
    ends_at: dt.datetime  # the absolute end, fixed when the session begins


class SessionStore(Protocol):
    def load(self, key: str) -> Optional[Stored]: ...

    def save(self, key: str, stored: Stored, now: dt.datetime) -> None: ...

    def delete(self, key: str) -> None: ...

    def delete_user(self, user_id: int) -> None: ...


class DatabaseStore:
    """Sessions in the application's database (table ``websession``); ended ones are deleted now and then."""

    def __init__(self, url: str):
        self.url = url
        self._pruned: Optional[dt.datetime] = None

    def load(self, key: str) -> Optional[Stored]:
        with db.read_scope(self.url) as reading:
            row = reading.get(WebSession, key)
            if row is None:
                return None
            return Stored(row.data, row.user_id, row.created_at, row.expires_at, row.ends_at)

    def save(self, key: str, stored: Stored, now: dt.datetime) -> None:
        with db.session_scope(self.url) as writing:
            writing.merge(
                WebSession(
                    id_hash=key,
                    user_id=stored.user_id,
                    data=stored.data,
                    created_at=stored.created_at,
                    expires_at=stored.expires_at,
                    ends_at=stored.ends_at,
                )
            )
            if self._pruned is None or now - self._pruned >= PRUNE_EVERY:
                writing.exec(delete(WebSession).where(WebSession.expires_at < now))
                self._pruned = now

    def delete(self, key: str) -> None:
        with db.session_scope(self.url) as writing:
            writing.exec(delete(WebSession).where(WebSession.id_hash == key))

    def delete_user(self, user_id: int) -> None:
        with db.session_scope(self.url) as writing:
            writing.exec(delete(WebSession).where(WebSession.user_id == user_id))


class RedisStore:
    """Sessions in Redis, each under ``prefix + key`` with its idle end as expiry, and a set per person
    (``prefix + "user:" + id``) of their sessions' keys."""

    def __init__(self, url: str, prefix: str, lifetime: dt.timedelta):
        import redis  # only where Redis is used

        self.redis = redis.Redis.from_url(url)
        self.prefix = prefix
        self.lifetime = lifetime

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}user:{user_id}"

    def load(self, key: str) -> Optional[Stored]:
        raw = self.redis.get(self.prefix + key)
        if raw is None:
            return None
        fields = json.loads(raw)
        return Stored(
            fields["data"],
            fields["user_id"],
            *(dt.datetime.fromisoformat(fields[name]) for name in ("created_at", "expires_at", "ends_at")),
        )

    def save(self, key: str, stored: Stored, now: dt.datetime) -> None:
        fields = {
            "data": stored.data,
            "user_id": stored.user_id,
            "created_at": stored.created_at.isoformat(),
            "expires_at": stored.expires_at.isoformat(),
            "ends_at": stored.ends_at.isoformat(),
        }
        with self.redis.pipeline() as pipe:
            pipe.set(
                self.prefix + key, json.dumps(fields), ex=max(1, math.ceil((stored.expires_at - now).total_seconds()))
            )
            if stored.user_id is not None:
                # Every session of the person ends within one lifetime of now: the set outlives them all.
                pipe.sadd(self._user_key(stored.user_id), key)
                pipe.expire(self._user_key(stored.user_id), math.ceil(self.lifetime.total_seconds()))
            pipe.execute()

    def delete(self, key: str) -> None:
        self.redis.delete(self.prefix + key)

    def delete_user(self, user_id: int) -> None:
        keys = [self.prefix + member.decode() for member in self.redis.smembers(self._user_key(user_id))]
        self.redis.delete(*keys, self._user_key(user_id))


class ServerSession(SecureCookieSession):
    """The session of one request: Flask's session dict, with the id it came under and its stored record."""

    def __init__(
        self,
        initial: Optional[Mapping[str, Any]] = None,
        *,
        token: Optional[str] = None,
        stored: Optional[Stored] = None,
        failure: Optional[Exception] = None,
    ):
        super().__init__(initial)
        self.token = token
        self.stored = stored
        self.failure = failure  # the store could not be read: the request fails with this
        self.new_id = False  # give it a new id when it is saved
        self.restart = False  # and begin its lifetime again


class ServerSessions(SessionInterface):
    serializer = session_json_serializer

    def __init__(self, store: SessionStore, idle: dt.timedelta, lifetime: dt.timedelta):
        self.store = store
        self.idle = idle
        self.lifetime = lifetime

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(self.get_cookie_name(app), "")
        if TOKEN.match(token):
            try:
                stored = self.store.load(digest(token))
            except Exception as exc:  # noqa: BLE001  (raised again inside the request: _fail_with_the_store)
                return ServerSession(failure=exc)
            if stored is not None and utcnow() < min(stored.expires_at, stored.ends_at):
                return ServerSession(self.serializer.loads(stored.data), token=token, stored=stored)
        return ServerSession()

    def save_session(self, app: Flask, current: ServerSession, response: Response) -> None:  # noqa: D102
        if current.accessed:
            response.vary.add("Cookie")
        if current.failure is not None:
            return
        if not current:  # signed out, or nothing kept: the record goes, and the cookie with it
            if current.token is not None:
                self.store.delete(digest(current.token))
                self._delete_cookie(app, response)
            return
        now = utcnow()
        user_id = _user_id(current)
        stored = current.stored
        begins = stored is None or current.restart or user_id != stored.user_id
        created, ends = (now, now + self.lifetime) if begins else (stored.created_at, stored.ends_at)
        expires = min(now + self.idle, ends)
        new_id = begins or current.new_id or current.token is None
        if not new_id and not current.modified and expires - stored.expires_at < TOUCH_EVERY:
            return
        if new_id and current.token is not None:
            self.store.delete(digest(current.token))
        token = secrets.token_urlsafe(32) if new_id else current.token
        self.store.save(
            digest(token), Stored(self.serializer.dumps(dict(current)), user_id, created, expires, ends), now
        )
        if new_id:
            response.set_cookie(
                self.get_cookie_name(app),
                token,
                expires=ends,
                path=self.get_cookie_path(app),
                domain=self.get_cookie_domain(app),
                secure=self.get_cookie_secure(app),
                httponly=self.get_cookie_httponly(app),
                samesite=self.get_cookie_samesite(app),
            )
            response.vary.add("Cookie")

    def _delete_cookie(self, app: Flask, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
        )
        response.vary.add("Cookie")


def _user_id(values: Mapping[str, Any]) -> Optional[int]:
    found = str(values.get(USER_KEY) or "")
    return int(found) if found.isdigit() else None


def init_app(app: Flask) -> None:
    idle, lifetime = app.config["SESSION_IDLE"], app.config["PERMANENT_SESSION_LIFETIME"]
    where = app.config["SESSION_STORE"]
    store: SessionStore = (
        DatabaseStore(app.config["DATABASE_URL"])
        if where == "database"
        else RedisStore(where, app.config["SESSION_KEY_PREFIX"], lifetime)
    )
    app.session_interface = ServerSessions(store, idle, lifetime)
    app.before_request(_fail_with_the_store)


def _fail_with_the_store() -> None:
    """A session its store could not read fails the request here, where the error pages can answer it (a
    database that is down: the "try again" page of ``faults``), rather than before any handler runs."""
    if session.failure is not None:
        raise session.failure


def renew_id(restart: bool = False) -> None:
    """This request's session gets a new id when it is saved, and the old id opens nothing any more;
    ``restart`` also begins its lifetime again (a sign-in)."""
    session.new_id = True
    session.restart = session.restart or restart


def end_sessions_of(user_id: int) -> None:
    """Delete every stored session of a person (their session generation moves on too: ``access``)."""
    current_app.session_interface.store.delete_user(user_id)

"""Sessions kept on the server, in the database (the default) and in Redis (production): a copied session cookie
stops working after signing out, a password change and "sign out everywhere"; sessions end when idle and at an
absolute end that use does not move; a "remember me" cookie signs nobody in."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
import redis
from flask_login.utils import encode_cookie
from sqlmodel import select

from app import create_app, db
from app.models import AuditEvent, User, WebSession, clock_at
from app.services import authenticate

from .conftest import PASSWORD, Visitor, redis_url, signed_in, text

NEW_PASSWORD = "plum heron quietly sketches"


@pytest.fixture(params=["database", "redis"])
def store(request) -> dict:
    """Where the sessions are kept: the database, or the real Redis server under a prefix of this test's own."""
    if request.param == "database":
        yield {"SESSION_STORE": "database"}
        return
    prefix = f"test-sessions:{uuid.uuid4().hex}:"
    yield {"SESSION_STORE": redis_url(), "SESSION_KEY_PREFIX": prefix}
    server = redis.Redis.from_url(redis_url())
    for key in server.scan_iter(prefix + "*"):
        server.delete(key)


@pytest.fixture
def app(database_url, world, tmp_path, store):
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            **store,
        }
    )


def cookie_of(person: Visitor) -> str:
    return person.client.get_cookie("session").value


def copy_of(app, person: Visitor) -> Visitor:
    """Someone else's browser holding a copy of this person's session cookie."""
    other = Visitor(app)
    other.client.set_cookie("session", cookie_of(person))
    return other


def is_signed_in(person: Visitor) -> bool:
    """The start page sends a signed-in person to their home page."""
    response = person.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 302


def test_a_copied_cookie_stops_working_after_sign_out(app, world):
    person = signed_in(app, world, "member_a")
    copy = copy_of(app, person)
    assert is_signed_in(copy)  # a copy works while the session lasts
    token = copy.token()
    assert person.logout().status_code == 302
    assert not is_signed_in(copy)
    assert copy.get("/member/").headers["Location"].startswith("/login")
    refused = copy.client.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert refused.status_code == 400  # its CSRF token went with the session


def test_the_cookie_holds_a_random_id_and_the_store_only_its_hash(app, world, store):
    person = signed_in(app, world, "member_a")
    token = cookie_of(person)
    assert len(token) == 43 and "member" not in token and "." not in token  # not signed data: an id
    key = hashlib.sha256(token.encode()).hexdigest()
    if store["SESSION_STORE"] == "database":
        with db.session_scope(world.url) as session:
            rows = session.exec(select(WebSession)).all()
            assert [row.id_hash for row in rows] == [key]
            assert rows[0].user_id == world.user_ids["member_a"] and token not in rows[0].data
    else:
        server = redis.Redis.from_url(store["SESSION_STORE"])
        keys = {k.decode() for k in server.scan_iter(store["SESSION_KEY_PREFIX"] + "*")}
        assert store["SESSION_KEY_PREFIX"] + key in keys and not any(token in k for k in keys)
        assert 0 < server.ttl(store["SESSION_KEY_PREFIX"] + key) <= 3600  # the idle limit, an hour


def test_signing_in_gives_a_new_id_and_the_one_before_opens_nothing(app, world):
    person = Visitor(app)
    person.token()  # an anonymous session, with the form's CSRF token
    before = cookie_of(person)
    planted = copy_of(app, person)
    person.login(world.emails["member_a"])
    assert cookie_of(person) != before
    assert is_signed_in(person) and not is_signed_in(planted)


def test_a_password_change_ends_every_other_session(app, world):
    here = signed_in(app, world, "member_a")
    elsewhere = signed_in(app, world, "member_a")
    copy = copy_of(app, here)
    other_member = signed_in(app, world, "member_b")
    response = here.post("/account/password", {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert "Every other session of yours has been signed out" in text(here.get("/account"))
    assert is_signed_in(here)  # this session goes on, under a new id
    assert not is_signed_in(elsewhere) and not is_signed_in(copy)
    assert is_signed_in(other_member)
    with db.session_scope(world.url) as session:
        assert authenticate(session, world.emails["member_a"], PASSWORD) is None
        assert authenticate(session, world.emails["member_a"], NEW_PASSWORD) is not None
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "user.password_changed")).one()
    assert Visitor(app).login(world.emails["member_a"], NEW_PASSWORD).status_code == 302


def test_a_password_change_needs_the_current_password(app, world):
    here = signed_in(app, world, "member_a")
    elsewhere = signed_in(app, world, "member_a")
    response = here.post(
        "/account/password", {"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 200 and "Enter your current password correctly" in text(response)
    assert is_signed_in(elsewhere)


def test_signing_out_everywhere_ends_every_session_of_the_person(app, world):
    here = signed_in(app, world, "lead")
    elsewhere = signed_in(app, world, "lead")
    copy = copy_of(app, elsewhere)
    response = here.post("/account/sign-out-everywhere")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "You have signed out everywhere" in text(here.get("/"))
    assert not any(is_signed_in(p) for p in (here, elsewhere, copy))
    assert signed_in(app, world, "lead")  # and they can sign in again


def test_an_admin_signs_a_person_out_everywhere(app, world):
    member = world.user_ids["member_a"]
    sessions = [signed_in(app, world, "member_a") for _ in range(2)]
    copy = copy_of(app, sessions[0])
    bystander = signed_in(app, world, "member_b")
    admin = signed_in(app, world, "admin")
    page = text(admin.get("/admin/users"))
    assert world.emails["member_a"] in page and f"/admin/users/{member}/sign-out-everywhere" in page
    response = admin.post(f"/admin/users/{member}/sign-out-everywhere")
    assert response.status_code == 302
    assert f"{world.emails['member_a']} is signed out everywhere" in text(admin.get("/admin/users"))
    assert not any(is_signed_in(p) for p in (*sessions, copy))
    assert is_signed_in(bystander) and is_signed_in(admin)
    with db.session_scope(world.url) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.sessions_ended")).one()
        assert (event.entity_id, event.actor) == (member, world.emails["admin"])
    assert admin.post("/admin/users/999999/sign-out-everywhere").status_code == 404


def test_a_session_begun_before_its_person_was_signed_out_everywhere_is_not_signed_in(app, world):
    """Even when its stored record is still there (say a request under way wrote it back)."""
    person = signed_in(app, world, "member_a")
    with db.session_scope(world.url) as session:
        session.get(User, world.user_ids["member_a"]).session_generation += 1
    assert not is_signed_in(person)


def test_a_session_ends_when_idle(app, world):
    start = dt.datetime.now(dt.timezone.utc)
    with clock_at(start):
        person = signed_in(app, world, "member_a")
    for minutes in (55, 110, 165):  # each use moves the idle end on: an hour from the last request
        with clock_at(start + dt.timedelta(minutes=minutes)):
            assert is_signed_in(person), minutes
    with clock_at(start + dt.timedelta(minutes=165 + 61)):
        assert not is_signed_in(person)


def test_a_session_ends_at_its_absolute_end_however_it_is_used(app, world):
    start = dt.datetime.now(dt.timezone.utc)
    with clock_at(start):
        person = signed_in(app, world, "member_a")
    for minutes in range(50, 8 * 60, 50):
        with clock_at(start + dt.timedelta(minutes=minutes)):
            assert is_signed_in(person), minutes
            person.token()  # a page with a form: the session is written back
    with clock_at(start + dt.timedelta(hours=8, minutes=1)):
        assert not is_signed_in(person)
    cookie = person.client.get_cookie("session")
    assert cookie is None or cookie.expires <= start + dt.timedelta(hours=8, seconds=1)


def test_ended_sessions_are_deleted_from_the_database(app, world):
    if app.config["SESSION_STORE"] != "database":
        pytest.skip("Redis deletes an ended session itself: its key expires with it")
    start = dt.datetime.now(dt.timezone.utc)
    with clock_at(start):
        signed_in(app, world, "member_a")
    with clock_at(start + dt.timedelta(hours=2)):
        signed_in(app, world, "member_b")
    with db.session_scope(world.url) as session:
        assert session.exec(select(WebSession.user_id)).all() == [world.user_ids["member_b"]]


def test_a_remember_me_cookie_signs_nobody_in(app, world):
    person = signed_in(app, world, "member_a")
    person.logout()
    with app.test_request_context():
        forged = encode_cookie(str(world.user_ids["member_a"]))  # as Flask-Login would have issued it
    for visitor in (person, Visitor(app)):
        visitor.client.set_cookie("remember_token", forged)
        assert not is_signed_in(visitor)

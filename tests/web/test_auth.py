"""Signing in and out, the sign-in and registration rate limits (in memory and in Redis), registering an
applicant organisation, passwords people may choose, and not telling which emails have an account."""

from __future__ import annotations

import html
import re
import statistics
import time

import pytest
from sqlmodel import select

from app import create_app, db
from app.models import AuditEvent, Organisation, User
from app.services import authenticate, create_user
from app.services.accounts import ADVICE, hash_password, password_problem
from app.services.common import CLI, ServiceError
from app.web.auth import NOT_REGISTERED

from .conftest import PASSWORD, Visitor, redis_url, signed_in, text, unique_address


def error_list(response) -> list[tuple[str, str]]:
    """The error summary's entries as (link, text)."""
    body = text(response)
    found = re.search(r'nhsuk-error-summary__list">(.*?)</ul>', body, re.S)
    if not found:
        return []
    return [
        (html.unescape(href), html.unescape(" ".join(words.split())))
        for href, words in re.findall(r'<a href="([^"]*)"\s*>\s*(.*?)\s*</a>', found.group(1), re.S)
    ]


def test_start_page_for_anonymous_visitors(visitor):
    response = visitor.get("/")
    assert response.status_code == 200
    body = text(response)
    assert "Accreditation for NHS provider alliances" in body
    assert 'href="/login"' in body and 'href="/register"' in body


@pytest.mark.parametrize("who, home", [("member_a", "/member/"), ("lead", "/review/"), ("admin", "/admin/")])
def test_sign_in_goes_to_the_role_home(app, world, who, home):
    person = Visitor(app)
    response = person.login(world.emails[who])
    assert response.status_code == 302 and response.headers["Location"] == home
    assert person.get("/").headers["Location"] == home
    assert person.get(home).status_code == 200


def test_sign_in_accepts_the_email_in_any_case(app, world):
    person = Visitor(app)
    response = person.post("/login", {"email": "  " + world.emails["member_a"].upper(), "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "email, password, message, anchor",
    [
        ("", PASSWORD, "Enter your email address", "#email"),
        ("lead.rn7@nhs.test", "", "Enter your password", "#password"),
        ("lead.rn7@nhs.test", "not the password", "Enter a correct email address and password", "#email"),
        ("nobody@nhs.test", PASSWORD, "Enter a correct email address and password", "#email"),
    ],
)
def test_sign_in_errors(visitor, world, email, password, message, anchor):
    response = visitor.post("/login", {"email": email, "password": password})
    assert response.status_code == 200
    assert (anchor, message) in error_list(response)
    assert "<title>Error: Sign in" in text(response)


def test_a_deactivated_user_cannot_sign_in(app, world):
    with db.session_scope(world.url) as session:
        user = session.get(User, world.user_ids["member_b"])
        user.active = False
    response = Visitor(app).login(world.emails["member_b"])
    assert response.status_code == 200
    assert ("#email", "Enter a correct email address and password") in error_list(response)


def test_a_deactivated_user_loses_the_session(app, world):
    person = signed_in(app, world, "member_b")
    with db.session_scope(world.url) as session:
        session.get(User, world.user_ids["member_b"]).active = False
    response = person.get("/member/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_sign_in_returns_to_a_page_on_this_site_only(app, world):
    person = Visitor(app)
    target = f"/member/assessments/{world.assessments['a']}"
    redirected = person.get(target)
    assert redirected.status_code == 302
    assert redirected.headers["Location"] == f"/login?next={target}"
    response = person.post(f"/login?next={target}", {"email": world.emails["member_a"], "password": PASSWORD})
    assert response.headers["Location"] == target
    assert person.get(target).status_code == 200  # signed in there
    for outside in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        other = Visitor(app)
        response = other.post("/login?next=" + outside, {"email": world.emails["member_a"], "password": PASSWORD})
        assert response.headers["Location"] == "/member/", outside


def test_sign_in_starts_a_fresh_session(app, world):
    person = Visitor(app)
    person.get("/login")
    with person.client.session_transaction() as session:
        session["planted"] = "by someone else"
    person.login(world.emails["member_a"])
    with person.client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(world.user_ids["member_a"])


def test_sign_in_is_rate_limited_per_address_and_email(app, world):
    person = Visitor(app)
    email = world.emails["member_a"]
    for _ in range(5):
        assert person.post("/login", {"email": email, "password": "wrong password"}).status_code == 200
    refused = person.post("/login", {"email": email, "password": PASSWORD})
    assert refused.status_code == 429
    assert "Too many attempts" in text(refused) and "Wait a minute" in text(refused)
    # Another account from the same address is not locked out.
    assert person.post("/login", {"email": world.emails["member_b"], "password": PASSWORD}).status_code == 302


def test_successful_sign_ins_do_not_count_towards_the_limit(app, world):
    person = Visitor(app)
    for _ in range(7):
        assert person.login(world.emails["lead"]).status_code == 302
        assert person.logout().status_code == 302


def test_sign_out_needs_a_post_with_a_csrf_token(app, world):
    person = signed_in(app, world, "member_a")
    assert person.get("/logout").status_code == 405
    assert person.post("/logout", csrf=False).status_code == 400
    assert person.get("/member/").status_code == 200  # still signed in
    response = person.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "You have signed out." in text(person.get("/"))
    assert person.get("/member/").status_code == 302


def test_sign_out_form_is_in_the_header_with_a_token(app, world):
    person = signed_in(app, world, "member_a")
    body = text(person.get("/member/"))
    header = body.split("</header>")[0]
    assert 'action="/logout" method="post"' in header and 'name="csrf_token"' in header
    assert "Member A (member)" in header


REGISTRATION = {
    "organisation_name": "Oxleas NHS Foundation Trust",
    "ods_code": "rpg",
    "org_type": "community",
    "region": "South East London",
    "name": "Sam Patel",
    "email": "Sam.Patel@nhs.test",
    "password": "a long enough password",
    "confirm": "a long enough password",
}


def test_register_an_organisation_and_its_first_user(app, world):
    person = Visitor(app)
    page = person.get("/register")
    assert page.status_code == 200
    for label in (
        "Organisation name",
        "ODS code",
        "Type of organisation",
        "Region",
        "Your full name",
        "Email address",
        "Create a password",
        "Confirm your password",
    ):
        assert label in text(page)
    response = person.post("/register", REGISTRATION)
    assert response.status_code == 302 and response.headers["Location"] == "/member/apply"
    with db.session_scope(world.url) as session:
        organisation = session.exec(select(Organisation).where(Organisation.ods_code == "RPG")).one()
        user = session.exec(select(User).where(User.email == "sam.patel@nhs.test")).one()
        assert (organisation.name, organisation.org_type) == ("Oxleas NHS Foundation Trust", "community")
        assert (user.role, user.organisation_id) == ("member", organisation.id)
        assert user.password_hash.startswith("scrypt:") and "a long enough password" not in user.password_hash
        actions = {e.action for e in session.exec(select(AuditEvent).where(AuditEvent.actor == "sam.patel@nhs.test"))}
        assert {"organisation.registered", "user.created"} <= actions
    assert "Your organisation is registered" in text(person.get("/member/apply"))
    assert "Oxleas NHS Foundation Trust" in text(person.get("/member/"))


@pytest.mark.parametrize(
    "changes, anchor, message",
    [
        ({"organisation_name": ""}, "#organisation_name", "Enter the organisation's name"),
        ({"organisation_name": "x" * 201}, "#organisation_name", "Use 200 characters or fewer"),
        ({"ods_code": ""}, "#ods_code", "Enter the organisation's ODS code"),
        ({"ods_code": "R!"}, "#ods_code", "Enter an ODS code of 3 to 10 letters or digits, like RRJ"),
        ({"org_type": ""}, "#org_type", "Choose the type of organisation"),
        ({"org_type": "spaceship"}, "#org_type", "Choose a type of organisation from the list"),
        ({"region": ""}, "#region", "Enter the region"),
        ({"region": "r" * 101}, "#region", "Use 100 characters or fewer"),
        ({"name": ""}, "#name", "Enter your full name"),
        ({"name": "n" * 201}, "#name", "Use 200 characters or fewer"),
        ({"email": ""}, "#email", "Enter your email address"),
        ({"email": "a" * 250 + "@nhs.test"}, "#email", "Use 254 characters or fewer"),
        ({"email": "not-an-email"}, "#email", "Enter an email address in the correct format, like name@nhs.net"),
        ({"password": "short", "confirm": "short"}, "#password", "Use at least 12 characters for your password"),
        ({"password": ""}, "#password", "Enter a password"),
        ({"confirm": ""}, "#confirm", "Enter your password again"),
        ({"confirm": "a different password"}, "#confirm", "The passwords do not match"),
        ({"ods_code": "RN7"}, "#ods_code", "An organisation with code RN7 is already registered"),
    ],
)
def test_register_errors(app, world, changes, anchor, message):
    person = Visitor(app)
    response = person.post("/register", {**REGISTRATION, **changes})
    assert response.status_code == 200
    assert (anchor, message) in error_list(response)
    body = html.unescape(text(response))
    assert 'class="nhsuk-error-message"' in body and message in body.split("nhsuk-error-summary__list")[1]
    with db.session_scope(world.url) as session:
        assert session.exec(select(Organisation).where(Organisation.ods_code == "RPG")).first() is None


def test_register_keeps_what_was_typed_but_not_the_password(app, world):
    response = Visitor(app).post("/register", {**REGISTRATION, "confirm": "mismatch here!"})
    body = text(response)
    assert 'value="Oxleas NHS Foundation Trust"' in body
    assert "a long enough password" not in body


def test_a_signed_in_user_is_sent_home_from_register(app, world):
    person = signed_in(app, world, "member_a")
    assert person.get("/register").headers["Location"] == "/member/"


def test_registering_with_an_email_that_has_an_account_does_not_say_so(app, world):
    response = Visitor(app).post("/register", {**REGISTRATION, "email": world.emails["member_a"].upper()})
    assert response.status_code == 200
    assert error_list(response) == [("#organisation_name", NOT_REGISTERED)]
    assert "already has an account" not in html.unescape(text(response))
    assert 'class="nhsuk-error-message"' not in text(response)  # no field, the email's least of all, is blamed
    with db.session_scope(world.url) as session:
        assert session.exec(select(Organisation).where(Organisation.ods_code == "RPG")).first() is None


def test_sign_in_takes_as_long_for_an_email_without_an_account(world):
    """A password hash is checked whether or not the email has an account (medians of interleaved tries)."""
    with db.session_scope(world.url) as session:  # the application's own hashes, not the fixtures' cheap ones
        for name in ("member_a", "member_b"):
            session.get(User, world.user_ids[name]).password_hash = hash_password(PASSWORD)
        session.get(User, world.user_ids["member_b"]).active = False

    def seconds(email: str) -> float:
        started = time.perf_counter()
        with db.session_scope(world.url) as session:
            assert authenticate(session, email, "not the password at all") is None
        return time.perf_counter() - started

    seconds("nobody@nhs.test")  # the first try makes the hash checked for unknown emails
    tries: dict[str, list[float]] = {"known": [], "unknown": [], "deactivated": []}
    for _ in range(5):
        tries["known"].append(seconds(world.emails["member_a"]))
        tries["unknown"].append(seconds("nobody@nhs.test"))
        tries["deactivated"].append(seconds(world.emails["member_b"]))
    known = statistics.median(tries["known"])
    for other in ("unknown", "deactivated"):
        assert 1 / 3 < statistics.median(tries[other]) / known < 3, tries


# --- rate limits, counted in memory (one process) and in Redis (shared by every gunicorn worker) --------------


@pytest.fixture(params=["memory", "redis"])
def limited(request, database_url, world, tmp_path):
    """The app with its limits counted in memory or in the real Redis server, and a visitor from an address of
    its own (counts in Redis outlive the test)."""
    storage = "memory://" if request.param == "memory" else redis_url()
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "RATELIMIT_STORAGE_URI": storage,
        }
    )
    return app, from_address(app, unique_address())


def from_address(app, address: str) -> Visitor:
    person = Visitor(app)
    person.client.environ_base["REMOTE_ADDR"] = address
    return person


def test_sign_in_is_limited_per_address_and_email_in_each_storage(limited, world):
    app, person = limited
    for _ in range(5):
        assert (
            person.post("/login", {"email": world.emails["member_a"], "password": "wrong password"}).status_code == 200
        )
    assert person.post("/login", {"email": world.emails["member_a"], "password": PASSWORD}).status_code == 429
    assert person.post("/login", {"email": world.emails["member_b"], "password": PASSWORD}).status_code == 302


def test_one_address_is_limited_across_every_email(limited, world):
    app, person = limited
    for n in range(10):
        response = person.post("/login", {"email": f"guess.{n}@nhs.test", "password": "wrong password"})
        assert response.status_code == 200, n
    refused = person.post("/login", {"email": world.emails["member_a"], "password": PASSWORD})
    assert refused.status_code == 429 and "Too many attempts" in text(refused)
    assert from_address(app, unique_address()).login(world.emails["member_a"]).status_code == 302


def test_registration_is_limited_per_address(limited, world):
    app, person = limited
    for n in range(10):
        response = person.post("/register", {**REGISTRATION, "ods_code": f"RX{n}", "confirm": "not the same"})
        assert response.status_code == 200, n
    assert person.post("/register", REGISTRATION).status_code == 429
    assert from_address(app, unique_address()).post("/register", REGISTRATION).status_code == 302


def test_production_says_so_when_limits_are_counted_in_memory(database_url, tmp_path, caplog):
    create_app(
        {
            "APP_ENV": "production",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "s" * 32,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    assert "rate limits are counted in memory, in this process only" in caplog.text
    caplog.clear()
    create_app(
        {
            "APP_ENV": "production",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "s" * 32,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "RATELIMIT_STORAGE_URI": redis_url(),
        }
    )
    assert "rate limits are counted in memory" not in caplog.text


# --- passwords ---------------------------------------------------------------------------------------------------

WEAK = [
    ("aaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess. ' + ADVICE),
    ("sam.patel@nhs.test", "Do not use your email address in your password"),
    ("Password1234", "This is similar to a commonly used password. " + ADVICE),
    ("qwertyuiop123", "This is a very common password. " + ADVICE),
    ("abcdefghijkl", 'Sequences like "abc" or "6543" are easy to guess. ' + ADVICE),
    ("oxleas123456", ADVICE),  # the organisation's name and digits
]


@pytest.mark.parametrize("password, message", WEAK)
def test_registration_refuses_a_password_that_is_easy_to_guess(app, world, password, message):
    response = Visitor(app).post("/register", {**REGISTRATION, "password": password, "confirm": password})
    assert response.status_code == 200
    assert error_list(response) == [("#password", message)]
    with db.session_scope(world.url) as session:
        assert session.exec(select(Organisation).where(Organisation.ods_code == "RPG")).first() is None


def test_a_new_password_must_be_hard_to_guess_too(app, world):
    person = signed_in(app, world, "member_a")
    response = person.post(
        "/account/password", {"current": PASSWORD, "password": "qwerty123456", "confirm": "qwerty123456"}
    )
    assert response.status_code == 200 and ADVICE in html.unescape(text(response))
    response = person.post("/account/password", {"current": PASSWORD, "password": PASSWORD, "confirm": PASSWORD})
    assert "Choose a password different from your current one" in text(response)
    with db.session_scope(world.url) as session:
        assert authenticate(session, world.emails["member_a"], PASSWORD) is not None


def test_every_way_of_making_an_account_refuses_a_weak_password(session_factory, world):
    with session_factory() as session, pytest.raises(ServiceError, match="password: Repeats like"):
        create_user(
            session,
            CLI,
            email="new.lead@nhs.test",
            name="New Lead",
            password="zzzzzzzzzzzzzz",
            role="lead",
            alliance_id=world.alliance_id,
        )
    assert password_problem("x" * 11) == "Use at least 12 characters for your password"
    assert password_problem("a long enough password", email="a.long@nhs.test") is None
    assert password_problem("correct horse battery staple " * 6) is None  # long ones are read in part
    assert password_problem("a" * 201) == "Use 200 characters or fewer for your password"

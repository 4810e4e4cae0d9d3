"""Two-step verification through the test client: signing in with and without it, the half-signed-in session
(which reaches no protected page), leads and admins signed in to the set-up page only until they set it up,
the account page's section, rate limits and locking, and an admin's reset.

These tests switch the requirement on (``MFA_REQUIRED_ROLES``: leads and admins, as in production); the
tests' configuration otherwise requires it of nobody, so other tests sign in leads and admins with a password.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from sqlmodel import select

from app import create_app, db
from app.models import AuditEvent, MfaFactor
from app.services import mfa
from app.web.two_step import PENDING

from .conftest import Visitor, World, text

SECRET = re.compile(r'id="mfa-secret">([A-Z2-7 ]+)<')
CODES = re.compile(r"<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code></li>")


def make_app(database_url: str, tmp_path: Path, **settings):
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "MFA_REQUIRED_ROLES": ("lead", "admin"),
            **settings,
        }
    )


@pytest.fixture
def app(database_url: str, world: World, tmp_path: Path):
    return make_app(database_url, tmp_path)


def enrol(app, world: World, who: str) -> tuple[pyotp.TOTP, list[str]]:
    """Set up two-step verification for someone through the service, as if done earlier."""
    policy = app.extensions["mfa_policy"]
    user_id = world.user_ids[who]
    with db.session_scope(world.url) as session:
        secret = mfa.enrolment(session, world.actor(who), user_id, policy).secret
    totp = pyotp.TOTP(secret)
    totp.enrolled_with = totp.now()  # the code that confirmed it: never accepted again
    with db.session_scope(world.url) as session:
        codes = mfa.confirm_enrolment(session, world.actor(who), user_id, totp.enrolled_with, policy)
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """A code not yet used: the next time step's (accepted within the window), so no test waits 30 seconds."""
    return totp.at(time.time() + 30)


def test_a_member_without_two_step_verification_signs_in_with_a_password(app, world):
    person = Visitor(app)
    response = person.login(world.emails["member_a"])
    assert response.headers["Location"] == "/member/"
    assert person.get("/member/").status_code == 200
    page = text(person.get("/account"))
    assert "Two-step verification" in page and "Set up two-step verification" in page


def test_a_member_with_it_is_half_signed_in_until_the_code(app, world):
    totp, _ = enrol(app, world, "member_a")
    person = Visitor(app)
    response = person.post(
        "/login?next=/account", {"email": world.emails["member_a"], "password": "correct horse battery staple"}
    )
    assert response.headers["Location"] == "/auth/mfa"
    person._token = None  # a new session: a new CSRF token
    # Half signed in: nothing protected opens, and nobody is signed in on the server's record of the session.
    for path in ("/member/", "/account", "/api/"):
        assert person.get(path).status_code in (302, 401), path
    assert person.get("/member/").headers["Location"].startswith("/login")
    with person.client.session_transaction() as session:
        assert "_user_id" not in session and session[PENDING]["user"] == world.user_ids["member_a"]
    page = person.get("/auth/mfa")
    assert page.status_code == 200 and "Enter your security code" in text(page)
    wrong = person.post("/auth/mfa", {"code": "000000"})
    assert wrong.status_code == 200 and "The code is not correct" in text(wrong)
    assert person.get("/member/").status_code == 302
    reused = person.post("/auth/mfa", {"code": totp.enrolled_with})
    assert reused.status_code == 200 and "has been used already" in text(reused)
    right = person.post("/auth/mfa", {"code": next_code(totp)})
    assert right.headers["Location"] == "/account"  # where they were going
    person._token = None
    assert person.get("/member/").status_code == 200
    with person.client.session_transaction() as session:
        assert PENDING not in session and session["_user_id"] == str(world.user_ids["member_a"])


def test_a_recovery_code_signs_in_once(app, world):
    _, codes = enrol(app, world, "member_a")
    person = Visitor(app)
    person.login(world.emails["member_a"])
    used = person.post("/auth/mfa", {"code": codes[3]}, follow_redirects=True)
    assert "You signed in with a recovery code" in text(used) and "You have 9" in text(used)
    person.logout()
    person.login(world.emails["member_a"])
    again = person.post("/auth/mfa", {"code": codes[3]})
    assert again.status_code == 200 and "has been used already" in text(again)
    with db.session_scope(world.url) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.recovery_code_used")).all()


def test_the_half_signed_in_state_runs_out(app, world):
    enrol(app, world, "member_a")
    person = Visitor(app)
    person.login(world.emails["member_a"])
    with person.client.session_transaction() as session:
        session[PENDING] = {**session[PENDING], "until": time.time() - 1}
    response = person.get("/auth/mfa")
    assert response.headers["Location"] == "/login"
    assert person.post("/auth/mfa", {"code": "123456"}).headers["Location"] == "/login"


def test_nobody_half_signed_in_gets_the_second_step(app, world):
    assert Visitor(app).get("/auth/mfa").headers["Location"] == "/login"


def test_a_lead_is_signed_in_to_the_set_up_page_only_until_set_up(app, world):
    person = Visitor(app)
    response = person.login(world.emails["lead"])
    assert response.headers["Location"] == "/account/two-step"
    for path in ("/review/", "/account", "/review/dashboard", "/admin/"):
        blocked = person.get(path)
        assert blocked.status_code == 302 and blocked.headers["Location"] == "/account/two-step", path
    assert person.get("/api/").status_code == 403
    assert person.post("/account/sign-out-everywhere").headers["Location"] == "/account/two-step"
    page = text(person.get("/account/two-step"))
    assert "Two-step verification is required for your role" in page and "<svg" in page
    secret = SECRET.search(page).group(1).replace(" ", "")
    refused = person.post("/account/two-step", {"code": "000000"})
    assert refused.status_code == 200 and "Enter the 6-digit code" in text(refused)
    done = person.post("/account/two-step", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and "Two-step verification is on" in text(done)
    assert len(CODES.findall(text(done))) == 10
    assert person.get("/review/").status_code == 200  # every page opens again
    with db.session_scope(world.url) as session:
        stored = session.get(MfaFactor, world.user_ids["lead"])
        assert stored.confirmed_at is not None and secret not in stored.secret_encrypted
    # Next time: the second step.
    person.logout()
    assert person.login(world.emails["lead"]).headers["Location"] == "/auth/mfa"


def test_a_lead_set_up_elsewhere_is_sent_on_and_can_sign_out_from_the_set_up_page(app, world):
    person = Visitor(app)
    person.login(world.emails["lead"])
    assert person.logout().headers["Location"] == "/"
    assert person.get("/review/").status_code == 302 and person.get("/review/").headers["Location"].startswith("/login")


def test_single_sign_on_that_asserted_a_second_factor_skips_the_step(app, world):
    from app.models import User
    from app.web.two_step import finish_sign_in

    with db.session_scope(world.url) as session:
        lead = session.get(User, world.user_ids["lead"])
    with app.test_request_context("/"):
        assert finish_sign_in(lead, mfa_asserted=True) == "/review/"
    with app.test_request_context("/"):
        assert finish_sign_in(lead, mfa_asserted=False) == "/account/two-step"
    enrol(app, world, "lead")
    with app.test_request_context("/"):
        assert finish_sign_in(lead, mfa_asserted=False) == "/auth/mfa"
    with app.test_request_context("/"):
        assert finish_sign_in(lead, mfa_asserted=True, next_url="/review/dashboard") == "/review/dashboard"


def test_wrong_codes_are_rate_limited(database_url, world, tmp_path):
    app = make_app(database_url, tmp_path, MFA_RATE_LIMIT="3 per minute", MFA_MAX_FAILURES=50)
    totp, _ = enrol(app, world, "member_a")
    person = Visitor(app)
    person.login(world.emails["member_a"])
    for _ in range(3):
        assert person.post("/auth/mfa", {"code": "000000"}).status_code == 200
    refused = person.post("/auth/mfa", {"code": next_code(totp)})
    assert refused.status_code == 429 and "Too many attempts" in text(refused)
    # Counted per person: another person from the same address is not held up.
    enrol(app, world, "member_b")
    other = Visitor(app)
    other.login(world.emails["member_b"])
    assert other.post("/auth/mfa", {"code": "000000"}).status_code == 200


def test_a_right_code_does_not_count_towards_the_limit(database_url, world, tmp_path):
    app = make_app(database_url, tmp_path, MFA_RATE_LIMIT="2 per minute")
    totp, _ = enrol(app, world, "member_a")
    person = Visitor(app)
    person.login(world.emails["member_a"])
    assert person.post("/auth/mfa", {"code": "000000"}).status_code == 200
    assert person.post("/auth/mfa", {"code": next_code(totp)}).status_code == 302


def test_wrong_codes_in_a_row_lock_the_second_step(database_url, world, tmp_path):
    app = make_app(database_url, tmp_path, MFA_MAX_FAILURES=3)
    totp, _ = enrol(app, world, "member_a")
    person = Visitor(app)
    person.login(world.emails["member_a"])
    for _ in range(2):
        assert "The code is not correct" in text(person.post("/auth/mfa", {"code": "000000"}))
    locked = person.post("/auth/mfa", {"code": "000000"})
    assert "Too many wrong codes. Try again in 15 minutes" in text(locked)
    still = person.post("/auth/mfa", {"code": next_code(totp)})
    assert still.status_code == 200 and "Too many wrong codes" in text(still)
    with db.session_scope(world.url) as session:
        assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.locked")).all()) == 1


def test_a_member_makes_new_recovery_codes_and_turns_it_off(app, world):
    totp, old = enrol(app, world, "member_a")
    person = Visitor(app)
    person.login(world.emails["member_a"])
    person.post("/auth/mfa", {"code": next_code(totp)})
    person._token = None
    page = text(person.get("/account"))
    assert "You have 10 unused recovery codes" in page and "Turn off two-step verification" in page
    refused = person.post("/account/two-step/recovery-codes", {"code": "12"})
    assert refused.status_code == 200 and 'href="#regenerate-code"' in text(refused)
    made = person.post("/account/two-step/recovery-codes", {"code": old[0]})
    new = CODES.findall(text(made))
    assert len(new) == 10 and set(new).isdisjoint(old)
    assert person.post("/account/two-step/turn-off", {"code": "000000"}).status_code == 200
    off = person.post("/account/two-step/turn-off", {"code": new[0]})
    assert off.headers["Location"] == "/account"
    person.logout()
    assert person.login(world.emails["member_a"]).headers["Location"] == "/member/"


def test_a_lead_cannot_turn_it_off(app, world):
    totp, codes = enrol(app, world, "lead")
    person = Visitor(app)
    person.login(world.emails["lead"])
    person.post("/auth/mfa", {"code": next_code(totp)})
    person._token = None
    page = text(person.get("/account"))
    assert "cannot be turned off" in page and "/account/two-step/turn-off" not in page
    assert person.post("/account/two-step/turn-off", {"code": codes[0]}).status_code == 403


def test_an_admin_resets_a_leads_two_step_verification(app, world):
    enrol(app, world, "lead")
    admin_totp, _ = enrol(app, world, "admin")
    lead = Visitor(app)
    lead.login(world.emails["lead"])
    admin = Visitor(app)
    admin.login(world.emails["admin"])
    admin.post("/auth/mfa", {"code": next_code(admin_totp)})
    admin._token = None
    people = text(admin.get("/admin/users"))
    assert f"Reset two-step verification of {world.emails['lead']}" in people
    assert f"Reset two-step verification of {world.emails['admin']}" not in people  # not one's own
    response = admin.post(f"/admin/users/{world.user_ids['lead']}/two-step-reset", follow_redirects=True)
    assert "is reset" in text(response)
    # The lead's half-signed-in session is over, and they set it up again at their next sign-in.
    assert lead.post("/auth/mfa", {"code": "123456"}).headers["Location"] == "/login"
    fresh = Visitor(app)
    assert fresh.login(world.emails["lead"]).headers["Location"] == "/account/two-step"
    with db.session_scope(world.url) as session:
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.reset")).one().actor
            == world.emails["admin"]
        )


def test_every_two_step_form_needs_a_csrf_token(app, world):
    totp, _ = enrol(app, world, "member_a")
    person = Visitor(app)
    person.login(world.emails["member_a"])
    assert person.post("/auth/mfa", {"code": totp.now()}, csrf=False).status_code == 400
    person.post("/auth/mfa", {"code": next_code(totp)})
    person._token = None
    for path in ("/account/two-step", "/account/two-step/recovery-codes", "/account/two-step/turn-off"):
        assert person.post(path, {"code": "000000"}, csrf=False).status_code == 400, path


def test_a_lead_signed_in_to_the_set_up_page_reaches_no_other_signed_in_route(app, world):
    """Every route that needs a role, read or written, sends the lead back to the set-up page."""
    from app.web.two_step import ENROL_ENDPOINTS

    person = Visitor(app)
    person.login(world.emails["lead"])
    reached = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint in ENROL_ENDPOINTS or getattr(view, "access", ("public",))[0] in ("public", "token"):
            continue
        values = {name: sorted(getattr(rule._converters[name], "items", None) or ["1"])[0] for name in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = person.get(path) if method == "GET" else person.post(path, {})
            if response.status_code != 302 or response.headers["Location"] != "/account/two-step":
                if not (rule.endpoint.startswith("api.") and response.status_code == 403):
                    reached[(method, path)] = response.status_code
    assert reached == {}


def test_the_settings_require_it_of_leads_and_admins_in_production():
    from app import config as app_config

    production = {"APP_ENV": "production", "SECRET_KEY": "k" * 32}
    assert app_config.load(production, environ={})["MFA_REQUIRED_ROLES"] == {"lead", "admin"}
    assert app_config.load({"APP_ENV": "development"}, environ={})["MFA_REQUIRED_ROLES"] == {"lead", "admin"}
    assert app_config.load({"APP_ENV": "testing"}, environ={})["MFA_REQUIRED_ROLES"] == frozenset()
    everyone = app_config.load(production, environ={"MFA_REQUIRED_ROLES": "member, lead,admin"})
    assert everyone["MFA_REQUIRED_ROLES"] == {"member", "lead", "admin"}
    with pytest.raises(app_config.ConfigError, match="leads and admins must always use two-step verification"):
        app_config.load(production, environ={"MFA_REQUIRED_ROLES": ""})
    with pytest.raises(app_config.ConfigError, match="MFA_REQUIRED_ROLES: roles are member, lead, admin; got boss"):
        app_config.load({"APP_ENV": "testing"}, environ={"MFA_REQUIRED_ROLES": "boss"})
    with pytest.raises(app_config.ConfigError, match="MFA_RATE_LIMIT: expected a rate"):
        app_config.load({"APP_ENV": "testing"}, environ={"MFA_RATE_LIMIT": "often"})

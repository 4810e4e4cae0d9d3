"""Invitations and password resets through the pages (Flask's test client), with each email read from a real
SMTP server (tests/mail/conftest.py) and its link followed as the person would: an organisation's first user
invites a colleague, who sets a password and is signed in; the lists, resend and withdraw; a lead's invitee is
sent to set up two-step verification; "Forgot your password?" answers the same for any email, sends only to
an account, and its link sets a new password once, ending every session; requests are rate limited."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app import create_app, db
from app.jobs import queue
from app.models import AuditEvent, Invitation, User
from tests.mail.conftest import BASE_URL, MAIL_FROM, SmtpServer, parts
from tests.web.conftest import PASSWORD, Visitor, signed_in, text, unique_address

NEW_PASSWORD = "plum heron quietly sketches"
COLLEAGUE = "new.colleague@nhs.test"
LINK = re.compile(re.escape(BASE_URL) + r"(/(?:invitation|reset-password)/[A-Za-z0-9_-]+)")


def app_mailing_to(database_url: str, smtp: SmtpServer, tmp_path, **settings: str):  # noqa: ANN001, ANN201
    """The application sending its mail, as it happens, to the test's SMTP server."""
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "MAIL_URL": smtp.url,
            "MAIL_FROM": MAIL_FROM,
            "BASE_URL": BASE_URL,
            "RESET_RATE_LIMIT": "3 per hour",
            "RESET_ADDRESS_RATE_LIMIT": "5 per hour",
            **settings,
        }
    )


@pytest.fixture
def mail_app(database_url, world, smtp: SmtpServer, tmp_path):
    yield app_mailing_to(database_url, smtp, tmp_path)
    queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def link_in(message) -> str:  # noqa: ANN001
    """The path of the one link in the email (both parts carry it)."""
    plain, html = parts(message)
    [path] = set(LINK.findall(plain))
    assert f'href="{BASE_URL}{path}"' in html
    return path


def same_page(html: str) -> str:
    """A page without what differs on every response (CSP nonces, form tokens)."""
    return re.sub(r'(nonce|value)="[^"]*"', "", html)


def invite(person: Visitor, email: str, place: str | None = None):  # noqa: ANN201
    data = {"email": email, "team-contributor": "y"} | ({"place": place} if place else {})
    return person.post("/people/invite", data)


def test_a_first_user_invites_a_colleague_who_sets_a_password_and_is_signed_in(mail_app, world, smtp) -> None:
    first = signed_in(mail_app, world, "member_a")
    form = text(first.get("/people/invite"))
    assert "Invite a colleague" in form and "member user of Dartford and Gravesham NHS Trust" in form
    response = invite(first, COLLEAGUE, f"member:{world.organisations['a']}")
    assert response.status_code == 302, text(response)[:3000]
    page = text(first.get("/people/"))
    assert f"An invitation is on its way to {COLLEAGUE}" in page and "People in Dartford" in page
    assert COLLEAGUE in page and "(first user)" in page

    [message] = smtp.wait_for(1)
    assert message["To"] == COLLEAGUE and "You are invited to join" in message["Subject"]
    plain, html = parts(message)
    assert "Member A has invited you" in plain and "/account/email" not in plain + html  # no settings: no account
    path = link_in(message)

    colleague = Visitor(mail_app)
    page = text(colleague.get(path))
    assert "Accept your invitation" in page and COLLEAGUE in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    weak = colleague.client.post(
        path, data={"csrf_token": token, "name": "New Colleague", "password": "password1234", "confirm": "password1234"}
    )
    assert weak.status_code == 200 and "harder to guess" in text(weak)
    done = colleague.client.post(
        path, data={"csrf_token": token, "name": "New Colleague", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/member/"
    assert "Welcome: your account is ready." in text(colleague.get("/member/"))
    with db.session_scope(world.url) as session:
        [created] = session.exec(select(User).where(User.email == COLLEAGUE)).all()
        assert (created.role, created.organisation_id) == ("member", world.organisations["a"])
        actions = {e.action for e in session.exec(select(AuditEvent))}
        assert {"invitation.created", "invitation.accepted", "user.created"} <= actions
    # The link works once.
    again = Visitor(mail_app).get(path)
    assert again.status_code == 404 and "has been used already" in text(again)
    # The colleague is a contributor, not an organisation admin: they see the people, not the invite form.
    assert colleague.get("/people/invite").status_code == 403
    assert "organisation admins invite colleagues" in text(colleague.get("/people/"))


def test_an_email_with_an_account_is_refused_clearly_and_nothing_is_sent(mail_app, world, smtp) -> None:
    first = signed_in(mail_app, world, "member_a")
    refused = invite(first, world.emails["member_b"])
    assert refused.status_code == 200
    assert f"An account with {world.emails['member_b']} exists already" in text(refused)
    assert smtp.messages == []
    with db.session_scope(world.url) as session:
        assert session.exec(select(Invitation)).all() == []
        assert len(session.exec(select(User).where(User.email == world.emails["member_b"])).all()) == 1


def test_resend_sends_a_new_link_and_withdraw_stops_it(mail_app, world, smtp) -> None:
    lead = signed_in(mail_app, world, "lead")
    assert invite(lead, COLLEAGUE, f"member:{world.organisations['b']}").status_code == 302
    [first] = smtp.wait_for(1)
    with db.session_scope(world.url) as session:
        ident = session.exec(select(Invitation)).one().id
    assert COLLEAGUE in text(signed_in(mail_app, world, "member_b").get("/people/"))  # B's first user sees it
    assert COLLEAGUE not in text(signed_in(mail_app, world, "member_a").get("/people/"))  # A does not
    assert lead.post(f"/people/invitations/{ident}/resend").status_code == 302
    second = smtp.wait_for(2)[1]
    old, new = link_in(first), link_in(second)
    assert old != new and Visitor(mail_app).get(old).status_code == 404
    assert Visitor(mail_app).get(new).status_code == 200
    assert signed_in(mail_app, world, "member_a").post(f"/people/invitations/{ident}/revoke").status_code == 404
    assert lead.post(f"/people/invitations/{ident}/revoke").status_code == 302
    assert "is withdrawn" in text(lead.get("/people/"))
    gone = Visitor(mail_app).get(new)
    assert gone.status_code == 404 and "withdrawn" in text(gone)


def test_an_invited_lead_is_sent_to_set_up_two_step_verification(mail_app, world, smtp, tmp_path) -> None:
    lead = signed_in(mail_app, world, "lead")
    assert invite(lead, "second.lead@alliance.test", f"lead:{world.alliance_id}").status_code == 302
    path = link_in(smtp.wait_for(1)[0])
    newcomer = Visitor(app_mailing_to(world.url, smtp, tmp_path, MFA_REQUIRED_ROLES="lead,admin"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', text(newcomer.get(path))).group(1)
    done = newcomer.client.post(
        path, data={"csrf_token": token, "name": "Second Lead", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/account/two-step"


def ask_reset(person: Visitor, email: str):  # noqa: ANN201
    return person.post("/forgot-password", {"email": email})


def test_forgot_password_looks_the_same_for_any_email_and_sends_only_to_an_account(mail_app, world, smtp) -> None:
    login = text(Visitor(mail_app).get("/login"))
    assert 'href="/forgot-password"' in login and "Forgot your password?" in login
    person = Visitor(mail_app)
    unknown = ask_reset(person, "nobody@nhs.test")
    known = ask_reset(person, world.emails["member_a"])
    assert unknown.status_code == known.status_code == 200
    assert same_page(text(unknown)) == same_page(text(known)) and "Check your email" in text(known)
    [message] = smtp.wait_for(1)
    assert message["To"] == world.emails["member_a"] and "Reset your password" in message["Subject"]
    assert smtp.to("nobody@nhs.test") == []
    with db.session_scope(world.url) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "password_reset.requested")).all()
        assert [e.entity_id for e in events] == [world.user_ids["member_a"]]


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(mail_app, world, smtp) -> None:
    elsewhere = signed_in(mail_app, world, "member_a")  # a session on another device
    assert elsewhere.get("/member/").status_code == 200
    ask_reset(Visitor(mail_app), world.emails["member_a"])
    path = link_in(smtp.wait_for(1)[0])
    person = Visitor(mail_app)
    page = text(person.get(path))
    assert "Choose a new password" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    weak = person.client.post(path, data={"csrf_token": token, "password": "aaaaaaaaaaaa", "confirm": "aaaaaaaaaaaa"})
    assert weak.status_code == 200 and "nhsuk-error-message" in text(weak)
    done = person.client.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert "Your password is reset" in text(person.get("/login"))
    assert elsewhere.get("/member/").status_code == 302  # signed out everywhere
    assert Visitor(mail_app).login(world.emails["member_a"], PASSWORD).status_code == 200  # the old one: refused
    assert Visitor(mail_app).login(world.emails["member_a"], NEW_PASSWORD).status_code == 302
    used = Visitor(mail_app).get(path)
    assert used.status_code == 404 and "has been used already" in text(used)
    with db.session_scope(world.url) as session:
        actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.entity_type == "user"))]
        assert actions[-2:] == ["user.sessions_ended", "user.password_reset"]


def test_reset_requests_are_limited_per_email_and_per_address(mail_app, world, smtp) -> None:
    person = Visitor(mail_app)
    person.client.environ_base["REMOTE_ADDR"] = unique_address()
    for _ in range(3):
        assert ask_reset(person, "nobody@nhs.test").status_code == 200
    assert ask_reset(person, "nobody@nhs.test").status_code == 429  # per email, known or not
    other = Visitor(mail_app)
    other.client.environ_base["REMOTE_ADDR"] = unique_address()
    assert ask_reset(other, "Nobody@nhs.test ").status_code == 429  # the same email from elsewhere
    assert ask_reset(person, "someone.else@nhs.test").status_code == 200
    assert ask_reset(person, "third@nhs.test").status_code == 200
    assert ask_reset(person, "fourth@nhs.test").status_code == 429  # 5 per address
    assert ask_reset(person, "not an email").status_code == 429

"""An organisation's first user invites a colleague in a real browser (headless Chromium through Playwright),
with the mail delivered by the served application to a real SMTP server started by the test: the colleague
opens the link from the email, chooses a password and lands signed in; later they forget it, reset it from
the emailed link, and sign in with the new one."""

from __future__ import annotations

import re

import pytest

from tests.mail.conftest import SmtpServer, free_port

from .conftest import ARTIFACTS, PASSWORD, browser_app, build_world, served

COLLEAGUE = "new.colleague@nhs.test"
FIRST_PASSWORD = "plum heron quietly sketches"
NEW_PASSWORD = "amber lantern drifts northward"


@pytest.fixture
def live_app(database_url, tmp_path):
    world = build_world(database_url)
    smtp = SmtpServer(free_port())
    smtp.start()
    app = browser_app(
        database_url,
        tmp_path,
        JOBS_URL="immediate",
        MAIL_URL=smtp.url,
        MAIL_FROM="Alliance accreditation <noreply@alliance.example.nhs.uk>",
        BASE_URL="http://127.0.0.1",
    )
    try:
        with served(app) as base:
            app.config["BASE_URL"] = base  # the emails link to the served application itself
            yield base, world, smtp
    finally:
        smtp.stop()


def link_in(smtp: SmtpServer, count: int, base: str) -> str:
    """The link in the ``count``-th email received, read from its plain text part."""
    message = smtp.wait_for(count)[count - 1]
    assert message["To"] == COLLEAGUE
    body = message.get_body(preferencelist=("plain",)).get_content()
    [link] = re.findall(re.escape(base) + r"/(?:invitation|reset-password)/[A-Za-z0-9_-]+", body)
    return link


def sign_in(page, base: str, email: str, password: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_first_user_invites_a_colleague_who_later_resets_their_password(live_app, page) -> None:
    base, world, smtp = live_app

    sign_in(page, base, world.emails["member_a"], PASSWORD)
    page.wait_for_url(f"{base}/member/")
    page.get_by_role("link", name="People", exact=True).click()
    page.wait_for_url(f"{base}/people/")
    page.get_by_role("link", name="Invite a colleague").click()
    page.get_by_label("Their email address").fill(COLLEAGUE)
    page.get_by_role("button", name="Send the invitation").click()
    page.wait_for_url(f"{base}/people/")
    assert f"An invitation is on its way to {COLLEAGUE}" in page.locator("main").inner_text()
    assert COLLEAGUE in page.locator("#invitations").inner_text()
    page.screenshot(path=str(ARTIFACTS / "invite-00-sent.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")

    # The colleague opens the link in the email, chooses a password and is signed in.
    page.goto(link_in(smtp, 1, base))
    assert page.locator("h1").inner_text() == "Accept your invitation"
    assert page.locator("#invited-email").inner_text() == COLLEAGUE
    page.get_by_label("Your full name").fill("New Colleague")
    page.get_by_label("Choose a password").fill(FIRST_PASSWORD)
    page.get_by_label("Confirm your password").fill(FIRST_PASSWORD)
    page.screenshot(path=str(ARTIFACTS / "invite-01-accept.png"), full_page=True)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{base}/member/")
    assert "Welcome: your account is ready." in page.locator("main").inner_text()
    assert "New Colleague" in page.locator("header").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")

    # Later, the password is forgotten: a reset link by email, a new password, and signing in with it.
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(COLLEAGUE)
    page.get_by_role("button", name="Email me a reset link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(link_in(smtp, 2, base))
    assert page.locator("h1").inner_text() == "Choose a new password"
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Confirm your password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my new password").click()
    page.wait_for_url(f"{base}/login")
    assert "Your password is reset" in page.locator("main").inner_text()
    page.get_by_label("Email address").fill(COLLEAGUE)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/member/")
    page.screenshot(path=str(ARTIFACTS / "invite-02-signed-in-after-reset.png"), full_page=True)
    assert page.problems == []

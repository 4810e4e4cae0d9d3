"""A lead sets up two-step verification in a real browser (headless Chromium through Playwright): signed in
to the set-up page only, they read the secret from the page as they would type it into an app, confirm with
the code pyotp computes from it, keep their recovery codes, and sign in again with a code."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from .conftest import ARTIFACTS, PASSWORD, browser_app, build_world, served


@pytest.fixture
def live_app(database_url, tmp_path):
    world = build_world(database_url)
    app = browser_app(database_url, tmp_path, MFA_REQUIRED_ROLES="lead,admin")
    with served(app) as base:
        yield base, world


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_lead_sets_up_two_step_verification_and_signs_in_with_a_code(live_app, page):
    base, world = live_app

    sign_in(page, base, world.emails["lead"])
    page.wait_for_url(f"{base}/account/two-step")
    assert page.locator("h1").inner_text() == "Set up two-step verification"
    assert page.locator("svg.app-qr-code").is_visible()
    assert page.locator("svg.app-qr-code").bounding_box()["width"] >= 200
    page.screenshot(path=str(ARTIFACTS / "mfa-00-set-up.png"), full_page=True)

    # Nothing else opens before it is set up.
    page.goto(f"{base}/review/")
    page.wait_for_url(f"{base}/account/two-step")

    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    enrolled_with = totp.now()
    page.get_by_label("Security code").fill("000000")
    page.get_by_role("button", name="Turn on two-step verification").click()
    page.locator(".nhsuk-error-summary").wait_for()
    page.get_by_label("Security code").fill(enrolled_with)
    page.get_by_role("button", name="Turn on two-step verification").click()
    page.get_by_role("heading", name="Two-step verification is on").wait_for()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-z]{4}(-[0-9a-z]{4}){3}", code) for code in codes)
    page.screenshot(path=str(ARTIFACTS / "mfa-01-recovery-codes.png"), full_page=True)
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(f"{base}/review/")

    # Sign out, and in again: now the second step asks for a code.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")
    sign_in(page, base, world.emails["lead"])
    page.wait_for_url(f"{base}/auth/mfa")
    assert page.locator("h1").inner_text() == "Enter your security code"
    page.get_by_label("Security code").fill(enrolled_with)  # already used: refused
    page.get_by_role("button", name="Continue").click()
    page.locator(".nhsuk-error-summary").wait_for()
    # (On a machine so slow that a minute passed since, the code is simply too old: refused all the same.)
    assert re.search("used already|not correct", page.locator(".nhsuk-error-summary").inner_text())
    page.get_by_label("Security code").fill(totp.at(time.time() + 30))  # the app's next code
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{base}/review/")
    page.screenshot(path=str(ARTIFACTS / "mfa-02-signed-in.png"), full_page=True)
    assert page.problems == []

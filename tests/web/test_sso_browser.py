"""Single sign-on in a real browser (headless Chromium): an alliance lead presses "Sign in with NHSmail", signs in
at the OpenID Connect provider's own form (node running oidc-provider on 127.0.0.1, tests/web/oidc.py), and comes
back signed in to the review pages, their identity linked."""

from __future__ import annotations

from playwright.sync_api import expect

from app import db
from app.services import CLI
from app.services.sso import allow_linking

from .conftest import ARTIFACTS, browser_app, build_world, served
from .oidc import PASSWORD


def test_a_lead_signs_in_through_the_provider(page, database_url, tmp_path, oidc_provider):
    world = build_world(database_url)
    with db.session_scope(database_url) as session:
        allow_linking(session, CLI, world.user_ids["lead"])
    app = browser_app(database_url, tmp_path, **oidc_provider.settings())
    with served(app) as base:
        page.goto(f"{base}/login")
        page.get_by_role("button", name="Sign in with NHSmail").click()
        page.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
        page.get_by_label("Email address").fill("lead@alliance.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in to the provider").click()
        page.wait_for_url(f"{base}/review/")
        expect(page.get_by_text("Your account is now linked to your single sign-on")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "sso-lead-signed-in.png"), full_page=True)
        # Signed in: the start page sends the lead home, and the account page is theirs.
        page.goto(f"{base}/account")
        expect(page.get_by_text("lead@alliance.test").first).to_be_visible()
    assert page.problems == []

"""A member's journey through conditional questions in a real browser (headless Chromium through Playwright).

With JavaScript, a question is revealed inside the answer that asks it (the NHS.UK radios' conditional reveal,
and app.js for a question any of several answers ask) and hidden again when another answer is chosen; its
answer is kept. Without JavaScript, every question is on the page and the one the saved answers leave unasked
is marked so. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app import db
from app.services import answers_of

from .conftest import PASSWORD, STANDARDS_2, browser_app, build_world, served
from .test_browser import shot, unlabelled_controls


@pytest.fixture
def live_schema2(database_url, tmp_path):
    """The application on the schema 2 edition of the web tests' standards, served on a free local port."""
    world = build_world(database_url, STANDARDS_2)
    app = browser_app(database_url, tmp_path)
    with served(app) as base:
        yield base, world


def sign_in(tab, base: str, email: str, then: str) -> None:
    tab.goto(f"{base}/login?next={then}")
    tab.get_by_label("Email address").fill(email)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{base}{then}")


def stored(world) -> dict:
    with db.session_scope(world.url) as session:
        return answers_of(session, world.assessments["a"])


def test_a_conditional_question_with_and_without_javascript(live_schema2, browser, page):
    base, world = live_schema2
    care = f"/member/assessments/{world.assessments['a']}/domains/care"
    sign_in(page, base, world.emails["member_a"], care)
    assert unlabelled_controls(page) == []
    clinic_rate, recorded = page.locator("#c-C5-2"), page.locator("#criterion-c-C5-3")
    reviewer = page.locator("#c-C5-4")

    # Nothing chosen yet: the conditional questions are hidden.
    expect(clinic_rate).to_be_hidden()
    expect(recorded).to_be_hidden()
    follow_up = page.get_by_role("group", name=re.compile("C5.1 How are hip fracture patients reviewed"))

    # Clinic review reveals the clinic review rate (its own reveal) and the letter question (asked after phone or
    # clinic); "yes" to the letter reveals who reviews it: a chain.
    follow_up.get_by_label("Clinic review within 6 weeks").check()
    expect(clinic_rate).to_be_visible()
    expect(recorded).to_be_visible()
    assert page.locator("#c-C5-1-3").get_attribute("aria-expanded") == "true"
    clinic_rate.fill("85")
    expect(reviewer).to_be_hidden()
    recorded.get_by_label("Yes").check()
    expect(reviewer).to_be_visible()
    page.get_by_label("A specialist nurse").check()
    shot(page, "schema2-01-revealed")

    # Several audits, then "None of these" unticks them, and an audit unticks "None of these".
    audits = page.get_by_role("group", name=re.compile("C5.5 Which audits"))
    audits.get_by_label("National Hip Fracture Database").check()
    audits.get_by_label("National Joint Registry").check()
    audits.get_by_label("None of these").check()
    expect(audits.get_by_label("National Hip Fracture Database")).not_to_be_checked()
    expect(audits.get_by_label("National Joint Registry")).not_to_be_checked()
    audits.get_by_label("National Joint Registry").check()
    expect(audits.get_by_label("None of these")).not_to_be_checked()

    # Telephone follow-up instead: the clinic rate is hidden again, the letter question stays.
    follow_up.get_by_label("Telephone follow-up").check()
    expect(clinic_rate).to_be_hidden()
    expect(recorded).to_be_visible()
    expect(reviewer).to_be_visible()
    assert page.locator("#c-C5-1-3").get_attribute("aria-expanded") == "false"
    page.locator("#c-C2-1").fill("88")
    page.get_by_role("button", name="Save and come back later").click()
    page.wait_for_url(f"{base}/member/assessments/{world.assessments['a']}")
    expect(page.locator("main")).to_contain_text("Delivering high-quality care: your answers are saved.")
    # The hidden question's answer is kept (and left out of the score).
    assert stored(world) == {"C5.1": "phone", "C5.2": 85, "C5.3": "yes", "C5.4": "nurse", "C5.5": ["njr"], "C2.1": 88}

    # Back on the page, the saved answers open what they ask and nothing else.
    page.goto(f"{base}{care}")
    expect(clinic_rate).to_be_hidden()
    expect(reviewer).to_be_visible()
    assert page.locator("#c-C5-1-2").is_checked()
    # A question in another standard says which question it depends on; the phone answer asks it.
    telephone = page.locator("#criterion-c-C6-1")
    expect(telephone).to_contain_text("Asked only if the answer to C5.1")
    expect(telephone).not_to_contain_text("Not asked")
    assert page.problems == []

    # Without JavaScript every question is on the page; the one the saved answers leave unasked is marked so.
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    plain = context.new_page()
    try:
        sign_in(plain, base, world.emails["member_a"], care)
        assert not plain.evaluate("document.body.classList.contains('nhsuk-frontend-supported')")
        expect(plain.locator("#c-C5-2")).to_be_visible()
        expect(plain.locator("#c-C5-2")).to_have_value("85")
        expect(plain.locator("#criterion-c-C5-2")).to_contain_text(
            "Not asked because C5.1 is “Telephone follow-up”. It is left out of your score; any answer it has is kept."
        )
        shot(plain, "schema2-02-without-javascript")
        # Choosing clinic and saving asks it again, and the telephone script question is the one left unasked.
        plain.get_by_label("Clinic review within 6 weeks").check()
        plain.get_by_role("button", name="Save and come back later").click()
        plain.wait_for_url(f"{base}/member/assessments/{world.assessments['a']}")
        plain.goto(f"{base}{care}")
        expect(plain.locator("#criterion-c-C5-2")).not_to_contain_text("Not asked")
        expect(plain.locator("#criterion-c-C6-1")).to_contain_text("Not asked because C5.1 is “Clinic review")
        assert stored(world)["C5.1"] == "clinic" and stored(world)["C5.2"] == 85
    finally:
        context.close()

    # The result names the options chosen and lists the questions not asked.
    page.goto(f"{base}/member/assessments/{world.assessments['a']}/result")
    explained = page.locator("#standard-C5")
    explained.get_by_text(re.compile("C5 Follow-up after discharge")).click()
    expect(explained).to_contain_text("Clinic review within 6 weeks")
    expect(explained).to_contain_text("A specialist nurse")
    expect(page.locator("#not-asked")).to_contain_text(
        "C6.1 Is there a script for telephone follow-up calls?: "
        "not asked because C5.1 is “Clinic review within 6 weeks”"
    )
    shot(page, "schema2-03-result")
    assert page.problems == []

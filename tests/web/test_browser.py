"""A member's journey in a real browser (headless Chromium through Playwright) against the real app.

Sign in, fill a domain (with a mistake corrected from the error summary), save, come back, add evidence,
finish, submit, and read the result with its benchmark chart. Screenshots of the key pages go to
test-artifacts/ for people to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import ARTIFACTS, COMPLETE_ANSWERS, PASSWORD, browser_app, build_world, served, submit_peer


@pytest.fixture
def live_app(database_url, tmp_path):
    """The application served by werkzeug on a free local port, on a fresh database."""
    world = build_world(database_url)
    for index, (c21, p11) in enumerate(((80, 8), (90, 11), (95, 14))):
        submit_peer(database_url, world, f"peer{index}", f"PEER{index}", {**COMPLETE_ANSWERS, "C2.1": c21, "P1.1": p11})
    app = browser_app(database_url, tmp_path)
    with served(app) as base:
        yield base, world


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def unlabelled_controls(page) -> list[str]:
    """Form controls without a label (radios and boxes are labelled by their <label for>)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        'main input:not([type=hidden]), main textarea, main select'))
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id || el.name)""")


def test_member_journey_in_a_browser(live_app, page):
    base, world = live_app
    assessment = world.assessments["a"]

    # Sign in.
    page.goto(f"{base}/login")
    assert unlabelled_controls(page) == []
    page.get_by_label("Email address").fill(world.emails["member_a"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/member/")
    assert page.locator("h1").inner_text() == "Your memberships"
    # The NHS.UK frontend stylesheet and script are in use.
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.nhsuk-header')).backgroundColor") != "rgba(0, 0, 0, 0)"
    )
    assert page.evaluate("document.body.classList.contains('nhsuk-frontend-supported')")
    shot(page, "01-memberships")

    # Open the self-assessment and the first domain.
    page.get_by_role("link", name=re.compile("Continue self-assessment")).click()
    page.wait_for_url(f"{base}/member/assessments/{assessment}")
    shot(page, "02-assessment-overview")
    page.get_by_role("link", name="Delivering high-quality care").click()
    page.wait_for_url(re.compile(r".*/domains/care$"))
    assert unlabelled_controls(page) == []

    # Fill the domain, by mouse and by keyboard, with one mistake.
    page.locator("#c-C1-1").check()  # Yes
    page.get_by_label("Partly").check()
    page.get_by_label("In place").check()
    page.locator("#c-C2-1").fill("eighty-two")
    page.locator("#c-C2-2").fill("7.5")
    page.locator("#c-C4-1").focus()
    page.keyboard.press("Space")
    assert page.locator("#c-C4-1").is_checked()
    page.get_by_role("button", name="Save and come back later").click()

    # The error summary takes focus and links to the field; the other answers are kept.
    summary = page.locator(".nhsuk-error-summary")
    summary.wait_for()
    assert page.title().startswith("Error: ")
    expect(summary).to_be_focused()  # Playwright's own check: a page's CSP refuses evaluated strings
    assert "C2.1: Enter a number, like 82.5" in summary.inner_text()
    assert "Your other answers on this page are saved." in summary.inner_text()
    shot(page, "03-domain-with-error")
    summary.get_by_role("link", name=re.compile("C2.1")).click()
    assert page.evaluate("document.activeElement.id") == "c-C2-1"
    page.keyboard.press("Control+A")
    page.keyboard.type("82")
    page.get_by_role("button", name="Save and come back later").click()
    page.wait_for_url(f"{base}/member/assessments/{assessment}")
    expect(page.locator("main")).to_contain_text("Delivering high-quality care: your answers are saved.")

    # Come back later: sign out, sign in, and the answers are there.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/login?next=/member/assessments/{assessment}/domains/care")
    page.get_by_label("Email address").fill(world.emails["member_a"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/domains/care$"))
    assert page.locator("#c-C1-1").is_checked() and page.get_by_label("In place").is_checked()
    assert page.locator("#c-C2-1").input_value() == "82"

    # Evidence for C1.1: a link (the link field is revealed when its option is chosen).
    page.get_by_role("link", name=re.compile("Add or view evidence for C1.1")).click()
    page.get_by_label("Give a link").check()
    page.get_by_label("Link to the evidence").fill("https://example.nhs.uk/lead-job-plan.pdf")
    page.get_by_label("Note (optional)").fill("Section 2 names the lead.")
    page.get_by_role("button", name="Add evidence").click()
    expect(page.locator("main")).to_contain_text("Evidence added to C1.1.")
    expect(page.locator("main table")).to_contain_text("https://example.nhs.uk/lead-job-plan.pdf")
    shot(page, "04-evidence")

    # Finish the other domain with "Save and continue".
    page.goto(f"{base}/member/assessments/{assessment}/domains/people")
    page.locator("#c-P1-1").fill("13")
    page.locator("#c-P1-2").fill("A shared talent pool with the alliance.")
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url(f"{base}/member/assessments/{assessment}")
    statuses = page.locator(".nhsuk-task-list__status").all_inner_texts()
    assert [s.strip() for s in statuses] == ["Completed", "Completed"]
    shot(page, "05-assessment-complete")

    # Submit, as the approver, with the attestation, and read the result.
    page.get_by_role("button", name="Check and submit").click()
    page.get_by_label("Your role").fill("Director of Nursing")
    page.get_by_label("I confirm, as the role I have given, that this self-assessment is accurate").check()
    page.get_by_role("button", name="Submit self-assessment").click()
    page.wait_for_url(f"{base}/member/assessments/{assessment}/result")
    main = page.inner_text("main")
    assert "54.9 out of 100" in main
    assert "Working towards accreditation" in main and "Approaching" in main
    assert "Minor breach (amber)" in main and "Major breach (red)" in main
    charts = page.locator("svg.app-benchmark-chart")
    assert charts.count() == 3
    charts.first.scroll_into_view_if_needed()
    assert charts.first.is_visible() and charts.first.bounding_box()["width"] > 300
    assert page.locator("svg.app-benchmark-chart .app-benchmark-chart__box").count() == 3
    assert "Worse than the median, in the worst quarter" in page.locator("#benchmark-table").inner_text()
    shot(page, "06-result")
    page.locator("#benchmarks").scroll_into_view_if_needed()
    page.locator("#benchmark-1").screenshot(path=str(ARTIFACTS / "07-benchmark-chart.png"))
    assert page.problems == []

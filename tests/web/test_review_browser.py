"""The alliance lead's journey in a real browser: open the queue, review a member's self-assessment, override a
criterion with a reason, decide; then the member sees the decision and marks it read."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, browser_app, build_world, served
from .reviewing import build_review_world
from .test_browser import shot, unlabelled_controls


@pytest.fixture
def live_review(database_url, tmp_path):
    world = build_world(database_url)
    app = browser_app(database_url, tmp_path)
    rw = build_review_world(world, app.extensions["upload_store"])
    with served(app) as base:
        yield base, rw


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_lead_reviews_overrides_and_decides_and_the_member_sees_it(live_review, page):
    base, rw = live_review
    a = rw.assessments["breach"]

    sign_in(page, base, rw.world.emails["lead"])
    page.wait_for_url(re.compile(r".*/review/$"))
    expect(page.locator("h1")).to_have_text("Self-assessments to review")
    expect(page.locator("#state-counts")).to_contain_text("Submitted: 2")
    expect(page.locator("main")).to_contain_text("Members at risk")
    shot(page, "review-01-queue")

    # Filter to members with a major breach, then open Breach Trust's current assessment.
    page.get_by_text("Filter the list").click()
    page.get_by_label("Has a major breach").select_option("yes")
    page.get_by_label("Cycle").select_option(str(rw.world.cycle_id))
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#queue-total")).to_have_text("1 self-assessment shown.")
    page.locator("#queue").get_by_role("link", name="Breach Trust").click()
    page.wait_for_url(f"{base}/review/assessments/{a}")
    assert unlabelled_controls(page) == []
    expect(page.locator("#criterion-C2\\.1")).to_contain_text("major breach")
    expect(page.locator("#earlier-table")).to_contain_text("Working towards")
    shot(page, "review-02-assessment")

    # Override C2.1: without a reason first (refused, named), then with one.
    page.get_by_text("Override a criterion's score or a standard's status").click()
    page.get_by_label("Criterion").select_option("C2.1")
    page.get_by_label("Score from 0 to 1").fill("1")
    page.locator("#criterion-override").get_by_role("button", name="Override the criterion").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Give the reason for the override")
    page.get_by_text("Override a criterion's score or a standard's status").scroll_into_view_if_needed()
    page.locator("#override-reason").fill("Theatre log seen on the visit: 86% within 36 hours.")
    page.locator("#override-score").fill("1")
    page.get_by_label("Criterion").select_option("C2.1")
    page.locator("#criterion-override").get_by_role("button", name="Override the criterion").click()
    expect(page.locator("main")).to_contain_text("Override recorded and the result scored again.")
    expect(page.locator("#overrides-table")).to_contain_text("Criterion C2.1")
    expect(page.locator("#overrides-table")).to_contain_text("Theatre log seen on the visit")
    expect(page.locator("#criterion-C2\\.1")).to_contain_text("overrid")

    # Decide: accredit.
    page.get_by_label("Accredited", exact=True).check()
    page.get_by_label("Notes for the member (optional)").fill("Congratulations on the improvement.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("main")).to_contain_text("Decision recorded: Accredited. The member has been notified.")
    expect(page.locator("#decisions-table")).to_contain_text("Accredited")
    shot(page, "review-03-decided")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")

    # The member sees the decision on its home page and marks it read.
    sign_in(page, base, rw.world.emails["member_breach"])
    page.wait_for_url(f"{base}/member/")
    notices = page.locator("#notifications")
    expect(notices).to_contain_text("Accredited")
    expect(notices).to_contain_text("1 unread")
    expect(notices).to_contain_text("Congratulations on the improvement.")
    shot(page, "review-04-member-notified")
    notices.get_by_role("button", name=re.compile("Mark as read")).click()
    page.wait_for_url(re.compile(r".*/member/(#notifications)?$"))
    expect(page.locator("#notifications")).not_to_contain_text("unread")
    page.get_by_role("link", name="View the self-assessment").first.click()
    expect(page.locator("main")).to_contain_text("Changes the alliance lead made to your result")
    assert page.problems == []

"""How an alliance really runs accreditation, end to end in a real browser (headless Chromium through Playwright),
with the mail delivered by the served application to a real SMTP server: an organisation registers and applies,
a lead admits it, its first user invites a colleague (from the email's link) and makes them the owner of a domain,
the colleague answers it, the first user (the approver) attests and submits, a lead reviews it and decides more
favourably than the engine's outcome, which waits for a second lead's approval (four-eyes), a second lead
approves it, and the member sees the decision."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from app import db
from app.models import utcnow
from app.services import CLI, create_user

from .conftest import PASSWORD, password_hash
from .test_browser import shot
from .test_invitation_browser import COLLEAGUE, FIRST_PASSWORD, link_in, live_app, sign_in  # noqa: F401

APPLICANT = "chief.nurse@lewisham.nhs.test"
APPLICANT_PASSWORD = "violet otter paddles upstream"
ORGANISATION = "Lewisham and Greenwich NHS Trust"
SECOND_LEAD = "second.lead@alliance.test"


def sign_out(page, base: str) -> None:  # noqa: ANN001
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/")


def test_an_organisation_applies_is_admitted_answers_as_a_team_and_is_accredited_by_two_leads(
    live_app,  # noqa: F811
    page,
) -> None:
    base, world, smtp = live_app
    with db.session_scope(world.url) as session:  # four-eyes needs a second lead of the alliance
        create_user(
            session,
            CLI,
            email=SECOND_LEAD,
            name="Second Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=world.alliance_id,
            password_hash=password_hash(PASSWORD),
        )

    # An organisation registers and applies for full membership.
    page.goto(f"{base}/register")
    page.get_by_label("Organisation name").fill(ORGANISATION)
    page.get_by_label("ODS code").fill("RJ2")
    page.get_by_label("Type of organisation").select_option("acute")
    page.get_by_label("Region").fill("South East London")
    page.get_by_label("Your full name").fill("Alex Approver")
    page.get_by_label("Email address").fill(APPLICANT)
    page.get_by_label("Create a password").fill(APPLICANT_PASSWORD)
    page.get_by_label("Confirm your password").fill(APPLICANT_PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{base}/member/apply")
    page.goto(f"{base}/member/apply/web-test")
    page.get_by_label("Full membership").check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("main")).to_contain_text("You have applied for full membership of Web Test Alliance.")
    shot(page, "alliance-01-applied")
    sign_out(page, base)

    # The lead admits it.
    sign_in(page, base, world.emails["lead"], PASSWORD)
    page.wait_for_url(f"{base}/review/")
    page.get_by_role("link", name="Applications", exact=True).click()
    page.get_by_role("link", name=ORGANISATION).click()
    expect(page.locator("h1")).to_have_text(f"Application from {ORGANISATION}")
    page.get_by_role("button", name="Admit").click()
    expect(page.locator("main")).to_contain_text("Admitted")
    sign_out(page, base)

    # Its first user invites a colleague as a contributor only.
    sign_in(page, base, APPLICANT, APPLICANT_PASSWORD)
    page.wait_for_url(f"{base}/member/")
    page.goto(f"{base}/people/invite")
    page.get_by_label("Their email address").fill(COLLEAGUE)
    page.get_by_label("Contributor").check()
    page.get_by_label("Approver").uncheck()
    sent = len(smtp.messages) + 1  # JOBS_URL=immediate: the invitation is sent inside the request
    page.get_by_role("button", name="Send the invitation").click()
    page.wait_for_url(f"{base}/people/")
    expect(page.locator("main")).to_contain_text(f"An invitation is on its way to {COLLEAGUE}")
    sign_out(page, base)

    # The colleague accepts from the email's link.
    page.goto(link_in(smtp, sent, base))
    page.get_by_label("Your full name").fill("Casey Contributor")
    page.get_by_label("Choose a password").fill(FIRST_PASSWORD)
    page.get_by_label("Confirm your password").fill(FIRST_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url(f"{base}/member/")
    sign_out(page, base)

    # The first user makes the colleague the owner of the care domain.
    sign_in(page, base, APPLICANT, APPLICANT_PASSWORD)
    page.wait_for_url(f"{base}/member/")
    page.goto(f"{base}/member/team/")
    found = re.search(r"For self-assessment (\d+)", page.locator("main").inner_text())
    assert found, "the Team page names no self-assessment: the admission opened none"
    assessment = int(found.group(1))
    page.get_by_label("Owner of domain care").select_option(label="Casey Contributor")
    page.get_by_role("button", name="Assign domain care").click()
    expect(page.locator("#domain-care")).to_contain_text("Casey Contributor")
    shot(page, "alliance-02-team")
    sign_out(page, base)

    # The colleague answers the domain assigned to them, with evidence.
    sign_in(page, base, COLLEAGUE, FIRST_PASSWORD)
    page.wait_for_url(f"{base}/member/")
    page.goto(f"{base}/member/assessments/{assessment}/domains/care")
    page.locator("#c-C1-1").check()  # Yes
    page.get_by_label("Partly").check()
    page.get_by_label("In place").check()
    page.locator("#c-C2-1").fill("82")
    page.locator("#c-C2-2").fill("7.5")
    page.locator("#c-C4-1").check()  # Yes
    page.get_by_role("button", name="Save and come back later").click()
    expect(page.locator("main")).to_contain_text("Delivering high-quality care: your answers are saved.")
    page.goto(f"{base}/member/assessments/{assessment}/domains/care")
    page.get_by_role("link", name=re.compile("Add or view evidence for C1.1")).click()
    page.get_by_label("Give a link").check()
    page.get_by_label("Link to the evidence").fill("https://example.nhs.uk/lead-job-plan.pdf")
    page.get_by_role("button", name="Add evidence").click()
    expect(page.locator("main")).to_contain_text("Evidence added to C1.1.")
    sign_out(page, base)

    # The approver answers the open domain, attests and submits.
    sign_in(page, base, APPLICANT, APPLICANT_PASSWORD)
    page.wait_for_url(f"{base}/member/")
    page.goto(f"{base}/member/assessments/{assessment}/domains/people")
    page.locator("#c-P1-1").fill("13")
    page.locator("#c-P1-2").fill("A shared talent pool with the alliance.")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Check and submit").click()
    page.get_by_label("Your role").fill("Director of Nursing")
    page.get_by_label("I confirm, as the role I have given, that this self-assessment is accurate").check()
    page.get_by_role("button", name="Submit self-assessment").click()
    expect(page.locator("main")).to_contain_text("Working towards")
    shot(page, "alliance-03-submitted")
    sign_out(page, base)

    # The lead reviews it and decides more favourably than the engine: that waits for a second lead.
    sign_in(page, base, world.emails["lead"], PASSWORD)
    page.wait_for_url(f"{base}/review/")
    page.goto(f"{base}/review/assessments/{assessment}")
    expect(page.locator("main")).to_contain_text("Director of Nursing")  # the attestation
    page.get_by_label("Accredited with conditions", exact=True).check()
    page.get_by_label("Conditions (for accreditation with conditions)").fill("Theatre access within 36 hours.")
    page.locator("#due_on-day").fill("31")
    page.locator("#due_on-month").fill("3")
    page.locator("#due_on-year").fill(str(utcnow().year + 1))
    page.get_by_label("Notes for the member (optional)").fill("Well done on the clinical leadership.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("main")).to_contain_text("awaits approval")
    expect(page.locator("#awaiting-approval")).to_be_visible()
    expect(page.locator("#decisions-table")).to_have_count(0)
    shot(page, "alliance-04-awaiting-approval")
    sign_out(page, base)

    # A second lead approves it on Approvals.
    sign_in(page, base, SECOND_LEAD, PASSWORD)
    page.wait_for_url(f"{base}/review/")
    page.get_by_role("link", name="Approvals", exact=True).click()
    page.get_by_role("button", name=f"Approve the proposal on {ORGANISATION}").click()
    expect(page.locator("main")).to_contain_text("Approved: it has taken effect")
    page.goto(f"{base}/review/assessments/{assessment}")
    expect(page.locator("#decisions-table")).to_contain_text("Accredited with conditions")
    sign_out(page, base)

    # The member sees the decision.
    sign_in(page, base, APPLICANT, APPLICANT_PASSWORD)
    page.wait_for_url(f"{base}/member/")
    notices = page.locator("#notifications")
    expect(notices).to_contain_text("Accredited with conditions")
    expect(notices).to_contain_text("Well done on the clinical leadership.")
    shot(page, "alliance-05-member-sees-the-decision")
    assert page.problems == []

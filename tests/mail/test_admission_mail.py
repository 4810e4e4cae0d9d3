"""Admission's emails through a real SMTP server (tests/mail/conftest.py): the leads hear of a new application,
the applicant's users of its admission or decline (essential: sent even when turned off), and nobody else."""

from __future__ import annotations

import pytest

from app import db
from app.services import CLI, admission, messages, register_organisation
from app.services.accounts import create_user
from tests.mail.conftest import SmtpServer, check
from tests.web.conftest import PASSWORD, World, build_world, password_hash

LEAD = "lead@alliance.test"
APPLICANT = "member.new1@nhs.test"
MEMBER_A, MEMBER_B = "lead.rn7@nhs.test", "lead.rjz@nhs.test"


@pytest.fixture
def world(database_url: str, mail_queue: dict) -> World:
    return build_world(database_url)


def applied(world: World) -> int:
    with db.session_scope(world.url) as session:
        org = register_organisation(
            session, CLI, name="Applicant Trust", ods_code="NEW1", org_type="acute", region="North"
        )
        user = create_user(
            session,
            CLI,
            email=APPLICANT,
            name="Applicant User",
            password=PASSWORD,
            role="member",
            organisation_id=org.id,
            password_hash=password_hash(PASSWORD),
        )
        messages.save_settings(session, CLI, user.id, [], False)  # every kind it may turn off, off
        return admission.apply(session, CLI, organisation_id=org.id, alliance_id=world.alliance_id, route="full").id


def test_a_new_application_is_mailed_to_the_alliance_leads(world: World, smtp: SmtpServer) -> None:
    application_id = applied(world)
    [message] = smtp.wait_for(1)
    text, html = check(
        message, LEAD, "Applicant Trust applies for membership", f"/review/applications/{application_id}"
    )
    assert "Dear Alliance Lead" in text and "Consider the application" in html and "NEW1" in text
    assert {m["To"] for m in smtp.messages} == {LEAD}


def test_admission_is_mailed_to_the_applicant_only(world: World, smtp: SmtpServer) -> None:
    application_id = applied(world)
    with db.session_scope(world.url) as session:
        admission.admit(session, world.actor("lead"), world.alliance_id, application_id)
    smtp.wait_for(2)
    [message] = smtp.to(APPLICANT)
    text, _ = check(message, APPLICANT, "Your application to Web Test Alliance is admitted", "/member/")
    assert "working towards accreditation" in text
    assert smtp.to(MEMBER_A) == [] and smtp.to(MEMBER_B) == []


def test_a_decline_is_mailed_with_its_reason(world: World, smtp: SmtpServer) -> None:
    application_id = applied(world)
    with db.session_scope(world.url) as session:
        admission.decline(session, world.actor("lead"), world.alliance_id, application_id, "Outside our <footprint>")
    smtp.wait_for(2)
    [message] = smtp.to(APPLICANT)
    text, html = check(message, APPLICANT, "Your application to Web Test Alliance is declined", "/member/")
    assert "Outside our <footprint>" in text and "Outside our &lt;footprint&gt;" in html


def test_a_refused_step_sends_nothing(world: World, smtp: SmtpServer) -> None:
    application_id = applied(world)
    smtp.wait_for(1)
    with db.session_scope(world.url) as session:
        admission.withdraw(
            session, CLI, session.get(admission.MembershipApplication, application_id).organisation_id, application_id
        )
    with pytest.raises(admission.ApplicationRefused):
        with db.session_scope(world.url) as session:
            admission.admit(session, world.actor("lead"), world.alliance_id, application_id)
    assert smtp.to(APPLICANT) == []

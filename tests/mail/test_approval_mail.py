"""Four-eyes approvals by email, through a real SMTP server (tests/mail/conftest.py): the other leads are asked
to approve; on approval the member gets the decision as if it were taken directly and the proposer hears it
took effect; on send-back the proposer gets the reason and the member gets nothing."""

from __future__ import annotations

import pytest

from app import db
from app.services import approvals
from tests.mail.conftest import SmtpServer, check
from tests.mail.test_messages import LEAD, MEMBER_A, MEMBER_B, submitted
from tests.test_approvals import add_lead
from tests.web.conftest import World, build_world

SECOND = "second@alliance.test"


@pytest.fixture
def world(database_url: str, mail_queue: dict) -> World:
    built = build_world(database_url)
    add_lead(built, "second", built.alliance_id)
    return built


def proposed(world: World, smtp: SmtpServer) -> tuple[int, int]:
    """Member A's self-assessment (the engine: working towards), proposed for accreditation by the lead."""
    assessment_id = submitted(world)
    smtp.messages.clear()
    with db.session_scope(world.url) as session:
        taken = approvals.decide(
            session, world.actor("lead"), world.alliance_id, assessment_id, "accredit", notes="Strong evidence"
        )
        assert taken.awaiting
    return assessment_id, taken.approval.id


def test_the_other_leads_are_asked_and_the_member_hears_nothing(world: World, smtp: SmtpServer) -> None:
    proposed(world, smtp)
    [asked] = smtp.wait_for(1)
    text, _ = check(asked, SECOND, "Awaiting your approval: Dartford and Gravesham NHS Trust", "/review/approvals")
    assert "Alliance Lead proposes" in text and "Decision: Accredited" in text
    assert smtp.to(LEAD) == [] and smtp.to(MEMBER_A) == []


def test_on_approval_the_member_gets_the_decision_and_the_proposer_is_told(world: World, smtp: SmtpServer) -> None:
    assessment_id, approval_id = proposed(world, smtp)
    smtp.wait_for(1)
    smtp.messages.clear()
    with db.session_scope(world.url) as session:
        approvals.approve(session, world.actor("second"), world.alliance_id, approval_id)
    smtp.wait_for(2)
    [decision] = smtp.to(MEMBER_A)
    text, _ = check(decision, MEMBER_A, "Decision on your", f"/member/assessments/{assessment_id}/result")
    assert "Accredited" in text and "Strong evidence" in text
    [told] = smtp.to(LEAD)
    text, _ = check(told, LEAD, "Your proposal is approved", f"/review/assessments/{assessment_id}")
    assert "Second approved your proposal" in text and "It has taken effect" in text
    assert smtp.to(MEMBER_B) == [] and smtp.to(SECOND) == []


def test_on_send_back_the_proposer_gets_the_reason(world: World, smtp: SmtpServer) -> None:
    _, approval_id = proposed(world, smtp)
    smtp.wait_for(1)
    smtp.messages.clear()
    with db.session_scope(world.url) as session:
        approvals.send_back(session, world.actor("second"), world.alliance_id, approval_id, "C1 is <not> met")
    [told] = smtp.wait_for(1)
    text, html = check(told, LEAD, "Your proposal is sent back", "/review/approvals")
    assert "C1 is <not> met" in text and "C1 is &lt;not&gt; met" in html and "It has not taken effect" in text
    assert smtp.to(MEMBER_A) == []

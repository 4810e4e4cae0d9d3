"""Each kind of email, from the service where its event happens to a real SMTP server (tests/mail/conftest.py):
its recipient, subject, link to the page to act on, both parts; a member's users never get another
organisation's mail; opt-outs, a lead's digest, and mail of a rolled-back change never sent."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app import db
from app.models import AssessmentCycle, OutgoingMail, utcnow
from app.services import CLI, add_evidence, messages, plans, review, save_answers, submit
from app.services.assessments import context
from app.services.buddying import pairs
from app.services.scoring import current_result
from tests.builders import attested
from tests.mail.conftest import SmtpServer, check
from tests.test_buddy_lifecycle import build_buddy_world
from tests.web.conftest import COMPLETE_ANSWERS, World, build_world

LEAD = "lead@alliance.test"
MEMBER_A, MEMBER_B = "lead.rn7@nhs.test", "lead.rjz@nhs.test"


@pytest.fixture
def world(database_url: str, mail_queue: dict) -> World:
    return build_world(database_url)


def submitted(world: World, key: str = "a", answers: dict = COMPLETE_ANSWERS) -> int:
    assessment_id = world.assessments[key]
    with db.session_scope(world.url) as session:
        assert save_answers(session, CLI, assessment_id, answers).ok
        add_evidence(session, CLI, assessment_id, "C1.1", kind="link", url="https://example.nhs.uk/plan.pdf")
        submit(session, world.actor(f"member_{key}"), assessment_id, attested())
    return assessment_id


def only_to(smtp: SmtpServer, *addresses: str) -> None:
    assert sorted({m["To"] for m in smtp.messages}) == sorted(addresses), [m["To"] for m in smtp.messages]


def test_a_submission_is_mailed_to_the_alliance_lead(world: World, smtp: SmtpServer) -> None:
    assessment_id = submitted(world)
    [message] = smtp.to(LEAD)
    text, html = check(
        message, LEAD, "Dartford and Gravesham NHS Trust submitted its", f"/review/assessments/{assessment_id}"
    )
    assert "Dear Alliance Lead" in text and "Review the self-assessment" in html
    only_to(smtp, LEAD)


def test_a_lead_comment_goes_to_the_member_organisation_only(world: World, smtp: SmtpServer) -> None:
    assessment_id = submitted(world)
    with db.session_scope(world.url) as session:
        review.add_comment(session, world.actor("lead"), world.alliance_id, assessment_id, "Attach the <job plan>.")
    [message] = smtp.to(MEMBER_A)
    text, html = check(message, MEMBER_A, "The alliance lead commented", f"/member/assessments/{assessment_id}")
    assert "Attach the <job plan>." in text and "Attach the &lt;job plan&gt;." in html  # escaped in HTML
    assert smtp.to(MEMBER_B) == []
    only_to(smtp, LEAD, MEMBER_A)


def test_a_returned_assessment_is_mailed_with_what_to_change(world: World, smtp: SmtpServer) -> None:
    assessment_id = submitted(world)
    with db.session_scope(world.url) as session:
        review.return_to_member(session, world.actor("lead"), world.alliance_id, assessment_id, "Update C2.1")
    [message] = smtp.to(MEMBER_A)
    text, _ = check(message, MEMBER_A, "returned for changes", f"/member/assessments/{assessment_id}")
    assert "Update C2.1" in text
    submitted(world)  # submitted again: the lead hears of it again
    assert len(smtp.to(LEAD)) == 2 and smtp.to(MEMBER_B) == []


def test_a_decision_is_mailed_with_its_conditions_and_due_date(world: World, smtp: SmtpServer) -> None:
    assessment_id = submitted(world)
    due = utcnow().date() + dt.timedelta(days=60)
    with db.session_scope(world.url) as session:
        review.decide(
            session,
            world.actor("lead"),
            world.alliance_id,
            assessment_id,
            "accredit_with_conditions",
            conditions="Publish the rota",
            due_on=due,
        )
    [message] = smtp.to(MEMBER_A)
    text, html = check(message, MEMBER_A, "Accredited with conditions", f"/member/assessments/{assessment_id}/result")
    assert "Publish the rota" in text and f"{due.day} {due:%B %Y}" in text and "Publish the rota" in html
    assert smtp.to(MEMBER_B) == []


def test_conditions_due_and_overdue_are_reminded_once(world: World, smtp: SmtpServer) -> None:
    assessment_id = submitted(world)
    due = utcnow().date() + dt.timedelta(days=60)
    with db.session_scope(world.url) as session:
        review.decide(
            session,
            world.actor("lead"),
            world.alliance_id,
            assessment_id,
            "accredit_with_conditions",
            conditions="Publish the rota",
            due_on=due,
        )
    smtp.messages.clear()
    for today in (due - dt.timedelta(days=5), due - dt.timedelta(days=3)):  # both within 7 days: one email
        with db.session_scope(world.url) as session:
            messages.queue_reminders(session, today)
    [soon] = smtp.to(MEMBER_A)
    check(soon, MEMBER_A, "are due on", f"/member/assessments/{assessment_id}/result")
    assert smtp.to(LEAD) == []
    for _ in range(2):
        with db.session_scope(world.url) as session:
            messages.queue_reminders(session, due + dt.timedelta(days=1))
    assert len(smtp.to(MEMBER_A)) == 2
    check(smtp.to(MEMBER_A)[1], MEMBER_A, "are overdue", f"/member/assessments/{assessment_id}/result")
    [lead] = smtp.to(LEAD)
    check(lead, LEAD, "conditions of its", f"/review/assessments/{assessment_id}")
    assert smtp.to(MEMBER_B) == []


def test_cycle_closing_reminders_at_14_7_and_1_days_while_a_draft_is_open(world: World, smtp: SmtpServer) -> None:
    with db.session_scope(world.url) as session:
        closes = session.get(AssessmentCycle, world.cycle_id).closes_on
    submitted(world, "a")  # a's is no longer a draft: only b is reminded
    smtp.messages.clear()
    for days in (20, 10, 9, 5, 1, 1, -1):
        with db.session_scope(world.url) as session:
            messages.queue_reminders(session, closes - dt.timedelta(days=days))
    got = smtp.to(MEMBER_B)
    assert [m["Subject"].split(" closes ")[1].split(":")[0] for m in got] == ["in 10 days", "in 5 days", "tomorrow"]
    check(got[0], MEMBER_B, "cycle closes", f"/member/assessments/{world.assessments['b']}")
    only_to(smtp, MEMBER_B)


def test_an_improvement_plan_due_in_7_days_and_overdue(world: World, smtp: SmtpServer) -> None:
    assessment_id = submitted(world, answers={**COMPLETE_ANSWERS, "C2.1": 70})
    today = utcnow().date()
    with db.session_scope(world.url) as session:
        ctx = context(session, assessment_id)
        gap = plans.gaps_of(ctx, current_result(session, assessment_id).result)[0]
        plans.save_plan(
            session,
            world.actor("member_a"),
            ctx,
            gap.key,
            {"actions": "Recruit", "owner": "Ann", "due_on": today + dt.timedelta(days=6), "progress": "in_progress"},
        )
    smtp.messages.clear()
    with db.session_scope(world.url) as session:
        messages.queue_reminders(session, today - dt.timedelta(days=3))  # 9 days ahead: nothing yet
        messages.queue_reminders(session, today)
    with db.session_scope(world.url) as session:
        messages.queue_reminders(session, today + dt.timedelta(days=7))
    due, overdue = smtp.to(MEMBER_A)
    check(due, MEMBER_A, "is due on", f"/member/assessments/{assessment_id}/plans/{gap.key}")
    check(overdue, MEMBER_A, "is overdue", f"/member/assessments/{assessment_id}/plans/{gap.key}")
    only_to(smtp, MEMBER_A)


def test_buddy_proposals_and_the_answers_to_them(database_url: str, mail_queue: dict, smtp: SmtpServer) -> None:
    bw = build_buddy_world(build_world(database_url))
    pair_m, pair_n = bw.pair("m"), bw.pair("n")
    buddy_of = {bw.memberships["x"]: "x@buddy.test", bw.memberships["y"]: "y@buddy.test"}
    proposals = [m for m in smtp.messages if "Will you buddy" in m["Subject"]]
    assert sorted(m["To"] for m in proposals) == sorted(
        [buddy_of[pair_m.buddy_membership_id], buddy_of[pair_n.buddy_membership_id]]
    )
    check(proposals[0], proposals[0]["To"], "on C2?", "/member/#buddying")
    assert not {"m@buddy.test", "n@buddy.test", MEMBER_A, MEMBER_B} & {m["To"] for m in smtp.messages}
    smtp.messages.clear()
    lead = bw.world.actor("lead")
    buddy_key = "x" if pair_m.buddy_membership_id == bw.memberships["x"] else "y"
    with db.session_scope(database_url) as session:
        pairs.accept(session, lead, pair_m.id, alliance_id=bw.world.alliance_id)
    assert smtp.messages == []  # one side only
    with db.session_scope(database_url) as session:
        pairs.accept(
            session, bw.world.actor(f"member_{buddy_key}"), pair_m.id, organisation_id=bw.organisations[buddy_key]
        )
    [accepted] = smtp.to(LEAD)
    check(accepted, LEAD, "Buddy pair accepted", f"/review/buddying#pair-{pair_m.id}")
    other = "x" if pair_n.buddy_membership_id == bw.memberships["x"] else "y"
    with db.session_scope(database_url) as session:
        pairs.withdraw(
            session,
            bw.world.actor(f"member_{other}"),
            pair_n.id,
            "No capacity",
            organisation_id=bw.organisations[other],
        )
    declined = smtp.to(LEAD)[1]
    text, _ = check(declined, LEAD, "Buddy pair declined", f"/review/buddying#pair-{pair_n.id}")
    assert "No capacity" in text
    only_to(smtp, LEAD)


def test_non_essential_kinds_can_be_turned_off_essential_ones_cannot(world: World, smtp: SmtpServer) -> None:
    with db.session_scope(world.url) as session:
        messages.save_settings(session, world.actor("member_a"), world.user_ids["member_a"], [], digest=False)
        setting = messages.settings_of(session, world.user_ids["member_a"])
        assert "lead_comment" in setting.muted and "decision_made" not in setting.muted
    assessment_id = submitted(world)
    with db.session_scope(world.url) as session:
        review.add_comment(session, world.actor("lead"), world.alliance_id, assessment_id, "A comment")
        review.decide(session, world.actor("lead"), world.alliance_id, assessment_id, "accredit")
    assert len(smtp.to(MEMBER_A)) == 1 and "Decision" in smtp.to(MEMBER_A)[0]["Subject"]
    with db.session_scope(world.url) as session, pytest.raises(messages.ServiceError, match="digest"):
        messages.save_settings(session, world.actor("member_a"), world.user_ids["member_a"], [], digest=True)


def test_a_lead_who_chose_the_digest_gets_one_email_a_day(world: World, smtp: SmtpServer) -> None:
    with db.session_scope(world.url) as session:
        messages.save_settings(
            session, world.actor("lead"), world.user_ids["lead"], ["assessment_submitted", "buddy_response"], True
        )
    first, second = submitted(world, "a"), submitted(world, "b")
    assert smtp.to(LEAD) == []
    today = utcnow().date()
    for _ in range(2):
        with db.session_scope(world.url) as session:
            messages.queue_digests(session, today)
    [digest] = smtp.to(LEAD)
    text, html = check(digest, LEAD, "Your daily digest: 2 updates", "/review/")
    assert "Dartford and Gravesham NHS Trust submitted" in text and "King's College Hospital" in text
    for assessment_id in (first, second):
        assert f'href="https://accreditation.example.nhs.uk/review/assessments/{assessment_id}"' in html
    with db.session_scope(world.url) as session:
        assert {
            r.status for r in session.exec(select(OutgoingMail).where(OutgoingMail.kind == "assessment_submitted"))
        } == {"digested"}


def test_a_rolled_back_change_sends_nothing(world: World, smtp: SmtpServer) -> None:
    assessment_id = submitted(world)
    smtp.messages.clear()
    with pytest.raises(RuntimeError), db.session_scope(world.url) as session:
        review.add_comment(session, world.actor("lead"), world.alliance_id, assessment_id, "Never sent")
        raise RuntimeError("the request fails after the comment")
    with db.session_scope(world.url) as session:
        assert session.exec(select(OutgoingMail).where(OutgoingMail.kind == "lead_comment")).all() == []
    assert smtp.messages == []

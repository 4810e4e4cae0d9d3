"""The "Email settings" page through the test client, and a web request whose mail cannot be sent (SMTP down):
the change is made, the page answers, the failure is logged and the mail kept for a retry."""

from __future__ import annotations

import logging

from sqlmodel import select

from app import create_app, db
from app.jobs import queue
from app.models import OutgoingMail
from app.services import CLI, add_evidence, messages, save_answers, submit
from tests.builders import attested
from tests.mail.conftest import BASE_URL, MAIL_FROM, SmtpServer, free_port
from tests.web.conftest import COMPLETE_ANSWERS, CSRF, signed_in, text


def test_the_account_page_links_to_email_settings(app, world) -> None:
    member = signed_in(app, world, "member_a")
    assert 'href="/account/email"' in text(member.get("/account"))
    page = text(member.get("/account/email"))
    assert "Email settings" in page and 'value="lead_comment"' in page and "daily digest" not in page
    assert 'value="decision_made"' in page and "Always sent" in page
    assert 'value="assessment_submitted"' not in page  # a lead's kind


def test_a_member_turns_comments_off_and_the_choice_is_kept(app, world) -> None:
    member = signed_in(app, world, "member_a")
    kinds = ["assessment_returned", "buddy_proposal", "cycle_closing", "plan_due"]
    response = member.post("/account/email", {"kinds": kinds})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/email")
    with db.session_scope(world.url) as session:
        setting = messages.settings_of(session, world.user_ids["member_a"])
        assert setting.muted == ["lead_comment"] and setting.digest is False
    page = text(member.get("/account/email"))
    assert 'value="lead_comment">' in page and 'value="plan_due" checked' in page
    refused = member.post("/account/email", {"kinds": ["assessment_submitted"]})
    assert refused.status_code == 200 and "is not a kind of email you can get" in text(refused)


def test_a_lead_chooses_the_daily_digest(app, world) -> None:
    lead = signed_in(app, world, "lead")
    assert "One daily digest" in text(lead.get("/account/email"))
    lead.post("/account/email", {"kinds": ["assessment_submitted", "condition_overdue"], "digest": "yes"})
    with db.session_scope(world.url) as session:
        setting = messages.settings_of(session, world.user_ids["lead"])
        assert setting.digest is True and setting.muted == [
            "application_received",
            "approval_requested",
            "buddy_response",
        ]


def test_the_form_needs_its_csrf_token(app, world) -> None:
    member = signed_in(app, world, "member_a")
    assert member.post("/account/email", {"kinds": []}, csrf=False).status_code == 400


def test_smtp_down_does_not_fail_the_request_and_the_mail_is_kept(database_url, world, tmp_path, caplog) -> None:
    from app.jobs import mail as mail_jobs

    port = free_port()  # nothing listens there
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "MAIL_URL": f"smtp://127.0.0.1:{port}?timeout=5",
            "MAIL_FROM": MAIL_FROM,
            "BASE_URL": BASE_URL,
        }
    )
    assessment_id = world.assessments["a"]
    server = SmtpServer(port)
    try:
        with db.session_scope(database_url) as session:
            assert save_answers(session, CLI, assessment_id, COMPLETE_ANSWERS).ok
            add_evidence(session, CLI, assessment_id, "C1.1", kind="link", url="https://example.nhs.uk/plan.pdf")
            submit(session, world.actor("member_a"), assessment_id, attested())
        lead = signed_in(app, world, "lead")
        page = text(lead.get(f"/review/assessments/{assessment_id}"))
        token = CSRF.search(page).group(1)
        with caplog.at_level(logging.WARNING, logger="app.jobs.mail"):
            response = lead.client.post(
                f"/review/assessments/{assessment_id}/comments", data={"csrf_token": token, "comment": "Thanks"}
            )
        assert response.status_code == 302, text(response)[:500]
        assert "Your comment is sent to the member." in text(lead.get(response.headers["Location"]))
        failures = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
        assert failures and f"127.0.0.1:{port}" in failures[-1] and "lead.rn7@nhs.test" in failures[-1]
        with db.session_scope(database_url) as session:
            kept = session.exec(select(OutgoingMail).where(OutgoingMail.kind == "lead_comment")).one()
            assert (kept.status, kept.attempts) == ("pending", 1) and "127.0.0.1" in kept.last_error
        server.start()  # the relay is back: the retry delivers
        with app.app_context():
            assert mail_jobs.deliver.call_local(kept.id) == "sent"
        [message] = server.to("lead.rn7@nhs.test")
        assert "commented" in message["Subject"]
        with db.session_scope(database_url) as session:
            assert session.get(OutgoingMail, kept.id).status == "sent"
    finally:
        server.stop()
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})

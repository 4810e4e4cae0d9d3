"""Email with a real worker process (``cli.py worker`` on an SQLite queue): reminders sent once across a
worker restart, and mail the relay refuses retried by the queue and delivered once it is back."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from sqlmodel import select

from app import db
from app.jobs import mail as mail_jobs
from app.jobs import queue
from app.models import AssessmentCycle, OutgoingMail
from app.services import review
from tests.mail.conftest import BASE_URL, MAIL_FROM, SmtpServer, free_port, mail_settings
from tests.mail.test_messages import submitted
from tests.web.conftest import World
from tests.workers import running_worker, sqlite_queue


def _env(mail_url: str) -> dict[str, str]:
    return {"MAIL_URL": mail_url, "MAIL_FROM": MAIL_FROM, "BASE_URL": BASE_URL, "MAIL_RETRY_SECONDS": "1"}


def test_reminders_are_not_repeated_after_a_worker_restart(
    database_url: str, world: World, smtp: SmtpServer, tmp_path: Path
) -> None:
    jobs_url = sqlite_queue(tmp_path)
    queue.configure(mail_settings(database_url, smtp.url, jobs_url))
    with db.session_scope(database_url) as session:
        closes = session.get(AssessmentCycle, world.cycle_id).closes_on
    day = (closes - dt.timedelta(days=6)).isoformat()
    try:
        with running_worker(tmp_path, database_url, jobs_url, extra_env=_env(smtp.url)):
            assert mail_jobs.send_reminders(day).get(blocking=True, timeout=30) == 2  # a's and b's drafts
            smtp.wait_for(2)
        with running_worker(tmp_path, database_url, jobs_url, extra_env=_env(smtp.url)) as worker:
            assert mail_jobs.send_reminders(day).get(blocking=True, timeout=30) == 0
            assert mail_jobs.sweep().get(blocking=True, timeout=30) == 0
            time.sleep(1)
            assert "Traceback" not in worker.log()
        assert sorted(m["To"] for m in smtp.messages) == ["lead.rjz@nhs.test", "lead.rn7@nhs.test"]
        assert all("closes in 6 days" in m["Subject"] for m in smtp.messages)
    finally:
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def test_mail_the_relay_refuses_is_retried_and_delivered_later(database_url: str, world: World, tmp_path: Path) -> None:
    port = free_port()
    server = SmtpServer(port)  # not started: the relay is down
    jobs_url = sqlite_queue(tmp_path)
    queue.configure(mail_settings(database_url, server.url, jobs_url, MAIL_RETRY_SECONDS="1"))
    try:
        with running_worker(tmp_path, database_url, jobs_url, extra_env=_env(server.url)) as worker:
            submitted(world)  # the lead's email, refused too
            with db.session_scope(database_url) as session:  # the event; its mail is enqueued on commit
                review.add_comment(
                    session, world.actor("lead"), world.alliance_id, world.assessments["a"], "Please add the rota"
                )
            deadline = time.monotonic() + 30
            while "to lead.rn7@nhs.test not sent" not in worker.log():
                assert time.monotonic() < deadline, worker.log()
                time.sleep(0.1)
            assert f"cannot send through 127.0.0.1:{port}" in worker.log()
            server.start()
            server.wait_for(2)
            [message] = server.to("lead.rn7@nhs.test")
            assert "commented" in message["Subject"] and len(server.to("lead@alliance.test")) == 1
        with db.session_scope(database_url) as session:
            sent = session.exec(select(OutgoingMail).where(OutgoingMail.kind == "lead_comment")).one()
            assert sent.status == "sent" and sent.attempts >= 2
    finally:
        server.stop()
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})

"""Sending email on the queue: ``deliver`` sends one outgoing mail (retried with a delay while the mail server
cannot take it), and the periodic tasks write reminders (hourly), leads' digests (daily) and pick up mail no
job is sending (every 10 minutes).

A service writes ``OutgoingMail`` rows in the caller's transaction and notes their ids in ``session.info``;
importing this module installs the hook that enqueues them once that transaction commits, and forgets them
when it rolls back. The web application and the worker import it; mail written where no hook ran (a command
without the queue) waits for ``sweep``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Optional

from huey import crontab
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from .. import db
from .. import mail as mailer
from ..models import utcnow
from ..services import messages
from .queue import huey, settings

log = logging.getLogger("app.jobs.mail")
#: A mail claimed by a job for longer than this is taken to be lost with its worker and is sent again.
STRANDED_AFTER = dt.timedelta(minutes=10)


@event.listens_for(OrmSession, "after_commit")
def _enqueue_committed(session: OrmSession) -> None:
    ids = session.info.pop(messages.OUTBOX, None)
    if ids and _configured_for(session):
        enqueue(ids)


def _configured_for(session: OrmSession) -> bool:
    """Whether the queue's settings are for the database this session committed to (a script working on
    another database leaves its mail to that database's sweep)."""
    try:
        configured = db.get_engine(str(settings()["DATABASE_URL"]))
    except Exception:  # noqa: BLE001  (no queue configured: the sweep sends it)
        log.info("the job queue is not configured: email waits for the next sweep")
        return False
    return session.get_bind() is configured


@event.listens_for(OrmSession, "after_rollback")
def _forget_rolled_back(session: OrmSession) -> None:
    session.info.pop(messages.OUTBOX, None)


def enqueue(ids: list[int]) -> None:
    """A ``deliver`` job for each id, with the configured retries; a queue that cannot take them is logged,
    never raised (the change they tell of is committed; ``sweep`` sends them later)."""
    try:
        config = settings()
        retries, delay = int(config.get("MAIL_RETRIES", 8)), int(config.get("MAIL_RETRY_SECONDS", 300))
        for mail_id in ids:
            deliver(mail_id, retries=retries, retry_delay=delay)
    except Exception:  # noqa: BLE001  (a queue down must not fail the request whose change is committed)
        log.exception("could not enqueue %d email(s) %s: they are sent by the next sweep", len(ids), ids)


def _mail_settings(config: Any) -> mailer.MailSettings:
    found = config.get("MAIL")
    return (
        found if isinstance(found, mailer.MailSettings) else mailer.parse_mail_url(config.get("MAIL_URL", "console:"))
    )


def _url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


@huey.task(context=True)
def deliver(mail_id: int, task: Optional[Any] = None) -> str:
    """Send one outgoing mail once: claimed, rendered, handed to the backend, marked sent. A failure puts it
    back for the next retry (Huey's, after ``MAIL_RETRY_SECONDS``) and is logged; the last one marks it failed."""
    config = settings()
    url = str(config["DATABASE_URL"])
    with db.session_scope(url) as session:
        row = messages.claim(session, mail_id)
        if row is None:
            return "not pending"
        base = str(config.get("BASE_URL") or "http://localhost:5000")
        context = dict(row.context)
        context.update(
            url=_url(base, context.get("path", "/")),
            settings_url=_url(base, messages.SETTINGS_PATH) if row.user_id is not None else "",  # no account yet
            items=[{**item, "url": _url(base, item.get("path", "/"))} for item in context.get("items", [])],
        )
        to, title, attempt = row.to_address, row.title, row.attempts
    try:
        rendered = mailer.render(context.get("template", "message"), title, context)
        message = mailer.build_message(str(config.get("MAIL_FROM")), to, rendered, {"X-Alliance-Mail": str(mail_id)})
        mailer.send(_mail_settings(config), message)
    except Exception as exc:
        final = task is None or not task.retries
        log.warning(
            "email %s (%s) to %s not sent, attempt %d%s: %s",
            mail_id,
            title,
            to,
            attempt,
            "; no retry left, marked failed" if final else f"; retried in {task.retry_delay} s",
            exc,
        )
        with db.session_scope(url) as session:
            messages.mark_failed(session, mail_id, str(exc), final)
        raise
    with db.session_scope(url) as session:
        messages.mark_sent(session, mail_id)
    return "sent"


@huey.task()
def send_reminders(today: Optional[str] = None) -> int:
    """Write every reminder due (each once per person and due marker); the hook then enqueues them."""
    day = dt.date.fromisoformat(today) if today else utcnow().date()
    with db.session_scope(str(settings()["DATABASE_URL"])) as session:
        return messages.queue_reminders(session, day)


@huey.task()
def send_digests(today: Optional[str] = None) -> int:
    day = dt.date.fromisoformat(today) if today else utcnow().date()
    with db.session_scope(str(settings()["DATABASE_URL"])) as session:
        return messages.queue_digests(session, day)


@huey.task()
def sweep() -> int:
    """Enqueue the mail no job is sending (see ``messages.stranded``)."""
    with db.session_scope(str(settings()["DATABASE_URL"])) as session:
        ids = messages.stranded(session, utcnow(), STRANDED_AFTER)
    if ids:
        enqueue(ids)
    return len(ids)


@huey.periodic_task(crontab(minute="5"))
def hourly_reminders() -> None:
    send_reminders.call_local()


@huey.periodic_task(crontab(hour="7", minute="0"))
def daily_digests() -> None:
    send_digests.call_local()


@huey.periodic_task(crontab(minute="*/10"))
def sweep_outgoing_mail() -> None:
    sweep.call_local()

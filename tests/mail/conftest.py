"""A real SMTP server for the email tests (aiosmtpd on 127.0.0.1, a free port) that keeps what it receives,
and the job queue set to send through it."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage
from typing import Iterator

import pytest
from aiosmtpd.controller import Controller

from app import config as app_config
from app.jobs import queue
from tests.web.conftest import app, world  # noqa: F401  (the web tests' application and alliance world)

BASE_URL = "https://accreditation.example.nhs.uk"
MAIL_FROM = "Alliance accreditation <noreply@alliance.example.nhs.uk>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """An SMTP server on 127.0.0.1:``port``; ``messages`` holds every message received (stopped, the port refuses)."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802  (aiosmtpd's handler hook)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def wait_for(self, count: int, timeout: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.messages)} email(s) arrived in {timeout} s, {count} expected")
            time.sleep(0.05)
        return list(self.messages)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def mail_settings(database_url: str, mail_url: str, jobs_url: str = queue.IMMEDIATE, **extra: str) -> dict:
    return app_config.load(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "JOBS_URL": jobs_url,
            "MAIL_URL": mail_url,
            "MAIL_FROM": MAIL_FROM,
            "BASE_URL": BASE_URL,
            **extra,
        }
    )


@pytest.fixture
def mail_queue(database_url: str, smtp: SmtpServer) -> Iterator[dict]:
    """The queue runs jobs in the caller (immediate) and mail goes to ``smtp``."""
    from app.jobs import mail  # noqa: F401  (the hook that enqueues mail after a commit)

    settings = mail_settings(database_url, smtp.url)
    queue.configure(settings)
    try:
        yield settings
    finally:
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a message."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "both a text and an HTML part"
    return text.get_content(), html.get_content()


def check(message: EmailMessage, to: str, subject: str, path: str) -> tuple[str, str]:
    """The message is to ``to``, its subject has ``subject``, and both parts link to ``path`` on BASE_URL."""
    assert message["To"] == to
    assert subject in message["Subject"], message["Subject"]
    assert message["From"] == MAIL_FROM
    text, html = parts(message)
    link = BASE_URL + path
    assert link in text, text
    assert f'href="{link}"' in html, html
    assert f"{BASE_URL}/account/email" in text and f'href="{BASE_URL}/account/email"' in html
    assert 'lang="en"' in html and "#005eb8" in html  # NHS blue header
    return text, html

"""MAIL_URL, MAIL_FROM and BASE_URL read at start with clear errors; the console and file backends."""

from __future__ import annotations

import email
import email.policy
import logging
from pathlib import Path

import pytest

from app import config as app_config
from app import mail


def load(**env: str) -> dict:
    return app_config.load({}, environ={"APP_ENV": "testing", **env})


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://relay", "MAIL_URL: expected console:, file:///DIR, smtp://"),
        ("smtp://user:secret@relay.nhs.net:25", "would be sent unencrypted: add ?starttls=true"),
        ("smtp://relay.nhs.net:99999", "is not a number from 1 to 65535"),
        ("smtp://relay.nhs.net?starttls=maybe", "starttls: expected true or false"),
        ("smtp://relay.nhs.net?tls=1", "unknown option 'tls'"),
        ("file://relative/dir", "needs an absolute directory"),
        ("smtps://user:secret@relay:465?starttls=true", "smtps:// is TLS from the start"),
    ],
)
def test_a_bad_mail_url_is_named(url: str, problem: str) -> None:
    with pytest.raises(app_config.ConfigError, match="MAIL_URL: ") as caught:
        load(MAIL_URL=url, MAIL_FROM="a@b.nhs.uk", BASE_URL="https://x.nhs.uk")
    assert problem in str(caught.value)
    assert "secret" not in str(caught.value)


def test_smtp_needs_a_sender_and_the_service_address() -> None:
    with pytest.raises(app_config.ConfigError, match="MAIL_FROM is not set"):
        load(MAIL_URL="smtp://relay.nhs.net:587", BASE_URL="https://x.nhs.uk")
    with pytest.raises(app_config.ConfigError, match="BASE_URL is not set"):
        load(MAIL_URL="smtp://relay.nhs.net:587", MAIL_FROM="a@b.nhs.uk")
    with pytest.raises(app_config.ConfigError, match="BASE_URL: expected the service's address"):
        load(BASE_URL="accreditation.nhs.uk")
    with pytest.raises(app_config.ConfigError, match="MAIL_FROM: expected an address"):
        load(MAIL_FROM="nobody")


def test_an_nhsmail_relay_url_reads_with_starttls_and_the_password_unquoted() -> None:
    settings = load(
        MAIL_URL="smtp://app.account%40nhs.net:pa%3Ass@send.nhs.net:587",
        MAIL_FROM="app.account@nhs.net",
        BASE_URL="https://accreditation.example.nhs.uk/",
    )
    found = settings["MAIL"]
    assert (found.host, found.port, found.username, found.password, found.starttls) == (
        "send.nhs.net",
        587,
        "app.account@nhs.net",
        "pa:ss",
        True,
    )
    assert "pa:ss" not in repr(found) and settings["BASE_URL"] == "https://accreditation.example.nhs.uk"


def _message() -> email.message.EmailMessage:
    rendered = mail.render(
        "message",
        "A subject",
        {"name": "Ann", "paragraphs": ["Hello"], "action": "Go", "url": "https://x/y", "settings_url": "https://x/s"},
    )
    return mail.build_message("Alliance <noreply@x.nhs.uk>", "ann@x.nhs.uk", rendered)


def test_the_file_backend_writes_an_eml_file(tmp_path: Path) -> None:
    mail.send(mail.parse_mail_url(f"file://{tmp_path}/out"), _message())
    [written] = list((tmp_path / "out").glob("*.eml"))
    message = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ann@x.nhs.uk" and message.get_body(("html",)) is not None


def test_the_console_backend_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="app.mail"):
        mail.send(mail.parse_mail_url("console:"), _message())
    assert "Subject: A subject" in caplog.text and "https://x/y" in caplog.text

"""Outgoing email: ``MAIL_URL`` read into settings, a message rendered from its templates, and sent through one
backend. Nothing here knows who gets what (``services/messages.py``) or when (``jobs/mail.py``).

``MAIL_URL``:

- ``console:``: the message is logged (logger ``app.mail``), nothing leaves the machine (development, tests);
- ``file:///DIR``: each message is written to ``DIR`` as an ``.eml`` file (development, to open in a mail client);
- ``smtp://USER:PASSWORD@HOST:PORT?starttls=true``: an SMTP relay (NHSmail: ``send.nhs.net:587``); STARTTLS is
  on by default on port 587, and a user and password are never sent without TLS;
- ``smtps://USER:PASSWORD@HOST:465``: SMTP over TLS from the first byte.

The standard library speaks the protocol (``smtplib``) and builds the message (``email.message.EmailMessage``):
a plain-text part and an HTML part in the NHS.UK style, from ``templates/email/<kind>.txt`` and ``.html``.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

log = logging.getLogger("app.mail")
TEMPLATES = Path(__file__).resolve().parent / "templates" / "email"
CONSOLE, FILE, SMTP, SMTPS = "console", "file", "smtp", "smtps"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class MailError(RuntimeError):
    """A message could not be handed to the mail server (it is kept and tried again)."""


@dataclass(frozen=True)
class MailSettings:
    """Where mail goes, read from ``MAIL_URL`` (``repr`` never shows the password)."""

    backend: str
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout: float = 30.0
    directory: str = ""

    def describe(self) -> str:
        if self.backend == CONSOLE:
            return "console (logged, not sent)"
        if self.backend == FILE:
            return f"files in {self.directory}"
        who = f"{self.username}@" if self.username else ""
        return f"{self.backend}://{who}{self.host}:{self.port}" + (" with STARTTLS" if self.starttls else "")


def parse_mail_url(url: str) -> MailSettings:
    """``MailSettings`` from a ``MAIL_URL``; a ``ValueError`` naming what is wrong and what was expected."""
    url = (url or "").strip()
    forms = "expected console:, file:///DIR, smtp://[USER:PASSWORD@]HOST[:PORT][?starttls=true] or smtps://..."
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == CONSOLE:
        return MailSettings(CONSOLE)
    if scheme == FILE:
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"a file backend needs an absolute directory, like file:///var/mail/alliance, got {url!r}")
        return MailSettings(FILE, directory=unquote(parts.path))
    if scheme not in (SMTP, SMTPS):
        raise ValueError(f"{forms}; got {url!r}")
    if not parts.hostname:
        raise ValueError(f"no mail server named in {scheme}://...: expected a host, like {scheme}://send.nhs.net:587")
    try:
        port = parts.port or (465 if scheme == SMTPS else 25)
    except ValueError:
        raise ValueError(f"the port of {scheme}://{parts.hostname}:... is not a number from 1 to 65535") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - {"starttls", "timeout"})
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} in MAIL_URL: only starttls and timeout are read")
    starttls_text = query.get("starttls", "").strip().lower()
    if starttls_text and starttls_text not in TRUE + FALSE:
        raise ValueError(f"starttls: expected true or false, got {query['starttls']!r}")
    if scheme == SMTPS:
        if starttls_text in TRUE:
            raise ValueError("starttls: smtps:// is TLS from the start; use smtp://HOST:587?starttls=true for STARTTLS")
        starttls = False
    else:
        starttls = starttls_text in TRUE if starttls_text else port == 587
    try:
        timeout = float(query.get("timeout") or 30)
    except ValueError:
        raise ValueError(f"timeout: expected seconds, like timeout=30, got {query['timeout']!r}") from None
    if timeout <= 0:
        raise ValueError("timeout: must be more than 0 seconds")
    username, password = unquote(parts.username or ""), unquote(parts.password or "")
    if username and not password:
        raise ValueError(f"a user ({username}) without a password in {scheme}://...: write USER:PASSWORD@HOST")
    if username and scheme == SMTP and not starttls:
        raise ValueError(
            "a user and password would be sent unencrypted: add ?starttls=true (NHSmail: port 587) or use smtps://"
        )
    return MailSettings(scheme, parts.hostname, port, username, password, starttls, timeout)


def check_sender(value: str) -> str:
    """A ``MAIL_FROM`` such as ``NHS Alliance <noreply@alliance.nhs.uk>``; a ``ValueError`` otherwise."""
    _, address = parseaddr(value or "")
    if "@" not in address or address.startswith("@") or address.endswith("@") or any(c in value for c in "\r\n"):
        raise ValueError(f"expected an address like 'Alliance accreditation <noreply@example.nhs.uk>', got {value!r}")
    return value.strip()


# -- rendering ---------------------------------------------------------------------------------------------------


def _environment(autoescape: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_HTML = _environment(True)
_TEXT = _environment(False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: str, subject: str, context: Mapping[str, Any]) -> Rendered:
    """The two parts of a message of ``kind`` from ``templates/email/<kind>.txt`` and ``<kind>.html``."""
    values = {**context, "subject": subject}
    return Rendered(
        subject, _TEXT.get_template(f"{kind}.txt").render(values), _HTML.get_template(f"{kind}.html").render(values)
    )


def build_message(
    sender: str, to: str, rendered: Rendered, headers: Optional[Mapping[str, str]] = None
) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the preferred alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


# -- backends ----------------------------------------------------------------------------------------------------


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Hand ``message`` to the backend; ``MailError`` (with the server's words) when it cannot be."""
    if settings.backend == CONSOLE:
        log.info("email (console backend, not sent):\n%s", message.as_string())
        return
    if settings.backend == FILE:
        directory = Path(settings.directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
            path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(bytes(message))
        except OSError as exc:
            raise MailError(f"cannot write the email to {directory}: {exc}") from exc
        log.info("email to %s written to %s", message["To"], path)
        return
    _send_smtp(settings, message)


def _send_smtp(settings: MailSettings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.backend == SMTPS:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            client.ehlo()
            if settings.starttls:
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                client.login(settings.username, settings.password)
            refused = client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"the mail server {where} refused the user {settings.username}: {exc.smtp_code}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"cannot send through {where}: {type(exc).__name__}: {exc}") from exc
    if refused:
        raise MailError(f"the mail server {where} refused {', '.join(sorted(refused))}")
    log.info("email to %s sent through %s", message["To"], where)

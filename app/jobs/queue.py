"""The job queue: Huey, on SQLite with no extra server (the embedded default) or on Redis in production.

Tasks are declared on the one ``huey`` instance at import, as Huey expects; where their queue lives is only
known once the settings are read, so ``configure(config)`` points the instance at the storage ``JOBS_URL``
names. The web application configures it in ``create_app``, ``cli.py worker`` before it starts consuming.

``JOBS_URL``:

- ``sqlite:///PATH`` (the default, ``instance/jobs.db``): a file beside the embedded database;
- ``redis://HOST:PORT/DB``: production, shared by every web and worker machine;
- ``immediate``: no queue at all, a task runs in the caller's process when it is enqueued (the tests' default,
  and a way to run a single command without a worker).

``JOBS_NAME`` (default ``alliance``) names the queue inside that storage (Redis keys ``huey.*.NAME``), so two
deployments, or two test runs, can share one Redis database without taking each other's tasks.

A task reads its settings (the database URL, the mail server) with ``settings()``: the application's
configuration in a request, the worker's otherwise. Settings never travel inside a task's payload, so a
password in ``DATABASE_URL`` is never written to the queue.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

from ..db import ROOT

NAME = "alliance"
DEFAULT_URL = f"sqlite:///{ROOT / 'instance' / 'jobs.db'}"
IMMEDIATE = "immediate"


class QueueNotConfigured(RuntimeError):
    """A task was enqueued before ``configure`` said where the queue is."""


class _Unconfigured(MemoryStorage):
    """Refuses work until ``configure`` runs: a task enqueued into a placeholder would be lost silently."""

    def enqueue(self, data: bytes, priority: Any = None) -> None:
        raise QueueNotConfigured("the job queue is not configured: create the application or run `cli.py worker`")


huey = Huey(NAME, storage_class=_Unconfigured, utc=True)
_settings: dict[str, Any] = {}


def check_url(url: str) -> str:
    """``url`` if it names a queue this module can use; a ``ValueError`` saying what was expected otherwise."""
    url = url.strip()
    if url == IMMEDIATE:
        return url
    scheme = urlsplit(url).scheme
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return url
    if scheme in ("redis", "rediss", "unix"):
        return url
    raise ValueError(f"expected 'immediate', sqlite:///PATH or a Redis URL like redis://127.0.0.1:6379/1, got {url!r}")


def _storage(url: str) -> tuple[type, dict[str, Any]]:
    if url.startswith("sqlite:///"):
        path = Path(unquote(url[len("sqlite:///") :]))
        path.parent.mkdir(parents=True, exist_ok=True)
        # A worker waits on the file for new work rather than polling hard; SQLite's own timeout covers a
        # web process writing while a worker reads.
        return SqliteStorage, {"filename": str(path), "timeout": 10}
    return RedisStorage, {"url": url}


def describe(url: str) -> str:
    """The queue a URL names, for messages: a Redis URL without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def configure(config: Mapping[str, Any]) -> Huey:
    """Point the queue at ``config["JOBS_URL"]`` and keep ``config`` for tasks run outside a request."""
    url = check_url(str(config.get("JOBS_URL") or DEFAULT_URL))
    huey.name = str(config.get("JOBS_NAME") or NAME)
    _settings.clear()
    _settings.update(config)
    if url == IMMEDIATE:
        huey.storage_class, huey.storage_kwargs = MemoryStorage, {}
        huey.immediate = True
        huey.storage = huey.create_storage()
        return huey
    storage_class, kwargs = _storage(url)
    huey.immediate = False
    huey.storage_class, huey.storage_kwargs = storage_class, kwargs
    huey.storage = huey.create_storage()
    return huey


def settings() -> Mapping[str, Any]:
    """The settings a task runs with: the current application's in a request (a task run immediately), the
    configured ones otherwise (a worker, a command)."""
    flask = sys.modules.get("flask")
    if flask is not None and flask.has_app_context():
        return flask.current_app.config
    if not _settings:
        raise QueueNotConfigured("the job queue is not configured: create the application or run `cli.py worker`")
    return _settings


def database_url() -> str:
    return str(settings()["DATABASE_URL"])


def check() -> str:
    """Whether the queue answers: ``ok``, ``immediate`` (no queue: tasks run where they are enqueued), or
    ``unreachable (ErrorType)``. Reads how many tasks wait, which touches the SQLite file or Redis."""
    if huey.immediate:
        return IMMEDIATE
    try:
        huey.storage.queue_size()
    except Exception as exc:  # noqa: BLE001  (Redis down, the file unreadable, not configured)
        return f"unreachable ({exc.__class__.__name__})"
    return "ok"

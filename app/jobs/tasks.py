"""The queue's tasks: each opens its own session on ``queue.database_url()`` and owns its transaction.

A task takes ids and plain values only (they are pickled onto the queue), never ORM objects or settings.
"""

from __future__ import annotations

from . import failures  # noqa: F401  (every module of tasks records their failures)
from .queue import huey


@huey.task()
def ping(value: str) -> str:
    """A task that does nothing but answer: a worker's health check (``cli.py worker --check``)."""
    return value

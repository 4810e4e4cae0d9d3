"""``cli.py worker``: a Huey consumer for the queue ``JOBS_URL`` names, with the periodic tasks (reminders).

Every module that declares tasks is imported here (``TASK_MODULES``), so a worker knows each task a web
process may enqueue. Worker processes are forked: each forgets the parent's database connections first.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Mapping

from .. import db
from . import queue

#: The modules whose tasks a worker runs; a new module of tasks is added here.
TASK_MODULES: tuple[str, ...] = (
    "app.jobs.tasks",
    "app.jobs.previews",
    "app.jobs.exports",
    "app.jobs.mail",
    "app.jobs.rescore",
)


#: The longest an idle worker waits before looking at the queue again.
POLL_SECONDS = 1.0


def load_tasks() -> None:
    for name in TASK_MODULES:
        importlib.import_module(name)


@queue.huey.on_startup()
def _fresh_connections() -> None:
    db.forget_engines()


def run(config: Mapping[str, Any], workers: int = 2, periodic: bool = True) -> None:
    """Consume until interrupted (SIGINT finishes the tasks in hand, SIGTERM stops at once)."""
    if config.get("JOBS_URL") == queue.IMMEDIATE:
        raise ValueError("JOBS_URL is 'immediate': tasks run where they are enqueued, there is no queue to consume")
    queue.configure(config)
    load_tasks()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # An idle worker polls the queue at most POLL_SECONDS apart (Huey's default backs off to 10 s): a lead
    # waiting on a preview's page, or a rescore run's batches, start within a second or so.
    consumer = queue.huey.create_consumer(
        workers=workers,
        worker_type="process",
        periodic=periodic,
        check_worker_health=True,
        max_delay=POLL_SECONDS,
    )
    consumer.run()

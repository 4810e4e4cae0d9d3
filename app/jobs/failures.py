"""Every task that raises is recorded in the database (``JobFailure``), from Huey's error signal, in a short
transaction of its own: the failed task's own work is rolled back, its record is not. Imported by every module
of tasks, so a worker and a web process running a task immediately both record failures."""

from __future__ import annotations

import logging

from huey.signals import SIGNAL_ERROR

from .. import db
from ..services import job_failures
from . import queue

logger = logging.getLogger(__name__)


@queue.huey.signal(SIGNAL_ERROR)
def record_failure(signal: str, task, exc: BaseException | None = None) -> None:  # noqa: ANN001
    if exc is None:
        return
    try:
        with db.session_scope(queue.database_url()) as session:
            job_failures.record(session, task.name, task.id, task.args or (), task.retries, exc)
    except Exception:  # noqa: BLE001  (the record is best effort: the worker's log has the failure either way)
        logger.exception("could not record the failure of task %s (%s)", task.id, task.name)

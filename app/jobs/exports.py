"""The whole-cycle export job: read the cycle's tables, write the file into ``EXPORT_DIR`` and record it
(``services/cycle_exports.py``). Everything it reads and writes is this service's own (database and disk): a
failure would repeat, so it is not retried; the lead asks again from the exports page."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import db
from ..services import cycle_exports
from . import failures, queue  # noqa: F401  (failures: the record of failed tasks is kept for these too)

logger = logging.getLogger(__name__)
FAILED = "The export could not be written. Ask for it again; if it fails again, tell the service's administrators."


@queue.huey.task(retries=0, context=False)
def write_export(export_id: int) -> str:
    url = queue.database_url()
    directory = Path(str(queue.settings()["EXPORT_DIR"]))
    try:
        with db.session_scope(url) as session:
            row = cycle_exports.start(session, export_id)
        if row is None:
            return "gone"
        with db.read_scope(url) as session:
            data, rows = cycle_exports.content(session, row)
        name = cycle_exports.write(directory, row, data)
        with db.session_scope(url) as session:
            cycle_exports.finish(session, export_id, name, len(data), rows)
    except Exception:
        with db.session_scope(url) as session:
            cycle_exports.fail(session, export_id, FAILED)
        raise
    return "done"


def enqueue(export_id: int) -> None:
    """Queue an export the caller has committed; a queue that cannot be reached marks it failed."""
    try:
        write_export(export_id)
    except Exception as exc:  # noqa: BLE001  (Redis down, the queue file unwritable)
        logger.warning("export %s could not be queued: %s", export_id, exc.__class__.__name__)
        with db.session_scope(queue.database_url()) as session:
            cycle_exports.fail(session, export_id, "The job queue cannot be reached at the moment. Try again shortly.")

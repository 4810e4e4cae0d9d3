"""The impact preview job: score the alliance's self-assessments against a draft version (a dry run), with
progress on the preview's row, and keep the report there (``services/previews.py``).

Scoring is pure computation on the database's own data, so a failure would fail the same way again: the task
is not retried; the lead sees the failure and may start it again from the page.
"""

from __future__ import annotations

import logging

from .. import db
from ..services import NotFound, impact, previews
from . import failures, queue  # noqa: F401  (failures: the record of failed tasks is kept for these too)

logger = logging.getLogger(__name__)
FAILED = "The preview could not be worked out. Start it again; if it fails again, tell the service's administrators."


@queue.huey.task(retries=0, context=False)
def compute_preview(preview_id: int) -> str:
    url = queue.database_url()
    with db.session_scope(url) as session:
        started = previews.start(session, preview_id)
    if started is None:
        return "gone"
    alliance_id, version_id, fingerprint, cycle_id = started

    def progress(done: int, total: int) -> None:
        with db.session_scope(url) as session:
            previews.set_progress(session, preview_id, done, total)

    try:
        with db.read_scope(url) as session:
            lines, failed = impact.report(session, alliance_id, version_id, progress, cycle_id)
        with db.session_scope(url) as session:
            previews.finish(session, preview_id, fingerprint, lines, failed)
    except NotFound:  # the draft was deleted while it ran: its preview went with it
        return "gone"
    except Exception:
        with db.session_scope(url) as session:
            previews.fail(session, preview_id, FAILED)
        raise
    return "done"


def enqueue(preview_id: int) -> None:
    """Queue the computation of a preview the caller has committed; a queue that cannot be reached marks the
    preview failed, so the page says so rather than waiting for ever."""
    try:
        compute_preview(preview_id)
    except Exception as exc:  # noqa: BLE001  (Redis down, the queue file unwritable)
        logger.warning("impact preview %s could not be queued: %s", preview_id, exc.__class__.__name__)
        with db.session_scope(queue.database_url()) as session:
            previews.fail(session, preview_id, "The job queue cannot be reached at the moment. Try again shortly.")

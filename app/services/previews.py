"""A lead's impact preview as a stored job result: requested by the page, computed by a queued task
(``app/jobs/previews.py``), kept until the version's content or the published version it is compared with
changes (``impact.fingerprint``), and deleted with its draft.

States: ``queued`` (waiting for a worker), ``running`` (``done`` of ``total`` self-assessments scored), ``done``
(``lines`` and ``failures`` hold the dry run's report) and ``failed`` (``error`` says what went wrong, in words
for the lead; the details are in the record of failed jobs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ..models import ImpactPreview, StandardsVersion, utcnow
from . import impact
from .common import Actor

STATES = ("queued", "running", "done", "failed")
#: A preview queued or running for longer than this may be started again (its worker may have stopped).
STALE_AFTER = dt.timedelta(minutes=10)


def _row(session: Session, alliance_id: int, version_id: int) -> Optional[ImpactPreview]:
    return session.exec(
        select(ImpactPreview).where(ImpactPreview.version_id == version_id, ImpactPreview.alliance_id == alliance_id)
    ).first()


def request(
    session: Session,
    actor: Actor,
    alliance_id: int,
    version_id: int,
    again: bool = False,
    cycle_id: Optional[int] = None,
) -> tuple[ImpactPreview, bool]:
    """The preview of the version for the alliance (of one cycle's self-assessments, or of all: ``cycle_id``
    None), and whether a job must compute it: when there is none, when the one kept is out of date or of
    another cycle, or ``again`` (the lead asked after a failure, or a stale one). Raises NotFound for a version
    of another set or a cycle of another alliance. Like the rest of a preview (a dry run that stores no
    result), it is not audited: the draft's upload and deletion are."""
    impact.cycle_for(session, alliance_id, cycle_id)
    wanted = impact.fingerprint(session, alliance_id, version_id, cycle_id)
    row = _row(session, alliance_id, version_id)
    if row is not None and row.fingerprint == wanted and not again:
        return row, False
    if row is not None and again and row.fingerprint == wanted and row.status in ("queued", "running"):
        if not is_stale(row):
            return row, False
    if row is None:
        row = ImpactPreview(version_id=version_id, alliance_id=alliance_id, fingerprint=wanted)
        try:
            with session.begin_nested():  # two first views at once: one inserts, the other finds it
                session.add(row)
                session.flush()
        except IntegrityError:
            return _row(session, alliance_id, version_id), False
    row.fingerprint, row.status, row.done, row.total, row.cycle_id = wanted, "queued", 0, 0, cycle_id
    row.lines, row.failures, row.error, row.finished_at = None, None, "", None
    row.requested_by, row.created_at = actor.user_id, utcnow()
    session.add(row)
    session.flush()
    return row, True


def is_stale(row: ImpactPreview) -> bool:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)
    return row.status in ("queued", "running") and utcnow() - created > STALE_AFTER


def start(session: Session, preview_id: int) -> Optional[tuple[int, int, str, Optional[int]]]:
    """Mark the preview running: its alliance, version, fingerprint and cycle; None when it is gone (its draft
    was deleted) or already finished."""
    row = session.get(ImpactPreview, preview_id)
    if row is None or row.status in ("done",):
        return None
    row.status, row.error = "running", ""
    session.add(row)
    return row.alliance_id, row.version_id, row.fingerprint, row.cycle_id


def set_progress(session: Session, preview_id: int, done: int, total: int) -> None:
    row = session.get(ImpactPreview, preview_id)
    if row is not None and row.status == "running":
        row.done, row.total = done, total
        session.add(row)


def finish(session: Session, preview_id: int, fingerprint: str, lines: list[dict], failures: list[dict]) -> bool:
    """Keep the report, unless the preview was asked for again meanwhile (another fingerprint) or deleted."""
    row = session.get(ImpactPreview, preview_id)
    if row is None or row.fingerprint != fingerprint:
        return False
    row.status, row.lines, row.failures = "done", lines, failures
    row.done = row.total = len(lines) + len(failures)
    row.finished_at = utcnow()
    session.add(row)
    return True


def fail(session: Session, preview_id: int, message: str) -> None:
    row = session.get(ImpactPreview, preview_id)
    if row is not None and row.status != "done":
        row.status, row.error, row.finished_at = "failed", message[:500], utcnow()
        session.add(row)


@dataclass
class PreviewPage:
    """What the impact page shows: the preview's state, and the impact once it is done."""

    preview: ImpactPreview
    version: StandardsVersion
    impact: Optional[impact.Impact]
    stale: bool

    @property
    def percent(self) -> int:
        total = self.preview.total
        return int(100 * self.preview.done / total) if total else 0


def page(session: Session, alliance_id: int, version_id: int) -> Optional[PreviewPage]:
    row = _row(session, alliance_id, version_id)
    version = session.get(StandardsVersion, version_id)
    if row is None or version is None:
        return None
    found = None
    if row.status == "done":
        found = impact.assemble(session, alliance_id, version_id, row.lines or [], row.failures or [], row.cycle_id)
    return PreviewPage(row, version, found, is_stale(row))

"""Whole-cycle exports as files: a lead asks for one (results, breaches or decisions as CSV or JSON, or all
three in both formats as a zip), a queued job writes it (``app/jobs/exports.py``) into the export directory
under a random name, and the alliance's leads download it from their exports page.

A file is only ever read back through ``for_download``, which checks the lead's alliance: the directory is not
served, and the names in it are not guessable.
"""

from __future__ import annotations

import io
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sqlmodel import Session, col, select

from ..models import AssessmentCycle, CycleExport, utcnow
from . import exports
from .common import Actor, NotFound, ServiceError, audit

#: What can be exported: each table as CSV or JSON, or ``all`` of them (both formats) in one zip.
CHOICES = {**{kind: ("csv", "json") for kind in exports.KINDS}, "all": ("zip",)}
LIMIT = 50


def request(
    session: Session, actor: Actor, alliance_id: Optional[int], cycle_id: int, kind: str, fmt: str
) -> CycleExport:
    """Record a lead's request for an export of one of the alliance's cycles (the caller queues the job)."""
    cycle = exports.lead_cycle(session, alliance_id, cycle_id)
    if kind not in CHOICES:
        raise ServiceError(f"kind: choose one of {', '.join(CHOICES)}, not {kind!r}")
    if fmt not in CHOICES[kind]:
        raise ServiceError(f"format: {kind} is exported as {' or '.join(CHOICES[kind])}, not {fmt!r}")
    row = CycleExport(alliance_id=cycle.alliance_id, cycle_id=cycle.id, kind=kind, fmt=fmt, requested_by=actor.user_id)
    session.add(row)
    session.flush()
    audit(session, actor, "export.requested", row, after={"cycle": cycle.name, "kind": kind, "format": fmt})
    return row


def start(session: Session, export_id: int) -> Optional[CycleExport]:
    row = session.get(CycleExport, export_id)
    if row is None or row.status == "done":
        return None
    row.status, row.error = "running", ""
    session.add(row)
    return row


def content(session: Session, row: CycleExport) -> tuple[bytes, int]:
    """The export's file and how many rows it holds (a zip: the rows of its three tables)."""
    cycle = exports.lead_cycle(session, row.alliance_id, row.cycle_id)
    if row.kind != "all":
        _, table = exports.table(session, row.alliance_id, cycle.id, row.kind)
        text = exports.as_csv(table) if row.fmt == "csv" else exports.as_json(cycle, table)
        return text.encode("utf-8"), len(table.rows)
    buffer, rows = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for kind in exports.KINDS:
            _, table = exports.table(session, row.alliance_id, cycle.id, kind)
            rows += len(table.rows)
            archive.writestr(exports.filename(cycle, kind, "csv"), exports.as_csv(table))
            archive.writestr(exports.filename(cycle, kind, "json"), exports.as_json(cycle, table))
    return buffer.getvalue(), rows


def write(directory: Path, row: CycleExport, data: bytes) -> str:
    """Write the file under a random name in the alliance's folder; its name inside ``directory``."""
    name = f"{row.alliance_id}/{secrets.token_hex(16)}.{row.fmt}"
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(path)
    return name


def finish(session: Session, export_id: int, name: str, size: int, rows: int) -> None:
    row = session.get(CycleExport, export_id)
    if row is not None:
        row.status, row.file_name, row.size, row.rows, row.finished_at = "done", name, size, rows, utcnow()
        session.add(row)


def fail(session: Session, export_id: int, message: str) -> None:
    row = session.get(CycleExport, export_id)
    if row is not None and row.status != "done":
        row.status, row.error, row.finished_at = "failed", message[:500], utcnow()
        session.add(row)


@dataclass(frozen=True)
class ExportLine:
    export: CycleExport
    cycle: str

    @property
    def download_name(self) -> str:
        return download_name(self.export, self.cycle)


def download_name(row: CycleExport, cycle: str) -> str:
    safe = cycle.replace("/", "-")
    return f"cycle-{safe}.zip" if row.kind == "all" else f"{row.kind}-{safe}.{row.fmt}"


def exports_of(session: Session, alliance_id: Optional[int], limit: int = LIMIT) -> list[ExportLine]:
    """The alliance's latest exports, newest first."""
    if alliance_id is None:
        return []
    found = session.exec(
        select(CycleExport, AssessmentCycle.name)
        .join(AssessmentCycle, AssessmentCycle.id == CycleExport.cycle_id)
        .where(CycleExport.alliance_id == alliance_id)
        .order_by(col(CycleExport.id).desc())
        .limit(limit)
    ).all()
    return [ExportLine(row, name) for row, name in found]


def for_download(session: Session, alliance_id: Optional[int], export_id: int, directory: Path) -> tuple[Path, str]:
    """The file of one of the alliance's finished exports and the name to download it as; NotFound otherwise
    (another alliance's export, one not finished, or a file gone from the directory)."""
    row = session.get(CycleExport, export_id)
    if row is None or alliance_id is None or row.alliance_id != alliance_id or row.status != "done":
        raise NotFound(f"export {export_id} does not exist")
    root = directory.resolve()
    path = (root / (row.file_name or "")).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound(f"export {export_id} does not exist")
    cycle = session.get(AssessmentCycle, row.cycle_id)
    return path, download_name(row, cycle.name if cycle else str(row.cycle_id))

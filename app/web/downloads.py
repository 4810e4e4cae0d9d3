"""Downloads: a piece of evidence's stored file (one way for the member's pages, the lead's pages and the API),
and an export written as CSV or JSON text."""

from __future__ import annotations

from flask import Response, current_app, send_file
from werkzeug.utils import secure_filename

from ..models import Evidence
from ..services.evidence import EvidenceFileLost, open_evidence_file


def evidence_download(item: Evidence) -> Response:
    """The evidence's file as an attachment, under its own name and type. ``NoEvidenceFile`` for a link, and
    for a file the upload store no longer has (logged: the database says it should be there)."""
    try:
        found = open_evidence_file(item, current_app.extensions["upload_store"])
    except EvidenceFileLost:
        current_app.logger.error("evidence %s: its file %s is missing from the upload store", item.id, item.storage_key)
        raise
    return send_file(found.stream, mimetype=found.content_type, as_attachment=True, download_name=found.filename)


EXPORT_TYPES = {"csv": "text/csv", "json": "application/json"}


def export_download(body: str, fmt: str, filename: str) -> Response:
    """An export's text (``fmt``: csv or json) as an attachment named ``filename`` (made safe for the header)."""
    name = secure_filename(filename) or f"export.{fmt}"
    return Response(body, mimetype=EXPORT_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})

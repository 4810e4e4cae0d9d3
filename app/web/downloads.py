"""Sending a piece of evidence's stored file: one way for the member's pages, the lead's pages and the API."""
from __future__ import annotations

from flask import Response, current_app, send_file

from ..models import Evidence
from ..uploads import UploadRefused


class NoEvidenceFile(LookupError):
    """There is no file to send; the message says why (the caller answers 404)."""


def evidence_download(item: Evidence) -> Response:
    """The evidence's file as an attachment, under its own name and type. ``NoEvidenceFile`` for a link, and
    for a file the upload store no longer has (logged: the database says it should be there)."""
    if item.kind != "file" or not item.storage_key:
        raise NoEvidenceFile(f"evidence {item.id} is a link, not a file: follow its url")
    try:
        stream = current_app.extensions["upload_store"].open(item.storage_key)
    except UploadRefused:
        current_app.logger.error("evidence %s: its file %s is missing from the upload store", item.id,
                                 item.storage_key)
        raise NoEvidenceFile(f"the file of evidence {item.id} is no longer in the upload store") from None
    return send_file(stream, mimetype=item.content_type or "application/octet-stream", as_attachment=True,
                     download_name=item.filename or "evidence")

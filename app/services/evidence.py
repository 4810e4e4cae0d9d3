"""Evidence for a self-assessment's criteria: links and files added to a draft and taken off it, and the
files read back for download.

A file's bytes go through the upload store (``app.uploads``); its Evidence row is written in the caller's
transaction. ``attach_file`` stores a file and records its row; if that transaction rolls back, the stored
file is removed, and a file detached with ``detach_file`` is removed only once the removal commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Optional, Union

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from rules.text import text_problem

from ..models import Evidence
from ..uploads import UploadRefused, UploadStore, default_store
from .assessments import AssessmentContext, context, require_editable
from .common import Actor, NotFound, ServiceError, audit, get_or_404, snapshot
from .teams import answer_refusals

LINK_MAX = 2000  # characters of a link (the column's size)
NOTE_MAX = 2000  # characters of a note on evidence


class EvidenceRefused(ServiceError):
    """Evidence not taken, with the part of it at fault (``criterion``, ``url``, ``file``, ``note`` or ``kind``),
    so a form or an API response can put the message beside it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class NoEvidenceFile(LookupError):
    """There is no file to send; the message says why (the caller answers 404)."""


class EvidenceFileLost(NoEvidenceFile):
    """The database records a file the upload store no longer has (worth logging: it should be there)."""


def is_link(url: Optional[str]) -> bool:
    """A full web address an assessor can open: http(s)://, no spaces or control characters, not too long."""
    return (
        bool(url)
        and url.startswith(("https://", "http://"))
        and len(url) <= LINK_MAX
        and all(ch.isprintable() and not ch.isspace() for ch in url)
    )


def check_evidence(ctx: AssessmentContext, criterion_id: str, note: str = "") -> None:
    """What any evidence must meet, checked before a file is stored: a draft (else ``ServiceError``), a
    criterion that applies to the membership and a note that fits (else ``EvidenceRefused``)."""
    require_editable(ctx.assessment)
    if criterion_id not in {c.id for _, c in ctx.applicable_criteria()}:
        raise EvidenceRefused("criterion", f"{criterion_id}: no such criterion applies to this membership")
    if len(note) > NOTE_MAX:
        raise EvidenceRefused("note", f"{criterion_id}: a note is at most {NOTE_MAX} characters")
    problem = text_problem(note)
    if problem:
        raise EvidenceRefused("note", f"{criterion_id}: a note {problem}")


def _require_answerer(session: Session, actor: Actor, ctx: AssessmentContext, criterion_id: str) -> None:
    """Evidence follows the answer: only someone who may answer the question (``teams``) adds or removes it."""
    refused = answer_refusals(session, actor, ctx.membership, ctx.standards, [criterion_id])
    if refused:
        raise EvidenceRefused("criterion", f"{criterion_id}: {refused[criterion_id]}")


def add_evidence(
    session: Session,
    actor: Actor,
    assessment_id: int,
    criterion_id: str,
    *,
    kind: str,
    url: Optional[str] = None,
    filename: Optional[str] = None,
    content_type: Optional[str] = None,
    size: Optional[int] = None,
    storage_key: Optional[str] = None,
    note: str = "",
    sha256: Optional[str] = None,
) -> Evidence:
    """Record evidence (a link, or a file already placed in the upload store) against a criterion."""
    ctx = context(session, assessment_id, lock=True)
    check_evidence(ctx, criterion_id, note)
    _require_answerer(session, actor, ctx, criterion_id)
    if kind == "link":
        if not is_link(url):
            raise EvidenceRefused(
                "url",
                f"{criterion_id}: a link must start with https:// or http://, without "
                f"spaces, in at most {LINK_MAX} characters",
            )
    elif kind == "file":
        if not (filename and storage_key):
            raise EvidenceRefused("file", f"{criterion_id}: a file needs its name and stored location")
    else:
        raise EvidenceRefused("kind", f"{criterion_id}: evidence is a file or a link")
    evidence = Evidence(
        assessment_id=assessment_id,
        criterion_id=criterion_id,
        kind=kind,
        url=url,
        filename=filename,
        content_type=content_type,
        size=size,
        storage_key=storage_key,
        sha256=sha256,
        note=note,
        uploaded_by=actor.user_id,
    )
    session.add(evidence)
    session.flush()
    audit(session, actor, "evidence.added", evidence, after=snapshot(evidence))
    return evidence


def one_evidence(session: Session, assessment_id: int, evidence_id: int) -> Evidence:
    """One evidence item, reached only through its own assessment (the caller has checked who may see that)."""
    item = session.get(Evidence, evidence_id)
    if item is None or item.assessment_id != assessment_id:
        raise NotFound(f"evidence {evidence_id} does not exist")
    return item


def evidence_of(session: Session, assessment_id: int, criterion_id: Optional[str] = None) -> list[Evidence]:
    query = select(Evidence).where(Evidence.assessment_id == assessment_id)
    if criterion_id is not None:
        query = query.where(Evidence.criterion_id == criterion_id)
    return list(session.exec(query.order_by(col(Evidence.id))).all())


def remove_evidence(session: Session, actor: Actor, evidence_id: int) -> Evidence:
    """Take evidence off a draft. The row goes; the audit log keeps what it was. A stored file is
    left for the caller to delete from the upload store once this commits."""
    evidence = get_or_404(session, Evidence, evidence_id, "evidence")
    ctx = context(session, evidence.assessment_id, lock=True)
    require_editable(ctx.assessment)
    _require_answerer(session, actor, ctx, evidence.criterion_id)
    before = snapshot(evidence)
    session.delete(evidence)
    session.flush()
    audit(session, actor, "evidence.removed", entity_type="evidence", entity_id=evidence_id, before=before)
    return evidence


# -- files, through the upload store ---------------------------------------------------------------------------


def attach_file(
    session: Session,
    actor: Actor,
    assessment_id: int,
    criterion_id: str,
    *,
    data: Union[bytes, BinaryIO],
    filename: str,
    content_type: Optional[str] = None,
    note: str = "",
    store: Optional[UploadStore] = None,
) -> Evidence:
    """Store an uploaded file and record it as evidence for a criterion of a draft assessment."""
    store = store or default_store()
    stored = store.save(data, filename, content_type)
    try:
        evidence = add_evidence(
            session,
            actor,
            assessment_id,
            criterion_id,
            kind="file",
            filename=stored.filename,
            content_type=stored.content_type,
            size=stored.size,
            storage_key=stored.key,
            sha256=stored.sha256,
            note=note,
        )
    except BaseException:
        store.delete(stored.key)
        raise
    session.info.setdefault("uploads_to_discard_on_rollback", []).append((store, stored.key))
    return evidence


def detach_file(session: Session, actor: Actor, evidence_id: int, store: Optional[UploadStore] = None) -> Evidence:
    """Remove evidence from a draft; its stored file goes once the removal commits."""
    evidence = remove_evidence(session, actor, evidence_id)
    if evidence.storage_key:
        session.info.setdefault("uploads_to_delete_on_commit", []).append(
            (store or default_store(), evidence.storage_key)
        )
    return evidence


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session: OrmSession) -> None:
    session.info.pop("uploads_to_discard_on_rollback", None)
    for store, key in session.info.pop("uploads_to_delete_on_commit", ()):
        store.delete(key)


@event.listens_for(OrmSession, "after_rollback")
def _after_rollback(session: OrmSession) -> None:
    session.info.pop("uploads_to_delete_on_commit", None)
    for store, key in session.info.pop("uploads_to_discard_on_rollback", ()):
        store.delete(key)


@dataclass(frozen=True)
class EvidenceFile:
    """A stored file ready to send: its bytes (the caller closes them), type and name."""

    stream: BinaryIO
    content_type: str
    filename: str


def open_evidence_file(item: Evidence, store: UploadStore) -> EvidenceFile:
    """The file of a piece of evidence the caller may read. ``NoEvidenceFile`` for a link, and
    ``EvidenceFileLost`` for a file the upload store no longer has (the database says it should be there)."""
    if item.kind != "file" or not item.storage_key:
        raise NoEvidenceFile(f"evidence {item.id} is a link, not a file: follow its url")
    try:
        stream = store.open(item.storage_key)
    except UploadRefused:
        raise EvidenceFileLost(f"the file of evidence {item.id} is no longer in the upload store") from None
    return EvidenceFile(stream, item.content_type or "application/octet-stream", item.filename or "evidence")

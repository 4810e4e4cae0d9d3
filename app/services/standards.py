"""Standards versions in the database, and their parsed form for the engine."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from sqlmodel import Session, delete, select

import rules
from rules.model import StandardsSet

from ..models import Assessment, AssessmentResult, ImpactPreview, RescoreRun, StandardsVersion, User, utcnow
from .common import Actor, NotFound, ServiceError, audit, require_text, snapshot

_parsed: dict[str, StandardsSet] = {}
_parsed_lock = threading.Lock()


def parsed(version: StandardsVersion) -> StandardsSet:
    """The engine's model of a stored version, parsed once per process (keyed by content hash)."""
    found = _parsed.get(version.content_hash)
    if found is None:
        found = rules.parse_standards(version.source_text, filename=version.source_name)
        with _parsed_lock:
            _parsed.setdefault(version.content_hash, found)
    return found


def register_version(session: Session, path: str | Path, actor: Actor, state: str = "published") -> StandardsVersion:
    """Store a standards file as a version; the same content again is a no-op, different content under
    the same id and version is refused (a stored version never changes)."""
    path = Path(path)
    loaded = rules.load_standards(path)  # raises StandardsError listing every problem
    return _register(session, loaded, path.read_text(encoding="utf-8"), path.name, actor, state)


def register_text(
    session: Session,
    text: str,
    source_name: str,
    actor: Actor,
    state: str = "draft",
    loaded: Optional[StandardsSet] = None,
) -> StandardsVersion:
    """Store standards text (an uploaded file) as a version, as ``register_version`` does a file
    (``loaded``: the text as the caller already parsed it)."""
    if loaded is None:
        loaded = rules.parse_standards(text, filename=source_name)  # raises StandardsError listing every problem
    return _register(session, loaded, text, source_name, actor, state)


def _register(
    session: Session, loaded: StandardsSet, text: str, source_name: str, actor: Actor, state: str
) -> StandardsVersion:
    require_text({"file name": source_name}, single_line=True)  # a name on disk may be anything
    existing = session.exec(
        select(StandardsVersion).where(StandardsVersion.set_id == loaded.id, StandardsVersion.version == loaded.version)
    ).first()
    if existing is not None:
        if existing.content_hash != loaded.content_hash:
            raise ServiceError(held_elsewhere(session, existing))
        return existing
    version = StandardsVersion(
        set_id=loaded.id,
        version=loaded.version,
        title=loaded.title,
        content_hash=loaded.content_hash,
        source_name=source_name,
        source_text=text,
        effective_from=loaded.effective_from,
        state=state,
        published_at=utcnow() if state == "published" else None,
        created_by=actor.user_id,
    )
    session.add(version)
    session.flush()
    if loaded.source == source_name:  # read as ``parsed`` would read it: not parsed again for its pages
        with _parsed_lock:
            _parsed.setdefault(loaded.content_hash, loaded)
    audit(
        session,
        actor,
        "standards.registered",
        version,
        after=snapshot(version, "set_id", "version", "content_hash", "state"),
    )
    if loaded.source == source_name:  # what ``parsed`` would make of it: a large set is not read twice
        with _parsed_lock:
            _parsed.setdefault(loaded.content_hash, loaded)
    return version


def registered_by(session: Session, version: StandardsVersion) -> str:
    """Who registered a version, for people: a user's name and email, or the command line."""
    user = session.get(User, version.created_by) if version.created_by is not None else None
    return f"{user.name} ({user.email})" if user is not None else "the command line"


def held_elsewhere(session: Session, existing: StandardsVersion) -> str:
    """Why a file cannot be stored under ``existing``'s set and version, with who holds it and what to do."""
    label = f"{existing.set_id} {existing.version}"
    when = f"{existing.created_at:%Y-%m-%d %H:%M} UTC"
    if existing.state != "draft":
        return (
            f"{label} is already registered with different content ({existing.state}, {when}); "
            "give the changed file a new version"
        )
    return (
        f"{label} is held by a draft with different content, uploaded by {registered_by(session, existing)} "
        f"on {when} to preview its impact. Delete the draft first (its uploader can, on the review pages' "
        f"Standards versions page; an operator can with `python cli.py standards delete-draft {existing.set_id} "
        f"{existing.version}`), or give this file a new version"
    )


def delete_draft(session: Session, actor: Actor, version_id: int, *, any_uploader: bool = False) -> StandardsVersion:
    """Delete a draft version that no self-assessment, result or rescore run is on. Only its uploader may,
    unless ``any_uploader`` (an operator or administrator)."""
    version = session.get(StandardsVersion, version_id)
    if version is None:
        raise NotFound(f"standards version {version_id} does not exist")
    label = f"{version.set_id} {version.version}"
    if version.state != "draft":
        raise ServiceError(f"{label} is {version.state}; only a draft can be deleted")
    if not any_uploader and (actor.user_id is None or version.created_by != actor.user_id):
        raise ServiceError(
            f"{label} was uploaded by {registered_by(session, version)}: only they, or an administrator, can delete it"
        )
    for model, column, what in (
        (Assessment, Assessment.standards_version_id, "self-assessments are"),
        (AssessmentResult, AssessmentResult.standards_version_id, "results are"),
        (RescoreRun, RescoreRun.to_version_id, "a rescore run is"),
    ):
        if session.exec(select(model.id).where(column == version.id).limit(1)).first() is not None:
            raise ServiceError(f"{label} cannot be deleted: {what} on it")
    audit(
        session,
        actor,
        "standards.draft_deleted",
        version,
        before=snapshot(version, "set_id", "version", "content_hash", "state", "created_by", "created_at"),
    )
    # Its impact previews go with it (a draft uploaded again under the number is another draft).
    session.exec(delete(ImpactPreview).where(ImpactPreview.version_id == version.id))
    session.delete(version)
    session.flush()
    return version


def latest_published(session: Session, set_id: str) -> Optional[StandardsVersion]:
    from packaging.version import Version

    versions = session.exec(
        select(StandardsVersion).where(StandardsVersion.set_id == set_id, StandardsVersion.state == "published")
    ).all()
    return max(versions, key=lambda v: Version(v.version), default=None)


VERSION_MOVES = {"draft": ("published",), "published": ("retired",), "retired": ()}


def set_version_state(session: Session, actor: Actor, version_id: int, state: str) -> StandardsVersion:
    """Publish a draft version or retire a published one; a version's content never changes."""
    version = session.get(StandardsVersion, version_id)
    if version is None:
        raise NotFound(f"standards version {version_id} does not exist")
    if state == version.state:
        return version
    if state not in VERSION_MOVES.get(version.state, ()):
        raise ServiceError(f"{version.set_id} {version.version} is {version.state}; it cannot become {state}")
    before = snapshot(version, "state", "published_at")
    version.state = state
    if state == "published":
        version.published_at = utcnow()
    session.add(version)
    session.flush()
    audit(
        session,
        actor,
        "standards.state_changed",
        version,
        before=before,
        after=snapshot(version, "state", "published_at"),
    )
    return version

"""Standards versions in the database, and their parsed form for the engine."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from sqlmodel import Session, select

import rules
from rules.model import StandardsSet

from ..models import StandardsVersion, utcnow
from .common import Actor, NotFound, ServiceError, audit, snapshot

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


def register_text(session: Session, text: str, source_name: str, actor: Actor, state: str = "draft",
                  loaded: Optional[StandardsSet] = None) -> StandardsVersion:
    """Store standards text (an uploaded file) as a version, as ``register_version`` does a file
    (``loaded``: the text as the caller already parsed it)."""
    if loaded is None:
        loaded = rules.parse_standards(text, filename=source_name)  # raises StandardsError listing every problem
    return _register(session, loaded, text, source_name, actor, state)


def _register(session: Session, loaded: StandardsSet, text: str, source_name: str, actor: Actor,
              state: str) -> StandardsVersion:
    existing = session.exec(select(StandardsVersion).where(
        StandardsVersion.set_id == loaded.id, StandardsVersion.version == loaded.version)).first()
    if existing is not None:
        if existing.content_hash != loaded.content_hash:
            raise ServiceError(
                f"{loaded.id} {loaded.version} is already registered with different content; "
                "give the changed file a new version")
        return existing
    version = StandardsVersion(
        set_id=loaded.id, version=loaded.version, title=loaded.title, content_hash=loaded.content_hash,
        source_name=source_name, source_text=text, effective_from=loaded.effective_from,
        state=state, published_at=utcnow() if state == "published" else None,
    )
    session.add(version)
    session.flush()
    audit(session, actor, "standards.registered", version,
          after=snapshot(version, "set_id", "version", "content_hash", "state"))
    if loaded.source == source_name:  # what ``parsed`` would make of it: a large set is not read twice
        with _parsed_lock:
            _parsed.setdefault(loaded.content_hash, loaded)
    return version


def latest_published(session: Session, set_id: str) -> Optional[StandardsVersion]:
    from packaging.version import Version

    versions = session.exec(select(StandardsVersion).where(
        StandardsVersion.set_id == set_id, StandardsVersion.state == "published")).all()
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
    audit(session, actor, "standards.state_changed", version, before=before,
          after=snapshot(version, "state", "published_at"))
    return version

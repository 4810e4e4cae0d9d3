"""A lead's preview of a new standards version: upload a draft of the alliance's set, then see what
moving the alliance's self-assessments to it would change, member by member, before anyone publishes it.

The preview is a dry run of a rescore (``app.services.rescore_runs``) limited to the lead's alliance: it
reads and scores, and stores nothing but the draft version.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from packaging.version import Version
from sqlmodel import Session, select

import rules
from rules import changes
from rules.diff import StandardsDiff, diff_standards
from rules.model import StandardsSet
from rules.yamlnodes import MAX_BYTES

from ..models import Alliance, StandardsVersion
from .common import Actor, NotFound, ServiceError
from .rescore_runs import Target, affected, dry_run
from .standards import latest_published, parsed, register_text


MAX_UPLOAD_BYTES = MAX_BYTES  # the largest standards file the engine reads
#: Report fields that make a member's line worth showing a lead.
AFFECTING = ("breaches_added", "breaches_resolved", "breaches_changed", "support_needs_added", "support_needs_resolved")


class DraftRefused(ServiceError):
    """An uploaded standards file that cannot be loaded; ``problems`` are ``FILE:LINE: message`` lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class Impact:
    """What moving an alliance's assessments to a version would change, before it is published."""

    version: StandardsVersion
    current: Optional[StandardsVersion]  # the alliance's latest published version
    diff: Optional[StandardsDiff]  # from ``current``, or None
    lines: list[dict]
    summary: changes.Summary
    standard_titles: dict[str, str]
    failures: list[dict]  # self-assessments the engine could not score against the version


@dataclass(frozen=True)
class Draft:
    """An uploaded standards file that loads: its text and the engine's model of it."""

    source: str
    filename: str
    loaded: StandardsSet


def read_draft(data: bytes, filename: str) -> Draft:
    """Load an uploaded standards file, or raise DraftRefused with its problems. It needs no database: the
    caller reads a file (up to a second for 1 MB) before it opens a transaction, so no one waits on it."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DraftRefused([f"{filename}:1: the file is larger than {MAX_UPLOAD_BYTES // 1024:,} KB"])
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DraftRefused([f"{filename}:1: the file is not UTF-8 text"]) from None
    try:
        loaded = rules.parse_standards(source, filename=filename)
    except rules.StandardsError as exc:
        raise DraftRefused(exc.problems) from None
    return Draft(source, filename, loaded)


def store_draft(session: Session, actor: Actor, alliance_id: int, draft: Draft) -> StandardsVersion:
    """Register a loaded standards file of the alliance's set as a draft version (the same content again
    finds the version already stored)."""
    alliance = session.get(Alliance, alliance_id)
    if alliance is None:
        raise NotFound(f"alliance {alliance_id} does not exist")
    loaded = draft.loaded
    if loaded.id != alliance.standards_set:
        raise DraftRefused([f"{draft.filename}:1: this file is standards set {loaded.id!r}; {alliance.name} "
                            f"accredits against {alliance.standards_set!r}"])
    return register_text(session, draft.source, draft.filename, actor, state="draft", loaded=loaded)


def impact(session: Session, alliance_id: int, version_id: int) -> Impact:
    """The dry run of moving this alliance's assessments to a version of its set (any state)."""
    alliance = session.get(Alliance, alliance_id)
    version = session.get(StandardsVersion, version_id)
    if alliance is None or version is None or version.set_id != alliance.standards_set:
        raise NotFound(f"standards version {version_id} does not exist")
    target = Target(version, parsed(version), None, alliance_id)
    lines, failures = dry_run(session, target, affected(session, target))
    for line in lines:
        line["affected"] = bool(line["outcome_changed"] or any(line[k] for k in AFFECTING))
    lines.sort(key=lambda line: (not line["outcome_changed"], line["organisation"], line["cycle"]))
    current = latest_published(session, alliance.standards_set)
    diff = None
    if current is not None and current.id != version.id:
        diff = diff_standards(parsed(current), target.standards)
    titles = {s.id: s.title for s in target.standards.standards}
    if current is not None:
        titles = {**{s.id: s.title for s in parsed(current).standards}, **titles}
    return Impact(version, current, diff, lines, changes.summarise(lines), titles, failures)


def versions_of(session: Session, alliance_id: int) -> list[StandardsVersion]:
    """The versions of the alliance's standards set, newest first."""
    alliance = session.get(Alliance, alliance_id)
    if alliance is None:
        return []
    found = session.exec(select(StandardsVersion).where(StandardsVersion.set_id == alliance.standards_set)).all()
    return sorted(found, key=lambda v: Version(v.version), reverse=True)

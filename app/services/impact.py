"""A lead's preview of a new standards version: upload a draft of the alliance's set, then see what
moving the alliance's self-assessments to it would change, member by member, before anyone publishes it.

A draft is an uploaded standards file, or a CISO Assistant framework library converted into one
(``rules.library_import``, the same conversion as ``cli.py standards import``). The preview is a dry run of a
rescore (``app.services.rescore_runs``) limited to the lead's alliance: it reads and scores, and stores
nothing but the draft version. It comes with an outline of the version (its size, criterion types,
frameworks, and the library it was imported from) and the diff from the published version.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

from packaging.version import InvalidVersion, Version
from sqlmodel import Session, col, select

import rules
from rules import changes
from rules.diff import KINDS, StandardsDiff, diff_standards
from rules.library_import import LibraryError, convert_library, read_library
from rules.model import SourceLibrary, StandardsSet
from rules.yamlnodes import MAX_BYTES

from ..models import Alliance, Assessment, AssessmentCycle, StandardsVersion, User
from .common import Actor, NotFound, ServiceError
from .rescore_runs import Target, affected, dry_run
from .standards import delete_draft as remove_draft
from .standards import latest_published, parsed, register_text, registered_by

MAX_UPLOAD_BYTES = MAX_BYTES  # the largest standards file the engine reads
#: A framework library is larger than the standards file made of it (translations, controls, threats...).
MAX_LIBRARY_BYTES = 4 * 1024 * 1024
#: Drafts the leads of one alliance may hold at once (each is a version number nobody else can publish).
MAX_DRAFTS = 10
#: Report fields that make a member's line worth showing a lead.
AFFECTING = ("breaches_added", "breaches_resolved", "breaches_changed", "support_needs_added", "support_needs_resolved")


class DraftRefused(ServiceError):
    """An uploaded standards file that cannot be loaded; ``problems`` are ``FILE:LINE: message`` lines.

    ``field`` is the form field the problems are about: None for the uploaded file, else ``set_id`` or
    ``version`` (a library import's other fields).
    """

    def __init__(self, problems: list[str], field: Optional[str] = None):
        self.problems = problems
        self.field = field
        super().__init__("; ".join(problems))


@dataclass
class Outline:
    """What a version holds, at a glance: its size, its kinds of question, frameworks and origin."""

    domains: int
    standards: int
    criteria: int
    types: dict[str, int]  # criterion type -> count, in the model's order of types
    conditional: int  # criteria asked only under a condition (``when``)
    frameworks: list[tuple[str, str, int]]  # (id, title, refs mapped to it)
    source: Optional[SourceLibrary]


@dataclass
class DiffCounts:
    """How many items of each kind the diff adds, removes and changes (for a diff too long to read whole), and
    the diff as text."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> change -> count
    lines: list[str] = field(default_factory=list)


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
    outline: Optional[Outline] = None
    diff_counts: Optional[DiffCounts] = None
    cycle: Optional[AssessmentCycle] = None  # the cycle whose self-assessments it rescores (None: every cycle)

    @property
    def members(self) -> int:
        """Distinct memberships among the self-assessments rescored (a member with two cycles counts once)."""
        return len({member_key(line) for line in self.lines})

    @property
    def members_changed(self) -> int:
        """Distinct memberships with a self-assessment whose outcome changes."""
        return len({member_key(line) for line in self.lines if line["outcome_changed"]})


def member_key(line: dict) -> object:
    """The membership a report line is about (lines kept before they named it: its organisation and route)."""
    return line.get("membership_id") or (line["organisation"], line["membership"])


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
        raise DraftRefused(
            [
                f"{draft.filename}:1: this file is standards set {loaded.id!r}; {alliance.name} "
                f"accredits against {alliance.standards_set!r}"
            ]
        )
    held = len(drafts_of(session, alliance_id))
    if held >= MAX_DRAFTS and not _already_stored(session, loaded):
        raise DraftRefused(
            [
                f"{draft.filename}:1: {alliance.name} already has {held} draft versions, the most it can "
                "hold: delete a draft you no longer need, then upload this file again"
            ]
        )
    try:
        return register_text(session, draft.source, draft.filename, actor, state="draft", loaded=loaded)
    except ServiceError as exc:  # the version number is taken by other content
        raise DraftRefused([f"{draft.filename}:1: {exc}"]) from None


def _already_stored(session: Session, loaded: rules.StandardsSet) -> bool:
    return (
        session.exec(
            select(StandardsVersion.id).where(
                StandardsVersion.set_id == loaded.id,
                StandardsVersion.version == loaded.version,
                StandardsVersion.content_hash == loaded.content_hash,
            )
        ).first()
        is not None
    )


def drafts_of(session: Session, alliance_id: int) -> list[StandardsVersion]:
    """The draft versions the alliance's leads uploaded (what ``MAX_DRAFTS`` bounds)."""
    return list(
        session.exec(
            select(StandardsVersion)
            .join(User, User.id == StandardsVersion.created_by)
            .where(StandardsVersion.state == "draft", User.alliance_id == alliance_id)
        ).all()
    )


def delete_draft(session: Session, actor: Actor, alliance_id: int, version_id: int) -> StandardsVersion:
    """A lead deletes a draft of the alliance's set that they uploaded (``standards.delete_draft``)."""
    alliance = session.get(Alliance, alliance_id)
    version = session.get(StandardsVersion, version_id)
    if alliance is None or version is None or version.set_id != alliance.standards_set:
        raise NotFound(f"standards version {version_id} does not exist")
    return remove_draft(session, actor, version_id)


#: Self-assessments scored between two progress reports of a preview.
STEP = 20
#: ``progress(done, total)``: called before the first step and after each.
Progress = Callable[[int, int], None]


def _version_of(session: Session, alliance_id: int, version_id: int) -> tuple[Alliance, StandardsVersion]:
    alliance = session.get(Alliance, alliance_id)
    version = session.get(StandardsVersion, version_id)
    if alliance is None or version is None or version.set_id != alliance.standards_set:
        raise NotFound(f"standards version {version_id} does not exist")
    return alliance, version


def fingerprint(session: Session, alliance_id: int, version_id: int, cycle_id: Optional[int] = None) -> str:
    """What a stored preview of the version depends on: its content, the published version it is compared
    with, and the cycle it covers. A preview whose fingerprint differs is out of date."""
    alliance, version = _version_of(session, alliance_id, version_id)
    current = latest_published(session, alliance.standards_set)
    return f"{version.content_hash}:{current.id if current is not None else 0}:{cycle_id or 'all'}"


def cycle_for(session: Session, alliance_id: int, cycle_id: Optional[int]) -> Optional[AssessmentCycle]:
    """One of the alliance's cycles (another's is NotFound), or None for every cycle."""
    if cycle_id is None:
        return None
    cycle = session.get(AssessmentCycle, cycle_id)
    if cycle is None or cycle.alliance_id != alliance_id:
        raise NotFound(f"cycle {cycle_id} does not exist")
    return cycle


def report(
    session: Session,
    alliance_id: int,
    version_id: int,
    progress: Optional[Progress] = None,
    cycle_id: Optional[int] = None,
) -> tuple[list[dict], list[dict]]:
    """The dry run's report lines and failures for the alliance's assessments (of one cycle, or all), ``STEP``
    at a time, telling ``progress`` how many of how many are done. Each line names its membership."""
    alliance, version = _version_of(session, alliance_id, version_id)
    cycle = cycle_for(session, alliance_id, cycle_id)
    target = Target(version, parsed(version), cycle.name if cycle else None, alliance_id)
    ids = affected(session, target)
    lines: list[dict] = []
    failures: list[dict] = []
    if progress is not None:
        progress(0, len(ids))
    for start in range(0, len(ids), STEP):
        chunk = ids[start : start + STEP]
        found, failed = dry_run(session, target, chunk)
        memberships = dict(
            session.exec(select(Assessment.id, Assessment.membership_id).where(col(Assessment.id).in_(chunk))).all()
        )
        for line in found:
            line["membership_id"] = memberships.get(line["assessment"])
        lines += found
        failures += failed
        if progress is not None:
            progress(min(start + STEP, len(ids)), len(ids))
    return lines, failures


def assemble(
    session: Session,
    alliance_id: int,
    version_id: int,
    lines: list[dict],
    failures: list[dict],
    cycle_id: Optional[int] = None,
) -> Impact:
    """The preview of a version from its dry run's report: the summary, the outline and the diff."""
    alliance, version = _version_of(session, alliance_id, version_id)
    cycle = cycle_for(session, alliance_id, cycle_id)
    standards = parsed(version)
    lines = [dict(line) for line in lines]
    for line in lines:
        line["affected"] = bool(line["outcome_changed"] or any(line[k] for k in AFFECTING))
    lines.sort(key=lambda line: (not line["outcome_changed"], line["organisation"], line["cycle"]))
    current = latest_published(session, alliance.standards_set)
    diff = None
    if current is not None and current.id != version.id:
        diff = diff_standards(parsed(current), standards)
    titles = {s.id: s.title for s in standards.standards}
    if current is not None:
        titles = {**{s.id: s.title for s in parsed(current).standards}, **titles}
    return Impact(
        version,
        current,
        diff,
        lines,
        changes.summarise(lines),
        titles,
        list(failures),
        outline_of(standards),
        diff_counts(diff) if diff is not None else None,
        cycle,
    )


def impact(
    session: Session,
    alliance_id: int,
    version_id: int,
    progress: Optional[Progress] = None,
    cycle_id: Optional[int] = None,
) -> Impact:
    """The dry run of moving this alliance's assessments (of one cycle, or all) to a version of its set (any
    state), computed now (the web page keeps one computed by a job: ``services/previews.py``)."""
    lines, failures = report(session, alliance_id, version_id, progress, cycle_id)
    return assemble(session, alliance_id, version_id, lines, failures, cycle_id)


def outline_of(standards: StandardsSet) -> Outline:
    """The outline of a loaded version."""
    kinds = Counter(c.type for c in standards.criteria)
    return Outline(
        domains=len(standards.domains),
        standards=len(standards.standards),
        criteria=len(standards.criteria),
        types={kind: kinds[kind] for kind in rules.model.CRITERION_TYPES if kinds[kind]},
        conditional=sum(1 for c in standards.criteria if c.when is not None),
        frameworks=[(f.id, f.title, len(standards.mapped_refs[f.id])) for f in standards.frameworks],
        source=standards.source_library,
    )


def diff_counts(diff: StandardsDiff) -> DiffCounts:
    found = DiffCounts(lines=diff.lines())
    for kind in KINDS:
        counted = Counter(item.change for item in diff.of(kind))
        if counted:
            found.counts[kind] = {change: counted[change] for change in ("added", "removed", "changed")}
    return found


@dataclass(frozen=True)
class LibraryTarget:
    """What converting a library for an alliance needs to know of it, read before the conversion."""

    alliance_id: int
    name: str
    standards_set: str


def library_target(session: Session, alliance_id: int) -> LibraryTarget:
    """The alliance a library is imported for (a short read: the conversion runs outside any transaction)."""
    alliance = session.get(Alliance, alliance_id)
    if alliance is None:
        raise NotFound(f"alliance {alliance_id} does not exist")
    return LibraryTarget(alliance.id, alliance.name, alliance.standards_set)


def read_library_draft(data: bytes, filename: str, set_id: str, version: str, target: LibraryTarget) -> Draft:
    """Convert an uploaded CISO Assistant framework library into version ``version`` of the alliance's set, as
    ``cli.py standards import`` does, and load it; or raise DraftRefused with its problems. It needs no
    database: the caller converts (seconds for a large library) before it opens a transaction, then stores the
    draft with ``store_library_draft``. The draft takes effect today until the file says otherwise."""
    set_id, version = set_id.strip(), version.strip()
    if set_id != target.standards_set:
        raise DraftRefused(
            [
                f"{target.name} accredits against standards set {target.standards_set!r}, not "
                f"{set_id!r}: import the library as a version of {target.standards_set!r}"
            ],
            "set_id",
        )
    try:
        Version(version)
    except InvalidVersion:
        raise DraftRefused(
            [f"version {version!r} does not sort as a version: write it like 2026.2"], "version"
        ) from None
    if len(data) > MAX_LIBRARY_BYTES:
        raise DraftRefused(
            [
                f"{filename}:1: the library is larger than {MAX_LIBRARY_BYTES // (1024 * 1024)} MB; "
                "import it with `python cli.py standards import` and upload the standards file"
            ]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DraftRefused([f"{filename}:1: the file is not UTF-8 text"]) from None
    try:
        imported = convert_library(
            read_library(text, filename), set_id, version, filename=filename, alliance=target.name
        )
    except LibraryError as exc:
        raise DraftRefused(exc.problems) from None
    name = f"{set_id}-{version}.yaml"
    try:
        loaded = rules.parse_standards(imported.text, filename=name)
    except rules.StandardsError as exc:  # the converter writes only valid files: say so if it ever does not
        raise DraftRefused([f"{filename}: the converted standards file is not valid:", *exc.problems]) from None
    return Draft(imported.text, name, loaded)


def store_library_draft(session: Session, actor: Actor, target: LibraryTarget, draft: Draft) -> StandardsVersion:
    """Register a converted library (``read_library_draft``) as a draft version of the alliance's set (the same
    content again finds the version already stored)."""
    alliance = session.get(Alliance, target.alliance_id)
    if alliance is None:
        raise NotFound(f"alliance {target.alliance_id} does not exist")
    if draft.loaded.id != alliance.standards_set:  # the alliance's set changed since the library was converted
        raise DraftRefused(
            [f"{alliance.name} accredits against standards set {alliance.standards_set!r}, not {draft.loaded.id!r}"],
            "set_id",
        )
    held = len(drafts_of(session, alliance.id))
    if held >= MAX_DRAFTS and not _already_stored(session, draft.loaded):
        raise DraftRefused(
            [
                f"{alliance.name} already has {held} draft versions, the most it can hold: delete a "
                "draft you no longer need, then import the library again"
            ]
        )
    try:
        return register_text(session, draft.source, draft.filename, actor, state="draft", loaded=draft.loaded)
    except ServiceError as exc:  # the version number is taken by other content
        raise DraftRefused([str(exc)], "version") from None


def import_draft(
    session: Session, actor: Actor, alliance_id: int, data: bytes, filename: str, set_id: str, version: str
) -> StandardsVersion:
    """A library converted and stored in one go, in the caller's transaction (the command line's way; a web
    request converts first with ``read_library_draft``, then stores in a short transaction)."""
    target = library_target(session, alliance_id)
    return store_library_draft(session, actor, target, read_library_draft(data, filename, set_id, version, target))


@dataclass(frozen=True)
class VersionLine:
    """A version of the alliance's set as the lead's list shows it."""

    version: StandardsVersion
    registered_by: str


def versions_of(session: Session, alliance_id: int) -> list[VersionLine]:
    """The versions of the alliance's standards set, newest first, with who registered each."""
    alliance = session.get(Alliance, alliance_id)
    if alliance is None:
        return []
    found = session.exec(select(StandardsVersion).where(StandardsVersion.set_id == alliance.standards_set)).all()
    return [
        VersionLine(v, registered_by(session, v)) for v in sorted(found, key=lambda v: Version(v.version), reverse=True)
    ]

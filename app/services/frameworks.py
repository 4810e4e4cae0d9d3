"""How results evidence the frameworks their standards are mapped to (schema 2 ``frameworks`` and ``maps_to``):
one result's refs with their status and the standards behind each, an alliance's summary per framework over its
members' latest results, and the per-framework evidence export ("our CQC evidence").

A ref's status is the engine's (the result's ``mapped`` key); nothing here decides it again. A member's latest
result is the current result of its latest submitted self-assessment (by cycle), read with the standards version
it was scored against. The alliance's frameworks and refs are those of its current standards version (the latest
published); a member whose result does not map a ref (scored against a version without it) counts as not assessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sqlmodel import Session, select

from rules.model import Framework, Standard, StandardsSet

from ..models import Alliance, Assessment, AssessmentCycle, AssessmentResult, Membership, Organisation, StandardsVersion
from .common import NotFound
from .standards import latest_published, parsed

MAPPED_STATUSES = ("met", "not_met", "not_assessed")


# -- one result -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappedRef:
    """One ref of a framework the standards are mapped to, how it stands, and the standards behind it."""

    ref: str
    status: str  # met, not_met or not_assessed
    standards: list[tuple[Standard, str]]  # each mapped standard with its status in this result


@dataclass(frozen=True)
class FrameworkLine:
    framework: Framework
    refs: list[MappedRef]


def framework_lines(standards: StandardsSet, result: dict[str, Any]) -> list[FrameworkLine]:
    """Every framework of the standards, in the file's order, with the refs the result maps and their status."""
    mapped = result.get("mapped") or {}
    by_id = {s.id: s for s in standards.standards}
    statuses = result.get("standard_results") or {}
    lines = []
    for framework in standards.frameworks:
        refs = [
            MappedRef(
                ref,
                status,
                [
                    (by_id[sid], (statuses.get(sid) or {}).get("status", "not_applicable"))
                    for sid in standards.mapped_refs.get(framework.id, {}).get(ref, ())
                    if sid in by_id
                ],
            )
            for ref, status in (mapped.get(framework.id) or {}).items()
        ]
        lines.append(FrameworkLine(framework, refs))
    return lines


# -- members' latest results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberEvidence:
    """A member's latest result and what it evidences for each framework of the version it was scored against."""

    membership: Membership
    organisation: Organisation
    assessment: Assessment
    cycle: AssessmentCycle
    result: AssessmentResult
    version: StandardsVersion
    lines: list[FrameworkLine]

    def line(self, framework_id: str) -> Optional[FrameworkLine]:
        return next((line for line in self.lines if line.framework.id == framework_id), None)


def latest_evidence(session: Session, alliance_id: int, membership_id: Optional[int] = None) -> list[MemberEvidence]:
    """Each membership of the alliance (or only ``membership_id``) with a submitted, scored self-assessment: its
    latest one's current result, by organisation name."""
    query = (
        select(Assessment, Membership, Organisation, AssessmentCycle, AssessmentResult)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .join(
            AssessmentResult,
            (AssessmentResult.assessment_id == Assessment.id) & (AssessmentResult.is_current == True),  # noqa: E712
        )
        .where(Membership.alliance_id == alliance_id, Assessment.status != "draft")
    )
    if membership_id is not None:
        query = query.where(Membership.id == membership_id)
    latest: dict[int, tuple] = {}
    for row in session.exec(query).all():
        assessment, membership, _, cycle, _ = row
        kept = latest.get(membership.id)
        if kept is None or (cycle.opens_on, assessment.id) > (kept[3].opens_on, kept[0].id):
            latest[membership.id] = row
    versions: dict[int, StandardsVersion] = {}
    found = []
    for assessment, membership, organisation, cycle, result in latest.values():
        version = versions.get(result.standards_version_id)
        if version is None:
            version = versions[result.standards_version_id] = session.get(StandardsVersion, result.standards_version_id)
        lines = framework_lines(parsed(version), result.result)
        found.append(MemberEvidence(membership, organisation, assessment, cycle, result, version, lines))
    found.sort(key=lambda e: (e.organisation.name.lower(), e.membership.id))
    return found


# -- an alliance's summary --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefSummary:
    ref: str
    standards: list[Standard]  # behind the ref, in the current version
    counts: dict[str, int]  # met, not_met, not_assessed -> members
    members: dict[str, list[Organisation]]  # the same, the members by name


@dataclass(frozen=True)
class FrameworkSummary:
    framework: Framework
    refs: list[RefSummary]
    members: int  # members with a submitted, scored self-assessment
    memberships: int  # all memberships of the alliance


def current_standards(session: Session, alliance_id: Optional[int]) -> Optional[StandardsSet]:
    """The alliance's current standards version (the latest published of its set), parsed."""
    alliance = session.get(Alliance, alliance_id) if alliance_id is not None else None
    version = latest_published(session, alliance.standards_set) if alliance is not None else None
    return parsed(version) if version is not None else None


def alliance_summaries(session: Session, alliance_id: int) -> list[FrameworkSummary]:
    """For each framework of the alliance's current standards, per ref: how many members' latest results meet
    it, do not, or do not assess it, and the standards behind it."""
    standards = current_standards(session, alliance_id)
    if standards is None or not standards.frameworks:
        return []
    evidence = latest_evidence(session, alliance_id)
    total = len(session.exec(select(Membership.id).where(Membership.alliance_id == alliance_id)).all())
    return [_summary(standards, framework, evidence, total) for framework in standards.frameworks]


def alliance_summary(session: Session, alliance_id: Optional[int], framework_id: str) -> FrameworkSummary:
    """One framework of the alliance's current standards, summarised; any other is not found."""
    standards = current_standards(session, alliance_id)
    framework = next((f for f in standards.frameworks if f.id == framework_id), None) if standards else None
    if framework is None or alliance_id is None:
        raise NotFound(f"framework {framework_id} is not mapped in the alliance's standards")
    total = len(session.exec(select(Membership.id).where(Membership.alliance_id == alliance_id)).all())
    return _summary(standards, framework, latest_evidence(session, alliance_id), total)


def _summary(
    standards: StandardsSet, framework: Framework, evidence: list[MemberEvidence], total: int
) -> FrameworkSummary:
    by_id = {s.id: s for s in standards.standards}
    refs = []
    for ref, standard_ids in standards.mapped_refs.get(framework.id, {}).items():
        members: dict[str, list[Organisation]] = {status: [] for status in MAPPED_STATUSES}
        for item in evidence:
            status = ((item.result.result.get("mapped") or {}).get(framework.id) or {}).get(ref, "not_assessed")
            members.setdefault(status, []).append(item.organisation)
        refs.append(
            RefSummary(
                ref,
                [by_id[sid] for sid in standard_ids if sid in by_id],
                {status: len(members[status]) for status in MAPPED_STATUSES},
                members,
            )
        )
    return FrameworkSummary(framework, refs, len(evidence), total)


# -- the export -------------------------------------------------------------------------------------------------

COLUMNS = [
    "member",
    "ods_code",
    "assessment_id",
    "cycle",
    "standards_version",
    "framework",
    "framework_title",
    "ref",
    "status",
    "standards",
]


@dataclass(frozen=True)
class Evidence:
    """The rows of a per-framework export: one per (member, ref)."""

    framework: Framework
    columns: list[str]
    rows: list[dict[str, Any]]


def evidence_rows(framework: Framework, evidence: list[MemberEvidence]) -> Evidence:
    """One row per member and ref of the framework in the member's latest result, with the standards behind the
    ref and each one's outcome (a list in JSON; "C1 Clinical leadership: met; ..." in CSV)."""
    rows = []
    for item in evidence:
        line = item.line(framework.id)
        for mapped in line.refs if line else []:
            rows.append(
                {
                    "member": item.organisation.name,
                    "ods_code": item.organisation.ods_code,
                    "assessment_id": item.assessment.id,
                    "cycle": item.cycle.name,
                    "standards_version": item.version.version,
                    "framework": framework.id,
                    "framework_title": framework.title,
                    "ref": mapped.ref,
                    "status": mapped.status,
                    "standards": [
                        {"id": standard.id, "title": standard.title, "status": status}
                        for standard, status in mapped.standards
                    ],
                }
            )
    return Evidence(framework, list(COLUMNS), rows)


def _framework(standards: Optional[StandardsSet], framework_id: str) -> Framework:
    framework = next((f for f in standards.frameworks if f.id == framework_id), None) if standards else None
    if framework is None:
        raise NotFound(f"framework {framework_id} is not mapped in the alliance's standards")
    return framework


def lead_evidence(session: Session, alliance_id: Optional[int], framework_id: str) -> Evidence:
    """Every member of the lead's alliance, from its latest result, for one framework of the current standards."""
    if alliance_id is None:
        raise NotFound(f"framework {framework_id} is not mapped in the alliance's standards")
    framework = _framework(current_standards(session, alliance_id), framework_id)
    return evidence_rows(framework, latest_evidence(session, alliance_id))


def member_evidence(session: Session, membership: Membership, framework_id: str) -> Evidence:
    """One membership's own latest result for one framework of its alliance's current standards (the caller has
    checked the membership is the member's own: ``portal.own_membership``)."""
    framework = _framework(current_standards(session, membership.alliance_id), framework_id)
    return evidence_rows(framework, latest_evidence(session, membership.alliance_id, membership.id))

"""What an API token reads and writes, with the same rules as the pages.

An organisation's token acts as a member user of that organisation: its own memberships, assessments
(drafts too), results and buddying pairs, through ``portal``. An alliance's token acts as that alliance's
lead: every membership and submitted assessment of the alliance, through ``review``, and it never answers
for a member. Anything outside the scope is ``NotFound``, exactly as if it did not exist.

The token itself (issuing, revoking, authenticating, its ``TokenScope``) is ``api_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sqlmodel import Session, col, select

from rules.model import StandardsSet

from ..models import (
    Alliance,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    BuddyAssignment,
    Evidence,
    Membership,
    Organisation,
    StandardsVersion,
)
from ..uploads import UploadStore
from . import portal, review
from .api_tokens import TokenScope
from .assessments import AssessmentContext, SaveOutcome, answers_of, require_editable, save_answers
from .buddying import board
from .common import NotFound, ServiceError, get_or_404
from .evidence import add_evidence, attach_file, check_evidence, detach_file, evidence_of, one_evidence
from .questions import NotAsked, not_asked
from .results import ResultView, result_view
from .scoring import current_result
from .standards import parsed
from .submission import missing_for_submission, submit
from .teams import Attestation


class MemberOnly(ServiceError):
    """A write only a member organisation's token may make (an alliance's lead never answers for a member)."""


# -- standards -------------------------------------------------------------------------------------------------


def _used_versions(session: Session, scope: TokenScope) -> set[int]:
    return {line.assessment.standards_version_id for line in assessments(session, scope)}


def standards_versions(session: Session, scope: TokenScope) -> list[StandardsVersion]:
    """The versions a token may read: published and retired versions of the sets its pages show (every open
    alliance's for a member, as on the apply page; its own alliance's for a lead), and any its assessments use."""
    if scope.organisation_id is not None:
        sets = {a.standards_set for a in session.exec(select(Alliance)).all()}
    else:
        sets = {get_or_404(session, Alliance, scope.alliance_id, "alliance").standards_set}
    used = _used_versions(session, scope)
    rows = session.exec(
        select(StandardsVersion).where(
            (col(StandardsVersion.set_id).in_(sets or {""}) & col(StandardsVersion.state).in_(("published", "retired")))
            | col(StandardsVersion.id).in_(used or {-1})
        )
    ).all()
    return sorted(rows, key=lambda v: (v.set_id, v.effective_from, v.id))


def standards_version(session: Session, scope: TokenScope, version_id: int) -> tuple[StandardsVersion, StandardsSet]:
    found = next((v for v in standards_versions(session, scope) if v.id == version_id), None)
    if found is None:
        raise NotFound(f"standards version {version_id} not found")
    return found, parsed(found)


# -- memberships and assessments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipLine:
    membership: Membership
    organisation: Organisation
    alliance: Alliance


def memberships(session: Session, scope: TokenScope) -> list[MembershipLine]:
    if scope.organisation_id is not None:
        organisation = portal.get_organisation(session, scope.organisation_id)
        return [
            MembershipLine(row.membership, organisation, row.alliance)
            for row in portal.memberships_of(session, scope.organisation_id)
        ]
    alliance = get_or_404(session, Alliance, scope.alliance_id, "alliance")
    rows = session.exec(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.alliance_id == alliance.id)
        .order_by(col(Organisation.name), col(Membership.id))
    ).all()
    return [MembershipLine(m, o, alliance) for m, o in rows]


@dataclass(frozen=True)
class AssessmentLine:
    assessment: Assessment
    membership: Membership
    organisation: Organisation
    cycle: AssessmentCycle
    result: Optional[AssessmentResult]


def assessments(session: Session, scope: TokenScope) -> list[AssessmentLine]:
    """A member's own assessments (newest cycle first), or the alliance's submitted ones (the lead's queue)."""
    if scope.organisation_id is not None:
        organisation = portal.get_organisation(session, scope.organisation_id)
        return [
            AssessmentLine(
                row.assessment, line.membership, organisation, row.cycle, current_result(session, row.assessment.id)
            )
            for line in portal.memberships_of(session, scope.organisation_id)
            for row in line.assessments
        ]
    rows = session.exec(
        select(Assessment, Membership, Organisation, AssessmentCycle, AssessmentResult)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .outerjoin(
            AssessmentResult,
            (AssessmentResult.assessment_id == Assessment.id) & (AssessmentResult.is_current == True),  # noqa: E712
        )
        .where(Membership.alliance_id == scope.alliance_id, Assessment.status != "draft")
        .order_by(col(Assessment.submitted_at), col(Assessment.id))
    ).all()
    return [AssessmentLine(a, m, o, c, r) for a, m, o, c, r in rows]


def assessment(session: Session, scope: TokenScope, assessment_id: int) -> AssessmentContext:
    if scope.organisation_id is not None:
        return portal.own_assessment(session, scope.organisation_id, assessment_id)
    return review.lead_assessment(session, scope.alliance_id, assessment_id)


@dataclass(frozen=True)
class AssessmentDetail:
    ctx: AssessmentContext
    cycle: AssessmentCycle
    result: Optional[AssessmentResult]
    answers: dict[str, Any]
    missing: list[dict[str, str]]  # what submission still needs (drafts only)
    not_asked: dict[str, NotAsked]  # conditional criteria the answers leave unasked (their answers are kept)


def assessment_detail(session: Session, scope: TokenScope, assessment_id: int) -> AssessmentDetail:
    ctx = assessment(session, scope, assessment_id)
    draft = ctx.assessment.status == "draft"
    answers = answers_of(session, assessment_id)
    return AssessmentDetail(
        ctx,
        get_or_404(session, AssessmentCycle, ctx.assessment.cycle_id),
        current_result(session, assessment_id),
        answers,
        missing_for_submission(session, ctx) if draft else [],
        not_asked(ctx, answers),
    )


def result(
    session: Session, scope: TokenScope, assessment_id: int, min_peers: int
) -> tuple[AssessmentContext, ResultView]:
    """The stored result of a submitted assessment, or a draft's provisional score (as the result page shows)."""
    ctx = assessment(session, scope, assessment_id)
    return ctx, result_view(session, ctx, min_peers)


def evidence(session: Session, scope: TokenScope, assessment_id: int) -> list[Evidence]:
    """The evidence of an assessment the token may read (as the member's or the lead's pages list it)."""
    assessment(session, scope, assessment_id)
    return evidence_of(session, assessment_id)


def evidence_item(session: Session, scope: TokenScope, assessment_id: int, evidence_id: int) -> Evidence:
    """One evidence item, reached only through an assessment the token may read."""
    assessment(session, scope, assessment_id)
    return one_evidence(session, assessment_id, evidence_id)


# -- buddying ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairView:
    line: board.PairLine
    role: Optional[str]  # for a member: "mentee" (its buddy) or "buddy" (a member it buddies); None for a lead


def pairs(session: Session, scope: TokenScope) -> list[PairView]:
    """A member's pairs with a buddy (as its home page shows them), or every pair of the lead's alliance."""
    if scope.organisation_id is not None:
        buddies, buddying_for = board.organisation_pairs(session, scope.organisation_id)
        return [PairView(line, "mentee") for line in buddies] + [PairView(line, "buddy") for line in buddying_for]
    found = session.exec(
        select(BuddyAssignment)
        .where(BuddyAssignment.alliance_id == scope.alliance_id)
        .order_by(col(BuddyAssignment.id))
    ).all()
    return [PairView(line, None) for line in board.pair_lines(session, list(found))]


# -- writing ---------------------------------------------------------------------------------------------------


def _member_assessment(session: Session, scope: TokenScope, assessment_id: int) -> AssessmentContext:
    if scope.organisation_id is None:
        raise MemberOnly(
            "only a member organisation's token can answer, submit or change the evidence of its self-assessment"
        )
    return portal.own_assessment(session, scope.organisation_id, assessment_id)


def save(
    session: Session, scope: TokenScope, assessment_id: int, answers: dict[str, Any], notes: dict[str, str]
) -> SaveOutcome:
    """Save a member's answers: valid ones are stored, each refused one is reported by criterion."""
    _member_assessment(session, scope, assessment_id)
    return save_answers(session, scope.actor, assessment_id, answers, notes)


def submit_for_review(
    session: Session, scope: TokenScope, assessment_id: int, attestation: Attestation
) -> AssessmentResult:
    """Submit a member's draft with the attestation the call carries (``SubmissionRefused`` lists everything
    still missing; ``teams.AttestationRefused`` names each attestation field at fault)."""
    _member_assessment(session, scope, assessment_id)
    return submit(session, scope.actor, assessment_id, attestation)


def status_of(session: Session, scope: TokenScope, assessment_id: int) -> str:
    return assessment(session, scope, assessment_id).assessment.status


def evidence_writable(session: Session, scope: TokenScope, assessment_id: int) -> None:
    """Refuse an evidence change before its request is read: a member's token, its own assessment, a draft."""
    require_editable(_member_assessment(session, scope, assessment_id).assessment)


def add_link(
    session: Session, scope: TokenScope, assessment_id: int, criterion_id: str, url: str, note: str = ""
) -> Evidence:
    """Link evidence to a criterion of a member's draft (``EvidenceRefused`` names the part at fault)."""
    _member_assessment(session, scope, assessment_id)
    return add_evidence(session, scope.actor, assessment_id, criterion_id, kind="link", url=url, note=note)


def add_file(
    session: Session,
    scope: TokenScope,
    assessment_id: int,
    criterion_id: str,
    *,
    data: Any,
    filename: str,
    content_type: Optional[str],
    note: str,
    store: UploadStore,
) -> Evidence:
    """Store a file as evidence for a criterion of a member's draft. The draft and the criterion are checked
    before the file is stored; the store refuses types and sizes it does not take (``UploadRefused``)."""
    ctx = _member_assessment(session, scope, assessment_id)
    check_evidence(ctx, criterion_id, note)
    return attach_file(
        session,
        scope.actor,
        assessment_id,
        criterion_id,
        data=data,
        filename=filename,
        content_type=content_type,
        note=note,
        store=store,
    )


def remove_evidence(
    session: Session, scope: TokenScope, assessment_id: int, evidence_id: int, store: UploadStore
) -> Evidence:
    """Take evidence off a member's draft; a stored file goes once the removal commits."""
    _member_assessment(session, scope, assessment_id)
    one_evidence(session, assessment_id, evidence_id)
    return detach_file(session, scope.actor, evidence_id, store=store)

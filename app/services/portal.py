"""What a member organisation sees of its own world: its memberships, assessments and applicable standards.

Every lookup here is scoped to one organisation: asking for another
organisation's membership or assessment is ``NotFound``, exactly as if it did
not exist, so nobody learns what other members have.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Optional

from sqlmodel import Session, col, select

from rules.model import CoreOffer, Domain, Standard, StandardsSet

from ..models import (
    Alliance,
    Assessment,
    AssessmentCycle,
    AuditEvent,
    Evidence,
    Membership,
    Organisation,
    StandardsVersion,
    User,
    utcnow,
)
from .accounts import create_user
from .alliances import cycles_of
from .assessments import AssessmentContext, SaveOutcome, answers_of, context, open_assessment, save_answers
from .common import Actor, NotFound, ServiceError
from .evidence import one_evidence
from .frameworks import Evidence as FrameworkEvidence
from .frameworks import member_evidence
from .membership import register_organisation
from .standards import latest_published, parsed


def register_applicant(session: Session, actor: Actor, *, organisation: dict, user: dict) -> tuple[Organisation, User]:
    """An organisation and its first member user, together or not at all (the caller's transaction)."""
    created = register_organisation(session, actor, **organisation)
    account = create_user(session, actor, role="member", organisation_id=created.id, **user)
    return created, account


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    found = session.get(Organisation, organisation_id)
    if found is None:
        raise NotFound("organisation not found")
    return found


def own_membership(session: Session, organisation_id: int, membership_id: int) -> Membership:
    membership = session.get(Membership, membership_id)
    if membership is None or membership.organisation_id != organisation_id:
        raise NotFound(f"membership {membership_id} not found")
    return membership


def own_assessment(session: Session, organisation_id: int, assessment_id: int) -> AssessmentContext:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"assessment {assessment_id} not found")
    own_membership(session, organisation_id, assessment.membership_id)
    return context(session, assessment_id)


def own_framework_evidence(
    session: Session, organisation_id: int, membership_id: int, framework_id: str
) -> FrameworkEvidence:
    """What the organisation's own membership's latest submitted result evidences for one framework."""
    return member_evidence(session, own_membership(session, organisation_id, membership_id), framework_id)


def own_evidence(session: Session, organisation_id: int, assessment_id: int, evidence_id: int) -> Evidence:
    """Evidence of one of the organisation's assessments, reached through that assessment only."""
    own_assessment(session, organisation_id, assessment_id)
    return one_evidence(session, assessment_id, evidence_id)


@dataclass(frozen=True)
class Returned:
    """Why a draft is a draft again: the lead who returned it for changes, when, and what to change."""

    by: str
    at: dt.datetime
    note: str


def returns_of(session: Session, assessments: list[Assessment]) -> dict[int, Returned]:
    """The drafts among ``assessments`` that a lead returned for changes, each with its latest return (read from
    the audit log, where the return is recorded with its note)."""
    drafts = [a.id for a in assessments if a.status == "draft"]
    if not drafts:
        return {}
    events = session.exec(
        select(AuditEvent, User)
        .join(User, User.id == AuditEvent.actor_id, isouter=True)
        .where(
            AuditEvent.action == "assessment.returned",
            AuditEvent.entity_type == "assessment",
            col(AuditEvent.entity_id).in_(drafts),
        )
        .order_by(col(AuditEvent.occurred_at), col(AuditEvent.id))
    ).all()
    found: dict[int, Returned] = {}
    for event, user in events:
        note = (event.after or {}).get("note", "") if isinstance(event.after, dict) else ""
        found[event.entity_id] = Returned(user.name if user is not None else event.actor, event.occurred_at, note)
    return found


@dataclass(frozen=True)
class AssessmentRow:
    assessment: Assessment
    cycle: AssessmentCycle
    returned: Optional[Returned] = None


@dataclass(frozen=True)
class MembershipRow:
    membership: Membership
    alliance: Alliance
    assessments: list[AssessmentRow]


def memberships_of(session: Session, organisation_id: int) -> list[MembershipRow]:
    """The organisation's memberships with their assessments, newest cycle first."""
    rows = []
    memberships = session.exec(
        select(Membership)
        .where(Membership.organisation_id == organisation_id)
        .order_by(Membership.created_at, Membership.id)
    ).all()
    for membership in memberships:
        alliance = session.get(Alliance, membership.alliance_id)
        found = session.exec(
            select(Assessment, AssessmentCycle)
            .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
            .where(Assessment.membership_id == membership.id)
        ).all()
        returned = returns_of(session, [a for a, _ in found])
        assessments = [
            AssessmentRow(a, c, returned.get(a.id))
            for a, c in sorted(found, key=lambda row: row[1].opens_on, reverse=True)
        ]
        rows.append(MembershipRow(membership, alliance, assessments))
    return rows


@dataclass(frozen=True)
class AllianceOffer:
    """An alliance an organisation can apply to, with the standards it accredits against."""

    alliance: Alliance
    version: StandardsVersion
    standards: StandardsSet

    @property
    def specialties(self) -> list[str]:
        return specialties_named(self.standards)


def alliances_open(session: Session) -> list[AllianceOffer]:
    """Alliances with published standards (the ones an organisation can apply to), by name."""
    offers = []
    for alliance in session.exec(select(Alliance).order_by(Alliance.name)).all():
        version = latest_published(session, alliance.standards_set)
        if version is not None:
            offers.append(AllianceOffer(alliance, version, parsed(version)))
    return offers


def alliance_offer(session: Session, slug: str) -> AllianceOffer:
    for offer in alliances_open(session):
        if offer.alliance.slug == slug:
            return offer
    raise NotFound(f"alliance {slug} not found")


def specialties_named(standards: StandardsSet) -> list[str]:
    """The specialties the standards name in ``applies.specialties``, in file order."""
    seen: list[str] = []
    for standard in standards.standards:
        for specialty in standard.applies.specialties or ():
            if specialty not in seen:
                seen.append(specialty)
    return seen


def applicable_by_domain(
    standards: StandardsSet, route: str, specialty: Optional[str], org_type: Optional[str]
) -> list[tuple[Domain, list[Standard]]]:
    """The standards that apply to a member, grouped by domain (domains with none are left out)."""
    grouped = []
    for domain in standards.domains:
        applicable = [s for s in domain.standards if s.applies.covers(route, specialty, org_type)]
        if applicable:
            grouped.append((domain, applicable))
    return grouped


def core_offers(standards: StandardsSet, route: str) -> list[CoreOffer]:
    return [offer for offer in standards.core_proposition if offer.offered_to(route)]


def current_cycle(session: Session, alliance_id: int, today: Optional[dt.date] = None) -> Optional[AssessmentCycle]:
    """The cycle open today; else the one that opened most recently; else the next to open."""
    today = today or utcnow().date()
    cycles = cycles_of(session, alliance_id)
    open_now = [c for c in cycles if c.opens_on <= today <= c.closes_on]
    if open_now:
        return max(open_now, key=lambda c: c.opens_on)
    opened = [c for c in cycles if c.opens_on <= today]
    if opened:
        return max(opened, key=lambda c: c.opens_on)
    return min(cycles, key=lambda c: c.opens_on, default=None)


def assessment_for_cycle(session: Session, membership_id: int, cycle_id: int) -> Optional[Assessment]:
    return session.exec(
        select(Assessment).where(Assessment.membership_id == membership_id, Assessment.cycle_id == cycle_id)
    ).first()


@dataclass(frozen=True)
class MembershipOverview:
    """What a membership brings: the standards that apply, the core proposition, and its assessments."""

    membership: Membership
    organisation: Organisation
    alliance: Alliance
    standards: Optional[StandardsSet]
    applicable: list[tuple[Domain, list[Standard]]]
    core_proposition: list[CoreOffer]
    cycle: Optional[AssessmentCycle]
    current: Optional[Assessment]
    assessments: list[AssessmentRow]

    @property
    def current_returned(self) -> Optional[Returned]:
        """The lead's return of the current cycle's draft, if it was returned for changes."""
        return next(
            (
                row.returned
                for row in self.assessments
                if self.current is not None and row.assessment.id == self.current.id
            ),
            None,
        )


def membership_overview(session: Session, organisation_id: int, membership_id: int) -> MembershipOverview:
    membership = own_membership(session, organisation_id, membership_id)
    organisation = get_organisation(session, organisation_id)
    alliance = session.get(Alliance, membership.alliance_id)
    version = latest_published(session, alliance.standards_set)
    standards = parsed(version) if version is not None else None
    applicable = (
        applicable_by_domain(standards, membership.route, membership.specialty, organisation.org_type)
        if standards
        else []
    )
    offers = core_offers(standards, membership.route) if standards else []
    cycle = current_cycle(session, alliance.id)
    current = assessment_for_cycle(session, membership.id, cycle.id) if cycle else None
    rows = next(
        (row.assessments for row in memberships_of(session, organisation_id) if row.membership.id == membership.id), []
    )
    return MembershipOverview(membership, organisation, alliance, standards, applicable, offers, cycle, current, rows)


def start_assessment(session: Session, actor: Actor, organisation_id: int, membership_id: int) -> Assessment:
    """The membership's self-assessment for the alliance's current cycle, opened now unless it exists."""
    membership = own_membership(session, organisation_id, membership_id)
    cycle = current_cycle(session, membership.alliance_id)
    if cycle is None:
        raise ServiceError("the alliance has no assessment cycle yet; its lead opens one before members self-assess")
    existing = assessment_for_cycle(session, membership.id, cycle.id)
    if existing is not None:
        return existing
    if cycle.closed_at is not None:  # closed by the lead, perhaps before its closing date
        raise ServiceError(
            f"the {cycle.name} cycle is closed: a self-assessment starts when the alliance's lead opens the next one"
        )
    return open_assessment(session, actor, membership_id=membership.id, cycle_id=cycle.id)


def same_answer(new: Any, old: Any) -> bool:
    """Equal answers of the same kind (82 and 82.0 are the same number; "yes" is not 1)."""
    if isinstance(new, bool) or isinstance(old, bool):
        return new is old
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        return new == old
    return type(new) is type(old) and new == old


def shown_answers(text: str) -> Optional[dict[str, Any]]:
    """The answers a page showed, as it sent them back (None when missing or unreadable)."""
    try:
        found = json.loads(text) if text else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def save_changed_answers(
    session: Session, actor: Actor, assessment_id: int, answers: dict[str, Any], shown: Optional[dict[str, Any]] = None
) -> SaveOutcome:
    """Save the answers that differ from what the page showed (``shown``), or else from what is stored:
    saving an unchanged page writes nothing, and a page opened before a colleague saved does not undo
    the colleague's answers it did not touch."""
    before = answers_of(session, assessment_id) if shown is None else shown
    changed = {cid: value for cid, value in answers.items() if not same_answer(value, before.get(cid))}
    return save_answers(session, actor, assessment_id, changed) if changed else SaveOutcome()

"""Admission: an organisation's application for membership, from its arrival to the lead's decision.

An application (``MembershipApplication``) goes with an applicant membership (``membership.apply_for_membership``)
and moves through these states, each step audited:

    new -> under_consideration     the lead takes it up
    new, under_consideration -> admitted    the lead admits: membership applicant -> working_towards, and its
                                   first self-assessment opened in the alliance's open cycle (if one is open and
                                   the applicant has not started it already: applicants may prepare theirs)
    new, under_consideration -> declined    the lead declines, with a reason: membership -> declined
    new, under_consideration -> withdrawn   the applicant withdraws: membership -> withdrawn

Admitted, declined and withdrawn are final. An organisation declined (or that withdrew) applies again with a new
application, and a new applicant membership: the decided one stays as it was, for the record.

The alliance's **admission policy** (``AdmissionPolicy``, set by its lead or an admin) may allow only some
organisation types and regions, and may require a sponsor: an accredited member organisation of the alliance
that the applicant names, whose member users confirm (or refuse) from their home page. An application that does
not meet the policy as it stands today is shown with its problems and cannot be admitted (it may be declined).

The applicant is told of the decision in the app and by email (``application_decided``, essential); the leads by
email of a new application (``application_received``); the sponsor in the app that it is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from sqlmodel import Session, col, select

from ..models import (
    APPLICATION_STATES,
    AdmissionPolicy,
    Alliance,
    Assessment,
    AssessmentCycle,
    Membership,
    MembershipApplication,
    Organisation,
    utcnow,
)
from ..wording import label
from . import messages
from .assessments import open_assessment
from .common import Actor, NotFound, ServiceError, audit, require_text, snapshot, text_problems
from .cycles import open_cycle_of
from .membership import ODS_CODE, apply_for_membership, change_status
from .notifications import notify
from .portal import applicable_by_domain
from .standards import latest_published, parsed

OPEN = ("new", "under_consideration")
FINAL = ("admitted", "declined", "withdrawn")
#: Every step an application may take, and who takes it.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"under_consideration", "admitted", "declined", "withdrawn"}),
    "under_consideration": frozenset({"admitted", "declined", "withdrawn"}),
    "admitted": frozenset(),
    "declined": frozenset(),
    "withdrawn": frozenset(),
}
BY_APPLICANT = frozenset({"withdrawn"})
#: Membership statuses of a member that may sponsor an applicant.
SPONSORING = ("accredited", "accredited_with_conditions")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
MAX_ENTRIES = 50
REASON_MAX = 2000


class ApplicationRefused(ServiceError):
    """A step the application's state (or the policy) does not allow."""


def check_step(from_status: str, to_status: str) -> None:
    if to_status not in APPLICATION_STATES:
        raise ApplicationRefused(f"status: {to_status!r} is not a state of an application")
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        if from_status in FINAL:
            raise ApplicationRefused(f"status: the application is {label(from_status).lower()}, which is final")
        raise ApplicationRefused(f"status: an application cannot go from {label(from_status).lower()} to {to_status}")


# -- the policy --------------------------------------------------------------------------------------------------


def policy_of(session: Session, alliance_id: int) -> AdmissionPolicy:
    """The alliance's admission policy (a fresh, unsaved one, open to all, when never set)."""
    return session.get(AdmissionPolicy, alliance_id) or AdmissionPolicy(
        alliance_id=alliance_id, org_types=[], regions=[], sponsor_required=False
    )


def _entries(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen.append(value)
    return seen


def set_policy(
    session: Session,
    actor: Actor,
    alliance_id: int,
    *,
    org_types: Iterable[str],
    regions: Iterable[str],
    sponsor_required: bool,
) -> AdmissionPolicy:
    """Set who may be admitted: organisation types and regions (none listed: any), and a sponsor required."""
    if session.get(Alliance, alliance_id) is None:
        raise NotFound(f"alliance {alliance_id} does not exist")
    types = [t.lower() for t in _entries(org_types)]
    places = _entries(regions)
    problems = [
        f"org_types: {t!r} is not an organisation type such as acute or community" for t in types if not SLUG.match(t)
    ]
    problems += text_problems({f"regions ({r})": r for r in places}, single_line=True)
    problems += [f"regions: {r[:40]!r} is longer than 100 characters" for r in places if len(r) > 100]
    if len(types) > MAX_ENTRIES or len(places) > MAX_ENTRIES:
        problems.append(f"org_types: at most {MAX_ENTRIES} types and {MAX_ENTRIES} regions")
    if problems:
        raise ServiceError("; ".join(problems))
    policy = policy_of(session, alliance_id)
    before = {
        "org_types": list(policy.org_types),
        "regions": list(policy.regions),
        "sponsor_required": policy.sponsor_required,
    }
    policy.org_types, policy.regions, policy.sponsor_required = types, places, bool(sponsor_required)
    policy.updated_by, policy.updated_at = actor.user_id, utcnow()
    session.add(policy)
    session.flush()
    after = {"org_types": types, "regions": places, "sponsor_required": bool(sponsor_required)}
    if after != before:
        audit(
            session,
            actor,
            "admission.policy_changed",
            entity_type="alliance",
            entity_id=alliance_id,
            before=before,
            after=after,
        )
    return policy


# -- applying ----------------------------------------------------------------------------------------------------


def _sponsor(session: Session, alliance: Alliance, applicant_id: int, ods_code: str) -> Organisation:
    code = ods_code.strip().upper()
    if not ODS_CODE.match(code):
        raise ServiceError("sponsor: the sponsor's ODS code, 3 to 10 letters or digits, e.g. RRJ")
    sponsor = session.exec(select(Organisation).where(Organisation.ods_code == code)).first()
    if sponsor is None:
        raise ServiceError(f"sponsor: no organisation with code {code} is registered")
    if sponsor.id == applicant_id:
        raise ServiceError("sponsor: an organisation cannot sponsor itself")
    accredited = session.exec(
        select(Membership.id).where(
            Membership.organisation_id == sponsor.id,
            Membership.alliance_id == alliance.id,
            col(Membership.status).in_(SPONSORING),
        )
    ).first()
    if accredited is None:
        raise ServiceError(f"sponsor: {sponsor.name} is not an accredited member of {alliance.name}")
    return sponsor


def apply(
    session: Session,
    actor: Actor,
    *,
    organisation_id: int,
    alliance_id: int,
    route: str,
    specialty: Optional[str] = None,
    sponsor_ods: str = "",
) -> MembershipApplication:
    """An organisation applies: its applicant membership, its application (new), the sponsor asked to confirm,
    the leads told."""
    alliance = session.get(Alliance, alliance_id)
    if alliance is None:
        raise NotFound(f"alliance {alliance_id} does not exist")
    sponsor = _sponsor(session, alliance, organisation_id, sponsor_ods) if sponsor_ods.strip() else None
    if sponsor is None and policy_of(session, alliance_id).sponsor_required:
        raise ServiceError(f"sponsor: {alliance.name} needs a sponsor: name an accredited member by its ODS code")
    membership = apply_for_membership(
        session, actor, organisation_id=organisation_id, alliance_id=alliance_id, route=route, specialty=specialty
    )
    application = MembershipApplication(
        membership_id=membership.id,
        alliance_id=alliance.id,
        organisation_id=organisation_id,
        sponsor_organisation_id=sponsor.id if sponsor else None,
        sponsor_status="requested" if sponsor else "",
    )
    session.add(application)
    session.flush()
    organisation = session.get(Organisation, organisation_id)
    audit(session, actor, "application.submitted", application, after=snapshot(application))
    if sponsor is not None:
        notify(
            session,
            sponsor.id,
            "sponsorship",
            f"{organisation.name} names you as its sponsor",
            f"{organisation.name} has applied to {alliance.name} and names {sponsor.name} as its sponsor. Confirm or "
            "refuse on your home page.",
        )
    messages.application_received(session, application.id, alliance.id, organisation, _route_words(membership))
    return application


def _route_words(membership: Membership) -> str:
    return membership.route + (f" ({membership.specialty})" if membership.specialty else "")


def _locked(session: Session, application_id: int) -> MembershipApplication:
    found = session.exec(
        select(MembershipApplication)
        .where(MembershipApplication.id == application_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if found is None:
        raise NotFound(f"application {application_id} does not exist")
    return found


def _lead_application(session: Session, alliance_id: int, application_id: int) -> MembershipApplication:
    application = _locked(session, application_id)
    if application.alliance_id != alliance_id:
        raise NotFound(f"application {application_id} does not exist")
    return application


def _step(session: Session, actor: Actor, application: MembershipApplication, to_status: str, reason: str = "") -> dict:
    check_step(application.status, to_status)
    before = snapshot(application, "status", "reason")
    application.status, application.updated_at = to_status, utcnow()
    if reason:
        application.reason = reason
    if to_status in FINAL:
        application.decided_by, application.decided_at = actor.user_id, utcnow()
    session.add(application)
    return before


# -- the lead's steps ---------------------------------------------------------------------------------------------


def consider(session: Session, actor: Actor, alliance_id: int, application_id: int) -> MembershipApplication:
    """The lead takes a new application up."""
    application = _lead_application(session, alliance_id, application_id)
    before = _step(session, actor, application, "under_consideration")
    audit(
        session,
        actor,
        "application.under_consideration",
        application,
        before=before,
        after=snapshot(application, "status"),
    )
    return application


def admit(session: Session, actor: Actor, alliance_id: int, application_id: int) -> MembershipApplication:
    """The lead admits: the membership starts (working towards accreditation) and its first self-assessment is
    opened in the open cycle. Refused while the application does not meet the admission policy."""
    application = _lead_application(session, alliance_id, application_id)
    check_step(application.status, "admitted")
    problems = eligibility(session, application)
    if problems:
        raise ApplicationRefused("eligibility: the application cannot be admitted: " + "; ".join(problems))
    membership = session.get(Membership, application.membership_id)
    if membership.status != "applicant":
        raise ApplicationRefused(f"status: the membership is {label(membership.status).lower()}, not an applicant")
    before = _step(session, actor, application, "admitted")
    change_status(session, membership, "working_towards", actor, f"admitted (application {application.id})")
    cycle = open_cycle_of(session, alliance_id)
    assessment = None
    if cycle is not None:  # an applicant may have started it already
        assessment = session.exec(
            select(Assessment).where(Assessment.membership_id == membership.id, Assessment.cycle_id == cycle.id)
        ).first() or open_assessment(session, actor, membership_id=membership.id, cycle_id=cycle.id)
    audit(
        session,
        actor,
        "application.admitted",
        application,
        before=before,
        after={**snapshot(application, "status"), "assessment": assessment.id if assessment else None},
    )
    _tell_applicant(session, application, admitted=True)
    return application


def decline(
    session: Session, actor: Actor, alliance_id: int, application_id: int, reason: str
) -> MembershipApplication:
    """The lead declines, saying why: the membership ends as declined."""
    reason = reason.strip()
    if not reason:
        raise ServiceError("reason: say why the application is declined")
    if len(reason) > REASON_MAX:
        raise ServiceError(f"reason: at most {REASON_MAX} characters")
    require_text({"reason": reason})
    application = _lead_application(session, alliance_id, application_id)
    before = _step(session, actor, application, "declined", reason)
    membership = session.get(Membership, application.membership_id)
    if membership.status == "applicant":
        change_status(session, membership, "declined", actor, reason)
    audit(
        session,
        actor,
        "application.declined",
        application,
        before=before,
        after=snapshot(application, "status", "reason"),
    )
    _tell_applicant(session, application, admitted=False)
    return application


def _tell_applicant(session: Session, application: MembershipApplication, admitted: bool) -> None:
    organisation = session.get(Organisation, application.organisation_id)
    alliance = session.get(Alliance, application.alliance_id)
    if admitted:
        title = f"{alliance.name} has admitted you as a member"
        body = "Your membership starts now, working towards accreditation: begin your self-assessment."
    else:
        title = f"{alliance.name} has declined your application"
        body = application.reason
    notify(session, organisation.id, "application", title, body)
    messages.application_decided(
        session, application.id, organisation, alliance.name, admitted, application.reason if not admitted else ""
    )


# -- the applicant's and the sponsor's steps ----------------------------------------------------------------------


def withdraw(session: Session, actor: Actor, organisation_id: int, application_id: int) -> MembershipApplication:
    """The applicant withdraws its open application: the membership ends as withdrawn."""
    application = _locked(session, application_id)
    if application.organisation_id != organisation_id:
        raise NotFound(f"application {application_id} does not exist")
    before = _step(session, actor, application, "withdrawn")
    membership = session.get(Membership, application.membership_id)
    if membership.status == "applicant":
        change_status(session, membership, "withdrawn", actor, "application withdrawn by the applicant")
    audit(session, actor, "application.withdrawn", application, before=before, after=snapshot(application, "status"))
    return application


def answer_sponsorship(
    session: Session, actor: Actor, organisation_id: int, application_id: int, confirm: bool
) -> MembershipApplication:
    """The named sponsor's member user confirms or refuses, while the application is open."""
    application = _locked(session, application_id)
    if application.sponsor_organisation_id != organisation_id:
        raise NotFound(f"application {application_id} does not exist")
    if application.status not in OPEN:
        raise ApplicationRefused(f"status: the application is {label(application.status).lower()}, which is final")
    if application.sponsor_status != "requested":
        raise ApplicationRefused(f"sponsor: you have already {application.sponsor_status} this sponsorship")
    alliance = session.get(Alliance, application.alliance_id)
    sponsor = session.get(Organisation, organisation_id)
    still = session.exec(
        select(Membership.id).where(
            Membership.organisation_id == organisation_id,
            Membership.alliance_id == application.alliance_id,
            col(Membership.status).in_(SPONSORING),
        )
    ).first()
    if confirm and still is None:
        raise ApplicationRefused(f"sponsor: {sponsor.name} is no longer an accredited member of {alliance.name}")
    before = snapshot(application, "sponsor_status")
    application.sponsor_status = "confirmed" if confirm else "refused"
    application.sponsor_answered_by, application.sponsor_answered_at = actor.user_id, utcnow()
    application.updated_at = utcnow()
    session.add(application)
    audit(
        session,
        actor,
        "application.sponsor_answered",
        application,
        before=before,
        after=snapshot(application, "sponsor_status"),
    )
    notify(
        session,
        application.organisation_id,
        "sponsorship",
        f"{sponsor.name} has {application.sponsor_status} its sponsorship of your application to {alliance.name}",
    )
    return application


# -- reads -------------------------------------------------------------------------------------------------------


def eligibility(
    session: Session, application: MembershipApplication, policy: Optional[AdmissionPolicy] = None
) -> list[str]:
    """What keeps the application from being admitted under the alliance's policy as it stands (empty: nothing)."""
    policy = policy or policy_of(session, application.alliance_id)
    organisation = session.get(Organisation, application.organisation_id)
    problems = []
    if policy.org_types and organisation.org_type not in policy.org_types:
        problems.append(
            f"organisation type {label(organisation.org_type).lower()} is not one the alliance admits "
            f"({', '.join(label(t).lower() for t in policy.org_types)})"
        )
    if policy.regions and organisation.region not in policy.regions:
        problems.append(f"region {organisation.region} is not one the alliance admits ({', '.join(policy.regions)})")
    if policy.sponsor_required:
        if application.sponsor_organisation_id is None:
            problems.append("the alliance needs a sponsor and none is named")
        elif application.sponsor_status != "confirmed":
            sponsor = session.get(Organisation, application.sponsor_organisation_id)
            how = "has refused" if application.sponsor_status == "refused" else "has not confirmed yet"
            problems.append(f"the sponsor, {sponsor.name}, {how}")
    return problems


@dataclass
class ApplicationLine:
    application: MembershipApplication
    membership: Membership
    organisation: Organisation
    sponsor: Optional[Organisation]
    problems: list[str]

    @property
    def route(self) -> str:
        return _route_words(self.membership)


def _line(session: Session, application: MembershipApplication, policy: AdmissionPolicy) -> ApplicationLine:
    sponsor = (
        session.get(Organisation, application.sponsor_organisation_id) if application.sponsor_organisation_id else None
    )
    return ApplicationLine(
        application,
        session.get(Membership, application.membership_id),
        session.get(Organisation, application.organisation_id),
        sponsor,
        eligibility(session, application, policy) if application.status in OPEN else [],
    )


def applications_of(session: Session, alliance_id: int, status: Optional[str] = None) -> list[ApplicationLine]:
    """The alliance's applications (of one state, or all), newest first, each with what keeps it from being
    admitted."""
    if status is not None and status not in APPLICATION_STATES:
        raise ServiceError(f"status: {status!r} is not a state of an application")
    query = select(MembershipApplication).where(MembershipApplication.alliance_id == alliance_id)
    if status is not None:
        query = query.where(MembershipApplication.status == status)
    policy = policy_of(session, alliance_id)
    found = session.exec(
        query.order_by(col(MembershipApplication.created_at).desc(), col(MembershipApplication.id).desc())
    )
    return [_line(session, application, policy) for application in found]


def counts_of(session: Session, alliance_id: int) -> dict[str, int]:
    """How many of the alliance's applications are in each state."""
    counts = dict.fromkeys(APPLICATION_STATES, 0)
    for status in session.exec(
        select(MembershipApplication.status).where(MembershipApplication.alliance_id == alliance_id)
    ).all():
        counts[status] = counts.get(status, 0) + 1
    return counts


@dataclass
class ApplicationPage:
    line: ApplicationLine
    alliance: Alliance
    applicable: list  # (domain, standards) that would apply to the applicant
    open_cycle: Optional[AssessmentCycle]
    first_assessment: Optional[Assessment]


def application_page(session: Session, alliance_id: int, application_id: int) -> ApplicationPage:
    """One application as its alliance's lead sees it (another alliance's is NotFound)."""
    application = session.get(MembershipApplication, application_id)
    if application is None or application.alliance_id != alliance_id:
        raise NotFound(f"application {application_id} does not exist")
    line = _line(session, application, policy_of(session, alliance_id))
    alliance = session.get(Alliance, alliance_id)
    version = latest_published(session, alliance.standards_set)
    applicable = (
        applicable_by_domain(
            parsed(version), line.membership.route, line.membership.specialty, line.organisation.org_type
        )
        if version is not None
        else []
    )
    first = session.exec(
        select(Assessment).where(Assessment.membership_id == line.membership.id).order_by(col(Assessment.id))
    ).first()
    return ApplicationPage(line, alliance, applicable, open_cycle_of(session, alliance_id), first)


def application_for(session: Session, organisation_id: int, membership_id: int) -> Optional[MembershipApplication]:
    """The application that goes with one of the organisation's memberships, if any."""
    found = session.exec(
        select(MembershipApplication).where(MembershipApplication.membership_id == membership_id)
    ).first()
    return found if found is not None and found.organisation_id == organisation_id else None


def applications_by_membership(session: Session, organisation_id: int) -> dict[int, MembershipApplication]:
    return {
        a.membership_id: a
        for a in session.exec(
            select(MembershipApplication).where(MembershipApplication.organisation_id == organisation_id)
        )
    }


@dataclass
class SponsorRequest:
    application: MembershipApplication
    applicant: Organisation
    alliance: Alliance
    route: str


def sponsor_requests(session: Session, organisation_id: int) -> list[SponsorRequest]:
    """Open applications that name this organisation as sponsor and wait for its answer."""
    found = session.exec(
        select(MembershipApplication).where(
            MembershipApplication.sponsor_organisation_id == organisation_id,
            MembershipApplication.sponsor_status == "requested",
            col(MembershipApplication.status).in_(OPEN),
        )
    ).all()
    return [
        SponsorRequest(
            a,
            session.get(Organisation, a.organisation_id),
            session.get(Alliance, a.alliance_id),
            _route_words(session.get(Membership, a.membership_id)),
        )
        for a in found
    ]

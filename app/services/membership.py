"""Organisations, memberships and the lifecycle of a membership."""

from __future__ import annotations

import re
from typing import Optional

from sqlmodel import Session, select

from ..lifecycle import MEMBER_STATUSES, LifecycleError, check_transition
from ..models import Alliance, Membership, MembershipStatusChange, Organisation, utcnow
from .common import Actor, NotFound, ServiceError, audit, get_or_404, require_text, snapshot, text_problems
from .standards import latest_published, parsed

ODS_CODE = re.compile(r"[A-Z0-9]{3,10}\Z")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


def register_organisation(
    session: Session,
    actor: Actor,
    *,
    name: str,
    ods_code: str,
    org_type: str,
    region: str,
    latitude: Optional[float] = None,
    longitude: Optional[float] = None,
) -> Organisation:
    problems = []
    name, ods_code, org_type, region = name.strip(), ods_code.strip().upper(), org_type.strip(), region.strip()
    if not name:
        problems.append("name: required")
    if not ODS_CODE.match(ods_code):
        problems.append("ods_code: 3 to 10 letters or digits, e.g. RRJ")
    if not SLUG.match(org_type):
        problems.append("org_type: a lower-case type such as acute, specialist, community or mental-health")
    if not region:
        problems.append("region: required")
    problems += text_problems({"name": name, "region": region}, single_line=True)
    if (latitude is None) != (longitude is None):
        problems.append("coordinates: give both latitude and longitude, or neither")
    elif latitude is not None and not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        problems.append("coordinates: latitude -90..90 and longitude -180..180")
    if not problems and session.exec(select(Organisation).where(Organisation.ods_code == ods_code)).first():
        problems.append(f"ods_code: an organisation with code {ods_code} is already registered")
    if problems:
        raise ServiceError("; ".join(problems))
    organisation = Organisation(
        name=name, ods_code=ods_code, org_type=org_type, region=region, latitude=latitude, longitude=longitude
    )
    session.add(organisation)
    session.flush()
    audit(session, actor, "organisation.registered", organisation, after=snapshot(organisation))
    return organisation


def apply_for_membership(
    session: Session,
    actor: Actor,
    *,
    organisation_id: int,
    alliance_id: int,
    route: str,
    specialty: Optional[str] = None,
) -> Membership:
    """Open an application on a route of the alliance's standards (specialty route: one specialty)."""
    organisation = get_or_404(session, Organisation, organisation_id, "organisation")
    alliance = get_or_404(session, Alliance, alliance_id, "alliance")
    version = latest_published(session, alliance.standards_set)
    if version is None:
        raise ServiceError(f"{alliance.name} has no published standards yet")
    routes = parsed(version).route_ids
    if route not in routes:
        raise ServiceError(f"route: {route!r} is not a route of {alliance.name} (routes: {', '.join(routes)})")
    specialty = (specialty or "").strip() or None
    if route == "specialty" and (specialty is None or not SLUG.match(specialty)):
        raise ServiceError("specialty: the specialty route needs a specialty, e.g. orthopaedics")
    if route != "specialty":
        specialty = None
    for other in session.exec(
        select(Membership).where(Membership.organisation_id == organisation.id, Membership.alliance_id == alliance.id)
    ).all():
        if other.status not in ("lapsed", "withdrawn", "declined") and (
            other.route == "full" or route == "full" or other.specialty == specialty
        ):
            raise ServiceError(
                f"{organisation.name} already has a {other.route} membership of {alliance.name} "
                f"({other.status}) covering this"
            )
    membership = Membership(
        organisation_id=organisation.id, alliance_id=alliance.id, route=route, specialty=specialty, status="applicant"
    )
    session.add(membership)
    session.flush()
    session.add(
        MembershipStatusChange(
            membership_id=membership.id,
            from_status=None,
            to_status="applicant",
            reason="application",
            changed_by=actor.user_id,
        )
    )
    audit(session, actor, "membership.applied", membership, after=snapshot(membership))
    return membership


class TransitionRefused(ServiceError, LifecycleError):
    """A status change the membership lifecycle does not allow."""


def require_transition(membership: Membership, to_status: str) -> None:
    """Raise TransitionRefused unless the membership may move to ``to_status`` (or is there already)."""
    if membership.status == to_status:
        return
    try:
        check_transition(membership.status, to_status)
    except LifecycleError as exc:
        raise TransitionRefused(str(exc)) from exc


def change_status(session: Session, membership: Membership, to_status: str, actor: Actor, reason: str) -> None:
    """Move a membership through the lifecycle (refused unless allowed), with history and audit."""
    if membership.status == to_status:
        return
    require_transition(membership, to_status)
    before = snapshot(membership, "status", "joined_on", "left_on", "suspension_recommended")
    session.add(
        MembershipStatusChange(
            membership_id=membership.id,
            from_status=membership.status,
            to_status=to_status,
            reason=reason,
            changed_by=actor.user_id,
        )
    )
    today = utcnow().date()
    if to_status in MEMBER_STATUSES and membership.joined_on is None:
        membership.joined_on = today
    if to_status in ("lapsed", "withdrawn"):
        membership.left_on = today
    if to_status in ("suspended", "lapsed", "withdrawn", "declined"):
        membership.suspension_recommended = False
    if to_status == "applicant":
        membership.left_on = None
    membership.status = to_status
    session.add(membership)
    audit(
        session,
        actor,
        "membership.status_changed",
        membership,
        before=before,
        after={**snapshot(membership, "status", "joined_on", "left_on", "suspension_recommended"), "reason": reason},
    )


def change_membership_status(
    session: Session, actor: Actor, membership_id: int, to_status: str, reason: str
) -> Membership:
    """An operator's or lead's direct status change (withdrawal, lapse, re-application), with a reason."""
    membership = session.exec(
        select(Membership)
        .where(Membership.id == membership_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if membership is None:
        raise NotFound(f"membership {membership_id} does not exist")
    if not reason.strip():
        raise ServiceError("reason: say why the status changes")
    require_text({"reason": reason})
    change_status(session, membership, to_status, actor, reason.strip())
    return membership


def history(session: Session, membership_id: int) -> list[MembershipStatusChange]:
    """The membership's status changes, oldest first."""
    return list(
        session.exec(
            select(MembershipStatusChange)
            .where(MembershipStatusChange.membership_id == membership_id)
            .order_by(MembershipStatusChange.id)
        ).all()
    )

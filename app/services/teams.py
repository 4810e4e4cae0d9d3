"""Teams inside a member organisation: who does what in its self-assessment.

A member user holds one or more **team roles** (``User.team_roles``, ``models.TEAM_ROLES``):

- **org_admin** (organisation admin) invites colleagues (``invitations.places_for``), sets their roles, assigns
  owners, and removes people from the organisation;
- **contributor** answers questions: those of the domains and standards assigned to them, and every question
  nobody owns;
- **approver** submits the self-assessment, and only with an attestation (``Attestation``): "I confirm, as
  [role], that this self-assessment is accurate", with their name and role, recorded with the time.

Every member user before teams, and every new one unless an invitation says otherwise, holds all three: an
organisation of one person works as it always did, plus the attestation. The Team and "My questions" pages
read through ``team_views``.

**Owners** (``TeamAssignment``) are kept per membership, not per assessment: a domain's owner is a standing
responsibility, carried into the next cycle (a domain or standard a new standards version no longer has is
simply not shown). A standard's owner outranks its domain's owner. A question whose standard and domain have no
owner is open to every contributor; one with an owner is answered by that owner only (other contributors'
saves of it are refused, question by question, naming the owner).

An organisation always keeps an organisation admin: the last one can neither leave nor lose the role. Should
none be active all the same (an operator deactivated them), the organisation's first user acts as one.

Actors with no user (the command line, an API token) are not team members: they save anything, and submit
with an attestation they carry (an API call's ``attestation`` fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from sqlalchemy import delete as sql_delete
from sqlmodel import Session, col, select

from rules.model import Standard, StandardsSet

from ..models import (
    TEAM_ROLES,
    Assessment,
    Membership,
    StandardsVersion,
    TeamAssignment,
    User,
    utcnow,
)
from .common import Actor, NotFound, ServiceError, audit, get_or_404, text_problems
from .standards import parsed

ROLE_WORDS = {"org_admin": "organisation admin", "contributor": "contributor", "approver": "approver"}
SCOPES = ("domain", "standard")
STATEMENT = "I confirm, as {role}, that this self-assessment is accurate."


class NotPermitted(ServiceError):
    """The person's team roles do not allow what they asked."""


class AttestationRefused(ServiceError):
    """A submission without a complete attestation: "field: problem; ..." for each field at fault."""


# -- roles ---------------------------------------------------------------------------------------------------


def roles_of(user: Optional[User]) -> frozenset[str]:
    """A member user's team roles (none for anyone else, or someone who has left)."""
    if user is None or user.role != "member" or not user.active:
        return frozenset()
    return frozenset(r for r in (user.team_roles or "").split() if r in TEAM_ROLES)


def role_text(roles: Iterable[str]) -> str:
    """Roles as stored: in ``TEAM_ROLES`` order, space-separated; refused if empty or unknown."""
    chosen = set(roles)
    unknown = sorted(chosen - set(TEAM_ROLES))
    if unknown:
        raise ServiceError(f"roles: {', '.join(unknown)} is not a team role (choose from {', '.join(TEAM_ROLES)})")
    if not chosen:
        raise ServiceError("roles: choose at least one role")
    return " ".join(r for r in TEAM_ROLES if r in chosen)


def words(roles: Iterable[str]) -> str:
    chosen = set(roles)
    return ", ".join(ROLE_WORDS[r] for r in TEAM_ROLES if r in chosen) or "no role"


def active_members(session: Session, organisation_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(User.organisation_id == organisation_id, User.role == "member", User.active == True)  # noqa: E712
            .order_by(col(User.id))
        ).all()
    )


def is_org_admin(session: Session, user: Optional[User]) -> bool:
    """An organisation admin of their organisation (or, if it has none active, its first user)."""
    if "org_admin" in roles_of(user):
        return True
    if user is None or user.role != "member" or not user.active or user.organisation_id is None:
        return False
    mates = active_members(session, user.organisation_id)
    return not any("org_admin" in roles_of(m) for m in mates) and bool(mates) and mates[0].id == user.id


def _user(session: Session, actor: Actor) -> Optional[User]:
    return session.get(User, actor.user_id) if actor.user_id is not None else None


def _admin_of(session: Session, actor: Actor, organisation_id: int) -> User:
    """The acting organisation admin of ``organisation_id``; refused for anyone else."""
    user = _user(session, actor)
    if user is None or user.organisation_id != organisation_id or not is_org_admin(session, user):
        raise NotPermitted("only an organisation admin of this organisation may manage its team")
    return user


def _mate(session: Session, organisation_id: int, user_id: int) -> User:
    """An active member user of the organisation; anyone else is not found."""
    user = session.get(User, user_id)
    if user is None or user.role != "member" or user.organisation_id != organisation_id or not user.active:
        raise NotFound(f"user {user_id} is not a member of this organisation's team")
    return user


def _other_admins(session: Session, user: User) -> int:
    return sum(
        1 for m in active_members(session, user.organisation_id) if m.id != user.id and "org_admin" in roles_of(m)
    )


def set_roles(session: Session, actor: Actor, user_id: int, roles: Iterable[str]) -> User:
    """An organisation admin sets a colleague's (or their own) roles. Losing ``contributor`` unassigns them;
    the last organisation admin keeps that role."""
    actor_user = _user(session, actor)
    organisation_id = actor_user.organisation_id if actor_user is not None else None
    _admin_of(session, actor, organisation_id)
    user = _mate(session, organisation_id, user_id)
    text = role_text(roles)
    before = roles_of(user)
    after = frozenset(text.split())
    if "org_admin" in before and "org_admin" not in after and not _other_admins(session, user):
        raise ServiceError(f"roles: {user.name} is the only organisation admin: make someone else one first")
    user.team_roles = text
    session.add(user)
    if "contributor" not in after:
        _unassign_all(session, user.id)
    session.flush()
    audit(
        session,
        actor,
        "team.roles_set",
        user,
        before={"team_roles": " ".join(sorted(before))},
        after={"team_roles": text},
    )
    return user


def leave(session: Session, actor: Actor, user_id: int) -> User:
    """Someone leaves the organisation (they themselves, or removed by an organisation admin): their account is
    deactivated, their sessions end and the questions they owned return to unassigned. The last organisation
    admin cannot leave while nobody else can manage the team."""
    actor_user = _user(session, actor)
    if actor_user is None or actor_user.role != "member":
        raise NotPermitted("only a member of the organisation may leave it, or remove a colleague from it")
    user = _mate(session, actor_user.organisation_id, user_id)
    if user.id != actor_user.id:
        _admin_of(session, actor, actor_user.organisation_id)
    if "org_admin" in roles_of(user) and not _other_admins(session, user):
        raise ServiceError(f"{user.name} is the only organisation admin: make someone else one before they leave")
    user.active = False
    user.session_generation += 1
    session.add(user)
    released = _unassign_all(session, user.id)
    session.flush()
    audit(session, actor, "team.left", user, before={"active": True, "owned": released}, after={"active": False})
    return user


def _unassign_all(session: Session, user_id: int) -> list[str]:
    rows = session.exec(select(TeamAssignment).where(TeamAssignment.user_id == user_id)).all()
    released = [f"{r.scope}:{r.ref}" for r in rows]
    if rows:
        session.execute(sql_delete(TeamAssignment).where(col(TeamAssignment.user_id) == user_id))
    return released


# -- owners ----------------------------------------------------------------------------------------------------


def owners(session: Session, membership_id: int) -> dict[tuple[str, str], int]:
    """(scope, ref) -> the owner's user id, for one membership."""
    rows = session.exec(select(TeamAssignment).where(TeamAssignment.membership_id == membership_id)).all()
    return {(r.scope, r.ref): r.user_id for r in rows}


def owner_of(assigned: dict[tuple[str, str], int], standard: Standard) -> Optional[int]:
    """Who owns a standard's questions: its own owner, else its domain's, else nobody."""
    return assigned.get(("standard", standard.id), assigned.get(("domain", standard.domain)))


def assessment_parts(session: Session, assessment_id: int) -> tuple[Assessment, Membership, StandardsSet]:
    assessment = get_or_404(session, Assessment, assessment_id, "assessment")
    membership = get_or_404(session, Membership, assessment.membership_id)
    version = get_or_404(session, StandardsVersion, assessment.standards_version_id)
    return assessment, membership, parsed(version)


def assign(
    session: Session, actor: Actor, assessment_id: int, scope: str, ref: str, user_id: Optional[int]
) -> Optional[TeamAssignment]:
    """An organisation admin makes a contributor the owner of a domain or standard of the assessment's
    membership (reassigning replaces the owner), or, with no user, leaves it unassigned."""
    _, membership, standards = assessment_parts(session, assessment_id)
    acting = _user(session, actor)
    if acting is not None and acting.role == "member" and acting.organisation_id != membership.organisation_id:
        raise NotFound(f"assessment {assessment_id} does not exist")  # another organisation's: not even its name
    admin = _admin_of(session, actor, membership.organisation_id)
    if scope not in SCOPES:
        raise ServiceError(f"scope: {scope!r} is neither a domain nor a standard")
    known = {d.id for d in standards.domains} if scope == "domain" else {s.id for s in standards.standards}
    if ref not in known:
        raise ServiceError(f"{scope}: {ref!r} is not a {scope} of these standards")
    existing = session.exec(
        select(TeamAssignment).where(
            TeamAssignment.membership_id == membership.id, TeamAssignment.scope == scope, TeamAssignment.ref == ref
        )
    ).first()
    before = {"user_id": existing.user_id} if existing else None
    if user_id is None:
        if existing is not None:
            session.delete(existing)
            session.flush()
            audit(session, actor, "team.unassigned", existing, before=before)
        return None
    owner = _mate(session, membership.organisation_id, user_id)
    if "contributor" not in roles_of(owner):
        raise ServiceError(f"owner: {owner.name} is not a contributor, so cannot answer questions")
    row = existing or TeamAssignment(membership_id=membership.id, scope=scope, ref=ref, user_id=owner.id)
    row.user_id, row.assigned_by, row.assigned_at = owner.id, admin.id, utcnow()
    session.add(row)
    session.flush()
    audit(session, actor, "team.assigned", row, before=before, after={"scope": scope, "ref": ref, "user_id": owner.id})
    return row


# -- the checks the self-assessment makes ------------------------------------------------------------------------


def answer_refusals(
    session: Session,
    actor: Actor,
    membership: Membership,
    standards: StandardsSet,
    criterion_ids: Iterable[str],
) -> dict[str, str]:
    """The questions of ``criterion_ids`` the actor may not answer, each with why. A member user who is not
    a contributor of the organisation may answer none (refused whole)."""
    user = _user(session, actor)
    if user is None or user.role != "member":
        return {}
    if user.organisation_id != membership.organisation_id or "contributor" not in roles_of(user):
        raise NotPermitted("only a contributor of the organisation may answer its self-assessment")
    assigned = owners(session, membership.id)
    if not assigned:
        return {}
    lookup = standards.criterion_lookup
    names: dict[int, str] = {}
    refused = {}
    for criterion_id in criterion_ids:
        found = lookup.get(criterion_id)
        owner = owner_of(assigned, found[0]) if found else None
        if owner is not None and owner != user.id:
            if owner not in names:
                names[owner] = getattr(session.get(User, owner), "name", "a colleague")
            refused[criterion_id] = f"this question is assigned to {names[owner]}: only they may answer it"
    return refused


def require_approver(session: Session, actor: Actor, organisation_id: int) -> Optional[User]:
    """The acting approver of the organisation (None: an actor with no user, such as an API token)."""
    user = _user(session, actor)
    if actor.user_id is None:
        return None
    if user is None or user.organisation_id != organisation_id or "approver" not in roles_of(user):
        raise NotPermitted("only an approver of the organisation may submit its self-assessment")
    return user


@dataclass(frozen=True)
class Attestation:
    """What the approver confirms with a submission: the box ticked, their name and their role."""

    confirmed: bool
    name: str
    role: str

    def checked(self) -> Attestation:
        """The attestation with its text trimmed; refused, naming each field at fault, unless complete."""
        name, role = (self.name or "").strip(), (self.role or "").strip()
        problems = []
        if not self.confirmed:
            problems.append("attestation: confirm that the self-assessment is accurate")
        if not name:
            problems.append("name: enter your name")
        if not role:
            problems.append("role: enter your role, for example Director of Nursing")
        problems += text_problems({"name": name, "role": role}, single_line=True)
        problems += [f"{k}: use 200 characters or fewer" for k, v in (("name", name), ("role", role)) if len(v) > 200]
        if problems:
            raise AttestationRefused("; ".join(problems))
        return Attestation(True, name, role)

    @property
    def statement(self) -> str:
        return STATEMENT.format(role=self.role.strip())


def record_attestation(assessment: Assessment, approver: Optional[User], attestation: Attestation) -> None:
    assessment.attested_by = approver.id if approver is not None else None
    assessment.attested_name, assessment.attested_role = attestation.name, attestation.role
    assessment.attested_at, assessment.attestation = utcnow(), attestation.statement

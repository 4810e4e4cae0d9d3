"""Invitations: asking a colleague by email to join with a role, and their accepting it.

Who may invite whom into what (``places_for``: every invitation, resend and revocation is checked against
it here, whatever page or command asks):

- **an organisation admin** (``teams``: a member user with the org_admin team role, or, in an organisation with
  none active, its first user: its earliest-created member user still active) invites *member users into that
  organisation*, choosing their team roles (all three unless they say otherwise);
- **an alliance lead** invites *member users into the organisations that hold a membership of their alliance*
  (in any status but declined, lapsed or withdrawn) and *other leads into their alliance*;
- **an admin** invites *member users into any organisation, leads into any alliance, and admins*;
- nobody else invites (a member user who is not an organisation admin sees the list of people, not the form).

The people who may invite into a place may also resend or revoke its pending invitations; an invitation
outside their places is "not found" to them. An invitation's link holds a random token (256 bits) of which
only a SHA-256 is stored; it works once, until it expires (``days``, INVITATION_DAYS). Resending makes a
new token, so the link before stops working. Accepting sets the person's name and password (the same zxcvbn
check as registration) and makes their account (``accounts.create_user``): no account exists until then,
so an invitation's email goes to an address (``messages.queue_mail_to``). An email that already has an
account cannot be invited (the inviter is told so: they are signed in, and the email is their colleague's).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import true
from sqlmodel import Session, col, select, update

from ..models import ALL_TEAM_ROLES, Alliance, Invitation, Membership, Organisation, User, utcnow
from . import messages
from .accounts import EMAIL, EmailTaken, create_user
from .api_tokens import digest
from .common import Actor, NotFound, ServiceError, audit, snapshot, text_problems
from .teams import is_org_admin, role_text

#: How long an invitation's link works, unless the settings say otherwise (INVITATION_DAYS).
DAYS = 7
#: Membership statuses whose organisation a lead no longer invites people into.
ENDED = ("declined", "lapsed", "withdrawn")
UNUSABLE = (
    "This invitation link does not work: it has expired, has been used already or has been withdrawn. "
    "Ask the person who invited you to send a new invitation."
)
ROLE_WORDS = {"member": "member user", "lead": "alliance lead", "admin": "administrator"}


class NotAllowed(ServiceError):
    """The person may not invite (or resend, or revoke) at all: the page is not theirs."""


class Unusable(ServiceError):
    """An invitation link that has expired, been used or been revoked (or never existed)."""


@dataclass(frozen=True)
class Place:
    """Where an invitation puts the person: a role, and the organisation or alliance it is for."""

    role: str
    organisation_id: Optional[int] = None
    alliance_id: Optional[int] = None
    name: str = ""

    @property
    def key(self) -> str:
        return f"{self.role}:{self.organisation_id or self.alliance_id or 0}"

    @property
    def words(self) -> str:
        where = f" of {self.name}" if self.name else ""
        return f"{ROLE_WORDS[self.role]}{where}"


def new_token() -> tuple[str, str]:
    """A link's token and the SHA-256 it is stored under."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


# -- who may invite whom into what -------------------------------------------------------------------------------


def first_user_id(session: Session, organisation_id: int) -> Optional[int]:
    """The organisation's first user: its earliest-created member user still active."""
    return session.exec(
        select(User.id)
        .where(User.organisation_id == organisation_id, User.role == "member", User.active == True)  # noqa: E712
        .order_by(col(User.id))
    ).first()


def _organisation_places(session: Session, where) -> list[Place]:  # noqa: ANN001
    rows = session.exec(select(Organisation.id, Organisation.name).where(where).order_by(Organisation.name)).all()
    return [Place("member", organisation_id=i, name=name) for i, name in rows]


def places_for(session: Session, inviter: User) -> list[Place]:
    """Every place ``inviter`` may invite people into (empty: they may not invite)."""
    if not inviter.active:
        return []
    if inviter.role == "admin":
        alliances = session.exec(select(Alliance.id, Alliance.name).order_by(Alliance.name)).all()
        return (
            _organisation_places(session, true())
            + [Place("lead", alliance_id=i, name=name) for i, name in alliances]
            + [Place("admin")]
        )
    if inviter.role == "lead" and inviter.alliance_id is not None:
        alliance = session.get(Alliance, inviter.alliance_id)
        members = select(Membership.organisation_id).where(
            Membership.alliance_id == inviter.alliance_id, col(Membership.status).not_in(ENDED)
        )
        return _organisation_places(session, col(Organisation.id).in_(members)) + [
            Place("lead", alliance_id=alliance.id, name=alliance.name)
        ]
    if inviter.role == "member" and inviter.organisation_id is not None:
        if is_org_admin(session, inviter):
            organisation = session.get(Organisation, inviter.organisation_id)
            return [Place("member", organisation_id=organisation.id, name=organisation.name)]
    return []


def _place_of(invitation: Invitation) -> tuple[str, Optional[int], Optional[int]]:
    return invitation.role, invitation.organisation_id, invitation.alliance_id


def _allowed(session: Session, inviter: User, role: str, organisation_id, alliance_id) -> Optional[Place]:  # noqa: ANN001
    for place in places_for(session, inviter):
        if (place.role, place.organisation_id, place.alliance_id) == (role, organisation_id, alliance_id):
            return place
    return None


def _inviter(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or not places_for(session, user):
        raise NotAllowed("you may not invite people")
    return user


# -- inviting, resending, revoking -------------------------------------------------------------------------------


def is_pending(invitation: Invitation) -> bool:
    return invitation.accepted_at is None and invitation.revoked_at is None


def is_expired(invitation: Invitation, now: Optional[dt.datetime] = None) -> bool:
    return (now or utcnow()) >= invitation.expires_at


def invite(
    session: Session,
    actor: Actor,
    *,
    email: str,
    role: str,
    organisation_id: Optional[int] = None,
    alliance_id: Optional[int] = None,
    days: int = DAYS,
    team_roles: Optional[list[str]] = None,
) -> tuple[Invitation, str]:
    """Invite ``email`` into a place the actor may invite into; the invitation and its link's token (sent by
    email in this transaction, and never stored). ``team_roles``: a member user's roles in the organisation
    (``teams``; none given: all three)."""
    inviter = _inviter(session, actor)
    email = (email or "").strip().lower()
    problems = text_problems({"email": email}, single_line=True)
    if not problems and not EMAIL.match(email):
        problems.append("email: Enter an email address in the correct format, like name@nhs.net")
    if problems:
        raise ServiceError("; ".join(problems))
    place = _allowed(session, inviter, role, organisation_id, alliance_id)
    if place is None:
        raise NotAllowed("place: you may not invite people into that role and place")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise EmailTaken(f"email: An account with {email} exists already, so they can sign in: no invitation is sent")
    waiting = session.exec(
        select(Invitation).where(
            Invitation.email == email,
            col(Invitation.accepted_at).is_(None),
            col(Invitation.revoked_at).is_(None),
            Invitation.expires_at > utcnow(),
        )
    ).first()
    if waiting is not None:
        raise ServiceError(
            f"email: An invitation to {email} is waiting already: resend it from the list of invitations instead"
        )
    roles = role_text(team_roles) if team_roles is not None else ALL_TEAM_ROLES
    token, token_hash = new_token()
    invitation = Invitation(
        email=email,
        team_roles=roles,
        role=role,
        organisation_id=organisation_id,
        alliance_id=alliance_id,
        invited_by=inviter.id,
        token_hash=token_hash,
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    session.add(invitation)
    session.flush()
    audit(
        session,
        actor,
        "invitation.created",
        invitation,
        after=snapshot(invitation, "email", "role", "organisation_id", "alliance_id", "expires_at", "team_roles"),
    )
    messages.invitation(session, invitation, token, place.words, inviter.name)
    return invitation, token


def _managed(session: Session, actor: Actor, invitation_id: int) -> tuple[User, Invitation, Place]:
    """An invitation into one of the actor's places (others are not found), and that place."""
    inviter = _inviter(session, actor)
    invitation = session.get(Invitation, invitation_id)
    place = _allowed(session, inviter, *_place_of(invitation)) if invitation is not None else None
    if place is None:
        raise NotFound(f"invitation {invitation_id} does not exist")
    if not is_pending(invitation):
        state = "accepted" if invitation.accepted_at else "withdrawn"
        raise ServiceError(f"The invitation to {invitation.email} has been {state} already")
    return inviter, invitation, place


def resend(session: Session, actor: Actor, invitation_id: int, *, days: int = DAYS) -> tuple[Invitation, str]:
    """A new link (the one before stops working), valid ``days`` from now, emailed again."""
    inviter, invitation, place = _managed(session, actor, invitation_id)
    if session.exec(select(User.id).where(User.email == invitation.email)).first() is not None:
        raise EmailTaken(f"{invitation.email} has an account now, so they can sign in already: revoke the invitation")
    token, invitation.token_hash = new_token()
    invitation.expires_at = utcnow() + dt.timedelta(days=days)
    invitation.sends += 1
    session.add(invitation)
    session.flush()
    audit(session, actor, "invitation.resent", invitation, after={"sends": invitation.sends})
    messages.invitation(session, invitation, token, place.words, inviter.name)
    return invitation, token


def revoke(session: Session, actor: Actor, invitation_id: int) -> Invitation:
    """The invitation's link stops working."""
    _, invitation, _ = _managed(session, actor, invitation_id)
    invitation.revoked_at, invitation.revoked_by = utcnow(), actor.user_id
    session.add(invitation)
    session.flush()
    audit(session, actor, "invitation.revoked", invitation, before={"email": invitation.email})
    return invitation


# -- accepting ---------------------------------------------------------------------------------------------------


def usable(session: Session, token: str) -> Optional[Invitation]:
    """The pending, unexpired invitation whose link holds ``token``; None for any other token."""
    invitation = session.exec(select(Invitation).where(Invitation.token_hash == digest(token or ""))).first()
    if invitation is None or not is_pending(invitation) or is_expired(invitation):
        return None
    return invitation


def place_name(session: Session, invitation: Invitation) -> str:
    if invitation.organisation_id is not None:
        return session.get(Organisation, invitation.organisation_id).name
    if invitation.alliance_id is not None:
        return session.get(Alliance, invitation.alliance_id).name
    return ""


def accept(session: Session, token: str, *, name: str, password: str) -> User:
    """The invited person's account, with their name and password; the link is used up. Refused (nothing
    changed) for a link that does not work, an email that has an account by now, or a weak password."""
    invitation = usable(session, token)
    if invitation is None:
        raise Unusable(UNUSABLE)
    claimed = session.execute(
        update(Invitation)
        .where(
            col(Invitation.id) == invitation.id,
            col(Invitation.accepted_at).is_(None),
            col(Invitation.revoked_at).is_(None),
        )
        .values(accepted_at=utcnow())
    )
    if claimed.rowcount != 1:  # accepted (or revoked) a moment ago in another request
        raise Unusable(UNUSABLE)
    actor = Actor(invitation.email)
    try:
        user = create_user(
            session,
            actor,
            email=invitation.email,
            name=name,
            password=password,
            role=invitation.role,
            organisation_id=invitation.organisation_id,
            alliance_id=invitation.alliance_id,
            others=[place_name(session, invitation)],
        )
    except EmailTaken:
        raise Unusable(f"{invitation.email} has an account already: sign in instead") from None
    session.execute(update(Invitation).where(col(Invitation.id) == invitation.id).values(user_id=user.id))
    if user.role == "member":
        user.team_roles = invitation.team_roles
        session.add(user)
        session.flush()
    audit(session, Actor(user.email, user.id), "invitation.accepted", invitation, after={"user_id": user.id})
    return user


# -- reading -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One invitation as a list shows it."""

    id: int
    email: str
    place: str
    invited_by: str
    sent_at: dt.datetime
    expires_at: dt.datetime
    expired: bool
    sends: int


@dataclass(frozen=True)
class People:
    """The "people" page of one person: whose people it lists, the accounts, the pending invitations, and
    where they may invite (empty: they may not)."""

    title: str
    users: list[User]
    invitations: list[Row]
    places: list[Place]
    first_user_id: Optional[int] = None


def people(session: Session, viewer_id: int) -> People:
    """A member user's organisation, a lead's alliance (its leads, and invitations into it and its members),
    or every pending invitation and account for an admin."""
    viewer = session.get(User, viewer_id)
    if viewer is None:
        raise NotFound(f"user {viewer_id} does not exist")
    places = places_for(session, viewer)
    first = None
    if viewer.role == "member":
        organisation = session.get(Organisation, viewer.organisation_id)
        title = f"People in {organisation.name}"
        users = session.exec(select(User).where(User.organisation_id == organisation.id).order_by(col(User.id))).all()
        first = first_user_id(session, organisation.id)
        seen = [Place("member", organisation_id=organisation.id, name=organisation.name)]
    elif viewer.role == "lead":
        title = f"People in {session.get(Alliance, viewer.alliance_id).name}"
        users = session.exec(
            select(User).where(User.alliance_id == viewer.alliance_id, User.role == "lead").order_by(col(User.id))
        ).all()
        seen = places
    else:
        title = "Invitations"
        users = []  # every account is on the administration's People page
        seen = places
    named = {(p.role, p.organisation_id, p.alliance_id): p for p in seen}
    invitations = session.exec(
        select(Invitation)
        .where(col(Invitation.accepted_at).is_(None), col(Invitation.revoked_at).is_(None))
        .order_by(col(Invitation.id))
    ).all()
    inviters = {
        u.id: u.name for u in session.exec(select(User).where(col(User.id).in_({i.invited_by for i in invitations})))
    }
    now = utcnow()
    rows = [
        Row(
            i.id,
            i.email,
            named[_place_of(i)].words,
            inviters.get(i.invited_by, "the command line"),
            i.created_at,
            i.expires_at,
            is_expired(i, now),
            i.sends,
        )
        for i in invitations
        if _place_of(i) in named
    ]
    return People(title, list(users), rows, places, first)

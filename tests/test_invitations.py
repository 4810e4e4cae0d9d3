"""Invitations and password resets in the service layer, on a fresh database: who may invite whom into what,
links that work once and expire, tokens kept only as hashes, a reset that ends every session, and a reset
request for an unknown email that does nothing and answers the same."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlmodel import select

from app import db
from app.jobs import queue
from app.models import AuditEvent, Invitation, OutgoingMail, PasswordReset, User, clock_at, utcnow
from app.services import (
    CLI,
    apply_for_membership,
    authenticate,
    change_membership_status,
    create_user,
    messages,
    register_organisation,
)
from app.services.accounts import EmailTaken
from app.services.alliances import create_alliance
from app.services.common import NotFound, ServiceError
from app.services.invitations import NotAllowed, Unusable, accept, invite, people, places_for, resend, revoke, usable
from app.services.password_resets import request_reset, reset_password
from app.services.password_resets import usable as usable_reset
from tests.web.conftest import PASSWORD, World, build_world, password_hash

NEW_PASSWORD = "plum heron quietly sketches"


@pytest.fixture
def queued_mail(database_url: str, tmp_path):  # noqa: ANN201
    """Mail written here waits on a queue file no worker reads, whatever an earlier test in this process left the
    queue pointing at: these tests read the stored emails' links before anything sends them."""
    queue.configure({"JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "DATABASE_URL": database_url})
    yield
    queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


@pytest.fixture
def world(database_url: str, queued_mail) -> World:  # noqa: ANN001
    world = build_world(database_url)
    with db.session_scope(database_url) as session:
        colleague = create_user(
            session,
            CLI,
            email="colleague.rn7@nhs.test",
            name="Second Member A",
            password=PASSWORD,
            role="member",
            organisation_id=world.organisations["a"],
            password_hash=password_hash(PASSWORD),
        )
        colleague.team_roles = "contributor approver"  # a colleague who is not an organisation admin
        world.emails["colleague_a"], world.user_ids["colleague_a"] = colleague.email, colleague.id
        other = create_alliance(session, CLI, slug="other", name="Other Alliance", standards_set="web-test")
        outside = register_organisation(
            session, CLI, name="Outside NHS Trust", ods_code="OUT1", org_type="acute", region="North"
        )
        left = register_organisation(
            session, CLI, name="Left NHS Trust", ods_code="LEFT1", org_type="acute", region="x"
        )
        membership = apply_for_membership(
            session, CLI, organisation_id=left.id, alliance_id=world.alliance_id, route="full"
        )
        change_membership_status(session, CLI, membership.id, "withdrawn", reason="left the alliance")
        world.organisations.update(outside=outside.id, left=left.id)
        world.user_ids["other_alliance"] = other.id
    return world


def user(session, world: World, who: str) -> User:  # noqa: ANN001
    return session.get(User, world.user_ids[who])


def places(world: World, who: str) -> set[tuple]:
    with db.session_scope(world.url) as session:
        return {(p.role, p.organisation_id, p.alliance_id) for p in places_for(session, user(session, world, who))}


def invited(world: World, who: str, email: str, role: str = "member", **place) -> tuple[int, str]:  # noqa: ANN003
    with db.session_scope(world.url) as session:
        invitation, token = invite(session, world.actor(who), email=email, role=role, **place)
        return invitation.id, token


def test_who_may_invite_whom_into_what(world: World) -> None:
    a, b = world.organisations["a"], world.organisations["b"]
    outside, left, other = world.organisations["outside"], world.organisations["left"], world.user_ids["other_alliance"]
    # An organisation admin (its first user): member users of it, nothing else; a colleague who is not one: nothing.
    assert places(world, "member_a") == {("member", a, None)}
    assert places(world, "colleague_a") == set()
    # A lead: member users of the alliance's organisations (not one that has left, nor one outside), other leads.
    assert places(world, "lead") == {("member", a, None), ("member", b, None), ("lead", None, world.alliance_id)}
    # An admin: anyone anywhere.
    admin = places(world, "admin")
    assert {("member", outside, None), ("member", left, None), ("lead", None, other), ("admin", None, None)} <= admin

    refused = [
        ("member_a", "member", {"organisation_id": b}),
        ("member_a", "lead", {"alliance_id": world.alliance_id}),
        ("member_a", "admin", {}),
        ("colleague_a", "member", {"organisation_id": a}),
        ("lead", "member", {"organisation_id": outside}),
        ("lead", "member", {"organisation_id": left}),
        ("lead", "lead", {"alliance_id": other}),
        ("lead", "admin", {}),
        ("member_a", "member", {"organisation_id": a, "alliance_id": world.alliance_id}),
    ]
    for who, role, place in refused:
        with pytest.raises(NotAllowed), db.session_scope(world.url) as session:
            invite(session, world.actor(who), email="new.person@nhs.test", role=role, **place)
    invited(world, "member_a", "one@nhs.test", organisation_id=a)
    invited(world, "lead", "two@nhs.test", organisation_id=b)
    invited(world, "lead", "three@nhs.test", "lead", alliance_id=world.alliance_id)
    invited(world, "admin", "four@nhs.test", "admin")
    invited(world, "admin", "five@nhs.test", "lead", alliance_id=other)
    with db.session_scope(world.url) as session:
        assert len(session.exec(select(Invitation)).all()) == 5
        # What each sees: member A its organisation's, the lead its alliance's, B none of A's.
        assert [r.email for r in people(session, world.user_ids["member_a"]).invitations] == ["one@nhs.test"]
        assert [r.email for r in people(session, world.user_ids["member_b"]).invitations] == ["two@nhs.test"]
        seen_by_lead = [r.email for r in people(session, world.user_ids["lead"]).invitations]
        assert seen_by_lead == ["one@nhs.test", "two@nhs.test", "three@nhs.test"]
        assert len(people(session, world.user_ids["admin"]).invitations) == 5


def test_the_first_user_is_the_earliest_still_active(world: World) -> None:
    with db.session_scope(world.url) as session:
        user(session, world, "member_a").active = False
    assert places(world, "member_a") == set()
    assert places(world, "colleague_a") == {("member", world.organisations["a"], None)}


def test_resend_and_revoke_only_within_ones_places(world: World) -> None:
    ident, _ = invited(world, "member_a", "one@nhs.test", organisation_id=world.organisations["a"])
    # B's first user invites into B only: A's invitation is not found to them; A's colleague may not invite.
    for who, error in (("member_b", NotFound), ("colleague_a", NotAllowed)):
        with pytest.raises(error), db.session_scope(world.url) as session:
            revoke(session, world.actor(who), ident)
    other, _ = invited(world, "admin", "five@nhs.test", "lead", alliance_id=world.user_ids["other_alliance"])
    with pytest.raises(NotFound), db.session_scope(world.url) as session:
        resend(session, world.actor("lead"), other)  # the other alliance's: not found to this lead
    with db.session_scope(world.url) as session:
        revoke(session, world.actor("lead"), ident)  # the lead manages the alliance's organisations' invitations
    with pytest.raises(ServiceError, match="withdrawn already"), db.session_scope(world.url) as session:
        resend(session, world.actor("member_a"), ident)


def test_a_link_works_once_and_the_token_is_kept_only_as_a_hash(world: World) -> None:
    ident, token = invited(world, "member_a", "new.colleague@nhs.test", organisation_id=world.organisations["a"])
    with db.session_scope(world.url) as session:
        invitation = session.get(Invitation, ident)
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(invitation.model_dump())
        [mail] = session.exec(select(OutgoingMail).where(OutgoingMail.to_address == "new.colleague@nhs.test"))
        assert mail.user_id is None and mail.kind == "invitation" and token in mail.context["path"]
        messages.mark_sent(session, mail.id)
    with db.session_scope(world.url) as session:
        mail = session.get(OutgoingMail, mail.id)
        assert mail.status == "sent" and token not in str(mail.context)  # the link leaves once it is sent

    with pytest.raises(ServiceError, match="password"), db.session_scope(world.url) as session:
        accept(session, token, name="New Colleague", password="password123456")  # weak: nothing changes
    with db.session_scope(world.url) as session:
        assert usable(session, token) is not None
        created = accept(session, token, name="New Colleague", password=NEW_PASSWORD)
        assert (created.role, created.organisation_id, created.active) == ("member", world.organisations["a"], True)
    with db.session_scope(world.url) as session:
        assert authenticate(session, "new.colleague@nhs.test", NEW_PASSWORD) is not None
        assert usable(session, token) is None
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions[-3:] == ["invitation.created", "user.created", "invitation.accepted"]
    with pytest.raises(Unusable), db.session_scope(world.url) as session:
        accept(session, token, name="Someone Else", password=NEW_PASSWORD)  # used: refused
    with db.session_scope(world.url) as session:
        assert len(session.exec(select(User).where(User.email == "new.colleague@nhs.test")).all()) == 1


def test_a_link_expires_and_a_resend_makes_a_new_one(world: World) -> None:
    with clock_at(utcnow() - dt.timedelta(days=8)):
        ident, old = invited(world, "member_a", "late@nhs.test", organisation_id=world.organisations["a"])
    with db.session_scope(world.url) as session:
        assert usable(session, old) is None
    with pytest.raises(Unusable), db.session_scope(world.url) as session:
        accept(session, old, name="Late Person", password=NEW_PASSWORD)
    # An expired invitation no longer blocks a new one, and can be sent again with a new link.
    with db.session_scope(world.url) as session:
        invitation, new = resend(session, world.actor("member_a"), ident, days=7)
        assert invitation.sends == 2 and new != old
    with db.session_scope(world.url) as session:
        assert usable(session, old) is None and usable(session, new).id == ident
        markers = sorted(m.marker for m in session.exec(select(OutgoingMail).where(OutgoingMail.user_id == None)))  # noqa: E711
        assert markers == ["send-1", "send-2"]
        # Each send is mailed once: writing the same one again (a retried transaction, say) writes nothing.
        assert messages.invitation(session, session.get(Invitation, ident), new, "member user", "Member A") == []
        audit = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.entity_type == "invitation"))]
        assert audit == ["invitation.created", "invitation.resent"]


def test_a_revoked_link_stops_working(world: World) -> None:
    ident, token = invited(world, "lead", "gone@nhs.test", organisation_id=world.organisations["b"])
    with db.session_scope(world.url) as session:
        revoke(session, world.actor("lead"), ident)
    with pytest.raises(Unusable), db.session_scope(world.url) as session:
        accept(session, token, name="Gone Person", password=NEW_PASSWORD)
    with db.session_scope(world.url) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "invitation.revoked")).one()
        assert event.actor_id == world.user_ids["lead"] and event.entity_id == ident


def test_an_email_with_an_account_is_not_invited_twice(world: World) -> None:
    with pytest.raises(EmailTaken, match="An account with lead.rjz@nhs.test exists already"):
        with db.session_scope(world.url) as session:
            invite(
                session,
                world.actor("lead"),
                email=" Lead.RJZ@nhs.test ",
                role="member",
                organisation_id=world.organisations["a"],
            )
    invited(world, "member_a", "twice@nhs.test", organisation_id=world.organisations["a"])
    with pytest.raises(ServiceError, match="is waiting already"), db.session_scope(world.url) as session:
        invite(
            session,
            world.actor("lead"),
            email="twice@nhs.test",
            role="member",
            organisation_id=world.organisations["b"],
        )
    with pytest.raises(ServiceError, match="email: Enter an email address"), db.session_scope(world.url) as session:
        invite(
            session,
            world.actor("member_a"),
            email="not an email",
            role="member",
            organisation_id=world.organisations["a"],
        )


def test_a_lead_invited_by_a_lead_joins_the_alliance(world: World) -> None:
    _, token = invited(world, "lead", "new.lead@alliance.test", "lead", alliance_id=world.alliance_id)
    with db.session_scope(world.url) as session:
        created = accept(session, token, name="New Lead", password=NEW_PASSWORD)
        assert (created.role, created.alliance_id, created.organisation_id) == ("lead", world.alliance_id, None)


# -- password resets ---------------------------------------------------------------------------------------------


def reset_token(world: World, email: str) -> str:
    """The token in the newest reset email's link (as the person would read it)."""
    with db.session_scope(world.url) as session:
        mail = session.exec(
            select(OutgoingMail).where(OutgoingMail.kind == "password_reset").order_by(OutgoingMail.id.desc())
        ).first()
        assert mail.to_address == email
        return mail.context["path"].rsplit("/", 1)[1]


def counts(world: World) -> tuple[int, int, int]:
    with db.session_scope(world.url) as session:
        return (
            len(session.exec(select(PasswordReset)).all()),
            len(session.exec(select(OutgoingMail)).all()),
            len(session.exec(select(AuditEvent)).all()),
        )


def test_a_reset_for_an_unknown_email_does_nothing_and_answers_the_same(world: World) -> None:
    before = counts(world)
    with db.session_scope(world.url) as session:
        unknown = request_reset(session, "nobody@nhs.test")
        malformed = request_reset(session, "not an email")
    with db.session_scope(world.url) as session:
        user(session, world, "colleague_a").active = False
    with db.session_scope(world.url) as session:
        inactive = request_reset(session, world.emails["colleague_a"])
    assert counts(world) == before  # no row, no email, no audit event
    with db.session_scope(world.url) as session:
        known = request_reset(session, world.emails["member_b"])
    assert unknown is malformed is inactive is known is None  # the caller learns nothing either way
    resets, mails, events = counts(world)
    assert (resets, mails) == (before[0] + 1, before[1] + 1) and events == before[2] + 1
    with db.session_scope(world.url) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "password_reset.requested")).one()
        assert event.entity_id == world.user_ids["member_b"]


def test_a_reset_ends_every_session_and_works_once(world: World) -> None:
    email = world.emails["member_b"]
    with db.session_scope(world.url) as session:
        request_reset(session, email)
    older = reset_token(world, email)
    with db.session_scope(world.url) as session:
        request_reset(session, email, minutes=30)
    token = reset_token(world, email)
    with db.session_scope(world.url) as session:
        reset = usable_reset(session, token)
        assert reset.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in repr(reset.model_dump())
        generation = user(session, world, "member_b").session_generation
    with pytest.raises(ServiceError, match="password"), db.session_scope(world.url) as session:
        reset_password(session, token, "short")
    with db.session_scope(world.url) as session:
        reset_password(session, token, NEW_PASSWORD)
    with db.session_scope(world.url) as session:
        assert user(session, world, "member_b").session_generation == generation + 1  # every session ended
        assert authenticate(session, email, PASSWORD) is None
        assert authenticate(session, email, NEW_PASSWORD) is not None
        actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.entity_type == "user"))]
        assert actions[-2:] == ["user.sessions_ended", "user.password_reset"]
    for used in (token, older):  # used, and the older link used up with it
        with pytest.raises(ServiceError, match="does not work"), db.session_scope(world.url) as session:
            reset_password(session, used, "another quite long passphrase")


def test_a_reset_link_expires(world: World) -> None:
    with clock_at(utcnow() - dt.timedelta(minutes=61)), db.session_scope(world.url) as session:
        request_reset(session, world.emails["member_a"], minutes=60)
    token = reset_token(world, world.emails["member_a"])
    with db.session_scope(world.url) as session:
        assert usable_reset(session, token) is None
    with pytest.raises(ServiceError, match="expired"), db.session_scope(world.url) as session:
        reset_password(session, token, NEW_PASSWORD)

"""Admission on a fresh database: every step of an application's state machine (allowed and refused), the
admission policy (organisation types, regions, a sponsor) and the sponsor's answer, what admitting does to the
membership and the open cycle, and applying again after a decline."""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import select

from app import db
from app.models import APPLICATION_STATES, Assessment, AuditEvent, Membership, MembershipApplication, Notification
from app.services import (
    CLI,
    NotFound,
    ServiceError,
    admission,
    change_status,
    create_alliance,
    cycles,
    register_organisation,
)
from app.services.admission import ApplicationRefused
from tests.web.conftest import World, build_world

LEAD = "lead"


@pytest.fixture
def world(database_url: str) -> World:
    return build_world(database_url)


_codes = itertools.count(1)


def new_org(session, org_type: str = "acute", region: str = "South East London") -> int:
    return register_organisation(
        session,
        CLI,
        name=f"Applicant {next(_codes)} NHS Trust",
        ods_code=f"APP{next(_codes)}",
        org_type=org_type,
        region=region,
    ).id


def applied(world: World, **policy) -> tuple[int, int]:
    """A new organisation's application (after setting the policy, if given): (application id, organisation id)."""
    with db.session_scope(world.url) as session:
        if policy:
            admission.set_policy(session, world.actor(LEAD), world.alliance_id, **policy)
        org = new_org(session)
        application = admission.apply(session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full")
        return application.id, org


def status_of(world: World, application_id: int) -> tuple[str, str]:
    with db.session_scope(world.url) as session:
        application = session.get(MembershipApplication, application_id)
        return application.status, session.get(Membership, application.membership_id).status


def step(world: World, application_id: int, to: str, org: int) -> None:
    with db.session_scope(world.url) as session:
        lead = world.actor(LEAD)
        if to == "under_consideration":
            admission.consider(session, lead, world.alliance_id, application_id)
        elif to == "admitted":
            admission.admit(session, lead, world.alliance_id, application_id)
        elif to == "declined":
            admission.decline(session, lead, world.alliance_id, application_id, "Outside our footprint")
        else:
            admission.withdraw(session, CLI, org, application_id)


MEMBERSHIP_AFTER = {"admitted": "working_towards", "declined": "declined", "withdrawn": "withdrawn"}
STEPS = ("under_consideration", "admitted", "declined", "withdrawn")


def reach(world: World, state: str) -> tuple[int, int]:
    application_id, org = applied(world)
    if state == "new":
        return application_id, org
    if state != "under_consideration":
        step(world, application_id, "under_consideration", org) if state == "admitted" else None
    step(world, application_id, state, org)
    return application_id, org


@pytest.mark.parametrize("start", APPLICATION_STATES)
@pytest.mark.parametrize("to", STEPS)
def test_every_step_from_every_state_is_allowed_or_refused(world: World, start: str, to: str) -> None:
    application_id, org = reach(world, start)
    assert status_of(world, application_id)[0] == start
    allowed = to in admission.TRANSITIONS[start]
    if allowed:
        step(world, application_id, to, org)
        status, membership = status_of(world, application_id)
        assert status == to
        assert membership == MEMBERSHIP_AFTER.get(to, "applicant")
    else:
        with pytest.raises(ApplicationRefused):
            step(world, application_id, to, org)
        assert status_of(world, application_id)[0] == start  # nothing changed


def test_the_state_machine_allows_exactly_these_steps() -> None:
    assert {s: set(t) for s, t in admission.TRANSITIONS.items()} == {
        "new": {"under_consideration", "admitted", "declined", "withdrawn"},
        "under_consideration": {"admitted", "declined", "withdrawn"},
        "admitted": set(),
        "declined": set(),
        "withdrawn": set(),
    }
    with pytest.raises(ApplicationRefused, match="final"):
        admission.check_step("declined", "admitted")
    with pytest.raises(ApplicationRefused, match="not a state"):
        admission.check_step("new", "accepted")


def test_admitting_starts_the_membership_and_opens_its_first_assessment_in_the_open_cycle(world: World) -> None:
    application_id, org = applied(world)
    step(world, application_id, "admitted", org)
    with db.session_scope(world.url) as session:
        application = session.get(MembershipApplication, application_id)
        membership = session.get(Membership, application.membership_id)
        assert membership.status == "working_towards" and membership.joined_on is not None
        [assessment] = session.exec(select(Assessment).where(Assessment.membership_id == membership.id)).all()
        assert assessment.cycle_id == world.cycle_id and assessment.status == "draft"
        assert application.decided_by == world.user_ids[LEAD] and application.decided_at is not None
        actions = [
            e.action for e in session.exec(select(AuditEvent).where(AuditEvent.entity_type == "membershipapplication"))
        ]
        assert actions == ["application.submitted", "application.admitted"]
        [notice] = session.exec(select(Notification).where(Notification.organisation_id == org)).all()
        assert "admitted you as a member" in notice.title


def test_admitting_with_no_open_cycle_opens_no_assessment(world: World) -> None:
    with db.session_scope(world.url) as session:
        cycles.close(session, world.actor(LEAD), world.alliance_id, world.cycle_id)
    application_id, org = applied(world)
    step(world, application_id, "admitted", org)
    with db.session_scope(world.url) as session:
        membership_id = session.get(MembershipApplication, application_id).membership_id
        assert session.exec(select(Assessment).where(Assessment.membership_id == membership_id)).all() == []


def test_declining_needs_a_reason_and_tells_the_applicant(world: World) -> None:
    application_id, org = applied(world)
    with db.session_scope(world.url) as session:
        with pytest.raises(ServiceError, match="reason: say why"):
            admission.decline(session, world.actor(LEAD), world.alliance_id, application_id, "   ")
    step(world, application_id, "declined", org)
    with db.session_scope(world.url) as session:
        assert session.get(MembershipApplication, application_id).reason == "Outside our footprint"
        [notice] = session.exec(select(Notification).where(Notification.organisation_id == org)).all()
        assert "declined" in notice.title and notice.body == "Outside our footprint"


def test_after_a_decline_the_organisation_applies_again_with_a_new_application(world: World) -> None:
    application_id, org = applied(world)
    step(world, application_id, "declined", org)
    with db.session_scope(world.url) as session:
        again = admission.apply(session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full")
        assert again.id != application_id and again.status == "new"
        assert session.get(MembershipApplication, application_id).status == "declined"  # kept, final
        assert session.get(Membership, again.membership_id).status == "applicant"
    with db.session_scope(world.url) as session:  # an open application covers the route: no second one
        with pytest.raises(ServiceError, match="already has a full membership"):
            admission.apply(session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full")


def test_another_alliances_lead_and_another_organisation_reach_nothing(world: World) -> None:
    application_id, org = applied(world)
    with db.session_scope(world.url) as session:
        other = create_alliance(session, CLI, slug="other", name="Other Alliance", standards_set="web-test")
        other_id, other_org = other.id, new_org(session)
    with db.session_scope(world.url) as session:
        for call in (
            lambda: admission.consider(session, CLI, other_id, application_id),
            lambda: admission.admit(session, CLI, other_id, application_id),
            lambda: admission.decline(session, CLI, other_id, application_id, "No"),
            lambda: admission.application_page(session, other_id, application_id),
            lambda: admission.withdraw(session, CLI, other_org, application_id),
            lambda: admission.answer_sponsorship(session, CLI, other_org, application_id, True),
        ):
            with pytest.raises(NotFound):
                call()
        assert admission.applications_of(session, other_id) == []
    assert status_of(world, application_id) == ("new", "applicant")


def test_org_types_and_regions_outside_the_policy_cannot_be_admitted(world: World) -> None:
    application_id, org = applied(
        world, org_types=["community", "mental-health"], regions=["North West"], sponsor_required=False
    )
    with db.session_scope(world.url) as session:
        [line] = admission.applications_of(session, world.alliance_id, "new")
        assert len(line.problems) == 2
        assert "organisation type acute is not one the alliance admits" in line.problems[0]
        assert "region South East London is not one the alliance admits (North West)" == line.problems[1]
        with pytest.raises(ApplicationRefused, match="eligibility: the application cannot be admitted"):
            admission.admit(session, world.actor(LEAD), world.alliance_id, application_id)
    assert status_of(world, application_id) == ("new", "applicant")
    with db.session_scope(world.url) as session:  # the policy widened: now it can
        admission.set_policy(
            session, world.actor(LEAD), world.alliance_id, org_types=["acute"], regions=[], sponsor_required=False
        )
    step(world, application_id, "admitted", org)
    assert status_of(world, application_id) == ("admitted", "working_towards")


def test_the_policy_refuses_what_is_not_a_type_or_a_region_and_is_audited(world: World) -> None:
    with db.session_scope(world.url) as session:
        with pytest.raises(ServiceError, match="org_types: 'acute trust' is not an organisation type"):
            admission.set_policy(
                session,
                world.actor(LEAD),
                world.alliance_id,
                org_types=["Acute Trust"],
                regions=[],
                sponsor_required=False,
            )
        with pytest.raises(ServiceError, match="regions"):
            admission.set_policy(
                session, world.actor(LEAD), world.alliance_id, org_types=[], regions=["bad\x00"], sponsor_required=False
            )
    with db.session_scope(world.url) as session:
        admission.set_policy(
            session,
            world.actor(LEAD),
            world.alliance_id,
            org_types=[" acute ", "acute"],
            regions=[],
            sponsor_required=True,
        )
        policy = admission.policy_of(session, world.alliance_id)
        assert policy.org_types == ["acute"] and policy.sponsor_required is True
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "admission.policy_changed")).all()
        assert event.after == {"org_types": ["acute"], "regions": [], "sponsor_required": True}


def accredit(world: World, key: str = "a") -> None:
    with db.session_scope(world.url) as session:
        membership = session.get(Membership, world.memberships[key])
        change_status(session, membership, "accredited", CLI, "accredited")


def test_a_sponsor_must_be_an_accredited_member_and_confirms_before_admission(world: World) -> None:
    with db.session_scope(world.url) as session:
        admission.set_policy(
            session, world.actor(LEAD), world.alliance_id, org_types=[], regions=[], sponsor_required=True
        )
        org = new_org(session)
    with db.session_scope(world.url) as session:
        with pytest.raises(ServiceError, match="sponsor: Web Test Alliance needs a sponsor"):
            admission.apply(session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full")
        with pytest.raises(ServiceError, match="is not an accredited member of Web Test Alliance"):
            admission.apply(
                session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full", sponsor_ods="RN7"
            )
        with pytest.raises(ServiceError, match="no organisation with code ZZZ9"):
            admission.apply(
                session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full", sponsor_ods="zzz9"
            )
    accredit(world)
    with db.session_scope(world.url) as session:
        application = admission.apply(
            session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full", sponsor_ods="rn7"
        )
        application_id = application.id
        assert application.sponsor_status == "requested"
        [request] = admission.sponsor_requests(session, world.organisations["a"])
        assert (
            request.application.id == application_id
            and admission.sponsor_requests(session, world.organisations["b"]) == []
        )
        [line] = admission.applications_of(session, world.alliance_id)
        assert line.problems == ["the sponsor, Dartford and Gravesham NHS Trust, has not confirmed yet"]
        with pytest.raises(ApplicationRefused, match="eligibility"):
            admission.admit(session, world.actor(LEAD), world.alliance_id, application_id)
    with db.session_scope(world.url) as session:  # only the named sponsor answers
        with pytest.raises(NotFound):
            admission.answer_sponsorship(
                session, world.actor("member_b"), world.organisations["b"], application_id, True
            )
    with db.session_scope(world.url) as session:
        admission.answer_sponsorship(session, world.actor("member_a"), world.organisations["a"], application_id, True)
    with db.session_scope(world.url) as session:
        with pytest.raises(ApplicationRefused, match="already confirmed"):
            admission.answer_sponsorship(
                session, world.actor("member_a"), world.organisations["a"], application_id, False
            )
    with db.session_scope(world.url) as session:
        admission.admit(session, world.actor(LEAD), world.alliance_id, application_id)
    assert status_of(world, application_id) == ("admitted", "working_towards")


def test_a_refused_sponsorship_keeps_the_application_from_admission(world: World) -> None:
    accredit(world)
    with db.session_scope(world.url) as session:
        admission.set_policy(
            session, world.actor(LEAD), world.alliance_id, org_types=[], regions=[], sponsor_required=True
        )
        org = new_org(session)
        application_id = admission.apply(
            session, CLI, organisation_id=org, alliance_id=world.alliance_id, route="full", sponsor_ods="RN7"
        ).id
    with db.session_scope(world.url) as session:
        admission.answer_sponsorship(session, world.actor("member_a"), world.organisations["a"], application_id, False)
        [line] = admission.applications_of(session, world.alliance_id)
        assert line.problems == ["the sponsor, Dartford and Gravesham NHS Trust, has refused"]
        notices = session.exec(select(Notification).where(Notification.organisation_id == org)).all()
        assert any("has refused its sponsorship" in n.title for n in notices)
    step(world, application_id, "declined", org)  # it may still be declined
    with db.session_scope(world.url) as session:  # and a decided application takes no more answers
        with pytest.raises(ApplicationRefused):
            admission.answer_sponsorship(
                session, world.actor("member_a"), world.organisations["a"], application_id, True
            )


def test_counts_and_the_list_by_state(world: World) -> None:
    first, org1 = applied(world)
    second, org2 = applied(world)
    step(world, second, "under_consideration", org2)
    with db.session_scope(world.url) as session:
        counts = admission.counts_of(session, world.alliance_id)
        assert counts == {"new": 1, "under_consideration": 1, "admitted": 0, "declined": 0, "withdrawn": 0}
        assert [line.application.id for line in admission.applications_of(session, world.alliance_id, "new")] == [first]
        with pytest.raises(ServiceError, match="status: 'open' is not a state"):
            admission.applications_of(session, world.alliance_id, "open")
        page = admission.application_page(session, world.alliance_id, first)
        assert page.applicable and page.open_cycle.id == world.cycle_id
        assert page.line.route == "full"


def test_admitting_keeps_a_self_assessment_the_applicant_started(world: World) -> None:
    from app.services import open_assessment

    application_id, org = applied(world)
    with db.session_scope(world.url) as session:
        membership_id = session.get(MembershipApplication, application_id).membership_id
        started = open_assessment(session, CLI, membership_id=membership_id, cycle_id=world.cycle_id).id
    step(world, application_id, "admitted", org)
    with db.session_scope(world.url) as session:
        assert [a.id for a in session.exec(select(Assessment).where(Assessment.membership_id == membership_id))] == [
            started
        ]

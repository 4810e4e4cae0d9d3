"""The buddying lifecycle through the service layer on a real database: acceptance by both sides,
start, automatic completion by a later decision, withdrawal, reassignment, capacity under concurrent
acceptance, and the audit trail of every step."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field

import pytest
from sqlmodel import select

from app import db
from app.models import AssessmentCycle, AuditEvent, BuddyAssignment, Membership
from app.services import (
    CLI,
    NotFound,
    ServiceError,
    add_evidence,
    apply_for_membership,
    create_user,
    open_assessment,
    open_cycle,
    record_decision,
    register_organisation,
    save_answers,
    set_retention_policy,
    submit,
)
from app.services.buddying import pairs, planning
from tests.builders import attested
from tests.web.conftest import COMPLETE_ANSWERS, PASSWORD, World, build_world, password_hash

#: C2.1 (standard C2) is "higher is better" with target 85 and an amber band of 5: 70 is a major breach.
BREACH = {**COMPLETE_ANSWERS, "C2.1": 70}


@dataclass
class BuddyWorld:
    world: World
    previous_cycle_id: int
    memberships: dict[str, int] = field(default_factory=dict)
    organisations: dict[str, int] = field(default_factory=dict)

    def pairs(self, mentee: str, standard: str = "C2") -> list[BuddyAssignment]:
        with db.session_scope(self.world.url) as session:
            return session.exec(
                select(BuddyAssignment)
                .where(
                    BuddyAssignment.mentee_membership_id == self.memberships[mentee],
                    BuddyAssignment.standard_id == standard,
                )
                .order_by(BuddyAssignment.id)
            ).all()

    def pair(self, mentee: str, standard: str = "C2") -> BuddyAssignment:
        found = [p for p in self.pairs(mentee, standard) if p.status in planning.OPEN_PAIRS]
        assert len(found) == 1, found
        return found[0]


def _decided(
    session, world: World, cycle_id: int, key: str, answers: dict, kind: str, membership_id: int | None = None
) -> tuple[int, int, int]:
    """(organisation, membership, assessment) of a member whose self-assessment in a cycle is decided."""
    if membership_id is None:
        organisation = register_organisation(
            session,
            CLI,
            name=f"{key.capitalize()} NHS Trust",
            ods_code=f"BD{key.upper()}",
            org_type="acute",
            region="Buddy region",
        )
        membership_id = apply_for_membership(
            session, CLI, organisation_id=organisation.id, alliance_id=world.alliance_id, route="full"
        ).id
    assessment = open_assessment(session, CLI, membership_id=membership_id, cycle_id=cycle_id)
    assert save_answers(session, CLI, assessment.id, answers).ok
    add_evidence(session, CLI, assessment.id, "C1.1", kind="link", url=f"https://example.nhs.uk/{key}-plan")
    submit(session, CLI, assessment.id, attested())
    record_decision(session, CLI, assessment.id, kind)
    return session.get(Membership, membership_id).organisation_id, membership_id, assessment.id


def build_buddy_world(world: World, capacity: int = 3) -> BuddyWorld:
    """Last cycle: mentees "m" and "n" decided with a major breach on C2; "x" and "y" decided meeting it.
    The match for this cycle is stored (proposed pairs), each of the four has a member user."""
    with db.session_scope(world.url) as session:
        current = session.get(AssessmentCycle, world.cycle_id)
        previous = open_cycle(
            session,
            CLI,
            alliance_id=world.alliance_id,
            name=f"{current.opens_on.year - 1}/{current.opens_on.year % 100:02d}",
            opens_on=current.opens_on.replace(year=current.opens_on.year - 1),
            closes_on=current.opens_on - dt.timedelta(days=1),
        )
        set_retention_policy(session, CLI, world.alliance_id, max_buddy_mentees=capacity)
        bw = BuddyWorld(world, previous.id)
        for key, answers, kind in (
            ("m", BREACH, "working_towards"),
            ("n", BREACH, "working_towards"),
            ("x", COMPLETE_ANSWERS, "accredit"),
            ("y", COMPLETE_ANSWERS, "accredit"),
        ):
            organisation_id, membership_id, _ = _decided(session, world, previous.id, key, answers, kind)
            bw.organisations[key], bw.memberships[key] = organisation_id, membership_id
            user = create_user(
                session,
                CLI,
                email=f"{key}@buddy.test",
                name=f"Member {key}",
                password=PASSWORD,
                role="member",
                organisation_id=organisation_id,
                password_hash=password_hash(PASSWORD),
            )
            world.emails[f"member_{key}"], world.user_ids[f"member_{key}"] = user.email, user.id
        plan = planning.plan_buddying(session, world.alliance_id, world.cycle_id)
        planning.apply_plan(session, CLI, plan)
    return bw


@pytest.fixture
def bw(database_url) -> BuddyWorld:
    return build_buddy_world(build_world(database_url))


def actions(url: str, pair_id: int) -> list[str]:
    with db.session_scope(url) as session:
        return [
            e.action
            for e in session.exec(
                select(AuditEvent)
                .where(AuditEvent.entity_type == "buddyassignment", AuditEvent.entity_id == pair_id)
                .order_by(AuditEvent.id)
            )
        ]


def decide_now(bw: BuddyWorld, key: str, answers: dict, kind: str) -> None:
    with db.session_scope(bw.world.url) as session:
        _decided(session, bw.world, bw.world.cycle_id, key, answers, kind, membership_id=bw.memberships[key])


def test_both_sides_accept_then_start_and_a_later_decision_completes(bw):
    url, lead, x_org = bw.world.url, bw.world.actor("lead"), bw.organisations["x"]
    pair = bw.pair("m")
    assert pair.buddy_membership_id == bw.memberships["x"]
    with db.session_scope(url) as session:
        assert pairs.accept(session, lead, pair.id, alliance_id=bw.world.alliance_id).status == "proposed"
    with db.session_scope(url) as session, pytest.raises(ServiceError, match="already accepted"):
        pairs.accept(session, lead, pair.id, alliance_id=bw.world.alliance_id)
    with db.session_scope(url) as session, pytest.raises(ServiceError, match="only the alliance lead and the buddy"):
        pairs.accept(session, bw.world.actor("member_m"), pair.id, organisation_id=bw.organisations["m"])
    with db.session_scope(url) as session, pytest.raises(ServiceError, match="only an accepted pair can start"):
        pairs.start(session, lead, pair.id, alliance_id=bw.world.alliance_id)
    with db.session_scope(url) as session:
        assert pairs.accept(session, bw.world.actor("member_x"), pair.id, organisation_id=x_org).status == "accepted"
    with db.session_scope(url) as session:
        assert pairs.start(session, bw.world.actor("member_x"), pair.id, organisation_id=x_org).status == "active"
    # n's pair stays a proposal; m's need on C1 has no buddy.
    n_pair, m_c1 = bw.pair("n"), bw.pair("m", "C1")
    assert m_c1.buddy_membership_id is None

    decide_now(bw, "n", BREACH, "working_towards")  # C2 still breached: nothing ends
    assert bw.pairs("n")[-1].status == "proposed" and bw.pair("m").status == "active"
    decide_now(bw, "m", COMPLETE_ANSWERS, "accredit")
    done = bw.pairs("m")[-1]
    assert done.status == "completed" and done.ended_at is not None and "C2 met" in done.end_reason
    assert bw.pair("m", "C1").status == "proposed", "C1 is still not met"
    assert actions(url, pair.id) == [
        "buddy.proposed",
        "buddy.accepted",
        "buddy.accepted",
        "buddy.started",
        "buddy.completed",
    ]
    with db.session_scope(url) as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity_id == pair.id, AuditEvent.action == "buddy.accepted")
            .order_by(AuditEvent.id)
        ).all()
        assert [e.after["by"] for e in events] == ["lead", "buddy"]
        assert [e.actor for e in events] == [bw.world.emails["lead"], bw.world.emails["member_x"]]
    with db.session_scope(url) as session, pytest.raises(ServiceError, match="only a proposed, accepted or active"):
        pairs.withdraw(session, lead, pair.id, "too late", alliance_id=bw.world.alliance_id)
    assert n_pair.status == "proposed"


def test_a_met_standard_withdraws_a_proposal_as_no_longer_needed(bw):
    pair = bw.pair("n")
    decide_now(bw, "n", COMPLETE_ANSWERS, "accredit")
    ended = bw.pairs("n")[-1]
    assert ended.id == pair.id and ended.status == "withdrawn" and "no longer needed" in ended.end_reason
    assert actions(bw.world.url, pair.id)[-1] == "buddy.withdrawn"


def test_withdrawal_needs_a_reason_and_comes_from_the_lead_or_either_organisation(bw):
    url = bw.world.url
    m_pair, n_pair = bw.pair("m"), bw.pair("n")
    with db.session_scope(url) as session, pytest.raises(ServiceError, match="reason: give a reason"):
        pairs.withdraw(session, bw.world.actor("member_m"), m_pair.id, "  ", organisation_id=bw.organisations["m"])
    # y is not part of m's pair, member a's organisation neither: the pair does not exist for them.
    for who in ("y", "a"):
        with db.session_scope(url) as session, pytest.raises(NotFound):
            pairs.withdraw(
                session,
                bw.world.actor(f"member_{who}"),
                m_pair.id,
                "not ours",
                organisation_id=bw.organisations.get(who) or bw.world.organisations[who],
            )
    with db.session_scope(url) as session, pytest.raises(NotFound):
        pairs.accept(session, CLI, m_pair.id, alliance_id=bw.world.alliance_id + 1000)
    with db.session_scope(url) as session:
        pairs.withdraw(
            session,
            bw.world.actor("member_m"),
            m_pair.id,
            "We have a plan with the network",
            organisation_id=bw.organisations["m"],
        )
        pairs.withdraw(
            session,
            bw.world.actor("lead"),
            n_pair.id,
            "Merged with a regional programme",
            alliance_id=bw.world.alliance_id,
        )
    assert bw.pairs("m")[0].status == "withdrawn" and bw.pairs("m")[0].end_reason == "We have a plan with the network"
    with db.session_scope(url) as session, pytest.raises(ServiceError, match="only a proposed pair can be accepted"):
        pairs.accept(session, bw.world.actor("member_x"), m_pair.id, organisation_id=bw.organisations["x"])
    assert actions(url, n_pair.id) == ["buddy.proposed", "buddy.withdrawn"]


def test_reassign_withdraws_and_proposes_another_buddy_that_fits(bw):
    url, lead, alliance_id = bw.world.url, bw.world.actor("lead"), bw.world.alliance_id
    pair = bw.pair("m")
    with db.session_scope(url) as session:
        offered = [c.buddy_membership_id for c in planning.candidates(session, session.get(BuddyAssignment, pair.id))]
    assert offered == [bw.memberships["y"]], "x is the current buddy; m and n do not meet C2"
    for buddy, problem in (
        (bw.memberships["n"], "cannot buddy this need"),
        (bw.memberships["m"], "cannot buddy this need"),
        (bw.memberships["y"], "reason: give a reason"),
    ):
        with db.session_scope(url) as session, pytest.raises(ServiceError, match=problem):
            pairs.reassign(session, lead, alliance_id, pair.id, buddy)
    with db.session_scope(url) as session:
        new = pairs.reassign(session, lead, alliance_id, pair.id, bw.memberships["y"], "x has no theatre staff")
    old, current = bw.pairs("m")
    assert old.status == "withdrawn" and old.end_reason == "reassigned: x has no theatre staff"
    assert (current.id, current.status, current.buddy_membership_id) == (new.id, "proposed", bw.memberships["y"])
    assert actions(url, old.id)[-1] == "buddy.withdrawn" and actions(url, new.id) == ["buddy.reassigned"]
    # Nobody meets C1: the need without a buddy cannot be given one.
    with db.session_scope(url) as session, pytest.raises(ServiceError, match="cannot buddy this need"):
        pairs.reassign(session, lead, alliance_id, bw.pair("m", "C1").id, bw.memberships["x"])


def test_reassign_respects_capacity(bw):
    url = bw.world.url
    with db.session_scope(url) as session:
        set_retention_policy(session, CLI, bw.world.alliance_id, max_buddy_mentees=1)
    with db.session_scope(url) as session:
        pair = session.get(BuddyAssignment, bw.pair("m").id)
        assert planning.candidates(session, pair) == [], "y already has n: no room at a capacity of one"
        with pytest.raises(ServiceError, match="cannot buddy this need"):
            pairs.reassign(
                session, bw.world.actor("lead"), bw.world.alliance_id, pair.id, bw.memberships["y"], "closer"
            )


def _two_pairs_on_x_with_room_for_one(bw: BuddyWorld) -> tuple[int, int]:
    """m's and n's C2 pairs both with buddy x and x's acceptance, then a capacity of one."""
    url, lead = bw.world.url, bw.world.actor("lead")
    with db.session_scope(url) as session:
        n_pair = pairs.reassign(session, lead, bw.world.alliance_id, bw.pair("n").id, bw.memberships["x"], "x")
    ids = (bw.pair("m").id, n_pair.id)
    for pair_id in ids:
        with db.session_scope(url) as session:
            pairs.accept(session, bw.world.actor("member_x"), pair_id, organisation_id=bw.organisations["x"])
    with db.session_scope(url) as session:
        set_retention_policy(session, CLI, bw.world.alliance_id, max_buddy_mentees=1)
        lead_2 = create_user(
            session,
            CLI,
            email="second.lead@alliance.test",
            name="Second Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=bw.world.alliance_id,
            password_hash=password_hash(PASSWORD),
        )
        bw.world.emails["lead_2"], bw.world.user_ids["lead_2"] = lead_2.email, lead_2.id
    return ids


def test_acceptance_beyond_capacity_is_refused(bw):
    first, second = _two_pairs_on_x_with_room_for_one(bw)
    with db.session_scope(bw.world.url) as session:
        pairs.accept(session, bw.world.actor("lead"), first, alliance_id=bw.world.alliance_id)
    with db.session_scope(bw.world.url) as session, pytest.raises(ServiceError, match="limit of 1"):
        pairs.accept(session, bw.world.actor("lead"), second, alliance_id=bw.world.alliance_id)
    with db.session_scope(bw.world.url) as session:
        assert session.get(BuddyAssignment, second).status == "proposed"
        assert session.get(BuddyAssignment, second).lead_accepted_at is None


def test_two_leads_accepting_at_the_same_moment_cannot_exceed_capacity(bw, monkeypatch):
    pair_ids = _two_pairs_on_x_with_room_for_one(bw)
    counted = pairs.held_mentees

    def slow_count(*args):
        """Hold the count a moment, so both acceptances would read it before either writes."""
        found = counted(*args)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(pairs, "held_mentees", slow_count)
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def lead_accepts(who: str, pair_id: int) -> None:
        barrier.wait()
        try:
            with db.session_scope(bw.world.url) as session:
                pairs.accept(session, bw.world.actor(who), pair_id, alliance_id=bw.world.alliance_id)
        except ServiceError as exc:
            outcomes[pair_id] = str(exc)
        else:
            outcomes[pair_id] = "accepted"

    threads = [
        threading.Thread(target=lead_accepts, args=(who, pair_id)) for who, pair_id in zip(("lead", "lead_2"), pair_ids)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2 and list(outcomes.values()).count("accepted") == 1
    assert any("limit of 1" in outcome for outcome in outcomes.values())
    with db.session_scope(bw.world.url) as session:
        assert len(pairs.held_mentees(session, bw.world.alliance_id, bw.organisations["x"])) == 1
        statuses = sorted(session.get(BuddyAssignment, i).status for i in pair_ids)
    assert statuses == ["accepted", "proposed"]

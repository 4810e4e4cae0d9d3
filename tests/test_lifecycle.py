"""The membership lifecycle and the retention policy, on a real database.

The expected transitions are written out here from the membership model
(applicant -> working_towards -> accredited / accredited_with_conditions ->
at_risk -> suspended -> lapsed / withdrawn; declined applications; leavers may
apply again), independently of ``app.lifecycle``.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlmodel import select

from app import lifecycle, services
from app.models import Assessment, AuditEvent, Membership, MembershipStatusChange
from tests.builders import attested
from tests.conftest import PERFECT

ACTIVE = ("working_towards", "accredited", "accredited_with_conditions")
EXPECTED = {
    "applicant": {"working_towards", "accredited", "accredited_with_conditions", "declined", "withdrawn"},
    "working_towards": {"accredited", "accredited_with_conditions", "at_risk", "suspended", "lapsed", "withdrawn"},
    "accredited": {"working_towards", "accredited_with_conditions", "at_risk", "suspended", "lapsed", "withdrawn"},
    "accredited_with_conditions": {"working_towards", "accredited", "at_risk", "suspended", "lapsed", "withdrawn"},
    "at_risk": {"working_towards", "accredited", "accredited_with_conditions", "suspended", "lapsed", "withdrawn"},
    "suspended": {"working_towards", "accredited", "accredited_with_conditions", "at_risk", "lapsed", "withdrawn"},
    "lapsed": {"applicant"},
    "withdrawn": {"applicant"},
    "declined": {"applicant"},
}
STATUSES = sorted(EXPECTED)

# Answers for the test set (conftest) and what they do, worked out from the contract:
MAJOR_ON_Q2 = {**PERFECT, "Q2.1": 5.0}  # Q2 red (> 3.2 + 0.5): Q2 50, overall 83.3, accredited with conditions
MAJOR_ON_P1 = {**PERFECT, "P1.1": 70}  # P1 red (< 90 - 5): P1 0, overall 66.7, working towards
MINOR_ON_Q1 = {**PERFECT, "Q1.3": 82}  # amber: minor breach only, accredited with conditions
DECISION = {
    "accredited": "accredit",
    "accredited_with_conditions": "accredit_with_conditions",
    "working_towards": "working_towards",
    "not_accredited": "working_towards",
}


def test_the_model_has_exactly_these_statuses():
    assert sorted(lifecycle.STATUSES) == STATUSES


@pytest.mark.parametrize("from_status,to_status", [(a, b) for a, b in itertools.product(STATUSES, STATUSES) if a != b])
def test_every_transition_is_allowed_or_refused_as_the_model_says(from_status, to_status):
    expected = to_status in EXPECTED[from_status]
    assert lifecycle.allowed(from_status, to_status) is expected
    if expected:
        lifecycle.check_transition(from_status, to_status)
    else:
        with pytest.raises(lifecycle.LifecycleError, match=f"cannot go from {from_status} to {to_status}"):
            lifecycle.check_transition(from_status, to_status)


def test_an_unknown_status_is_refused():
    with pytest.raises(lifecycle.LifecycleError, match="'member' is not a membership status"):
        lifecycle.check_transition("applicant", "member")


def test_every_transition_through_the_service_writes_history_and_audit_or_nothing(session, world):
    membership = session.get(Membership, world.membership_id)
    for from_status, to_status in itertools.product(STATUSES, STATUSES):
        if from_status == to_status:
            continue
        membership.status = from_status  # set up the starting point directly
        session.add(membership)
        session.flush()
        changes = len(session.exec(select(MembershipStatusChange)).all())
        events = len(session.exec(select(AuditEvent)).all())
        if to_status in EXPECTED[from_status]:
            services.change_status(session, membership, to_status, world.admin, "test")
            session.flush()
            last = session.exec(select(MembershipStatusChange).order_by(MembershipStatusChange.id.desc())).first()
            assert (last.from_status, last.to_status, last.changed_by) == (from_status, to_status, world.admin.user_id)
            event = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
            assert (event.action, event.before["status"], event.after["status"]) == (
                "membership.status_changed",
                from_status,
                to_status,
            )
            assert membership.status == to_status
        else:
            with pytest.raises(services.TransitionRefused):
                services.change_status(session, membership, to_status, world.admin, "test")
            session.flush()
            assert membership.status == from_status
            assert len(session.exec(select(MembershipStatusChange)).all()) == changes
            assert len(session.exec(select(AuditEvent)).all()) == events


def test_dates_follow_the_lifecycle(session, world):
    membership = session.get(Membership, world.membership_id)
    services.change_membership_status(session, world.lead, membership.id, "working_towards", "admitted")
    assert membership.joined_on is not None and membership.left_on is None
    services.change_membership_status(session, world.member, membership.id, "withdrawn", "leaving the alliance")
    assert membership.left_on is not None
    services.change_membership_status(session, world.member, membership.id, "applicant", "applying again")
    assert membership.left_on is None
    with pytest.raises(services.ServiceError, match="say why"):
        services.change_membership_status(session, world.lead, membership.id, "declined", " ")
    assert [h.to_status for h in services.history(session, membership.id)] == [
        "applicant",
        "working_towards",
        "withdrawn",
        "applicant",
    ]


# --- the retention policy across cycles ----------------------------------------------------------------


def run_cycle(session, world, cycle: int, answers: dict) -> str:
    """A member's full cycle: answer, evidence, submit, and the lead decides as the outcome says."""
    assessment_id = world.open(session, cycle=cycle)
    assert services.save_answers(session, world.member, assessment_id, answers).ok
    services.add_evidence(session, world.member, assessment_id, "Q1.1", kind="link", url="https://docs.test/q1")
    result = services.submit(session, world.member, assessment_id, attested())
    conditions = (
        {"conditions": "bring the breached benchmarks back to target", "due_on": dt.date(2027, 3, 31)}
        if result.outcome == "accredited_with_conditions"
        else {}
    )
    services.record_decision(session, world.lead, assessment_id, DECISION[result.outcome], **conditions)
    return result.outcome


def membership_of(session, world) -> Membership:
    return session.get(Membership, world.membership_id)


def test_answers_used_below_give_the_outcomes_worked_out_by_hand(session, world):
    outcomes = {}
    assessment_id = world.open(session, cycle=0)
    for name, answers in (("q2", MAJOR_ON_Q2), ("p1", MAJOR_ON_P1), ("minor", MINOR_ON_Q1)):
        services.save_answers(session, world.member, assessment_id, answers)
        result = services.score(session, assessment_id)
        outcomes[name] = (
            result["overall"],
            result["outcome"],
            sorted((b["standard"], b["severity"]) for b in result["breaches"]),
        )
        services.save_answers(session, world.member, assessment_id, PERFECT)
    assert outcomes == {
        "q2": (83.3, "accredited_with_conditions", [("Q2", "major")]),
        "p1": (66.7, "working_towards", [("P1", "major")]),
        "minor": (94.4, "accredited_with_conditions", [("Q1", "minor")]),
    }


def test_a_major_breach_puts_the_member_at_risk_after_the_decision(session, world):
    assert run_cycle(session, world, 0, MAJOR_ON_Q2) == "accredited_with_conditions"
    membership = membership_of(session, world)
    assert membership.status == "at_risk" and not membership.suspension_recommended
    assert [(h.from_status, h.to_status) for h in services.history(session, membership.id)] == [
        (None, "applicant"),
        ("applicant", "accredited_with_conditions"),
        ("accredited_with_conditions", "at_risk"),
    ]
    assert "retention policy: major benchmark breach on Q2" in services.history(session, membership.id)[-1].reason
    assert services.consecutive_major_breaches(session, membership.id) == {"Q2": 1}


def test_a_minor_breach_alone_does_not(session, world):
    run_cycle(session, world, 0, MINOR_ON_Q1)
    assert membership_of(session, world).status == "accredited_with_conditions"
    assert services.consecutive_major_breaches(session, world.membership_id) == {}


def test_a_second_consecutive_major_breach_on_the_same_standard_recommends_suspension(session, world):
    run_cycle(session, world, 0, MAJOR_ON_Q2)
    run_cycle(session, world, 1, MAJOR_ON_Q2)
    membership = membership_of(session, world)
    assert membership.status == "at_risk"  # nothing is suspended automatically
    assert membership.suspension_recommended
    assert services.suspension_recommendations(session, world.alliance_id) == [(membership, {"Q2": 2})]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "membership.suspension_recommended")).one()
    assert event.after == {"suspension_recommended": True, "standards": ["Q2"], "cycles": 2}


def test_major_breaches_on_different_standards_do_not_recommend_suspension(session, world):
    run_cycle(session, world, 0, MAJOR_ON_Q2)
    run_cycle(session, world, 1, MAJOR_ON_P1)
    membership = membership_of(session, world)
    assert membership.status == "at_risk" and not membership.suspension_recommended
    assert services.consecutive_major_breaches(session, membership.id) == {"P1": 1}


def test_a_member_that_recovers_leaves_at_risk(session, world):
    run_cycle(session, world, 0, MAJOR_ON_Q2)
    assert run_cycle(session, world, 1, PERFECT) == "accredited"
    membership = membership_of(session, world)
    assert membership.status == "accredited" and not membership.suspension_recommended
    assert services.history(session, membership.id)[-1].from_status == "at_risk"


def test_thresholds_are_set_per_alliance(session, world):
    with pytest.raises(services.ServiceError, match="suspension_after_cycles: a whole number of cycles from 1 to 10"):
        services.set_retention_policy(session, world.admin, world.alliance_id, suspension_after_cycles=0)
    services.set_retention_policy(
        session, world.admin, world.alliance_id, suspension_after_cycles=3, at_risk_on_major_breach=False
    )
    run_cycle(session, world, 0, MAJOR_ON_Q2)
    run_cycle(session, world, 1, MAJOR_ON_Q2)
    membership = membership_of(session, world)
    assert membership.status == "accredited_with_conditions" and not membership.suspension_recommended
    change = session.exec(select(AuditEvent).where(AuditEvent.action == "alliance.retention_policy_changed")).one()
    assert change.before["suspension_after_cycles"] == 2 and change.after["suspension_after_cycles"] == 3


def test_one_cycle_is_enough_when_the_alliance_says_so(session, world):
    services.set_retention_policy(session, world.admin, world.alliance_id, suspension_after_cycles=1)
    run_cycle(session, world, 0, MAJOR_ON_P1)
    membership = membership_of(session, world)
    assert membership.status == "at_risk" and membership.suspension_recommended


def test_the_lead_decides_on_a_recommendation(session, world):
    run_cycle(session, world, 0, MAJOR_ON_Q2)
    run_cycle(session, world, 1, MAJOR_ON_Q2)
    assessment_id = session.exec(select(Assessment.id).where(Assessment.cycle_id == world.cycle_ids[1])).one()
    with pytest.raises(services.ServiceError, match="only a suspended membership can be reinstated"):
        services.record_decision(session, world.lead, assessment_id, "reinstate")
    services.record_decision(session, world.lead, assessment_id, "suspend", notes="improvement plan requested")
    membership = membership_of(session, world)
    assert membership.status == "suspended" and not membership.suspension_recommended
    with pytest.raises(services.ServiceError, match="already suspended"):
        services.record_decision(session, world.lead, assessment_id, "suspend")
    services.record_decision(session, world.lead, assessment_id, "reinstate", notes="plan agreed")
    assert membership.status == "at_risk"  # its breaches still stand
    assert not membership.suspension_recommended  # reinstating is the lead's answer to the recommendation


def test_the_lead_may_dismiss_a_recommendation(session, world):
    with pytest.raises(services.ServiceError, match="has no suspension recommendation"):
        services.dismiss_suspension_recommendation(session, world.lead, world.membership_id, "n/a")
    run_cycle(session, world, 0, MAJOR_ON_Q2)
    run_cycle(session, world, 1, MAJOR_ON_Q2)
    with pytest.raises(services.ServiceError, match="record why"):
        services.dismiss_suspension_recommendation(session, world.lead, world.membership_id, "")
    services.dismiss_suspension_recommendation(
        session, world.lead, world.membership_id, "new orthogeriatric consultants start next month"
    )
    membership = membership_of(session, world)
    assert membership.status == "at_risk" and not membership.suspension_recommended
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "membership.suspension_recommendation_cleared")
    ).one()
    assert event.after["dismissed"] is True and "orthogeriatric" in event.after["reason"]


def test_a_third_cycle_without_the_breach_withdraws_the_recommendation(session, world):
    run_cycle(session, world, 0, MAJOR_ON_Q2)
    run_cycle(session, world, 1, MAJOR_ON_Q2)
    third = services.open_cycle(
        session,
        world.lead,
        alliance_id=world.alliance_id,
        name="2027/28",
        opens_on=dt.date(2027, 4, 1),
        closes_on=dt.date(2028, 3, 31),
    )
    world.cycle_ids.append(third.id)
    run_cycle(session, world, 2, MINOR_ON_Q1)
    membership = membership_of(session, world)
    assert membership.status == "accredited_with_conditions" and not membership.suspension_recommended

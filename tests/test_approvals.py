"""Four-eyes approvals (app/services/approvals.py) on a fresh database: which actions wait for a second lead,
every transition of a proposal (allowed and refused), and an approved action applied exactly as a direct one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app import db
from app.models import (
    Approval,
    AssessmentResult,
    AuditEvent,
    Decision,
    Membership,
    Notification,
    OutgoingMail,
    ResultOverride,
    utcnow,
)
from app.services import CLI, Actor, NotFound, ServiceError, approvals, create_user
from app.services.assessments import context
from app.services.scoring import current_result
from tests.web.conftest import PASSWORD, World, build_world, password_hash
from tests.web.reviewing import ReviewWorld, build_review_world, four_eyes


def add_lead(world: World, key: str, alliance_id: int) -> Actor:
    with db.session_scope(world.url) as session:
        user = create_user(
            session,
            CLI,
            email=f"{key}@alliance.test",
            name=key.replace("_", " ").title(),
            password=PASSWORD,
            role="lead",
            alliance_id=alliance_id,
            password_hash=password_hash(PASSWORD),
        )
        world.emails[key], world.user_ids[key] = user.email, user.id
    return world.actor(key)


@pytest.fixture
def rw(database_url) -> ReviewWorld:
    """The review world with four eyes on in both alliances, and a second lead in X. Every self-assessment's
    engine outcome is working towards; clean meets C2, breach does not."""
    world = build_world(database_url)
    review = build_review_world(world, None, four_eyes_on=True)
    add_lead(world, "second", world.alliance_id)
    return review


def lead(rw: ReviewWorld) -> Actor:
    return rw.world.actor("lead")


def second(rw: ReviewWorld) -> Actor:
    return rw.world.actor("second")


def propose_accredit(rw: ReviewWorld, **extra) -> int:
    with db.session_scope(rw.world.url) as session:
        taken = approvals.decide(session, lead(rw), rw.world.alliance_id, rw.assessments["clean"], "accredit", **extra)
        assert taken.awaiting and taken.applied is None
        return taken.approval.id


def facts(url: str, assessment_id: int, membership_id: int) -> dict:
    """What a member, the audit trail and the outbox hold about one assessment's decision."""
    with db.session_scope(url) as session:
        return {
            "decisions": [
                (d.kind, d.conditions, d.due_on, d.notes, d.decided_by)
                for d in session.exec(select(Decision).where(Decision.assessment_id == assessment_id))
            ],
            "membership": session.get(Membership, membership_id).status,
            "assessment": context(session, assessment_id).assessment.status,
            "notifications": [
                (n.kind, n.title, n.body)
                for n in session.exec(select(Notification).where(Notification.assessment_id == assessment_id))
            ],
            "mail": sorted(
                (m.kind, m.title)
                for m in session.exec(select(OutgoingMail).where(OutgoingMail.kind == "decision_made"))
                if m.context["path"].endswith(f"/assessments/{assessment_id}/result")
            ),
        }


def actions(url: str) -> list[tuple[str, int | None]]:
    with db.session_scope(url) as session:
        return [(e.action, e.actor_id) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


# -- what needs a second lead ------------------------------------------------------------------------------------


def test_every_kind_needs_a_second_lead_by_default(database_url):
    world = build_world(database_url)
    with db.session_scope(database_url) as session:
        setting = approvals.setting_of(session, world.alliance_id)
        assert (setting.decisions, setting.overrides, setting.suspensions) == (True, True, True)
        assert all(approvals.needs_approval(session, world.alliance_id, kind) for kind in approvals.SETTINGS)


@pytest.mark.parametrize(
    "decision, outcome, favourable",
    [
        ("accredit", "accredited_with_conditions", True),
        ("accredit", "accredited", False),
        ("accredit_with_conditions", "working_towards", True),
        ("accredit_with_conditions", "accredited", False),
        ("working_towards", "not_accredited", True),
        ("working_towards", "working_towards", False),
        ("decline", "not_accredited", False),
        ("decline", "accredited", False),
        ("suspend", "not_accredited", False),  # a suspension is its own kind
        ("reinstate", "not_accredited", False),
        ("accredit", None, True),
    ],
)
def test_more_favourable_than_the_engine_follows_the_order_of_outcomes(decision, outcome, favourable):
    assert approvals.more_favourable(decision, outcome) is favourable


def test_the_setting_is_saved_and_audited(rw):
    with db.session_scope(rw.world.url) as session:
        approvals.save_setting(
            session, lead(rw), rw.world.alliance_id, decisions=False, overrides=True, suspensions=False
        )
    with db.session_scope(rw.world.url) as session:
        assert not approvals.needs_approval(session, rw.world.alliance_id, "decision")
        assert approvals.needs_approval(session, rw.world.alliance_id, "override")
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "approval.settings_changed")).all()[-1]
        assert (event.actor_id, event.entity_type, event.entity_id) == (
            rw.world.user_ids["lead"],
            "alliance",
            rw.world.alliance_id,
        )
        assert event.before == {"decisions": True, "overrides": True, "suspensions": True}
        assert event.after == {"decisions": False, "overrides": True, "suspensions": False}


# -- each kind, with the setting on and off ----------------------------------------------------------------------


@pytest.mark.parametrize("on", [True, False])
def test_a_decision_more_favourable_than_the_engine(rw, on):
    four_eyes(rw.world.url, rw.world.alliance_id, on)
    a, m = rw.assessments["clean"], rw.memberships["clean"]
    with db.session_scope(rw.world.url) as session:
        taken = approvals.decide(session, lead(rw), rw.world.alliance_id, a, "accredit", notes="Strong")
    assert taken.awaiting is on
    shown = facts(rw.world.url, a, m)
    if on:  # nothing the member sees has changed
        assert shown == {"decisions": [], "membership": "applicant", "assessment": "submitted"} | {
            "notifications": [],
            "mail": [],
        }
    else:
        assert shown["decisions"] == [("accredit", "", None, "Strong", rw.world.user_ids["lead"])]


def test_a_decision_no_more_favourable_than_the_engine_is_taken_at_once(rw):
    with db.session_scope(rw.world.url) as session:
        taken = approvals.decide(session, lead(rw), rw.world.alliance_id, rw.assessments["clean"], "working_towards")
        assert not taken.awaiting and taken.applied.kind == "working_towards"
        y = rw.world.actor("lead_y")
        taken = approvals.decide(session, y, rw.other_alliance_id, rw.assessments["other"], "decline")
        assert not taken.awaiting and taken.applied.kind == "decline"


@pytest.mark.parametrize("on", [True, False])
def test_an_override_that_changes_a_standards_status(rw, on):
    four_eyes(rw.world.url, rw.world.alliance_id, on)
    a = rw.assessments["clean"]
    with db.session_scope(rw.world.url) as session:
        taken = approvals.override(session, lead(rw), rw.world.alliance_id, a, "standard", "C2", "not_met", "Audit")
        assert taken.awaiting is on
        rows = session.exec(select(ResultOverride).where(ResultOverride.assessment_id == a)).all()
        status = current_result(session, a).result["standard_results"]["C2"]["status"]
    if on:
        assert rows == [] and status == "met"
        assert taken.approval.action["changes"] == [["C2", "met", "not_met"]]
    else:
        assert [(r.kind, r.target_id, r.value) for r in rows] == [("standard", "C2", "not_met")]
        assert status == "not_met"


def test_a_criterion_override_that_changes_a_standard_waits_too(rw):
    with db.session_scope(rw.world.url) as session:
        taken = approvals.override(
            session, lead(rw), rw.world.alliance_id, rw.assessments["clean"], "criterion", "C2.1", "0", "Wrong data"
        )
        assert taken.awaiting and taken.approval.action["changes"] == [["C2", "met", "not_met"]]


def test_an_override_that_changes_no_standard_is_set_at_once(rw):
    a = rw.assessments["clean"]
    with db.session_scope(rw.world.url) as session:
        taken = approvals.override(session, lead(rw), rw.world.alliance_id, a, "standard", "C4", "met", "Seen")
        assert not taken.awaiting and taken.applied.target_id == "C4"


@pytest.mark.parametrize("on", [True, False])
def test_a_suspension(rw, on):
    four_eyes(rw.world.url, rw.world.alliance_id, on)
    decided, m = rw.assessments["breach_earlier"], rw.memberships["breach"]
    with db.session_scope(rw.world.url) as session:
        before = session.get(Membership, m).status
        taken = approvals.decide(session, lead(rw), rw.world.alliance_id, decided, "suspend", notes="Two cycles")
        assert taken.awaiting is on
        assert session.get(Membership, m).status == (before if on else "suspended")
        if on:
            assert taken.approval.kind == "suspension"


def test_bad_input_is_refused_before_anything_is_proposed(rw):
    a = rw.assessments["clean"]
    with db.session_scope(rw.world.url) as session:
        with pytest.raises(ServiceError, match="conditions: enter the conditions"):
            approvals.decide(session, lead(rw), rw.world.alliance_id, a, "accredit_with_conditions")
        with pytest.raises(ServiceError, match="reason: give the reason"):
            approvals.override(session, lead(rw), rw.world.alliance_id, a, "standard", "C2", "not_met", " ")
        with pytest.raises(NotFound):
            approvals.decide(session, rw.world.actor("lead_y"), rw.other_alliance_id, a, "accredit")
        assert session.exec(select(Approval)).all() == []


# -- the state machine ---------------------------------------------------------------------------------------------


def test_approved_decision_is_applied_exactly_as_a_direct_one(rw):
    """X's proposal approved by a second lead, against Y's lead deciding the same directly on a twin member."""
    due = utcnow().date() + dt.timedelta(days=90)
    extra = {"conditions": "Send the audit.", "due_on": due, "notes": "Well argued."}
    approval_id = propose_accredit(rw)
    with db.session_scope(rw.world.url) as session:  # (withdrawn, to propose with conditions instead)
        approvals.withdraw(session, lead(rw), rw.world.alliance_id, approval_id)
    with db.session_scope(rw.world.url) as session:
        approval_id = approvals.decide(
            session, lead(rw), rw.world.alliance_id, rw.assessments["clean"], "accredit_with_conditions", **extra
        ).approval.id
    with db.session_scope(rw.world.url) as session:
        approved = approvals.approve(session, second(rw), rw.world.alliance_id, approval_id)
        assert (approved.status, approved.decided_by) == ("approved", rw.world.user_ids["second"])
    four_eyes(rw.world.url, rw.other_alliance_id, False)
    with db.session_scope(rw.world.url) as session:
        direct = approvals.decide(
            session,
            rw.world.actor("lead_y"),
            rw.other_alliance_id,
            rw.assessments["other"],
            "accredit_with_conditions",
            **extra,
        )
        assert not direct.awaiting
    via_approval = facts(rw.world.url, rw.assessments["clean"], rw.memberships["clean"])
    directly = facts(rw.world.url, rw.assessments["other"], rw.memberships["other"])
    assert via_approval["decisions"] == [
        ("accredit_with_conditions", "Send the audit.", due, "Well argued.", rw.world.user_ids["lead"])
    ]
    directly["decisions"] = [d[:4] + (rw.world.user_ids["lead"],) for d in directly["decisions"]]
    assert via_approval == directly
    assert via_approval["membership"] == "accredited_with_conditions" and len(via_approval["mail"]) == 1
    done = actions(rw.world.url)
    ids = rw.world.user_ids
    assert ("approval.proposed", ids["lead"]) in done and ("approval.withdrawn", ids["lead"]) in done
    assert ("approval.approved", ids["second"]) in done
    # the decision is the proposer's, recorded in the approval's transaction, just before the approval
    assert done.index(("decision.recorded", ids["lead"])) < done.index(("approval.approved", ids["second"]))


def test_approved_override_and_suspension_are_applied(rw):
    a = rw.assessments["clean"]
    with db.session_scope(rw.world.url) as session:
        override_id = approvals.override(
            session, lead(rw), rw.world.alliance_id, a, "standard", "C2", "not_met", "Audit"
        ).approval.id
        suspension_id = approvals.decide(
            session, lead(rw), rw.world.alliance_id, rw.assessments["breach_earlier"], "suspend", notes="Again"
        ).approval.id
    with db.session_scope(rw.world.url) as session:
        approvals.approve(session, second(rw), rw.world.alliance_id, override_id)
        approvals.approve(session, second(rw), rw.world.alliance_id, suspension_id)
    with db.session_scope(rw.world.url) as session:
        [row] = session.exec(select(ResultOverride).where(ResultOverride.assessment_id == a)).all()
        assert (row.value, row.reason, row.created_by) == ("not_met", "Audit", rw.world.user_ids["lead"])
        stored = session.exec(
            select(AssessmentResult).where(AssessmentResult.assessment_id == a, AssessmentResult.is_current == True)  # noqa: E712
        ).one()
        assert stored.result["standard_results"]["C2"]["status"] == "not_met"
        assert session.get(Membership, rw.memberships["breach"]).status == "suspended"
        [suspension] = session.exec(
            select(Decision).where(
                Decision.assessment_id == rw.assessments["breach_earlier"], Decision.kind == "suspend"
            )
        ).all()
        assert suspension.decided_by == rw.world.user_ids["lead"] and suspension.notes == "Again"


def test_nobody_approves_their_own(rw):
    approval_id = propose_accredit(rw)
    with db.session_scope(rw.world.url) as session:
        with pytest.raises(ServiceError, match="you proposed this: a second lead"):
            approvals.approve(session, lead(rw), rw.world.alliance_id, approval_id)
        with pytest.raises(ServiceError, match="withdraw it instead"):
            approvals.send_back(session, lead(rw), rw.world.alliance_id, approval_id, "No")
    with db.session_scope(rw.world.url) as session:
        assert session.get(Approval, approval_id).status == "pending"
        [line] = approvals.pending_lines(session, rw.world.alliance_id, rw.world.user_ids["lead"])
        assert line.mine and not line.can_approve
        [line] = approvals.pending_lines(session, rw.world.alliance_id, rw.world.user_ids["second"])
        assert line.can_approve


def test_another_alliance_and_an_admin_cannot_approve(rw):
    approval_id = propose_accredit(rw)
    add_lead(rw.world, "second_y", rw.other_alliance_id)
    with db.session_scope(rw.world.url) as session:
        with pytest.raises(NotFound):
            approvals.approve(session, rw.world.actor("lead_y"), rw.other_alliance_id, approval_id)
        with pytest.raises(NotFound):
            approvals.send_back(session, rw.world.actor("second_y"), rw.other_alliance_id, approval_id, "No")
        with pytest.raises(ServiceError, match="only a lead of the alliance"):  # a lead of Y naming X
            approvals.approve(session, rw.world.actor("lead_y"), rw.world.alliance_id, approval_id)
        with pytest.raises(ServiceError, match="only a lead of the alliance"):
            approvals.approve(session, rw.world.actor("admin"), rw.world.alliance_id, approval_id)
        with pytest.raises(ServiceError, match="only a lead of the alliance"):
            approvals.approve(session, CLI, rw.world.alliance_id, approval_id)
    with db.session_scope(rw.world.url) as session:
        assert session.get(Approval, approval_id).status == "pending"


def test_a_proposal_is_answered_once(rw):
    approval_id = propose_accredit(rw)
    with db.session_scope(rw.world.url) as session:
        approvals.approve(session, second(rw), rw.world.alliance_id, approval_id)
    add_lead(rw.world, "third", rw.world.alliance_id)
    for act in (
        lambda s: approvals.approve(s, rw.world.actor("third"), rw.world.alliance_id, approval_id),
        lambda s: approvals.approve(s, second(rw), rw.world.alliance_id, approval_id),
        lambda s: approvals.send_back(s, second(rw), rw.world.alliance_id, approval_id, "Late"),
        lambda s: approvals.withdraw(s, lead(rw), rw.world.alliance_id, approval_id),
    ):
        with db.session_scope(rw.world.url) as session:
            with pytest.raises(ServiceError, match="already approved"):
                act(session)
    assert len(facts(rw.world.url, rw.assessments["clean"], rw.memberships["clean"])["decisions"]) == 1


def test_sent_back_with_a_reason_nothing_takes_effect(rw):
    approval_id = propose_accredit(rw)
    with db.session_scope(rw.world.url) as session:
        with pytest.raises(ServiceError, match="reason: say why"):
            approvals.send_back(session, second(rw), rw.world.alliance_id, approval_id, "  ")
    with db.session_scope(rw.world.url) as session:
        approvals.send_back(session, second(rw), rw.world.alliance_id, approval_id, "The engine is right: C1 unmet")
    with db.session_scope(rw.world.url) as session:
        row = session.get(Approval, approval_id)
        assert (row.status, row.decided_by, row.reason) == (
            "sent_back",
            rw.world.user_ids["second"],
            "The engine is right: C1 unmet",
        )
        [line] = approvals.answered_lines(session, rw.world.alliance_id, rw.world.user_ids["lead"])
        assert line.approval.id == approval_id and line.decider == "Second"
        assert approvals.pending_lines(session, rw.world.alliance_id, rw.world.user_ids["second"]) == []
        with pytest.raises(ServiceError, match="already sent back"):
            approvals.approve(session, second(rw), rw.world.alliance_id, approval_id)
    assert facts(rw.world.url, rw.assessments["clean"], rw.memberships["clean"])["decisions"] == []
    assert ("approval.sent_back", rw.world.user_ids["second"]) in actions(rw.world.url)


def test_only_the_proposer_withdraws(rw):
    approval_id = propose_accredit(rw)
    with db.session_scope(rw.world.url) as session:
        with pytest.raises(ServiceError, match="only the lead who proposed it"):
            approvals.withdraw(session, second(rw), rw.world.alliance_id, approval_id)
        with pytest.raises(NotFound):
            approvals.withdraw(session, rw.world.actor("lead_y"), rw.other_alliance_id, approval_id)
    with db.session_scope(rw.world.url) as session:
        approvals.withdraw(session, lead(rw), rw.world.alliance_id, approval_id)
    with db.session_scope(rw.world.url) as session:
        assert session.get(Approval, approval_id).status == "withdrawn"
        with pytest.raises(ServiceError, match="already withdrawn"):
            approvals.approve(session, second(rw), rw.world.alliance_id, approval_id)
    # withdrawn, the self-assessment is open to decisions again
    with db.session_scope(rw.world.url) as session:
        assert approvals.decide(session, lead(rw), rw.world.alliance_id, rw.assessments["clean"], "working_towards")


def test_while_a_proposal_waits_no_other_decision_or_override_is_taken(rw):
    propose_accredit(rw)
    a = rw.assessments["clean"]
    for act in (
        lambda s: approvals.decide(s, second(rw), rw.world.alliance_id, a, "working_towards"),
        lambda s: approvals.decide(s, second(rw), rw.world.alliance_id, a, "accredit"),
        lambda s: approvals.override(s, second(rw), rw.world.alliance_id, a, "standard", "C4", "met", "Seen"),
        lambda s: approvals.return_to_member(s, second(rw), rw.world.alliance_id, a, "Fix C1 first"),
    ):
        with db.session_scope(rw.world.url) as session:
            with pytest.raises(ServiceError, match="awaits a second lead's approval"):
                act(session)


def test_an_approval_that_no_longer_fits_is_refused_and_nothing_changes(rw):
    approval_id = propose_accredit(rw)
    with db.session_scope(rw.world.url) as session:  # the member gets it back meanwhile
        from app.services import review

        review.return_to_member(session, second(rw), rw.world.alliance_id, rw.assessments["clean"], "Fix C1")
    with db.session_scope(rw.world.url) as session:
        with pytest.raises(ServiceError, match="can no longer take effect"):
            approvals.approve(session, second(rw), rw.world.alliance_id, approval_id)
    with db.session_scope(rw.world.url) as session:
        assert session.get(Approval, approval_id).status == "pending"
        approvals.send_back(session, second(rw), rw.world.alliance_id, approval_id, "Returned to the member")

"""Improvement plans: the member records one per gap, the lead tracks them with overdue ones highlighted, and a
later cycle shows which plans closed which gaps."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import select

from app import db
from app.models import AuditEvent, ImprovementPlan, utcnow
from app.services import current_result
from app.services import plans as plan_service
from app.services.assessments import context

from .conftest import COMPLETE_ANSWERS, Visitor, signed_in, text
from .reviewing import MAJOR_BREACH, _submitted, build_review_world


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"])


def squash(response) -> str:
    return " ".join(text(response).split())


def plan_form(due: dt.date, progress: str = "in_progress", **extra) -> dict:
    return {
        "actions": "Daily trauma list review; escalate delays over 24 hours.",
        "owner": "Trauma lead",
        "due_on-day": str(due.day),
        "due_on-month": str(due.month),
        "due_on-year": str(due.year),
        "progress": progress,
        **extra,
    }


def test_the_gaps_are_each_standard_not_met_and_each_breach(rw):
    with db.session_scope(rw.world.url) as session:
        ctx = context(session, rw.assessments["breach"])
        result = current_result(session, ctx.assessment.id).result
        gaps = {g.key for g in plan_service.gaps_of(ctx, result)}
        expected = {f"standard:{s}" for s, o in result["standard_results"].items() if o["status"] == "not_met"}
        expected |= {f"breach:{b['criterion']}" for b in result["breaches"]}
        assert gaps == expected and {"standard:C2", "breach:C2.1"} <= gaps


def test_the_member_records_and_updates_a_plan_and_it_is_audited(app, rw):
    a = rw.assessments["breach"]
    member = signed_in(app, rw.world, "member_breach")
    listing = squash(member.get(f"/member/assessments/{a}/plans"))
    assert "C2.1" in listing and "Record a plan" in listing and "No plan yet" in listing
    assert f"/member/assessments/{a}/plans/breach:C2.1" in listing
    refused = member.post(f"/member/assessments/{a}/plans/breach:C2.1", {"progress": "someday"})
    body = text(refused)
    assert refused.status_code == 200
    for message in (
        "Enter the actions that will close the gap",
        "Enter who owns the plan",
        "Enter the date the actions are due",
        "Choose not started, in progress or completed",
    ):
        assert message in body
    due = utcnow().date() + dt.timedelta(days=90)
    assert member.post(f"/member/assessments/{a}/plans/breach:C2.1", plan_form(due)).status_code == 302
    assert (
        member.post(
            f"/member/assessments/{a}/plans/breach:C2.1",
            plan_form(due, "completed", evidence="Audit Q3: 86% within 36 hours"),
        ).status_code
        == 302
    )
    with db.session_scope(rw.world.url) as session:
        plan = session.exec(select(ImprovementPlan)).one()
        assert (plan.gap, plan.standard_id, plan.criterion_id, plan.progress, plan.due_on) == (
            "breach:C2.1",
            "C2",
            "C2.1",
            "completed",
            due,
        )
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "plan.saved").order_by(AuditEvent.id)).all()
        assert [e.before and e.before["progress"] for e in events] == [None, "in_progress"]
        assert events[-1].after["progress"] == "completed" and events[-1].actor == "breach@member.test"
    lead_page = squash(signed_in(app, rw.world, "lead").get(f"/review/assessments/{a}"))
    plans = lead_page[lead_page.index('id="plans-table"') :]
    assert "Trauma lead" in plans and "Completed" in plans and "86% within 36 hours" in plans
    assert member.get(f"/member/assessments/{a}/plans/standard:NOPE").status_code == 404


def test_overdue_plans_are_highlighted_for_the_lead(app, rw):
    a = rw.assessments["breach"]
    member = signed_in(app, rw.world, "member_breach")
    past = utcnow().date() - dt.timedelta(days=10)
    member.post(f"/member/assessments/{a}/plans/breach:C2.1", plan_form(past))
    member.post(f"/member/assessments/{a}/plans/standard:C2", plan_form(past, "completed"))
    lead = signed_in(app, rw.world, "lead")
    page = squash(lead.get("/review/plans"))
    assert "2 plans, 1 overdue." in page
    rows = re.findall(r'<tr class="nhsuk-table__row( app-row--attention)?">(.*?)</tr>', page)
    assert rows[0][0] and "Breach of C2.1" in rows[0][1] and "Overdue" in rows[0][1]  # overdue first
    assert not rows[1][0] and "Standard C2" in rows[1][1] and "Overdue" not in rows[1][1]
    only = squash(lead.get("/review/plans?overdue=yes"))
    assert "1 plan, 1 overdue." in only and "Standard C2" not in only
    assert "Overdue" in squash(member.get(f"/member/assessments/{a}/plans"))
    assert "Breach Trust" not in text(signed_in(app, rw.world, "lead_y").get("/review/plans"))


def test_a_later_cycle_shows_which_plans_closed_which_gaps(app, rw):
    world = rw.world
    with db.session_scope(world.url) as session:
        org, membership, earlier, _ = _submitted(
            session,
            world.alliance_id,
            rw.previous_cycle_id,
            "Improver Trust",
            "IMP1",
            MAJOR_BREACH,
            app.extensions["upload_store"],
        )
        _, _, now, _ = _submitted(
            session,
            world.alliance_id,
            world.cycle_id,
            "",
            "IMP1",
            COMPLETE_ANSWERS,
            app.extensions["upload_store"],
            membership_id=membership,
        )
        ctx = context(session, earlier)
        past = utcnow().date() - dt.timedelta(days=30)
        for gap in ("breach:C2.1", "standard:C2"):
            plan_service.save_plan(
                session,
                world.actor("lead"),
                ctx,
                gap,
                {"actions": "Fix", "owner": "Ops", "due_on": past, "progress": "in_progress"},
            )
        lines = {line.gap.key: line for line in plan_service.plan_lines(session, ctx)}
        later = current_result(session, now).result
    # The later cycle's answers (C2.1 at 88, target 85) meet the measure, so the breach gap is closed there.
    assert not any(b["criterion"] == "C2.1" for b in later["breaches"])
    assert lines["breach:C2.1"].closed_by is not None and lines["breach:C2.1"].closed_by.id == world.cycle_id
    assert lines["breach:C2.1"].overdue is False  # a closed gap is not chased
    standard_closed = later["standard_results"]["C2"]["status"] == "met"
    assert (lines["standard:C2"].closed_by is not None) == standard_closed
    page = squash(signed_in(app, world, "lead").get("/review/plans"))
    improver = [
        row for row in re.findall(r"<tr class=\"nhsuk-table__row[^\"]*\">(.*?)</tr>", page) if "Improver Trust" in row
    ]
    breach_row = next(r for r in improver if "Breach of C2.1" in r)
    assert "Closed in" in breach_row and "Overdue" not in breach_row


PLAN_PERSONAS = ("anonymous", "member_breach", "member_clean", "lead", "admin")


def test_plan_pages_authorisation(app, rw):
    a = rw.assessments["breach"]
    due = utcnow().date() + dt.timedelta(days=30)
    cases = [
        ("GET", f"/member/assessments/{a}/plans", None, 200),
        ("GET", f"/member/assessments/{a}/plans/breach:C2.1", None, 200),
        ("POST", f"/member/assessments/{a}/plans/breach:C2.1", plan_form(due), 302),
    ]
    covered = {("plans.plans", "GET"), ("plans.plan", "GET"), ("plans.plan", "POST")}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("plans."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (rule.endpoint, method) in covered
    people = {"anonymous": Visitor(app)}
    for who in PLAN_PERSONAS[1:]:
        people[who] = signed_in(app, rw.world, who)
    expected = {"anonymous": 302, "member_clean": 404, "lead": 403, "admin": 403}
    for who in ("anonymous", "member_clean", "lead", "admin"):
        for method, path, data, _ in cases:
            response = people[who].get(path) if method == "GET" else people[who].post(path, data)
            assert response.status_code == expected[who], (who, method, path)
    with db.session_scope(rw.world.url) as session:
        assert session.exec(select(ImprovementPlan)).all() == []
    for method, path, data, ok in cases:
        response = people["member_breach"].get(path) if method == "GET" else people["member_breach"].post(path, data)
        assert response.status_code == ok, (method, path)
    assert people["member_breach"].post(cases[2][1], plan_form(due), csrf=False).status_code == 400

"""Buddying proposals from the stored world: the demo alliances, the real engine and the database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import select

from app import services
from app.models import AuditEvent, BuddyAssignment, Membership
from app.services.buddying import planning
from app.services.buddying.pairs import refresh_many

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo_world(demo_worlds, database_url, session_factory):
    demo_worlds.into(database_url, buddies=False)
    return session_factory


def noa_plan(session) -> planning.BuddyPlan:
    alliance = planning.find_alliance(session, "noa")
    return planning.plan_buddying(session, alliance.id, planning.find_cycle(session, alliance, "2026/27").id)


def test_every_need_of_a_latest_decided_result_is_planned(demo_world):
    with demo_world() as session:
        plan = noa_plan(session)
        memberships = {m.id: m for m in session.exec(select(Membership)).all()}
        for membership_id in {p.need.membership_id for p in plan.matching.proposals}:
            result = planning._latest_results(session, [membership_id], plan.cycle)[membership_id]
            expected = {sid for sid, r in result["standard_results"].items() if r["status"] == "not_met"}
            expected |= {b["standard"] for b in result["breaches"] if b["severity"] == "major"}
            planned = {p.need.standard for p in plan.matching.proposals if p.need.membership_id == membership_id}
            planned |= {n.standard for n in plan.matching.no_buddy if n.membership_id == membership_id}
            assert planned == expected
    assert plan.needs == len(plan.matching.proposals) + len(plan.matching.no_buddy) > 0
    mentees_of = defaultdict(set)
    for proposal in plan.matching.proposals:
        buddy, mentee = memberships[proposal.buddy_membership_id], memberships[proposal.need.membership_id]
        assert buddy.organisation_id != mentee.organisation_id
        assert buddy.status in planning.GIVING_STATUSES
        assert buddy.route == "full" or (buddy.route, buddy.specialty) == (mentee.route, mentee.specialty)
        mentees_of[buddy.organisation_id].add(mentee.id)
    capacity = plan.alliance.max_buddy_mentees
    assert all(len(mentees) <= capacity for mentees in mentees_of.values())


def test_apply_stores_proposals_with_audit_and_a_second_run_adds_nothing(demo_world):
    with demo_world() as session:
        plan = noa_plan(session)
        stored = planning.apply_plan(session, services.CLI, plan)
    assert len(stored) == len(plan.matching.proposals) + len(plan.matching.no_buddy)
    with demo_world() as session:
        pairs = session.exec(select(BuddyAssignment)).all()
        assert {(p.mentee_membership_id, p.standard_id, p.buddy_membership_id) for p in pairs} == {
            (x.need.membership_id, x.need.standard, x.buddy_membership_id) for x in plan.matching.proposals
        } | {(n.membership_id, n.standard, None) for n in plan.matching.no_buddy}
        assert all(p.status == "proposed" for p in pairs)
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "buddy.proposed")).all()
        assert len(events) == len(plan.matching.proposals)
        again = noa_plan(session)
        assert again.matching.proposals == ()
        assert len(again.covered) == len(plan.matching.proposals)
        assert planning.apply_plan(session, services.CLI, again) == []


def test_capacity_counts_pairs_already_proposed(demo_world):
    with demo_world() as session:
        alliance = planning.find_alliance(session, "noa")
        services.set_retention_policy(session, services.CLI, alliance.id, max_buddy_mentees=1)
    with demo_world() as session:
        plan = noa_plan(session)
        mentees_of = defaultdict(set)
        for proposal in plan.matching.proposals:
            mentees_of[proposal.buddy_organisation_id].add(proposal.need.membership_id)
        assert mentees_of and all(len(mentees) == 1 for mentees in mentees_of.values())
        # Store every proposal but the last mentee's: each of those buddies then holds its one mentee.
        last = plan.matching.proposals[-1].need.membership_id
        stored = tuple(p for p in plan.matching.proposals if p.need.membership_id != last)
        assert stored and len({p.need.membership_id for p in stored}) >= 5
        planning.apply_plan(session, services.CLI, replace(plan, matching=replace(plan.matching, proposals=stored)))
        taken = {p.buddy_organisation_id for p in stored}
        wanted = {p.need.standard for p in plan.matching.proposals if p.need.membership_id == last}
        wanted |= {n.standard for n in plan.matching.no_buddy if n.membership_id == last}
    with demo_world() as session:
        again = noa_plan(session)
        assert {p.need.membership_id for p in again.matching.proposals} <= {last}
        assert all(p.buddy_organisation_id not in taken and p.load == 0 for p in again.matching.proposals)
        planned = {p.need.standard for p in again.matching.proposals if p.need.membership_id == last}
        planned |= {n.standard for n in again.matching.no_buddy if n.membership_id == last}
        assert planned == wanted


def test_cli_prints_the_table_and_applies(demo_world, database_url):
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "cli.py", "buddy", "match", "--alliance", "noa", "--cycle", "2026/27"]
    dry = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "proposed buddy" in dry.stdout and "dry run: nothing stored" in dry.stdout
    with demo_world() as session:
        assert session.exec(select(BuddyAssignment)).all() == []
    applied = subprocess.run(command + ["--apply"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    assert "stored" in applied.stdout
    with demo_world() as session:
        assert session.exec(select(BuddyAssignment)).all()
    unknown = subprocess.run(
        command[:5] + ["nope", "--cycle", "2026/27"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert unknown.returncode == 1 and "alliance 'nope' does not exist" in unknown.stderr
    assert unknown.stdout == "" and "Traceback" not in unknown.stderr


def test_a_refresh_plans_what_a_match_plans_and_nothing_once_applied(demo_world):
    with demo_world() as session:
        plan = noa_plan(session)
        ahead = planning.plan_refresh(session, plan.alliance.id, plan.cycle.id)
        assert ahead.gone == []
        assert ahead.plan.matching == plan.matching and ahead.plan.covered == plan.covered
        assert ahead.plan.matching.proposals, "the demo alliance has needs to plan"
        planning.apply_plan(session, services.CLI, plan)
    with demo_world() as session:
        again = planning.plan_refresh(session, plan.alliance.id, plan.cycle.id)
        assert again.gone == [] and again.plan.matching.proposals == ()
        assert {(n.membership_id, n.standard) for n in again.plan.matching.no_buddy} == {
            (n.membership_id, n.standard) for n in plan.matching.no_buddy
        }
        assert refresh_many(session, services.CLI, [again], "test") == [(0, 0)]

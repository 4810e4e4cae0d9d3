"""Buddying pages: the lead's board and the member organisations' panels, through the real app and database.

Authorisation: anonymous visitors are sent to sign in, the wrong role gets 403, and a lead of another
alliance or a member organisation outside the pair gets 404 and changes nothing.
"""

from __future__ import annotations

import html

import pytest
from sqlmodel import select

from app import db
from app.models import AuditEvent, BuddyAssignment
from app.services import CLI, create_alliance, create_user

from ..test_buddy_lifecycle import BuddyWorld, build_buddy_world
from .conftest import PASSWORD, Visitor, password_hash, signed_in, text
from .matrix import Case, Seen, mismatches, send, uncovered, visit

OUTSIDERS = ("anonymous", "member_a", "member_y", "lead_y", "admin")
INSIDERS = ("lead", "member_x", "member_m")


def lead_route(ok: int) -> dict[str, int]:
    return {
        "anonymous": 302,
        "member_a": 403,
        "member_y": 403,
        "lead_y": 404,
        "admin": 403,
        "lead": ok,
        "member_x": 403,
        "member_m": 403,
    }


def member_route(ok: int) -> dict[str, int]:
    return {
        "anonymous": 302,
        "member_a": 404,
        "member_y": 404,
        "lead_y": 403,
        "admin": 403,
        "lead": 403,
        "member_x": ok,
        "member_m": ok,
    }


@pytest.fixture
def bw(app, world) -> BuddyWorld:
    found = build_buddy_world(world)
    with db.session_scope(world.url) as session:
        other = create_alliance(session, CLI, slug="other-alliance", name="Other Alliance", standards_set="web-test")
        lead_y = create_user(
            session,
            CLI,
            email="lead@other.test",
            name="Other Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=other.id,
            password_hash=password_hash(PASSWORD),
        )
        world.emails["lead_y"], world.user_ids["lead_y"] = lead_y.email, lead_y.id
    return found


def cases(bw: BuddyWorld) -> list[Case]:
    pair, other = bw.pair("m").id, bw.pair("n").id
    lead, member = f"/review/buddying/{pair}", f"/member/buddying/{pair}"
    return [
        Case("buddying.board", "GET", "/review/buddying", {**lead_route(200), "lead_y": 200}),
        Case("buddying.lead_step", "POST", f"{lead}/accept", lead_route(302)),
        Case("buddying.lead_step", "POST", f"{lead}/start", lead_route(302)),  # refused: not yet accepted
        Case(
            "buddying.lead_step",
            "POST",
            f"/review/buddying/{other}/reassign",
            lead_route(302),
            {"buddy": str(bw.memberships["x"]), "reason": "X is nearer"},
        ),
        Case("buddying.member_step", "POST", f"{member}/accept", member_route(302)),  # m's is refused: the mentee
        Case("buddying.member_step", "POST", f"{member}/start", member_route(302)),
        Case("buddying.lead_step", "POST", f"{lead}/withdraw", lead_route(302), {"reason": "Try again next cycle"}),
        Case("buddying.member_step", "POST", f"{member}/withdraw", member_route(302), {"reason": "Not needed"}),
    ]


def state(bw: BuddyWorld) -> list:
    with db.session_scope(bw.world.url) as session:
        return [
            (p.id, p.status, p.buddy_membership_id, p.lead_accepted_at, p.buddy_accepted_at, p.end_reason)
            for p in session.exec(select(BuddyAssignment).order_by(BuddyAssignment.id))
        ]


def people(app, bw: BuddyWorld) -> dict[str, Visitor]:
    found = {"anonymous": Visitor(app)}
    for who in OUTSIDERS[1:] + INSIDERS:
        found[who] = signed_in(app, bw.world, who)
    return found


def test_buddying_authorisation_matrix(app, bw):
    everyone, matrix = people(app, bw), cases(bw)
    before = state(bw)
    seen: Seen = {}
    visit(everyone, matrix, OUTSIDERS, seen)
    assert state(bw) == before, "someone outside the pairs changed them"
    with db.session_scope(bw.world.url) as session:
        outsiders = [bw.world.user_ids[w] for w in OUTSIDERS[1:]]
        assert session.exec(select(AuditEvent).where(AuditEvent.actor_id.in_(outsiders))).all() == []
    for case in matrix:  # case by case: the buddy's acceptance comes after the lead's, the withdrawal last
        for who in INSIDERS:
            seen[(case.method, case.path, who)] = send(everyone[who], case).status_code
    assert mismatches(matrix, seen, OUTSIDERS + INSIDERS) == {}
    # The lead accepted, x accepted and started, then the lead withdrew: the insiders' steps took effect.
    first = bw.pairs("m")[0]
    assert first.status == "withdrawn" and first.end_reason == "Try again next cycle"
    assert first.lead_accepted_at and first.buddy_accepted_at and first.started_at
    assert [p.buddy_membership_id for p in bw.pairs("n")] == [bw.memberships["y"], bw.memberships["x"]]


def test_the_matrix_covers_every_buddying_route(app, bw):
    assert uncovered(app, "buddying", cases(bw)) == []


def test_every_buddying_post_needs_a_csrf_token(app, bw):
    everyone = people(app, bw)
    before = state(bw)
    for case in cases(bw):
        if case.method == "POST":
            who = "lead" if case.path.startswith("/review/") else "member_x"
            assert everyone[who].post(case.path, case.data or {}, csrf=False).status_code == 400, case.path
    assert state(bw) == before


def page(person: Visitor, url: str) -> str:
    response = person.get(url)
    assert response.status_code == 200
    return html.unescape(text(response))


def test_a_pair_from_proposal_to_active_on_the_board_and_both_members_pages(app, bw):
    lead, x, m = (signed_in(app, bw.world, who) for who in ("lead", "member_x", "member_m"))
    pair = bw.pair("m").id
    board = page(lead, "/review/buddying")
    assert "X NHS Trust to buddy M NHS Trust on C2" in board and "Y NHS Trust to buddy N NHS Trust on C2" in board
    assert board.count("No buddy available") == 4, "nobody meets C1"
    assert "No organisation is buddying yet" not in board  # proposals count as proposed load
    assert "Buddying" in board and 'href="/review/buddying"' in board

    mine = page(x, "/member/")
    assert "You are buddying" in mine and "M NHS Trust on C2" in mine and "Lead not yet accepted" in mine
    assert "Your organisation is not buddying" not in mine and "No member is buddying your organisation" in mine
    assert "X NHS Trust on C2 for M NHS Trust" in page(m, "/member/")

    accepted = lead.post(f"/review/buddying/{pair}/accept", follow_redirects=True)
    assert "Accepted." in text(accepted)
    x.post(f"/member/buddying/{pair}/accept")
    board = page(lead, "/review/buddying")
    assert 'id="held-pairs"' in board and "1 / 3" in board
    started = x.post(f"/member/buddying/{pair}/start", follow_redirects=True)
    assert "Buddying started." in text(started)
    assert bw.pairs("m")[0].status == "active"
    assert "Active" in page(m, "/member/").split("Your buddies")[1].split("You are buddying")[0]

    refused = m.post(f"/member/buddying/{pair}/withdraw", {"reason": " "}, follow_redirects=True)
    assert "Give a reason for withdrawing." in text(refused) and bw.pairs("m")[0].status == "active"
    m.post(f"/member/buddying/{pair}/withdraw", {"reason": "Our network took this on"})
    ended = bw.pairs("m")[0]
    assert ended.status == "withdrawn" and ended.end_reason == "Our network took this on"
    assert "Our network took this on" in page(lead, "/review/buddying")


def test_the_lead_reassigns_from_the_board_and_capacity_refusals_are_shown(app, bw):
    lead = signed_in(app, bw.world, "lead")
    pair = bw.pair("m").id
    board = page(lead, "/review/buddying")
    assert 'name="buddy"' in board and f'value="{bw.memberships["y"]}"' in board
    missing = lead.post(f"/review/buddying/{pair}/reassign", {"buddy": str(bw.memberships["y"])}, follow_redirects=True)
    assert "Give a reason for reassigning." in text(missing)
    lead.post(f"/review/buddying/{pair}/reassign", {"buddy": str(bw.memberships["y"]), "reason": "Y is nearer"})
    old, new = bw.pairs("m")
    assert (old.status, new.status, new.buddy_membership_id) == ("withdrawn", "proposed", bw.memberships["y"])
    unknown = lead.post(f"/review/buddying/{new.id}/reassign", {"buddy": "nope"}, follow_redirects=True)
    assert "Choose a buddy." in text(unknown)
    assert lead.post("/review/buddying/999999/accept").status_code == 404

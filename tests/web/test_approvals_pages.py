"""Four-eyes approvals through the lead's pages: a decision awaiting approval on the self-assessment, the
approvals list, approve, send back and withdraw, the setting, and an alliance with one lead."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import select

from app import db
from app.models import Approval, AuditEvent, Decision, Membership
from app.services import CLI, create_user

from .conftest import PASSWORD, password_hash, signed_in, text
from .reviewing import build_review_world


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"], four_eyes_on=True)


def add_second_lead(rw) -> None:
    with db.session_scope(rw.world.url) as session:
        user = create_user(
            session,
            CLI,
            email="second@alliance.test",
            name="Second Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=rw.world.alliance_id,
            password_hash=password_hash(PASSWORD),
        )
        rw.world.emails["second"], rw.world.user_ids["second"] = user.email, user.id


def squash(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text(response))).split())


def pending_ids(url: str) -> list[int]:
    with db.session_scope(url) as session:
        return [a.id for a in session.exec(select(Approval).where(Approval.status == "pending"))]


def test_a_favourable_decision_awaits_a_second_lead_who_approves_it(app, rw):
    add_second_lead(rw)
    a, m = rw.assessments["clean"], rw.memberships["clean"]
    lead = signed_in(app, rw.world, "lead")
    response = lead.post(f"/review/assessments/{a}/decision", {"kind": "accredit", "notes": "Strong evidence"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#awaiting-approval")
    page = squash(lead.get(f"/review/assessments/{a}"))
    assert "awaits approval: another lead of the alliance must approve it" in page
    assert "Awaiting approval" in page and "Decision: Accredited (the engine's outcome: Working towards" in page
    assert "You proposed this" in page and "Withdraw" in page
    assert f"/review/approvals/{pending_ids(rw.world.url)[0]}/approve" not in text(lead.get(f"/review/assessments/{a}"))
    assert "Record decision" not in page  # nothing else is decided meanwhile
    assert "second lead is needed" not in page
    # the member sees nothing changed
    member = signed_in(app, rw.world, "member_clean")
    assert "Accredited" not in squash(member.get("/member/"))
    with db.session_scope(rw.world.url) as session:
        assert session.exec(select(Decision).where(Decision.assessment_id == a)).all() == []
        assert session.get(Membership, m).status == "applicant"

    second = signed_in(app, rw.world, "second")
    queue = text(second.get("/review/"))  # the queue marks the row that waits, and only that one
    row = queue[queue.index(f'id="row-{a}"') :]
    assert "Awaiting approval" in row[: row.index("</tr>")] and queue.count("app-awaiting") == 1
    listed = squash(second.get("/review/approvals"))
    assert "Clean Trust" in listed and "proposed by Alliance Lead" in listed and "Approve" in listed
    [approval_id] = pending_ids(rw.world.url)
    done = second.post(f"/review/approvals/{approval_id}/approve", {"assessment_id": str(a)})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/review/assessments/{a}")
    page = squash(second.get(f"/review/assessments/{a}"))
    assert "Approved: it has taken effect" in page and "Awaiting approval" not in page
    assert "app-awaiting" not in text(second.get("/review/"))
    with db.session_scope(rw.world.url) as session:
        [decision] = session.exec(select(Decision).where(Decision.assessment_id == a)).all()
        assert (decision.kind, decision.notes, decision.decided_by) == (
            "accredit",
            "Strong evidence",
            rw.world.user_ids["lead"],
        )
        assert session.get(Membership, m).status == "accredited"
    assert "Approved by Second Lead" in squash(lead.get("/review/approvals"))


def test_approvals_are_in_the_alliance_audit_trail(app, rw):
    add_second_lead(rw)
    lead = signed_in(app, rw.world, "lead")
    lead.post(f"/review/assessments/{rw.assessments['clean']}/decision", {"kind": "accredit"})
    [approval_id] = pending_ids(rw.world.url)
    signed_in(app, rw.world, "second").post(f"/review/approvals/{approval_id}/approve")
    trail = squash(lead.get("/review/audit"))
    assert "approval.proposed" in trail and "approval.approved" in trail and "decision.recorded" in trail
    assert "approval.proposed" not in squash(signed_in(app, rw.world, "lead_y").get("/review/audit"))


def test_send_back_needs_a_reason_and_tells_the_proposer(app, rw):
    add_second_lead(rw)
    a = rw.assessments["clean"]
    lead = signed_in(app, rw.world, "lead")
    lead.post(
        f"/review/assessments/{a}/overrides",
        {"kind": "standard", "standard": "C2", "status": "not_met", "reason": "Audit found gaps"},
    )
    [approval_id] = pending_ids(rw.world.url)
    second = signed_in(app, rw.world, "second")
    refused = second.post(f"/review/approvals/{approval_id}/send-back", {"reason": " "})
    assert refused.status_code == 302
    assert "Not done: reason: say why the proposal is sent back" in squash(second.get("/review/approvals"))
    second.post(f"/review/approvals/{approval_id}/send-back", {"reason": "The audit predates the cycle"})
    assert pending_ids(rw.world.url) == []
    mine = squash(lead.get("/review/approvals"))
    assert "Sent back by Second Lead" in mine and "Why: The audit predates the cycle" in mine
    assert "Override: standard C2 Not met" in mine


def test_the_proposer_withdraws_and_cannot_approve(app, rw):
    add_second_lead(rw)
    decided = rw.assessments["breach_earlier"]
    lead = signed_in(app, rw.world, "lead")
    lead.post(f"/review/assessments/{decided}/decision", {"kind": "suspend", "notes": "Two cycles"})
    [approval_id] = pending_ids(rw.world.url)
    own = lead.post(f"/review/approvals/{approval_id}/approve")
    assert own.status_code == 302
    assert "Not done: you proposed this: a second lead of the alliance must approve it" in squash(
        lead.get("/review/approvals")
    )
    assert pending_ids(rw.world.url) == [approval_id]
    lead.post(f"/review/approvals/{approval_id}/withdraw")
    assert pending_ids(rw.world.url) == []
    with db.session_scope(rw.world.url) as session:
        assert session.get(Membership, rw.memberships["breach"]).status != "suspended"


def test_an_alliance_with_one_lead_is_told_a_second_lead_is_needed(app, rw):
    a = rw.assessments["clean"]
    lead = signed_in(app, rw.world, "lead")
    lead.post(f"/review/assessments/{a}/decision", {"kind": "accredit"})
    page = squash(lead.get(f"/review/assessments/{a}"))
    assert "Your alliance has only one lead, so nobody can approve it" in page
    listed = squash(lead.get("/review/approvals"))
    assert "A second lead is needed" in listed and "administrators cannot approve" in listed
    admin = signed_in(app, rw.world, "admin")
    assert admin.post(f"/review/approvals/{pending_ids(rw.world.url)[0]}/approve").status_code == 403


def test_the_setting_is_changed_on_its_page_and_audited(app, rw):
    a = rw.assessments["clean"]
    lead = signed_in(app, rw.world, "lead")
    form = text(lead.get("/review/approvals/settings"))
    assert form.count("checked") == 3 and 'name="csrf_token"' in form
    assert lead.post("/review/approvals/settings", {"decisions": "y"}, csrf=False).status_code == 400
    saved = lead.post("/review/approvals/settings", {"overrides": "y", "suspensions": "y"})
    assert saved.status_code == 302
    listed = squash(lead.get("/review/approvals"))
    assert "A decision more favourable than the engine's outcome: takes effect at once" in listed
    assert "Suspending a member: needs a second lead" in listed
    # decisions now take effect at once
    lead.post(f"/review/assessments/{a}/decision", {"kind": "accredit"})
    assert pending_ids(rw.world.url) == []
    with db.session_scope(rw.world.url) as session:
        assert session.exec(select(Decision).where(Decision.assessment_id == a)).one().kind == "accredit"
        [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "approval.settings_changed")).all()[-1:]
        assert event.actor_id == rw.world.user_ids["lead"] and event.after["decisions"] is False
    assert "approval.settings_changed" in squash(lead.get("/review/audit?action=approval.settings_changed"))

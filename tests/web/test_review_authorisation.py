"""The review authorisation matrix: every review route x (anonymous, a member user, the lead of alliance X, the
lead of alliance Y, admin), on alliance X's data.

The lead of Y gets 404 for every page of X's, reading or writing, and nothing of X's changes; member users and
admins get 403; anonymous visitors are sent to sign in. Each lead reaches its own alliance's assessments only.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import db
from app.jobs import exports as export_jobs
from app.models import (
    Approval,
    ApprovalSetting,
    Assessment,
    AssessmentCycle,
    AuditEvent,
    CycleExport,
    Decision,
    Membership,
    MembershipApplication,
    Notification,
    ResultOverride,
    ReviewAssignment,
    ReviewComment,
)
from app.services import CLI, admission, approvals, create_user, cycle_exports, register_organisation
from app.services.review import override
from app.services.standards import register_text, register_version

from .conftest import PASSWORD, STANDARDS, STANDARDS_2, Visitor, password_hash, text
from .matrix import Case, Seen, mismatches, uncovered, visit
from .reviewing import build_review_world, four_eyes

PERSONAS = ("anonymous", "member_clean", "lead", "lead_y", "admin")


def lead_only(ok: int) -> dict[str, int]:
    """A route on X's data: X's lead allowed, Y's lead not found, everyone else forbidden or sent to sign in."""
    return {"anonymous": 302, "member_clean": 403, "lead": ok, "lead_y": 404, "admin": 403}


@pytest.fixture
def setup(app, world):
    rw = build_review_world(world, app.extensions["upload_store"])
    with db.session_scope(world.url) as session:
        rw.override_id = override(
            session,
            world.actor("lead"),
            world.alliance_id,
            rw.assessments["clean"],
            "criterion",
            "C2.1",
            1,
            "Seen on the visit",
        ).id
        draft = STANDARDS.read_text(encoding="utf-8").replace('version: "2026.1"', 'version: "2026.9"')
        assert draft != STANDARDS.read_text(encoding="utf-8")
        rw.draft_id = register_text(session, draft, "draft.yaml", world.actor("lead")).id  # X's lead's draft
        register_version(session, STANDARDS_2, CLI)  # the current version: mapped to CQC (the results are on 2026.1)
        other_set = STANDARDS.read_text(encoding="utf-8").replace("id: web-test", "id: another-set", 1)
        rw.other_set_id = register_text(session, other_set, "another.yaml", world.actor("lead")).id
        rw.export_id = cycle_exports.request(
            session, world.actor("lead"), world.alliance_id, world.cycle_id, "decisions", "json"
        ).id
    with db.session_scope(world.url) as session:  # an application to X
        applicant = register_organisation(
            session, CLI, name="Applicant Trust", ods_code="APPX1", org_type="acute", region="London"
        )
        rw.application_id = admission.apply(
            session, CLI, organisation_id=applicant.id, alliance_id=world.alliance_id, route="full"
        ).id
    with db.session_scope(world.url) as session:
        cycle = session.get(AssessmentCycle, world.cycle_id)
        rw.opens_on, rw.closes_on = cycle.opens_on.isoformat(), cycle.closes_on.isoformat()
    export_jobs.write_export(rw.export_id)  # the tests' queue runs it at once
    rw.approvals = proposals_in_x(rw)
    people = {"anonymous": Visitor(app)}
    for who in PERSONAS[1:]:
        person = Visitor(app)
        assert person.login(world.emails[who]).status_code == 302
        people[who] = person
    return rw, people


def proposals_in_x(rw) -> dict[str, int]:
    """Three proposals on X's decided assessment: two by a second lead of X (for X's lead to approve and to send
    back) and one by X's lead (to withdraw). Four eyes is on only while they are proposed."""
    world = rw.world
    four_eyes(world.url, world.alliance_id, True)
    with db.session_scope(world.url) as session:
        second = create_user(
            session,
            CLI,
            email="second.lead@alliance.test",
            name="Second Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=world.alliance_id,
            password_hash=password_hash(PASSWORD),
        )
        second_lead = approvals.Actor(second.email, second.id)
        decided = rw.assessments["breach_earlier"]
        to_approve = approvals.decide(session, second_lead, world.alliance_id, decided, "suspend", notes="Two cycles")
        found = {"approve": to_approve.approval.id}
        # One pending proposal per self-assessment is the rule; these two are written as rows to share it.
        for key, by in (("send_back", second.id), ("withdraw", world.user_ids["lead"])):
            row = Approval(
                alliance_id=world.alliance_id,
                kind="suspension",
                assessment_id=decided,
                membership_id=rw.memberships["breach"],
                action=dict(to_approve.approval.action),
                proposed_by=by,
            )
            session.add(row)
            session.flush()
            found[key] = row.id
    four_eyes(world.url, world.alliance_id, False)
    return found


def cases(rw) -> list[Case]:
    a = rw.assessments["clean"]
    base = f"/review/assessments/{a}"
    return [
        Case(
            "review.home",
            "GET",
            "/review/",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case("review.assessment", "GET", base, lead_only(200)),
        Case("review.assessment", "GET", f"/review/assessments/{rw.assessments['breach_earlier']}", lead_only(200)),
        Case("review.evidence_file", "GET", f"{base}/evidence/{rw.evidence['clean']}", lead_only(200)),
        Case("review.comment", "POST", f"{base}/comments", lead_only(302), {"comment": "Please add the audit."}),
        # Overrides before the decision: a decided assessment can no longer be overridden.
        Case(
            "review.set_override",
            "POST",
            f"{base}/overrides",
            lead_only(302),
            {"kind": "criterion", "criterion": "C2.1", "score": "0.5", "reason": "Seen on the visit"},
        ),
        Case("review.remove_override", "POST", f"{base}/overrides/{rw.override_id}/remove", lead_only(302)),
        Case("review.decide", "POST", f"{base}/decision", lead_only(302), {"kind": "working_towards"}),
        Case("review.summary", "GET", f"{base}/summary", lead_only(200)),
        # Assignment: from the assessment's page (back to it) and from the queue (back to the same filters).
        Case("review.assign", "POST", f"{base}/assign", lead_only(302), {"reviewer": "me"}),
        Case(
            "review.assign",
            "POST",
            f"/review/assessments/{rw.assessments['breach']}/assign",
            lead_only(302),
            {"reviewer": "me", "back": "status=submitted&page=1"},
        ),
        Case(
            "review.plans",
            "GET",
            "/review/plans",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "review.audit",
            "GET",
            "/review/audit",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "review.dashboard",
            "GET",
            "/review/dashboard",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case("review.dashboard", "GET", f"/review/dashboard?cycle={rw.previous_cycle_id}", lead_only(200)),
        # A framework of the current standards: each lead reads its own alliance's members, nobody else any.
        Case(
            "review.framework",
            "GET",
            "/review/frameworks/cqc",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "review.framework",
            "GET",
            "/review/frameworks/dspt",
            {"anonymous": 302, "member_clean": 403, "lead": 404, "lead_y": 404, "admin": 403},
        ),
        Case(
            "review.framework_export",
            "GET",
            "/review/frameworks/cqc/evidence.csv",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "review.framework_export",
            "GET",
            "/review/frameworks/cqc/evidence.json",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case("review.member_timeline", "GET", f"/review/members/{rw.memberships['breach']}", lead_only(200)),
        # Breach Trust has no recommendation yet: refused on the queue page (a redirect), nothing changes.
        # On Breach Trust's current assessment, last: returning it makes it a draft again.
        Case("review.start", "POST", f"/review/assessments/{rw.assessments['breach']}/start", lead_only(302)),
        Case(
            "review.return_assessment",
            "POST",
            f"/review/assessments/{rw.assessments['breach']}/return",
            lead_only(302),
            {"note": "Please recheck C2.1 against the national definition."},
        ),
        Case(
            "review.keep_member",
            "POST",
            f"/review/members/{rw.memberships['breach']}/keep",
            lead_only(302),
            {"notes": "Recovery plan agreed"},
        ),
        Case(
            "review.exports_page",
            "GET",
            "/review/exports",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        # A whole cycle's export: asked for (a job writes it), then downloaded; X's cycle and X's file are X's.
        Case(
            "review.request_export",
            "POST",
            "/review/exports",
            lead_only(302),
            {"cycle_id": str(rw.world.cycle_id), "kind": "results", "fmt": "csv"},
        ),
        Case("review.cycle_export_download", "GET", f"/review/exports/{rw.export_id}/download", lead_only(200)),
        # Both alliances accredit against web-test: each lead previews its own members on the set's versions.
        Case(
            "review.standards",
            "GET",
            "/review/standards",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "review.standards",
            "POST",
            "/review/standards",  # no file: refused on the page
            {"anonymous": 302, "member_clean": 403, "lead": 400, "lead_y": 400, "admin": 403},
        ),
        Case(
            "review.import_library",
            "POST",
            "/review/standards/library",  # no library: refused on the page
            {"anonymous": 302, "member_clean": 403, "lead": 400, "lead_y": 400, "admin": 403},
            {"set_id": "web-test", "version": "2026.9"},
        ),
        Case(
            "review.impact",
            "GET",
            f"/review/standards/{rw.world.version_id}/impact",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        # Each lead's preview of a version is its own alliance's (both alliances are on web-test).
        Case(
            "review.impact_again",
            "POST",
            f"/review/standards/{rw.world.version_id}/impact",
            {"anonymous": 302, "member_clean": 403, "lead": 302, "lead_y": 302, "admin": 403},
        ),
        Case("review.impact", "GET", f"/review/standards/{getattr(rw, 'other_set_id', 0)}/impact", lead_only(404)),
        # A draft is its uploader's to delete: Y's lead (on the same set) is refused, on the page.
        Case("review.delete_draft", "GET", f"/review/standards/{getattr(rw, 'draft_id', 0)}/delete", lead_only(200)),
        Case(
            "review.delete_draft",
            "POST",
            f"/review/standards/{getattr(rw, 'draft_id', 0)}/delete",
            {"anonymous": 302, "member_clean": 403, "lead": 302, "lead_y": 302, "admin": 403},
        ),
        # The preview of one cycle: X's cycle is X's lead's to choose, Y's is Y's.
        Case(
            "review.impact",
            "GET",
            f"/review/standards/{rw.world.version_id}/impact?cycle={rw.world.cycle_id}",
            lead_only(200),
        ),
        Case(
            "review.impact",
            "GET",
            f"/review/standards/{rw.world.version_id}/impact?cycle={rw.other_cycle_id}",
            {"anonymous": 302, "member_clean": 403, "lead": 404, "lead_y": 200, "admin": 403},
        ),
        # Applications: each lead lists its own alliance's; one of X's is X's lead's to read and decide.
        Case(
            "admission.applications",
            "GET",
            "/review/applications",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case("admission.application", "GET", f"/review/applications/{rw.application_id}", lead_only(200)),
        Case("admission.decide", "POST", f"/review/applications/{rw.application_id}/consider", lead_only(302)),
        Case("admission.decide", "POST", f"/review/applications/{rw.application_id}/admit", lead_only(302)),
        # Admitted is final: a decline is refused on the page.
        Case(
            "admission.decide",
            "POST",
            f"/review/applications/{rw.application_id}/decline",
            lead_only(400),
            {"reason": "No"},
        ),
        Case(
            "admission.policy",
            "GET",
            "/review/admission",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "admission.policy",
            "POST",
            "/review/admission",  # each lead sets its own alliance's
            {"anonymous": 302, "member_clean": 403, "lead": 302, "lead_y": 302, "admin": 403},
            {"org_types": "", "regions": ""},
        ),
        # Cycles: each lead lists and opens its own; X's cycle is X's lead's to change and close.
        Case(
            "cycles.cycles",
            "GET",
            "/review/cycles",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "cycles.open_cycle",
            "POST",
            "/review/cycles",  # no dates: refused on the page
            {"anonymous": 302, "member_clean": 403, "lead": 400, "lead_y": 400, "admin": 403},
            {"name": "2099/00"},
        ),
        Case("cycles.edit", "GET", f"/review/cycles/{rw.world.cycle_id}/edit", lead_only(200)),
        Case(
            "cycles.edit",
            "POST",
            f"/review/cycles/{rw.world.cycle_id}/edit",
            lead_only(302),
            {"opens_on": rw.opens_on, "closes_on": rw.closes_on},
        ),
        Case("cycles.close", "POST", f"/review/cycles/{rw.world.cycle_id}/close", lead_only(302)),
        # Four eyes: each lead reads and sets its own alliance's; X's proposals are X's leads' alone.
        Case(
            "review.approvals_page",
            "GET",
            "/review/approvals",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "review.approval_settings",
            "GET",
            "/review/approvals/settings",
            {"anonymous": 302, "member_clean": 403, "lead": 200, "lead_y": 200, "admin": 403},
        ),
        Case(
            "review.approval_settings",
            "POST",
            "/review/approvals/settings",  # nothing ticked: every kind takes effect at once (as the world has it)
            {"anonymous": 302, "member_clean": 403, "lead": 302, "lead_y": 302, "admin": 403},
        ),
        Case("review.approve", "POST", f"/review/approvals/{rw.approvals['approve']}/approve", lead_only(302)),
        Case(
            "review.send_back",
            "POST",
            f"/review/approvals/{rw.approvals['send_back']}/send-back",
            lead_only(302),
            {"reason": "Wait for the recovery plan"},
        ),
        Case("review.withdraw", "POST", f"/review/approvals/{rw.approvals['withdraw']}/withdraw", lead_only(302)),
    ]


def snapshot_of_x(rw) -> dict:
    with db.session_scope(rw.world.url) as session:
        return {
            "decisions": sorted(d.id for d in session.exec(select(Decision))),
            "comments": sorted(c.id for c in session.exec(select(ReviewComment))),
            "notifications": sorted(n.id for n in session.exec(select(Notification))),
            "statuses": sorted((m.id, m.status) for m in session.exec(select(Membership))),
            "assessments": sorted((a.id, a.status) for a in session.exec(select(Assessment))),
            "overrides": sorted((o.id, o.value, o.reason) for o in session.exec(select(ResultOverride))),
            "exports": sorted((e.id, e.alliance_id) for e in session.exec(select(CycleExport))),
            "applications": sorted((a.id, a.status) for a in session.exec(select(MembershipApplication))),
            "cycles": sorted(
                (c.id, c.opens_on, c.closes_on, c.closed_at is None) for c in session.exec(select(AssessmentCycle))
            ),
            "approvals": sorted((a.id, a.status, a.decided_by) for a in session.exec(select(Approval))),
            "x_setting": session.get(ApprovalSetting, rw.world.alliance_id).model_dump(exclude={"updated_at"}),
            "assignments": sorted((r.assessment_id, r.reviewer_id) for r in session.exec(select(ReviewAssignment))),
        }


def test_review_authorisation_matrix(app, world, setup):
    rw, people = setup
    matrix = cases(rw)
    before = snapshot_of_x(rw)
    seen: Seen = {}
    visit(people, matrix, ("anonymous", "member_clean", "lead_y", "admin"), seen)
    assert snapshot_of_x(rw) == before, "someone other than X's lead changed X's review data"
    with db.session_scope(world.url) as session:
        by_y = session.exec(select(AuditEvent).where(AuditEvent.actor_id == world.user_ids["lead_y"])).all()
        # Y's lead changed only Y's own four-eyes setting.
        assert [(e.action, e.entity_type, e.entity_id) for e in by_y] == [
            ("approval.settings_changed", "alliance", rw.other_alliance_id)
        ]
    visit(people, matrix, ("lead",), seen)
    assert mismatches(matrix, seen, PERSONAS) == {}, "(method, path, persona): (got, expected)"
    with db.session_scope(world.url) as session:  # X's lead did what each route does
        states = {key: session.get(Approval, ident).status for key, ident in rw.approvals.items()}
        assert states == {"approve": "approved", "send_back": "sent_back", "withdraw": "withdrawn"}
        assert session.get(Membership, rw.memberships["breach"]).status == "suspended"


def test_the_matrix_covers_every_review_route(app, world, setup):
    rw, _ = setup
    assert uncovered(app, "review", cases(rw)) == []
    assert uncovered(app, "cycles", cases(rw)) == []
    lead_routes = {"admission.applications", "admission.application", "admission.decide", "admission.policy"}
    assert {e for e, _ in uncovered(app, "admission", cases(rw))} == {
        "admission.withdraw",
        "admission.sponsorship",
        "admission.admin_policy",
    }  # the member's and the admin's: tests/web/test_authorisation.py
    assert lead_routes <= {case.endpoint for case in cases(rw)}


def test_each_lead_sees_only_its_own_alliance(app, world, setup):
    rw, people = setup
    mine = text(people["lead_y"].get("/review/"))
    assert "Other Alliance" in mine and "Other Trust" in mine
    assert "Clean Trust" not in mine and "Breach Trust" not in mine and "Web Test Alliance" not in mine
    assert people["lead_y"].get(f"/review/assessments/{rw.assessments['other']}").status_code == 200
    assert people["lead"].get(f"/review/assessments/{rw.assessments['other']}").status_code == 404
    assert (
        people["lead"].get(f"/review/assessments/{rw.assessments['other']}/evidence/{rw.evidence['other']}").status_code
        == 404
    )
    # X's lead cannot reach Y's evidence by putting it under X's assessment either.
    assert (
        people["lead"].get(f"/review/assessments/{rw.assessments['clean']}/evidence/{rw.evidence['other']}").status_code
        == 404
    )
    refused = people["lead_y"].post(f"/review/assessments/{rw.assessments['clean']}/decision", {"kind": "accredit"})
    assert refused.status_code == 404 and "Clean Trust" not in text(refused)
    # A cycle filter naming X's cycle is not one of Y's.
    refused = text(people["lead_y"].get(f"/review/?cycle={rw.previous_cycle_id}"))
    assert "is not one of this alliance’s cycles" in refused


def test_every_review_post_needs_a_csrf_token(app, world, setup):
    rw, people = setup
    for case in cases(rw):
        if case.method == "POST":
            response = people["lead"].post(case.path, case.data or {}, csrf=False)
            assert response.status_code == 400, case.path


def test_assignment_stays_within_the_alliance(app, world, setup):
    """A lead assigns only to a lead of its own alliance; the other alliance's lead can neither assign X's
    assessments nor be assigned them; a member cannot reach the route at all."""
    rw, people = setup
    clean = rw.assessments["clean"]
    refused = people["lead"].post(f"/review/assessments/{clean}/assign", {"reviewer": str(world.user_ids["lead_y"])})
    assert refused.status_code == 302
    page = text(people["lead"].get(refused.headers["Location"]))
    assert "Choose a lead of this alliance from the list" in page
    for who in ("member_clean", "admin"):
        assert (
            people[who].post(f"/review/assessments/{clean}/assign", {"reviewer": str(world.user_ids[who])}).status_code
            == 403
        )
    assert people["lead_y"].post(f"/review/assessments/{clean}/assign", {"reviewer": "me"}).status_code == 404
    # Y's own assessment cannot be given to X's lead either.
    other = rw.assessments["other"]
    people["lead_y"].post(f"/review/assessments/{other}/assign", {"reviewer": str(world.user_ids["lead"])})
    with db.session_scope(world.url) as session:
        assert session.exec(select(ReviewAssignment)).all() == []

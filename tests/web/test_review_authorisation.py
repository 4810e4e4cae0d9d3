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
    Assessment,
    AuditEvent,
    CycleExport,
    Decision,
    Membership,
    Notification,
    ResultOverride,
    ReviewAssignment,
    ReviewComment,
)
from app.services import CLI, cycle_exports
from app.services.review import override
from app.services.standards import register_text, register_version

from .conftest import STANDARDS, STANDARDS_2, Visitor, text
from .matrix import Case, Seen, mismatches, uncovered, visit
from .reviewing import build_review_world

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
    export_jobs.write_export(rw.export_id)  # the tests' queue runs it at once
    people = {"anonymous": Visitor(app)}
    for who in PERSONAS[1:]:
        person = Visitor(app)
        assert person.login(world.emails[who]).status_code == 302
        people[who] = person
    return rw, people


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
        assert session.exec(select(AuditEvent).where(AuditEvent.actor_id == world.user_ids["lead_y"])).all() == []
    visit(people, matrix, ("lead",), seen)
    assert mismatches(matrix, seen, PERSONAS) == {}, "(method, path, persona): (got, expected)"


def test_the_matrix_covers_every_review_route(app, world, setup):
    rw, _ = setup
    assert uncovered(app, "review", cases(rw)) == []


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

"""The audit trail page: a lead sees its own alliance's events, filtered."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app import db
from app.models import AuditEvent, utcnow
from app.services import audit_trail

from .conftest import signed_in, text
from .reviewing import build_review_world


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"])


def rows(page: str) -> list[list[str]]:
    table = page[page.index('id="audit-table"') :] if 'id="audit-table"' in page else ""
    return [
        [re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', table, re.S)
    ]


def test_the_trail_holds_the_alliance_events_and_none_of_another(rw):
    with db.session_scope(rw.world.url) as session:
        mine = audit_trail.audit_trail(session, rw.world.alliance_id)
        theirs = audit_trail.audit_trail(session, rw.other_alliance_id)
        ids = {e.id for e in mine.events}
        assert ids and not ids & {e.id for e in theirs.events}
        assert {"assessment.submitted", "decision.recorded", "result.stored", "membership.applied"} <= set(mine.actions)
        submitted = [e.entity_id for e in mine.events if e.action == "assessment.submitted"]
        assert sorted(submitted) == sorted(
            [rw.assessments["breach_earlier"], rw.assessments["breach"], rw.assessments["clean"]]
        )
        assert [e.entity_id for e in theirs.events if e.action == "assessment.submitted"] == [rw.assessments["other"]]
        # Latest first.
        times = [e.occurred_at for e in mine.events]
        assert times == sorted(times, reverse=True)


def test_filters_by_action_actor_record_and_dates(app, rw):
    lead = signed_in(app, rw.world, "lead")
    a = rw.assessments["clean"]
    lead.post(f"/review/assessments/{a}/comments", {"comment": "Please add the audit."})
    lead.post(f"/review/assessments/{a}/decision", {"kind": "accredit", "notes": "Well evidenced."})
    found = rows(text(lead.get("/review/audit?action=decision.recorded")))
    # Last cycle's decision was recorded from the command line when the world was built.
    assert sorted((r[1], r[2]) for r in found) == [
        ("cli", "decision.recorded"),
        ("lead@alliance.test", "decision.recorded"),
    ]
    found = [r for r in found if r[1] == "lead@alliance.test"]
    assert "Kind: Accredited" in found[0][5] and "Status: Submitted" in found[0][4]
    assert "accredit_with" not in found[0][5] and "decided_by" not in found[0][5]
    by_actor = rows(text(lead.get("/review/audit?actor=lead@alliance")))
    assert by_actor and {r[1] for r in by_actor} == {"lead@alliance.test"}
    assert {r[2] for r in by_actor} >= {"comment.added", "decision.recorded", "membership.status_changed"}
    comments = rows(text(lead.get("/review/audit?entity=reviewcomment")))
    assert [r[2] for r in comments] == ["comment.added"]
    today = utcnow().date().isoformat()
    assert rows(text(lead.get(f"/review/audit?since={today}&action=decision.recorded")))
    assert rows(text(lead.get("/review/audit?until=2000-01-01"))) == []
    with db.session_scope(rw.world.url) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "decision.recorded")).all()


def test_bad_dates_are_named(app, rw):
    lead = signed_in(app, rw.world, "lead")
    page = text(lead.get("/review/audit?since=yesterday&until=2026-13-01"))
    assert "Since: &#39;yesterday&#39; is not a date like 2026-04-01" in page
    assert "Until: &#39;2026-13-01&#39; is not a date like 2026-04-01" in page
    backwards = text(lead.get("/review/audit?since=2026-05-01&until=2026-04-01"))
    assert "Until: the end date is before the start date" in backwards


def test_lead_y_sees_nothing_of_x_in_the_trail(app, rw):
    page = text(signed_in(app, rw.world, "lead_y").get("/review/audit"))
    entities = {(r[2], r[3]) for r in rows(page)}
    assert ("assessment.submitted", f"assessment {rw.assessments['other']}") in entities
    for key in ("clean", "breach", "breach_earlier"):
        assert ("assessment.submitted", f"assessment {rw.assessments[key]}") not in entities

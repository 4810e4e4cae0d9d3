"""The alliance dashboard and member timelines, against the stored results and memberships."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app import db
from app.models import Membership
from app.services import current_result
from app.services import dashboard as dashboards

from .conftest import signed_in, text
from .reviewing import build_review_world


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"])


def squash(response) -> str:
    return " ".join(text(response).split())


def test_members_by_status_and_route_count_every_membership(rw):
    with db.session_scope(rw.world.url) as session:
        board = dashboards.dashboard(session, rw.world.alliance_id)
        memberships = session.exec(select(Membership).where(Membership.alliance_id == rw.world.alliance_id)).all()
        assert sum(sum(routes.values()) for routes in board.by_status_route.values()) == len(memberships) == 4
        # Dartford, King's and Clean Trust have applied; Breach Trust is at risk after last cycle's decision.
        assert board.by_status_route == {
            "applicant": {"full": 3, "specialty": 0},
            "at_risk": {"full": 1, "specialty": 0},
        }
        assert board.route_totals == {"full": 4, "specialty": 0}


def test_the_heatmap_holds_each_members_standard_statuses(rw):
    with db.session_scope(rw.world.url) as session:
        board = dashboards.dashboard(session, rw.world.alliance_id)
        assert board.cycle.id == rw.world.cycle_id
        assert [r.organisation.name for r in board.heatmap] == ["Breach Trust", "Clean Trust"]
        for row, key in zip(board.heatmap, ("breach", "clean")):
            stored = current_result(session, rw.assessments[key]).result["standard_results"]
            assert row.statuses == {s: o["status"] for s, o in stored.items() if o["status"] != "not_applicable"}
        # C2.1 in the red band: its standard cannot be met.
        assert board.heatmap[0].statuses["C2"] == "not_met"
        assert board.breaches_by_standard == [("C2", 1, 0)]


def test_trends_across_cycles(rw):
    with db.session_scope(rw.world.url) as session:
        board = dashboards.dashboard(session, rw.world.alliance_id)
        trends = {t.cycle.id: t for t in board.trends}
        assert [t.cycle.id for t in board.trends] == [rw.previous_cycle_id, rw.world.cycle_id]
        before, now = trends[rw.previous_cycle_id], trends[rw.world.cycle_id]
        assert (before.submitted, before.major_breaches) == (1, 1)
        assert (now.submitted, now.major_breaches) == (2, 1)
        overalls = [current_result(session, rw.assessments[k]).overall for k in ("breach", "clean")]
        assert now.mean_overall == pytest.approx(round(sum(overalls) / 2, 1))
        assert sum(now.outcomes.values()) == 2
        earlier = dashboards.dashboard(session, rw.world.alliance_id, rw.previous_cycle_id)
        assert [r.organisation.name for r in earlier.heatmap] == ["Breach Trust"]


def test_the_dashboard_page_has_an_accessible_heatmap_with_words(app, rw):
    lead = signed_in(app, rw.world, "lead")
    page = squash(lead.get("/review/dashboard"))
    table = page[page.index('id="heatmap-table"') :]
    table = table[: table.index("</table>")]
    assert "<caption" in table and 'scope="col"' in table and 'scope="row"' in table
    cells = re.findall(
        r'<td class="nhsuk-table__cell app-heat app-heat--(\w+)" tabindex="0" title="([^"]+)">([^<]*)', table
    )
    assert cells, table[:500]
    words = {"met": "Met", "not_met": "Not met", "not_scored": "Not scored"}
    for status, title, shown in cells:
        if status == "none":
            assert shown.strip() == "–" and title.endswith("Does not apply")
        else:
            assert shown.strip() == words[status] and title.endswith(": " + words[status])
    assert any(s == "not_met" and t.startswith("Breach Trust, C2 ") for s, t, _ in cells)
    assert "Major breaches" in page and "Trends across cycles" in page
    assert "Other Trust" not in page
    refused = lead.get("/review/dashboard?cycle=last")
    assert refused.status_code == 200
    assert "Choose a cycle from the list: “last” is not one of this alliance’s cycles" in text(refused)
    assert lead.get(f"/review/dashboard?cycle={rw.other_cycle_id}").status_code == 404


def test_a_member_timeline_lists_submissions_decisions_and_status_changes_in_order(app, rw):
    lead = signed_in(app, rw.world, "lead")
    lead.post(f"/review/assessments/{rw.assessments['breach']}/decision", {"kind": "accredit"})
    page = squash(lead.get(f"/review/members/{rw.memberships['breach']}"))
    items = re.findall(r"<li class=\"app-timeline__(\w+)\">(.*?)</li>", page)
    kinds = [k for k, _ in items]
    assert kinds[0] == "status"  # applied
    assert kinds.count("submitted") == 2 and kinds.count("decision") == 2
    texts = " | ".join(t for _, t in items)
    assert texts.index("working towards") < texts.index("decision: accredit")
    assert lead.get(f"/review/members/{rw.memberships['other']}").status_code == 404

"""Exports: a cycle's results, breaches and decisions as CSV and JSON that parse and hold the numbers shown on
screen; the printable accreditation summary."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlmodel import select

from app import db
from app.models import Breach
from app.services import current_result

from .conftest import signed_in, text
from .reviewing import build_review_world


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"])


def rows_of_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def queue_scores(page: str) -> dict[str, str]:
    """Member -> overall score, read off the review queue table as the lead sees it."""
    table = page[page.index('id="queue"') :]
    found = {}
    for row in re.findall(r"<tr class=\"nhsuk-table__row[^\"]*\">(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        found[cells[0]] = cells[5]
    return found


def test_results_csv_and_json_hold_the_scores_on_the_queue_page(app, rw):
    lead = signed_in(app, rw.world, "lead")
    cycle = rw.world.cycle_id
    on_screen = queue_scores(text(lead.get(f"/review/?cycle={cycle}")))
    assert set(on_screen) == {"Breach Trust", "Clean Trust"}
    rows = rows_of_csv(lead.get(f"/review/cycles/{cycle}/results.csv"))
    assert {r["member"] for r in rows} == set(on_screen)
    for row in rows:
        shown = on_screen[row["member"]]
        assert float(shown) == pytest.approx(float(row["overall"]), abs=0.05), row
    document = json.loads(lead.get(f"/review/cycles/{cycle}/results.json").get_data(as_text=True))
    assert document["kind"] == "results" and len(document["rows"]) == 2
    by_member = {r["member"]: r for r in document["rows"]}
    assert by_member["Breach Trust"]["major_breaches"] >= 1 and by_member["Clean Trust"]["major_breaches"] == 0
    with db.session_scope(rw.world.url) as session:
        for key, name in (("breach", "Breach Trust"), ("clean", "Clean Trust")):
            stored = current_result(session, rw.assessments[key])
            assert by_member[name]["overall"] == stored.overall and by_member[name]["outcome"] == stored.outcome
            # Each standard's status column is the stored result's.
            for sid, outcome in stored.result["standard_results"].items():
                assert by_member[name][f"standard {sid}"] == outcome["status"]
    assert "attachment" in lead.get(f"/review/cycles/{cycle}/results.csv").headers["Content-Disposition"]


def test_breaches_export_matches_the_breaches_on_the_review_page(app, rw):
    lead = signed_in(app, rw.world, "lead")
    rows = rows_of_csv(lead.get(f"/review/cycles/{rw.world.cycle_id}/breaches.csv"))
    assert {(r["member"], r["criterion"], r["severity"]) for r in rows} == {("Breach Trust", "C2.1", "major")}
    page = " ".join(text(lead.get(f"/review/assessments/{rw.assessments['breach']}")).split())
    table = page[page.index('id="breaches-table"') :]
    row = rows[0]
    assert f">{float(row['value']):g}%<" in table and f">{float(row['target']):g}%<" in table
    with db.session_scope(rw.world.url) as session:
        stored = session.exec(select(Breach).where(Breach.assessment_id == rw.assessments["breach"])).all()
        assert [(b.value, b.target) for b in stored] == [(float(row["value"]), float(row["target"]))]
    earlier = json.loads(lead.get(f"/review/cycles/{rw.previous_cycle_id}/breaches.json").get_data(as_text=True))
    assert [(r["member"], r["standard"]) for r in earlier["rows"]] == [("Breach Trust", "C2")]


def test_decisions_export_and_formula_cells_are_written_as_text(app, rw):
    lead = signed_in(app, rw.world, "lead")
    a = rw.assessments["clean"]
    lead.post(f"/review/assessments/{a}/decision", {"kind": "accredit", "notes": '=HYPERLINK("http://x")'})
    rows = rows_of_csv(lead.get(f"/review/cycles/{rw.world.cycle_id}/decisions.csv"))
    assert [(r["member"], r["decision"], r["decided_by"]) for r in rows] == [
        ("Clean Trust", "accredit", "lead@alliance.test")
    ]
    assert rows[0]["notes"] == '\'=HYPERLINK("http://x")'
    document = json.loads(lead.get(f"/review/cycles/{rw.world.cycle_id}/decisions.json").get_data(as_text=True))
    assert document["rows"][0]["notes"] == '=HYPERLINK("http://x")'  # JSON keeps the text as entered
    earlier = rows_of_csv(lead.get(f"/review/cycles/{rw.previous_cycle_id}/decisions.csv"))
    assert [(r["member"], r["decision"]) for r in earlier] == [("Breach Trust", "working_towards")]


def test_unknown_exports_and_other_alliances_cycles_are_not_found(app, rw):
    lead = signed_in(app, rw.world, "lead")
    assert lead.get(f"/review/cycles/{rw.world.cycle_id}/answers.csv").status_code == 404
    assert lead.get(f"/review/cycles/{rw.world.cycle_id}/results.xlsx").status_code == 404
    assert lead.get(f"/review/cycles/{rw.other_cycle_id}/results.csv").status_code == 404
    lead_y = signed_in(app, rw.world, "lead_y")
    rows = rows_of_csv(lead_y.get(f"/review/cycles/{rw.other_cycle_id}/results.csv"))
    assert [r["member"] for r in rows] == ["Other Trust"]


def test_the_exports_page_links_every_cycle(app, rw):
    page = text(signed_in(app, rw.world, "lead").get("/review/exports"))
    for cycle in (rw.world.cycle_id, rw.previous_cycle_id):
        for kind in ("results", "breaches", "decisions"):
            assert f"/review/cycles/{cycle}/{kind}.csv" in page and f"/review/cycles/{cycle}/{kind}.json" in page


def test_the_printable_summary_has_the_decision_and_a_print_stylesheet(app, rw):
    lead = signed_in(app, rw.world, "lead")
    a = rw.assessments["clean"]
    lead.post(
        f"/review/assessments/{a}/decision",
        {
            "kind": "accredit_with_conditions",
            "conditions": "Audit theatres",
            "due_on-day": "1",
            "due_on-month": "1",
            "due_on-year": "2099",
        },
    )
    page = " ".join(text(lead.get(f"/review/assessments/{a}/summary")).split())
    assert "Accreditation summary: Clean Trust" in page
    assert "Accredited with conditions on" in page and "Audit theatres (due 1 January 2099)" in page
    assert "review-print.css" in page
    with db.session_scope(rw.world.url) as session:
        overall = current_result(session, a).overall
    assert f"{round(overall, 1):g} out of 100" in page
    css = app.test_client().get("/static/review-print.css").get_data(as_text=True)
    assert "@media print" in css

"""Exports: a cycle's results, breaches and decisions as CSV and JSON that parse and hold the numbers shown on
screen; the printable accreditation summary."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlmodel import select

from app import db
from app.models import AuditEvent, Breach, CycleExport, JobFailure
from app.services import current_result

from .conftest import queued, run_queued, signed_in, text
from .reviewing import build_review_world, export_file


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
    for row in re.findall(r"<tr class=\"nhsuk-table__row[^\"]*\" id=\"row-\d+\">(.*?)</tr>", table, re.S):
        name = re.search(r"<a [^>]*>(.*?)</a>", row).group(1).strip()  # the member's name links to its review
        score = re.search(r"<td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">(.*?)</td>", row, re.S)
        found[name] = re.sub(r"<[^>]+>", "", score.group(1)).strip()  # the first number: the overall score
    return found


def test_results_csv_and_json_hold_the_scores_on_the_queue_page(app, rw):
    lead = signed_in(app, rw.world, "lead")
    cycle = rw.world.cycle_id
    on_screen = queue_scores(text(lead.get(f"/review/?cycle={cycle}")))
    assert set(on_screen) == {"Breach Trust", "Clean Trust"}
    rows = rows_of_csv(export_file(lead, cycle, "results", "csv"))
    assert {r["member"] for r in rows} == set(on_screen)
    for row in rows:
        shown = on_screen[row["member"]]
        assert float(shown) == pytest.approx(float(row["overall"]), abs=0.05), row
    document = json.loads(export_file(lead, cycle, "results", "json").get_data(as_text=True))
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
    assert "attachment" in export_file(lead, cycle, "results", "csv").headers["Content-Disposition"]


def test_breaches_export_matches_the_breaches_on_the_review_page(app, rw):
    lead = signed_in(app, rw.world, "lead")
    rows = rows_of_csv(export_file(lead, rw.world.cycle_id, "breaches", "csv"))
    assert {(r["member"], r["criterion"], r["severity"]) for r in rows} == {("Breach Trust", "C2.1", "major")}
    page = " ".join(text(lead.get(f"/review/assessments/{rw.assessments['breach']}")).split())
    table = page[page.index('id="breaches-table"') :]
    row = rows[0]
    assert f">{float(row['value']):g}%<" in table and f">{float(row['target']):g}%<" in table
    with db.session_scope(rw.world.url) as session:
        stored = session.exec(select(Breach).where(Breach.assessment_id == rw.assessments["breach"])).all()
        assert [(b.value, b.target) for b in stored] == [(float(row["value"]), float(row["target"]))]
    earlier = json.loads(export_file(lead, rw.previous_cycle_id, "breaches", "json").get_data(as_text=True))
    assert [(r["member"], r["standard"]) for r in earlier["rows"]] == [("Breach Trust", "C2")]


def test_decisions_export_and_formula_cells_are_written_as_text(app, rw):
    lead = signed_in(app, rw.world, "lead")
    a = rw.assessments["clean"]
    lead.post(f"/review/assessments/{a}/decision", {"kind": "accredit", "notes": '=HYPERLINK("http://x")'})
    rows = rows_of_csv(export_file(lead, rw.world.cycle_id, "decisions", "csv"))
    assert [(r["member"], r["decision"], r["decided_by"]) for r in rows] == [
        ("Clean Trust", "accredit", "lead@alliance.test")
    ]
    assert rows[0]["notes"] == '\'=HYPERLINK("http://x")'
    document = json.loads(export_file(lead, rw.world.cycle_id, "decisions", "json").get_data(as_text=True))
    assert document["rows"][0]["notes"] == '=HYPERLINK("http://x")'  # JSON keeps the text as entered
    earlier = rows_of_csv(export_file(lead, rw.previous_cycle_id, "decisions", "csv"))
    assert [(r["member"], r["decision"]) for r in earlier] == [("Breach Trust", "working_towards")]


def test_unknown_exports_are_refused_and_other_alliances_cycles_are_not_found(app, rw):
    lead = signed_in(app, rw.world, "lead")
    for kind, fmt, problem in (
        ("answers", "csv", "kind: choose one of results, breaches, decisions, all, not &#39;answers&#39;"),
        ("results", "xlsx", "format: results is exported as csv or json, not &#39;xlsx&#39;"),
        ("all", "csv", "format: all is exported as zip, not &#39;csv&#39;"),
    ):
        refused = lead.post("/review/exports", {"cycle_id": str(rw.world.cycle_id), "kind": kind, "fmt": fmt})
        assert refused.status_code == 302
        assert problem in text(lead.get("/review/exports")), (kind, fmt)
    other = lead.post("/review/exports", {"cycle_id": str(rw.other_cycle_id), "kind": "results", "fmt": "csv"})
    assert other.status_code == 404
    with db.session_scope(rw.world.url) as session:
        assert session.exec(select(CycleExport)).all() == []
    lead_y = signed_in(app, rw.world, "lead_y")
    rows = rows_of_csv(export_file(lead_y, rw.other_cycle_id, "results", "csv"))
    assert [r["member"] for r in rows] == ["Other Trust"]


def test_exports_are_listed_per_alliance_and_downloaded_only_by_its_leads(app, rw):
    lead, lead_y = signed_in(app, rw.world, "lead"), signed_in(app, rw.world, "lead_y")
    assert export_file(lead, rw.world.cycle_id, "results", "csv").status_code == 200
    with db.session_scope(rw.world.url) as session:
        mine = session.exec(select(CycleExport)).one()
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "export.requested")).one()
    assert (mine.status, mine.kind, mine.fmt, mine.rows) == ("done", "results", "csv", 2)
    assert audited.actor == rw.world.emails["lead"] and audited.entity_id == mine.id
    # The file is under EXPORT_DIR, under a random name in the alliance's folder, and nowhere the app serves.
    path = Path(app.config["EXPORT_DIR"]) / mine.file_name
    assert path.is_file() and path.stat().st_size == mine.size
    assert re.fullmatch(rf"{rw.world.alliance_id}/[0-9a-f]{{32}}\.csv", mine.file_name)
    page = text(lead.get("/review/exports"))
    assert f"/review/exports/{mine.id}/download" in page and "Download results-" in page
    assert f"{mine.size:,} bytes, 2 rows" in page
    # Y's lead neither sees X's export listed nor downloads it.
    assert f"/review/exports/{mine.id}/download" not in text(lead_y.get("/review/exports"))
    assert lead_y.get(f"/review/exports/{mine.id}/download").status_code == 404
    assert lead.get("/review/exports/999999/download").status_code == 404
    assert app.test_client().get(f"/static/../instance/exports/{mine.file_name}").status_code == 404
    # A file gone from the directory is not found either (no stack trace).
    path.unlink()
    assert lead.get(f"/review/exports/{mine.id}/download").status_code == 404


def test_a_whole_cycle_zip_holds_every_table_in_both_formats(app, rw):
    lead = signed_in(app, rw.world, "lead")
    response = export_file(lead, rw.world.cycle_id, "all", "zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        names = sorted(archive.namelist())
        results = list(
            csv.DictReader(
                io.StringIO(
                    archive.read(next(n for n in names if n.startswith("results") and n.endswith(".csv"))).decode()
                )
            )
        )
    assert len(names) == 6 and {n.rsplit(".", 1)[1] for n in names} == {"csv", "json"}
    assert {r["member"] for r in results} == {"Breach Trust", "Clean Trust"}
    assert "cycle-" in response.headers["Content-Disposition"]


def test_a_failed_export_says_so_and_is_recorded_for_operators(app, rw, tmp_path):
    lead = signed_in(app, rw.world, "lead")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the export directory should be")
    app.config["EXPORT_DIR"] = str(blocker)
    asked = lead.post("/review/exports", {"cycle_id": str(rw.world.cycle_id), "kind": "results", "fmt": "csv"})
    assert asked.status_code == 302
    page = text(lead.get("/review/exports"))
    assert "Failed" in page and "The export could not be written. Ask for it again" in page
    assert str(blocker) not in page and "Traceback" not in page
    with db.session_scope(rw.world.url) as session:
        row = session.exec(select(CycleExport)).one()
        failure = session.exec(select(JobFailure)).one()
    assert row.status == "failed" and row.file_name is None
    assert failure.task_name.endswith("write_export") and failure.subject == f"ids {row.id}"
    assert failure.error_type in ("NotADirectoryError", "FileExistsError") and failure.retries_left == 0


def test_the_exports_page_offers_every_cycle(app, rw):
    page = text(signed_in(app, rw.world, "lead").get("/review/exports"))
    for cycle in (rw.world.cycle_id, rw.previous_cycle_id):
        assert f'name="cycle_id" value="{cycle}"' in page
    for kind, fmt in (("results", "csv"), ("breaches", "json"), ("decisions", "csv"), ("all", "zip")):
        assert f'name="kind" value="{kind}"' in page and f'name="fmt" value="{fmt}"' in page
    assert "No export has been asked for yet." in page and 'http-equiv="refresh"' not in page


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


def test_an_export_waits_for_its_worker_then_is_listed_with_its_link(queued_app, world):
    app = queued_app
    build_review_world(world, app.extensions["upload_store"])
    lead = signed_in(app, world, "lead")
    lead.post("/review/exports", {"cycle_id": str(world.cycle_id), "kind": "breaches", "fmt": "json"})
    page = text(lead.get("/review/exports"))
    assert "Waiting to start" in page and '<meta http-equiv="refresh" content="3">' in page
    assert "/download" not in page
    assert len(queued("write_export")) == 1
    run_queued()  # the worker's part
    page = text(lead.get("/review/exports"))
    assert "Waiting to start" not in page and 'http-equiv="refresh"' not in page
    link = re.search(r'href="(/review/exports/\d+/download)"', page).group(1)
    document = json.loads(lead.get(link).get_data(as_text=True))
    assert document["kind"] == "breaches"

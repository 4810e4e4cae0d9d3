"""Text that is not text is refused at every way in of the web and the API, naming the criterion or field, and a
value already stored that the JSON reader once refused no longer breaks any page or a rescore.

Issue 17 item 1: ``{"answers": {"G1.3": "lone \\ud800 surrogate"}}`` was stored with a 200; afterwards the
member's pages, the API read, the lead's audit trail and every impact preview answered 500 and ``cli.py
rescore`` ended in a traceback. Item 8: control characters were taken in names and regions.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text as sql
from sqlmodel import select

from app import db
from app.models import Answer, ApiToken, AuditEvent, Evidence, Organisation, User
from app.services import CLI, api_tokens
from app.services.standards import register_text

from .conftest import signed_in, text
from .test_auth import REGISTRATION, error_list
from .test_impact_preview import draft_text

ROOT = Path(__file__).resolve().parent.parent.parent
LONE = "lone \ud800 surrogate"


@pytest.fixture
def token(world) -> str:
    with db.session_scope(world.url) as session:
        _, made = api_tokens.create_token(
            session, world.actor("admin"), name="records system", organisation_id=world.organisations["a"]
        )
    return made


def post(app, token: str, url: str, body: dict):
    return app.test_client().post(url, json=body, headers={"Authorization": f"Bearer {token}"})


def stored_answers(world) -> dict:
    with db.session_scope(world.url) as session:
        return {
            row.criterion_id: (row.value, row.note)
            for row in session.exec(select(Answer).where(Answer.assessment_id == world.assessments["a"]))
        }


# -- the API ---------------------------------------------------------------------------------------------------


def test_the_issues_api_request_is_refused_naming_the_criterion(app, world, token):
    url = f"/api/v1/assessments/{world.assessments['a']}/answers"
    response = post(app, token, url, {"answers": {"C2.3": LONE, "C1.1": "yes"}})
    assert response.status_code == 422, response.get_json()
    [error] = response.get_json()["errors"]
    assert error["criterion"] == "C2.3" and "cannot contain \\ud800 (a lone surrogate" in error["message"]
    assert stored_answers(world) == {"C1.1": ("yes", "")}
    assert post(app, token, url, {"answers": {"C2.3": "fine text"}}).status_code == 200


@pytest.mark.parametrize(
    "body, criterion, words",
    [
        ({"answers": {"C2.3": "red \x1b[31m text"}}, "C2.3", "the control character \\x1b"),
        ({"answers": {"P1.2": "bell\x07"}}, "P1.2", "the control character \\x07"),
        ({"answers": {"C1.1": "yes"}, "notes": {"C1.1": LONE}}, "C1.1", "note: cannot contain \\ud800"),
        ({"answers": {"C1.1": "yes"}, "notes": {"C1.1": "esc\x1b"}}, "C1.1", "note: cannot contain the control"),
        ({"answers": {"C1.1": "yes \ud800"}}, "C1.1", "the answer cannot contain \\ud800"),
    ],
)
def test_every_api_answer_and_note_that_is_not_text_is_refused_by_its_criterion(
    app, world, token, body, criterion, words
):
    url = f"/api/v1/assessments/{world.assessments['a']}/answers"
    response = post(app, token, url, body)
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["criterion"] == criterion and words in error["message"], error
    assert criterion not in stored_answers(world)


def test_multi_line_text_answers_and_notes_are_kept(app, world, token):
    url = f"/api/v1/assessments/{world.assessments['a']}/answers"
    response = post(
        app, token, url, {"answers": {"C2.3": "line one\nline two\twith a tab"}, "notes": {"C2.3": "see\r\npage 3"}}
    )
    assert response.status_code == 200, response.get_json()
    assert stored_answers(world) == {"C2.3": ("line one\nline two\twith a tab", "see\r\npage 3")}


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"criterion": "C1.1", "url": "https://example.nhs.uk/", "note": LONE}, "note", "note: cannot contain \\ud800"),
        ({"criterion": "C1.1", "url": "https://example.nhs.uk/", "note": "a\x1bb"}, "note", "the control character"),
        ({"criterion": "C1.1", "url": "https://example.nhs.uk/\ud800"}, "url", "url: cannot contain \\ud800"),
        ({"criterion": "C1.1\x1b", "url": "https://example.nhs.uk/"}, "criterion", "criterion: cannot contain"),
    ],
)
def test_api_evidence_that_is_not_text_is_refused_by_its_field(app, world, token, body, field, words):
    response = post(app, token, f"/api/v1/assessments/{world.assessments['a']}/evidence", body)
    assert response.status_code == 422
    refused = response.get_json()
    assert [e["field"] for e in refused["errors"]] == [field] and words in refused["errors"][0]["message"]
    with db.session_scope(world.url) as session:
        assert session.exec(select(Evidence)).all() == []


# -- the forms -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["organisation_name", "region", "name", "email"])
@pytest.mark.parametrize(
    "typed, message",
    [
        ("Oxleas\x1b[2J Trust", "Cannot contain the control character \\x1b"),
        ("Oxleas\x07 Trust", "Cannot contain the control character \\x07"),
        ("Oxleas\nTrust", "Must be on one line"),
    ],
)
def test_registration_refuses_control_characters_in_each_single_line_field(app, world, visitor, field, typed, message):
    value = typed if field != "email" else typed.replace(" ", ".") + "@nhs.test"
    response = visitor.post("/register", {**REGISTRATION, field: value})
    assert response.status_code == 200
    assert (f"#{field}", message) in error_list(response)
    with db.session_scope(world.url) as session:
        assert session.exec(select(Organisation).where(Organisation.ods_code == "RPG")).first() is None
        assert session.exec(select(User).where(User.email == "sam.patel@nhs.test")).first() is None


def test_an_evidence_note_with_a_control_character_is_refused(app, world):
    member = signed_in(app, world, "member_a")
    url = f"/member/assessments/{world.assessments['a']}/criteria/C1.1/evidence"
    response = member.post(url, {"kind": "link", "url": "https://example.nhs.uk/plan.pdf", "note": "page\x1b 3"})
    assert response.status_code == 200
    assert "Cannot contain the control character \\x1b" in html.unescape(text(response))
    with db.session_scope(world.url) as session:
        assert session.exec(select(Evidence)).all() == []


def test_an_api_token_name_with_a_control_character_is_refused(app, world):
    admin = signed_in(app, world, "admin")
    response = admin.post(
        "/admin/tokens/new", {"name": "records\x1b[2J", "scope": f"organisation:{world.organisations['a']}"}
    )
    assert response.status_code in (200, 400)
    assert "Cannot contain the control character \\x1b" in html.unescape(text(response))
    with db.session_scope(world.url) as session:
        assert session.exec(select(ApiToken)).all() == []


def test_a_text_answer_with_a_control_character_is_refused_on_its_form(app, world):
    member = signed_in(app, world, "member_a")
    response = member.post(
        f"/member/assessments/{world.assessments['a']}/domains/care", {"c-C2-3": "see \x1b[2J here", "c-C1-1": "yes"}
    )
    assert "the answer cannot contain the control character \\x1b" in html.unescape(text(response))
    assert "C2.3" not in stored_answers(world)


# -- a value already stored ------------------------------------------------------------------------------------


def test_a_lone_surrogate_already_stored_breaks_no_page_and_no_rescore(app, world, token, tmp_path):
    """Written straight into the database, as the API stored it before (and as another program could)."""
    a = world.assessments["a"]
    with db.session_scope(world.url) as session:
        session.execute(
            sql(
                "INSERT INTO answer (assessment_id, criterion_id, value, note, updated_at) "
                "VALUES (:a, 'C2.3', :value, '', CURRENT_TIMESTAMP)"
            ),
            {"a": a, "value": '"lone \\ud800 surrogate"'},
        )
        session.execute(
            sql(
                "INSERT INTO auditevent (occurred_at, actor, action, entity_type, entity_id, after) "
                "VALUES (CURRENT_TIMESTAMP, 'api', 'answers.saved', 'assessment', :a, :after)"
            ),
            {"a": a, "after": '{"C2.3": "lone \\ud800 surrogate"}'},
        )
        draft = register_text(session, draft_text(), "web-test-2026.2.yaml", CLI, state="published").id
    with db.session_scope(world.url) as session:
        assert session.exec(select(Answer).where(Answer.criterion_id == "C2.3")).one().value == "lone \ufffd surrogate"
        event = session.exec(select(AuditEvent).where(AuditEvent.actor == "api")).one()
        assert event.after == {"C2.3": "lone \ufffd surrogate"}
    member, lead = signed_in(app, world, "member_a"), signed_in(app, world, "lead")
    for page in (
        f"/member/assessments/{a}",
        f"/member/assessments/{a}/domains/care",
        f"/member/assessments/{a}/result",
        f"/member/assessments/{a}/submit",
    ):
        assert member.get(page).status_code == 200, page
    read = app.test_client().get(f"/api/v1/assessments/{a}", headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.get_json()["answers"]["C2.3"] == "lone \ufffd surrogate"
    for page in ("/review/audit", f"/review/standards/{draft}/impact", "/review/standards"):
        assert lead.get(page).status_code == 200, page
    done = subprocess.run(
        [
            sys.executable,
            "cli.py",
            "rescore",
            "--set",
            "web-test",
            "--to-version",
            "2026.2",
            "--apply",
            "--quiet",
            "--report",
            str(tmp_path / "report.csv"),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": world.url, "JOBS_URL": "immediate"},  # no worker: batches run here
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "rescore of web-test against 2026.2: applied" in done.stdout


@pytest.mark.parametrize("typed", ["lead@alliance.test\x00", "lead\x1b@alliance.test"])
def test_signing_in_with_a_control_character_is_a_form_error_not_a_server_error(app, world, visitor, typed):
    response = visitor.post("/login", {"email": typed, "password": "whatever it is"})
    assert response.status_code == 200
    assert "Cannot contain" in html.unescape(text(response))


def test_an_audit_filter_that_is_not_text_is_a_form_error_and_queries_nothing(app, world):
    lead = signed_in(app, world, "lead")
    response = lead.get("/review/audit?actor=lead%00x&action=%1b[2J")
    assert response.status_code == 200
    page = html.unescape(text(response))
    assert "Actor: cannot contain NUL characters" in page
    assert "Action: cannot contain the control character \\x1b" in page

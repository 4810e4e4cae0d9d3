"""Numbers and codes as people read them: a number is shown in the digits it was written in, a unit word has
its space, charts leave off what they cannot draw, and answer errors read as a person would write them (the
forms and the API alike)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app import create_app, db
from app.services import CLI, add_evidence, answers_of, api_tokens, save_answers, submit
from tests.builders import attested

from .conftest import COMPLETE_ANSWERS, STANDARDS, build_world, signed_in, submit_peer, text
from .test_auth import error_list


@pytest.fixture
def days_world(database_url: str, tmp_path: Path):
    """The web-test standards with P1.1 measured in days and no range: any finite number is an answer."""
    doc = yaml.safe_load(STANDARDS.read_text(encoding="utf-8"))
    stay = doc["domains"][1]["standards"][0]["criteria"][0]
    stay.update(text="Mean length of stay", unit="days", benchmark={"target": 15, "direction": "lower", "amber": 2})
    path = tmp_path / "web-test-days.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    world = build_world(database_url, standards=path)
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    return app, world


def people_url(world, key: str = "a") -> str:
    return f"/member/assessments/{world.assessments[key]}/domains/people"


def shown_value(body: str, name: str) -> str:
    found = re.search(rf'id="{name}" name="{name}" type="text"[^>]*?value="([^"]*)"', body)
    assert found, name
    return found.group(1)


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("1e21", "1000000000000000000000"),
        ("1e24", "1000000000000000000000000"),
        ("999999999999999983222784", "1000000000000000000000000"),
        ("1.7e308", "17" + "0" * 307),
        ("0.1", "0.1"),
        ("82.50", "82.5"),
        ("1,234.5", "1234.5"),
        ("1E-7", "0.0000001"),
        ("-0.0", "0"),
    ],
)
def test_a_number_is_shown_back_in_plain_digits_never_a_floats(days_world, typed, shown):
    app, world = days_world
    member = signed_in(app, world, "member_a")
    saved = member.post(people_url(world), {"c-P1-1": typed, "action": "save"})
    assert saved.status_code == 302, error_list(saved)
    assert shown_value(text(member.get(people_url(world))), "c-P1-1") == shown
    result = text(member.get(f"/member/assessments/{world.assessments['a']}/result"))
    assert f"{shown} days</td>" in result  # "How each answer was scored": the answer as written, with its unit


def test_a_unit_word_has_its_space_and_a_percent_sign_none(days_world):
    app, world = days_world
    with db.session_scope(world.url) as session:
        save_answers(session, CLI, world.assessments["a"], {**COMPLETE_ANSWERS, "P1.1": 17.2})
        add_evidence(session, CLI, world.assessments["a"], "C1.1", kind="link", url="https://example.nhs.uk/p")
        submit(session, CLI, world.assessments["a"], attested())
    body = text(signed_in(app, world, "member_a").get(f"/member/assessments/{world.assessments['a']}/result"))
    assert "17.2days" not in body and "15days" not in body
    assert "Your value 17.2 days." in body and "Target 15 days; lower is better." in body
    assert "17.2 days" in body and "88%" in body and "88 %" not in body


def test_a_chart_leaves_off_what_it_cannot_draw_and_the_page_still_shows_it(days_world):
    app, world = days_world
    huge = 1.7e308
    for key, ods in (("p1", "PP1"), ("p2", "PP2"), ("p3", "PP3")):  # other members' spread is off the scale too
        submit_peer(world.url, world, key, ods, {**COMPLETE_ANSWERS, "P1.1": huge})
    with db.session_scope(world.url) as session:
        save_answers(session, CLI, world.assessments["a"], {**COMPLETE_ANSWERS, "P1.1": huge})
        assert answers_of(session, world.assessments["a"])["P1.1"] == huge
    member = signed_in(app, world, "member_a")
    for url in (f"/member/assessments/{world.assessments['a']}/result", people_url(world)):  # draft: provisional
        response = member.get(url)
        assert response.status_code == 200, url
    body = text(member.get(f"/member/assessments/{world.assessments['a']}/result"))
    charts = re.findall(r'<svg class="app-benchmark-chart".*?</svg>', body, re.S)
    stay = next(chart for chart in charts if "P1.1 Mean length of stay" in chart)
    assert "app-benchmark-chart__you" not in stay and "app-benchmark-chart__box" not in stay
    assert "Target 15 days" in stay and "too large to draw on this chart" in stay
    assert "Your value is too large to draw on this chart; the table below gives it." in body
    assert ("17" + "0" * 307 + " days") in body  # the table gives the value as written


def test_answer_errors_read_as_a_person_would_write_them_in_the_api(app, world):
    with db.session_scope(world.url) as session:
        _, token = api_tokens.create_token(
            session, world.actor("admin"), name="a system", organisation_id=world.organisations["a"]
        )
    response = app.test_client().post(
        f"/api/v1/assessments/{world.assessments['a']}/answers",
        headers={"Authorization": f"Bearer {token}"},
        json={"answers": {"C1.1": "maybe", "C1.3": 9, "C2.1": "fast", "C2.2": [], "P1.2": 5}},
    )
    assert response.status_code == 422
    messages = {e["criterion"]: e["message"] for e in response.get_json()["errors"]}
    assert messages == {
        "C1.1": "Choose yes or no",
        "C1.3": "Choose a level from 0 to 3",
        "C2.1": "Enter a number, like 82.5",
        "C2.2": 'Enter a number, like 82.5, or send "na"',
        "P1.2": 'Enter your answer as text, or send "na"',
    }


def test_a_range_refusal_reads_as_a_person_would_write_it():
    """Whatever words the rules use for an answer out of range, the member reads the range."""
    from app.web.forms import answer_problem
    from rules.model import Criterion

    percent = Criterion(id="C2.1", text="Operated on within 36 hours", type="metric", unit="%")
    assert (
        answer_problem(percent, 150, "answers: C2.1: 150 is above the maximum 100")
        == "Enter a number between 0 and 100"
    )
    assert answer_problem(percent, -5, "below the minimum") == "Enter a number between 0 and 100"
    assert answer_problem(percent, "abc", 'expected a finite number (%), got "abc"') == "Enter a number, like 82.5"
    days = Criterion(id="S1", text="Stay", type="metric", unit="days", allow_na=True)
    assert (
        answer_problem(days, True, "expected a finite number") == "Enter a number, like 82.5, or choose not applicable"
    )


def test_codes_read_as_words_with_the_right_article(app, world):
    import datetime as dt

    from app.services import apply_for_membership, create_user, open_assessment, register_organisation
    from app.services.review import decide

    from .conftest import PASSWORD, password_hash
    from .reviewing import build_review_world

    rw = build_review_world(world, app.extensions["upload_store"])
    with db.session_scope(world.url) as session:  # a specialty member, submitted, in the lead's queue
        spine = register_organisation(
            session, CLI, name="Spine Trust", ods_code="SPN1", org_type="acute", region="Test"
        )
        create_user(
            session,
            CLI,
            email="spine@member.test",
            name="Spine",
            password=PASSWORD,
            role="member",
            organisation_id=spine.id,
            password_hash=password_hash(PASSWORD),
        )
        membership = apply_for_membership(
            session, CLI, organisation_id=spine.id, alliance_id=world.alliance_id, route="specialty", specialty="spinal"
        )
        assessment = open_assessment(session, CLI, membership_id=membership.id, cycle_id=world.cycle_id)
        save_answers(session, CLI, assessment.id, {**COMPLETE_ANSWERS, "C3.1": "yes"})
        add_evidence(session, CLI, assessment.id, "C1.1", kind="link", url="https://example.nhs.uk/p")
        submit(session, CLI, assessment.id, attested())
        decide(
            session,
            world.actor("lead"),
            world.alliance_id,
            rw.assessments["clean"],
            "accredit_with_conditions",
            conditions="Publish the rota",
            due_on=dt.date.today() + dt.timedelta(days=30),
        )
    world.emails["member_spine"] = "spine@member.test"
    member = signed_in(app, world, "member_spine")
    overview = " ".join(text(member.get(f"/member/memberships/{membership.id}")).split())
    assert "apply to an acute organisation on the specialty route (Spinal)" in overview
    assert "a acute" not in overview and "Specialty membership" in overview
    assert "specialty membership (Spinal)" in " ".join(text(member.get("/member/")).split())
    lead = signed_in(app, world, "lead")
    queue = " ".join(text(lead.get("/review/")).split())
    assert "Specialty (Spinal)" in queue and "specialty (spinal)" not in queue
    audit = text(lead.get("/review/audit"))
    assert "Accredited with conditions" in audit
    for code in ("accredit_with_conditions", "accredited_with_conditions", "under_review", "working_towards"):
        assert code not in audit, code


def test_an_error_page_leads_back_to_the_form_that_was_sent(app, world):
    member = signed_in(app, world, "member_a")
    form = f"/member/assessments/{world.assessments['a']}/criteria/C1.1/evidence"
    too_large = member.post(form, {"kind": "note", "note": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    assert too_large.status_code == 413
    assert f'<a href="{form}" id="way-back">Go back to the page you were on</a>' in text(too_large)
    lost = member.get("/member/no-such-page", headers={"Referer": "http://localhost/member/"})
    assert lost.status_code == 404 and '<a href="/member/" id="way-back">' in text(lost)
    elsewhere = member.get("/member/no-such-page", headers={"Referer": "https://evil.example/member/"})
    assert 'id="way-back"' not in text(elsewhere)  # never back to another site


@pytest.mark.parametrize("database_up", [True, False])
def test_the_footers_service_status_is_a_page_not_json(app, visitor, database_up, tmp_path):
    if not database_up:
        app = create_app(
            {
                "APP_ENV": "testing",
                "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
                "SECRET_KEY": "test-secret",
                "CHECK_SCHEMA": False,
                "UPLOAD_DIR": str(tmp_path / "uploads"),
            }
        )
        visitor = app.test_client()
    footer = text(visitor.get("/"))
    assert re.search(r'<a class="nhsuk-footer__list-item-link" href="/status"\s*>Service status</a>', footer)
    page = visitor.get("/status")
    body = " ".join(text(page).split())
    assert page.mimetype == "text/html" and "<h1>Service status</h1>" in body
    if database_up:
        assert page.status_code == 200 and "The service is working normally." in body and "Answering" in body
    else:
        assert page.status_code == 503 and "cannot reach its database" in body and "Not answering" in body
    assert visitor.get("/api/health").mimetype == "application/json"  # monitoring keeps its JSON


def test_a_refused_file_type_takes_the_article_it_is_said_with(app, world):
    import io

    member = signed_in(app, world, "member_a")
    refused = member.post(
        f"/member/assessments/{world.assessments['a']}/criteria/C1.1/evidence",
        {"kind": "file", "upload": (io.BytesIO(b"plain words"), "sheet.xlsx", "application/octet-stream")},
        content_type="multipart/form-data",
    )
    assert ("#upload", "sheet.xlsx: the content is not an Excel workbook") in error_list(refused)

"""Self-assessment forms generated from the standards file: fields, saving drafts, every validation path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import select

from app import db
from app.models import AuditEvent
from app.services import CLI, add_evidence, answers_of, save_answers, submit
from app.web.forms import field_names
from tests.builders import attested

from .conftest import COMPLETE_ANSWERS, build_world, signed_in, text
from .test_auth import error_list

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def member(app, world):
    return signed_in(app, world, "member_a")


def domain_url(world, domain="care", key="a"):
    return f"/member/assessments/{world.assessments[key]}/domains/{domain}"


def stored(world, key="a"):
    with db.session_scope(world.url) as session:
        return answers_of(session, world.assessments[key])


def radio_values(body: str, name: str) -> list[str]:
    return re.findall(rf'name="{re.escape(name)}" type="radio" value="([^"]*)"', body)


def test_a_domain_page_has_one_field_per_applicable_criterion(member, world):
    body = text(member.get(domain_url(world)))
    # yes_no: two radios, no "not applicable" (allow_na is false)
    assert radio_values(body, "c-C1-1") == ["yes", "no"]
    # yes_partial_no with allow_na: yes / partly / no, then "or" and not applicable
    assert radio_values(body, "c-C1-2") == ["yes", "partial", "no", "na"]
    assert re.search(r'for="c-C1-2-2"\s*>\s*Partly\s*</label>', body) and 'nhsuk-radios__divider">or<' in body
    # level: one radio per level, by index, labelled with the level's words
    assert radio_values(body, "c-C1-3") == ["0", "1", "2", "3"]
    assert "Embedded and audited" in body and "Level 3 of 3" in body
    # metric: a text input for decimals with its unit, and the target as hint
    assert re.search(
        r'<input\s+class="nhsuk-input nhsuk-input--width-5" id="c-C2-1" name="c-C2-1" type="text"[^>]*'
        r'inputmode="decimal"',
        body,
    )
    assert re.search(r'nhsuk-input-wrapper__suffix" aria-hidden="true"\s*>%<', body)
    assert "Enter a number between 0 and 100 (%). Target: 85% or more (higher is better)." in body
    assert "Target: 8% or less (lower is better)." in body
    # "not applicable" for a metric only where allowed
    assert 'name="c-C2-2-na"' in body and 'name="c-C2-1-na"' not in body
    # text: a textarea; optional criteria say so
    assert re.search(r'<textarea class="nhsuk-textarea" id="c-C2-3" name="c-C2-3"', body)
    assert "Optional." in body
    # guidance as hint text; evidence asked for where the standard requires it
    assert "Upload the lead&#39;s job plan or give a link to it." in body
    assert "Evidence required:" in body and "/criteria/C1.1/evidence" in body
    # standards that do not apply are not asked: C3 is specialty only
    assert "c-C3-1" not in body and "Spinal" not in body
    # every question is labelled by its legend or label
    assert body.count("<legend") == 4
    for field in ("c-C2-1", "c-C2-2", "c-C2-3"):
        assert re.search(rf'class="nhsuk-label[^"]*"\s+for="{field}"', body), field


def test_field_names_are_unique_and_readable():
    from tests.builders import criterion, document, domain, load, standard

    standards = load(document([domain("d", [standard("S", [criterion("Q1.1"), criterion("Q1-1"), criterion("x/y")])])]))
    assert field_names(standards) == {"Q1.1": "c-Q1-1", "Q1-1": "c-Q1-1-1", "x/y": "c-x-y"}


def test_save_a_draft_stores_typed_answers(member, world):
    response = member.post(
        domain_url(world),
        {
            "c-C1-1": "yes",
            "c-C1-2": "na",
            "c-C1-3": "2",
            "c-C2-1": "82.5",
            "c-C2-2-na": "y",
            "c-C2-3": "Audited monthly.",
            "c-C4-1": "no",
            "action": "save",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/member/assessments/{world.assessments['a']}"
    assert stored(world) == {
        "C1.1": "yes",
        "C1.2": "na",
        "C1.3": 2,
        "C2.1": 82.5,
        "C2.2": "na",
        "C2.3": "Audited monthly.",
        "C4.1": "no",
    }
    overview = text(member.get(response.headers["Location"]))
    assert "Delivering high-quality care: your answers are saved." in overview
    # Coming back shows the saved answers.
    body = text(member.get(domain_url(world)))
    assert re.search(r'name="c-C1-3" type="radio" value="2"\s*checked', body)
    assert 'value="82.5"' in body and "Audited monthly." in body
    assert re.search(r'name="c-C2-2-na" type="checkbox" value="y"\s*checked', body)


def test_whole_numbers_stay_whole(member, world):
    response = member.post(domain_url(world), {"c-C2-1": "90", "c-C2-2": "1,250.5", "action": "save"})
    values = stored(world)
    assert values["C2.1"] == 90 and isinstance(values["C2.1"], int)
    # Thousands separators are read as such: 1250.5 is outside a percentage's range, not unreadable text.
    assert error_list(response) == [("#c-C2-2", "C2.2: Enter a number between 0 and 100, or choose not applicable")]
    assert "C2.2" not in values


def test_save_and_continue_goes_to_the_next_domain_then_the_overview(member, world):
    first = member.post(domain_url(world), {"c-C1-1": "yes", "action": "continue"})
    assert first.headers["Location"] == domain_url(world, "people")
    last = member.post(domain_url(world, "people"), {"c-P1-1": "9", "action": "continue"})
    assert last.headers["Location"] == f"/member/assessments/{world.assessments['a']}"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("c-C1-1", "maybe", "Choose yes or no"),
        ("c-C1-1", "na", "Give an answer: this question cannot be answered not applicable"),
        ("c-C1-2", "sometimes", "Choose yes, partly or no, or choose not applicable"),
        ("c-C1-3", "4", "Choose a level from 0 to 3"),
        ("c-C1-3", "-1", "Choose a level from 0 to 3"),
        ("c-C1-3", "two", "Choose a level from 0 to 3"),
        ("c-C2-1", "eighty", "Enter a number, like 82.5"),
        ("c-C2-1", "nan", "Enter a number, like 82.5"),
        ("c-C2-1", "1e999", "Enter a number, like 82.5"),
        ("c-C2-1", "na", "Give an answer: this question cannot be answered not applicable"),
        ("c-C2-2", "12 %", "Enter a number, like 82.5, or choose not applicable"),
    ],
)
def test_each_invalid_answer_is_shown_linked_to_its_field(member, world, field, value, message):
    criterion = field[2:].replace("-", ".")
    response = member.post(domain_url(world), {field: value, "action": "save"})
    assert response.status_code == 200
    assert (f"#{field}", f"{criterion}: {message}") in error_list(response)
    body = text(response)
    assert "<title>Error: Delivering high-quality care" in body
    assert f'id="{field}-error"' in body  # the message next to the field
    assert criterion not in stored(world)


def test_a_number_and_not_applicable_together_is_refused(member, world):
    response = member.post(domain_url(world), {"c-C2-2": "7", "c-C2-2-na": "y", "action": "save"})
    assert ("#c-C2-2", "C2.2: Either give an answer or choose not applicable, not both") in error_list(response)
    response = member.post(domain_url(world, "people"), {"c-P1-2": "Some text", "c-P1-2-na": "y", "action": "save"})
    assert ("#c-P1-2", "P1.2: Either give an answer or choose not applicable, not both") in error_list(response)
    assert stored(world) == {}


def test_invalid_answers_are_shown_and_every_valid_one_is_kept(member, world):
    with db.session_scope(world.url) as session:
        save_answers(session, CLI, world.assessments["a"], {"C2.1": 70})
    response = member.post(
        domain_url(world),
        {
            "c-C1-1": "yes",
            "c-C1-2": "sometimes",
            "c-C1-3": "3",
            "c-C2-1": "lots",
            "c-C2-2": "6.5",
            "action": "continue",
        },
    )
    assert response.status_code == 200
    assert error_list(response) == [
        ("#c-C1-2", "C1.2: Choose yes, partly or no, or choose not applicable"),
        ("#c-C2-1", "C2.1: Enter a number, like 82.5"),
    ]
    body = text(response)
    assert "Your other answers on this page are saved." in body
    assert 'value="lots"' in body  # what was typed is shown to be corrected
    # valid answers stored; the invalid metric keeps its earlier answer; the invalid choice stays unanswered
    assert stored(world) == {"C1.1": "yes", "C1.3": 3, "C2.1": 70, "C2.2": 6.5}


@pytest.mark.parametrize("value", ["150", "-5", "100.5"])
def test_a_percentage_outside_0_to_100_is_refused_in_a_persons_words(member, world, value):
    response = member.post(domain_url(world), {"c-C2-1": value, "c-C2-2": "7", "action": "save"})
    assert error_list(response) == [("#c-C2-1", "C2.1: Enter a number between 0 and 100")]
    assert f'value="{value}"' in text(response)
    assert stored(world) == {"C2.2": 7}


def test_a_blank_metric_clears_the_stored_answer(member, world):
    member.post(domain_url(world), {"c-C2-1": "88", "action": "save"})
    assert stored(world) == {"C2.1": 88}
    member.post(domain_url(world), {"c-C2-1": "", "action": "save"})
    assert stored(world) == {}


def test_saving_unchanged_answers_writes_nothing(member, world):
    member.post(domain_url(world), {"c-C1-1": "yes", "c-C2-1": "88", "action": "save"})

    def saves():
        with db.session_scope(world.url) as session:
            return len(session.exec(select(AuditEvent).where(AuditEvent.action == "answers.saved")).all())

    before = saves()
    member.post(domain_url(world), {"c-C1-1": "yes", "c-C2-1": "88.0", "action": "save"})
    assert saves() == before


def test_progress_per_domain(member, world):
    overview_url = f"/member/assessments/{world.assessments['a']}"

    def statuses():
        body = text(member.get(overview_url))
        return re.findall(
            r'class="nhsuk-task-list__link[^"]*"[^>]*>\s*([^<]+?)\s*</a>.*?'
            r'nhsuk-task-list__hint"[^>]*>\s*([^<]+?)\s*</div>.*?nhsuk-tag[^>]*>\s*([^<]+?)\s*</strong>',
            body,
            re.S,
        )

    assert statuses() == [
        ("Delivering high-quality care", "0 of 7 questions answered, 6 still needed", "Not started"),
        ("Developing our people", "0 of 2 questions answered, 2 still needed", "Not started"),
    ]
    member.post(domain_url(world), {"c-C1-1": "yes", "c-C1-2": "yes", "action": "save"})
    member.post(domain_url(world, "people"), {"c-P1-1": "9", "c-P1-2": "A talent pool.", "action": "save"})
    # C1.1 needs evidence too; optional C2.3 need not be answered.
    assert statuses() == [
        ("Delivering high-quality care", "2 of 7 questions answered, 5 still needed", "In progress"),
        ("Developing our people", "2 of 2 questions answered", "Completed"),
    ]
    assert "You have completed 1 of 2 domains." in text(member.get(overview_url))


def test_unknown_domains_are_not_found(member, world):
    assert member.get(domain_url(world, "no-such-domain")).status_code == 404


def test_a_submitted_assessment_is_read_only(member, world):
    with db.session_scope(world.url) as session:
        save_answers(session, CLI, world.assessments["a"], COMPLETE_ANSWERS)
        add_evidence(session, CLI, world.assessments["a"], "C1.1", kind="link", url="https://example.nhs.uk/plan")
        submit(session, CLI, world.assessments["a"], attested())
    body = text(member.get(domain_url(world)))
    assert "the answers can no longer be changed" in body and '<form method="post" action="/member/assess' not in body
    assert "Embedded and audited" not in body and "In place" in body and "88%" in body and "Partly" in body
    response = member.post(domain_url(world), {"c-C1-1": "no", "action": "save"})
    assert response.status_code == 409
    assert "only a draft can be changed" in text(response)
    assert stored(world)["C1.1"] == "yes"


@pytest.mark.parametrize(
    "pack",
    [
        "noa-orthopaedics-2026.1.yaml",
        "healthcare-alliance-2026.1.yaml",
        "noa-orthopaedics-2026.2.yaml",
        "healthcare-alliance-2026.2.yaml",
    ],
)
def test_every_domain_of_the_bundled_packs_renders_as_a_form(tmp_path, pack, database_url):
    """Forms come from the standards file: each applicable criterion of the real packs gets its field."""
    path = ROOT / "standards" / pack
    if not path.is_file():
        pytest.skip(f"{pack} is not in this checkout")
    from app import create_app
    from app.services.assessments import context

    world = build_world(database_url, standards=path)
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": database_url, "UPLOAD_DIR": str(tmp_path)})
    person = signed_in(app, world, "member_a")
    with db.session_scope(database_url) as session:
        ctx = context(session, world.assessments["a"])
        names = field_names(ctx.standards)
        applicable = ctx.applicable_criteria()
    assert applicable
    for domain in ctx.standards.domains:
        criteria = [c for s, c in applicable if s.domain == domain.id]
        response = person.get(f"/member/assessments/{world.assessments['a']}/domains/{domain.id}")
        if not criteria:
            assert response.status_code == 404
            continue
        body = text(response)
        assert response.status_code == 200, domain.id
        for criterion in criteria:
            assert f'name="{names[criterion.id]}"' in body, criterion.id

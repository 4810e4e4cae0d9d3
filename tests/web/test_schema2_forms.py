"""Schema 2 questions on the member's pages: radios for a choice, checkboxes for a multi_choice, metric ranges,
and conditional questions, revealed inside the answer that asks them and working without JavaScript (all
questions shown; one its stored condition leaves unasked is marked so, keeps its answer, and is neither
required nor scored). Through the test client, on the real database and rules engine."""

from __future__ import annotations

import re

import pytest

from app import db
from app.services import CLI, add_evidence, answers_of, missing_for_submission, save_answers, score, submit
from app.services.assessments import context
from app.web.forms import field_names, page_layout
from tests.builders import attested, criterion, document, domain, load, standard

from .conftest import COMPLETE_ANSWERS_2, STANDARDS_2, attestation, build_world, signed_in, text
from .test_auth import error_list

#: Every question asked when follow-up is by telephone and not recorded in the letter (C5.2, C5.4 and P1.2 are
#: then not asked).
PHONE_ANSWERS = {**{k: v for k, v in COMPLETE_ANSWERS_2.items() if k != "C5.4"}, "C5.3": "no"}


@pytest.fixture
def world(database_url):
    return build_world(database_url, STANDARDS_2)


@pytest.fixture
def member(app, world):
    return signed_in(app, world, "member_a")


def domain_url(world, domain="care"):
    return f"/member/assessments/{world.assessments['a']}/domains/{domain}"


def stored(world) -> dict:
    with db.session_scope(world.url) as session:
        return answers_of(session, world.assessments["a"])


def save(world, answers: dict) -> None:
    with db.session_scope(world.url) as session:
        outcome = save_answers(session, CLI, world.assessments["a"], answers)
    assert outcome.ok, outcome.errors


def missing(world) -> list[str]:
    with db.session_scope(world.url) as session:
        return [
            f"{m['criterion']} {m['reason']}"
            for m in missing_for_submission(session, context(session, world.assessments["a"]))
        ]


def provisional(world) -> dict:
    with db.session_scope(world.url) as session:
        return score(session, world.assessments["a"])


def values_of(body: str, name: str, kind: str = "radio") -> list[str]:
    return re.findall(rf'name="{re.escape(name)}" type="{kind}" value="([^"]*)"', body)


def checked(body: str, name: str, kind: str = "radio") -> list[str]:
    return re.findall(rf'name="{re.escape(name)}" type="{kind}" value="([^"]*)"\s*checked', body)


def block(body: str, element_id: str) -> str:
    """The markup of the element with this id, up to the start of the next question outside it."""
    start = body.index(f'id="{element_id}"')
    return body[body.rindex("<", 0, start) :]


def criterion_box(body: str, name: str) -> str:
    """One question's markup (its .app-criterion box, without the questions nested after it)."""
    start = body.index(f'id="criterion-{name}"')
    following = body.find('class="app-criterion', start + 1)
    return body[start : following if following != -1 else len(body)]


def not_asked_marker(body: str, name: str) -> str | None:
    found = re.search(rf'id="{re.escape(name)}-not-asked">.*?</strong>\s*(.*?)</p>', body, re.S)
    return " ".join(found.group(1).split()) if found else None


# -- the fields ------------------------------------------------------------------------------------------------


def test_a_choice_is_radios_and_a_multi_choice_is_checkboxes(member, world):
    body = text(member.get(domain_url(world)))
    # choice: one radio per option, by id, labelled with the option's text; "na" after a divider where allowed
    assert values_of(body, "c-C5-1") == ["none", "phone", "clinic", "na"]
    assert re.search(r'for="c-C5-1-2"\s*>\s*Telephone follow-up\s*</label>', body)
    assert re.search(
        r'nhsuk-radios__divider">or</div>\s*<div class="nhsuk-radios__item">\s*'
        r'<input class="nhsuk-radios__input" id="c-C5-1-5" name="c-C5-1" type="radio" value="na">',
        body,
    )
    # a choice without allow_na has no "na"
    assert values_of(body, "c-C5-4") == ["consultant", "nurse"]
    # multi_choice: one checkbox per option, then "or" and an exclusive "None of these"; no "na" (not allowed)
    assert values_of(body, "c-C5-5", "checkbox") == ["nhfd", "njr", "other", "_none"]
    multi = criterion_box(body, "c-C5-5")
    assert re.search(r'<legend class="nhsuk-fieldset__legend[^"]*">C5.5 Which audits', multi)
    assert 'data-module="nhsuk-checkboxes"' in multi and 'nhsuk-checkboxes__divider">or<' in multi
    assert re.search(r'value="_none"\s+data-behaviour="exclusive"', multi) and "Select all that apply." in multi
    assert re.search(r'for="c-C5-5-2"\s*>\s*National Joint Registry\s*</label>', multi)


def test_metric_fields_show_their_range(member, world):
    body = text(member.get(domain_url(world)))
    assert "Enter a number between 0 and 60 (days). Target: 12 days or less (lower is better)." in body
    # a percentage without min and max has 0 to 100
    assert "Enter a number between 0 and 100 (%). Target: 85% or more (higher is better)." in body
    response = member.post(domain_url(world), {"c-C2-2": "61", "c-C2-1": "101", "action": "save"})
    assert error_list(response) == [
        ("#c-C2-1", "C2.1: Enter a number between 0 and 100"),
        ("#c-C2-2", "C2.2: Enter a number between 0 and 60"),
    ]
    assert stored(world) == {}


def test_choice_and_multi_choice_answers_are_saved_and_shown_again(member, world):
    response = member.post(domain_url(world), {"c-C5-1": "clinic", "c-C5-5": ["nhfd", "njr"], "action": "save"})
    assert response.status_code == 302
    assert stored(world) == {"C5.1": "clinic", "C5.5": ["nhfd", "njr"]}
    body = text(member.get(domain_url(world)))
    assert checked(body, "c-C5-1") == ["clinic"]
    assert checked(body, "c-C5-5", "checkbox") == ["nhfd", "njr"]


def test_not_applicable_is_a_box_of_its_own_where_allowed(member, world):
    body = text(member.get(domain_url(world)))
    assert values_of(body, "c-C5-6", "checkbox") == ["leaflet", "plan", "_none", "na"]
    assert re.search(r'value="na"\s+data-behaviour="exclusive"', criterion_box(body, "c-C5-6"))
    assert "Select all that apply. Optional." in criterion_box(body, "c-C5-6")
    member.post(domain_url(world), {"c-C5-6": "na", "action": "save"})
    assert stored(world) == {"C5.6": "na"}
    assert checked(text(member.get(domain_url(world))), "c-C5-6", "checkbox") == ["na"]
    refused = text(member.post(domain_url(world), {"c-C5-6": ["plan", "na"], "action": "save"}))
    assert "C5.6: Either choose options or not applicable, not both" in refused
    assert stored(world) == {"C5.6": "na"}


def test_none_of_these_is_an_answer_and_unticking_every_box_clears_it(member, world):
    member.post(domain_url(world), {"c-C5-5": "_none", "action": "save"})
    assert stored(world) == {"C5.5": []}
    body = text(member.get(domain_url(world)))
    assert checked(body, "c-C5-5", "checkbox") == ["_none"]
    result = provisional(world)["criteria"]["C5.5"]
    assert result["status"] == "scored" and result["score"] == 0  # none of them: answered, and scores 0
    member.post(domain_url(world), {"action": "save"})  # no box ticked
    assert stored(world) == {}


@pytest.mark.parametrize(
    "sent, message",
    [
        ({"c-C5-5": ["nhfd", "_none"]}, "C5.5: Either choose options or none of them, not both"),
        (
            {"c-C5-5": ["nhfd", "fax"]},
            "C5.5: Choose any of “National Hip Fracture Database”, “National Joint Registry” or "
            "“Another audit”, each once, or “None of these”",
        ),
        ({"c-C5-5": "na"}, "C5.5: Give an answer: this question cannot be answered not applicable"),
        (
            {"c-C5-1": "fax"},
            "C5.1: Choose one of “Not reviewed”, “Telephone follow-up” or “Clinic review within 6 weeks”, "
            "or choose not applicable",
        ),
        (
            {"c-C5-4": "na", "c-C5-1": "clinic", "c-C5-3": "yes"},
            "C5.4: Give an answer: this question cannot be answered not applicable",
        ),
    ],
)
def test_answers_no_option_allows_are_refused_by_name(member, world, sent, message):
    response = member.post(domain_url(world), {**sent, "action": "save"})
    assert [text for _, text in error_list(response)] == [message]
    assert not any(key in stored(world) for key in ("C5.4", "C5.5")) and stored(world).get("C5.1") != "fax"


# -- conditional questions -------------------------------------------------------------------------------------


def test_a_conditional_question_sits_inside_the_answer_that_asks_it(member, world):
    body = text(member.get(domain_url(world)))
    # C5.2 (asked after "clinic" only): the NHS.UK radios' own reveal, right after that radio
    clinic = re.search(
        r'<input class="nhsuk-radios__input" id="c-C5-1-3" name="c-C5-1" type="radio" value="clinic"'
        r"[^>]*>",
        body,
    ).group(0)
    assert 'data-aria-controls="conditional-c-C5-1-1"' in clinic
    reveal = block(body, "conditional-c-C5-1-1")
    assert reveal.startswith('<div class="nhsuk-radios__conditional nhsuk-radios__conditional--hidden"')
    assert reveal.index('id="criterion-c-C5-2"') < reveal.index('id="conditional-c-C5-1-2"')
    # C5.3 (asked after "phone" or "clinic"): one block, opened by either radio, after the last of them
    assert re.search(r'value="phone" data-app-reveals="conditional-c-C5-1-2"', body)
    assert 'data-app-reveals="conditional-c-C5-1-2"' in clinic
    shared = block(body, "conditional-c-C5-1-2")
    assert 'id="criterion-c-C5-3"' in shared and shared.index('id="criterion-c-C5-3"') < shared.index('value="na"')
    # C5.4 (after C5.3 "yes"): a chain, nested in C5.3's own reveal
    assert shared.index('id="conditional-c-C5-3-1"') < shared.index('id="criterion-c-C5-4"')
    # each question once, and nothing nested is shown again at the top of its standard
    for name in ("c-C5-2", "c-C5-3", "c-C5-4", "c-C6-1"):
        assert body.count(f'id="criterion-{name}"') == 1
    # a yes_no question that reveals others is not inline (the reveal needs the radios stacked); one that does not is
    assert "nhsuk-radios--inline" not in criterion_box(body, "c-C5-3")
    assert "nhsuk-radios--inline" in criterion_box(body, "c-C6-1")
    # nothing is marked "not asked" before the question it depends on is answered
    assert "app-not-asked" not in body


def test_the_answer_that_asks_a_question_opens_its_block_when_the_page_is_drawn(member, world):
    save(world, {"C5.1": "clinic"})
    body = text(member.get(domain_url(world)))
    assert 'class="nhsuk-radios__conditional" id="conditional-c-C5-1-1"' in body
    assert 'class="nhsuk-radios__conditional" id="conditional-c-C5-1-2"' in body
    assert 'class="nhsuk-radios__conditional nhsuk-radios__conditional--hidden" id="conditional-c-C5-3-1"' in body


def test_a_question_in_another_standard_or_page_names_the_question_it_depends_on(member, world):
    care = text(member.get(domain_url(world)))
    hint = "Asked only if the answer to C5.1 (How are hip fracture patients reviewed after discharge?) is "
    assert hint + "“Telephone follow-up”." in criterion_box(care, "c-C6-1")
    people = text(member.get(domain_url(world, "people")))
    assert hint + "“Clinic review within 6 weeks”." in criterion_box(people, "c-P1-2")
    assert "conditional" not in criterion_box(people, "c-P1-2")


def test_without_javascript_a_question_left_unasked_is_marked_after_saving(member, world):
    # Every question is on the page (no script is needed to reach any of them); answer clinic, and C5.2.
    member.post(domain_url(world), {"c-C5-1": "clinic", "c-C5-2": "85", "c-C5-3": "yes", "action": "save"})
    body = text(member.get(domain_url(world)))
    assert not_asked_marker(body, "c-C5-2") is None and not_asked_marker(body, "c-C5-4") is None
    assert not_asked_marker(body, "c-C6-1") == (
        "because C5.1 is “Clinic review within 6 weeks”. It is left out of your score; any answer it has is kept."
    )
    # Telephone instead: the page still sends C5.2's 85 (its field is hidden, or shown without JavaScript).
    member.post(domain_url(world), {"c-C5-1": "phone", "c-C5-2": "85", "c-C5-3": "no", "action": "save"})
    body = text(member.get(domain_url(world)))
    assert not_asked_marker(body, "c-C5-2").startswith("because C5.1 is “Telephone follow-up”.")
    assert not_asked_marker(body, "c-C5-4").startswith("because C5.3 is “No”.")
    assert not_asked_marker(body, "c-C6-1") is None
    people = text(member.get(domain_url(world, "people")))
    assert not_asked_marker(people, "c-P1-2").startswith("because C5.1 is “Telephone follow-up”.")
    # The answer to the question no longer asked is kept, but not scored.
    assert stored(world)["C5.2"] == 85
    c52 = provisional(world)["criteria"]["C5.2"]
    assert c52["status"] == "inactive" and c52["score"] is None and c52["answer"] == 85
    # Clinic again: the kept answer counts again.
    member.post(domain_url(world), {"c-C5-1": "clinic", "c-C5-2": "85", "action": "save"})
    assert provisional(world)["criteria"]["C5.2"]["status"] == "scored"


def test_what_is_typed_into_a_question_left_unasked_is_ignored_not_refused(member, world):
    save(world, {"C5.2": 70})
    response = member.post(
        domain_url(world), {"c-C5-1": "phone", "c-C5-2": "lots", "c-C5-4": "nobody", "action": "save"}
    )
    assert response.status_code == 302  # no error for questions this save leaves unasked
    assert stored(world) == {"C5.1": "phone", "C5.2": 70}
    # The same text where the question is asked is refused.
    refused = member.post(domain_url(world), {"c-C5-1": "clinic", "c-C5-2": "lots", "action": "save"})
    assert error_list(refused) == [("#c-C5-2", "C5.2: Enter a number, like 82.5")]
    assert stored(world) == {"C5.1": "clinic", "C5.2": 70}


def test_progress_and_submission_need_only_the_questions_asked(member, world):
    save(world, PHONE_ANSWERS)
    assert missing(world) == []  # C5.2, C5.4 and P1.2 (with its required evidence) are not asked
    overview = text(member.get(f"/member/assessments/{world.assessments['a']}"))
    assert "8 of 9 questions answered" in overview and "1 of 1 questions answered" in overview  # C5.6 is optional
    care = text(member.get(domain_url(world)))
    assert "8 of 9 questions answered." in care
    # Clinic follow-up asks C5.2 and P1.2 (and its evidence): both are needed now.
    save(world, {"C5.1": "clinic"})
    assert missing(world) == ["C5.2 answer required", "P1.2 answer required"]
    save(world, {"C5.2": 90, "P1.2": "yes"})
    assert missing(world) == ["P1.2 evidence required"]
    with db.session_scope(world.url) as session:
        add_evidence(session, CLI, world.assessments["a"], "P1.2", kind="link", url="https://example.nhs.uk/fls.pdf")
    assert missing(world) == []
    # Back to telephone: C5.2 and P1.2 keep their answers, and the submission goes through without them.
    save(world, {"C5.1": "phone"})
    assert missing(world) == []
    response = member.post(f"/member/assessments/{world.assessments['a']}/submit", attestation())
    assert response.status_code == 302 and response.headers["Location"].endswith("/result")
    assert stored(world)["C5.2"] == 90 and stored(world)["P1.2"] == "yes"


def test_the_result_shows_option_texts_and_lists_questions_not_asked(member, world):
    save(world, {**PHONE_ANSWERS, "C5.5": ["nhfd", "njr"], "C5.2": 90})
    body = text(member.get(f"/member/assessments/{world.assessments['a']}/result"))
    explained = body[body.index('id="explanations"') :]
    assert "Telephone follow-up" in explained and "National Hip Fracture Database; National Joint Registry" in explained
    assert ">phone<" not in explained and "nhfd" not in explained
    assert "“National Hip Fracture Database” 0.5 + “National Joint Registry” 0.5: scores 1" in explained
    assert "“Telephone follow-up” 0.5: scores 0.5" in explained
    listed = explained[explained.index('id="not-asked"') : explained.index("</ul>", explained.index('id="not-asked"'))]
    assert (
        "C5.2 Share of discharged patients reviewed in clinic: not asked because C5.1 is “Telephone follow-up”"
        in listed
    )
    assert "C5.4 Who reviews the discharge letters?: not asked because C5.3 is “No”" in listed
    assert "P1.2" in listed and "C6.1" not in listed
    row = explained[explained.index('id="not-asked-C5.2"') :]
    row = row[: row.index("</tr>")]
    assert "Not asked" in row and "(your answer, kept: 90%)" in row and "Left out of the score." in row


def test_the_result_says_what_it_evidences_for_each_framework(member, world):
    save(world, {**PHONE_ANSWERS, "C5.1": "clinic", "C5.2": 85})
    body = text(member.get(f"/member/assessments/{world.assessments['a']}/result"))
    table = body[body.index('id="framework-cqc"') :]
    table = table[: table.index("</table>")]
    assert "CQC quality statements" in table
    rows = [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', table, re.S)
    ]
    assert rows == [
        "Well-led: capable, compassionate and inclusive leaders Met C1 Clinical leadership (met)",
        "Safe: safe systems, pathways and transitions Not met C5 Follow-up after discharge (not met)",
    ]
    result = provisional(world)
    assert result["mapped"] == {
        "cqc": {
            "Well-led: capable, compassionate and inclusive leaders": "met",
            "Safe: safe systems, pathways and transitions": "not_met",
        }
    }


def test_a_submitted_assessment_shows_option_texts_and_not_asked_questions(member, world):
    save(world, {**PHONE_ANSWERS, "C5.2": 90})
    with db.session_scope(world.url) as session:
        submit(session, CLI, world.assessments["a"], attested())
    body = text(member.get(domain_url(world)))
    assert "Telephone follow-up" in body and "National Hip Fracture Database" in body
    assert "Not asked because C5.1 is “Telephone follow-up”. Answer kept: 90%" in body


def test_layout_of_conditions_on_a_level_and_across_standards():
    """Pure: where a page puts conditional questions, whatever type the question they depend on is."""
    standards = load(
        document(
            [
                domain(
                    "d",
                    [
                        standard(
                            "S1",
                            [
                                criterion("A1", "level"),
                                criterion("A2", when={"criterion": "A1", "in": [3, 4]}),
                                criterion("A3", "metric", when={"criterion": "A1", "in": [4]}),
                            ],
                        ),
                        standard("S2", [criterion("B1", when={"criterion": "A2", "in": ["no"]})]),
                    ],
                )
            ],
            schema=2,
        )
    )
    names = field_names(standards)
    layout = page_layout(standards, list(standards.standards), names)
    assert [(r.values, [c.id for c in r.criteria]) for r in layout.reveals["A1"]] == [
        (("3", "4"), ["A2"]),
        (("4",), ["A3"]),
    ]
    assert layout.nested == {"A2", "A3"} and [c.id for c in layout.top(standards.standards[0])] == ["A1"]
    assert layout.depends == {"B1": "Asked only if the answer to A2 (Criterion A2) is “No”."}

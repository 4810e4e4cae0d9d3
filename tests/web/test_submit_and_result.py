"""Submission (refused with what is missing, each linked to its question) and the result page."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import select

from app import db
from app.models import Assessment, AssessmentResult
from app.services import CLI, add_evidence, apply_for_membership, create_alliance, open_assessment, save_answers
from tests.builders import attested

from .conftest import COMPLETE_ANSWERS, attestation, signed_in, submit_peer, text
from .test_auth import error_list

# Member A's answers, scored by hand from the standards contract:
#   C1: yes 1, partial 0.5, level 2 of 0..3 = 2/3 -> 72.2, below the pass mark 75: not met (and must meet)
#   C2: 82% against 85% higher, amber 5 -> amber 0.5 (minor breach); 7.5% against 8% lower -> green 1 -> 75.0 met
#   C4: yes -> 100 met.  Care domain (weight 2) = (72.22 + 75 + 100) / 3 = 82.4
#   P1: turnover 13% against 10% lower, amber 2 -> red 0 (major breach); text not scored -> 0.0 not met
#   Overall = (2 x 82.41 + 1 x 0) / 3 = 54.9 -> approaching -> working towards accreditation
A_ANSWERS = {
    "C1.1": "yes",
    "C1.2": "partial",
    "C1.3": 2,
    "C2.1": 82,
    "C2.2": 7.5,
    "C4.1": "yes",
    "P1.1": 13,
    "P1.2": "Shared talent pool.",
}


@pytest.fixture
def member(app, world):
    return signed_in(app, world, "member_a")


def page(response) -> str:
    return html.unescape(" ".join(text(response).split()))


def answer(world, values, key="a", evidence=True):
    with db.session_scope(world.url) as session:
        outcome = save_answers(session, CLI, world.assessments[key], values)
        assert outcome.ok, outcome.errors
        if evidence:
            add_evidence(session, CLI, world.assessments[key], "C1.1", kind="link", url="https://example.nhs.uk/plan")


def test_submission_is_refused_listing_each_missing_item_linked_to_its_question(member, world):
    answer(world, {"C1.1": "yes", "C1.3": 1, "C2.1": 90}, evidence=False)
    assessment = world.assessments["a"]
    check = member.get(f"/member/assessments/{assessment}/submit")
    assert "Still missing" in page(check)
    response = member.post(f"/member/assessments/{assessment}/submit", attestation())
    assert response.status_code == 200
    assert "<title>Error: Check and submit" in text(response)
    base = f"/member/assessments/{assessment}"
    assert error_list(response) == [
        (
            f"{base}/criteria/C1.1/evidence",
            "C1.1 Is there a named clinical lead for the service?: attach the required evidence",
        ),
        (f"{base}/domains/care#c-C1-2", "C1.2 Does every main pathway have a named lead?: answer this question"),
        (f"{base}/domains/care#c-C2-2", "C2.2 Hip fracture 30-day mortality: answer this question"),
        (
            f"{base}/domains/care#c-C4-1",
            "C4.1 Is there a named orthogeriatrician in the emergency pathway?: answer this question",
        ),
        (f"{base}/domains/people#c-P1-1", "P1.1 Staff turnover in the last 12 months: answer this question"),
        (f"{base}/domains/people#c-P1-2", "P1.2 How do you manage talent across the service?: answer this question"),
    ]
    assert "6 required items are missing" in page(response)
    with db.session_scope(world.url) as session:
        assert session.get(Assessment, assessment).status == "draft"
        assert session.exec(select(AssessmentResult)).all() == []
    # Each link leads to a page with that question on it.
    for href, _ in error_list(response):
        path, _, anchor = href.partition("#")
        target = member.get(path)
        assert target.status_code == 200
        if anchor:
            assert f'id="{anchor}"' in text(target)


def test_submit_then_see_the_result(member, world):
    answer(world, A_ANSWERS)
    assessment = world.assessments["a"]
    response = member.post(f"/member/assessments/{assessment}/submit", attestation())
    assert response.status_code == 302
    assert response.headers["Location"] == f"/member/assessments/{assessment}/result"
    with db.session_scope(world.url) as session:
        assert session.get(Assessment, assessment).status == "submitted"
        stored = session.exec(select(AssessmentResult).where(AssessmentResult.assessment_id == assessment)).one()
        assert (stored.overall, stored.rating, stored.outcome) == (54.9, "approaching", "working_towards")
    body = page(member.get(response.headers["Location"]))
    assert "Your self-assessment is submitted." in body
    assert "Provisional" not in body
    assert 'Overall score </dt> <dd class="nhsuk-summary-list__value" > 54.9 out of 100' in body
    assert "Approaching" in body and "Working towards accreditation" in body
    standards = body.split('id="standards-table"')[1].split("</table>")[0]
    rows = re.findall(r'<tr class="nhsuk-table__row[^"]*">(.*?)</tr>', standards)
    cells = [re.sub(r"<[^>]+>", " ", row).split() for row in rows]
    assert [" ".join(c) for c in cells] == [
        "Delivering high-quality care 82.4 Domain (weight 2)",
        "C1 Clinical leadership (must meet) 72.2 Not met",
        "C2 Hip fracture outcomes 75 Met",
        "C4 Emergency department links 100 Met",
        "Developing our people 0 Domain (weight 1)",
        "P1 Workforce 0 Not met",
    ]
    assert "nhsuk-tag--red" in rows[1] and "nhsuk-tag--green" in rows[2]  # colour repeats the words
    breaches = body.split('id="breaches-table"')[1].split("</table>")[0]
    breach_rows = [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r'<tr class="nhsuk-table__row">(.*?)</tr>', breaches)
    ]
    assert breach_rows == [
        "C2.1 Patients operated on within 36 hours of admission (standard C2) 82% 85% Higher Minor breach (amber)",
        "P1.1 Staff turnover in the last 12 months (standard P1) 13% 10% Lower Major breach (red)",
    ]
    support = body.split('id="support"')[1].split("<h2")[0]
    assert "C1 Clinical leadership" in support and "P1 Workforce" in support and "C2 " not in support
    core = body.split('id="core-proposition"')[1].split("<h2")[0]
    assert "Benchmarking portal" in core and "Annual peer review visit" in core
    assert "Specialty network meetings" not in core
    explanations = body.split('id="explanations"')[1]
    assert "82% < target 85%, within amber 5 (>= 80): amber, minor breach" in explanations
    assert 'answered "partial": half credit (0.5)' in explanations
    assert 'level 2 of 0..3 ("In place")' in explanations
    assert "text answer: not scored" in explanations
    assert "C1 Clinical leadership: Not met, score 72.2" in explanations, explanations[:600]


def test_a_draft_shows_a_provisional_result_and_stores_nothing(member, world):
    answer(world, {"C1.1": "yes"}, evidence=False)
    body = page(member.get(f"/member/assessments/{world.assessments['a']}/result"))
    assert "Provisional" in body and "Nothing is stored until you submit" in body
    assert "Not accredited" in body
    with db.session_scope(world.url) as session:
        assert session.exec(select(AssessmentResult)).all() == []


PEERS = {
    "p1": {**COMPLETE_ANSWERS, "C2.1": 80, "C2.2": 6, "P1.1": 8},
    "p2": {**COMPLETE_ANSWERS, "C2.1": 90, "C2.2": 7, "P1.1": 11},
    "p3": {**COMPLETE_ANSWERS, "C2.1": 95, "C2.2": "na", "P1.1": 14},
}


def benchmark_rows(body: str) -> list[str]:
    table = body.split('id="benchmark-table"')[1].split("</table>")[0]
    rows = re.findall(r'<tr role="row" class="nhsuk-table__row">(.*?)</tr>', table)
    return [
        " ".join(re.sub(r'<span class="nhsuk-table-responsive__heading"[^>]*>.*?</span>|<[^>]+>', " ", row).split())
        for row in rows
    ]


def test_benchmarks_against_other_members_anonymised(member, world):
    for index, (key, values) in enumerate(PEERS.items()):
        submit_peer(world.url, world, key, f"PEER{index}", values)
    # Neither a draft (member B) nor a member of another alliance counts.
    answer(world, {"C2.1": 1, "P1.1": 99}, key="b", evidence=False)
    with db.session_scope(world.url) as session:
        other = create_alliance(session, CLI, slug="other", name="Other Alliance", standards_set="web-test")
        membership = apply_for_membership(
            session, CLI, organisation_id=world.organisations["b"], alliance_id=other.id, route="full"
        )
        from app.models import utcnow
        from app.services import open_cycle

        from .conftest import current_cycle_name

        name, opens, closes = current_cycle_name(utcnow().date())
        cycle = open_cycle(session, CLI, alliance_id=other.id, name=name, opens_on=opens, closes_on=closes)
        elsewhere = open_assessment(session, CLI, membership_id=membership.id, cycle_id=cycle.id)
        save_answers(session, CLI, elsewhere.id, {**COMPLETE_ANSWERS, "C2.1": 0, "P1.1": 0})
        add_evidence(session, CLI, elsewhere.id, "C1.1", kind="link", url="https://example.nhs.uk/plan")
        from app.services import submit

        submit(session, CLI, elsewhere.id, attested())
    answer(world, A_ANSWERS)
    member.post(f"/member/assessments/{world.assessments['a']}/submit", attestation())
    body = page(member.get(f"/member/assessments/{world.assessments['a']}/result"))
    # C2.1 from 80, 90, 95: quartiles by the inclusive method 85 and 92.5, median 90; P1.1 from 8, 11, 14.
    # C2.2: only two other members gave a number (the third answered "na"), so nothing is shown.
    assert benchmark_rows(body) == [
        "C2.1 Patients operated on within 36 hours of admission 82% Amber: near the target 85% (higher is better) "
        "3 85% 90% 92.5% Worse than the median, in the worst quarter",
        "C2.2 Hip fracture 30-day mortality 7.5% Green: target met 8% (lower is better) "
        "Fewer than 3 Not shown Not shown Not shown –",
        "P1.1 Staff turnover in the last 12 months 13% Red: below the target band 10% (lower is better) "
        "3 9.5% 11% 12.5% Worse than the median, in the worst quarter",
    ]
    for name in ("Peer p1", "Peer p2", "Peer p3", "King's College", "Other Alliance"):
        assert name not in body
    charts = re.findall(r'<svg class="app-benchmark-chart".*?</svg>', body)
    assert len(charts) == 3
    assert all('role="img"' in chart and "<title" in chart and "<desc" in chart for chart in charts)
    assert "app-benchmark-chart__box" in charts[0] and "app-benchmark-chart__median" in charts[0]
    assert "app-benchmark-chart__box" not in charts[1]  # too few members to show their spread
    assert "Higher is better" in charts[0] and "Lower is better" in charts[2]
    assert (
        "Your value 82%. Other members (3): lower quartile 85%, median 90%, upper quartile 92.5%. "
        "Target 85%; higher is better. You are worse than the median, in the worst quarter."
    ) in charts[0]
    assert "Fewer than 3 other members have reported this" in charts[1]
    assert "You 82%" in charts[0] and "Target 85%" in charts[0]


def summary_rows(body: str) -> list[tuple[str, str]]:
    """The result's summary list as (key, value) in words, in order."""

    def words(markup: str) -> str:
        return " ".join(re.sub(r"<[^>]+>", " ", markup).split())

    found = body.split('id="result-summary"')[1].split("</dl>")[0]
    pairs = re.findall(
        r'<dt class="nhsuk-summary-list__key"\s*>(.*?)</dt>\s*'
        r'<dd class="nhsuk-summary-list__value"\s*>(.*?)</dd>',
        found,
        re.S,
    )
    return [(words(key), words(value)) for key, value in pairs]


def test_after_the_leads_decision_the_result_shows_it_first_with_its_conditions(member, world):
    import datetime as dt

    from app.services.review import decide

    answer(world, A_ANSWERS)
    assessment = world.assessments["a"]
    member.post(f"/member/assessments/{assessment}/submit", attestation())
    before = summary_rows(page(member.get(f"/member/assessments/{assessment}/result")))
    assert before[0] == (
        "Outcome",
        ("Working towards accreditation What your answers scored. The alliance lead has not decided yet."),
    )
    due = dt.date.today() + dt.timedelta(days=90)
    with db.session_scope(world.url) as session:
        decide(
            session,
            world.actor("lead"),
            world.alliance_id,
            assessment,
            "accredit_with_conditions",
            conditions="Publish the orthogeriatric rota",
            due_on=due,
            notes="A good year.",
        )
    rows = summary_rows(page(member.get(f"/member/assessments/{assessment}/result")))
    decided_on = dt.date.today()
    assert [key for key, _ in rows] == [
        "Decision",
        "Conditions",
        "Engine's outcome",
        "Overall score",
        "Rating",
        "Self-assessment status",
    ]
    assert rows[0][1] == (
        f"Accredited with conditions Decided by the alliance lead on {decided_on.day} {decided_on:%B %Y}. A good year."
    )
    assert rows[1][1] == f"Publish the orthogeriatric rota Due by {due.day} {due:%B %Y}."
    assert rows[2][1] == "Working towards accreditation What your answers scored, before the lead's decision."
    assert "accredit_with_conditions" not in text(member.get(f"/member/assessments/{assessment}/result"))


def test_a_member_sees_its_own_result_through_the_api(member, world):
    answer(world, A_ANSWERS)
    member.post(f"/member/assessments/{world.assessments['a']}/submit", attestation())
    data = member.get(f"/api/assessments/{world.assessments['a']}/result").get_json()
    assert data["status"] == "submitted"
    assert (data["result"]["overall"], data["result"]["outcome"]) == (54.9, "working_towards")
    assert [b["criterion"] for b in data["result"]["breaches"]] == ["C2.1", "P1.1"]


def test_html_in_member_data_is_escaped(app, world):
    with db.session_scope(world.url) as session:
        from app.models import Organisation

        organisation = session.get(Organisation, world.organisations["a"])
        organisation.name = '<script>alert("x")</script>'
    person = signed_in(app, world, "member_a")
    body = text(person.get("/member/"))
    assert "<script>alert" not in body and "&lt;script&gt;alert" in body

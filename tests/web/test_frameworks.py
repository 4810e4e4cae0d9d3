"""Frameworks the standards are mapped to (schema 2 ``frameworks`` and ``maps_to``) on the lead's pages, and the
per-framework evidence exports ("our CQC evidence"): the lead's review of one assessment (option texts, questions
not asked and why, the mapped frameworks), the dashboard's summary over the members' latest results, the
framework page, and the CSV and JSON exports for a member and for a lead, with who may have which. Through the
test client, on real scored results."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from app import db
from app.models import AssessmentCycle
from app.services import (
    CLI,
    add_evidence,
    apply_for_membership,
    create_alliance,
    create_user,
    open_assessment,
    open_cycle,
    register_organisation,
    register_version,
    save_answers,
    submit,
)
from app.services.questions import NotAsked
from tests.builders import attested, criterion, document, domain, load, standard

from .conftest import (
    COMPLETE_ANSWERS,
    COMPLETE_ANSWERS_2,
    PASSWORD,
    STANDARDS,
    STANDARDS_2,
    build_world,
    password_hash,
    signed_in,
    text,
)

WELL_LED = "Well-led: capable, compassionate and inclusive leaders"
SAFE = "Safe: safe systems, pathways and transitions"
#: Telephone follow-up, not recorded in the letter: C5.2, C5.4 and P1.2 are not asked.
PHONE_ANSWERS = {**{k: v for k, v in COMPLETE_ANSWERS_2.items() if k != "C5.4"}, "C5.3": "no"}
#: Clinic review, 85% reviewed, every follow-up answered: C5 is met.
CLINIC_ANSWERS = {**COMPLETE_ANSWERS_2, "C5.1": "clinic", "C5.2": 85, "P1.2": "yes"}
del CLINIC_ANSWERS["C6.1"]


@pytest.fixture
def world(database_url):
    return build_world(database_url, STANDARDS_2)


def _submit(session, assessment_id: int, answers: dict) -> None:
    outcome = save_answers(session, CLI, assessment_id, answers)
    assert outcome.ok, outcome.errors
    for criterion_id in ("C1.1", "P1.2"):  # evidence where a file asks for it
        if criterion_id in answers:
            add_evidence(session, CLI, assessment_id, criterion_id, kind="link", url="https://example.nhs.uk/plan")
    submit(session, CLI, assessment_id, attested())


def _member(session, world, key: str, name: str, ods: str, alliance_id: int, cycle_id: int, **opened) -> int:
    organisation = register_organisation(session, CLI, name=name, ods_code=ods, org_type="acute", region="Test")
    membership = apply_for_membership(
        session, CLI, organisation_id=organisation.id, alliance_id=alliance_id, route="full"
    )
    user = create_user(
        session,
        CLI,
        email=f"{key}@member.test",
        name=name,
        password=PASSWORD,
        role="member",
        organisation_id=organisation.id,
        password_hash=password_hash(PASSWORD),
    )
    world.organisations[key], world.memberships[key] = organisation.id, membership.id
    world.emails[f"member_{key}"], world.user_ids[f"member_{key}"] = user.email, user.id
    assessment = open_assessment(session, CLI, membership_id=membership.id, cycle_id=cycle_id, **opened)
    world.assessments[key] = assessment.id
    return assessment.id


@pytest.fixture
def scored(world):
    """Alliance X on web-test 2026.2: A (telephone, half credit: C1 met, C5 not met), B (clinic: C1 and C5 met),
    "old" still on 2026.1 (scored without frameworks: not assessed), "late" with a draft only; alliance Y (same
    set) with one member and its own lead."""
    with db.session_scope(world.url) as session:
        _submit(session, world.assessments["a"], PHONE_ANSWERS)
        _submit(session, world.assessments["b"], CLINIC_ANSWERS)
        old = register_version(session, STANDARDS, CLI)
        _submit(
            session,
            _member(
                session,
                world,
                "old",
                "Old Version NHS Trust",
                "OLD1",
                world.alliance_id,
                world.cycle_id,
                standards_version_id=old.id,
            ),
            COMPLETE_ANSWERS,
        )
        _member(session, world, "late", "Late NHS Trust", "LAT1", world.alliance_id, world.cycle_id)
        other = create_alliance(session, CLI, slug="other-alliance", name="Other Alliance", standards_set="web-test")
        current = session.get(AssessmentCycle, world.cycle_id)
        cycle = open_cycle(
            session,
            CLI,
            alliance_id=other.id,
            name=current.name,
            opens_on=current.opens_on,
            closes_on=current.closes_on,
        )
        _submit(session, _member(session, world, "y", "=Other Trust", "OTH1", other.id, cycle.id), PHONE_ANSWERS)
        lead_y = create_user(
            session,
            CLI,
            email="lead@other.test",
            name="Other Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=other.id,
            password_hash=password_hash(PASSWORD),
        )
        world.emails["lead_y"], world.user_ids["lead_y"] = lead_y.email, lead_y.id
    return world


def cells(html: str) -> list[str]:
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)]


def part(body: str, element_id: str, end: str = "</table>") -> str:
    start = body.index(f'id="{element_id}"')
    return body[start : body.index(end, start)]


# -- the lead's review of one assessment ---------------------------------------------------------------------


def test_the_review_shows_option_texts_and_why_a_question_was_not_asked(app, scored):
    lead = signed_in(app, scored, "lead")
    body = text(lead.get(f"/review/assessments/{scored.assessments['a']}"))
    rows = cells(part(body, "standard-C5"))
    assert (
        "C5.1 How are hip fracture patients reviewed after discharge? Telephone follow-up None "
        "“Telephone follow-up” 0.5: scores 0.5" in rows
    )
    assert (
        "C5.5 Which audits does the service submit to? National Hip Fracture Database None "
        "“National Hip Fracture Database” 0.5: scores 0.5" in rows
    )
    assert (
        "C5.2 Share of discharged patients reviewed in clinic Not asked None "
        "C5.2 not asked: C5.1 is “Telephone follow-up”. Left out of the score." in rows
    )
    assert (
        "C5.4 Who reviews the discharge letters? Not asked None "
        "C5.4 not asked: C5.3 is “No”. Left out of the score." in rows
    )
    assert ">phone<" not in body and ">nhfd<" not in body
    listed = cells(part(body, "not-asked", "</ul>").replace("<li>", "<tr>").replace("</li>", "</tr>"))
    assert listed == [
        "C5.2 not asked: C5.1 is “Telephone follow-up”",
        "C5.4 not asked: C5.3 is “No”",
        "P1.2 not asked: C5.1 is “Telephone follow-up”",
    ]


def test_a_kept_answer_to_a_question_not_asked_is_shown_in_words(app, world):
    with db.session_scope(world.url) as session:
        _submit(session, world.assessments["a"], {**PHONE_ANSWERS, "C5.2": 90, "C5.4": "nurse"})
    body = text(signed_in(app, world, "lead").get(f"/review/assessments/{world.assessments['a']}"))
    rows = cells(part(body, "standard-C5"))
    assert any(
        r.startswith("C5.4 Who reviews the discharge letters? Not asked (answer kept: A specialist nurse)")
        for r in rows
    )
    assert any(
        r.startswith("C5.2 Share of discharged patients reviewed in clinic Not asked (answer kept: 90%)") for r in rows
    )


def test_the_review_shows_what_the_result_evidences_for_each_framework(app, scored):
    lead = signed_in(app, scored, "lead")
    body = text(lead.get(f"/review/assessments/{scored.assessments['a']}"))
    assert cells(part(body, "framework-cqc"))[1:] == [
        f"{WELL_LED} Met C1 Clinical leadership (met)",
        f"{SAFE} Not met C5 Follow-up after discharge (not met)",
    ]
    assert 'href="#standard-C5"' in part(body, "framework-cqc")
    # the member's result page shows the same table, from the same partial, with its downloads
    member = text(signed_in(app, scored, "member_a").get(f"/member/assessments/{scored.assessments['a']}/result"))
    assert part(member, "framework-cqc") == part(body, "framework-cqc")
    downloads = part(member, "framework-cqc-downloads", "</p>")
    ma = scored.memberships["a"]
    assert f'href="/member/memberships/{ma}/frameworks/cqc/evidence.csv"' in downloads
    assert f'href="/member/memberships/{ma}/frameworks/cqc/evidence.json"' in downloads


# -- the dashboard and the framework page ------------------------------------------------------------------------


def test_the_dashboard_counts_each_ref_over_the_members_latest_results(app, scored):
    body = text(signed_in(app, scored, "lead").get("/review/dashboard"))
    section = body[body.index('id="frameworks"') :]
    assert "3 of 4 members have a submitted result" in " ".join(section.split())
    assert cells(part(section, "framework-summary-cqc"))[1:] == [
        # A and B meet it; the member still on 2026.1 has no mapping: not assessed
        f"{WELL_LED} 2 0 1 C1 Clinical leadership",
        # B meets it, A does not
        f"{SAFE} 1 1 1 C5 Follow-up after discharge",
    ]
    assert 'href="/review/frameworks/cqc"' in section
    assert 'href="/review/frameworks/cqc/evidence.csv"' in section
    assert 'href="/review/frameworks/cqc/evidence.json"' in section
    # the other alliance's member is not counted here; its own lead sees only it
    other = text(signed_in(app, scored, "lead_y").get("/review/dashboard"))
    assert cells(part(other, "framework-summary-cqc"))[1:] == [
        f"{WELL_LED} 1 0 0 C1 Clinical leadership",
        f"{SAFE} 0 1 0 C5 Follow-up after discharge",
    ]


def test_the_framework_page_names_the_members_per_status(app, scored):
    body = text(signed_in(app, scored, "lead").get("/review/frameworks/cqc"))
    assert "<h1>CQC quality statements</h1>" in body
    members = " ".join(re.sub(r"<[^>]+>", " ", body[body.index('id="members"') :]).split())
    assert (
        f"{SAFE} Standards behind it: C5 Follow-up after discharge. Met (1) King's College Hospital NHS Foundation "
        "Trust Not met (1) Dartford and Gravesham NHS Trust Not assessed (1) Old Version NHS Trust"
    ) in members.replace("&#39;", "'")
    assert "Late NHS Trust" not in body and "Other Trust" not in body
    assert signed_in(app, scored, "lead").get("/review/frameworks/nope").status_code == 404


# -- the exports -----------------------------------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text(response))))


def test_the_lead_exports_every_members_evidence_for_a_framework(app, scored):
    lead = signed_in(app, scored, "lead")
    response = lead.get("/review/frameworks/cqc/evidence.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="cqc-evidence-web-test.csv"'
    rows = read_csv(response)
    assert [(r["member"], r["ref"], r["status"], r["standards"]) for r in rows] == [
        ("Dartford and Gravesham NHS Trust", WELL_LED, "met", "C1 Clinical leadership: met"),
        ("Dartford and Gravesham NHS Trust", SAFE, "not_met", "C5 Follow-up after discharge: not_met"),
        ("King's College Hospital NHS Foundation Trust", WELL_LED, "met", "C1 Clinical leadership: met"),
        ("King's College Hospital NHS Foundation Trust", SAFE, "met", "C5 Follow-up after discharge: met"),
    ]  # the member on 2026.1 has nothing mapped to CQC; the one with a draft has no result
    assert rows[0]["ods_code"] == "RN7" and rows[0]["framework"] == "cqc"
    assert rows[0]["framework_title"] == "CQC quality statements" and rows[0]["standards_version"] == "2026.2"
    assert rows[0]["assessment_id"] == str(scored.assessments["a"])
    found = json.loads(text(lead.get("/review/frameworks/cqc/evidence.json")))
    assert found["framework"] == {"id": "cqc", "title": "CQC quality statements"}
    assert found["scope"] == "Web Test Alliance" and len(found["rows"]) == 4
    assert found["rows"][1]["standards"] == [{"id": "C5", "title": "Follow-up after discharge", "status": "not_met"}]
    assert found["rows"][1]["status"] == "not_met" and found["rows"][1]["ref"] == SAFE
    assert lead.get("/review/frameworks/nope/evidence.csv").status_code == 404
    assert lead.get("/review/frameworks/cqc/evidence.xml").status_code == 404


def test_each_lead_exports_only_its_own_alliance_and_cells_cannot_be_formulas(app, scored):
    rows = read_csv(signed_in(app, scored, "lead_y").get("/review/frameworks/cqc/evidence.csv"))
    assert [(r["member"], r["status"]) for r in rows] == [("'=Other Trust", "met"), ("'=Other Trust", "not_met")]


def test_a_member_exports_its_own_latest_result(app, scored):
    member = signed_in(app, scored, "member_a")
    url = f"/member/memberships/{scored.memberships['a']}/frameworks/cqc/evidence"
    response = member.get(url + ".csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="cqc-evidence-RN7.csv"'
    assert [(r["member"], r["ref"], r["status"], r["standards"]) for r in read_csv(response)] == [
        ("Dartford and Gravesham NHS Trust", WELL_LED, "met", "C1 Clinical leadership: met"),
        ("Dartford and Gravesham NHS Trust", SAFE, "not_met", "C5 Follow-up after discharge: not_met"),
    ]
    found = json.loads(text(member.get(url + ".json")))
    assert found["scope"] == "Dartford and Gravesham NHS Trust"
    assert {r["member"] for r in found["rows"]} == {"Dartford and Gravesham NHS Trust"}
    assert [r["status"] for r in found["rows"]] == ["met", "not_met"]
    # a member with only a draft has nothing to export yet
    late = signed_in(app, scored, "member_late")
    empty = json.loads(text(late.get(f"/member/memberships/{scored.memberships['late']}/frameworks/cqc/evidence.json")))
    assert empty["rows"] == []


def test_who_may_have_which_export(app, scored):
    a_export = f"/member/memberships/{scored.memberships['a']}/frameworks/cqc/evidence.csv"
    member_b = signed_in(app, scored, "member_b")
    assert member_b.get(a_export).status_code == 404  # another organisation's membership
    assert member_b.get("/review/frameworks/cqc/evidence.csv").status_code == 403  # a member is no lead
    assert member_b.get("/review/frameworks/cqc").status_code == 403
    assert signed_in(app, scored, "lead").get(a_export).status_code == 403  # a lead is no member
    assert signed_in(app, scored, "lead_y").get(a_export).status_code == 403
    assert signed_in(app, scored, "admin").get("/review/frameworks/cqc/evidence.json").status_code == 403
    anonymous = app.test_client().get("/review/frameworks/cqc/evidence.csv")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_why_a_question_was_not_asked_reads_for_the_member_and_for_the_lead():
    """Pure: one reason, in the member's words and the reviewer's."""
    standards = load(
        document(
            [
                domain(
                    "d",
                    [
                        standard(
                            "S1", [criterion("A1", "yes_no"), criterion("A2", when={"criterion": "A1", "in": ["yes"]})]
                        )
                    ],
                )
            ],
            schema=2,
        )
    )
    a1, a2 = standards.criterion_lookup["A1"][1], standards.criterion_lookup["A2"][1]
    answered = NotAsked(a2, a1, answer="no")
    assert answered.words == "Not asked because A1 is “No”."
    assert answered.for_reviewer == "A2 not asked: A1 is “No”"
    elsewhere = NotAsked(a2, a1, controller_applies=False)
    assert elsewhere.because == "A1 does not apply to your organisation"
    assert elsewhere.for_reviewer == "A2 not asked: A1 does not apply to this member"
    assert NotAsked(a2, a1, answer="na").for_reviewer == "A2 not asked: A1 is answered “Not applicable”"
    assert NotAsked(a2, a1, pending=True).for_reviewer == "A2 not asked: A1 is not answered yet"

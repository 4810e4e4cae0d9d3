"""The applicant journey up to the self-assessment: apply on a route, see what applies, start the assessment."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import db
from app.models import Assessment, AssessmentCycle, Membership
from app.services import CLI, create_user, register_organisation

from .conftest import PASSWORD, Visitor, password_hash, signed_in, text
from .test_auth import error_list


@pytest.fixture
def applicant(app, world):
    """A newly registered organisation (community type) with no membership yet, signed in."""
    with db.session_scope(world.url) as session:
        organisation = register_organisation(
            session,
            CLI,
            name="Oxleas NHS Foundation Trust",
            ods_code="RPG",
            org_type="community",
            region="South East London",
        )
        create_user(
            session,
            CLI,
            email="applicant@nhs.test",
            name="Applicant",
            password=PASSWORD,
            role="member",
            organisation_id=organisation.id,
            password_hash=password_hash(PASSWORD),
        )
        organisation_id = organisation.id
    person = Visitor(app)
    assert person.login("applicant@nhs.test").status_code == 302
    person.organisation_id = organisation_id
    return person


def memberships_of(world, organisation_id):
    with db.session_scope(world.url) as session:
        return session.exec(select(Membership).where(Membership.organisation_id == organisation_id)).all()


def test_home_lists_the_memberships_and_their_assessments(app, world):
    person = signed_in(app, world, "member_a")
    body = text(person.get("/member/"))
    assert "Dartford and Gravesham NHS Trust" in body and "RN7" in body
    assert "Web Test Alliance" in body and "Applicant" in body
    assert f'/member/assessments/{world.assessments["a"]}"' in body and "Continue self-assessment" in body
    assert "King&#39;s College" not in body  # another organisation's membership


def test_home_of_an_organisation_without_membership(applicant):
    body = text(applicant.get("/member/"))
    assert "has not applied for membership of an alliance yet" in body


def test_apply_lists_alliances_with_published_standards(applicant):
    body = text(applicant.get("/member/apply"))
    assert 'href="/member/apply/web-test"' in body and "Web test standards, version 2026.1" in body


def test_apply_page_offers_routes_and_the_specialties_the_standards_name(applicant):
    body = text(applicant.get("/member/apply/web-test"))
    assert 'name="route" type="radio" value="full"' in body
    assert 'name="route" type="radio" value="specialty"' in body
    assert '<option value="spinal"' in body and '<option value="__other__"' in body
    assert 'id="specialty_other"' in body


def test_apply_for_full_membership_then_see_what_applies(applicant, world):
    response = applicant.post("/member/apply/web-test", {"route": "full", "specialty": "spinal"})
    assert response.status_code == 302
    [membership] = memberships_of(world, applicant.organisation_id)
    assert (membership.route, membership.specialty, membership.status) == ("full", None, "applicant")
    assert response.headers["Location"] == f"/member/memberships/{membership.id}"
    body = text(applicant.get(response.headers["Location"]))
    assert "You have applied for full membership of Web Test Alliance." in body
    standards = body.split("Standards that apply to you")[1]
    # A community organisation on the full route: C1, C2 and P1; C3 is specialty-only, C4 acute-only.
    for shown in ("C1</strong> Clinical leadership", "C2</strong> Hip fracture outcomes", "P1</strong> Workforce"):
        assert shown in standards
    assert "C3" not in standards and "C4" not in standards
    assert "3 standards apply" in standards and "must meet" in standards
    core = body.split("The core proposition your route brings")[1].split("Standards that apply")[0]
    assert "Benchmarking portal" in core and "Annual peer review visit" in core
    assert "Specialty network meetings" not in core


def test_apply_for_specialty_membership_with_a_named_specialty(applicant, world):
    response = applicant.post("/member/apply/web-test", {"route": "specialty", "specialty": "spinal"})
    assert response.status_code == 302
    [membership] = memberships_of(world, applicant.organisation_id)
    assert (membership.route, membership.specialty) == ("specialty", "spinal")
    body = text(applicant.get(response.headers["Location"]))
    standards = body.split("Standards that apply to you")[1]
    assert "C3</strong> Spinal surgery network" in standards and "(Spinal)" in body
    core = body.split("The core proposition your route brings")[1].split("Standards that apply")[0]
    assert "Specialty network meetings" in core and "Annual peer review visit" not in core


def test_apply_for_specialty_membership_with_another_specialty(applicant, world):
    response = applicant.post(
        "/member/apply/web-test", {"route": "specialty", "specialty": "__other__", "specialty_other": " Hand-Surgery "}
    )
    assert response.status_code == 302
    [membership] = memberships_of(world, applicant.organisation_id)
    assert (membership.route, membership.specialty) == ("specialty", "hand-surgery")
    standards = text(applicant.get(response.headers["Location"])).split("Standards that apply to you")[1]
    assert "C3" not in standards  # only the spinal specialty has C3


@pytest.mark.parametrize(
    "data, anchor, message",
    [
        ({}, "#route", "Choose a membership route"),
        ({"route": "associate"}, "#route", "Choose a membership route from the list"),
        ({"route": "specialty", "specialty": ""}, "#specialty", "Choose the specialty of the membership"),
        ({"route": "specialty", "specialty": "astrology"}, "#specialty", "Choose a specialty from the list"),
        (
            {"route": "specialty", "specialty": "__other__", "specialty_other": ""},
            "#specialty_other",
            "Enter the specialty",
        ),
        (
            {"route": "specialty", "specialty": "__other__", "specialty_other": "hand surgery!"},
            "#specialty_other",
            "Enter the specialty in lower-case letters, digits and hyphens, like hand-surgery",
        ),
    ],
)
def test_apply_errors(applicant, world, data, anchor, message):
    response = applicant.post("/member/apply/web-test", data)
    assert response.status_code == 200
    assert (anchor, message) in error_list(response)
    assert memberships_of(world, applicant.organisation_id) == []


def test_applying_twice_for_a_full_membership_is_refused_with_the_reason(app, world):
    person = signed_in(app, world, "member_a")
    response = person.post("/member/apply/web-test", {"route": "full"})
    assert response.status_code == 200
    [(anchor, message)] = error_list(response)
    assert "already has a full membership of Web Test Alliance" in message
    assert len(memberships_of(world, world.organisations["a"])) == 1


def test_applying_to_an_unknown_alliance_is_not_found(applicant):
    assert applicant.get("/member/apply/no-such-alliance").status_code == 404
    assert applicant.post("/member/apply/no-such-alliance", {"route": "full"}).status_code == 404


def test_membership_page_of_a_member_with_an_assessment(app, world):
    person = signed_in(app, world, "member_a")
    body = text(person.get(f"/member/memberships/{world.memberships['a']}"))
    assert "Continue your self-assessment" in body
    assert f'/member/assessments/{world.assessments["a"]}"' in body
    standards = body.split("Standards that apply to you")[1]
    assert "C4</strong> Emergency department links" in standards  # an acute organisation


def test_start_the_self_assessment_for_the_current_cycle(applicant, world):
    applicant.post("/member/apply/web-test", {"route": "full"})
    [membership] = memberships_of(world, applicant.organisation_id)
    page = text(applicant.get(f"/member/memberships/{membership.id}"))
    assert "Start your self-assessment for" in page
    response = applicant.post(f"/member/memberships/{membership.id}/assessments")
    assert response.status_code == 302
    with db.session_scope(world.url) as session:
        [assessment] = session.exec(select(Assessment).where(Assessment.membership_id == membership.id)).all()
        assert (assessment.cycle_id, assessment.status) == (world.cycle_id, "draft")
    assert response.headers["Location"] == f"/member/assessments/{assessment.id}"
    # Starting again opens the same assessment rather than a second one.
    again = applicant.post(f"/member/memberships/{membership.id}/assessments")
    assert again.headers["Location"] == f"/member/assessments/{assessment.id}"
    overview = text(applicant.get(again.headers["Location"]))
    assert "Your self-assessment" in overview and "Delivering high-quality care" in overview


def test_starting_without_an_open_cycle_says_why(applicant, world):
    applicant.post("/member/apply/web-test", {"route": "full"})
    [membership] = memberships_of(world, applicant.organisation_id)
    with db.session_scope(world.url) as session:
        for assessment in session.exec(select(Assessment)).all():
            session.delete(assessment)
        session.flush()
        session.delete(session.get(AssessmentCycle, world.cycle_id))
    page = text(applicant.get(f"/member/memberships/{membership.id}"))
    assert "has not opened an assessment cycle yet" in page
    response = applicant.post(f"/member/memberships/{membership.id}/assessments")
    assert response.status_code == 302
    body = text(applicant.get(response.headers["Location"]))
    assert "The self-assessment could not be started: the alliance has no assessment cycle yet" in body

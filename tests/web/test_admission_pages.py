"""The admission pages through the test client: a member applies (naming a sponsor), the lead's Applications
list by state with the applicant's details, eligibility and the standards that would apply, the lead's steps, the
admission policy form, the sponsor's answer from its home page, and the applicant's withdrawal."""

from __future__ import annotations

from sqlmodel import select

from app import db
from app.models import Assessment, Membership, MembershipApplication
from app.services import CLI, change_status, register_organisation
from app.services.accounts import create_user

from .conftest import PASSWORD, Visitor, password_hash, signed_in, text


def applicant(world, ods: str = "NEW1", org_type: str = "community", region: str = "North West") -> str:
    """A registered organisation with a member user, not yet applying; its user's email."""
    with db.session_scope(world.url) as session:
        org = register_organisation(
            session, CLI, name=f"Applicant {ods} Trust", ods_code=ods, org_type=org_type, region=region
        )
        user = create_user(
            session,
            CLI,
            email=f"member.{ods.lower()}@nhs.test",
            name=f"Applicant {ods}",
            password=PASSWORD,
            role="member",
            organisation_id=org.id,
            password_hash=password_hash(PASSWORD),
        )
        return user.email


def sign_in(app, email: str) -> Visitor:
    person = Visitor(app)
    assert person.login(email).status_code == 302
    return person


def only_application(world) -> MembershipApplication:
    with db.session_scope(world.url) as session:
        [found] = session.exec(select(MembershipApplication)).all()
        session.expunge(found)
        return found


def test_a_member_applies_and_the_lead_admits_from_the_applications_list(app, world):
    member = sign_in(app, applicant(world))
    response = member.post("/member/apply/web-test", {"route": "full"})
    assert response.status_code == 302
    application = only_application(world)
    assert application.status == "new"
    page = text(member.get(response.headers["Location"]))
    assert "Your application" in page and "not looked at it yet" in page and "Withdraw the application" in page

    lead = signed_in(app, world, "lead")
    listing = text(lead.get("/review/applications"))
    assert "Applicant NEW1 Trust" in listing and "Community, North West" in listing and "New (1)" in listing
    assert "Not eligible" not in listing and "any type of organisation" in listing
    assert "Applicant NEW1 Trust" not in text(lead.get("/review/applications?status=admitted"))
    detail = text(lead.get(f"/review/applications/{application.id}"))
    assert "The standards that would apply" in detail and "Admit" in detail and "Mark as under consideration" in detail
    assert lead.post(f"/review/applications/{application.id}/consider").status_code == 302
    assert "Under consideration (1)" in text(lead.get("/review/applications"))
    done = lead.post(f"/review/applications/{application.id}/admit")
    assert done.status_code == 302
    assert "Admitted: the membership has started" in text(lead.get(done.headers["Location"]))
    with db.session_scope(world.url) as session:
        membership = session.get(Membership, application.membership_id)
        assert membership.status == "working_towards"
        assert session.exec(select(Assessment).where(Assessment.membership_id == membership.id)).one()
    home = text(member.get("/member/"))
    assert "Web Test Alliance has admitted you as a member" in home
    # Decided: final, no more steps on the page, and a further step is refused.
    detail = text(lead.get(f"/review/applications/{application.id}"))
    assert "the decision is final" in detail
    refused = lead.post(f"/review/applications/{application.id}/decline", {"reason": "Too late"})
    assert refused.status_code == 400 and "which is final" in text(refused)


def test_declining_needs_a_reason_on_the_page_and_the_applicant_reads_it(app, world):
    member = sign_in(app, applicant(world))
    member.post("/member/apply/web-test", {"route": "full"})
    application = only_application(world)
    lead = signed_in(app, world, "lead")
    empty = lead.post(f"/review/applications/{application.id}/decline", {"reason": " "})
    assert empty.status_code == 400 and "Say why the application is declined" in text(empty)
    assert (
        lead.post(f"/review/applications/{application.id}/decline", {"reason": "Outside our region"}).status_code == 302
    )
    page = text(member.get(f"/member/memberships/{application.membership_id}"))
    assert "Declined" in page and "Outside our region" in page and "Withdraw the application" not in page
    # Applying again makes a new application.
    assert member.post("/member/apply/web-test", {"route": "full"}).status_code == 302
    with db.session_scope(world.url) as session:
        assert [a.status for a in session.exec(select(MembershipApplication).order_by(MembershipApplication.id))] == [
            "declined",
            "new",
        ]


def test_the_policy_form_makes_applications_ineligible_and_they_cannot_be_admitted(app, world):
    lead = signed_in(app, world, "lead")
    form = text(lead.get("/review/admission"))
    assert "Admission policy" in form and 'name="csrf_token"' in form
    assert lead.post("/review/admission", {"org_types": "acute", "regions": ""}, csrf=False).status_code == 400
    bad = lead.post("/review/admission", {"org_types": "Acute Trust!", "regions": ""})
    assert bad.status_code == 400 and "is not an organisation type" in text(bad)
    assert (
        lead.post("/review/admission", {"org_types": "acute\nspecialist", "regions": "North West"}).status_code == 302
    )
    member = sign_in(app, applicant(world))
    member.post("/member/apply/web-test", {"route": "full"})
    application = only_application(world)
    listing = text(lead.get("/review/applications"))
    assert "Not eligible" in listing and "Acute, Specialist" in listing
    detail = text(lead.get(f"/review/applications/{application.id}"))
    assert "Organisation type community is not one the alliance admits" in detail
    assert f'action="/review/applications/{application.id}/admit"' not in detail
    refused = lead.post(f"/review/applications/{application.id}/admit")
    assert refused.status_code == 400 and "cannot be admitted" in text(refused)
    assert only_application(world).status == "new"


def test_an_admin_sets_any_alliances_policy(app, world):
    admin = signed_in(app, world, "admin")
    page = admin.get(f"/admin/alliances/{world.alliance_id}/admission")
    assert page.status_code == 200 and "Web Test Alliance" in text(page)
    assert admin.post(f"/admin/alliances/{world.alliance_id}/admission", {"sponsor_required": "y"}).status_code == 302
    assert admin.get("/admin/alliances/999999/admission").status_code == 404
    lead = signed_in(app, world, "lead")
    assert "a confirmed sponsor is required" in text(lead.get("/review/applications"))


def test_a_sponsor_confirms_from_its_home_page_then_the_lead_can_admit(app, world):
    with db.session_scope(world.url) as session:  # Dartford (member A) is accredited: it may sponsor
        change_status(session, session.get(Membership, world.memberships["a"]), "accredited", CLI, "accredited")
    lead = signed_in(app, world, "lead")
    lead.post("/review/admission", {"org_types": "", "regions": "", "sponsor_required": "y"})
    member = sign_in(app, applicant(world))
    form = text(member.get("/member/apply/web-test"))
    assert "The alliance admits only with a sponsor" in form
    refused = member.post("/member/apply/web-test", {"route": "full"})
    assert refused.status_code == 200 and "needs a sponsor" in text(refused)
    refused = member.post("/member/apply/web-test", {"route": "full", "sponsor": "RJZ"})
    assert "is not an accredited member of Web Test Alliance" in text(refused)
    assert member.post("/member/apply/web-test", {"route": "full", "sponsor": "RN7"}).status_code == 302
    application = only_application(world)
    assert "the sponsor, Dartford and Gravesham NHS Trust, has not confirmed yet" in text(
        lead.get(f"/review/applications/{application.id}")
    ).replace("The sponsor", "the sponsor")
    sponsor = signed_in(app, world, "member_a")
    home = text(sponsor.get("/member/"))
    assert "Applications naming you as sponsor" in home and "Applicant NEW1 Trust" in home
    other = signed_in(app, world, "member_b")
    assert "Applications naming you as sponsor" not in text(other.get("/member/"))
    assert other.post(f"/member/sponsorships/{application.id}/confirm").status_code == 404
    assert sponsor.post(f"/member/sponsorships/{application.id}/maybe").status_code == 404
    assert sponsor.post(f"/member/sponsorships/{application.id}/confirm").status_code == 302
    assert only_application(world).sponsor_status == "confirmed"
    assert "Applications naming you as sponsor" not in text(sponsor.get("/member/"))
    assert lead.post(f"/review/applications/{application.id}/admit").status_code == 302
    assert only_application(world).status == "admitted"


def test_the_applicant_withdraws_and_nobody_else_can(app, world):
    member = sign_in(app, applicant(world))
    member.post("/member/apply/web-test", {"route": "full"})
    application = only_application(world)
    other = signed_in(app, world, "member_b")
    assert other.post(f"/member/applications/{application.id}/withdraw").status_code == 404
    assert member.post(f"/member/applications/{application.id}/withdraw", csrf=False).status_code == 400
    assert member.post(f"/member/applications/{application.id}/withdraw").status_code == 302
    assert only_application(world).status == "withdrawn"
    again = member.post(f"/member/applications/{application.id}/withdraw")
    assert again.status_code == 302 and "which is final" in text(member.get(again.headers["Location"]))

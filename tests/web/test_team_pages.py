"""Teams through the pages (app/web/team.py, the submit page's attestation, the lead's review page, the
export): an organisation admin assigns, a contributor sees "My questions" and is refused another owner's
question, only an approver submits, with an attestation the lead then sees."""

from __future__ import annotations

import csv
import io

from sqlmodel import select

from app import db
from app.models import Assessment, TeamAssignment, User
from app.services import CLI, add_evidence, create_user, save_answers
from app.services.exports import as_csv, table

from .conftest import COMPLETE_ANSWERS, PASSWORD, World, attestation, password_hash, signed_in, text


def colleague(world: World, key: str, name: str, roles: str) -> None:
    with db.session_scope(world.url) as session:
        user = create_user(
            session,
            CLI,
            email=f"{key}@nhs.test",
            name=name,
            password=PASSWORD,
            role="member",
            organisation_id=world.organisations["a"],
            password_hash=password_hash(PASSWORD),
        )
        user.team_roles = roles
        world.emails[key], world.user_ids[key] = user.email, user.id


def complete(world: World) -> None:
    with db.session_scope(world.url) as session:
        assert save_answers(session, CLI, world.assessments["a"], COMPLETE_ANSWERS).ok
        add_evidence(session, CLI, world.assessments["a"], "C1.1", kind="link", url="https://example.nhs.uk/p")


def test_one_person_with_every_role_submits_with_the_attestation_the_lead_and_export_then_show(app, world):
    complete(world)
    member = signed_in(app, world, "member_a")
    url = f"/member/assessments/{world.assessments['a']}/submit"
    form = text(member.get(url))
    assert "Your attestation" in form and 'value="Member A"' in form  # the name filled in
    # Without the box ticked, or without a role: refused on the page, nothing submitted.
    refused = member.post(url, {"name": "Member A", "role": "Chief Nurse"})
    assert refused.status_code == 200 and "Confirm that the self-assessment is accurate" in text(refused)
    refused = member.post(url, {"confirmed": "y", "name": "Member A", "role": ""})
    assert refused.status_code == 200 and "Enter your role" in text(refused)
    with db.session_scope(world.url) as session:
        assert session.get(Assessment, world.assessments["a"]).status == "draft"
    done = member.post(url, attestation("Member A", "Chief Nurse"))
    assert done.status_code == 302 and done.headers["Location"].endswith("/result")
    lead = signed_in(app, world, "lead")
    review = " ".join(text(lead.get(f"/review/assessments/{world.assessments['a']}")).split())
    assert "I confirm, as Chief Nurse, that this self-assessment is accurate. Member A, Chief Nurse" in review
    with db.session_scope(world.url) as session:
        _, found = table(session, world.alliance_id, world.cycle_id, "results")
        rows = list(csv.DictReader(io.StringIO(as_csv(found))))
    row = next(r for r in rows if r["assessment_id"] == str(world.assessments["a"]))
    assert (row["attested_by"], row["attested_role"]) == ("Member A", "Chief Nurse") and row["attested_at"]


def test_a_contributor_cannot_submit_and_is_told_who_can(app, world):
    colleague(world, "cara", "Cara Contributor", "contributor")
    complete(world)
    cara = signed_in(app, world, "cara")
    url = f"/member/assessments/{world.assessments['a']}/submit"
    page = " ".join(text(cara.get(url)).split())
    assert "Only an approver of Dartford and Gravesham NHS Trust can submit the self-assessment: Member A" in page
    assert "Your attestation" not in page
    assert cara.post(url, attestation()).status_code == 403
    with db.session_scope(world.url) as session:
        assert session.get(Assessment, world.assessments["a"]).status == "draft"


def test_the_admin_assigns_and_the_contributor_sees_my_questions_and_is_refused_elsewhere(app, world):
    colleague(world, "cara", "Cara Contributor", "contributor")
    admin, cara = signed_in(app, world, "member_a"), signed_in(app, world, "cara")
    a = world.assessments["a"]
    team = text(admin.get("/member/team/"))
    assert "Cara Contributor" in team and "Save roles" in team and 'id="owner-domain-care"' in team
    owners = f"/member/team/assessments/{a}/owners"
    assert (
        admin.post(owners, {"scope": "domain", "ref": "people", "owner": str(world.user_ids["cara"])}).status_code
        == 302
    )
    assert (
        admin.post(owners, {"scope": "standard", "ref": "C1", "owner": str(world.user_ids["member_a"])}).status_code
        == 302
    )
    # A refusal in words on the team page.
    bad = admin.post(owners, {"scope": "domain", "ref": "nowhere", "owner": str(world.user_ids["cara"])})
    assert "is not a domain of these standards" in text(admin.get(bad.headers["Location"]))
    # Cara, a contributor, may not assign; her team page has no forms.
    assert (
        cara.post(owners, {"scope": "domain", "ref": "care", "owner": str(world.user_ids["cara"])}).status_code == 403
    )
    assert "Save roles" not in text(cara.get("/member/team/"))
    mine = " ".join(text(cara.get("/member/team/mine")).split())
    assert '">P1 ' in mine and "<strong>0 of 2</strong> of your questions answered" in mine and '">C1 ' not in mine
    # She answers her own question and an unowned one; Member A's standard C1 is refused by name.
    saved = cara.post(f"/member/assessments/{a}/domains/people", {"c-P1-1": "9", "action": "save"})
    assert saved.status_code == 302
    refused = cara.post(f"/member/assessments/{a}/domains/care", {"c-C1-1": "yes", "c-C2-1": "80", "action": "save"})
    assert refused.status_code == 200 and "assigned to Member A" in text(refused)
    owners_note = " ".join(text(cara.get(f"/member/assessments/{a}/domains/care")).split())
    assert "Who answers here: C1 Clinical leadership: Member A." in owners_note
    assert "<strong>1 of 2</strong> of your questions answered" in " ".join(text(cara.get("/member/team/mine")).split())
    with db.session_scope(world.url) as session:
        assert [r.ref for r in session.exec(select(TeamAssignment).order_by(TeamAssignment.id))] == ["people", "C1"]


def test_roles_are_changed_and_a_colleague_leaves_from_the_team_page(app, world):
    colleague(world, "cara", "Cara Contributor", "contributor")
    admin, cara = signed_in(app, world, "member_a"), signed_in(app, world, "cara")
    roles = f"/member/team/people/{world.user_ids['cara']}/roles"
    assert admin.post(roles, {"contributor": "y", "approver": "y"}).status_code == 302
    # The last organisation admin keeps the role: told so on the page.
    own = admin.post(f"/member/team/people/{world.user_ids['member_a']}/roles", {"contributor": "y"})
    assert "the only organisation admin" in text(admin.get(own.headers["Location"]))
    assert cara.post(roles, {"org_admin": "y"}).status_code == 403
    admin.post(f"/member/team/assessments/{world.assessments['a']}/owners", {"scope": "domain", "ref": "care",
               "owner": str(world.user_ids["cara"])})  # fmt: skip
    # Cara leaves herself: signed out, deactivated, her domain unassigned.
    left = cara.post(f"/member/team/people/{world.user_ids['cara']}/leave")
    assert left.status_code == 302 and left.headers["Location"].startswith("/login")
    assert cara.get("/member/").status_code == 302
    with db.session_scope(world.url) as session:
        user = session.get(User, world.user_ids["cara"])
        assert not user.active and user.team_roles == "contributor approver"
        assert session.exec(select(TeamAssignment)).all() == []
    assert "Cara Contributor" not in text(admin.get("/member/team/"))


def test_member_b_sees_only_its_own_team(app, world):
    colleague(world, "cara", "Cara Contributor", "contributor")
    b = signed_in(app, world, "member_b")
    page = text(b.get("/member/team/"))
    assert "Member B" in page and "Cara Contributor" not in page and "Member A" not in page
    assert b.get(f"/member/team/?assessment={world.assessments['a']}").status_code == 404
    assert b.post(f"/member/team/people/{world.user_ids['cara']}/leave").status_code == 404
    assert "No questions are assigned to you" in text(b.get("/member/team/mine"))


def test_an_invitation_sets_the_colleagues_roles(app, world):
    admin = signed_in(app, world, "member_a")
    form = text(admin.get("/people/invite"))
    assert 'id="team-contributor"' in form and 'id="team-org_admin"' in form
    place = f"member:{world.organisations['a']}"
    none = admin.post("/people/invite", {"email": "nobody@nhs.test", "place": place})
    assert none.status_code == 200 and "Choose at least one role" in text(none)
    sent = admin.post("/people/invite", {"email": "appr@nhs.test", "place": place, "team-approver": "y"})
    assert sent.status_code == 302
    with db.session_scope(world.url) as session:
        from app.models import Invitation

        assert session.exec(select(Invitation.team_roles)).all() == ["approver"]

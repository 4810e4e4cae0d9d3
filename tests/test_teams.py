"""Teams inside a member organisation (app/services/teams.py): roles, owners of domains and standards, who may
answer and who may submit, the attestation, leaving. On a fresh database, through the real services."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import db
from app.models import Assessment, AuditEvent, Invitation, TeamAssignment, User
from app.services import CLI, NotFound, ServiceError, add_evidence, answers_of, create_user, save_answers, submit
from app.services.invitations import accept, invite, places_for
from app.services.submission import SubmissionRefused
from app.services.team_views import my_questions, team
from app.services.teams import (
    Attestation,
    AttestationRefused,
    NotPermitted,
    assign,
    is_org_admin,
    leave,
    roles_of,
    set_roles,
)
from tests.builders import attested
from tests.web.conftest import COMPLETE_ANSWERS, PASSWORD, World, build_world, password_hash

NEW_PASSWORD = "plum heron quietly sketches"


def _member(session, world: World, key: str, name: str, roles: str, org: str = "a") -> None:  # noqa: ANN001
    user = create_user(
        session,
        CLI,
        email=f"{key}@nhs.test",
        name=name,
        password=PASSWORD,
        role="member",
        organisation_id=world.organisations[org],
        password_hash=password_hash(PASSWORD),
    )
    user.team_roles = roles
    world.emails[key], world.user_ids[key] = user.email, user.id


@pytest.fixture
def world(database_url: str) -> World:
    """Organisation A: member_a (all three roles, its first user), Cara (contributor), Pat (approver only),
    Olu (organisation admin only). Organisation B: member_b (all three)."""
    world = build_world(database_url)
    with db.session_scope(database_url) as session:
        _member(session, world, "cara", "Cara Contributor", "contributor")
        _member(session, world, "pat", "Pat Approver", "approver")
        _member(session, world, "olu", "Olu Admin", "org_admin")
    return world


def complete(world: World, key: str = "a") -> None:
    with db.session_scope(world.url) as session:
        assert save_answers(session, CLI, world.assessments[key], COMPLETE_ANSWERS).ok
        add_evidence(session, CLI, world.assessments[key], "C1.1", kind="link", url="https://example.nhs.uk/p")


def give(world: World, who: str, scope: str, ref: str, owner: str | None, by: str = "member_a") -> None:
    with db.session_scope(world.url) as session:
        assign(session, world.actor(by), world.assessments["a"], scope, ref, world.user_ids[owner] if owner else None)


def test_existing_and_new_member_users_hold_every_role_and_one_person_works_as_before(world: World) -> None:
    complete(world)
    with db.session_scope(world.url) as session:
        me = session.get(User, world.user_ids["member_a"])
        assert roles_of(me) == {"org_admin", "contributor", "approver"}
        assert roles_of(session.get(User, world.user_ids["lead"])) == frozenset()
        # One person, every role: answers, then submits with the attestation, which is recorded.
        assert save_answers(session, world.actor("member_a"), world.assessments["a"], {"C1.2": "yes"}).ok
        submit(session, world.actor("member_a"), world.assessments["a"], attested("Member A", "Chief Nurse"))
        done = session.get(Assessment, world.assessments["a"])
        assert done.status == "submitted" and done.attested_by == me.id
        assert (done.attested_name, done.attested_role) == ("Member A", "Chief Nurse")
        assert done.attestation == "I confirm, as Chief Nurse, that this self-assessment is accurate."
        assert done.attested_at is not None
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.submitted")).one()
        assert event.after["attestation"]["name"] == "Member A"
        # Answers record who gave them.
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "answers.saved")).all()[-1].actor_id == me.id


@pytest.mark.parametrize(
    "attestation, problem",
    [
        (None, "attestation: confirm"),
        (Attestation(False, "Pat", "Director"), "attestation: confirm that the self-assessment is accurate"),
        (Attestation(True, "  ", "Director"), "name: enter your name"),
        (Attestation(True, "Pat", ""), "role: enter your role"),
        (Attestation(True, "Pat\nPatel", "Director"), "name: "),
        (Attestation(True, "Pat", "D" * 201), "role: use 200 characters or fewer"),
    ],
)
def test_submission_without_a_complete_attestation_is_refused_naming_the_field(world: World, attestation, problem):  # noqa: ANN001
    complete(world)
    with pytest.raises(AttestationRefused, match=problem), db.session_scope(world.url) as session:
        submit(session, world.actor("pat"), world.assessments["a"], attestation)
    with db.session_scope(world.url) as session:
        assert session.get(Assessment, world.assessments["a"]).status == "draft"


def test_only_an_approver_of_the_organisation_submits(world: World) -> None:
    complete(world)
    for who in ("cara", "olu", "member_b", "lead"):
        with pytest.raises(NotPermitted, match="only an approver"), db.session_scope(world.url) as session:
            submit(session, world.actor(who), world.assessments["a"], attested())
    with db.session_scope(world.url) as session:
        assert session.get(Assessment, world.assessments["a"]).status == "draft"
        submit(session, world.actor("pat"), world.assessments["a"], attested("Pat Approver", "Medical Director"))
        assert session.get(Assessment, world.assessments["a"]).attested_by == world.user_ids["pat"]


def test_an_incomplete_assessment_is_still_refused_for_an_approver(world: World) -> None:
    with pytest.raises(SubmissionRefused), db.session_scope(world.url) as session:
        submit(session, world.actor("pat"), world.assessments["a"], attested())


def test_returning_to_draft_clears_the_attestation_for_a_fresh_one(world: World) -> None:
    from app.services import return_to_draft

    complete(world)
    with db.session_scope(world.url) as session:
        submit(session, world.actor("pat"), world.assessments["a"], attested())
        return_to_draft(session, world.actor("lead"), world.assessments["a"], note="Add the audit")
        back = session.get(Assessment, world.assessments["a"])
        assert back.status == "draft" and back.attestation is None and back.attested_by is None


def test_a_contributor_answers_unassigned_questions_and_only_their_own_assigned_ones(world: World) -> None:
    a = world.assessments["a"]
    with db.session_scope(world.url) as session:  # nothing assigned: every contributor answers anything
        assert save_answers(session, world.actor("cara"), a, {"C1.1": "yes", "P1.1": 4}).ok
    give(world, "cara", "domain", "care", "cara")
    give(world, "cara", "standard", "P1", "member_a")
    with db.session_scope(world.url) as session:
        outcome = save_answers(session, world.actor("cara"), a, {"C2.1": 80, "P1.1": 5, "C1.2": "no"})
        assert outcome.saved == ["C1.2", "C2.1"]
        assert outcome.errors == {"P1.1": "this question is assigned to Member A: only they may answer it"}
        assert answers_of(session, a)["P1.1"] == 4
        # member_a, a contributor too, may not answer Cara's domain; a standard's owner outranks its domain's.
        outcome = save_answers(session, world.actor("member_a"), a, {"C1.1": "no", "P1.1": 6})
        assert outcome.saved == ["P1.1"] and list(outcome.errors) == ["C1.1"]
        # C2 is in Cara's domain; a standard assigned to someone else inside it goes to them.
    give(world, "cara", "standard", "C2", "member_a")
    with db.session_scope(world.url) as session:
        assert list(save_answers(session, world.actor("cara"), a, {"C2.2": 7}).errors) == ["C2.2"]
        assert save_answers(session, world.actor("member_a"), a, {"C2.2": 7}).ok


def test_someone_who_is_not_a_contributor_answers_nothing(world: World) -> None:
    for who in ("pat", "olu"):
        with pytest.raises(NotPermitted, match="only a contributor"), db.session_scope(world.url) as session:
            save_answers(session, world.actor(who), world.assessments["a"], {"C1.1": "yes"})


def test_only_an_organisation_admin_assigns_and_only_contributors_of_their_organisation(world: World) -> None:
    for who, error in (("cara", NotPermitted), ("pat", NotPermitted), ("lead", NotPermitted), ("member_b", NotFound)):
        with pytest.raises(error), db.session_scope(world.url) as session:
            assign(session, world.actor(who), world.assessments["a"], "domain", "care", world.user_ids["cara"])
    refused = [
        ("domain", "nowhere", "cara", "domain: 'nowhere' is not a domain"),
        ("team", "care", "cara", "scope:"),
        ("domain", "care", "pat", "Pat Approver is not a contributor"),
    ]
    for scope, ref, who, message in refused:
        with pytest.raises(ServiceError, match=message), db.session_scope(world.url) as session:
            assign(session, world.actor("olu"), world.assessments["a"], scope, ref, world.user_ids[who])
    with pytest.raises(NotFound), db.session_scope(world.url) as session:  # B's member is not on A's team
        assign(session, world.actor("olu"), world.assessments["a"], "domain", "care", world.user_ids["member_b"])
    with pytest.raises(NotFound), db.session_scope(world.url) as session:  # A's admin cannot reach B's
        assign(session, world.actor("olu"), world.assessments["b"], "domain", "care", world.user_ids["cara"])
    give(world, "cara", "domain", "care", "cara", by="olu")
    give(world, "cara", "domain", "care", "member_a", by="olu")  # reassigning replaces the owner
    with db.session_scope(world.url) as session:
        rows = session.exec(select(TeamAssignment)).all()
        assert [(r.scope, r.ref, r.user_id) for r in rows] == [("domain", "care", world.user_ids["member_a"])]
    give(world, "cara", "domain", "care", None, by="olu")  # and unassigning leaves it open
    with db.session_scope(world.url) as session:
        assert session.exec(select(TeamAssignment)).all() == []


def test_my_questions_lists_what_is_assigned_with_progress(world: World) -> None:
    give(world, "cara", "domain", "people", "cara")
    give(world, "cara", "standard", "C4", "cara")
    with db.session_scope(world.url) as session:
        save_answers(session, world.actor("cara"), world.assessments["a"], {"P1.1": 3})
        mine = my_questions(session, world.user_ids["cara"])
        assert [[a.ref for a in m.areas] for m in mine] == [["C4", "P1"]]
        assert (mine[0].answered, mine[0].total) == (1, 3)
        assert my_questions(session, world.user_ids["pat"]) == []
        assert my_questions(session, world.user_ids["member_b"]) == []  # B sees nothing of A's


def test_the_team_view_is_the_viewers_organisation_only(world: World) -> None:
    give(world, "cara", "domain", "care", "cara")
    with db.session_scope(world.url) as session:
        view = team(session, world.user_ids["member_b"])
        assert [m.name for m in view.mates] == ["Member B"]
        assert all(area.owner_id is None for area in view.areas)
        with pytest.raises(NotFound):
            team(session, world.user_ids["member_b"], world.assessments["a"])
        mine = team(session, world.user_ids["cara"])
        assert not mine.may_manage and {m.name for m in mine.mates} >= {"Cara Contributor", "Pat Approver"}
        assert next(m for m in mine.mates if m.name == "Cara Contributor").owns == ("domain care",)


def test_roles_are_set_by_an_organisation_admin_and_one_always_remains(world: World) -> None:
    with pytest.raises(NotPermitted), db.session_scope(world.url) as session:
        set_roles(session, world.actor("cara"), world.user_ids["cara"], ["org_admin"])
    with pytest.raises(ServiceError, match="not a team role"), db.session_scope(world.url) as session:
        set_roles(session, world.actor("olu"), world.user_ids["cara"], ["boss"])
    with pytest.raises(ServiceError, match="at least one"), db.session_scope(world.url) as session:
        set_roles(session, world.actor("olu"), world.user_ids["cara"], [])
    with pytest.raises(NotFound), db.session_scope(world.url) as session:
        set_roles(session, world.actor("olu"), world.user_ids["member_b"], ["approver"])
    give(world, "cara", "domain", "care", "cara")
    with db.session_scope(world.url) as session:
        set_roles(session, world.actor("olu"), world.user_ids["cara"], ["approver"])  # no longer a contributor
        assert session.exec(select(TeamAssignment)).all() == []  # so her questions return to unassigned
        set_roles(session, world.actor("olu"), world.user_ids["member_a"], ["contributor"])
    with pytest.raises(ServiceError, match="only organisation admin"), db.session_scope(world.url) as session:
        set_roles(session, world.actor("olu"), world.user_ids["olu"], ["approver"])


def test_leaving_deactivates_frees_the_questions_and_keeps_an_organisation_admin(world: World) -> None:
    give(world, "cara", "domain", "care", "cara")
    with pytest.raises(NotPermitted), db.session_scope(world.url) as session:  # a colleague cannot remove another
        leave(session, world.actor("pat"), world.user_ids["cara"])
    with db.session_scope(world.url) as session:
        leave(session, world.actor("cara"), world.user_ids["cara"])  # she leaves herself
        cara = session.get(User, world.user_ids["cara"])
        assert not cara.active and cara.session_generation == 1 and roles_of(cara) == frozenset()
        assert session.exec(select(TeamAssignment)).all() == []
        leave(session, world.actor("olu"), world.user_ids["member_a"])  # an admin removes a colleague
    with pytest.raises(ServiceError, match="only organisation admin"), db.session_scope(world.url) as session:
        leave(session, world.actor("olu"), world.user_ids["olu"])
    with pytest.raises(NotFound), db.session_scope(world.url) as session:  # nobody removes another's people
        leave(session, world.actor("member_b"), world.user_ids["pat"])


def test_an_organisation_with_no_active_admin_falls_back_to_its_first_user(world: World) -> None:
    with db.session_scope(world.url) as session:
        for key in ("member_a", "olu"):
            session.get(User, world.user_ids[key]).active = False
    with db.session_scope(world.url) as session:
        assert is_org_admin(session, session.get(User, world.user_ids["cara"]))  # the earliest still active
        assert not is_org_admin(session, session.get(User, world.user_ids["pat"]))


def test_an_invitation_gives_the_roles_chosen(world: World) -> None:
    with db.session_scope(world.url) as session:
        assert places_for(session, session.get(User, world.user_ids["olu"]))
        assert not places_for(session, session.get(User, world.user_ids["cara"]))  # not an organisation admin
        with pytest.raises(ServiceError, match="not a team role"):
            invite(session, world.actor("olu"), email="x@nhs.test", role="member",
                   organisation_id=world.organisations["a"], team_roles=["owner"])  # fmt: skip
        _, token = invite(
            session,
            world.actor("olu"),
            email="new.contributor@nhs.test",
            role="member",
            organisation_id=world.organisations["a"],
            team_roles=["contributor"],
        )
        _, everything = invite(
            session,
            world.actor("olu"),
            email="new.all@nhs.test",
            role="member",
            organisation_id=world.organisations["a"],
        )
        assert session.exec(select(Invitation.team_roles).order_by(Invitation.id)).all() == [
            "contributor",
            "org_admin contributor approver",
        ]
    with db.session_scope(world.url) as session:
        assert roles_of(accept(session, token, name="New Contributor", password=NEW_PASSWORD)) == {"contributor"}
        assert len(roles_of(accept(session, everything, name="New All", password=NEW_PASSWORD))) == 3


def test_evidence_follows_the_answer_only_its_answerer_adds_or_removes_it(world: World) -> None:
    from app.services.evidence import EvidenceRefused, remove_evidence

    give(world, "cara", "standard", "C1", "member_a")
    a = world.assessments["a"]
    with pytest.raises(EvidenceRefused, match="assigned to Member A"), db.session_scope(world.url) as session:
        add_evidence(session, world.actor("cara"), a, "C1.1", kind="link", url="https://example.nhs.uk/x")
    with pytest.raises(NotPermitted), db.session_scope(world.url) as session:
        add_evidence(session, world.actor("pat"), a, "P1.2", kind="link", url="https://example.nhs.uk/x")
    with db.session_scope(world.url) as session:
        mine = add_evidence(session, world.actor("member_a"), a, "C1.1", kind="link", url="https://example.nhs.uk/y")
        add_evidence(session, world.actor("cara"), a, "P1.2", kind="link", url="https://example.nhs.uk/z")  # unowned
        evidence_id = mine.id
    with pytest.raises(EvidenceRefused), db.session_scope(world.url) as session:
        remove_evidence(session, world.actor("cara"), evidence_id)


def test_the_approver_of_one_organisation_sees_and_does_nothing_of_another(world: World) -> None:
    complete(world, "b")
    with db.session_scope(world.url) as session:
        with pytest.raises(NotPermitted):
            submit(session, world.actor("pat"), world.assessments["b"], attested())
        with pytest.raises(NotPermitted):
            save_answers(session, world.actor("cara"), world.assessments["b"], {"C1.1": "no"})
        assert all(m.name != "Member B" for m in team(session, world.user_ids["pat"]).mates)
        with pytest.raises(NotFound):
            team(session, world.user_ids["pat"], world.assessments["b"])
        assert my_questions(session, world.user_ids["pat"]) == []
        assert session.get(Assessment, world.assessments["b"]).status == "draft"

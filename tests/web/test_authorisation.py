"""The authorisation matrix: every route x (anonymous, member of org A, member of org B, lead, admin).

Org A's pages are reached with A's ids. Member B must get 404 for every one of them, reading or writing, and
nothing of A's may change; leads and admins get 403 on member pages; anonymous visitors are sent to sign in.
"""

from __future__ import annotations

import io

import pytest
from sqlmodel import select

from app import db
from app.models import Answer, Assessment, AuditEvent, Evidence, Membership, MembershipApplication
from app.services import CLI, add_evidence, create_user, register_organisation, save_answers
from app.services.evidence import attach_file
from app.services.invitations import invite
from app.services.notifications import notify
from app.services.standards import register_version

from .conftest import PASSWORD, STANDARDS_2, Visitor, attestation, password_hash, text
from .matrix import Case, Seen, mismatches, uncovered, visit

PERSONAS = ("anonymous", "member_a", "member_b", "lead", "admin")
PDF = b"%PDF-1.4\n%%EOF\n"


def member_only(a: int, b: int = 404) -> dict[str, int]:
    """A member route on org A's data: anonymous to sign-in, A allowed, B not found, staff forbidden."""
    return {"anonymous": 302, "member_a": a, "member_b": b, "lead": 403, "admin": 403}


@pytest.fixture
def setup(app, world):
    """Org A has answers, a link and a file as evidence; B has its own assessment and evidence."""
    a, b = world.assessments["a"], world.assessments["b"]
    with db.session_scope(world.url) as session:
        save_answers(session, CLI, a, {"C1.1": "yes", "C2.1": 88})
        link = add_evidence(session, CLI, a, "C1.1", kind="link", url="https://example.nhs.uk/a-plan")
        document = attach_file(
            session,
            CLI,
            a,
            "C1.1",
            data=PDF,
            filename="a-plan.pdf",
            content_type="application/pdf",
            store=app.extensions["upload_store"],
        )
        b_link = add_evidence(session, CLI, b, "C1.1", kind="link", url="https://example.nhs.uk/b-plan")
        notice = notify(session, world.organisations["a"], "comment", "A comment for org A")
        register_version(session, STANDARDS_2, CLI)  # the current version, mapped to CQC
        # Two invitations into org A by its first user: one to resend, one to withdraw.
        org_a = {"role": "member", "organisation_id": world.organisations["a"]}
        resent, _ = invite(session, world.actor("member_a"), email="resent@nhs.test", **org_a)
        revoked, _ = invite(session, world.actor("member_a"), email="revoked@nhs.test", **org_a)
        # A's membership is an application (as migration 0020 makes one of every applicant membership), and
        # another organisation's application names A as its sponsor.
        own = MembershipApplication(
            membership_id=world.memberships["a"],
            alliance_id=world.alliance_id,
            organisation_id=world.organisations["a"],
        )
        other = register_organisation(
            session, CLI, name="Applicant Trust", ods_code="APPA1", org_type="acute", region="X"
        )
        other_membership = Membership(organisation_id=other.id, alliance_id=world.alliance_id, route="full")
        session.add_all([own, other_membership])
        session.flush()
        sponsored = MembershipApplication(
            membership_id=other_membership.id,
            alliance_id=world.alliance_id,
            organisation_id=other.id,
            sponsor_organisation_id=world.organisations["a"],
            sponsor_status="requested",
        )
        session.add(sponsored)
        session.flush()
        # A colleague in org A, a contributor, for A's organisation admin to remove.
        colleague = create_user(
            session,
            CLI,
            email="colleague.matrix@nhs.test",
            name="Matrix Colleague",
            password=PASSWORD,
            role="member",
            organisation_id=world.organisations["a"],
            password_hash=password_hash(PASSWORD),
        )
        colleague.team_roles = "contributor"
        ids = {
            "colleague": colleague.id,
            "link": link.id,
            "file": document.id,
            "b_link": b_link.id,
            "notice": notice.id,
            "resend": resent.id,
            "revoke": revoked.id,
            "own_application": own.id,
            "sponsored": sponsored.id,
        }
    people = {"anonymous": Visitor(app)}
    for who in PERSONAS[1:]:
        person = Visitor(app)
        assert person.login(world.emails[who]).status_code == 302
        people[who] = person
    return ids, people


def cases(world, ids) -> list[Case]:
    a, b = world.assessments["a"], world.assessments["b"]
    ma = world.memberships["a"]
    base = f"/member/assessments/{a}"
    everyone_member = {"anonymous": 302, "member_a": 200, "member_b": 200, "lead": 403, "admin": 403}
    return [
        Case("member.home", "GET", "/member/", everyone_member),
        Case("member.apply", "GET", "/member/apply", everyone_member),
        Case("member.apply_to", "GET", "/member/apply/web-test", everyone_member),
        # Both already hold a full membership: the application is refused on the page (200), for their own org.
        Case("member.apply_to", "POST", "/member/apply/web-test", everyone_member, {"route": "full"}),
        Case("member.membership", "GET", f"/member/memberships/{ma}", member_only(200)),
        # What A's latest submitted result evidences for a framework (none yet: no rows, but A's own file).
        Case(
            "member.framework_export", "GET", f"/member/memberships/{ma}/frameworks/cqc/evidence.csv", member_only(200)
        ),
        Case(
            "member.framework_export", "GET", f"/member/memberships/{ma}/frameworks/cqc/evidence.json", member_only(200)
        ),
        Case("member.start_assessment", "POST", f"/member/memberships/{ma}/assessments", member_only(302)),
        Case("member.assessment", "GET", base, member_only(200)),
        Case("member.domain", "GET", f"{base}/domains/care", member_only(200)),
        Case(
            "member.domain",
            "POST",
            f"{base}/domains/care",
            member_only(302),
            {"c-C1-2": "no", "c-C2-1": "10", "action": "save"},
        ),
        Case("member.evidence", "GET", f"{base}/criteria/C1.1/evidence", member_only(200)),
        Case(
            "member.evidence",
            "POST",
            f"{base}/criteria/C1.1/evidence",
            member_only(302),
            {"kind": "link", "url": "https://attacker.example/"},
        ),
        Case("member.evidence_file", "GET", f"{base}/evidence/{ids['file']}", member_only(200)),
        Case("member.submit_assessment", "GET", f"{base}/submit", member_only(200)),
        Case("member.submit_assessment", "POST", f"{base}/submit", member_only(200)),  # refused: incomplete
        # With the attestation: an approver of A (A's first user holds every role) is still refused, incomplete.
        Case("member.submit_assessment", "POST", f"{base}/submit", member_only(200), attestation()),
        Case("member.result", "GET", f"{base}/result", member_only(200)),
        # The team (app/web/team.py): each member sees their own organisation's; A's assessment and people are
        # not found to B; A's first user is its organisation admin, so assigns, sets roles and removes.
        Case("team.home", "GET", "/member/team/", everyone_member),
        Case("team.home", "GET", f"/member/team/?assessment={a}", member_only(200)),
        Case("team.mine", "GET", "/member/team/mine", everyone_member),
        Case(
            "team.assign",
            "POST",
            f"/member/team/assessments/{a}/owners",
            member_only(302),
            {"scope": "domain", "ref": "people", "owner": str(world.user_ids["member_a"])},
        ),
        Case(
            "team.set_roles",
            "POST",
            f"/member/team/people/{ids['colleague']}/roles",
            member_only(302),
            {"contributor": "y", "approver": "y"},
        ),
        Case("team.leave", "POST", f"/member/team/people/{ids['colleague']}/leave", member_only(302)),
        Case("member.remove_evidence", "GET", f"{base}/evidence/{ids['link']}/remove", member_only(200)),  # asks
        Case("member.remove_evidence", "POST", f"{base}/evidence/{ids['link']}/remove", member_only(302)),
        Case("member.read_notification", "POST", f"/member/notifications/{ids['notice']}/read", member_only(302)),
        # B's own assessment in the path with A's evidence: still not found.
        Case("member.evidence_file", "GET", f"/member/assessments/{b}/evidence/{ids['file']}", member_only(404, 404)),
        Case(
            "member.remove_evidence",
            "GET",
            f"/member/assessments/{b}/evidence/{ids['file']}/remove",
            member_only(404, 404),
        ),
        Case(
            "member.remove_evidence",
            "POST",
            f"/member/assessments/{b}/evidence/{ids['file']}/remove",
            member_only(404, 404),
        ),
        Case(
            "api.assessment_result",
            "GET",
            f"/api/assessments/{a}/result",
            {"anonymous": 401, "member_a": 200, "member_b": 404, "lead": 403, "admin": 403},
        ),
        Case(
            "api.home", "GET", "/api/", {"anonymous": 401, "member_a": 200, "member_b": 200, "lead": 200, "admin": 200}
        ),
        Case("api.health", "GET", "/api/health", dict.fromkeys(PERSONAS, 200)),
        Case(
            "review.home",
            "GET",
            "/review/",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 200, "admin": 403},
        ),
        Case(
            "admin.home",
            "GET",
            "/admin/",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
        ),
        Case(
            "admin.jobs",
            "GET",
            "/admin/jobs",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
        ),
        Case(
            "admin.tokens",
            "GET",
            "/admin/tokens",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
        ),
        Case(
            "admin.new_token",
            "GET",
            "/admin/tokens/new",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
        ),
        # The admin's post creates a token and shows it on the page (200); a revoke of no token is 404.
        Case(
            "admin.new_token",
            "POST",
            "/admin/tokens/new",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
            {"name": "Matrix check", "scope": f"alliance:{world.alliance_id}"},
        ),
        Case(
            "admin.revoke_token",
            "POST",
            "/admin/tokens/999999/revoke",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 404},
        ),
        Case(
            "admin.users",
            "GET",
            "/admin/users",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
        ),
        # Signing out everywhere a person who does not exist: 404 (the personas stay signed in).
        Case(
            "admin.sign_out_user",
            "POST",
            "/admin/users/999999/sign-out-everywhere",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 404},
        ),
        Case(
            "admin.single_sign_on",
            "GET",
            "/admin/sso",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
        ),
        # Single sign-on's leave to link and unlinking, for a person or identity that does not exist: 404.
        *(
            Case(
                endpoint, "POST", path, {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 404}
            )
            for endpoint, path in (
                ("admin.sso_allow", "/admin/sso/users/999999/allow"),
                ("admin.sso_revoke", "/admin/sso/users/999999/revoke"),
                ("admin.sso_unlink", "/admin/sso/identities/999999/unlink"),
            )
        ),
        # Without OIDC settings there is no single sign-on to start or come back from (tests/web/test_sso.py
        # has them configured against a real provider).
        Case("auth.sso_start", "GET", "/login/sso", dict.fromkeys(PERSONAS, 404)),
        Case("auth.sso_callback", "GET", "/login/sso/callback?code=x&state=y", dict.fromkeys(PERSONAS, 404)),
        Case("auth.account", "GET", "/account", {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)}),
        Case("auth.email_settings", "GET", "/account/email", {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)}),
        # A wrong current password: refused on the page, nothing changed.
        Case(
            "auth.password",
            "POST",
            "/account/password",
            {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)},
            {
                "current": "not the password",
                "password": "plum heron quietly sketches",
                "confirm": "plum heron quietly sketches",
            },
        ),
        Case("auth.start", "GET", "/", {"anonymous": 200, **dict.fromkeys(PERSONAS[1:], 302)}),
        # Two-step verification (tests/web/test_mfa.py): nobody here is half signed in, so the second step
        # sends everyone to sign in; the set-up page is anyone's own; a wrong code is refused on the page.
        Case("mfa.second_step", "GET", "/auth/mfa", dict.fromkeys(PERSONAS, 302)),
        Case("mfa.second_step", "POST", "/auth/mfa", dict.fromkeys(PERSONAS, 302), {"code": "000000"}),
        Case("mfa.enrol", "GET", "/account/two-step", {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)}),
        Case(
            "mfa.enrol",
            "POST",
            "/account/two-step",
            {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)},
            {"code": "000000"},
        ),
        Case(
            "mfa.regenerate",
            "POST",
            "/account/two-step/recovery-codes",
            {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)},
            {"code": "000000"},
        ),
        Case(
            "mfa.disable",
            "POST",
            "/account/two-step/turn-off",
            {"anonymous": 302, "member_a": 200, "member_b": 200, "lead": 403, "admin": 403},
            {"code": "000000"},
        ),
        Case(
            "admin.reset_two_step",
            "POST",
            "/admin/users/999999/two-step-reset",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 404},
        ),
        # People and invitations (tests/mail/test_account_emails.py): everyone signed in sees their own people;
        # each of these personas may invite somewhere (A's and B's first users, the lead, the admin). Inviting
        # into A: B is refused on the form (A is not offered), the lead invites, then the admin and A are told
        # an invitation is waiting. Resending or withdrawing A's invitations: B does not find them.
        Case("people.home", "GET", "/people/", {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)}),
        Case("people.invite", "GET", "/people/invite", {"anonymous": 302, **dict.fromkeys(PERSONAS[1:], 200)}),
        Case(
            "people.invite",
            "POST",
            "/people/invite",
            {"anonymous": 302, "member_a": 200, "member_b": 200, "lead": 302, "admin": 200},
            {"email": "matrix@nhs.test", "place": f"member:{world.organisations['a']}", "team-contributor": "y"},
        ),
        Case(
            "people.resend",
            "POST",
            f"/people/invitations/{ids['resend']}/resend",
            {"anonymous": 302, "member_a": 302, "member_b": 404, "lead": 302, "admin": 302},
        ),
        Case(
            "people.revoke",
            "POST",
            f"/people/invitations/{ids['revoke']}/revoke",
            {"anonymous": 302, "member_a": 302, "member_b": 404, "lead": 302, "admin": 302},
        ),
        # The links emailed to people who are not signed in: a token that is not one is not found to anyone.
        Case("email_links.accept_invitation", "GET", "/invitation/not-a-token", dict.fromkeys(PERSONAS, 404)),
        Case(
            "email_links.accept_invitation",
            "POST",
            "/invitation/not-a-token",
            dict.fromkeys(PERSONAS, 404),
            {"name": "Someone", "password": "plum heron quietly sketches", "confirm": "plum heron quietly sketches"},
        ),
        Case("email_links.forgot_password", "GET", "/forgot-password", dict.fromkeys(PERSONAS, 200)),
        Case("email_links.forgot_password", "POST", "/forgot-password", dict.fromkeys(PERSONAS, 200), {"email": ""}),
        Case("email_links.reset_password", "GET", "/reset-password/not-a-token", dict.fromkeys(PERSONAS, 404)),
        Case(
            "email_links.reset_password",
            "POST",
            "/reset-password/not-a-token",
            dict.fromkeys(PERSONAS, 404),
            {"password": "plum heron quietly sketches", "confirm": "plum heron quietly sketches"},
        ),
        # The admission policy of any alliance is an admin's to set (a lead sets its own on /review/admission).
        Case(
            "admission.admin_policy",
            "GET",
            f"/admin/alliances/{world.alliance_id}/admission",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 200},
        ),
        Case(
            "admission.admin_policy",
            "POST",
            f"/admin/alliances/{world.alliance_id}/admission",
            {"anonymous": 302, "member_a": 403, "member_b": 403, "lead": 403, "admin": 302},
            {"org_types": "", "regions": ""},
        ),
        # An application naming A as sponsor: A's to answer; A's own application: A's to withdraw (last).
        Case("admission.sponsorship", "POST", f"/member/sponsorships/{ids['sponsored']}/refuse", member_only(302)),
        Case("admission.withdraw", "POST", f"/member/applications/{ids['own_application']}/withdraw", member_only(302)),
        Case("auth.login", "GET", "/login", dict.fromkeys(PERSONAS, 200)),
        Case("auth.register", "GET", "/register", {"anonymous": 200, **dict.fromkeys(PERSONAS[1:], 302)}),
    ]


def snapshot_of_a(world) -> dict:
    a = world.assessments["a"]
    with db.session_scope(world.url) as session:
        return {
            "answers": sorted(
                (r.criterion_id, r.value) for r in session.exec(select(Answer).where(Answer.assessment_id == a))
            ),
            "evidence": sorted(
                (e.id, e.url, e.filename) for e in session.exec(select(Evidence).where(Evidence.assessment_id == a))
            ),
            "status": session.get(Assessment, a).status,
            "memberships": sorted(
                m.id
                for m in session.exec(select(Membership).where(Membership.organisation_id == world.organisations["a"]))
            ),
            "assessments": sorted(
                x.id for x in session.exec(select(Assessment).where(Assessment.membership_id == world.memberships["a"]))
            ),
            "applications": sorted(
                (x.id, x.status, x.sponsor_status) for x in session.exec(select(MembershipApplication))
            ),
        }


def test_authorisation_matrix(app, world, setup):
    ids, people = setup
    matrix = cases(world, ids)
    before = snapshot_of_a(world)
    seen: Seen = {}
    # Everyone but member A first (A's own writes come last, so they cannot hide anyone else's).
    visit(people, matrix, ("anonymous", "member_b", "lead", "admin"), seen)
    assert snapshot_of_a(world) == before, "someone other than org A changed org A's data"
    visit(people, matrix, ("member_a",), seen)
    assert mismatches(matrix, seen, PERSONAS) == {}, "(method, path, persona): (got, expected)"


def test_the_matrix_covers_every_route(app, world, setup):
    ids, _ = setup
    covered = {case.endpoint for case in cases(world, ids)}
    for blueprint in (
        "member",
        "api",
        "admin",
        "mfa",
        "people",
        "email_links",
        "team",
    ):  # review routes: tests/web/test_review_authorisation.py
        routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith(blueprint + ".")}
        assert routes <= covered, routes - covered
    for blueprint in ("member", "people", "email_links", "team"):
        assert uncovered(app, blueprint, cases(world, ids)) == []
    # The admission blueprint's member and admin routes here, its lead routes in test_review_authorisation.py.
    assert {"admission.withdraw", "admission.sponsorship", "admission.admin_policy"} <= covered


def test_anonymous_visitors_are_sent_to_sign_in_and_back(app, world, setup):
    _, people = setup
    response = people["anonymous"].get(f"/member/assessments/{world.assessments['a']}/result")
    assert response.headers["Location"] == f"/login?next=/member/assessments/{world.assessments['a']}/result"


def test_member_b_reaches_nothing_of_a_and_leaves_no_trace(app, world, setup):
    ids, people = setup
    b = people["member_b"]
    a = world.assessments["a"]
    attempts = [
        b.post(f"/member/assessments/{a}/domains/care", {"c-C1-1": "no", "action": "save"}),
        b.post(f"/member/assessments/{a}/criteria/C1.1/evidence", {"kind": "link", "url": "https://x.example/"}),
        b.post(
            f"/member/assessments/{a}/criteria/C1.1/evidence",
            {"kind": "file", "upload": (io.BytesIO(PDF), "x.pdf", "application/pdf")},
            content_type="multipart/form-data",
        ),
        b.post(f"/member/assessments/{a}/evidence/{ids['file']}/remove"),
        b.post(f"/member/assessments/{a}/submit", attestation()),
        b.post(f"/member/memberships/{world.memberships['a']}/assessments"),
        b.get(f"/member/assessments/{a}/evidence/{ids['file']}"),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    for response in attempts:
        body = response.get_data(as_text=True)
        assert "Page not found" in body and "Dartford" not in body
    with db.session_scope(world.url) as session:
        by_b = session.exec(select(AuditEvent).where(AuditEvent.actor_id == world.user_ids["member_b"])).all()
        assert by_b == []
    # B's own evidence is still B's to manage.
    mine = b.post(f"/member/assessments/{world.assessments['b']}/evidence/{ids['b_link']}/remove")
    assert mine.status_code == 302


def test_staff_see_no_member_pages_but_their_own_landing(app, world, setup):
    _, people = setup
    lead_page = people["lead"].get("/review/").get_data(as_text=True)
    assert "Web Test Alliance" in lead_page and "Self-assessments to review" in lead_page
    admin_page = people["admin"].get("/admin/").get_data(as_text=True)
    assert "Administration" in admin_page and "Organisations" in admin_page
    forbidden = people["lead"].get("/member/").get_data(as_text=True)
    assert "You do not have access to this page" in forbidden


def test_every_form_post_needs_a_csrf_token(app, world, setup):
    ids, people = setup
    member_a = people["member_a"]
    for case in cases(world, ids):
        if case.method == "POST":
            response = member_a.post(case.path, case.data or {}, csrf=False)
            assert response.status_code == 400, case.path
            assert "did not come from this service" in response.get_data(as_text=True)
    for path in ("/logout", "/login", "/register", "/account/sign-out-everywhere"):
        assert member_a.post(path, {}, csrf=False).status_code == 400, path


def test_the_lead_sees_the_alliance_submissions_to_review(app, world):
    from .conftest import COMPLETE_ANSWERS, signed_in, submit_peer

    submit_peer(world.url, world, "p1", "PEER1", COMPLETE_ANSWERS)
    body = " ".join(signed_in(app, world, "lead").get("/review/").get_data(as_text=True).split())
    assert "Peer p1 NHS Trust" in body and "Submitted" in body
    assert "Dartford" not in body  # a draft is not for review yet


def test_the_failed_jobs_page_says_when_none_failed_and_lists_a_failure(app, world):
    from app.services import job_failures

    admin = Visitor(app)
    assert admin.login(world.emails["admin"]).status_code == 302
    assert "No job has failed." in text(admin.get("/admin/jobs"))
    with db.session_scope(world.url) as session:
        job_failures.record(
            session,
            "app.jobs.exports.write_export",
            "t-1",
            (7, "secret answer"),
            2,
            OSError("disk\nsecond-line-only-in-the-log"),
        )
    page = text(admin.get("/admin/jobs"))
    assert "app.jobs.exports.write_export" in page and "ids 7" in page and "OSError" in page and "disk" in page
    assert (
        "secret answer" not in page and "second-line-only-in-the-log" not in page
    )  # ids only; the message's first line only
    assert "will be tried again (2 more attempts)" in page

"""The alliance lead's review: queue, assessment review, comments, decisions and notifications, through the
service layer and through the pages, on the real engine and database."""

from __future__ import annotations

import datetime as dt

import pytest
from markupsafe import escape
from sqlmodel import select

from app import db
from app.lifecycle import allowed
from app.models import (
    AuditEvent,
    Breach,
    Decision,
    Membership,
    MembershipStatusChange,
    Notification,
    ReviewComment,
    utcnow,
)
from app.services import CLI, NotFound, ServiceError, current_result, review, review_queue, start_review

from .conftest import signed_in, text
from .reviewing import build_review_world


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"])


def squash(response) -> str:
    return " ".join(text(response).split())


def names(queue) -> list[str]:
    return [item.organisation.name for item in queue.items]


# -- the queue -----------------------------------------------------------------------------------------------------


def test_the_queue_holds_the_alliance_submissions_only_with_counts_per_state(rw):
    world = rw.world
    with db.session_scope(world.url) as session:
        queue = review_queue.review_queue(session, world.alliance_id)
        assert sorted(names(queue)) == ["Breach Trust", "Breach Trust", "Clean Trust"]  # two cycles of Breach
        assert "Other Trust" not in names(queue) and "Dartford and Gravesham NHS Trust" not in names(queue)
        assert queue.counts == {"submitted": 2, "under_review": 0, "decided": 1}
        start_review(session, CLI, rw.assessments["clean"])
    with db.session_scope(world.url) as session:
        assert review_queue.review_queue(session, world.alliance_id).counts == {
            "submitted": 1,
            "under_review": 1,
            "decided": 1,
        }
        other = review_queue.review_queue(session, rw.other_alliance_id)
        assert names(other) == ["Other Trust"]


def test_queue_filters_each_narrow_to_the_matching_assessments(rw):
    world = rw.world
    with db.session_scope(world.url) as session:

        def run(**kwargs):
            return {
                (i.organisation.name, i.cycle.id)
                for i in review_queue.review_queue(
                    session, world.alliance_id, review_queue.QueueFilters(**kwargs)
                ).items
            }

        now, before = world.cycle_id, rw.previous_cycle_id
        assert run(cycle_id=now) == {("Breach Trust", now), ("Clean Trust", now)}
        assert run(cycle_id=before) == {("Breach Trust", before)}
        assert run(major_breach=True) == {("Breach Trust", before), ("Breach Trust", now)}
        assert run(major_breach=False) == {("Clean Trust", now)}
        assert run(status="decided") == {("Breach Trust", before)}
        assert run(status="submitted", cycle_id=now) == {("Breach Trust", now), ("Clean Trust", now)}
        # The earlier decision left Breach Trust at risk (a major breach under the retention policy).
        assert run(at_risk=True) == {("Breach Trust", before), ("Breach Trust", now)}
        assert run(at_risk=False) == {("Clean Trust", now)}
        assert run(route="specialty") == set() and run(specialty="spinal") == set()
        assert len(run(route="full")) == 3
        # Outcome: whatever the engine stored for each, the filter returns exactly those.
        outcome = current_result(session, rw.assessments["clean"]).outcome
        assert ("Clean Trust", now) in run(outcome=outcome)
        counts = review_queue.review_queue(session, world.alliance_id, review_queue.QueueFilters(cycle_id=now)).counts
        assert counts == {"submitted": 2, "under_review": 0, "decided": 0}


def test_queue_breach_counts_come_from_the_stored_breaches(rw):
    with db.session_scope(rw.world.url) as session:
        items = {
            (i.organisation.name, i.cycle.id): i for i in review_queue.review_queue(session, rw.world.alliance_id).items
        }
        breach = items[("Breach Trust", rw.world.cycle_id)]
        stored = session.exec(
            select(Breach).where(Breach.assessment_id == rw.assessments["breach"], Breach.severity == "major")
        ).all()
        assert breach.major_breaches == len(stored) >= 1
        assert {b.criterion_id for b in stored} == {"C2.1"}
        assert items[("Clean Trust", rw.world.cycle_id)].major_breaches == 0


def test_queue_sorting(rw):
    with db.session_scope(rw.world.url) as session:

        def order(sort, descending=False):
            return [
                (i.organisation.name, i.cycle.id)
                for i in review_queue.review_queue(
                    session, rw.world.alliance_id, review_queue.QueueFilters(sort=sort, descending=descending)
                ).items
            ]

        by_name = order("member")
        assert [n for n, _ in by_name] == ["Breach Trust", "Breach Trust", "Clean Trust"]
        assert [n for n, _ in order("member", True)][0] == "Clean Trust"
        assert order("cycle")[0] == ("Breach Trust", rw.previous_cycle_id)
        assert order("breaches", True)[-1] == ("Clean Trust", rw.world.cycle_id)
        scores = [
            i.overall
            for i in review_queue.review_queue(
                session, rw.world.alliance_id, review_queue.QueueFilters(sort="score")
            ).items
        ]
        assert scores == sorted(scores)
        submitted = [
            i.assessment.submitted_at
            for i in review_queue.review_queue(
                session, rw.world.alliance_id, review_queue.QueueFilters(sort="submitted")
            ).items
        ]
        assert submitted == sorted(submitted)


def test_bad_filter_values_are_named_and_ignored():
    filters, errors = review_queue.parse_filters(
        {"status": "bogus", "cycle": "999", "major_breach": "maybe", "sort": "colour", "order": "sideways"}, []
    )
    assert filters == review_queue.QueueFilters()
    assert set(errors) == {"status", "cycle", "major_breach", "sort", "order"}
    assert errors["status"] == "Choose a status from the list: “bogus” is not one"
    assert errors["cycle"] == "Choose a cycle from the list: “999” is not one of this alliance’s cycles"
    assert errors["order"] == "Choose ascending or descending order"
    assert not any("_" in message for message in errors.values())


def test_the_queue_page_filters_sorts_counts_and_highlights(app, rw):
    lead = signed_in(app, rw.world, "lead")
    page = squash(lead.get("/review/"))
    assert "Submitted: <strong>2</strong>" in page and "Decided: <strong>1</strong>" in page
    assert "Members at risk" in page and "Breach Trust" in page and "Other Trust" not in page
    filtered = squash(lead.get("/review/?major_breach=no"))
    table = filtered[filtered.index('id="queue"') :]
    assert "Clean Trust" in table and "Breach Trust" not in table
    assert "1 self-assessment shown" in filtered
    sorted_page = squash(lead.get("/review/?sort=member&order=desc"))
    table = sorted_page[sorted_page.index('id="queue"') :]
    assert table.index("Clean Trust") < table.index("Breach Trust")
    refused = lead.get("/review/?status=bogus&at_risk=perhaps")
    assert refused.status_code == 200
    body = squash(refused)
    assert "There is a problem" in body and "Choose a status from the list: “bogus” is not one" in body
    assert "Choose yes or no for a member at risk from the list: “perhaps” is not one" in body


# -- one assessment -----------------------------------------------------------------------------------------------


def test_the_review_page_shows_answers_evidence_explanations_and_earlier_cycles(app, rw):
    lead = signed_in(app, rw.world, "lead")
    response = lead.get(f"/review/assessments/{rw.assessments['breach']}")
    assert response.status_code == 200
    body = squash(response)
    assert "Review of the" in body and "Breach Trust" in body
    row = body[body.index('id="criterion-C2.1"') :]
    row = row[: row.index("</tr>")]
    assert "70" in row  # the member's answer
    with db.session_scope(rw.world.url) as session:
        detail = current_result(session, rw.assessments["breach"]).result["criteria"]["C2.1"]
    assert detail["explanation"] and str(escape(detail["explanation"])) in row
    assert "bre1-plan.pdf" in body and "https://example.nhs.uk/bre1-plan" in body
    earlier = body[body.index('id="earlier-table"') :]
    assert f"/review/assessments/{rw.assessments['breach_earlier']}" in earlier and "Working towards" in earlier
    assert "Major breach (red)" in body
    download = lead.get(f"/review/assessments/{rw.assessments['breach']}/evidence/{rw.evidence['breach']}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    # Evidence of another assessment under this one's path: not found.
    assert (
        lead.get(f"/review/assessments/{rw.assessments['breach']}/evidence/{rw.evidence['clean']}").status_code == 404
    )


def test_start_review_then_return_to_the_member_with_a_note(app, rw):
    a = rw.assessments["clean"]
    lead = signed_in(app, rw.world, "lead")
    assert lead.post(f"/review/assessments/{a}/start").status_code == 302
    assert "Under review: <strong>1</strong>" in squash(lead.get("/review/"))
    again = lead.post(f"/review/assessments/{a}/start")
    assert again.status_code == 409 and "only submitted can become under review" in text(again)
    refused = lead.post(f"/review/assessments/{a}/return", {"note": "  "})
    assert refused.status_code == 200 and "Tell the member what to change" in text(refused)
    assert lead.post(f"/review/assessments/{a}/return", {"note": "Add the 2026 audit."}).status_code == 302
    with db.session_scope(rw.world.url) as session:
        from app.models import Assessment

        assert session.get(Assessment, a).status == "draft"
        notice = session.exec(select(Notification)).one()
        assert notice.kind == "returned" and notice.body == "Add the 2026 audit."
        assert notice.organisation_id == rw.organisations["clean"]
    assert lead.get(f"/review/assessments/{a}").status_code == 404  # a draft is the member's again
    assert "returned for changes" in text(signed_in(app, rw.world, "member_clean").get("/member/"))


def test_a_returned_assessment_says_who_returned_it_when_and_why_on_the_overview_and_task_list(app, rw):
    a = rw.assessments["clean"]
    lead = signed_in(app, rw.world, "lead")
    assert lead.post(f"/review/assessments/{a}/return", {"note": "Add the 2026 <audit>."}).status_code == 302
    member = signed_in(app, rw.world, "member_clean")
    today = dt.date.today()
    on = f"{today.day} {today:%B %Y}"
    pages = {
        "task list": squash(member.get(f"/member/assessments/{a}")),
        "overview": squash(member.get(f"/member/memberships/{rw.memberships['clean']}")),
    }
    for where, body in pages.items():
        assert "Returned for changes</strong>" in body, where  # the status, not "Draft"
        assert ">Draft</strong>" not in body, where
        assert f"Alliance Lead returned this self-assessment to you on {on}, saying:" in body, where
        assert f'<p class="app-returned-note">{escape("Add the 2026 <audit>.")}</p>' in body, where
    home = squash(member.get("/member/"))
    assert "Returned for changes</strong>" in home and f"By Alliance Lead on {on}" in home
    never = squash(signed_in(app, rw.world, "member_a").get(f"/member/assessments/{rw.world.assessments['a']}"))
    assert ">Draft</strong>" in never and "Returned for changes" not in never  # a draft never submitted


def test_a_draft_is_not_for_review(app, rw):
    lead = signed_in(app, rw.world, "lead")
    assert lead.get(f"/review/assessments/{rw.world.assessments['a']}").status_code == 404


def test_a_comment_reaches_the_member_with_its_assessment_and_as_a_notification(app, rw):
    lead = signed_in(app, rw.world, "lead")
    a = rw.assessments["clean"]
    sent = lead.post(f"/review/assessments/{a}/comments", {"comment": "Please attach the 2026 job plan audit."})
    assert sent.status_code == 302
    assert "Please attach the 2026 job plan audit." in text(lead.get(f"/review/assessments/{a}"))
    member = signed_in(app, rw.world, "member_clean")
    result = squash(member.get(f"/member/assessments/{a}/result"))
    assert "Comments from the alliance lead" in result and "Please attach the 2026 job plan audit." in result
    home = squash(member.get("/member/"))
    assert "commented on your" in home and "1 unread" in home
    with db.session_scope(rw.world.url) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "comment.added")).all()
        assert [(e.actor, e.after["body"]) for e in events] == [
            ("lead@alliance.test", "Please attach the 2026 job plan audit.")
        ]
    # Another member sees none of it.
    other = signed_in(app, rw.world, "member_breach")
    assert "job plan audit" not in text(other.get("/member/"))


def test_an_empty_or_overlong_comment_is_refused_on_the_page(app, rw):
    lead = signed_in(app, rw.world, "lead")
    a = rw.assessments["clean"]
    empty = lead.post(f"/review/assessments/{a}/comments", {"comment": "   "})
    assert empty.status_code == 200 and "Enter a comment for the member" in text(empty)
    long = lead.post(f"/review/assessments/{a}/comments", {"comment": "x" * 5001})
    assert "at most 5000 characters (this one has 5001)" in text(long)
    with db.session_scope(rw.world.url) as session:
        assert session.exec(select(ReviewComment)).all() == []


def test_html_in_a_comment_is_escaped(app, rw):
    lead = signed_in(app, rw.world, "lead")
    a = rw.assessments["clean"]
    lead.post(f"/review/assessments/{a}/comments", {"comment": "<script>alert(1)</script>"})
    member = signed_in(app, rw.world, "member_clean")
    for page in (member.get("/member/"), member.get(f"/member/assessments/{a}/result")):
        assert "<script>alert(1)</script>" not in text(page) and "&lt;script&gt;" in text(page)


# -- decisions -----------------------------------------------------------------------------------------------------


def status_of(url: str, membership_id: int) -> str:
    with db.session_scope(url) as session:
        return session.get(Membership, membership_id).status


def future(days: int = 120) -> dt.date:
    return utcnow().date() + dt.timedelta(days=days)


def decision_form(kind: str, due: dt.date | None = None, **extra) -> dict:
    data = {"kind": kind, **extra}
    if due:
        data.update({"due_on-day": str(due.day), "due_on-month": str(due.month), "due_on-year": str(due.year)})
    return data


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("accredit", "accredited"),
        ("accredit_with_conditions", "accredited_with_conditions"),
        ("working_towards", "working_towards"),
        ("decline", "declined"),
    ],
)
def test_each_decision_moves_the_membership_audits_and_notifies(app, rw, kind, expected):
    url, a, m = rw.world.url, rw.assessments["clean"], rw.memberships["clean"]
    assert status_of(url, m) == "applicant" and allowed("applicant", expected)
    lead = signed_in(app, rw.world, "lead")
    extra = {"conditions": "Submit the theatre utilisation audit.", "notes": "Good progress."}
    response = lead.post(f"/review/assessments/{a}/decision", decision_form(kind, future(), **extra))
    assert response.status_code == 302, text(response)[:3000]
    assert status_of(url, m) == expected
    with db.session_scope(url) as session:
        decision = session.exec(select(Decision).where(Decision.assessment_id == a)).one()
        assert decision.kind == kind and decision.decided_by == rw.world.user_ids["lead"]
        changes = session.exec(
            select(MembershipStatusChange)
            .where(MembershipStatusChange.membership_id == m)
            .order_by(MembershipStatusChange.id)
        ).all()
        assert (changes[-1].from_status, changes[-1].to_status) == ("applicant", expected)
        recorded = session.exec(select(AuditEvent).where(AuditEvent.action == "decision.recorded")).all()
        assert [(e.entity_id, e.actor, e.before, e.after["kind"]) for e in recorded if e.entity_id == decision.id] == [
            (decision.id, "lead@alliance.test", {"status": "submitted"}, kind)
        ]
        status_events = session.exec(
            select(AuditEvent).where(AuditEvent.entity_type == "membership", AuditEvent.entity_id == m)
        ).all()
        assert any(e.after and e.after.get("status") == expected for e in status_events), [
            (e.action, e.after) for e in status_events
        ]
        notices = session.exec(
            select(Notification).where(Notification.organisation_id == rw.organisations["clean"])
        ).all()
        assert len(notices) == 1 and notices[0].kind == "decision" and notices[0].read_at is None
        assert review.DECISION_WORDS[kind] in notices[0].title
        assert f"status is now {expected.replace('_', ' ')}" in notices[0].body
        if kind == "accredit_with_conditions":
            assert decision.conditions == "Submit the theatre utilisation audit." and decision.due_on == future()
            assert "theatre utilisation audit" in notices[0].body
    member = squash(signed_in(app, rw.world, "member_clean").get("/member/"))
    assert review.DECISION_WORDS[kind] in member and "1 unread" in member


def test_suspend_then_reinstate_a_decided_member(app, rw):
    url, a, m = rw.world.url, rw.assessments["clean"], rw.memberships["clean"]
    lead = signed_in(app, rw.world, "lead")
    assert lead.post(f"/review/assessments/{a}/decision", decision_form("accredit")).status_code == 302
    assert status_of(url, m) == "accredited"
    page = text(lead.get(f"/review/assessments/{a}"))
    assert 'value="suspend"' in page and 'value="accredit"' not in page
    assert (
        lead.post(
            f"/review/assessments/{a}/decision", decision_form("suspend", notes="Did not attend peer review.")
        ).status_code
        == 302
    )
    assert status_of(url, m) == "suspended"
    assert 'value="reinstate"' in text(lead.get(f"/review/assessments/{a}"))
    assert lead.post(f"/review/assessments/{a}/decision", decision_form("reinstate")).status_code == 302
    with db.session_scope(url) as session:
        outcome = current_result(session, a).outcome
        # A reinstated member returns to the status its result earns: accredited (with conditions) or working towards.
        expected = outcome if outcome in ("accredited", "accredited_with_conditions") else "working_towards"
        assert session.get(Membership, m).status == expected
        kinds = [
            d.kind for d in session.exec(select(Decision).where(Decision.assessment_id == a).order_by(Decision.id))
        ]
        assert kinds == ["accredit", "suspend", "reinstate"]
        notices = session.exec(
            select(Notification)
            .where(Notification.organisation_id == rw.organisations["clean"])
            .order_by(Notification.id)
        ).all()
        assert [n.title.split(":")[0] for n in notices] == ["Accredited", "Suspended", "Reinstated"]
        assert len(session.exec(select(AuditEvent).where(AuditEvent.action == "decision.recorded")).all()) == 3 + 1


def test_a_repeated_major_breach_puts_suspension_recommended_in_front_of_the_lead(app, rw):
    url, a, m = rw.world.url, rw.assessments["breach"], rw.memberships["breach"]
    lead = signed_in(app, rw.world, "lead")
    assert status_of(url, m) == "at_risk"  # last cycle's decision with a major breach
    assert lead.post(f"/review/assessments/{a}/decision", decision_form("accredit")).status_code == 302
    with db.session_scope(url) as session:
        membership = session.get(Membership, m)
        # Retention policy: a major breach keeps the member at risk whatever the decision, and a second
        # consecutive cycle with it on the same standard recommends suspension (the alliance's default of 2).
        assert membership.status == "at_risk" and membership.suspension_recommended
    queue = squash(lead.get("/review/"))
    assert "Suspension recommended" in queue and "C2 in 2 consecutive cycles" in queue
    page = squash(lead.get(f"/review/assessments/{a}"))
    assert "Suspension recommended" in page and "nothing is suspended until you decide" in page
    refused = lead.post(f"/review/members/{m}/keep", {"notes": " ", "assessment_id": str(a)})
    assert refused.status_code == 200 and "Record why the member is not suspended" in text(refused)
    kept = lead.post(
        f"/review/members/{m}/keep", {"notes": "Recovery plan agreed with the trust board.", "assessment_id": str(a)}
    )
    assert kept.status_code == 302
    with db.session_scope(url) as session:
        membership = session.get(Membership, m)
        assert membership.status == "at_risk" and not membership.suspension_recommended
        cleared = session.exec(
            select(AuditEvent).where(AuditEvent.action == "membership.suspension_recommendation_cleared")
        ).one()
        assert cleared.after["reason"] == "Recovery plan agreed with the trust board."
        assert cleared.actor == "lead@alliance.test"
    assert "Suspension recommended" not in squash(lead.get("/review/"))


def test_conditions_need_text_and_a_future_due_date(app, rw):
    a = rw.assessments["clean"]
    lead = signed_in(app, rw.world, "lead")
    missing = lead.post(f"/review/assessments/{a}/decision", decision_form("accredit_with_conditions"))
    body = text(missing)
    assert missing.status_code == 200
    assert "Enter the conditions the member must meet" in body and "Enter the date the conditions are due" in body
    past = lead.post(
        f"/review/assessments/{a}/decision",
        decision_form("accredit_with_conditions", utcnow().date() - dt.timedelta(days=1), conditions="Audit"),
    )
    assert "The due date must be in the future" in text(past)
    unreal = lead.post(
        f"/review/assessments/{a}/decision",
        {
            "kind": "accredit_with_conditions",
            "conditions": "x",
            "due_on-day": "31",
            "due_on-month": "2",
            "due_on-year": "2030",
        },
    )
    assert "The due date must be a real date" in text(unreal)
    nothing = lead.post(f"/review/assessments/{a}/decision", {})
    assert "Choose one of" in text(nothing)
    not_open = lead.post(f"/review/assessments/{a}/decision", {"kind": "reinstate"})
    assert "Reinstated is not open for this assessment now" in text(not_open)
    with db.session_scope(rw.world.url) as session:
        assert session.exec(select(Decision).where(Decision.assessment_id == a)).all() == []
        assert session.exec(select(Notification)).all() == []
    assert status_of(rw.world.url, rw.memberships["clean"]) == "applicant"


def test_the_member_marks_a_notification_read_and_another_member_cannot(app, rw):
    a = rw.assessments["clean"]
    signed_in(app, rw.world, "lead").post(f"/review/assessments/{a}/decision", decision_form("accredit"))
    with db.session_scope(rw.world.url) as session:
        notice = session.exec(select(Notification)).one()
    other = signed_in(app, rw.world, "member_breach")
    assert other.post(f"/member/notifications/{notice.id}/read").status_code == 404
    member = signed_in(app, rw.world, "member_clean")
    assert member.post(f"/member/notifications/{notice.id}/read").status_code == 302
    with db.session_scope(rw.world.url) as session:
        read = session.get(Notification, notice.id)
        assert read.read_at is not None and read.read_by == rw.world.user_ids["member_clean"]
    home = squash(member.get("/member/"))
    assert "unread" not in home and "Accredited" in home and "Mark as read" not in home


def test_service_refuses_another_alliance_assessment(rw):
    with db.session_scope(rw.world.url) as session:
        lead_y = rw.world.actor("lead_y")
        for call in (
            lambda: review.review_page(session, rw.other_alliance_id, rw.assessments["clean"], 3),
            lambda: review.add_comment(session, lead_y, rw.other_alliance_id, rw.assessments["clean"], "hi"),
            lambda: review.decide(session, lead_y, rw.other_alliance_id, rw.assessments["clean"], "accredit"),
            lambda: review.lead_evidence(session, rw.other_alliance_id, rw.assessments["clean"], rw.evidence["clean"]),
            lambda: review.decide(session, lead_y, None, rw.assessments["other"], "accredit"),
        ):
            with pytest.raises(NotFound):
                call()


def test_parse_due_date():
    assert review.parse_due_date("", " ", "") is None
    assert review.parse_due_date("31", "3", "2027") == dt.date(2027, 3, 31)
    for bad in (("31", "2", "2027"), ("x", "3", "2027"), ("1", "", "2027")):
        with pytest.raises(ServiceError, match="due_on: the due date must be a real date"):
            review.parse_due_date(*bad)

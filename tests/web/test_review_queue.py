"""The lead's review queue: waiting work first (oldest first, with days waiting), decided last; filters,
pages and counts per state; assigning reviewers. Through the service on the real database and engine, and
through the page with the test client."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import select

from app import db
from app.models import AuditEvent, ReviewAssignment, User, clock_at
from app.services import (
    CLI,
    ServiceError,
    create_user,
    record_decision,
    review_assignments,
    review_queue,
    start_review,
)
from app.services.review_queue import QueueFilters

from .conftest import COMPLETE_ANSWERS, PASSWORD, password_hash, signed_in, text
from .reviewing import MAJOR_BREACH, _submitted, build_review_world

UTC = dt.timezone.utc


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 9, 0, tzinfo=UTC)


@pytest.fixture
def rw(app, world):
    """The review world (X: Breach Trust decided last cycle and submitted now, Clean Trust submitted now; Y:
    Other Trust), and in X's current cycle four more, submitted in June 2026: two waiting (submitted), two
    under review, and one decided in July; and a second lead of X."""
    review = build_review_world(world, app.extensions["upload_store"])
    store = app.extensions["upload_store"]
    with db.session_scope(world.url) as session:
        for key, name, ods, submitted, answers in (
            ("june10", "June Ten Trust", "JUN10", at(6, 10), COMPLETE_ANSWERS),
            ("june05", "June Five Trust", "JUN05", at(6, 5), MAJOR_BREACH),
            ("june20", "June Twenty Trust", "JUN20", at(6, 20), COMPLETE_ANSWERS),
            ("june01", "June One Trust", "JUN01", at(6, 1), COMPLETE_ANSWERS),
            ("june02", "June Two Trust", "JUN02", at(6, 2), COMPLETE_ANSWERS),
        ):
            with clock_at(submitted):
                _, membership, assessment, _ = _submitted(
                    session, world.alliance_id, world.cycle_id, name, ods, answers, store
                )
            review.assessments[key], review.memberships[key] = assessment, membership
        with clock_at(at(6, 25)):
            start_review(session, CLI, review.assessments["june20"])
            start_review(session, CLI, review.assessments["june01"])
        with clock_at(at(7, 1)):
            record_decision(session, CLI, review.assessments["june02"], "accredit")
        second = create_user(
            session,
            CLI,
            email="second.lead@web.test",
            name="Second Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=world.alliance_id,
            password_hash=password_hash(PASSWORD),
        )
        world.emails["lead_2"], world.user_ids["lead_2"] = second.email, second.id
    return review


def ids(queue) -> list[int]:
    return [item.assessment.id for item in queue.items]


def run(rw, filters: QueueFilters | None = None, **kwargs):
    with db.session_scope(rw.world.url) as session:
        return review_queue.review_queue(session, rw.world.alliance_id, filters or QueueFilters(), **kwargs)


# -- order ---------------------------------------------------------------------------------------------------------


def test_waiting_work_comes_first_oldest_first_then_decided_newest_first(rw):
    a = rw.assessments
    queue = run(rw, today=dt.date(2026, 6, 30))
    assert ids(queue) == [
        # submitted, oldest submission first (Breach and Clean were submitted today, in that order)
        a["june05"],
        a["june10"],
        a["breach"],
        a["clean"],
        # under review, oldest submission first
        a["june01"],
        a["june20"],
        # decided, newest decision first: Breach's earlier cycle was decided today, June Two on 1 July
        a["breach_earlier"],
        a["june02"],
    ]
    days = {item.assessment.id: item.days_waiting for item in queue.items}
    assert days[a["june05"]] == 25 and days[a["june10"]] == 20 and days[a["june01"]] == 29
    assert days[a["june02"]] is None and days[a["breach_earlier"]] is None  # decided: no longer waiting
    assert [item.waiting for item in queue.items] == [True] * 6 + [False] * 2


def test_the_page_lists_waiting_work_first_with_days_waiting(app, rw):
    lead = signed_in(app, rw.world, "lead")
    body = text(lead.get("/review/"))
    table = body[body.index('id="queue"') :]
    order = [table.index(f'id="row-{rw.assessments[key]}"') for key in ("june05", "june10", "june01", "june02")]
    assert order == sorted(order)
    row = table[table.index(f'id="row-{rw.assessments["june05"]}"') :]
    row = row[: row.index("</tr>")]
    waited = (dt.datetime.now(UTC).date() - dt.date(2026, 6, 5)).days
    assert f"<strong>{waited}</strong> days waiting" in row


# -- filters -------------------------------------------------------------------------------------------------------


def test_each_filter_narrows_the_queue(rw):
    a, world = rw.assessments, rw.world
    x_now = {a[k] for k in ("breach", "clean", "june10", "june05", "june20", "june01", "june02")}
    assert set(ids(run(rw, QueueFilters(cycle_id=world.cycle_id)))) == x_now
    assert set(ids(run(rw, QueueFilters(cycle_id=rw.previous_cycle_id)))) == {a["breach_earlier"]}
    assert set(ids(run(rw, QueueFilters(status="under_review")))) == {a["june20"], a["june01"]}
    assert set(ids(run(rw, QueueFilters(status="decided")))) == {a["breach_earlier"], a["june02"]}
    assert set(ids(run(rw, QueueFilters(major_breach=True)))) == {a["breach"], a["breach_earlier"], a["june05"]}
    assert a["june05"] not in ids(run(rw, QueueFilters(major_breach=False)))
    with db.session_scope(world.url) as session:
        from app.services import current_result

        outcome = current_result(session, a["june02"]).outcome
        expected = {i for i in x_now | {a["breach_earlier"]} if current_result(session, i).outcome == outcome}
    assert set(ids(run(rw, QueueFilters(outcome=outcome)))) == expected
    assert set(ids(run(rw, QueueFilters(at_risk=True)))) == {a["breach"], a["breach_earlier"]}
    assert ids(run(rw, QueueFilters(route="specialty"))) == []


def test_the_reviewer_filter_me_nobody_or_a_lead(rw):
    a, world = rw.assessments, rw.world
    with db.session_scope(world.url) as session:
        review_assignments.assign(session, world.actor("lead"), world.alliance_id, a["june10"], world.user_ids["lead"])
        review_assignments.assign(
            session, world.actor("lead"), world.alliance_id, a["june20"], world.user_ids["lead_2"]
        )
    me = world.user_ids["lead"]
    assert ids(run(rw, QueueFilters(assignee="me"), viewer_id=me)) == [a["june10"]]
    assert ids(run(rw, QueueFilters(assignee="me"), viewer_id=world.user_ids["lead_2"])) == [a["june20"]]
    assert ids(run(rw, QueueFilters(assignee=str(world.user_ids["lead_2"])))) == [a["june20"]]
    nobody = ids(run(rw, QueueFilters(assignee="nobody")))
    assert a["june10"] not in nobody and a["june20"] not in nobody and a["clean"] in nobody
    item = run(rw, QueueFilters(assignee="me"), viewer_id=me).items[0]
    with db.session_scope(world.url) as session:
        assert (item.reviewer_id, item.reviewer) == (me, session.get(User, me).name)


def test_filters_from_the_query_string_name_each_bad_value(app, rw):
    lead = signed_in(app, rw.world, "lead")
    response = lead.get("/review/?assignee=9999&page=abc&status=nope&cycle=x")
    assert response.status_code == 200
    body = " ".join(text(response).split())
    assert "There is a problem" in body
    assert "Choose a reviewer from the list: “9999” is not one" in body
    assert "A page is a whole number from 1: “abc” is not one" in body
    assert "Choose a status from the list: “nope” is not one" in body
    assert "Choose a cycle from the list: “x” is not one of this alliance’s cycles" in body
    # Another alliance's lead is not a reviewer here.
    body = text(lead.get(f"/review/?assignee={rw.world.user_ids['lead_y']}"))
    assert "Choose a reviewer from the list" in body
    assert lead.get("/review/?assignee=me").status_code == 200


# -- pages and counts --------------------------------------------------------------------------------------------


def test_pages_follow_on_and_a_page_past_the_end_shows_the_last(rw):
    everything = ids(run(rw))
    assert len(everything) == 8
    pages = [run(rw, QueueFilters(page=n), per_page=3) for n in (1, 2, 3)]
    assert [ids(p) for p in pages] == [everything[0:3], everything[3:6], everything[6:8]]
    assert [(p.page, p.pages, p.total, p.first_row, p.last_row) for p in pages] == [
        (1, 3, 8, 1, 3),
        (2, 3, 8, 4, 6),
        (3, 3, 8, 7, 8),
    ]
    past = run(rw, QueueFilters(page=9), per_page=3)
    assert past.past_the_end and past.page == 3 and ids(past) == everything[6:8]
    filtered = run(rw, QueueFilters(status="submitted", page=2), per_page=3)
    assert ids(filtered) == everything[3:4] and filtered.pages == 2


def test_counts_per_state_over_the_other_filters(rw):
    assert run(rw).counts == {"submitted": 4, "under_review": 2, "decided": 2}
    assert run(rw, QueueFilters(status="decided")).counts == {"submitted": 4, "under_review": 2, "decided": 2}
    assert run(rw, QueueFilters(major_breach=True)).counts == {"submitted": 2, "under_review": 0, "decided": 1}
    assert run(rw, QueueFilters(cycle_id=rw.previous_cycle_id)).counts == {
        "submitted": 0,
        "under_review": 0,
        "decided": 1,
    }


def test_the_page_shows_pagination_keeping_filters_and_counts_as_links(app, rw, monkeypatch):
    monkeypatch.setattr(review_queue, "PER_PAGE", 3)
    lead = signed_in(app, rw.world, "lead")
    first = text(lead.get(f"/review/?cycle={rw.world.cycle_id}"))
    assert "7 self-assessments shown: 1 to 3, page 1 of 3." in first
    nav = first[first.index('id="pages"') :]
    nav = nav[: nav.index("</nav>")]
    assert f'href="/review/?cycle={rw.world.cycle_id}&amp;page=2"' in nav and 'rel="next"' in nav
    counts = first[first.index('id="state-counts"') :]
    counts = counts[: counts.index("</ul>")]
    assert f'href="/review/?cycle={rw.world.cycle_id}&amp;status=under_review"' in counts
    assert "Under review: <strong>2</strong>" in counts and "Submitted: <strong>4</strong>" in counts
    second = text(lead.get(f"/review/?cycle={rw.world.cycle_id}&page=2"))
    rows = re.findall(r'id="row-(\d+)"', second)
    assert [int(r) for r in rows] == [rw.assessments["clean"], rw.assessments["june01"], rw.assessments["june20"]]
    assert "page 2 of 3" in second
    past = lead.get(f"/review/?cycle={rw.world.cycle_id}&page=40")
    assert past.status_code == 200
    body = text(past)
    assert "There is no page 40: the list has 3. This is the last page" in body and "page 3 of 3" in body
    under_review = text(lead.get("/review/?status=under_review"))
    assert re.findall(r'id="row-(\d+)"', under_review) == [str(rw.assessments["june01"]), str(rw.assessments["june20"])]


# -- assignment ----------------------------------------------------------------------------------------------------


def test_a_lead_assigns_from_the_queue_and_returns_to_the_same_page(app, rw):
    world, a = rw.world, rw.assessments
    lead = signed_in(app, world, "lead")
    response = lead.post(
        f"/review/assessments/{a['june10']}/assign",
        {"reviewer": str(world.user_ids["lead_2"]), "back": "status=submitted&page=1&evil=https://x.test"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/review/?status=submitted&page=1#row-{a['june10']}"
    page = text(lead.get(response.headers["Location"]))
    assert "Assigned to Second Lead." in page
    with db.session_scope(world.url) as session:
        row = session.get(ReviewAssignment, a["june10"])
        assert (row.reviewer_id, row.assigned_by) == (world.user_ids["lead_2"], world.user_ids["lead"])
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.assigned")).one()
        assert (event.entity_type, event.entity_id, event.actor_id) == (
            "assessment",
            a["june10"],
            world.user_ids["lead"],
        )
        assert event.before is None and event.after == {"reviewer_id": world.user_ids["lead_2"]}
    second = signed_in(app, world, "lead_2")
    mine = text(second.get("/review/?assignee=me"))
    assert re.findall(r'id="row-(\d+)"', mine) == [str(a["june10"])]
    # Taken back to nobody, from the assessment's page.
    response = lead.post(f"/review/assessments/{a['june10']}/assign", {"reviewer": ""})
    assert response.headers["Location"] == f"/review/assessments/{a['june10']}#reviewer"
    with db.session_scope(world.url) as session:
        assert session.get(ReviewAssignment, a["june10"]) is None
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.unassigned")).one()
        assert event.before == {"reviewer_id": world.user_ids["lead_2"]} and event.after is None


def test_the_assessment_page_shows_and_sets_its_reviewer(app, rw):
    world, a = rw.world, rw.assessments
    lead = signed_in(app, world, "lead")
    page = text(lead.get(f"/review/assessments/{a['clean']}"))
    assert 'id="reviewer"' in page and "Reviewer: nobody yet" in page and "Second Lead" in page
    assert lead.post(f"/review/assessments/{a['clean']}/assign", {"reviewer": "me"}).status_code == 302
    page = text(lead.get(f"/review/assessments/{a['clean']}"))
    assert "Assigned to" in page
    with db.session_scope(world.url) as session:
        lead_name = session.get(User, world.user_ids["lead"]).name
    assert f"Reviewer: <strong>{lead_name}</strong>" in page


def test_only_active_leads_of_the_alliance_can_be_assigned(rw):
    world, a = rw.world, rw.assessments
    with db.session_scope(world.url) as session:
        actor = world.actor("lead")
        for reviewer in (world.user_ids["lead_y"], world.user_ids["member_clean"], world.user_ids["admin"], 999_999):
            with pytest.raises(ServiceError, match="choose a lead of this alliance"):
                review_assignments.assign(session, actor, world.alliance_id, a["clean"], reviewer)
        session.get(User, world.user_ids["lead_2"]).active = False
        session.flush()
        with pytest.raises(ServiceError, match="choose a lead of this alliance"):
            review_assignments.assign(session, actor, world.alliance_id, a["clean"], world.user_ids["lead_2"])
        assert [u.id for u in review_assignments.reviewers_of(session, world.alliance_id)] == [world.user_ids["lead"]]
    with db.session_scope(world.url) as session:
        assert session.exec(select(ReviewAssignment)).all() == []


def test_a_refused_reviewer_is_named_on_the_queue(app, rw):
    lead = signed_in(app, rw.world, "lead")
    response = lead.post(
        f"/review/assessments/{rw.assessments['clean']}/assign", {"reviewer": "someone", "back": "status=submitted"}
    )
    assert response.status_code == 302
    assert "Choose a lead of this alliance from the list" in text(lead.get(response.headers["Location"]))


def test_the_retention_callouts_name_a_few_and_count_the_rest(rw):
    from app.services import review

    with db.session_scope(rw.world.url) as session:
        assert review.retention_counts(session, rw.world.alliance_id) == (0, 1)  # Breach Trust is at risk
        recommended, at_risk = review.retention_cases(session, rw.world.alliance_id, limit=10)
        assert recommended == [] and [c.organisation.name for c in at_risk] == ["Breach Trust"]
        assert review.retention_cases(session, rw.world.alliance_id, limit=0) == ([], [])

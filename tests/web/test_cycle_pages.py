"""The lead's cycles: opening one (no overlap with a cycle that is not closed), changing its dates until it is
closed, closing it; late submissions tagged on the lead's and the member's pages; the impact preview's choice of
cycle (the open one by default) and its count of members, not self-assessments."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from app import db
from app.models import Assessment, AssessmentCycle, AuditEvent, utcnow
from app.services import CLI, ServiceError, add_evidence, cycles, portal, save_answers, submit
from tests.builders import attested

from .conftest import COMPLETE_ANSWERS, signed_in, text
from .test_impact_preview import cell_after, draft_text, rw, upload  # noqa: F401  (rw: the review world fixture)


def test_the_lead_opens_a_cycle_changes_its_dates_and_closes_it(app, world):
    lead = signed_in(app, world, "lead")
    page = text(lead.get("/review/cycles"))
    with db.session_scope(world.url) as session:
        current = session.get(AssessmentCycle, world.cycle_id)
        name, opens, closes = current.name, current.opens_on, current.closes_on
    assert f"The open cycle is {name}" in page and "Close " + name in page
    start = closes.year
    next_name = f"{start}/{(start + 1) % 100:02d}"
    overlapping = lead.post(
        "/review/cycles", {"name": next_name, "opens_on": closes.isoformat(), "closes_on": f"{start + 1}-03-31"}
    )
    assert overlapping.status_code == 400 and f"The dates overlap cycle {name}" in text(overlapping)
    bad = lead.post("/review/cycles", {"name": "next year", "opens_on": "31/03/2027", "closes_on": ""})
    body = text(bad)
    assert bad.status_code == 400 and "The opening date must be a real date" in body and "closing date" in body
    fine = {"name": next_name, "opens_on": f"{start}-04-01", "closes_on": f"{start + 1}-03-31"}
    assert lead.post("/review/cycles", fine, csrf=False).status_code == 400
    assert lead.post("/review/cycles", fine).status_code == 302
    with db.session_scope(world.url) as session:
        new = session.exec(select(AssessmentCycle).where(AssessmentCycle.name == next_name)).one()
        new_id = new.id
    assert "Upcoming" in text(lead.get("/review/cycles"))
    # Dates: changed before it closes (the same overlap rule), never after.
    assert lead.get(f"/review/cycles/{new_id}/edit").status_code == 200
    moved = lead.post(
        f"/review/cycles/{new_id}/edit", {"opens_on": f"{start}-05-01", "closes_on": f"{start + 1}-04-30"}
    )
    assert moved.status_code == 302
    # Closing the current cycle: a new one may then overlap its dates.
    assert lead.post(f"/review/cycles/{world.cycle_id}/close").status_code == 302
    listing = text(lead.get("/review/cycles"))
    assert "Closed" in listing and "No cycle is open" in listing
    refused = lead.post(
        f"/review/cycles/{world.cycle_id}/edit", {"opens_on": opens.isoformat(), "closes_on": closes.isoformat()}
    )
    assert refused.status_code == 400 and "is closed; its dates cannot change" in text(refused)
    again = lead.post(f"/review/cycles/{world.cycle_id}/close")
    assert "is already closed" in text(lead.get(again.headers["Location"]))
    with db.session_scope(world.url) as session:
        actions = [
            e.action for e in session.exec(select(AuditEvent).where(AuditEvent.entity_type == "assessmentcycle"))
        ]
        assert actions[-3:] == ["cycle.opened", "cycle.dates_changed", "cycle.closed"]


def test_an_upcoming_cycle_cannot_be_closed_and_another_alliances_cycle_is_not_found(app, world, rw):  # noqa: F811
    lead, lead_y = signed_in(app, world, "lead"), signed_in(app, world, "lead_y")
    for path in (f"/review/cycles/{world.cycle_id}/edit",):
        assert lead_y.get(path).status_code == 404
    assert lead_y.post(f"/review/cycles/{world.cycle_id}/close").status_code == 404
    assert (
        lead_y.post(
            f"/review/cycles/{world.cycle_id}/edit", {"opens_on": "2020-01-01", "closes_on": "2020-02-01"}
        ).status_code
        == 404
    )
    assert "Other Alliance" in text(lead_y.get("/review/cycles"))
    assert "Web Test Alliance" not in text(lead_y.get("/review/cycles"))
    with db.session_scope(world.url) as session:
        assert session.get(AssessmentCycle, world.cycle_id).closed_at is None
        future = cycles.open_new(
            session,
            world.actor("lead"),
            world.alliance_id,
            name="2099/00",
            opens_on=dt.date(2099, 4, 1),
            closes_on=dt.date(2100, 3, 31),
        )
    closing = lead.post(f"/review/cycles/{future.id}/close")
    assert "has not opened yet" in text(lead.get(closing.headers["Location"]))


def submit_a(world) -> int:
    a = world.assessments["a"]
    with db.session_scope(world.url) as session:
        assert save_answers(session, CLI, a, COMPLETE_ANSWERS).ok
        add_evidence(session, CLI, a, "C1.1", kind="link", url="https://example.nhs.uk/plan.pdf")
        submit(session, world.actor("member_a"), a, attested())
    return a


def test_a_draft_submitted_after_the_cycle_is_closed_is_late_on_every_page(app, world):
    lead = signed_in(app, world, "lead")
    assert lead.post(f"/review/cycles/{world.cycle_id}/close").status_code == 302
    a = submit_a(world)
    with db.session_scope(world.url) as session:
        assert cycles.late(session, session.get(Assessment, a))
        assert cycles.late_ids(session, [a, world.assessments["b"]]) == {a}
    assert "app-late" in text(lead.get("/review/"))
    assert "app-late" in text(lead.get(f"/review/assessments/{a}"))
    member = signed_in(app, world, "member_a")
    assert "app-late" in text(member.get("/member/"))
    assert "app-late" in text(member.get(f"/member/memberships/{world.memberships['a']}"))


def test_no_self_assessment_starts_in_a_cycle_the_lead_closed_early(app, world):
    b = world.assessments["b"]
    with db.session_scope(world.url) as session:  # member B has not started this cycle's yet
        session.delete(session.get(Assessment, b))
    lead = signed_in(app, world, "lead")
    assert lead.post(f"/review/cycles/{world.cycle_id}/close").status_code == 302
    with db.session_scope(world.url) as session, pytest.raises(ServiceError, match="cycle is closed"):
        portal.start_assessment(session, world.actor("member_b"), world.organisations["b"], world.memberships["b"])
    with db.session_scope(world.url) as session:  # one already started is still reached
        started = portal.start_assessment(
            session, world.actor("member_a"), world.organisations["a"], world.memberships["a"]
        )
        assert started.id == world.assessments["a"]


def test_on_time_is_not_late_and_lateness_follows_the_dates():
    cycle = AssessmentCycle(alliance_id=1, name="2026/27", opens_on=dt.date(2026, 4, 1), closes_on=dt.date(2027, 3, 31))
    at = lambda *parts: dt.datetime(*parts, tzinfo=dt.timezone.utc)  # noqa: E731
    assert not cycles.is_late(None, cycle)
    assert not cycles.is_late(at(2027, 3, 31, 23, 0), cycle)
    assert cycles.is_late(at(2027, 4, 1, 0, 1), cycle)
    cycle.closed_at = at(2027, 2, 1, 12, 0)  # closed early: from then on
    assert not cycles.is_late(at(2027, 2, 1, 11, 0), cycle) and cycles.is_late(at(2027, 2, 1, 13, 0), cycle)
    assert cycles.state(cycle, dt.date(2026, 5, 1)) == "closed"
    cycle.closed_at = None
    assert cycles.state(cycle, dt.date(2026, 3, 1)) == "upcoming" and cycles.state(cycle, dt.date(2027, 6, 1)) == "open"


def test_the_submission_on_time_shows_no_late_tag(app, world):
    a = submit_a(world)
    lead = signed_in(app, world, "lead")
    assert "app-late" not in text(lead.get(f"/review/assessments/{a}"))


@pytest.fixture
def preview_page(app, world, rw):  # noqa: F811
    lead = signed_in(app, world, "lead")
    version_id = int(upload(lead, draft_text()).headers["Location"].split("/")[-2])
    return lead, version_id, rw


def test_the_preview_shows_the_open_cycle_by_default_and_every_cycle_on_choice(app, world, preview_page):
    lead, version_id, review_world = preview_page
    with db.session_scope(world.url) as session:
        current = session.get(AssessmentCycle, world.cycle_id)
        previous = session.get(AssessmentCycle, review_world.previous_cycle_id)
        in_current = session.exec(select(Assessment).where(Assessment.cycle_id == world.cycle_id)).all()
        in_previous = session.exec(
            select(Assessment).where(Assessment.cycle_id == review_world.previous_cycle_id)
        ).all()
    x_current = [a for a in in_current if a.id != review_world.assessments["other"]]
    page = text(lead.get(f"/review/standards/{version_id}/impact"))
    assert cell_after(page, "Cycle") == current.name
    assert cell_after(page, "Self-assessments rescored") == str(len(x_current))
    assert cell_after(page, "Members") == f"{len(x_current)} members"  # one self-assessment each in one cycle
    assert f'<option value="{current.id}" selected>' in page
    every = text(lead.get(f"/review/standards/{version_id}/impact?cycle=all"))
    assert cell_after(every, "Cycle") == "Every cycle"
    assert cell_after(every, "Self-assessments rescored") == str(len(x_current) + len(in_previous))
    # Breach Trust has a self-assessment in both cycles: counted once as a member.
    assert cell_after(every, "Members") == f"{len(x_current)} members"
    earlier = text(lead.get(f"/review/standards/{version_id}/impact?cycle={previous.id}"))
    assert cell_after(earlier, "Cycle") == previous.name and cell_after(earlier, "Members") == "1 member"
    # Another alliance's cycle, or nonsense, is not found.
    assert lead.get(f"/review/standards/{version_id}/impact?cycle={review_world.other_cycle_id}").status_code == 404
    assert lead.get(f"/review/standards/{version_id}/impact?cycle=latest").status_code == 404


def test_the_dashboard_shows_the_open_cycle_by_default(app, world, rw):  # noqa: F811
    lead = signed_in(app, world, "lead")
    with db.session_scope(world.url) as session:
        cycles.close(session, world.actor("lead"), world.alliance_id, world.cycle_id)
        name = session.get(AssessmentCycle, world.cycle_id).name
        assert cycles.open_cycle_of(session, world.alliance_id).id == rw.previous_cycle_id
        previous = session.get(AssessmentCycle, rw.previous_cycle_id).name
        assert utcnow()
    page = text(lead.get("/review/dashboard"))
    assert f'<option value="{rw.previous_cycle_id}" selected' in page or previous in page
    assert name in page

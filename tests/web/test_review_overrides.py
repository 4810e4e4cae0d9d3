"""A lead's overrides: recomputed through the engine, shown wherever the result is, audited, and still attached
to their criterion when the assessment is scored again."""

from __future__ import annotations

import pytest
from sqlmodel import select

import rules
from app import db
from app.models import AuditEvent, Breach, ResultOverride
from app.services import CLI, current_result, return_to_draft, save_answers, submit
from app.services.assessments import answers_of, context
from tests.builders import attested

from .conftest import signed_in, text
from .reviewing import build_review_world, export_file


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"])


def squash(response) -> str:
    return " ".join(text(response).split())


def engine_result(url: str, assessment_id: int, overrides: rules.Overrides | None) -> dict:
    """The rules engine's own result for the stored answers, with these overrides: the reference."""
    with db.session_scope(url) as session:
        ctx = context(session, assessment_id)
        answers = {k: v for k, v in answers_of(session, assessment_id).items() if v is not None}
        return rules.score_submission(ctx.standards, rules.Submission(member=ctx.member, answers=answers), overrides)


def stored(url: str, assessment_id: int) -> dict:
    with db.session_scope(url) as session:
        return current_result(session, assessment_id).result


def without_hash(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "standards_hash"}


REASON = "Visit on 3 June: theatre log shows 86% within 36 hours; the submitted figure used the old definition."


def test_a_criterion_override_is_recomputed_through_the_engine_shown_and_audited(app, rw):
    url, a = rw.world.url, rw.assessments["breach"]
    before = stored(url, a)
    assert any(b["criterion"] == "C2.1" for b in before["breaches"])
    lead = signed_in(app, rw.world, "lead")
    response = lead.post(
        f"/review/assessments/{a}/overrides", {"kind": "criterion", "criterion": "C2.1", "score": "1", "reason": REASON}
    )
    assert response.status_code == 302, text(response)[:2000]
    after = stored(url, a)
    reference = engine_result(url, a, rules.Overrides(criteria={"C2.1": rules.CriterionOverride(1, REASON)}))
    assert without_hash(after) == without_hash(reference)
    # Full credit on a metric is the green band: no breach, and the stored breach rows follow the result.
    assert not any(b["criterion"] == "C2.1" for b in after["breaches"])
    assert after["criteria"]["C2.1"]["status"] == "overridden"
    assert after["overrides"] == [
        {"kind": "criterion", "id": "C2.1", "standard": "C2", "from": 0.0, "to": 1, "reason": REASON}
    ]
    with db.session_scope(url) as session:
        result = current_result(session, a)
        assert (
            session.exec(select(Breach).where(Breach.result_id == result.id, Breach.criterion_id == "C2.1")).all() == []
        )
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "override.set")).one()
        assert event.actor == "lead@alliance.test" and event.after["override"]["reason"] == REASON
        assert event.before["criterion_score"] == before["criteria"]["C2.1"]["score"]
        assert event.after["criterion_score"] == after["criteria"]["C2.1"]["score"]
        assert (event.before["criterion_status"], event.after["criterion_status"]) == ("scored", "overridden")
        assert event.before["overall"] == before["overall"] and event.after["overall"] == after["overall"]
        assert event.occurred_at is not None
    page = squash(lead.get(f"/review/assessments/{a}"))
    table = page[page.index('id="overrides-table"') :]
    assert "Criterion C2.1" in table and "score 0" in table and "score 1" in table and "old definition" in table
    member = squash(signed_in(app, rw.world, "member_breach").get(f"/member/assessments/{a}/result"))
    assert "Changes the alliance lead made to your result" in member and "old definition" in member
    summary = squash(lead.get(f"/review/assessments/{a}/summary"))
    assert "Overrides by the alliance lead" in summary
    csv_text = export_file(lead, rw.world.cycle_id, "results", "csv").get_data(as_text=True)
    assert "overrides" in csv_text.splitlines()[0]


def test_a_standard_override_sets_its_status_and_records_the_engine_status(app, rw):
    url, a = rw.world.url, rw.assessments["clean"]
    engine_status = stored(url, a)["standard_results"]["C1"]["status"]
    target = "not_met" if engine_status == "met" else "met"
    lead = signed_in(app, rw.world, "lead")
    assert (
        lead.post(
            f"/review/assessments/{a}/overrides",
            {"kind": "standard", "standard": "C1", "status": target, "reason": "Peer review finding"},
        ).status_code
        == 302
    )
    after = stored(url, a)
    assert after["standard_results"]["C1"]["status"] == target
    assert after["overrides"] == [
        {
            "kind": "standard",
            "id": "C1",
            "standard": "C1",
            "from": engine_status,
            "to": target,
            "reason": "Peer review finding",
        }
    ]
    reference = engine_result(
        url, a, rules.Overrides(standards={"C1": rules.StandardOverride(target, "Peer review finding")})
    )
    assert without_hash(after) == without_hash(reference)


def test_an_override_survives_rescoring_and_stays_with_its_criterion(app, rw):
    url, a = rw.world.url, rw.assessments["breach"]
    lead = signed_in(app, rw.world, "lead")
    lead.post(
        f"/review/assessments/{a}/overrides",
        {"kind": "criterion", "criterion": "C2.1", "score": "0.5", "reason": REASON},
    )
    # Returned to the member, who changes another answer and submits again: the result is scored afresh.
    with db.session_scope(url) as session:
        return_to_draft(session, CLI, a, "Please update the length of stay figure.")
    with db.session_scope(url) as session:
        outcome = save_answers(session, CLI, a, {"C2.2": 9.5})
        assert outcome.ok, outcome.errors
        submit(session, CLI, a, attested())
    after = stored(url, a)
    assert after["criteria"]["C2.1"]["status"] == "overridden"
    assert [(o["id"], o["to"]) for o in after["overrides"]] == [("C2.1", 0.5)]
    reference = engine_result(url, a, rules.Overrides(criteria={"C2.1": rules.CriterionOverride(0.5, REASON)}))
    assert without_hash(after) == without_hash(reference)
    # Half credit on a metric is amber: a minor breach, not a major one.
    assert [(b["criterion"], b["severity"]) for b in after["breaches"] if b["criterion"] == "C2.1"] == [
        ("C2.1", "minor")
    ]
    assert answers_after(url, a)["C2.2"] == 9.5


def answers_after(url: str, a: int) -> dict:
    with db.session_scope(url) as session:
        return answers_of(session, a)


def test_replacing_and_removing_an_override(app, rw):
    url, a = rw.world.url, rw.assessments["breach"]
    original = stored(url, a)
    lead = signed_in(app, rw.world, "lead")
    lead.post(
        f"/review/assessments/{a}/overrides",
        {"kind": "criterion", "criterion": "C2.1", "score": "1", "reason": "First look"},
    )
    lead.post(
        f"/review/assessments/{a}/overrides",
        {"kind": "criterion", "criterion": "C2.1", "score": "0.5", "reason": "Second look"},
    )
    with db.session_scope(url) as session:
        rows = session.exec(select(ResultOverride)).all()
        assert [(r.target_id, r.value, r.reason) for r in rows] == [("C2.1", 0.5, "Second look")]
        second = session.exec(
            select(AuditEvent).where(AuditEvent.action == "override.set").order_by(AuditEvent.id)
        ).all()[-1]
        assert second.before["override"] == {"value": 1, "reason": "First look"}
        row_id = rows[0].id
    assert lead.post(f"/review/assessments/{a}/overrides/{row_id}/remove").status_code == 302
    restored = stored(url, a)
    assert without_hash(restored) == without_hash(engine_result(url, a, None))
    assert (restored["overall"], restored["outcome"], restored["breaches"]) == (
        original["overall"],
        original["outcome"],
        original["breaches"],
    )
    assert not restored.get("overrides")
    with db.session_scope(url) as session:
        assert (
            session.exec(select(AuditEvent).where(AuditEvent.action == "override.removed"))
            .one()
            .before["override"]["reason"]
            == "Second look"
        )
    trail = text(lead.get("/review/audit?action=override.removed"))
    assert "override.removed" in trail and "Second look" in trail
    assert "override.removed" not in text(signed_in(app, rw.world, "lead_y").get("/review/audit"))


@pytest.mark.parametrize(
    "form, message",
    [
        ({"kind": "criterion", "criterion": "C2.1", "score": "1", "reason": "  "}, "Give the reason for the override"),
        ({"kind": "criterion", "criterion": "C2.1", "score": "2", "reason": "x"}, "Enter a number from 0 to 1"),
        ({"kind": "criterion", "criterion": "C2.1", "score": "lots", "reason": "x"}, "not &#39;lots&#39;"),
        ({"kind": "criterion", "criterion": "", "score": "1", "reason": "x"}, "Choose the criterion to override"),
        ({"kind": "criterion", "criterion": "C3.1", "score": "1", "reason": "x"}, "does not apply to this member"),
        ({"kind": "criterion", "criterion": "P1.2", "score": "1", "reason": "x"}, "A text criterion is not scored"),
        ({"kind": "standard", "standard": "C1", "status": "exemplary", "reason": "x"}, "Choose met or not met"),
        ({"kind": "colour", "reason": "x"}, "is not criterion or standard"),
    ],
)
def test_bad_overrides_are_refused_with_the_problem_named(app, rw, form, message):
    url, a = rw.world.url, rw.assessments["breach"]
    before = stored(url, a)
    response = signed_in(app, rw.world, "lead").post(f"/review/assessments/{a}/overrides", form)
    assert response.status_code == 200 and message in text(response), text(response)[-6000:]
    assert stored(url, a) == before
    with db.session_scope(url) as session:
        assert session.exec(select(ResultOverride)).all() == []


def test_a_decided_assessment_cannot_be_overridden(app, rw):
    lead = signed_in(app, rw.world, "lead")
    response = lead.post(
        f"/review/assessments/{rw.assessments['breach_earlier']}/overrides",
        {"kind": "criterion", "criterion": "C2.1", "score": "1", "reason": "late"},
    )
    assert response.status_code == 200
    assert "only a submitted self-assessment awaiting a decision can be overridden" in text(response)

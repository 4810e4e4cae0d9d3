"""The service layer on a real, freshly migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL).

Scores are checked against values worked out by hand from the standards
contract for the small test set in conftest, not copied from the engine.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import func, select

from app import db, services
from app.models import (
    Answer,
    Assessment,
    AssessmentResult,
    AuditEvent,
    Breach,
    Decision,
    Evidence,
    Membership,
    MembershipStatusChange,
    Organisation,
)
from app.services import SubmissionRefused
from app.services.evidence import attach_file, detach_file
from app.uploads import UploadRefused, UploadStore
from tests.builders import attested
from tests.conftest import PERFECT

LINK = "https://documents.test.example/rrj/q1-1"


def count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def actions(session) -> list[str]:
    return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all())


def complete(session, world, assessment_id, answers=None):
    """Answer everything the test set requires and attach the one required piece of evidence."""
    outcome = services.save_answers(session, world.member, assessment_id, dict(answers or PERFECT))
    assert outcome.ok, outcome.errors
    services.add_evidence(session, world.member, assessment_id, "Q1.1", kind="link", url=LINK)


# --- organisations and memberships -----------------------------------------------------------------


def test_register_organisation_lists_every_problem_and_writes_nothing(session):
    with pytest.raises(services.ServiceError) as refused:
        services.register_organisation(
            session, services.CLI, name=" ", ods_code="r-1", org_type="Acute Trust", region="", latitude=52.0
        )
    message = str(refused.value)
    for field in ("name: required", "ods_code:", "org_type:", "region: required", "coordinates:"):
        assert field in message
    assert count(session, Organisation) == 0 and count(session, AuditEvent) == 0


def test_register_organisation_normalises_code_and_refuses_a_duplicate(session):
    org = services.register_organisation(
        session,
        services.CLI,
        name="Dartford and Gravesham NHS Trust",
        ods_code=" rn7 ",
        org_type="acute",
        region="North Kent",
        latitude=51.437,
        longitude=0.258,
    )
    assert org.ods_code == "RN7"
    with pytest.raises(services.ServiceError, match="RN7 is already registered"):
        services.register_organisation(
            session, services.CLI, name="Another", ods_code="RN7", org_type="acute", region="Kent"
        )
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "organisation.registered")).one()
    assert event.entity_id == org.id and event.after["ods_code"] == "RN7" and event.actor == "cli"


def test_apply_for_membership_checks_route_specialty_and_duplicates(session, world):
    org = services.register_organisation(
        session,
        services.CLI,
        name="The Walton Centre NHS FT",
        ods_code="RET",
        org_type="specialist",
        region="Cheshire and Merseyside",
    )
    with pytest.raises(services.ServiceError, match="'associate' is not a route"):
        services.apply_for_membership(
            session, services.CLI, organisation_id=org.id, alliance_id=world.alliance_id, route="associate"
        )
    with pytest.raises(services.ServiceError, match="specialty route needs a specialty"):
        services.apply_for_membership(
            session, services.CLI, organisation_id=org.id, alliance_id=world.alliance_id, route="specialty"
        )
    spinal = services.apply_for_membership(
        session,
        services.CLI,
        organisation_id=org.id,
        alliance_id=world.alliance_id,
        route="specialty",
        specialty="spinal",
    )
    assert (spinal.status, spinal.specialty) == ("applicant", "spinal")
    with pytest.raises(services.ServiceError, match="already has a specialty membership"):
        services.apply_for_membership(
            session, services.CLI, organisation_id=org.id, alliance_id=world.alliance_id, route="full"
        )
    other_specialty = services.apply_for_membership(
        session,
        services.CLI,
        organisation_id=org.id,
        alliance_id=world.alliance_id,
        route="specialty",
        specialty="paediatric-orthopaedics",
    )
    assert other_specialty.id != spinal.id
    history = services.history(session, spinal.id)
    assert [(h.from_status, h.to_status) for h in history] == [(None, "applicant")]


def test_standards_versions_are_published_then_retired_and_never_change(session, world, standards_path):
    version = services.latest_published(session, "test-set")
    assert services.register_version(session, standards_path, services.CLI).id == version.id  # same content
    standards_path.write_text(standards_path.read_text().replace("Criterion Q1.1", "Changed"), encoding="utf-8")
    with pytest.raises(services.ServiceError, match="already registered with different content"):
        services.register_version(session, standards_path, services.CLI)
    with pytest.raises(services.ServiceError, match="is published; it cannot become draft"):
        services.set_version_state(session, world.admin, version.id, "draft")
    services.set_version_state(session, world.admin, version.id, "retired")
    assert services.latest_published(session, "test-set") is None
    with pytest.raises(services.ServiceError, match="has no published standards yet"):
        services.open_assessment(session, world.member, membership_id=world.membership_id, cycle_id=world.cycle_ids[0])
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "standards.state_changed")).one()
    assert (event.before["state"], event.after["state"]) == ("published", "retired")


def test_create_user_enforces_role_ties(session, world):
    with pytest.raises(services.ServiceError) as refused:
        services.create_user(
            session,
            services.CLI,
            email="not-an-email",
            name="X",
            password="short",
            role="member",
            alliance_id=world.alliance_id,
        )
    message = str(refused.value)
    assert "email: not an email address" in message and "at least 12 characters" in message
    assert "member user belongs to exactly one organisation" in message
    with pytest.raises(services.ServiceError, match="already has an account"):
        services.create_user(
            session,
            services.CLI,
            email="LEAD@test.example",
            name="X",
            password="a long enough password",
            role="lead",
            alliance_id=world.alliance_id,
        )
    assert services.authenticate(session, "Member@Test.Example", "member-password-123").role == "member"
    assert services.authenticate(session, "member@test.example", "wrong-password-123") is None


# --- opening, saving -------------------------------------------------------------------------------


def test_open_assessment_once_per_cycle_on_the_latest_published_version(session, world):
    assessment_id = world.open(session)
    assessment = session.get(Assessment, assessment_id)
    assert (assessment.status, assessment.standards_version_id) == ("draft", world.version_id)
    with pytest.raises(services.ServiceError, match="already has an assessment for 2025/26"):
        world.open(session)
    other = services.create_alliance(session, services.CLI, slug="other", name="Other", standards_set="test-set")
    cycle = services.open_cycle(
        session,
        services.CLI,
        alliance_id=other.id,
        name="2026/27",
        opens_on=dt.date(2026, 4, 1),
        closes_on=dt.date(2027, 3, 31),
    )
    with pytest.raises(services.ServiceError, match="belongs to another alliance"):
        services.open_assessment(session, world.member, membership_id=world.membership_id, cycle_id=cycle.id)


def test_open_cycle_refuses_bad_names_dates_and_overlaps(session, world):
    with pytest.raises(services.ServiceError) as refused:
        services.open_cycle(
            session,
            services.CLI,
            alliance_id=world.alliance_id,
            name="2026-27",
            opens_on=dt.date(2026, 4, 1),
            closes_on=dt.date(2026, 3, 1),
        )
    assert "name: a financial year such as 2026/27" in str(refused.value)
    assert "closes_on: must be after opens_on" in str(refused.value)
    with pytest.raises(services.ServiceError, match="overlap cycle 2026/27"):
        services.open_cycle(
            session,
            services.CLI,
            alliance_id=world.alliance_id,
            name="2027/28",
            opens_on=dt.date(2027, 1, 1),
            closes_on=dt.date(2028, 3, 31),
        )


def test_save_keeps_every_valid_answer_and_names_each_invalid_one(session, world):
    assessment_id = world.open(session)
    outcome = services.save_answers(
        session,
        world.member,
        assessment_id,
        {
            "Q1.1": "yes",  # valid
            "Q1.2": 7,  # level out of range (0..4)
            "Q1.3": "lots",  # metric needs a number
            "Q2.1": 2.9,  # valid
            "Q2.2": "na",  # valid: allow_na
            "P1.1": "na",  # na not allowed here
            "Q3.1": "yes",  # standard applies to spinal specialty members only
            "Z9.9": "yes",  # no such criterion
        },
    )
    assert sorted(outcome.saved) == ["Q1.1", "Q2.1", "Q2.2"]
    assert set(outcome.errors) == {"Q1.2", "Q1.3", "P1.1", "Q3.1", "Z9.9"}
    assert "Q1.2" in outcome.errors and "4" in outcome.errors["Q1.2"]
    assert "number" in outcome.errors["Q1.3"]
    assert "na" in outcome.errors["P1.1"]
    assert outcome.errors["Q3.1"] == "this criterion does not apply to this membership"
    assert outcome.errors["Z9.9"] == "no such criterion in these standards"
    assert services.answers_of(session, assessment_id) == {"Q1.1": "yes", "Q2.1": 2.9, "Q2.2": "na"}


def test_a_save_with_errors_leaves_the_stored_answer_of_a_refused_criterion(session, world):
    assessment_id = world.open(session)
    services.save_answers(session, world.member, assessment_id, {"Q1.2": 3, "Q1.3": 80})
    outcome = services.save_answers(session, world.member, assessment_id, {"Q1.2": 9, "Q1.3": 88})
    assert outcome.errors.keys() == {"Q1.2"} and outcome.saved == ["Q1.3"]
    assert services.answers_of(session, assessment_id) == {"Q1.2": 3, "Q1.3": 88}


def test_none_or_blank_clears_an_answer_and_notes_are_kept(session, world):
    assessment_id = world.open(session)
    services.save_answers(
        session,
        world.member,
        assessment_id,
        {"Q1.1": "yes", "Q2.3": "network hub at X"},
        notes={"Q1.1": "lead named in the job plan"},
    )
    services.save_answers(session, world.member, assessment_id, {"Q1.1": "no"})  # no note given: note stays
    row = session.exec(select(Answer).where(Answer.criterion_id == "Q1.1")).one()
    session.refresh(row)
    assert (row.value, row.note) == ("no", "lead named in the job plan")
    outcome = services.save_answers(
        session, world.member, assessment_id, {"Q1.1": None, "Q2.3": "   "}, notes={"Q1.1": ""}
    )
    assert sorted(outcome.cleared) == ["Q1.1", "Q2.3"]
    assert services.answers_of(session, assessment_id) == {}


def test_every_change_is_audited_with_before_and_after(session, world):
    assessment_id = world.open(session)
    services.save_answers(session, world.member, assessment_id, {"Q1.3": 80})
    services.save_answers(session, world.member, assessment_id, {"Q1.3": 86})
    saves = session.exec(select(AuditEvent).where(AuditEvent.action == "answers.saved").order_by(AuditEvent.id)).all()
    assert [(e.before, e.after) for e in saves] == [({"Q1.3": None}, {"Q1.3": 80}), ({"Q1.3": 80}, {"Q1.3": 86})]
    assert all(e.actor == "member@test.example" and e.actor_id == world.member.user_id for e in saves)
    assert actions(session)[-3:] == ["assessment.opened", "answers.saved", "answers.saved"]


# --- nothing lost ----------------------------------------------------------------------------------


def test_a_failing_unit_of_work_leaves_earlier_answers_intact(session_factory, world):
    with session_factory() as session:
        assessment_id = world.open(session)
        services.save_answers(session, world.member, assessment_id, {"Q1.1": "yes", "Q1.3": 80})
    audit_before = None
    with session_factory() as session:
        audit_before = count(session, AuditEvent)
    with pytest.raises(RuntimeError):
        with session_factory() as session:
            services.save_answers(session, world.member, assessment_id, {"Q1.3": 99, "Q2.1": 2.0})
            raise RuntimeError("the request failed after the save")
    with session_factory() as session:
        assert services.answers_of(session, assessment_id) == {"Q1.1": "yes", "Q1.3": 80}
        assert count(session, AuditEvent) == audit_before  # the change and its audit went together


def test_a_refused_submission_lists_everything_missing_and_changes_nothing(session_factory, world):
    with session_factory() as session:
        assessment_id = world.open(session)
        services.save_answers(session, world.member, assessment_id, {"Q1.1": "yes", "Q1.3": 80, "Q2.3": "text"})
    with pytest.raises(SubmissionRefused) as refused:
        with session_factory() as session:
            services.submit(session, world.member, assessment_id, attested())
    missing = refused.value.missing
    assert [(m["criterion"], m["reason"]) for m in missing] == [
        ("Q1.1", "evidence required"),
        ("Q1.2", "answer required"),
        ("Q2.1", "answer required"),
        ("Q2.2", "answer required"),
        ("P1.1", "answer required"),
    ]
    assert "5 item(s) missing" in str(refused.value) and "Q1.2: answer required" in str(refused.value)
    with session_factory() as session:
        assert services.answers_of(session, assessment_id) == {"Q1.1": "yes", "Q1.3": 80, "Q2.3": "text"}
        assert session.get(Assessment, assessment_id).status == "draft"
        assert count(session, AssessmentResult) == 0
        assert "assessment.submitted" not in actions(session)


def test_na_answer_needs_no_evidence_but_a_scored_answer_does(session, world):
    assessment_id = world.open(session)
    services.save_answers(session, world.member, assessment_id, {**PERFECT, "Q2.2": "na"})
    ctx = services.assessments.context(session, assessment_id)
    assert services.missing_for_submission(session, ctx) == [
        {"criterion": "Q1.1", "standard": "Q1", "reason": "evidence required"}
    ]


# --- submit, score, store ---------------------------------------------------------------------------


def test_submit_scores_with_the_engine_and_stores_result_and_breaches(session, world):
    assessment_id = world.open(session)
    complete(session, world, assessment_id, {**PERFECT, "Q1.3": 82})
    stored = services.submit(session, world.member, assessment_id, attested())
    # By hand: Q1 = (1 + 1 + 0.5) / 3 = 83.33 (met, minor breach only); Q2 = 100; quality = 91.67;
    # people (P1.1 green; P1.2 optional, unanswered, left out) = 100; overall = (2 x 91.67 + 100) / 3.
    assert stored.overall == pytest.approx(94.4)
    assert (stored.rating, stored.outcome) == ("exemplary", "accredited_with_conditions")
    assert stored.result["standard_results"]["Q1"] == {"score": 83.3, "status": "met"}
    assert stored.standards_hash == services.parsed(services.latest_published(session, "test-set")).content_hash
    breach = session.exec(select(Breach)).one()
    assert (breach.criterion_id, breach.standard_id, breach.value, breach.target, breach.severity) == (
        "Q1.3",
        "Q1",
        82,
        85,
        "minor",
    )
    assessment = session.get(Assessment, assessment_id)
    assert assessment.status == "submitted" and assessment.submitted_at is not None
    assert services.current_result(session, assessment_id).id == stored.id
    with pytest.raises(services.ServiceError, match="only a draft can be changed"):
        services.save_answers(session, world.member, assessment_id, {"Q1.3": 90})
    with pytest.raises(services.ServiceError, match="only a draft can be changed"):
        services.submit(session, world.member, assessment_id, attested())
    assert actions(session)[-2:] == ["result.stored", "assessment.submitted"]


def test_submitted_result_has_its_headline_and_rows_inserted_many_at_once_read_back_as_written(session, world):
    from app.services.common import audit_many, insert_rows

    assessment_id = world.open(session)
    complete(session, world, assessment_id, {**PERFECT, "Q1.3": 82})
    stored = services.submit(session, world.member, assessment_id, attested())
    assert stored.headline == {
        "standard_results": {
            sid: {"score": r["score"], "status": r["status"]} for sid, r in stored.result["standard_results"].items()
        },
        "breaches": [{"criterion": "Q1.3", "standard": "Q1", "severity": "minor"}],
        "support_needs": stored.result["support_needs"],
    }
    rows = [
        {
            "result_id": stored.id,
            "assessment_id": assessment_id,
            "criterion_id": f"X{i}",
            "standard_id": "Q9",
            "value": value,
            "target": 90,
            "direction": "higher",
            "severity": "major",
        }
        for i, value in enumerate([85, 7.5, 0, 1e-7])
    ]  # whole and decimal numbers in one column
    insert_rows(session, Breach.__table__, rows)
    got = session.exec(
        select(Breach.criterion_id, Breach.value, Breach.target)
        .where(Breach.standard_id == "Q9")
        .order_by(Breach.criterion_id)
    ).all()
    assert [tuple(g) for g in got] == [("X0", 85, 90), ("X1", 7.5, 90), ("X2", 0, 90), ("X3", 1e-7, 90)]
    audit_many(session, services.CLI, "probe.many", "assessment", [(assessment_id, None, {"note": "l'été \\ \""})])
    services.audit(
        session,
        services.CLI,
        "probe.one",
        entity_type="assessment",
        entity_id=assessment_id,
        after={"note": "l'été \\ \""},
    )
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action.in_(["probe.many", "probe.one"])).order_by(AuditEvent.id)
    ).all()
    assert [(e.entity_id, e.before, e.after) for e in events] == [(assessment_id, None, {"note": "l'été \\ \""})] * 2
    raw = session.execute(text("SELECT before FROM auditevent WHERE action IN ('probe.many', 'probe.one')")).all()
    assert raw[0] == raw[1]  # stored the same way whichever function wrote it


def test_rows_go_to_postgresql_as_binary_copy_and_a_value_the_column_refuses_names_it(session, world):
    from psycopg.errors import DataError

    from app.services.common import _binary_copy_types, insert_rows

    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("binary COPY is PostgreSQL's")
    connection = session.connection()
    for table in (AssessmentResult.__table__, Breach.__table__, AuditEvent.__table__):  # what rescoring writes
        names = [c.name for c in table.columns if c.name != "id"]
        assert _binary_copy_types(connection, table.name, names) is not None, table.name
    assessment_id = world.open(session)
    complete(session, world, assessment_id, {**PERFECT, "Q1.3": 82})
    stored = services.submit(session, world.member, assessment_id, attested())
    row = {
        "result_id": stored.id,
        "assessment_id": assessment_id,
        "criterion_id": "X" * 65,
        "standard_id": "Q9",
        "value": 1,
        "target": 2,
        "direction": "higher",
        "severity": "major",
    }
    with pytest.raises(DataError, match="criterion_id"):
        with session.begin_nested():
            insert_rows(session, Breach.__table__, [row])


def test_rows_inserted_with_their_ids_and_updated_by_key_many_at_once(session, world):
    from app.db import json_text
    from app.services.common import insert_returning_ids, update_rows

    now = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.timezone.utc)
    rows = [
        {
            "occurred_at": now,
            "actor": "cli",
            "action": "probe.ids",
            "entity_type": "probe",
            "entity_id": entity,
            "before": None,
            "after": {"n": entity},
        }
        for entity in (30, 10, 20)
    ]
    ids = insert_returning_ids(session, AuditEvent.__table__, rows, distinct_by=("entity_id",))
    assert [session.get(AuditEvent, i).entity_id for i in ids] == [30, 10, 20]
    assessment_id = world.open(session)
    services.save_answers(session, world.member, assessment_id, {"Q1.1": "yes", "Q1.2": 4, "Q1.3": 70})
    answers = {a.criterion_id: a.id for a in session.exec(select(Answer).where(Answer.assessment_id == assessment_id))}
    update_rows(
        session,
        Answer.__table__,
        "id",
        [
            {"id": answers["Q1.3"], "value": 82.5, "note": "l'été \\ \""},
            {"id": answers["Q1.1"], "value": None, "note": ""},
        ],
    )
    session.expire_all()
    found = {
        a.criterion_id: (a.value, a.note)
        for a in session.exec(select(Answer).where(Answer.assessment_id == assessment_id))
    }
    assert found == {"Q1.1": (None, ""), "Q1.2": (4, found["Q1.2"][1]), "Q1.3": (82.5, "l'été \\ \"")}
    assert json_text({1: "a"}) == '{"1":"a"}' and json_text({"big": 2**70}) == '{"big": 1180591620717411303424}'


def test_score_of_a_draft_shows_what_is_missing_without_storing(session, world):
    assessment_id = world.open(session)
    services.save_answers(session, world.member, assessment_id, {"Q1.1": "yes", "Q1.2": 4, "Q1.3": 70})
    result = services.score(session, assessment_id)
    assert result["unanswered"] == ["Q2.1", "Q2.2", "P1.1"]
    assert [(b["criterion"], b["severity"]) for b in result["breaches"]] == [("Q1.3", "major")]
    assert result["standard_results"]["Q1"]["status"] == "not_met"  # major breach
    assert count(session, AssessmentResult) == 0


def test_review_and_return_to_draft(session, world):
    assessment_id = world.open(session)
    with pytest.raises(services.ServiceError, match="only submitted can become under review"):
        services.start_review(session, world.lead, assessment_id)
    complete(session, world, assessment_id)
    services.submit(session, world.member, assessment_id, attested())
    services.start_review(session, world.lead, assessment_id)
    assert session.get(Assessment, assessment_id).status == "under_review"
    with pytest.raises(services.ServiceError, match="tell the member"):
        services.return_to_draft(session, world.lead, assessment_id, "  ")
    services.return_to_draft(session, world.lead, assessment_id, "Q1.3 value looks like last year's")
    assert session.get(Assessment, assessment_id).status == "draft"
    assert services.answers_of(session, assessment_id) == PERFECT
    stored = services.submit(session, world.member, assessment_id, attested())
    results = session.exec(select(AssessmentResult).where(AssessmentResult.assessment_id == assessment_id)).all()
    assert len(results) == 2 and [r.id for r in results if r.is_current] == [stored.id]


def test_record_decision_moves_the_membership_and_is_refused_when_not_allowed(session, world):
    assessment_id = world.open(session)
    with pytest.raises(services.ServiceError, match="only a submitted assessment can be decided"):
        services.record_decision(session, world.lead, assessment_id, "accredit")
    complete(session, world, assessment_id)
    services.submit(session, world.member, assessment_id, attested())
    with pytest.raises(services.ServiceError, match="needs the conditions and a due date"):
        services.record_decision(session, world.lead, assessment_id, "accredit_with_conditions", conditions="x")
    with pytest.raises(services.ServiceError, match="'approve' is not one of"):
        services.record_decision(session, world.lead, assessment_id, "approve")
    decision = services.record_decision(session, world.lead, assessment_id, "accredit", notes="panel 3 March")
    membership = session.get(Membership, world.membership_id)
    assert membership.status == "accredited" and membership.joined_on is not None
    assert decision.decided_by == world.lead.user_id
    assert session.get(Assessment, assessment_id).status == "decided"
    with pytest.raises(services.ServiceError, match="only a submitted assessment can be decided"):
        services.record_decision(session, world.lead, assessment_id, "working_towards")
    # A decline is only for an applicant: refused for an accredited member, and nothing is written.
    second = world.open(session, cycle=1)
    complete(session, world, second)
    services.submit(session, world.member, second, attested())
    before = (count(session, Decision), count(session, MembershipStatusChange), count(session, AuditEvent))
    with pytest.raises(services.TransitionRefused, match="cannot go from accredited to declined"):
        services.record_decision(session, world.lead, second, "decline")
    assert (count(session, Decision), count(session, MembershipStatusChange), count(session, AuditEvent)) == before
    assert session.get(Assessment, second).status == "submitted"


# --- evidence and the upload store ----------------------------------------------------------------


def test_link_evidence_is_checked(session, world):
    assessment_id = world.open(session)
    with pytest.raises(services.ServiceError, match="must start with https://"):
        services.add_evidence(session, world.member, assessment_id, "Q1.1", kind="link", url="javascript:alert(1)")
    with pytest.raises(services.ServiceError, match="Q3.1: no such criterion applies"):
        services.add_evidence(session, world.member, assessment_id, "Q3.1", kind="link", url=LINK)
    evidence = services.add_evidence(session, world.member, assessment_id, "Q1.1", kind="link", url=LINK)
    assert services.evidence_of(session, assessment_id, "Q1.1") == [evidence]
    services.remove_evidence(session, world.member, evidence.id)
    assert services.evidence_of(session, assessment_id) == []
    removed = session.exec(select(AuditEvent).where(AuditEvent.action == "evidence.removed")).one()
    assert removed.before["url"] == LINK


PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


def test_upload_store_keeps_a_file_under_a_random_key_and_records_it(session_factory, world, tmp_path):
    store = UploadStore(tmp_path / "uploads")
    with session_factory() as session:
        assessment_id = world.open(session)
        evidence = attach_file(
            session,
            world.member,
            assessment_id,
            "Q1.1",
            data=PDF,
            filename="..\\..\\board/paper: Q1.pdf",
            content_type="application/pdf",
            store=store,
        )
    assert evidence.filename == "paper: Q1.pdf" and evidence.content_type == "application/pdf"
    assert evidence.size == len(PDF) and len(evidence.sha256) == 64
    path = store.path(evidence.storage_key)
    assert path.is_relative_to(store.root) and path.read_bytes() == PDF
    assert "paper" not in str(path)
    with store.open(evidence.storage_key) as stored:
        assert stored.read() == PDF
    with session_factory() as session:
        detach_file(session, world.member, evidence.id, store=store)
    assert not path.exists()


def test_upload_store_refuses_wrong_type_size_and_content(tmp_path):
    store = UploadStore(tmp_path / "uploads", max_bytes=1000)
    cases = [
        (b"MZ\x90\x00", "tool.exe", None, "files of this type cannot be uploaded"),
        (PDF, "report.pdf", "image/png", "does not match a .pdf file"),
        (b"<html>not a pdf</html>", "report.pdf", "application/pdf", "the content is not a PDF"),
        (b"%PDF-" + b"x" * 2000, "big.pdf", "application/pdf", "larger than the"),
        (b"", "empty.txt", "text/plain", "the file is empty"),
        (b"a,b\x00\x01", "data.csv", "text/csv", "binary data"),
    ]
    for data, name, content_type, message in cases:
        with pytest.raises(UploadRefused, match=message):
            store.save(data, name, content_type)
    assert [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()] == []
    with pytest.raises(UploadRefused, match="not a storage key"):
        store.path("../../etc/passwd")
    csv = store.save(b"month,value\n2026-04,91.2\n", "audit.CSV", "application/vnd.ms-excel")
    assert (csv.filename, csv.content_type) == ("audit.csv", "text/csv")


def test_an_upload_in_a_rolled_back_unit_of_work_leaves_no_file(session_factory, world, tmp_path):
    store = UploadStore(tmp_path / "uploads")
    with session_factory() as session:
        assessment_id = world.open(session)
    with pytest.raises(RuntimeError):
        with session_factory() as session:
            attach_file(session, world.member, assessment_id, "Q1.1", data=PDF, filename="a.pdf", store=store)
            raise RuntimeError("failed later in the request")
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    with pytest.raises(services.ServiceError, match="Q3.1: no such criterion applies"):
        with session_factory() as session:
            attach_file(session, world.member, assessment_id, "Q3.1", data=PDF, filename="a.pdf", store=store)
    assert [p for p in store.root.rglob("*") if p.is_file()] == []
    with session_factory() as session:
        assert count(session, Evidence) == 0


# --- the audit log ---------------------------------------------------------------------------------


def test_the_upload_store_stands_alone_below_the_services():
    """``app.uploads`` only keeps bytes: importing it loads no service (evidence rules live above it)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, app.uploads; print(*sorted(sys.modules))"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = loaded.stdout.split()
    assert "app.uploads" in modules and [m for m in modules if m.startswith("app.services")] == []


def test_the_database_refuses_to_change_or_delete_audit_events(session_factory, world):
    for statement in ("UPDATE auditevent SET actor = 'someone else'", "DELETE FROM auditevent"):
        with pytest.raises(DBAPIError, match="append-only"):
            with session_factory() as session:
                session.execute(text(statement))
    with session_factory() as session:
        assert count(session, AuditEvent) > 0
        assert set(session.exec(select(AuditEvent.actor)).all()) == {"cli"}


# --- concurrency -----------------------------------------------------------------------------------


def _race(session_factory, world, assessment_id, saves: list[dict], hold: float = 0.3):
    """Run the saves at once, each in its own thread and unit of work; the first holds its transaction
    open a while after saving, so the others really overlap it."""
    barrier = threading.Barrier(len(saves))
    errors: list[BaseException] = []

    def run(index: int, answers: dict) -> None:
        try:
            barrier.wait(timeout=10)
            if index:
                time.sleep(0.05)
            with session_factory() as session:
                outcome = services.save_answers(session, world.member, assessment_id, answers)
                assert outcome.ok, outcome.errors
                if index == 0:
                    time.sleep(hold)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(saves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_concurrent_saves_of_different_criteria_both_persist(session_factory, world):
    with session_factory() as session:
        assessment_id = world.open(session)
        services.save_answers(session, world.member, assessment_id, {"Q2.2": "partial"})
    _race(session_factory, world, assessment_id, [{"Q1.1": "yes", "Q1.3": 88}, {"Q2.1": 2.5, "P1.1": 93}])
    with session_factory() as session:
        assert services.answers_of(session, assessment_id) == {
            "Q1.1": "yes",
            "Q1.3": 88,
            "Q2.1": 2.5,
            "Q2.2": "partial",
            "P1.1": 93,
        }
        assert count(session, AuditEvent, AuditEvent.action == "answers.saved") == 3


def test_concurrent_saves_of_one_criterion_last_writer_wins(session_factory, world):
    with session_factory() as session:
        assessment_id = world.open(session)
    for round_ in range(3):
        first, second = 80 + round_, 90 + round_
        _race(session_factory, world, assessment_id, [{"Q1.3": first}, {"Q1.3": second}])
        with session_factory() as session:
            saves = session.exec(
                select(AuditEvent).where(AuditEvent.action == "answers.saved").order_by(AuditEvent.id.desc()).limit(2)
            ).all()
            # Both saves went through; the one recorded last is the one that stands.
            assert sorted(e.after["Q1.3"] for e in saves) == [first, second]
            assert services.answers_of(session, assessment_id) == {"Q1.3": saves[0].after["Q1.3"]}


def test_a_save_racing_a_submission_is_either_in_the_submission_or_refused(session_factory, world):
    with session_factory() as session:
        assessment_id = world.open(session)
        complete(session, world, assessment_id)
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def submit() -> None:
        barrier.wait(timeout=10)
        with session_factory() as session:
            outcome["result"] = services.submit(session, world.member, assessment_id, attested()).result
            time.sleep(0.2)

    def save() -> None:
        barrier.wait(timeout=10)
        time.sleep(0.05)
        try:
            with session_factory() as session:
                services.save_answers(session, world.member, assessment_id, {"Q1.3": 70})
            outcome["save"] = "saved"
        except services.ServiceError as exc:
            outcome["save"] = str(exc)

    threads = [threading.Thread(target=submit), threading.Thread(target=save)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with session_factory() as session:
        stored = services.answers_of(session, assessment_id)
    if outcome["save"] == "saved":  # the save came first: the submission scored it
        assert stored["Q1.3"] == 70 and outcome["result"]["criteria"]["Q1.3"]["answer"] == 70
    else:  # the submission came first: the save was refused, nothing changed
        assert "only a draft can be changed" in outcome["save"]
        assert stored["Q1.3"] == 90 and outcome["result"]["criteria"]["Q1.3"]["answer"] == 90


# --- schema guard ----------------------------------------------------------------------------------


def test_check_schema_accepts_the_migrated_test_database(database_url):
    db.check_schema(database_url)
    assert db.current_revision(database_url) == db.head_revision()


def test_a_nested_unit_of_work_fails_at_once_on_sqlite_and_works_on_postgresql(session_factory, database_url):
    started = time.monotonic()
    with session_factory() as outer:
        outer.execute(text("SELECT 1"))
        if database_url.startswith("sqlite"):
            # SQLite has one writer: the inner unit would wait for the outer one, i.e. for ever.
            with pytest.raises(db.NestedUnitOfWork, match="would wait for itself"):
                with session_factory() as inner:
                    inner.execute(text("SELECT 1"))
        else:
            with session_factory() as inner:
                assert inner.execute(text("SELECT 1")).scalar() == 1
        assert outer.execute(text("SELECT 2")).scalar() == 2
    assert time.monotonic() - started < 5

"""Batch rescoring on a real database: dry runs store nothing, applied runs equal scoring from scratch,
refresh buddying, resume after a kill, share work between concurrent workers and never rescore twice.

The world: the web tests' standards (``web-test`` 2026.1) with two draft members ("a", "b") in the
current cycle and, from the buddying tests, four members decided last cycle ("m", "n" with a major breach
on C2, "x", "y" meeting it) with the current cycle's buddy proposals stored. Version 2026.2 lowers the
C2.1 target (so C2 is met by everyone), removes C1.2 and adds a required C4.2 (so C4 becomes a need).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import select

import rules
from app import db
from app.jobs import rescore
from app.models import (
    Answer,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    AuditEvent,
    Breach,
    BuddyAssignment,
    Membership,
    Organisation,
    RescoreBatch,
    RescoreItem,
    RescoreRun,
    StandardsVersion,
)
from app.services import (
    CLI,
    NotFound,
    ServiceError,
    add_evidence,
    apply_for_membership,
    open_assessment,
    register_organisation,
    register_version,
    save_answers,
    score,
    submit,
)
from app.services import rescore_runs as runs
from app.services.assessments import context
from app.services.overrides import set_override
from rules.changes import REPORT_FIELDS, summarise
from tests.builders import attested
from tests.test_buddy_lifecycle import build_buddy_world
from tests.web.conftest import COMPLETE_ANSWERS, STANDARDS, build_world

ROOT = Path(__file__).resolve().parent.parent


def version_two(
    path: Path, *, state: str | None = "published", url: str | None = None, version: str = "2026.2"
) -> Path:
    doc = yaml.safe_load(STANDARDS.read_text(encoding="utf-8"))
    doc["version"] = version
    care = doc["domains"][0]["standards"]
    c1, c2, c4 = (next(s for s in care if s["id"] == sid) for sid in ("C1", "C2", "C4"))
    c1["criteria"] = [c for c in c1["criteria"] if c["id"] != "C1.2"]
    next(c for c in c2["criteria"] if c["id"] == "C2.1")["benchmark"]["target"] = 65
    c4["criteria"].append({"id": "C4.2", "text": "Is there a daily orthogeriatric ward round?", "type": "yes_no"})
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    if state is not None:
        with db.session_scope(url) as session:
            register_version(session, path, CLI, state=state)
    return path


@pytest.fixture
def bw(database_url, tmp_path):
    world = build_buddy_world(build_world(database_url))
    version_two(tmp_path / "web-test-2026.2.yaml", url=database_url)
    return world


def request(url: str, **extra) -> rescore.Request:
    return rescore.Request(set_id="web-test", version="2026.2", url=url, **extra)


def counts(url: str) -> dict[str, int]:
    with db.session_scope(url) as session:
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (AssessmentResult, Breach, AuditEvent, BuddyAssignment, RescoreRun, RescoreItem, Answer)
        }


def versions(url: str) -> dict[int, str]:
    with db.session_scope(url) as session:
        return dict(
            session.exec(
                select(Assessment.id, StandardsVersion.version).join(
                    StandardsVersion, StandardsVersion.id == Assessment.standards_version_id
                )
            ).all()
        )


def test_dry_run_reports_every_change_and_stores_nothing(bw):
    url = bw.world.url
    before, on = counts(url), versions(url)
    outcome = rescore.dry_run(request(url))
    assert counts(url) == before and versions(url) == on
    lines = {line["assessment"]: line for line in outcome.lines}
    assert set(lines) == set(on)  # every assessment of the set, drafts included
    with db.session_scope(url) as session:
        decided = {
            m: session.exec(
                select(Assessment.id).where(Assessment.membership_id == m_id, Assessment.status == "decided")
            ).one()
            for m, m_id in bw.memberships.items()
        }
    for mentee in ("m", "n"):
        line = lines[decided[mentee]]
        assert line["breaches_resolved"] == ["C2.1 (major)"] and "C2" in line["support_needs_resolved"]
        assert (line["from_version"], line["to_version"], line["status"]) == ("2026.1", "2026.2", "decided")
    for key in ("m", "n", "x", "y"):
        line = lines[decided[key]]
        assert line["answers_not_carried"] == ["C1.2: criterion removed"]
        assert "C4" in line["support_needs_added"]  # C4.2 is new and unanswered
    for key in ("a", "b"):  # drafts with no answers: nothing to carry
        assert lines[bw.world.assessments[key]]["answers_not_carried"] == []
    assert outcome.summary.assessments == 6


def test_apply_equals_scoring_from_scratch_and_running_it_again_changes_nothing(bw):
    url = bw.world.url
    with db.session_scope(url) as session:  # member "a" submits; a lead overrides one of its criteria
        a = bw.world.assessments["a"]
        assert save_answers(session, CLI, a, COMPLETE_ANSWERS).ok
        add_evidence(session, CLI, a, "C1.1", kind="link", url="https://example.nhs.uk/a-plan")
        submit(session, CLI, a, attested())
        set_override(session, CLI, context(session, a, lock=True), "criterion", "C1.3", 1, "Seen on the visit")
    old_results = counts(url)["AssessmentResult"]
    outcome = rescore.apply(request(url))
    assert outcome.failures == [] and len(outcome.lines) == 6
    moved = versions(url)
    assert set(moved.values()) == {"2026.2"}
    with db.session_scope(url) as session:
        new = session.exec(select(StandardsVersion).where(StandardsVersion.version == "2026.2")).one()
        standards = rules.parse_standards(new.source_text, new.source_name)
        stored = session.exec(select(AssessmentResult).where(AssessmentResult.is_current == True)).all()  # noqa: E712
        assert len(stored) == len({r.assessment_id for r in stored}) == 5  # one current result each (not drafts)
        for result in stored:
            assessment = session.get(Assessment, result.assessment_id)
            assert result.standards_version_id == new.id and result.standards_hash == new.content_hash
            assert result.result == score(session, assessment.id)  # the normal scoring path, overrides applied
            breaches = session.exec(select(Breach).where(Breach.result_id == result.id)).all()
            assert sorted(
                (b.assessment_id, b.criterion_id, b.standard_id, b.value, b.target, b.direction, b.severity)
                for b in breaches
            ) == sorted(
                (
                    result.assessment_id,
                    b["criterion"],
                    b["standard"],
                    b["value"],
                    b["target"],
                    b["direction"],
                    b["severity"],
                )
                for b in result.result["breaches"]
            )  # its result's, and nothing else
            if assessment.id == a:
                assert result.result["criteria"]["C1.3"]["score"] == 100.0  # the override stays attached
                continue
            membership = session.get(Membership, assessment.membership_id)
            organisation = session.get(Organisation, membership.organisation_id)
            answers = {
                r.criterion_id: r.value
                for r in session.exec(select(Answer).where(Answer.assessment_id == assessment.id))
                if r.criterion_id in standards.criterion_lookup
            }
            fresh = rules.score_submission(
                standards,
                rules.Submission(rules.Member(membership.route, membership.specialty, organisation.org_type), answers),
            )
            assert result.result == fresh
        rescored = Counter(
            e.entity_id for e in session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.rescored"))
        )
        assert rescored == Counter({assessment_id: 1 for assessment_id in moved})
        assert session.exec(select(func.count()).select_from(AssessmentResult)).one() == old_results + 5
        orphans = (
            select(func.count())
            .select_from(Breach)
            .outerjoin(
                AssessmentResult,
                (AssessmentResult.id == Breach.result_id) & (AssessmentResult.assessment_id == Breach.assessment_id),
            )
            .where(AssessmentResult.id == None)
        )  # noqa: E711
        assert session.exec(orphans).one() == 0  # every breach, old and new, belongs to its result's assessment
        run = session.exec(select(RescoreRun)).one()
        assert run.status == "finished" and run.total == 6
    again_before = counts(url)
    again = rescore.apply(request(url))
    assert again.lines == [] and again.run_id is None
    assert counts(url) == again_before


def test_applying_refreshes_buddying_needs(bw):
    url = bw.world.url
    proposals = {key: [p.id for p in bw.pairs(key)] for key in ("m", "n")}
    assert all(proposals.values())
    rescore.apply(request(url))
    with db.session_scope(url) as session:
        for ids in proposals.values():  # C2 is met under 2026.2: the proposals are no longer needed
            for pair_id in ids:
                pair = session.get(BuddyAssignment, pair_id)
                assert pair.status == "withdrawn" and "no longer needed" in pair.end_reason
                assert "web-test 2026.2" in pair.end_reason
        c4 = session.exec(
            select(BuddyAssignment).where(
                BuddyAssignment.standard_id == "C4", BuddyAssignment.cycle_id == bw.world.cycle_id
            )
        ).all()
        assert {p.mentee_membership_id for p in c4} == {bw.memberships[k] for k in ("m", "n", "x", "y")}
        assert all(p.status == "proposed" for p in c4)
        # C1 (no buddy available for anyone last cycle) is met too once C1.2 is gone: those flags go as well
        withdrawn = session.exec(select(BuddyAssignment).where(BuddyAssignment.status == "withdrawn")).all()
        assert {(p.mentee_membership_id, p.standard_id) for p in withdrawn} == {
            (bw.memberships[k], s) for k in ("m", "n") for s in ("C1", "C2")
        } | {(bw.memberships[k], "C1") for k in ("x", "y")}
        finished = session.exec(select(AuditEvent).where(AuditEvent.action == "rescore.finished")).one()
        assert finished.after["buddy_proposals_withdrawn"] == 6 and finished.after["buddy_pairs_stored"] == 4


def test_a_cycle_limits_the_run_to_its_assessments(bw):
    url = bw.world.url
    with db.session_scope(url) as session:
        previous = session.get(AssessmentCycle, bw.previous_cycle_id).name
    outcome = rescore.apply(request(url, cycle=previous))
    assert {line["cycle"] for line in outcome.lines} == {previous} and len(outcome.lines) == 4
    on = versions(url)
    assert on[bw.world.assessments["a"]] == on[bw.world.assessments["b"]] == "2026.1"


def test_what_cannot_be_rescored_is_refused_with_a_reason(bw, tmp_path):
    url = bw.world.url
    with pytest.raises(NotFound, match=r"web-test has no version '2027.1' \(it has 2026.1, 2026.2\)"):
        rescore.count(rescore.Request(set_id="web-test", version="2027.1", url=url))
    with pytest.raises(NotFound, match="no alliance accrediting against web-test has a cycle '1999/00'"):
        rescore.count(request(url, cycle="1999/00"))
    version_two(tmp_path / "draft.yaml", state="draft", url=url, version="2026.3")
    before = counts(url)
    with pytest.raises(ServiceError, match="web-test 2026.3 is draft: publish it before applying a rescore"):
        rescore.apply(rescore.Request(set_id="web-test", version="2026.3", url=url))
    assert counts(url) == before
    assert len(rescore.dry_run(rescore.Request(set_id="web-test", version="2026.3", url=url)).lines) == 6


def test_draft_answers_stay_where_they_are_and_score_on_the_new_version(bw):
    url = bw.world.url
    a = bw.world.assessments["a"]
    with db.session_scope(url) as session:
        assert save_answers(session, CLI, a, {"C1.2": "yes", "C2.1": 70}).ok
    rescore.apply(request(url))
    with db.session_scope(url) as session:
        kept = {r.criterion_id: r.value for r in session.exec(select(Answer).where(Answer.assessment_id == a))}
        assert kept == {"C1.2": "yes", "C2.1": 70}  # nothing saved is lost
        provisional = score(session, a)  # the draft now scores on 2026.2: C1.2 is not part of it
        assert "C1.2" not in provisional["criteria"] and provisional["criteria"]["C2.1"]["rag"] == "green"
        assert (
            session.exec(
                select(func.count()).select_from(AssessmentResult).where(AssessmentResult.assessment_id == a)
            ).one()
            == 0
        )


# -- command line, processes, resuming and concurrent workers ---------------------------------------


def cli(url: str, *args: str, timeout: float = 300, jobs_url: str = "immediate") -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "cli.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "JOBS_URL": jobs_url},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_cli_dry_run_writes_csv_and_json_reports_and_apply_with_two_jobs(bw, tmp_path):
    url = bw.world.url
    dry = cli(url, "rescore", "--set", "web-test", "--to-version", "2026.2", "--report", str(tmp_path / "r.csv"))
    assert dry.returncode == 0, dry.stderr
    assert "dry run (nothing stored)" in dry.stdout and "assessments rescored: 6" in dry.stdout
    assert "dry run: 6 assessment(s) of web-test to rescore against 2026.2" in dry.stderr
    with (tmp_path / "r.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == REPORT_FIELDS and len(rows) == 7
    assert {row[REPORT_FIELDS.index("to_version")] for row in rows[1:]} == {"2026.2"}
    assert set(versions(url).values()) == {"2026.1"}

    applied = cli(
        url,
        "rescore",
        "--set",
        "web-test",
        "--to-version",
        "2026.2",
        "--apply",
        "--jobs",
        "2",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert applied.returncode == 0, applied.stderr
    assert "applied (run 1)" in applied.stdout and "100%" in applied.stderr  # the progress bar ran to the end
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["mode"] == "apply" and len(report["members"]) == 6
    assert report["summary"] == summarise(report["members"]).to_dict()
    assert set(versions(url).values()) == {"2026.2"}

    bad = cli(url, "rescore", "--set", "web-test", "--to-version", "2026.2", "--report", str(tmp_path / "r.txt"))
    assert bad.returncode == 1 and "the report is written as CSV or JSON: name it .csv or .json" in bad.stderr
    unknown = cli(url, "rescore", "--set", "nope", "--to-version", "1")
    assert unknown.returncode == 1 and "no standards set 'nope' is registered" in unknown.stderr


def populate(url: str, n: int, tmp_path: Path) -> list[int]:
    """n more members, each with a submitted self-assessment in the current cycle."""
    world = build_world(url)
    ids = []
    with db.session_scope(url) as session:
        for i in range(n):
            organisation = register_organisation(
                session, CLI, name=f"Trust {i}", ods_code=f"RS{i:03d}", org_type="acute", region="Region"
            )
            membership = apply_for_membership(
                session, CLI, organisation_id=organisation.id, alliance_id=world.alliance_id, route="full"
            )
            assessment = open_assessment(session, CLI, membership_id=membership.id, cycle_id=world.cycle_id)
            assert save_answers(session, CLI, assessment.id, {**COMPLETE_ANSWERS, "C2.1": 60 + i % 40}).ok
            add_evidence(session, CLI, assessment.id, "C1.1", kind="link", url=f"https://example.nhs.uk/{i}")
            submit(session, CLI, assessment.id, attested())
            ids.append(assessment.id)
    version_two(tmp_path / "web-test-2026.2.yaml", url=url)
    return ids + list(world.assessments.values())


def moved_exactly_once(url: str, ids: list[int]) -> None:
    assert set(versions(url).values()) == {"2026.2"}
    with db.session_scope(url) as session:
        new = session.exec(select(StandardsVersion.id).where(StandardsVersion.version == "2026.2")).one()
        audited = Counter(
            e.entity_id for e in session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.rescored"))
        )
        assert audited == Counter(ids)
        current = Counter(
            session.exec(
                select(AssessmentResult.assessment_id).where(
                    AssessmentResult.is_current == True, AssessmentResult.standards_version_id == new
                )
            ).all()
        )  # noqa: E712
        submitted = [i for i in ids if session.get(Assessment, i).status != "draft"]
        assert current == Counter(submitted)
        every = Counter(session.exec(select(AssessmentResult.assessment_id)).all())
        assert all(every[i] == 2 for i in submitted)  # the old result and one new one: never scored twice
        items = session.exec(select(RescoreItem)).all()
        assert Counter(item.assessment_id for item in items) == Counter(ids)
        assert {item.state for item in items} == {"done"}


def test_a_worker_killed_mid_run_is_resumed_by_running_the_command_again(database_url, tmp_path):
    ids = populate(database_url, 150, tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "cli.py",
            "rescore",
            "--set",
            "web-test",
            "--to-version",
            "2026.2",
            "--apply",
            "--jobs",
            "1",
            "--batch-size",
            "1",
            "--quiet",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "JOBS_URL": "immediate"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    done = 0
    while done < 5:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
        with db.session_scope(database_url) as session:
            done = session.exec(select(func.count()).select_from(RescoreItem).where(RescoreItem.state == "done")).one()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    with db.session_scope(database_url) as session:
        states = Counter(session.exec(select(RescoreItem.state)).all())
        assert 0 < states["done"] < len(ids)  # killed part-way
        moved = session.exec(
            select(func.count())
            .select_from(Assessment)
            .where(
                Assessment.standards_version_id
                != session.exec(select(StandardsVersion.id).where(StandardsVersion.version == "2026.1")).one()
            )
        ).one()
        assert moved == states["done"]  # every assessment moved is a done item, and no other: nothing half-written
    resumed = cli(database_url, "rescore", "--set", "web-test", "--to-version", "2026.2", "--apply", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    moved_exactly_once(database_url, ids)
    with db.session_scope(database_url) as session:
        assert session.exec(select(RescoreRun.status)).all() == ["finished"]  # the same run, finished


def test_a_batch_run_three_times_at_once_is_stored_once(database_url, tmp_path, monkeypatch):
    """A queue may deliver a task twice, and a batch is enqueued again when its worker seems to have died: three
    runners each run every batch of the run, the first batch read by all three before any stores it."""
    ids = populate(database_url, 120, tmp_path)
    holding = threading.Barrier(3, timeout=60)
    first = threading.local()
    load = runs.load

    def load_when_all_hold_a_batch(session, assessment_ids):  # noqa: ANN001
        if not getattr(first, "passed", False):
            first.passed = True
            holding.wait()
        return load(session, assessment_ids)

    monkeypatch.setattr(runs, "load", load_when_all_hold_a_batch)
    run_id = rescore.open_run(request(database_url, batch=7))
    with db.session_scope(database_url) as session:
        numbers = [batch.number for batch in runs.batches_left(session, run_id)]
        rules.compiled(runs.run_target(session, run_id).standards)  # compile before the threads start
    assert numbers == list(range(-(-len(ids) // 7)))
    stored: dict[str, int] = {}
    errors: list[BaseException] = []

    def runner(name: str) -> None:
        try:
            stored[name] = sum(rescore.run_batch(database_url, run_id, number) for number in numbers)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(f"runner {i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert sum(stored.values()) == len(ids)  # each assessment stored by one runner; the others did nothing
    with db.session_scope(database_url) as session:
        assert session.get(RescoreRun, run_id).status == "finished"  # closed by the last batch
        assert runs.batches_left(session, run_id) == []
    moved_exactly_once(database_url, ids)
    assert rescore.run_batch(database_url, run_id, numbers[0]) == 0  # delivered once more: nothing


def test_a_run_is_split_into_batches_alliance_by_alliance(bw):
    url = bw.world.url
    run_id = rescore.open_run(request(url, batch=4))
    with db.session_scope(url) as session:
        items = session.exec(select(RescoreItem).where(RescoreItem.run_id == run_id).order_by(RescoreItem.id)).all()
        batches = runs.batches_left(session, run_id)
    assert [(batch.number, batch.size) for batch in batches] == [(0, 4), (1, 2)]
    ordered = sorted(items, key=lambda item: (item.alliance_id, item.assessment_id))
    assert [item.batch for item in ordered] == [0, 0, 0, 0, 1, 1]
    assert rescore.open_run(request(url, batch=1)) == run_id  # started again: the same run, in its batches


def test_lost_and_stuck_batches_are_enqueued_again_and_others_are_not(bw, tmp_path):
    from app.jobs import queue
    from tests.workers import sqlite_queue

    url = bw.world.url
    queue.configure({"JOBS_URL": sqlite_queue(tmp_path), "DATABASE_URL": url})
    try:
        run_id = rescore.open_run(request(url, batch=2))
        req = request(url)
        assert rescore.enqueue(req, run_id, 60) == [0, 1, 2]
        assert rescore.queued_batches(run_id) == {0, 1, 2}
        assert rescore.enqueue(req, run_id, 60) == []  # all waiting in the queue
        queue.huey.dequeue()  # a worker takes batch 0 and starts it ...
        with db.session_scope(url) as session:
            assert len(runs.start_batch(session, run_id, 0)) == 2
        assert rescore.queued_batches(run_id) == {1, 2}
        assert rescore.enqueue(req, run_id, 60) == []  # ... and may still be working on it
        queue.huey.dequeue()  # batch 1 is taken and done
        rescore.run_batch(url, run_id, 1)
        with db.session_scope(url) as session:  # time passes: both were started and enqueued long ago
            session.execute(
                RescoreBatch.__table__.update()
                .where(RescoreBatch.run_id == run_id)
                .values(
                    started_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5),
                    enqueued_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5),
                )
            )
        assert rescore.enqueue(req, run_id, 60) == [0]  # its worker died: again; batch 1 is done, 2 is queued
        assert rescore.queued_batches(run_id) == {0, 2}
        with db.session_scope(url) as session:
            attempts = {batch.number: batch.attempts for batch in runs.batches_left(session, run_id)}
        assert attempts == {0: 1, 2: 0}
    finally:
        queue.huey.storage.flush_queue()
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": url})


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_queue_worker_killed_mid_run_leaves_every_assessment_rescored_exactly_once(database_url, tmp_path, kind):
    """`cli.py rescore --apply` on a real queue with a real `cli.py worker`, killed with SIGKILL part-way; a
    new worker takes the queue over and the command enqueues again the batches the dead worker was in."""
    from tests.workers import REDIS_URL, flush_redis_queue, redis_available, running_worker, sqlite_queue

    if kind == "redis" and not redis_available():
        pytest.skip("no Redis at TEST_REDIS_URL")
    jobs_url = sqlite_queue(tmp_path) if kind == "sqlite" else REDIS_URL
    ids = populate(database_url, 150, tmp_path)
    command = None
    try:
        with running_worker(tmp_path, database_url, jobs_url, workers=2) as first:
            command = subprocess.Popen(
                [
                    sys.executable,
                    "cli.py",
                    "rescore",
                    "--set",
                    "web-test",
                    "--to-version",
                    "2026.2",
                    "--apply",
                    "--batch-size",
                    "3",
                    "--lease",
                    "3",
                    "--report",
                    str(tmp_path / "report.json"),
                ],
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": database_url, "JOBS_URL": jobs_url},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + 120
            done = 0
            while done < 30:
                assert time.monotonic() < deadline and command.poll() is None, first.log()
                time.sleep(0.05)
                with db.read_scope(database_url) as session:
                    done = session.exec(
                        select(func.count()).select_from(RescoreItem).where(RescoreItem.state == "done")
                    ).one()
            first.kill()
        with db.read_scope(database_url) as session:
            states = Counter(session.exec(select(RescoreItem.state)).all())
            in_flight = session.exec(
                select(func.count())
                .select_from(RescoreBatch)
                .where(RescoreBatch.state == "pending", RescoreBatch.started_at != None)  # noqa: E711
            ).one()
            new = session.exec(select(StandardsVersion.id).where(StandardsVersion.version == "2026.2")).one()
            moved = session.exec(
                select(func.count()).select_from(Assessment).where(Assessment.standards_version_id == new)
            ).one()
        assert 0 < states["done"] < len(ids)  # killed part-way
        assert moved == states["done"]  # nothing half-written
        with running_worker(tmp_path, database_url, jobs_url, workers=2) as second:
            out, err = command.communicate(timeout=240)
            assert command.returncode == 0, err + second.log()
        assert "Traceback" not in err
        if in_flight:
            assert "put on the queue again" in err
        assert "applied (run 1)" in out and f"assessments rescored: {len(ids)}" in out
        moved_exactly_once(database_url, ids)
        with db.session_scope(database_url) as session:
            assert session.exec(select(RescoreRun.status)).all() == ["finished"]
        assert len(json.loads((tmp_path / "report.json").read_text())["members"]) == len(ids)
    finally:
        if command is not None and command.poll() is None:
            command.kill()
        if kind == "redis":
            flush_redis_queue(jobs_url)


def test_an_assessment_that_cannot_be_rescored_is_reported_and_the_others_go_on(bw, monkeypatch):
    url = bw.world.url
    broken = bw.world.assessments["a"]
    real = runs.rescore_one

    def failing(loaded, target):
        if loaded.id == broken:
            raise rules.RulesEngineError("the engine stopped on this one")
        return real(loaded, target)

    monkeypatch.setattr(runs, "rescore_one", failing)
    outcome = rescore.apply(request(url))
    assert outcome.failures == [{"assessment": broken, "error": "RulesEngineError: the engine stopped on this one"}]
    assert len(outcome.lines) == 5
    on = versions(url)
    assert on.pop(broken) == "2026.1" and set(on.values()) == {"2026.2"}  # left as it was
    monkeypatch.setattr(runs, "rescore_one", real)
    again = rescore.apply(request(url))  # a new run picks up what is still to move
    assert [line["assessment"] for line in again.lines] == [broken] and again.failures == []
    assert set(versions(url).values()) == {"2026.2"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_a_forked_worker_opens_its_own_connections_and_spares_its_collector(database_url):
    """A forked worker that used the parent's pooled connection would share one database session with it. Its
    cyclic collector leaves alone what it inherited and runs less often (``tune_collector``)."""
    import gc

    from sqlalchemy import text

    def session_id(engine) -> object:  # noqa: ANN001
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                return connection.execute(text("SELECT pg_backend_pid()")).scalar()
            return connection.connection.dbapi_connection

    parents = db.get_engine(database_url)
    mine = session_id(parents)  # the parent's pool now holds a connection
    context = rescore._processes()
    assert context.get_start_method() == "fork"
    queue = context.Queue()

    def child() -> None:
        rescore._in_worker()
        engine = db.get_engine(database_url)
        theirs = session_id(engine)
        queue.put(
            (
                engine is not parents,
                theirs is not mine and theirs != mine,
                gc.get_freeze_count() > 0,
                gc.get_threshold()[0],
            )
        )

    process = context.Process(target=child)
    process.start()
    assert queue.get(timeout=60) == (True, True, True, rescore.COLLECTOR_THRESHOLD)
    assert gc.get_threshold()[0] < rescore.COLLECTOR_THRESHOLD  # the parent, a test process, keeps its own
    process.join(timeout=60)
    assert process.exitcode == 0
    with parents.connect() as connection:  # and the child left the parent's connection open
        if connection.dialect.name == "postgresql":
            assert (
                connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": mine}
                ).scalar()
                == 1
            )
        else:
            assert mine.execute("SELECT 1").fetchone() == (1,)


def test_no_wait_enqueues_and_the_run_is_followed_then_reported_with_run(bw, tmp_path):
    from tests.workers import running_worker, sqlite_queue

    url = bw.world.url
    jobs_url = sqlite_queue(tmp_path)
    apply = ("rescore", "--set", "web-test", "--to-version", "2026.2", "--apply", "--quiet", "--batch-size", "2")
    enqueued = cli(url, *apply, "--no-wait", jobs_url=jobs_url)
    assert enqueued.returncode == 0, enqueued.stderr
    assert "run 1: 3 batch(es) put on the queue" in enqueued.stderr
    assert "with the same command and --run 1 instead of --no-wait" in enqueued.stdout
    assert set(versions(url).values()) == {"2026.1"}  # no worker yet: nothing done
    with running_worker(tmp_path, url, jobs_url):
        followed = cli(url, *apply, "--run", "1", jobs_url=jobs_url)
    assert followed.returncode == 0, followed.stderr
    assert "applied (run 1)" in followed.stdout and "assessments rescored: 6" in followed.stdout
    assert set(versions(url).values()) == {"2026.2"}
    later = cli(url, *apply, "--run", "1", "--report", str(tmp_path / "r.json"), jobs_url=jobs_url)
    assert later.returncode == 0 and "assessments rescored: 6" in later.stdout  # the finished run's report
    assert len(json.loads((tmp_path / "r.json").read_text())["members"]) == 6
    wrong = cli(url, *apply, "--run", "2", jobs_url=jobs_url)
    assert wrong.returncode == 1 and "--run 2: no rescore run 2 of web-test to 2026.2" in wrong.stderr
    local = cli(url, "rescore", "--set", "web-test", "--to-version", "2026.2", "--apply", "--jobs", "1", "--no-wait")
    assert local.returncode == 1 and "--no-wait is for an applied run on the queue" in local.stderr

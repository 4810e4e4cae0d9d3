"""Work at the same time: members submitting or saving one assessment from several places at once, and
the rules engine scoring from several threads.

The database tests run each worker in its own thread and unit of work, released together by a barrier;
they hold on SQLite (one writer at a time) and PostgreSQL (row locks) alike. The engine tests score the
bundled packs' example self-assessments and variants of them in threads and compare every result, down
to its JSON text, with the same submissions scored one by one in a single thread.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlmodel import func, select

import rules
from app import services
from app.models import Assessment, AssessmentResult, AuditEvent, Breach
from tests.builders import attested
from tests.conftest import PERFECT

ROOT = Path(__file__).resolve().parents[1]
PACKS = {
    "noa": ROOT / "standards" / "noa-orthopaedics-2026.1.yaml",
    "ha": ROOT / "standards" / "healthcare-alliance-2026.1.yaml",
}
EXAMPLES = sorted(
    path
    for path in (ROOT / "examples" / "answers").glob("*.json")  # the 2026.1 examples
    if not path.name.split("-")[1].startswith("20")
)
LINK = "https://documents.test.example/rrj/q1-1"
THREADS = 8


def count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def at_once(workers: list[Callable[[], Any]], timeout: float = 120) -> list[tuple[str, Any]]:
    """Run every worker in its own thread, released together; ("ok", value) or ("error", exception) each."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[tuple[str, Any]] = [("unfinished", None)] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[index] = ("ok", work())
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            outcomes[index] = ("error", exc)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker is still running (deadlock?)"
    return outcomes


# --- one assessment submitted from several places at once ------------------------------------------


def _ready_to_submit(session_factory, world) -> int:
    with session_factory() as session:
        assessment_id = world.open(session)
        assert services.save_answers(session, world.member, assessment_id, dict(PERFECT)).ok
        services.add_evidence(session, world.member, assessment_id, "Q1.1", kind="link", url=LINK)
    return assessment_id


@pytest.mark.parametrize("round_", range(2))
def test_concurrent_submissions_score_and_audit_once(session_factory, world, round_):
    assessment_id = _ready_to_submit(session_factory, world)

    def submit_and_dwell() -> int:
        with session_factory() as session:
            stored = services.submit(session, world.member, assessment_id, attested())
            time.sleep(0.05 * round_)  # the second round keeps the winner's transaction open a while
            return stored.id

    outcomes = at_once([submit_and_dwell] * THREADS)
    won = [value for kind, value in outcomes if kind == "ok"]
    refused = [value for kind, value in outcomes if kind == "error"]
    assert len(won) == 1, outcomes
    assert len(refused) == THREADS - 1
    for exc in refused:
        assert type(exc) is services.ServiceError, repr(exc)
        assert re.search(
            rf"assessment {assessment_id} (is submitted; only a draft can be changed"
            r"|has just been submitted by someone else)",
            str(exc),
        ), str(exc)
    with session_factory() as session:
        results = session.exec(select(AssessmentResult).where(AssessmentResult.assessment_id == assessment_id)).all()
        assert [(r.id, r.is_current) for r in results] == [(won[0], True)]
        assert count(session, AuditEvent, AuditEvent.action == "result.stored") == 1
        assert count(session, AuditEvent, AuditEvent.action == "assessment.submitted") == 1
        assert count(session, Breach, Breach.assessment_id == assessment_id) == len(results[0].result["breaches"])
        assert services.current_result(session, assessment_id).id == won[0]
        assert session.get(Assessment, assessment_id).status == "submitted"


def test_concurrent_submissions_while_incomplete_are_all_refused_alike(session_factory, world):
    with session_factory() as session:
        assessment_id = world.open(session)
        assert services.save_answers(session, world.member, assessment_id, {"Q1.1": "yes", "Q1.2": 2}).ok

    def submit() -> None:
        with session_factory() as session:
            services.submit(session, world.member, assessment_id, attested())

    outcomes = at_once([submit] * THREADS)
    messages = {str(exc) for kind, exc in outcomes if kind == "error" and isinstance(exc, services.SubmissionRefused)}
    assert len(messages) == 1 and all(kind == "error" for kind, _ in outcomes), outcomes
    assert "Q1.1: evidence required" in messages.pop()
    with session_factory() as session:
        assert count(session, AssessmentResult) == 0
        assert count(session, AuditEvent, AuditEvent.action.in_(("result.stored", "assessment.submitted"))) == 0


# --- many saves to one assessment at once ------------------------------------------------------------


def test_many_concurrent_saves_of_different_criteria_all_persist(session_factory, world):
    """Eight writers, three rounds each, every one saving its own criterion: nothing is lost."""
    with session_factory() as session:
        assessment_id = world.open(session)
    plan = {
        "Q1.1": ["no", "yes", "no"],
        "Q1.2": [0, 1, 4],
        "Q1.3": [70, 80.5, 91],
        "Q2.1": [4, 3.3, 2.9],
        "Q2.2": ["partial", "na", "yes"],
        "Q2.3": ["first", "second", "third"],
        "P1.1": [88, 89, 95],
        "P1.2": ["yes", "no", "yes"],
    }
    assert len(plan) == THREADS

    def writer(criterion_id: str) -> Callable[[], list[str]]:
        def work() -> list[str]:
            for value in plan[criterion_id]:
                with session_factory() as session:
                    outcome = services.save_answers(session, world.member, assessment_id, {criterion_id: value})
                    assert outcome.ok and outcome.saved == [criterion_id], outcome
            return plan[criterion_id]

        return work

    outcomes = at_once([writer(cid) for cid in plan])
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    with session_factory() as session:
        assert services.answers_of(session, assessment_id) == {cid: values[-1] for cid, values in plan.items()}
        saves = session.exec(select(AuditEvent).where(AuditEvent.action == "answers.saved")).all()
    assert len(saves) == THREADS * 3
    # Every save is in the audit trail, each writer's in its own order.
    for cid, values in plan.items():
        assert [e.after[cid] for e in sorted(saves, key=lambda e: e.id) if cid in e.after] == values


def test_saves_racing_several_submissions_are_each_kept_or_refused(session_factory, world):
    """Four submissions and four saves at once: a save either made it into the one stored result or
    was refused; none is silently lost."""
    assessment_id = _ready_to_submit(session_factory, world)
    values = {"Q1.3": 86, "Q2.1": 3.0, "P1.1": 91, "Q1.2": 3}

    def submit() -> str:
        with session_factory() as session:
            services.submit(session, world.member, assessment_id, attested())
        return "submitted"

    def save(cid: str) -> Callable[[], str]:
        def work() -> str:
            with session_factory() as session:
                services.save_answers(session, world.member, assessment_id, {cid: values[cid]})
            return cid

        return work

    outcomes = at_once([submit] * 4 + [save(cid) for cid in values])
    assert [kind for kind, _ in outcomes[:4]].count("ok") == 1, outcomes
    with session_factory() as session:
        stored = services.answers_of(session, assessment_id)
        result = services.current_result(session, assessment_id).result
        assert count(session, AssessmentResult) == 1
    for (kind, value), cid in zip(outcomes[4:], values):
        if kind == "ok":
            assert stored[cid] == values[cid] and result["criteria"][cid]["answer"] == values[cid]
        else:
            assert "only a draft can be changed" in str(value), value
            assert stored[cid] == PERFECT[cid] and result["criteria"][cid]["answer"] == PERFECT[cid]


# --- the rules engine from several threads -----------------------------------------------------------


def _variant(standards: rules.StandardsSet, base: dict, rng: random.Random) -> dict:
    """The example's member with answers changed, removed, or set to na, type by type."""
    answers = dict(base["answers"])
    for criterion in standards.criteria:
        roll = rng.random()
        if roll < 0.15:
            answers.pop(criterion.id, None)
            continue
        if roll < 0.25 and criterion.allow_na:
            answers[criterion.id] = "na"
            continue
        if roll > 0.6:
            continue
        if criterion.type == "yes_no":
            answers[criterion.id] = rng.choice(("yes", "no"))
        elif criterion.type == "yes_partial_no":
            answers[criterion.id] = rng.choice(("yes", "partial", "no"))
        elif criterion.type == "level":
            answers[criterion.id] = rng.randrange(len(criterion.levels))
        elif criterion.type == "metric":
            target = float(criterion.benchmark.target)
            amber = float(criterion.benchmark.amber or 0)
            edge = rng.choice((target, target + amber, target - amber))
            answers[criterion.id] = rng.choice((edge, round(edge + rng.uniform(-3, 3), rng.choice((0, 1, 2)))))
            if rng.random() < 0.3:
                answers[criterion.id] = int(round(answers[criterion.id]))
            if not criterion.in_range(answers[criterion.id]):  # a "%" stays within 0..100
                answers[criterion.id] = min(max(answers[criterion.id], criterion.min), criterion.max)
        else:
            answers[criterion.id] = rng.choice(("", "Audited quarterly.", "Plan agreed with the alliance."))
    return {**base, "answers": answers}


def _submissions(packs: dict[str, rules.StandardsSet], per_example: int, seed: int) -> list[tuple[str, dict]]:
    rng = random.Random(seed)
    cases = []
    for path in EXAMPLES:
        key = "noa" if path.name.startswith("noa-") else "ha"
        base = json.loads(path.read_text(encoding="utf-8"))
        cases.append((key, base))
        cases.extend((key, _variant(packs[key], base, rng)) for _ in range(per_example))
    rng.shuffle(cases)
    return cases


def _outcome(standards: rules.StandardsSet, answers_doc: dict) -> str:
    """The result as JSON text, or the refusal: what a caller would get back."""
    try:
        return json.dumps(rules.score(standards, answers_doc), sort_keys=True)
    except (rules.AnswersError, rules.RulesEngineError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _fresh_version(key: str, label: str) -> rules.StandardsSet:
    """The pack under a version number of its own, so its ruleset is compiled anew (first use in threads)."""
    text = PACKS[key].read_text(encoding="utf-8")
    changed = re.sub(r'(?m)^version: "2026\.1"$', f'version: "2026.1.{label}"', text, count=1)
    assert changed != text
    return rules.parse_standards(changed, filename=f"{key}-{label}.yaml")


def _score_in_threads(jobs: list[tuple[rules.StandardsSet, dict]]) -> list[str]:
    got: dict[int, str] = {}

    def worker(offset: int) -> Callable[[], None]:
        def work() -> None:
            for n in range(offset, len(jobs), THREADS):
                got[n] = _outcome(*jobs[n])

        return work

    outcomes = at_once([worker(i) for i in range(THREADS)], timeout=600)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    return [got[n] for n in range(len(jobs))]


def test_eight_threads_score_both_packs_exactly_as_one_thread_does():
    stamp = f"{time.time_ns() % 10**9}"
    packs = {key: _fresh_version(key, stamp) for key in PACKS}  # compiled on first use, inside the threads
    cases = _submissions(packs, per_example=80, seed=20261)
    jobs = [(packs[key], doc) for key, doc in cases]
    try:
        threaded = _score_in_threads(jobs)
        one_by_one = [_outcome(*job) for job in jobs]
    finally:
        for loaded in packs.values():
            rules.release(loaded)
    assert threaded == one_by_one
    # The variants really exercise the engine: many different results, of every outcome the packs give.
    scored = [json.loads(text) for text in one_by_one if text.startswith("{")]
    assert len(scored) == len(jobs)
    assert len({r["overall"] for r in scored}) > len(jobs) // 4
    assert len({r["outcome"] for r in scored}) >= 3
    assert sum(len(r["breaches"]) for r in scored) > 0 and sum(len(r["flags"]) for r in scored) > 0


def test_threads_each_compiling_their_own_version_at_once_score_alike():
    """Eight versions of the packs registered with the engine at the same moment, each then scoring: the
    rulesets never get mixed up (each result carries its own version) and score as the original does."""
    originals = {key: rules.load_standards(path) for key, path in PACKS.items()}
    cases = _submissions(originals, per_example=3, seed=7)
    expected = [_outcome(originals[key], doc) for key, doc in cases]
    stamp = time.time_ns() % 10**9

    def worker(n: int) -> Callable[[], list[str]]:
        def work() -> list[str]:
            own = {key: _fresh_version(key, f"{stamp}{n}") for key in PACKS}
            got = []
            try:
                for key, doc in cases:
                    result = json.loads(_outcome(own[key], doc))
                    assert result["standards"]["version"] == f"2026.1.{stamp}{n}"
                    assert result["standards_hash"] == own[key].content_hash
                    got.append(result)
            finally:
                for loaded in own.values():
                    rules.release(loaded)
            return got

        return work

    outcomes = at_once([worker(n) for n in range(THREADS)], timeout=600)
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    for _, got in outcomes:
        for result, want in zip(got, expected):
            want = json.loads(want)
            for volatile in ("standards", "standards_hash"):
                result.pop(volatile), want.pop(volatile)
            assert result == want


def test_buddying_needs_from_threads_match_one_thread():
    packs = {key: rules.load_standards(path) for key, path in PACKS.items()}
    cases = _submissions(packs, per_example=6, seed=11)
    results = [(n, rules.score(packs[key], doc)) for n, (key, doc) in enumerate(cases)]
    from rules.buddying import derive_needs

    expected = derive_needs(results)
    assert expected
    outcomes = at_once([lambda: derive_needs(results)] * THREADS)
    assert [value for _, value in outcomes] == [expected] * THREADS, outcomes

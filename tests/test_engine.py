"""The durable-rules wrapper: the hazards it exists to contain."""

from __future__ import annotations

import json
import sys
import threading

import pytest

import rules
from rules import compiling, durable_engine
from tests.builders import answers, criterion, load, one_standard


def test_dumps_never_writes_exponents():
    text = durable_engine.dumps([{"a": 1e-07, "b": 1e20, "c": -2.5e-10, "d": "1e5 stays text", "e": [3e30]}])
    assert "e-" not in text.replace("stays", "") and "e+" not in text
    assert json.loads(text) == [{"a": 1e-07, "b": 1e20, "c": -2.5e-10, "d": "1e5 stays text", "e": [3e30]}]


def test_unmatched_fact_is_an_error_not_silence():
    ruleset = durable_engine.Ruleset("test-unmatched", {"only_x": {"all": [{"m": {"t": "x"}}]}})
    try:
        with ruleset.session() as session:
            assert [rule for rule, _ in session.assert_facts([{"t": "x"}])] == ["only_x"]
            with pytest.raises(durable_engine.RulesEngineError):
                session.assert_facts([{"t": "y"}])
    finally:
        ruleset.close()


def test_closed_ruleset_refuses_work():
    ruleset = durable_engine.Ruleset("test-closed", {"r": {"all": [{"m": {"t": "x"}}]}})
    ruleset.close()
    with pytest.raises(durable_engine.RulesEngineError):
        with ruleset.session() as session:
            session.assert_facts([{"t": "x"}])


def test_capped_rule_returns_every_matched_fact():
    ruleset = durable_engine.Ruleset("test-cap", {"r": {"all": [{"m": {"t": "x"}}], "cap": 1000}})
    try:
        with ruleset.session() as session:
            matches = session.assert_facts([{"t": "x"} for _ in range(2500)])
        assert sorted(fact_id for _, fact_id in matches) == list(range(10_000_000, 10_002_500))
    finally:
        ruleset.close()


def test_two_versions_of_one_set_live_in_one_process():
    v1 = one_standard(criterion("C1", "metric", benchmark={"target": 85, "direction": "higher"}))
    v2 = one_standard(criterion("C1", "metric", benchmark={"target": 80, "direction": "higher"}))
    v2["version"] = "2026.2"
    first, second = load(v1), load(v2)
    for _ in range(3):
        assert rules.score(first, answers({"C1": 82}))["criteria"]["C1"]["rag"] == "red"
        assert rules.score(second, answers({"C1": 82}))["criteria"]["C1"]["rag"] == "green"
    assert compiling.compiled(first).ruleset.name != compiling.compiled(second).ruleset.name


def test_same_version_loaded_twice_shares_one_ruleset():
    doc = one_standard(criterion("C1"))
    assert compiling.compiled(load(doc)) is compiling.compiled(load(doc))


def test_released_version_is_compiled_again_on_use():
    loaded = load(one_standard(criterion("C1"), criterion("C2")))
    before = compiling.compiled(loaded)
    rules.release(loaded)
    assert before.ruleset._handle is None
    assert rules.score(loaded, answers({"C1": "yes", "C2": "no"}))["overall"] == 50.0


def test_states_are_freed_past_the_core_limit_of_1024():
    loaded = load(one_standard(criterion("C1")))
    for _ in range(3000):
        rules.score(loaded, answers({"C1": "yes"}))


def test_engine_recovers_after_a_failed_run():
    loaded = load(one_standard(criterion("C1")))
    compiled = compiling.compiled(loaded)
    with pytest.raises(durable_engine.RulesEngineError):
        with compiled.ruleset.session() as session:
            session.assert_facts([{"t": "nothing-matches-this"}])
    assert rules.score(loaded, answers({"C1": "yes"}))["overall"] == 100.0


def test_threads_score_correctly_at_once():
    doc = one_standard(criterion("C1", "level"), criterion("M1", "metric"), criterion("C2", "yes_partial_no"))
    loaded = load(doc)
    cases = [{"C1": i % 5, "M1": 70 + i % 20, "C2": ("yes", "partial", "no")[i % 3]} for i in range(60)]
    expected = [rules.score(loaded, answers(case)) for case in cases]
    got: dict[int, dict] = {}
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for n in range(offset, len(cases), 6):
                got[n] = rules.score(loaded, answers(cases[n]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [got[n] for n in range(len(cases))] == expected


def test_heap_headroom_is_kept_on_glibc_and_skipped_elsewhere(monkeypatch):
    import platform
    import sys

    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert durable_engine.keep_heap_headroom() is True
    monkeypatch.setattr(sys, "platform", "darwin")
    assert durable_engine.keep_heap_headroom() is False


SCORING_FAULTS = """
import resource, sys, yaml
sys.path.insert(0, sys.argv[1])
import rules
from benchmarks.score_bench import answers_for, synthetic_document
doc = synthetic_document(60)
standards = rules.parse_standards(yaml.safe_dump(doc), "faults.yaml")
submissions = [answers_for(doc, i) for i in range(300)]
for submission in submissions[:50]:
    rules.score(standards, submission)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for submission in submissions[50:]:
    rules.score(standards, submission)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 250)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="page-fault counts as Linux reports them")
def test_scoring_in_a_fresh_process_does_not_fault_its_memory_in_again_and_again():
    """Without the heap settings each assessment faulted about 160 pages in again (measured)."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", SCORING_FAULTS, str(root)], capture_output=True, text=True, cwd=root, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 5

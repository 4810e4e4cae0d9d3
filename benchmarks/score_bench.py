"""Scoring throughput and memory of the standards engine.

Scores N synthetic assessments (default 10,000 x 60 criteria) through the
engine and prints assessments/s, criteria/s and peak RSS; in the same run, on
the same answers, two baselines: the raw durable-rules rate (the criterion
facts asserted into a minimal two-rule, data-driven ruleset with ``cap``
batching, nothing else) and the plain-Python reference scorer used by the
tests. Then peak RSS at 1,000 against N (fresh processes) and one process
against two.

The raw rate asserts, per assessment, one fact for each criterion fact of the
engine's first assert (an answered, scored criterion of a standard that
applies to the member, or a required one left unanswered), serialised with
``json`` in the timing and each action's matches parsed with ``json``, as the
durable-rules host does; its facts are built before the timing. It has no
stage-2 facts (standards, rating, outcome, framework refs) and, with
``--schema 2``, no condition facts: those are work the engine does on top.
Rounds run engine and raw in turn; the ratio is printed round by round with
its median.

    python benchmarks/score_bench.py [--assessments 10000] [--criteria 60] [--schema 2 [--mapped]] [--rounds 3] [--cpu]

``--schema 2`` scores a schema 2 set instead: a third of the criteria are
choice, multi_choice or conditional (asked only for some answers of the
choice before them); with ``--mapped`` every standard is also mapped to two
frameworks. Its raw baseline asserts the same answers as plain facts (a
choice or multi_choice as its options' score), as for schema 1.

Targets: engine >= 50% of the raw durable-rules rate; RSS at N <= 1.3x RSS
at 1,000; two worker processes >= 1.6x one process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import durable_rules_engine  # noqa: E402
import yaml  # noqa: E402

import rules  # noqa: E402
from rules.durable_engine import dumps  # noqa: E402
from tests.reference_scorer import reference_score  # noqa: E402

#: What engine and raw are timed with: wall time, or with ``--cpu`` the process's CPU time (steadier when others
#: share the machine: time spent waiting for a core is not counted).
clock = time.perf_counter

TYPES = ("yes_no", "yes_partial_no", "level", "metric", "metric", "text")
ORG_TYPES = ("acute", "specialist", "community")
OPTIONS = [
    {"id": "none", "text": "None", "score": 0},
    {"id": "some", "text": "Some", "score": 0.3},
    {"id": "most", "text": "Most", "score": 0.7},
    {"id": "all", "text": "All", "score": 1},
]


def synthetic_document(criteria: int, schema: int = 1, mapped: bool = False) -> dict:
    """A standards set of 4 domains whose standards hold 5 criteria each, every type mixed (see ``schema_2``)."""
    rng = random.Random(7)
    per_standard = 5
    standards_total = max(1, criteria // per_standard)
    domains = []
    count = 0
    for d in range(4):
        domain_standards = []
        for s in range(d, standards_total, 4):
            items = []
            for c in range(per_standard):
                count += 1
                ctype = TYPES[(s + c) % len(TYPES)]
                item: dict = {
                    "id": f"S{s}.{c}",
                    "text": f"Criterion {s}.{c}",
                    "type": ctype,
                    "weight": rng.choice([1, 1, 2, 0.5]),
                    "allow_na": c == 4,
                }
                if ctype == "level":
                    item["levels"] = ["None", "Planned", "Partly", "In place", "Audited"]
                if ctype == "metric":
                    direction = rng.choice(["higher", "lower"])
                    item["unit"] = "%"
                    item["benchmark"] = {
                        "target": rng.choice([85, 92, 3.5, 95]),
                        "direction": direction,
                        "amber": rng.choice([0, 2.5, 5]),
                    }
                items.append(item)
            domain_standards.append(
                {
                    "id": f"S{s}",
                    "title": f"Standard {s}",
                    "criteria": items,
                    "must_meet": s % 7 == 0,
                    **({"applies": {"org_types": ["acute", "specialist"]}} if s % 5 == 4 else {}),
                }
            )
        if domain_standards:
            domains.append({"id": f"d{d}", "title": f"Domain {d}", "weight": d + 1, "standards": domain_standards})
    doc = {
        "schema": 1,
        "id": "bench-set",
        "version": "2026.1",
        "title": "Benchmark standards",
        "alliance": "Benchmark Alliance",
        "effective_from": "2026-04-01",
        "routes": {"full": {"title": "Full"}, "specialty": {"title": "Specialty"}},
        "core_proposition": [{"id": "cp-1", "title": "Toolkit"}],
        "domains": domains,
    }
    return schema_2(doc, mapped) if schema == 2 else doc


def schema_2(doc: dict, mapped: bool) -> dict:
    """The set made schema 2: in each standard the first criterion is a choice, and the second is
    conditional on it (asked for two answers of four), a multi_choice, or as it was, in turn. ``mapped``:
    every standard maps to a CQC ref (one per domain) and a DSPT ref (one per three standards)."""
    doc["schema"] = 2
    if mapped:
        doc["frameworks"] = {"cqc": {"title": "CQC quality statements"}, "dspt": {"title": "DSPT"}}
    for d, domain in enumerate(doc["domains"]):
        for standard in domain["standards"]:
            s = int(standard["id"][1:])
            first, second = standard["criteria"][0], standard["criteria"][1]
            first.update(type="choice", options=OPTIONS)
            for key in ("levels", "unit", "benchmark"):
                first.pop(key, None)
            if s % 3 == 0:
                second["when"] = {"criterion": first["id"], "in": ["most", "all"]}
            elif s % 3 == 1:
                second.update(type="multi_choice", options=OPTIONS[1:])
                for key in ("levels", "unit", "benchmark"):
                    second.pop(key, None)
            if mapped:
                standard["maps_to"] = [
                    {"framework": "cqc", "ref": f"Quality statement {d}"},
                    {"framework": "dspt", "ref": f"Outcome {s // 3}"},
                ]
    return doc


def answers_for(doc: dict, index: int) -> dict:
    """Deterministic answers for assessment ``index``, made on demand so memory does not grow with N."""
    rng = random.Random(index)
    values: dict = {}
    for domain in doc["domains"]:
        for standard in domain["standards"]:
            for item in standard["criteria"]:
                roll = rng.random()
                if roll < 0.03:
                    continue
                if item.get("allow_na") and roll < 0.08:
                    values[item["id"]] = "na"
                    continue
                ctype = item["type"]
                if ctype == "yes_no":
                    values[item["id"]] = rng.choice(["yes", "yes", "no"])
                elif ctype == "yes_partial_no":
                    values[item["id"]] = rng.choice(["yes", "partial", "no"])
                elif ctype == "level":
                    values[item["id"]] = rng.randint(0, 4)
                elif ctype == "metric":
                    target = item["benchmark"]["target"]
                    values[item["id"]] = min(100.0, round(target * rng.uniform(0.8, 1.2), 1))  # a "%" is 0..100
                elif ctype == "choice":
                    values[item["id"]] = rng.choice(item["options"])["id"]
                elif ctype == "multi_choice":
                    values[item["id"]] = [o["id"] for o in item["options"] if rng.random() < 0.5]
                else:
                    values[item["id"]] = "Narrative"
    return {"route": "full", "specialty": None, "org_type": ORG_TYPES[index % 3], "answers": values}


def assessments(doc: dict, start: int, stop: int) -> Iterator[dict]:
    return (answers_for(doc, i) for i in range(start, stop))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(doc: dict, answer_docs: Iterable[dict]) -> tuple[float, dict]:
    """Seconds to score the answers and a tally of outcomes (checked against the reference)."""
    loaded = rules.parse_standards(yaml.safe_dump(doc, sort_keys=False), "bench.yaml")
    rules.score(loaded, answers_for(doc, 0))  # compile outside the timing
    tally: dict = {}
    began = clock()
    for answers_doc in answer_docs:
        outcome = rules.score(loaded, answers_doc)["outcome"]
        tally[outcome] = tally.get(outcome, 0) + 1
    return clock() - began, tally


def run_reference(doc: dict, answer_docs: list[dict]) -> tuple[float, dict]:
    tally: dict = {}
    began = clock()
    for answers_doc in answer_docs:
        outcome = reference_score(doc, answers_doc)["outcome"]
        tally[outcome] = tally.get(outcome, 0) + 1
    return clock() - began, tally


def raw_facts(doc: dict, answers_doc: dict, sid: str) -> list[dict]:
    """The same answers as plain data-driven facts, one for each criterion fact of the engine's first assert: every
    answered, scored criterion and every required one left unanswered (nothing against full credit) of the
    standards that apply to the member (answers to the others are ignored when answers are read)."""
    facts = []
    values = answers_doc["answers"]
    org_type = answers_doc["org_type"]
    number = 0
    for domain in doc["domains"]:
        for standard in domain["standards"]:
            org_types = standard.get("applies", {}).get("org_types")
            if org_types is not None and org_type not in org_types:
                continue
            for item in standard["criteria"]:
                value = values.get(item["id"])
                if value == "na" or item["type"] == "text":
                    continue
                if value is None:
                    if not item.get("required", True):
                        continue
                    v, target = 0.0, 1.0
                elif item["type"] == "metric":
                    v, target = float(value), float(item["benchmark"]["target"])
                elif item["type"] in ("choice", "multi_choice"):
                    chosen = [value] if item["type"] == "choice" else value
                    scores = {o["id"]: o["score"] for o in item["options"]}
                    v, target = float(min(1, sum(scores[o] for o in chosen))), 1.0
                elif item["type"] == "level":
                    v, target = float(value), 4.0
                else:
                    v, target = (1.0 if value == "yes" else 0.5 if value == "partial" else 0.0), 1.0
                number += 1
                facts.append({"sid": sid, "id": number, "t": "c", "v": v, "tg": target})
    return facts


def run_raw_durable(doc: dict, answer_docs: list[dict]) -> tuple[float, int]:
    """The minimal two-rule ruleset driven straight through the durable-rules core."""
    spec = {
        "meets": {"all": [{"m": {"$and": [{"t": "c"}, {"$gte": {"v": {"$m": "tg"}}}]}}], "cap": 1000},
        "misses": {"all": [{"m": {"$and": [{"t": "c"}, {"$lt": {"v": {"$m": "tg"}}}]}}], "cap": 1000},
    }
    handle = durable_rules_engine.create_ruleset(f"raw-bench-{time.time_ns()}", json.dumps(spec))
    batches = [raw_facts(doc, answers_doc, f"r{i}") for i, answers_doc in enumerate(answer_docs)]
    facts_total = sum(len(b) for b in batches)
    began = clock()
    matched = 0
    for i, batch in enumerate(batches):
        _, state = durable_rules_engine.assert_facts(handle, dumps(batch))
        started = durable_rules_engine.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            for found in json.loads(message).values():
                matched += len(found) if isinstance(found, list) else 1
            message = durable_rules_engine.complete_and_start_action(handle, state)
        durable_rules_engine.delete_state(handle, f"r{i}")
    elapsed = clock() - began
    durable_rules_engine.delete_ruleset(handle)
    assert matched == facts_total, (matched, facts_total)
    return elapsed, facts_total


def _worker(args: tuple[int, int, bool, int, int]) -> float:
    criteria, schema, mapped, start, stop = args
    doc = synthetic_document(criteria, schema, mapped)
    seconds, _ = run_engine(doc, assessments(doc, start, stop))
    return seconds


def rss_child(criteria: int, schema: int, mapped: bool, n: int) -> float:
    """Peak RSS (MB) of a fresh process that scores n assessments."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--criteria",
            str(criteria),
            "--schema",
            str(schema),
            *(["--mapped"] if mapped else []),
            "--rss-child",
            str(n),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def timed_processes(criteria: int, schema: int, mapped: bool, n: int, workers: int) -> float:
    """Wall seconds for ``workers`` fresh processes to score n assessments between them (start-up included)."""
    chunk = (n + workers - 1) // workers
    jobs = [(criteria, schema, mapped, i * chunk, min(n, (i + 1) * chunk)) for i in range(workers)]
    context = multiprocessing.get_context("spawn")
    began = time.perf_counter()
    with context.Pool(workers) as pool:
        pool.map(_worker, jobs)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessments", type=int, default=10_000)
    parser.add_argument("--criteria", type=int, default=60)
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds of engine and raw in turn; the best of each is kept"
    )
    parser.add_argument(
        "--schema",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: a third of the criteria choice, multi_choice or conditional",
    )
    parser.add_argument("--mapped", action="store_true", help="with --schema 2: standards mapped to two frameworks")
    parser.add_argument("--cpu", action="store_true", help="time engine and raw in CPU seconds instead of wall time")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mapped and args.schema != 2:
        parser.error("--mapped needs --schema 2")
    if args.cpu:
        global clock
        clock = time.process_time
    doc = synthetic_document(args.criteria, args.schema, args.mapped)
    if args.rss_child:
        run_engine(doc, assessments(doc, 0, args.rss_child))
        print(peak_rss_mb())
        return
    n = args.assessments
    criteria_count = sum(len(s["criteria"]) for d in doc["domains"] for s in d["standards"])
    mapped = ", mapped to frameworks" if args.mapped else ""
    timed = "CPU time" if args.cpu else "wall time"
    print(f"standards: schema {args.schema}{mapped}, {criteria_count} criteria; assessments: {n}; timed in {timed}")

    answer_docs = list(assessments(doc, 0, n))
    # Rounds interleave the measures; the best of each filters out noise from the machine.
    engine_s = raw_s = float("inf")
    round_ratios = []  # engine / raw rate, round by round: steadier than the best of each when the machine is shared
    engine_tally: dict = {}
    ref_tally: dict = {}
    raw_facts_total = 0
    for _ in range(args.rounds):
        engine_round, engine_tally = run_engine(doc, answer_docs)
        raw_round, raw_facts_total = run_raw_durable(doc, answer_docs)
        engine_s, raw_s = min(engine_s, engine_round), min(raw_s, raw_round)
        round_ratios.append(raw_round / engine_round)
    engine_rate, raw_rate = n / engine_s, n / raw_s
    print(
        f"engine:          {engine_rate:9.0f} assessments/s  {engine_rate * criteria_count:10.0f} criteria/s  "
        f"({engine_s:.2f} s)  peak RSS {peak_rss_mb():.0f} MB"
    )
    print(
        f"raw durable:     {raw_rate:9.0f} assessments/s  {raw_facts_total / raw_s:10.0f} facts/s      ({raw_s:.2f} s)"
    )
    try:
        ref_s, ref_tally = run_reference(doc, answer_docs)
    except (KeyError, TypeError) as exc:  # a reference scorer that does not read this schema
        print(f"reference (py):  cannot score schema {args.schema} ({type(exc).__name__}: {exc}); not compared")
    else:
        ref_rate = n / ref_s
        print(
            f"reference (py):  {ref_rate:9.0f} assessments/s  {ref_rate * criteria_count:10.0f} criteria/s  "
            f"({ref_s:.2f} s)"
        )
        if ref_tally != engine_tally:
            print(f"MISMATCH: engine outcomes {engine_tally} != reference {ref_tally}")
            sys.exit(1)
    print(
        f"outcomes (engine{' = reference' if ref_tally == engine_tally else ''}): {dict(sorted(engine_tally.items()))}"
    )

    small = min(1000, n)
    rss_small = rss_child(args.criteria, args.schema, args.mapped, small)
    rss_large = rss_child(args.criteria, args.schema, args.mapped, n)
    print(
        f"peak RSS: {rss_small:.0f} MB at {small}, {rss_large:.0f} MB at {n}: ratio {rss_large / rss_small:.2f} (target <= 1.3)"
    )

    del answer_docs
    one = timed_processes(args.criteria, args.schema, args.mapped, n, 1)
    two = timed_processes(args.criteria, args.schema, args.mapped, n, 2)
    print(
        f"processes: 1 -> {n / one:.0f}/s ({one:.2f} s), 2 -> {n / two:.0f}/s ({two:.2f} s): "
        f"speed-up {one / two:.2f}x (target >= 1.6)"
    )
    print(
        f"engine / raw durable-rules rate: {engine_rate / raw_rate:.0%} (target >= 50%); round by round "
        f"{', '.join(f'{r:.0%}' for r in round_ratios)}, median {statistics.median(round_ratios):.0%}"
    )


if __name__ == "__main__":
    main()

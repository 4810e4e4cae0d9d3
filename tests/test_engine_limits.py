"""Standards files whose engine facts or rules grow with the file: scored right at the engine's limits, or
refused at the exact line.

durable-rules' C core does not match a fact of more than about 255 fields, stops (error 303) once one fact
matches more than about 64 times (each test of an "or" that holds is a match), refuses (error 113) a rule of a
few hundred tests and hangs on many hundreds of tests of one fact, and has crashed the process on wide facts:
files at a limit are scored in a child process (a regression is a failed test, not a crashed test run), with
every test that can hold holding at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import rules
from rules.conditions import MAX_WHEN_VALUES
from rules.flags import MAX_FLAG_TESTS
from rules.loader import MAX_MUST_MEET
from rules.mappings import MAX_REF_SLOTS
from tests.builders import criterion, document, domain, standard

ROOT = Path(__file__).resolve().parent.parent
# Scores each (answers, member) case of a file and prints the results as one JSON list.
SCORER = """
import json, sys
import rules
standards = rules.load_standards(sys.argv[1])
cases = json.loads(open(sys.argv[2]).read())
print(json.dumps([rules.score(standards, case) for case in cases]))
"""


def dump(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def score_in_child(tmp_path: Path, doc: dict, cases: list[dict]) -> list[dict]:
    standards, answers = tmp_path / "wide.yaml", tmp_path / "cases.json"
    standards.write_text(dump(doc))
    answers.write_text(json.dumps(cases))
    run = subprocess.run(
        [sys.executable, "-c", SCORER, str(standards), str(answers)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def case(values: dict, route: str = "full", org_type: str = "acute") -> dict:
    return {"route": route, "specialty": None, "org_type": org_type, "answers": values}


def problems_of(text: str) -> list[str]:
    with pytest.raises(rules.StandardsError) as refused:
        rules.parse_standards(text, "wide.yaml")
    return refused.value.problems


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The line number of the occurrence-th line containing ``needle``."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[occurrence - 1]


# -- a framework ref mapped from more standards than one fact carries: a fact per part, scored right


def mapped_file(count: int) -> dict:
    """``count`` standards all mapped to one CQC statement; S0 applies to acute members only."""
    standards = [
        standard(
            f"S{i}",
            [criterion(f"C{i}")],
            maps_to=[{"framework": "cqc", "ref": "Safe: safeguarding"}],
            **({"applies": {"org_types": ["acute"]}} if i == 0 else {}),
        )
        for i in range(count)
    ]
    return document([domain("d", standards)], schema=2, frameworks={"cqc": {"title": "CQC"}})


def test_a_ref_mapped_from_hundreds_of_standards_is_decided_over_every_part(tmp_path):
    count = 2 * MAX_REF_SLOTS + 10  # three facts
    every = {f"C{i}": "yes" for i in range(count)}
    results = score_in_child(
        tmp_path,
        mapped_file(count),
        [
            case(every),  # every standard met
            case({**every, f"C{count - 1}": "no"}),  # one not met, in the last part
            case({**every, f"C{MAX_REF_SLOTS}": "no"}),  # the first standard of the second part
            case({"C0": "yes"}),  # only S0 scored (in the first part): the other parts have nothing decided
            case({}, org_type="community"),  # unanswered: every standard applicable is scored 0, not met
        ],
    )
    ref = "Safe: safeguarding"
    assert [r["mapped"] for r in results] == [
        {"cqc": {ref: "met"}},
        {"cqc": {ref: "not_met"}},
        {"cqc": {ref: "not_met"}},
        {"cqc": {ref: "not_met"}},  # the unanswered ones are scored 0: not met
        {"cqc": {ref: "not_met"}},
    ]
    assert results[0]["outcome"] == "accredited"
    assert results[1]["standard_results"][f"S{count - 1}"]["status"] == "not_met"


def test_a_ref_is_met_or_not_assessed_by_the_one_part_that_decides(tmp_path):
    """Only S0 (first part) and S{count-1} (last part) apply to acute members; the middle part has nothing."""
    count = 2 * MAX_REF_SLOTS + 10
    doc = mapped_file(count)
    for entry in doc["domains"][0]["standards"][1:-1]:
        entry["applies"] = {"org_types": ["community"]}
    results = score_in_child(
        tmp_path,
        doc,
        [
            case({"C0": "yes", f"C{count - 1}": "yes"}),
            case({"C0": "yes", f"C{count - 1}": "no"}),
            case({"C0": "no", f"C{count - 1}": "yes"}),
            case({}, org_type="specialist"),  # S0 does not apply; the last one is unanswered: 0, not met
        ],
    )
    ref = "Safe: safeguarding"
    assert [r["mapped"]["cqc"][ref] for r in results] == ["met", "not_met", "not_met", "not_met"]
    doc["domains"][0]["standards"][-1]["applies"] = {"org_types": ["community"]}
    results = score_in_child(tmp_path, doc, [case({}, org_type="specialist"), case({"C0": "yes"})])
    assert [r["mapped"]["cqc"][ref] for r in results] == ["not_assessed", "met"]


# -- must-meet standards: the outcome fact carries each


def must_meet_file(count: int) -> dict:
    """``count`` must-meet standards of two questions each."""
    return document(
        [
            domain(
                "d",
                [
                    standard(f"S{i}", [criterion(f"C{i}"), criterion(f"D{i}", "metric")], must_meet=True)
                    for i in range(count)
                ],
            )
        ]
    )


def test_the_most_must_meet_standards_are_scored(tmp_path):
    every = {f"C{i}": "yes" for i in range(MAX_MUST_MEET)} | {f"D{i}": 90 for i in range(MAX_MUST_MEET)}
    half = {f"C{i}": "no" for i in range(MAX_MUST_MEET)} | {f"D{i}": 90 for i in range(MAX_MUST_MEET)}
    reds = {f"C{i}": "yes" for i in range(MAX_MUST_MEET)} | {f"D{i}": 10 for i in range(MAX_MUST_MEET)}
    results = score_in_child(
        tmp_path,
        must_meet_file(MAX_MUST_MEET),
        [
            case(every),
            case({**every, f"C{MAX_MUST_MEET - 1}": "no"}),  # the last must-meet standard not met
            case(half),  # every one not met at 50%: approaching, and held back by each
            case(reds),  # every one not met at 50% with a major breach: both tests of each hold
        ],
    )
    assert [(r["outcome"], r["rating"]) for r in results] == [
        ("accredited", "exemplary"),
        ("working_towards", "exemplary"),
        ("working_towards", "approaching"),
        ("working_towards", "approaching"),
    ]
    assert len(results[3]["breaches"]) == len(results[3]["support_needs"]) == MAX_MUST_MEET


def test_one_must_meet_standard_too_many_is_refused_at_its_line():
    text = dump(must_meet_file(MAX_MUST_MEET + 1))
    assert problems_of(text) == [
        f"wide.yaml:{line_of(text, 'must_meet: true', MAX_MUST_MEET + 1)}: standard 'S{MAX_MUST_MEET}': more "
        f"than {MAX_MUST_MEET} standards are must_meet, more than the engine can test at once; mark at most "
        f"{MAX_MUST_MEET} standards must_meet"
    ]


# -- a condition's ``in`` list: the condition fact carries each answer


def when_file(values: int) -> dict:
    options = [{"id": f"o{i}", "text": f"Option {i}", "score": 1} for i in range(values + 5)]
    return document(
        [
            domain(
                "d",
                [
                    standard(
                        "S1",
                        [
                            criterion("A", "choice", options=options),
                            criterion("B", when={"criterion": "A", "in": [f"o{i}" for i in range(values)]}),
                        ],
                    )
                ],
            )
        ],
        schema=2,
    )


def test_a_condition_listing_the_most_answers_is_decided(tmp_path):
    results = score_in_child(
        tmp_path,
        when_file(MAX_WHEN_VALUES),
        [
            case({"A": f"o{MAX_WHEN_VALUES - 1}", "B": "no"}),  # the last answer listed: B is asked
            case({"A": f"o{MAX_WHEN_VALUES}", "B": "no"}),  # not listed: B is not asked
        ],
    )
    assert [r["criteria"]["B"]["status"] for r in results] == ["scored", "inactive"]
    assert [r["standard_results"]["S1"]["score"] for r in results] == [50.0, 100.0]


def test_a_condition_listing_too_many_answers_is_refused_at_its_line():
    text = dump(when_file(MAX_WHEN_VALUES + 1))
    assert problems_of(text) == [
        f"wide.yaml:{line_of(text, 'in:')}: criterion 'B': 'when' 'in' lists {MAX_WHEN_VALUES + 1} answers of "
        f"'A', more than the engine can test; list at most {MAX_WHEN_VALUES}"
    ]


# -- flag rules: each test of the summary fact


def flags_file(rules_tests: list[int]) -> dict:
    """One metric M (an answer 0..1000) and flag rules each raised when M is one of its values."""
    doc = document([domain("d", [standard("S1", [criterion("M", "metric", unit="cases")])])])
    doc["rules"] = []
    start = 0
    for n, tests in enumerate(rules_tests):
        doc["rules"].append(
            {
                "id": f"f{n}",
                "severity": "warning",
                "message": f"M is one of rule {n}'s values",
                "when": {"any": [{"criterion": "M", "answer": {"eq": v}} for v in range(start, start + tests)]},
            }
        )
        start += tests
    return doc


def test_flag_rules_at_the_limit_are_raised_all_at_once(tmp_path):
    doc = document([domain("d", [standard("S1", [criterion("M", "metric", unit="cases")])])])
    doc["rules"] = [
        {
            "id": "any",
            "severity": "warning",
            "message": "M is over one of these",
            "when": {"any": [{"criterion": "M", "answer": {"gt": v}} for v in range(MAX_FLAG_TESTS // 2)]},
        },
        *(
            {
                "id": f"over-{v}",
                "severity": "warning",
                "message": f"M is over {v}",
                "when": {"all": [{"criterion": "M", "answer": {"gt": v}}]},
            }
            for v in range(MAX_FLAG_TESTS // 2)
        ),
    ]
    results = score_in_child(tmp_path, doc, [case({"M": 1000}), case({"M": 1}), case({"M": 0})])
    assert [[flag["id"] for flag in r["flags"]] for r in results] == [
        ["any", *(f"over-{v}" for v in range(MAX_FLAG_TESTS // 2))],
        ["any", "over-0"],
        [],
    ]


def test_flag_rules_of_too_many_tests_in_all_are_refused_at_the_rule_that_passes_the_limit():
    text = dump(flags_file([MAX_FLAG_TESTS - 2, 2, 1, 2]))
    assert problems_of(text) == [
        f"wide.yaml:{line_of(text, '- id: f2')}: rules: the flag rules make {MAX_FLAG_TESTS + 3} tests in all, "
        f"more than the engine can hold (from rule 'f2' on); make at most {MAX_FLAG_TESTS} (each value of an "
        "'in' counts as one)"
    ]


def test_the_score_command_refuses_a_file_past_a_limit_without_crashing(tmp_path):
    standards, answers = tmp_path / "wide.yaml", tmp_path / "answers.json"
    text = dump(must_meet_file(MAX_MUST_MEET + 1))
    standards.write_text(text)
    answers.write_text(json.dumps(case({})))
    run = subprocess.run(
        [sys.executable, "cli.py", "score", "--standards", str(standards), "--answers", str(answers)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert f"{standards}:{line_of(text, 'must_meet: true', MAX_MUST_MEET + 1)}: " in run.stderr
    assert "Traceback" not in run.stderr

"""The command line as operators use it: ``python cli.py`` in a fresh process.

Exit codes, what goes to stdout and what to stderr, and that no input ever
produces a traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import rules
from tests.builders import answers, criterion, document, domain, standard
from tests.test_loader import BASE, line_of, replace

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.+)$")


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "cli.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def scoring_document() -> dict:
    return document(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q1",
                        [
                            criterion("Q1.1"),
                            criterion("Q1.2", "level"),
                            criterion(
                                "Q1.3", "metric", unit="%", benchmark={"target": 85, "direction": "higher", "amber": 5}
                            ),
                        ],
                        must_meet=True,
                    ),
                    standard(
                        "Q2",
                        [criterion("Q2.1", "yes_partial_no", allow_na=True), criterion("Q2.2", "text")],
                        applies={"org_types": ["acute"]},
                    ),
                ],
                weight=2,
            ),
            domain(
                "people",
                [standard("P1", [criterion("P1.1", "metric", benchmark={"target": 3.2, "direction": "lower"})])],
            ),
        ],
        core_proposition=[{"id": "cp-lms", "title": "LMS", "routes": ["full"]}, {"id": "cp-qi", "title": "QI"}],
    )


@pytest.fixture
def standards_file(tmp_path: Path) -> Path:
    return write(tmp_path / "test-set-2026.1.yaml", yaml.safe_dump(scoring_document(), sort_keys=False))


# -- standards validate -----------------------------------------------------------------------------------


def test_validate_one_good_file(tmp_path):
    path = write(tmp_path / "noa.yaml", BASE)
    done = cli("standards", "validate", path)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path}: valid") and "noa-orthopaedics" in lines[0] and "2026.1" in lines[0]


def test_validate_several_good_files_one_line_each(tmp_path):
    first = write(tmp_path / "a.yaml", BASE)
    second = write(tmp_path / "b.yaml", replace(BASE, 'version: "2026.1"', 'version: "2026.2"'))
    done = cli("standards", "validate", first, second)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{first}: valid") and lines[1].startswith(f"{second}: valid") and "2026.2" in lines[1]


def test_validate_bad_file_lists_every_problem_with_its_line(tmp_path):
    text = replace(replace(BASE, "type: yes_no", "type: boolean"), "    weight: 2", "    weight: 0")
    path = write(tmp_path / "bad.yaml", text)
    done = cli("standards", "validate", path)
    assert done.returncode == 1 and done.stdout == ""
    problems = done.stderr.splitlines()
    assert [PROBLEM.match(p).group("file") for p in problems] == [str(path)] * 2
    assert [int(PROBLEM.match(p).group("line")) for p in problems] == [
        line_of(text, "weight: 0"),
        line_of(text, "type: boolean"),
    ]


def test_validate_good_and_bad_files_together(tmp_path):
    good = write(tmp_path / "good.yaml", BASE)
    bad = write(tmp_path / "bad.yaml", replace(BASE, "schema: 1", "schema: 3"))
    missing = tmp_path / "missing.yaml"
    done = cli("standards", "validate", good, bad, missing)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [line for line in done.stdout.splitlines() if line.startswith(f"{good}: valid")]
    assert len(done.stdout.splitlines()) == 1
    errors = done.stderr.splitlines()
    assert errors[0].startswith(f"{bad}:{line_of(BASE, 'schema: 1')}: ") and "schema" in errors[0]
    assert errors[1].startswith(f"{missing}:1: ") and len(errors) == 2


@pytest.mark.parametrize("content", [b"", b"schema: [1\n", b"schema: 1\nid: caf\xe9\n", b"- just\n- a list\n"])
def test_validate_unreadable_files_without_traceback(tmp_path, content):
    path = write(tmp_path / "odd.yaml", content)
    done = cli("standards", "validate", path)
    assert done.returncode == 1 and done.stdout == ""
    assert all(PROBLEM.match(line) and line.startswith(f"{path}:") for line in done.stderr.splitlines())


def test_validate_needs_a_path():
    done = cli("standards", "validate")
    assert done.returncode != 0 and done.stdout == ""


# -- standards show -----------------------------------------------------------------------------------------


def test_show_prints_a_readable_outline(tmp_path):
    path = write(tmp_path / "noa.yaml", BASE)
    done = cli("standards", "show", path)
    assert done.returncode == 0 and done.stderr == ""
    out = done.stdout
    for expected in (
        "National Orthopaedic Alliance quality standards",
        "2026.1",
        "effective from 2026-04-01",
        "Domain quality",
        "Standard Q1: Hip fracture care",
        "must meet",
        "Q1.3",
        "target >= 85%",
        "amber 5",
        "routes full, specialty",
        "cp-lms",
        "0 Not started",
    ):
        assert expected in out, expected


def test_show_bad_file(tmp_path):
    text = replace(BASE, "direction: higher", "direction: up")
    path = write(tmp_path / "bad.yaml", text)
    done = cli("standards", "show", path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines()[0].startswith(f"{path}:{line_of(text, 'direction: up')}: ")


# -- score ---------------------------------------------------------------------------------------------------


def test_score_prints_the_engines_result(tmp_path, standards_file):
    answers_doc = answers({"Q1.1": "yes", "Q1.2": 3, "Q1.3": 82.5, "Q2.1": "na", "Q2.2": "Audited", "P1.1": 3})
    answers_path = write(tmp_path / "answers.json", json.dumps(answers_doc))
    done = cli("score", "--standards", standards_file, "--answers", answers_path)
    assert done.returncode == 0 and done.stderr == ""
    printed = json.loads(done.stdout)
    expected = rules.score(rules.load_standards(standards_file), answers_doc)
    assert printed == json.loads(json.dumps(expected))
    # Q1 = (1 + 0.75 + 0.5) / 3 = 75 with a minor breach; Q2 not scored (na and text); P1 green.
    assert printed["standard_results"]["Q1"] == {"score": 75.0, "status": "met"}
    assert printed["breaches"] == [
        {"criterion": "Q1.3", "standard": "Q1", "value": 82.5, "target": 85, "direction": "higher", "severity": "minor"}
    ]
    assert (printed["overall"], printed["rating"], printed["outcome"]) == (83.3, "met", "accredited_with_conditions")


def test_score_keeps_whole_numbers_as_written(tmp_path, standards_file):
    answers_path = write(
        tmp_path / "answers.json",
        '{"route": "full", "specialty": null, "org_type": "acute", '
        '"answers": {"Q1.1": "yes", "Q1.2": 2.0, "Q1.3": 82, "P1.1": 3.0}}',
    )
    done = cli("score", "--standards", standards_file, "--answers", answers_path)
    assert done.returncode == 0
    assert '"value": 82,' in done.stdout
    printed = json.loads(done.stdout)
    assert printed["criteria"]["Q1.2"]["answer"] == 2 and printed["unanswered"] == ["Q2.1", "Q2.2"]


def test_score_accepts_a_byte_order_mark(tmp_path, standards_file):
    answers_path = write(tmp_path / "answers.json", b"\xef\xbb\xbf" + json.dumps(answers({"Q1.1": "yes"})).encode())
    done = cli("score", "--standards", standards_file, "--answers", answers_path)
    assert done.returncode == 0 and json.loads(done.stdout)["unanswered"][0] == "Q1.2"


def bad_answers_cases() -> list:
    return [
        ("not json", "{route: full}", ["not valid JSON"]),
        ("empty", "", ["not valid JSON"]),
        ("not an object", "[1, 2]", ["JSON object"]),
        ("wrong type", json.dumps(answers({"Q1.1": True})), ["Q1.1", "yes_no"]),
        ("out of range", json.dumps(answers({"Q1.2": 7})), ["Q1.2", "0 to 4"]),
        ("na not allowed", json.dumps(answers({"Q1.1": "na"})), ["Q1.1", "na"]),
        ("unknown criterion", json.dumps(answers({"Q9.9": "yes"})), ["Q9.9"]),
        ("unknown route", json.dumps(answers({}, route="associate")), ["route", "associate"]),
        ("answers not an object", json.dumps({"route": "full", "answers": ["yes"]}), ["answers"]),
        ("nested too deeply", "[" * 100000, ["nested too deeply"]),
        ("huge integer", '{"route": "full", "answers": {"Q1.3": ' + "9" * 5000 + "}}", ["answers"]),
        ("not utf-8", b'{"route": "full", "answers": {"Q2.2": "caf\xe9"}}', ["UTF-8"]),
    ]


@pytest.mark.parametrize("name, content, words", bad_answers_cases(), ids=[c[0] for c in bad_answers_cases()])
def test_score_bad_answers(tmp_path, standards_file, name, content, words):
    answers_path = write(tmp_path / "answers.json", content)
    done = cli("score", "--standards", standards_file, "--answers", answers_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip()
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    assert all(line.startswith(f"{answers_path}") for line in done.stderr.splitlines())


def test_score_reports_every_answer_problem(tmp_path, standards_file):
    answers_path = write(tmp_path / "answers.json", json.dumps(answers({"Q1.1": "maybe", "Q1.2": 1.5, "X1": 1})))
    done = cli("score", "--standards", standards_file, "--answers", answers_path)
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 3


def test_score_bad_standards(tmp_path):
    text = replace(BASE, "type: yes_no", "type: boolean")
    path = write(tmp_path / "bad.yaml", text)
    answers_path = write(tmp_path / "answers.json", json.dumps(answers({})))
    done = cli("score", "--standards", path, "--answers", answers_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{path}:{line_of(text, 'type: boolean')}: criterion 'Q1.1': 'type' must be one "
        f"of yes_no | yes_partial_no | level | metric | text, got 'boolean'"
    ]


@pytest.mark.parametrize("which", ["standards", "answers", "both", "directory"])
def test_score_missing_files(tmp_path, standards_file, which):
    answers_path = write(tmp_path / "answers.json", json.dumps(answers({})))
    standards_arg = tmp_path / "none.yaml" if which in ("standards", "both") else standards_file
    answers_arg = tmp_path / "none.json" if which in ("answers", "both") else answers_path
    if which == "directory":
        answers_arg = tmp_path
    done = cli("score", "--standards", standards_arg, "--answers", answers_arg)
    assert done.returncode == 1 and done.stdout == ""
    named = standards_arg if which in ("standards", "both") else answers_arg
    assert done.stderr.startswith(f"{named}:1: ") and "cannot read" in done.stderr


def test_score_needs_both_options(standards_file):
    done = cli("score", "--standards", standards_file)
    assert done.returncode != 0 and done.stdout == ""
    assert "--answers" in done.stderr


def test_score_warns_about_unknown_keys_of_the_answers_file_and_still_scores(tmp_path, standards_file):
    answers_doc = answers({"Q1.1": "yes"}) | {"member": "Royal Orthopaedic Hospital"}
    answers_path = write(tmp_path / "answers.json", json.dumps(answers_doc))
    done = cli("score", "--standards", standards_file, "--answers", answers_path)
    assert done.returncode == 0
    assert json.loads(done.stdout)["criteria"]["Q1.1"]["answer"] == "yes"
    assert done.stderr.startswith(f"{answers_path}: warning: ") and '"member"' in done.stderr


def test_show_prints_options_conditions_ranges_mappings_and_the_source_library(tmp_path):
    from tests.test_diff import base_2

    doc = base_2()
    doc["domains"][0]["standards"][0]["criteria"].append(
        criterion("Q4.5", "level", when={"criterion": "Q4.1", "in": ["phone", "clinic"]})
    )
    doc["domains"][0]["standards"][0]["criteria"].append(criterion("Q4.6", when={"criterion": "Q4.5", "in": [3, 4]}))
    doc["source"].update(name="NOA library", copyright="Free to reuse.\nWith credit.", publication_date="2026-01-15")
    done = cli("standards", "show", write(tmp_path / "noa.yaml", yaml.safe_dump(doc, sort_keys=False)))
    assert done.returncode == 0 and done.stderr == ""
    out = done.stdout
    for expected in (
        "  mapped to: cqc (CQC quality statements)",
        "  imported from: NOA library (urn:example:library:noa)",
        "    version 1, provider NOA, published 2026-01-15",
        "    copyright: Free to reuse.\n      With credit.",
        '    maps to: cqc "Safe: safe systems"; cqc "Well-led"',
        "    - Q4.1 [choice] Criterion Q4.1 (weight 1, required)\n"
        "        option none: Not reviewed (score 0)\n"
        "        option phone: Telephone follow-up (score 0.5)\n"
        "        option clinic: Clinic review (score 1)",
        "    - Q4.2 [multi_choice] Criterion Q4.2 (weight 1, required)\n"
        "        any number of options; the scores of those chosen add up, to at most 1\n"
        "        option nhfd: NHFD (score 0.5)",
        "        asked when Q4.1 is clinic",
        "        asked when Q4.1 is one of phone, clinic",
        "        asked when Q4.5 is one of 3 (All), 4 (Audited)",
        "        range 0..365 days",
        "Frameworks (the standards each ref is mapped from):\n  cqc: CQC quality statements (2 refs)\n"
        '    "Safe: safe systems": Q4\n    "Well-led": Q4',
    ):
        assert expected in out, expected
    assert "range 0..100" not in out  # a "%" metric's own range goes without saying

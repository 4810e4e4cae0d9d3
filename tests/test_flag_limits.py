"""Flag rules on large standards files: the engine's summary fact holds only what the flag rules test.

durable-rules' C core ends the process (a segmentation fault) on a fact of more
than 255 fields, so scoring runs in a child process here: a regression is a
failed test, not a crashed test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

import rules
from tests.builders import criterion, document, domain, standard

ROOT = Path(__file__).resolve().parent.parent
METRIC = {"unit": "%", "benchmark": {"target": 80, "direction": "higher", "amber": 5}}


def large_file(flag_criteria: int = 1) -> dict:
    """80 metric criteria (5 summary fields each, once answered) and flag rules on the first few of them."""
    criteria = [criterion(f"M{i}", "metric", **METRIC) for i in range(80)]
    doc = document([domain("quality", [standard("Q1", criteria[:40]), standard("Q2", criteria[40:])])])
    doc["rules"] = [
        {
            "id": f"low-{i}",
            "severity": "warning",
            "message": f"M{i} is red",
            "when": {"all": [{"criterion": f"M{i}", "rag": "red"}]},
        }
        for i in range(flag_criteria)
    ]
    return doc


def test_scoring_a_large_file_with_flag_rules_answered_in_full(tmp_path: Path) -> None:
    standards = tmp_path / "large.yaml"
    standards.write_text(yaml.safe_dump(large_file()))
    answers = tmp_path / "answers.json"
    values = {f"M{i}": 90 for i in range(80)} | {"M0": 10}
    answers.write_text(json.dumps({"route": "full", "org_type": "acute", "answers": values}))
    run = subprocess.run(
        [sys.executable, "cli.py", "score", "--standards", str(standards), "--answers", str(answers)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert [flag["id"] for flag in result["flags"]] == ["low-0"]
    assert result["standard_results"]["Q1"]["status"] == "not_met"


def test_flag_rules_naming_more_than_the_engine_can_test_are_a_file_error() -> None:
    text = yaml.safe_dump(large_file(flag_criteria=51), sort_keys=False)
    try:
        rules.parse_standards(text, "large.yaml")
    except rules.StandardsError as exc:
        problems = exc.problems
    else:
        raise AssertionError("a file whose flag rules name 51 criteria loaded")
    rules_line = text.splitlines().index("rules:") + 2
    assert problems == [
        f"large.yaml:{rules_line}: rules: the flag rules name 51 criteria and 0 standards, more than "
        "the engine can test at once; name at most 50 criteria (each criterion counts as 5 standards)"
    ]

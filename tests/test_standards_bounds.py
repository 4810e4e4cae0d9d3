"""A standards file is bounded and its text is text: whatever its size or content, loading it ends quickly with
the model or with ``FILE:LINE`` problems, at most a hundred of them and a count of the rest.

Issue 17 items 1 (a lone surrogate or a control character written as a YAML escape) and 2 (a 1 MB upload of
~110,000 keys took 22-55 s and listed every problem).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rules
from rules.checking import MAX_PROBLEMS
from rules.yamlnodes import MAX_BYTES, MAX_DEPTH, MAX_LINES, MAX_NODES

ROOT = Path(__file__).resolve().parent.parent
NOA = ROOT / "standards" / "noa-orthopaedics-2026.1.yaml"
NOA_TEXT = NOA.read_text(encoding="utf-8")
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>\S.*)$")
TITLE = "title: National Orthopaedic Alliance quality standards"


def problems(text: str, filename: str = "pack.yaml") -> list[str]:
    with pytest.raises(rules.StandardsError) as refused:
        rules.parse_standards(text, filename=filename)
    for problem in refused.value.problems:
        assert PROBLEM.match(problem) and "\n" not in problem, problem
    return refused.value.problems


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "cli.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


# -- item 1: text that is not text ---------------------------------------------------------------------------


def test_a_lone_surrogate_escaped_in_a_standards_file_is_a_file_line_problem(tmp_path):
    text = NOA_TEXT.replace(TITLE, 'title: "Quality \\uD800 standards"', 1)
    line = line_of(text, "\\uD800")
    [problem] = problems(text)
    assert problem.startswith(f"pack.yaml:{line}: "), problem
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    for command in ("validate", "show"):
        done = cli("standards", command, path)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"{path}:{line}: "), done.stderr


def test_a_lone_surrogate_in_the_text_itself_is_named_by_its_line():
    text = NOA_TEXT.replace(TITLE, "title: Quality \ud800 standards", 1)
    line = line_of(text, chr(0xD800))
    assert problems(text) == [
        f"pack.yaml:{line}: this text cannot contain \\ud800 (a lone surrogate, which is not a character)"
    ]


@pytest.mark.parametrize("escape, shown", [("\\e", "\\x1b"), ("\\a", "\\x07"), ("\\0", "NUL"), ("\\x9b", "\\x9b")])
def test_a_control_character_escaped_in_a_standards_file_is_refused(escape, shown):
    text = NOA_TEXT.replace(TITLE, f'title: "Quality {escape}[2J standards"', 1)
    [problem] = problems(text)
    assert problem.startswith(f"pack.yaml:{line_of(text, escape)}: this text cannot contain ") and shown in problem


def test_a_control_character_in_a_key_is_refused():
    text = NOA_TEXT.replace(TITLE, f'{TITLE}\n"ti\\etle": x', 1)
    line = line_of(text, '"ti')
    assert problems(text) == [f"pack.yaml:{line}: this key cannot contain the control character \\x1b"]


def test_line_breaks_and_tabs_in_text_are_still_text():
    text = NOA_TEXT.replace(TITLE, 'title: "Quality\\tstandards"\n', 1).replace(
        "          - id: G1.3\n", '          - id: G1.3\n            guidance: "one\\ntwo"\n', 1
    )
    loaded = rules.parse_standards(text)
    assert loaded.title == "Quality\tstandards"
    assert loaded.criterion_lookup["G1.3"][1].guidance == "one\ntwo"


# -- item 2: bounds --------------------------------------------------------------------------------------------


def test_a_file_larger_than_the_bound_is_refused_before_it_is_parsed(tmp_path):
    text = NOA_TEXT + "# " + "x" * (MAX_BYTES - len(NOA_TEXT.encode())) + "\n"
    message = f"the file is larger than {MAX_BYTES // 1024:,} KB, the most a standards file can be"
    assert problems(text) == [f"pack.yaml:1: {message}"]
    path = tmp_path / "large.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(rules.StandardsError) as refused:
        rules.load_standards(path)
    assert refused.value.problems == [f"{path}:1: {message}"]


def test_a_file_of_more_lines_than_the_bound_is_refused_before_it_is_parsed():
    text = NOA_TEXT + "#\n" * MAX_LINES
    assert problems(text) == [
        f"pack.yaml:{MAX_LINES + 1}: the file has more than {MAX_LINES:,} lines; a standards file needs far fewer"
    ]


def test_nesting_deeper_than_the_bound_is_refused():
    text = NOA_TEXT + "extra: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    [problem] = problems(text)
    assert problem.startswith(f"pack.yaml:{line_of(text, 'extra:')}: ")
    assert f"nested more than {MAX_DEPTH} levels deep" in problem


def test_more_values_than_the_bound_are_refused():
    text = NOA_TEXT + "extra: [" + ", ".join(["0"] * MAX_NODES) + "]\n"
    [problem] = problems(text)
    assert f"the document holds more than {MAX_NODES:,} values" in problem


def test_only_the_first_hundred_problems_are_listed_then_how_many_more():
    keys = 30_000
    text = NOA_TEXT + "".join(f"k{i}: 0\n" for i in range(keys))
    found = problems(text)
    assert len(found) == MAX_PROBLEMS + 1
    assert all("unknown key 'k" in problem for problem in found[:-1])
    assert re.fullmatch(
        rf"pack\.yaml:\d+: and {keys - MAX_PROBLEMS:,} more problems \(the first {MAX_PROBLEMS} "
        r"found are listed\)",
        found[-1],
    ), found[-1]


def test_a_1_mb_file_of_110_000_keys_is_refused_in_seconds_with_a_short_answer():
    """It took 22-55 s and listed 110,000 problems (25 MB of error page) before."""
    lines, size, index = [NOA_TEXT], len(NOA_TEXT), 0
    while size < 1_000_000:
        lines.append(f"{index:x}g: 0\n")
        size += len(lines[-1])
        index += 1
    text = "".join(lines)
    assert index > 100_000
    started = time.perf_counter()
    found = problems(text)
    assert time.perf_counter() - started < 15
    assert len(found) <= MAX_PROBLEMS + 1 and sum(map(len, found)) < 40_000


def test_100_000_keys_in_one_flow_mapping_are_refused_in_seconds():
    keys = ",".join(f"{index:x}: 0" for index in range(105_000))
    text = NOA_TEXT + "extra: {" + keys + "}\n"
    assert len(text.encode()) < MAX_BYTES and text.count("\n") < MAX_LINES
    started = time.perf_counter()
    [problem] = problems(text)
    assert time.perf_counter() - started < 15
    assert f"the document holds more than {MAX_NODES:,} values" in problem


def test_a_long_list_is_read_in_time_linear_in_its_length():
    """Each entry was compared with every entry before it: 45,000 specialties took over a minute."""
    specialties = ", ".join(f"s{i}" for i in range(45_000))
    text = NOA_TEXT.replace(
        "        must_meet: true\n", f"        must_meet: true\n        applies: {{specialties: [{specialties}]}}\n", 1
    )
    started = time.perf_counter()
    loaded = rules.parse_standards(text)
    assert time.perf_counter() - started < 15
    assert len(loaded.standards[0].applies.specialties) == 45_000

"""Whatever a person hands us, the engine answers with a result or with clear problems, never a traceback.

Hypothesis writes standards files two ways: the real NOA pack as a document with keys deleted, values of
the wrong type or odd values put in, entries duplicated and unknown keys added; and raw text (the pack's
lines cut, repeated, moved and re-indented, YAML oddities such as tags, aliases and tabs put in, and any
text at all). Every file either loads, and then compiles and scores, or is refused with problems in the
``FILE:LINE: message`` form, the line inside the file. Answers documents, arbitrary JSON and answers
close to valid ones, either validate and score or are refused with problems naming the criterion or
field; the command line does the same in a fresh process, exit 1 and no traceback.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

import rules
from rules import model as m

ROOT = Path(__file__).resolve().parent.parent
NOA = ROOT / "standards" / "noa-orthopaedics-2026.1.yaml"
HA = ROOT / "standards" / "healthcare-alliance-2026.1.yaml"
NOA_TEXT = NOA.read_text(encoding="utf-8")
NOA_LINES = NOA_TEXT.splitlines()
NOA_DOC = yaml.safe_load(NOA_TEXT)
EXAMPLE = json.loads((ROOT / "examples" / "answers" / "noa-full-conditions.json").read_text(encoding="utf-8"))
PACKS = {"noa": rules.load_standards(NOA), "ha": rules.load_standards(HA)}
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>\S.*)$")
MEMBER_PROBLEM = re.compile(r"^(answers file|route|specialty|org_type|answers): \S")
CRITERION_PROBLEM = re.compile(r"^answers: criterion (?P<id>.+?) \((?P<type>[a-z_]+)\): \S")
SEPARATORS_ESCAPED = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
UNKNOWN_PROBLEM = re.compile(r'^answers: (?P<id>".*") is not a criterion of ')

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# -- what a caller gets back ----------------------------------------------------------------------------


def loaded_or_problems(text: str, filename: str = "fuzz.yaml") -> rules.StandardsSet | None:
    """The loaded set, or None after checking every problem names this file and a line inside it."""
    try:
        loaded = rules.parse_standards(text, filename=filename)
    except rules.StandardsError as exc:
        check_problems(exc.problems, filename, text.count("\n") + 1)
        event("standards refused")
        return None
    assert isinstance(loaded, m.StandardsSet)
    event("standards loaded")
    return loaded


def check_problems(problems: list[str], filename: str, lines: int) -> None:
    assert problems, "refused without a reason"
    for problem in problems:
        assert isinstance(problem, str) and "\n" not in problem and "Traceback" not in problem, problem
        found = PROBLEM.match(problem)
        assert found, f"not FILE:LINE: message: {problem!r}"
        assert found["file"] == filename, problem
        assert 1 <= int(found["line"]) <= lines + 1, (problem, lines)


def scores_cleanly(loaded: rules.StandardsSet, answers_doc: Any) -> dict | None:
    """The result, or None after checking the answers were refused with clear problems."""
    try:
        result = rules.score(loaded, answers_doc)
    except rules.AnswersError as exc:
        check_answer_problems(loaded, answers_doc, exc.problems)
        return None
    assert set(result) >= {"overall", "rating", "outcome", "criteria", "breaches", "standard_results"}
    json.dumps(result, allow_nan=False)  # the result is plain JSON
    return result


def exercise(loaded: rules.StandardsSet) -> None:
    """A set that loads must compile and score: nothing answered, on every route, and the example's answers."""
    try:
        for route in loaded.route_ids:
            result = scores_cleanly(
                loaded, {"route": route, "specialty": "orthopaedics", "org_type": "acute", "answers": {}}
            )
            assert result is not None
        scores_cleanly(loaded, EXAMPLE)
    finally:
        rules.release(loaded)  # every mutated version is a ruleset of its own: free it


# -- standards documents: the real pack, mutated --------------------------------------------------------

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-07, -0.0, 1e300, 0.1, 2.5e-320]),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "na",
            "yes",
            "1e-07",
            "2026-02-30",
            "higher",
            "level",
            "metric",
            "full",
            "Q1.1",
            "G1.1",
            "✓",
            "a" * 300,
        ]
    ),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers(0, 3)), st.integers(-2, 2), max_size=2),
)


def all_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += all_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += all_paths(value, prefix + (index,))
    return found


def at(doc: Any, path: tuple) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict:
    doc = copy.deepcopy(NOA_DOC)
    for _ in range(draw(st.integers(1, 4))):
        paths = all_paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = at(doc, path[:-1]), path[-1]
        action = draw(st.sampled_from(("delete", "replace", "replace", "duplicate", "add key", "swap type")))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(ODD_VALUES)
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        elif action == "add key" and isinstance(parent[last], dict):
            parent[last][
                draw(st.sampled_from(["id", "weight", "type", "extra", "levels", "applies", "when"]))
                + draw(st.sampled_from(["", "", "_x"]))
            ] = draw(ODD_VALUES)
        elif action == "swap type":
            value = parent[last]
            parent[last] = [value] if not isinstance(value, list) else (value[0] if value else {})
    return doc


@FUZZ
@given(doc=mutated_documents())
def test_a_mutated_pack_loads_and_scores_or_names_each_problem_and_line(doc):
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    loaded = loaded_or_problems(text)
    if loaded is not None:
        exercise(loaded)


# -- standards files as raw text ------------------------------------------------------------------------

ODD_LINES = [
    "- ",
    ": ",
    "? x",
    "{",
    "[",
    "]",
    '"unterminated',
    "'",
    "\t- id: X",
    "key: |",
    "key: >-",
    "&anchor",
    "*anchor",
    "x: *nowhere",
    "y: &a [1, *a]",
    "!!python/object/apply:os.system ['true']",
    "z: !!binary aGVsbG8=",
    "z: !!int x",
    "z: !!float nope",
    "z: !!timestamp 2026-13-45",
    "%YAML 1.1",
    "---",
    "...",
    "\x00",
    "\ufeff",
    "#",
    "domains:",
    "  - id: d",
    "    standards: {}",
    "id: 5",
    "version: 2026.1",
    "schema: !!bool yes",
    "criteria: []",
    "<<: *anchor",
    "x: 1e309",
    "x: .nan",
]


@st.composite
def damaged_text(draw: st.DrawFn) -> str:
    lines = list(NOA_LINES)
    for _ in range(draw(st.integers(1, 5))):
        index = draw(st.integers(0, len(lines) - 1)) if lines else 0
        action = draw(st.sampled_from(("cut", "repeat", "move", "indent", "insert", "truncate", "edit")))
        if not lines:
            lines.append(draw(st.sampled_from(ODD_LINES)))
        elif action == "cut":
            del lines[index : index + draw(st.integers(1, 12))]
        elif action == "repeat":
            lines[index:index] = lines[index : index + draw(st.integers(1, 8))]
        elif action == "move":
            line = lines.pop(index)
            lines.insert(draw(st.integers(0, len(lines))), line)
        elif action == "indent":
            lines[index] = " " * draw(st.integers(0, 7)) + lines[index].lstrip()
        elif action == "insert":
            lines.insert(index, draw(st.sampled_from(ODD_LINES)))
        elif action == "truncate":
            cut = draw(st.integers(0, len(lines[index])))
            lines = lines[:index] + [lines[index][:cut]]
        else:
            line = lines[index]
            spot = draw(st.integers(0, len(line)))
            lines[index] = line[:spot] + draw(st.text(max_size=3)) + line[spot + 1 :]
    return "\n".join(lines) + draw(st.sampled_from(("\n", "", "\r\n")))


@FUZZ
@given(text=damaged_text())
def test_damaged_pack_text_loads_and_scores_or_names_each_problem_and_line(text):
    loaded = loaded_or_problems(text)
    if loaded is not None:
        exercise(loaded)


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=300), st.lists(st.sampled_from(ODD_LINES + NOA_LINES[:40]), max_size=30).map("\n".join)
    )
)
def test_any_text_loads_or_names_each_problem_and_line(text):
    loaded = loaded_or_problems(text)
    if loaded is not None:
        exercise(loaded)


@settings(max_examples=100, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.tuples(st.integers(0, len(NOA_TEXT)), st.binary(min_size=1, max_size=4)).map(
            lambda cut: NOA_TEXT.encode()[: cut[0]] + cut[1] + NOA_TEXT.encode()[cut[0] :]
        ),
    )
)
def test_any_bytes_on_disk_load_or_name_each_problem_and_line(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pack.yaml"
        path.write_bytes(data)
        try:
            loaded = rules.load_standards(path)
        except rules.StandardsError as exc:
            check_problems(exc.problems, str(path), data.count(b"\n") + 1)
        else:
            rules.release(loaded)


def test_aliases_of_aliases_are_refused_before_they_expand():
    """Nine short lines that would expand to 9**9 values (a "billion laughs" file) are refused at once."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    started = time.monotonic()
    with pytest.raises(rules.StandardsError) as refused:
        rules.parse_standards("\n".join(lines) + "\n", filename="fuzz.yaml")
    assert time.monotonic() - started < 10
    check_problems(refused.value.problems, "fuzz.yaml", len(lines))
    assert "YAML syntax error: the document holds more than" in refused.value.problems[0]


def test_a_control_character_is_refused_naming_its_line():
    text = NOA_TEXT.replace("title: Named clinical leadership", "title: Named clinical\x1f leadership", 1)
    assert text != NOA_TEXT
    line = text[: text.index("\x1f")].count("\n") + 1
    with pytest.raises(rules.StandardsError) as refused:
        rules.parse_standards(text, filename="pack.yaml")
    assert refused.value.problems == [
        f"pack.yaml:{line}: YAML syntax error: the control character 0x1f is not allowed in a YAML file"
    ]


# -- answers documents ------------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["yes", "no", "partial", "na", "NA", " ", "", "3", "82.5", "1e-07"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


def plausible_answer(criterion: m.Criterion, strict: bool = False) -> st.SearchStrategy:
    """Answers a form would send for this criterion: right ones only (``strict``), or right and nearly right."""
    if criterion.type in m.CHOICES:
        right = st.sampled_from(m.CHOICES[criterion.type])
    elif criterion.type == "level":
        right = st.integers(0, len(criterion.levels) - 1)
    elif criterion.type == "metric":
        target = float(criterion.benchmark.target)
        right = st.one_of(
            st.floats(min_value=target - 50, max_value=target + 50, allow_nan=False),
            st.integers(-(10**6), 10**6),
            st.sampled_from([0, -0.0, 1e-07, 1e-300, 2**62, target]),
        )
    else:
        right = st.text(max_size=30)
    if strict:
        return st.one_of(right, st.just("na")) if criterion.allow_na else right
    return st.one_of(right, right, st.just("na"), JSON_SCALARS)


@st.composite
def answers_documents(draw: st.DrawFn) -> tuple[str, Any]:
    pack = draw(st.sampled_from(sorted(PACKS)))
    loaded = PACKS[pack]
    if draw(st.integers(0, 9)) == 0:
        return pack, draw(JSON_VALUES)  # anything at all
    ids = [c.id for c in loaded.criteria]
    if draw(st.booleans()):  # a well-formed document: every answer one the criterion takes
        chosen = draw(st.lists(st.sampled_from(ids), max_size=len(ids), unique=True))
        route = draw(st.sampled_from(list(loaded.route_ids)))
        return pack, {
            "route": route,
            "specialty": "orthopaedics" if route == "specialty" else None,
            "org_type": draw(st.sampled_from(["acute", "community", "specialist"])),
            "answers": {cid: draw(plausible_answer(loaded.criterion_lookup[cid][1], strict=True)) for cid in chosen},
        }
    chosen = draw(st.lists(st.sampled_from(ids), max_size=12, unique=True))
    answers: dict[str, Any] = {cid: draw(plausible_answer(loaded.criterion_lookup[cid][1])) for cid in chosen}
    if draw(st.booleans()):
        answers[draw(st.sampled_from(["q1.1", "Q99.9", "", " ", "G1.1 ", "🙂"]))] = draw(JSON_SCALARS)
    doc: dict[str, Any] = {
        "route": draw(st.one_of(st.sampled_from(list(loaded.route_ids)), JSON_SCALARS)),
        "specialty": draw(
            st.one_of(st.none(), st.sampled_from(["orthopaedics", "spinal", "cardiology"]), JSON_SCALARS)
        ),
        "org_type": draw(st.one_of(st.sampled_from(["acute", "community", "specialist"]), JSON_SCALARS)),
        "answers": draw(st.one_of(st.just(answers), st.just(answers), st.just(answers), JSON_VALUES)),
    }
    for key in draw(st.lists(st.sampled_from(list(doc)), max_size=2, unique=True)):
        del doc[key]
    if draw(st.integers(0, 5)) == 0:
        doc[draw(st.sampled_from(["answer", "routes", "extra"]))] = draw(JSON_SCALARS)
    return pack, doc


def check_answer_problems(loaded: rules.StandardsSet, doc: Any, problems: list[str]) -> None:
    """Every problem is one line about a member field or names its criterion; every bad answer is named."""
    assert problems, "refused without a reason"
    named: set[str] = set()
    for problem in problems:
        assert isinstance(problem, str) and len(problem.splitlines()) == 1 and "Traceback" not in problem, problem
        assert MEMBER_PROBLEM.match(problem), problem
        found = CRITERION_PROBLEM.match(problem)
        if found:
            criterion = loaded.criterion_lookup[found["id"]][1]
            assert found["type"] == criterion.type, problem
            named.add(found["id"])
        unknown = UNKNOWN_PROBLEM.match(problem)
        if unknown:
            assert json.loads(unknown["id"]) not in loaded.criterion_lookup, problem
    answers = doc.get("answers") if isinstance(doc, dict) else None
    if not isinstance(answers, dict):
        return
    member_ok = not any(p.startswith(("route:", "specialty:", "org_type:", "answers file:")) for p in problems)
    applies = loaded.applicable_ids(doc["route"], doc.get("specialty"), doc.get("org_type")) if member_ok else None
    for key, value in answers.items():
        if key not in loaded.criterion_lookup:
            shown = json.dumps(key, ensure_ascii=False).translate(SEPARATORS_ESCAPED)
            assert any(p.startswith(f"answers: {shown} is not a criterion") for p in problems), (key, problems)
            continue
        standard, criterion = loaded.criterion_lookup[key]
        if applies is not None and standard.id not in applies:
            assert key not in named, (key, problems)  # answers to standards that do not apply are ignored
            continue
        bad = rules.check_answer(criterion, value)[1] is not None
        assert (key in named) is bad, (key, value, problems)


@FUZZ
@given(case=answers_documents())
def test_any_answers_document_scores_or_names_each_bad_criterion(case):
    pack, doc = case
    note(f"{pack}: {doc!r}")
    loaded = PACKS[pack]
    try:
        submission = rules.read_submission(loaded, doc)
    except rules.AnswersError as exc:
        check_answer_problems(loaded, doc, exc.problems)
        event("answers refused")
        return
    event("answers scored")
    for key, value in submission.answers.items():
        assert rules.check_answer(loaded.criterion_lookup[key][1], value) == (value, None), (key, value)
    result = rules.score_submission(loaded, submission)
    json.dumps(result, allow_nan=False)
    for key, value in submission.answers.items():
        if key in result["criteria"]:
            assert result["criteria"][key]["answer"] == value


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_check_answer_gives_a_clean_answer_or_says_what_is_accepted(data):
    pack = data.draw(st.sampled_from(sorted(PACKS)))
    criterion = data.draw(st.sampled_from(PACKS[pack].criteria))
    value = data.draw(st.one_of(plausible_answer(criterion), JSON_VALUES))
    clean, problem = rules.check_answer(criterion, value)
    if problem is not None:
        assert clean is None and isinstance(problem, str) and problem.strip() and "\n" not in problem
        assert re.match(r'^(expected |"na" is not allowed)', problem), problem
        return
    if clean is None or clean == "na":
        assert (
            value is None
            or (criterion.type == "text" and isinstance(value, str))
            or (value == "na" and criterion.allow_na)
        )
    elif criterion.type in m.CHOICES:
        assert clean in m.CHOICES[criterion.type]
    elif criterion.type == "level":
        assert type(clean) is int and 0 <= clean < len(criterion.levels)
    elif criterion.type == "metric":
        assert m.is_number(clean)
    else:
        assert isinstance(clean, str) and clean.strip()


# -- the command line, in a fresh process -----------------------------------------------------------------


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "cli.py", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=st.one_of(damaged_text(), mutated_documents().map(lambda d: yaml.safe_dump(d, sort_keys=False))))
def test_the_command_line_refuses_bad_standards_cleanly(text):
    assume(loaded_or_problems(text) is None)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bad.yaml"
        path.write_text(text, encoding="utf-8")
        answers = Path(folder) / "answers.json"
        answers.write_text(json.dumps(EXAMPLE), encoding="utf-8")
        for done in (cli("standards", "validate", path), cli("score", "--standards", path, "--answers", answers)):
            assert done.returncode == 1, (done.returncode, done.stderr)
            assert done.stdout == ""
            assert "Traceback" not in done.stderr
            check_problems(done.stderr.splitlines(), str(path), text.count("\n") + 1)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=answers_documents())
def test_the_command_line_refuses_bad_answers_cleanly(case):
    pack, doc = case
    try:
        rules.read_submission(PACKS[pack], doc)
    except rules.AnswersError:
        pass
    else:
        assume(False)
    with tempfile.TemporaryDirectory() as folder:
        answers = Path(folder) / "answers.json"
        answers.write_text(json.dumps(doc), encoding="utf-8")
        done = cli("score", "--standards", NOA if pack == "noa" else HA, "--answers", answers)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert done.stdout == "" and "Traceback" not in done.stderr
    for line in done.stderr.splitlines():
        assert line.startswith(f"{answers}: "), line
        assert MEMBER_PROBLEM.match(line[len(f"{answers}: ") :]), line


def test_a_criterion_id_with_a_unicode_line_separator_is_one_problem_on_one_line():
    for key in ("\x85", "a\u2028b", "c\u2029"):
        with pytest.raises(rules.AnswersError) as refused:
            rules.read_submission(
                PACKS["ha"], {"route": "full", "specialty": None, "org_type": "acute", "answers": {key: None}}
            )
        assert [len(problem.splitlines()) for problem in refused.value.problems] == [1]
        assert json.loads(UNKNOWN_PROBLEM.match(refused.value.problems[0])["id"]) == key

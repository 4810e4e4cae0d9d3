"""The standards file format: every rule of the contract, and FILE:LINE for every problem.

Each case changes one thing in a valid file and checks that exactly that
problem is reported, at the line of the offending key or value (for a missing
key, the line where the mapping that lacks it begins). Line numbers are found
from the text, never counted by hand.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pydantic
import pytest
import yaml

import rules
from rules import compiling
from tests.builders import answers

BASE = """\
# NOA orthopaedic quality standards (test copy)
schema: 1
id: noa-orthopaedics
version: "2026.1"
title: National Orthopaedic Alliance quality standards
alliance: National Orthopaedic Alliance
effective_from: 2026-04-01
routes:
  full: {title: Full membership}
  specialty: {title: Specialty membership}
core_proposition:
  - {id: cp-lms, title: Shared learning management system, routes: [full]}
  - {id: cp-qi, title: Quality improvement toolkit}
domains:
  - id: quality
    title: Delivering consistent high-quality care
    weight: 2
    standards:
      - id: Q1
        title: Hip fracture care
        must_meet: true
        applies:
          routes: [full, specialty]
          specialties: [orthopaedics]
          org_types: [acute, specialist]
        criteria:
          - id: Q1.1
            text: Is there a named clinical lead for hip fracture care?
            type: yes_no
            evidence: required
          - id: Q1.2
            text: How embedded is the enhanced recovery pathway?
            type: level
            levels: [Not started, Planned, Partly in place, In place, Embedded and audited]
          - id: Q1.3
            text: Patients operated on within 36 hours of admission
            type: metric
            unit: "%"
            benchmark: {target: 85, direction: higher, amber: 5}
  - id: people
    title: Workforce
    standards:
      - id: P1
        title: Staff training
        criteria:
          - id: P1.1
            text: Share of staff with up-to-date training
            type: yes_partial_no
            allow_na: true
            required: false
            weight: 0.5
"""

PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.+)$")


# -- helpers ------------------------------------------------------------------------------------------


def line_of(text: str, needle: str) -> int:
    """The 1-based line that is ``needle`` (spaces aside) or else the one line holding it."""
    lines = text.splitlines()
    found = [n for n, line in enumerate(lines, 1) if line.strip() == needle.strip()]
    if len(found) != 1:
        found = [n for n, line in enumerate(lines, 1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def replace(text: str, needle: str, new: str) -> str:
    assert text.count(needle) == 1, needle
    return text.replace(needle, new)


def insert_after(text: str, needle: str, new_line: str) -> str:
    """Insert a line after the one holding ``needle``, indented like that line's key."""
    lines = text.splitlines()
    index = line_of(text, needle) - 1
    match = re.match(r"^(\s*)(- )?", lines[index])
    indent = len(match.group(1)) + (2 if match.group(2) else 0)
    lines.insert(index + 1, " " * indent + new_line)
    return "\n".join(lines) + "\n"


def drop_key(text: str, needle: str, from_line: int = 0) -> str:
    """Remove the key on the line holding ``needle`` with everything nested under it.

    With ``from_line``, the first line from there holding ``needle``. When the
    key opened a list item (``- id: ...``), the item's next key takes its
    place, so the mapping still begins on the same line.
    """
    lines = text.splitlines()
    if from_line:
        index = next(n for n in range(from_line - 1, len(lines)) if needle in lines[n])
    else:
        index = line_of(text, needle) - 1
    match = re.match(r"^(\s*)(- )?", lines[index])
    column = len(match.group(1)) + (2 if match.group(2) else 0)
    end = index + 1
    while end < len(lines) and (len(lines[end]) - len(lines[end].lstrip()) > column or not lines[end].strip()):
        end += 1
    rest = lines[end:]
    if match.group(2):
        assert rest and rest[0].startswith(" " * column) and rest[0][column] != " "
        rest[0] = match.group(1) + "- " + rest[0][column:]
    return "\n".join(lines[:index] + rest) + "\n"


def problems_of(tmp_path: Path, text: str | bytes, name: str = "standards.yaml") -> tuple[str, list[str]]:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(rules.StandardsError) as caught:
        rules.load_standards(path)
    for problem in caught.value.problems:
        assert PROBLEM.match(problem) and problem.startswith(f"{path}:"), problem
    return str(path), caught.value.problems


def assert_only_problem(tmp_path: Path, text: str | bytes, line: int, *words: str) -> str:
    path, problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}: "), (problems[0], line)
    for word in words:
        assert word in problems[0], (word, problems[0])
    return problems[0]


def test_the_base_file_is_valid(tmp_path):
    path = tmp_path / "noa.yaml"
    path.write_text(BASE, encoding="utf-8")
    loaded = rules.load_standards(path)
    assert (loaded.id, loaded.version, loaded.source) == ("noa-orthopaedics", "2026.1", str(path))
    assert [c.id for c in loaded.criteria] == ["Q1.1", "Q1.2", "Q1.3", "P1.1"]


# -- missing keys: reported where the mapping that lacks them begins ---------------------------------

TOP = "schema: 1"
QUALITY = "  - id: quality"
Q1 = "      - id: Q1"
Q11 = "          - id: Q1.1"
Q12 = "          - id: Q1.2"
Q13 = "          - id: Q1.3"


@pytest.mark.parametrize(
    "needle, mapping",
    [
        ("schema: 1", TOP),
        ("id: noa-orthopaedics", TOP),
        ('version: "2026.1"', TOP),
        ("title: National Orthopaedic Alliance quality standards", TOP),
        ("alliance: National", TOP),
        ("effective_from:", TOP),
        ("domains:", TOP),
        (QUALITY, QUALITY),
        ("title: Delivering consistent", QUALITY),
        ("    standards:", QUALITY),
        (Q1, Q1),
        ("title: Hip fracture care", Q1),
        ("        criteria:", Q1),
        (Q11, Q11),
        ("text: Is there a named", Q11),
        ("type: yes_no", Q11),
    ],
)
def test_missing_required_key(tmp_path, needle, mapping):
    key = needle.strip().lstrip("- ").split(":")[0]
    text = drop_key(BASE, needle, from_line=line_of(BASE, mapping))
    assert_only_problem(tmp_path, text, line_of(BASE, mapping), f"missing required key '{key}'")


def test_missing_routes_key(tmp_path):
    text = (
        "\n".join(
            line
            for line in BASE.splitlines()
            if line not in ("routes:", "  full: {title: Full membership}", "  specialty: {title: Specialty membership}")
        )
        + "\n"
    )
    assert_only_problem(tmp_path, text, line_of(BASE, TOP), "missing required key 'routes'")


def test_level_criterion_without_levels(tmp_path):
    text = drop_key(BASE, "levels: [Not started")
    assert_only_problem(tmp_path, text, line_of(BASE, Q12), "levels")


def test_metric_criterion_without_benchmark(tmp_path):
    text = drop_key(BASE, "benchmark: {target")
    assert_only_problem(tmp_path, text, line_of(BASE, Q13), "benchmark")


@pytest.mark.parametrize(
    "benchmark, key",
    [
        ("{direction: higher, amber: 5}", "target"),
        ("{target: 85, amber: 5}", "direction"),
    ],
)
def test_benchmark_missing_key_reported_on_its_own_line(tmp_path, benchmark, key):
    text = replace(BASE, "{target: 85, direction: higher, amber: 5}", benchmark)
    assert_only_problem(tmp_path, text, line_of(BASE, "benchmark: {"), f"missing required key '{key}'")


@pytest.mark.parametrize(
    "entry, key",
    [
        ("{title: Quality improvement toolkit}", "id"),
        ("{id: cp-qi}", "title"),
    ],
)
def test_core_proposition_entry_missing_key(tmp_path, entry, key):
    text = replace(BASE, "{id: cp-qi, title: Quality improvement toolkit}", entry)
    assert_only_problem(tmp_path, text, line_of(BASE, "cp-qi"), f"missing required key '{key}'")


@pytest.mark.parametrize("band, key", [("{min: 50}", "rating"), ("{rating: approaching}", "min")])
def test_rating_band_missing_key(tmp_path, band, key):
    text = with_ratings("{rating: met, min: 75}", band)
    assert_only_problem(tmp_path, text, line_of(text, band), f"missing required key '{key}'")


# -- unknown keys: on their own line, with the nearest known key suggested ------------------------------


@pytest.mark.parametrize(
    "after, new_line, suggestion",
    [
        ("alliance: National", "pass_marks: 80", "pass_mark"),
        ("title: Delivering consistent", "wieght: 3", "weight"),
        ("title: Hip fracture care", "must-meet: true", "must_meet"),
        ("text: Is there a named", "alow_na: true", "allow_na"),
        ("org_types: [acute, specialist]", "specialty: [spinal]", "specialties"),
        ("title: Staff training", "criterion: []", "criteria"),
    ],
)
def test_unknown_key(tmp_path, after, new_line, suggestion):
    text = insert_after(BASE, after, new_line)
    key = new_line.split(":")[0]
    assert_only_problem(tmp_path, text, line_of(text, new_line), f"unknown key '{key}'", f"'{suggestion}'")


@pytest.mark.parametrize(
    "needle, new",
    [
        ("{target: 85, direction: higher, amber: 5}", "{target: 85, direction: higher, ambr: 5}"),
        ("full: {title: Full membership}", "full: {title: Full membership, fee: 100}"),
        (
            "{id: cp-qi, title: Quality improvement toolkit}",
            "{id: cp-qi, title: Quality improvement toolkit, route: [full]}",
        ),
    ],
)
def test_unknown_key_in_flow_mapping(tmp_path, needle, new):
    text = replace(BASE, needle, new)
    assert_only_problem(tmp_path, text, line_of(BASE, needle), "unknown key")


# -- wrong values: reported on the line of the value ---------------------------------------------------


@pytest.mark.parametrize(
    "needle, new, words",
    [
        ("schema: 1", "schema: 3", ["'schema'", "must be 1 or 2"]),
        ("schema: 1", 'schema: "1"', ["'schema'", "must be 1"]),
        ("schema: 1", "schema: true", ["'schema'"]),
        ("id: noa-orthopaedics", "id: NOA-orthopaedics", ["'id'", "slug"]),
        ("id: noa-orthopaedics", "id: noa orthopaedics", ["'id'", "slug"]),
        ("id: noa-orthopaedics", "id: noa_orthopaedics", ["'id'", "slug"]),
        ("id: noa-orthopaedics", "id: 2026", ["'id'", "slug"]),
        ('version: "2026.1"', "version: 2026.1", ["'version'", "quoted"]),
        ('version: "2026.1"', "version: 2026", ["'version'", "quoted"]),
        ('version: "2026.1"', 'version: "spring 2026"', ["'version'", "sorts"]),
        ('version: "2026.1"', 'version: ""', ["'version'"]),
        ("title: National Orthopaedic Alliance quality standards", "title: 2026", ["'title'", "text"]),
        ("title: National Orthopaedic Alliance quality standards", 'title: ""', ["'title'", "empty"]),
        ("alliance: National Orthopaedic Alliance", "alliance: [NOA]", ["'alliance'", "text"]),
        ("effective_from: 2026-04-01", "effective_from: 2026-02-30", ["'effective_from'", "YYYY-MM-DD"]),
        ("effective_from: 2026-04-01", "effective_from: 2026-13-01", ["'effective_from'", "YYYY-MM-DD"]),
        ("effective_from: 2026-04-01", "effective_from: 1 April 2026", ["'effective_from'", "YYYY-MM-DD"]),
        ("effective_from: 2026-04-01", 'effective_from: "20260401"', ["'effective_from'", "YYYY-MM-DD"]),
        ("effective_from: 2026-04-01", "effective_from: 20260401", ["'effective_from'", "YYYY-MM-DD"]),
        ("effective_from: 2026-04-01", "effective_from: 2026-04-01 09:00:00", ["'effective_from'", "YYYY-MM-DD"]),
        ("    weight: 2", "    weight: 0", ["'weight'", "> 0"]),
        ("    weight: 2", "    weight: -1", ["'weight'", "> 0"]),
        ("    weight: 2", "    weight: heavy", ["'weight'", "number"]),
        ("    weight: 2", "    weight: true", ["'weight'", "number"]),
        ("    weight: 2", "    weight: .inf", ["'weight'", "number"]),
        ("    weight: 2", "    weight: " + "9" * 400, ["'weight'", "number"]),
        ("weight: 0.5", "weight: -0.5", ["'weight'", ">= 0"]),
        ("weight: 0.5", "weight: '0.5'", ["'weight'", "number"]),
        ("must_meet: true", "must_meet: 1", ["'must_meet'", "true or false"]),
        ("allow_na: true", "allow_na: 1", ["'allow_na'", "true or false"]),
        ("required: false", 'required: "no"', ["'required'", "true or false"]),
        ("type: yes_no", "type: boolean", ["'type'", "yes_no"]),
        ("type: yes_no", "type: Yes_No", ["'type'", "yes_no"]),
        ("evidence: required", "evidence: mandatory", ["'evidence'", "required | optional | none"]),
        ("text: Is there a named clinical lead for hip fracture care?", "text: 42", ["'text'"]),
        (
            "levels: [Not started, Planned, Partly in place, In place, Embedded and audited]",
            "levels: [Only one]",
            ["'levels'", "two"],
        ),
        (
            "levels: [Not started, Planned, Partly in place, In place, Embedded and audited]",
            "levels: Not started",
            ["'levels'", "list"],
        ),
        (
            "levels: [Not started, Planned, Partly in place, In place, Embedded and audited]",
            "levels: []",
            ["'levels'", "two"],
        ),
        (
            "{target: 85, direction: higher, amber: 5}",
            "{target: '85', direction: higher, amber: 5}",
            ["'target'", "number"],
        ),
        (
            "{target: 85, direction: higher, amber: 5}",
            "{target: .nan, direction: higher, amber: 5}",
            ["'target'", "number"],
        ),
        (
            "{target: 85, direction: higher, amber: 5}",
            "{target: 85, direction: up, amber: 5}",
            ["'direction'", "higher | lower"],
        ),
        (
            "{target: 85, direction: higher, amber: 5}",
            "{target: 85, direction: higher, amber: -5}",
            ["'amber'", ">= 0"],
        ),
        ("benchmark: {target: 85, direction: higher, amber: 5}", "benchmark: 85", ["'benchmark'", "mapping"]),
        ('unit: "%"', "unit: 5", ["'unit'", "text"]),
        ("routes: [full, specialty]", "routes: full", ["'routes'", "list"]),
        ("org_types: [acute, specialist]", "org_types: []", ["'org_types'"]),
        ("specialties: [orthopaedics]", "specialties: [7]", ["'specialties'", "text"]),
        ("        criteria:\n          - id: P1.1", "        criteria: P1.1", ["'criteria'", "list"]),
    ],
)
def test_wrong_value(tmp_path, needle, new, words):
    text = BASE.replace(needle, new)
    assert text != BASE
    if "\n" in needle:  # the P1 criteria list replaced by a scalar: drop the orphaned lines
        text = text.split("        criteria: P1.1")[0] + "        criteria: P1.1\n"
    assert_only_problem(tmp_path, text, line_of(text, new.split("\n")[0].strip()), *words)


@pytest.mark.parametrize(
    "after, new_line, words",
    [
        ("alliance: National", "pass_mark: 120", ["'pass_mark'", "<= 100"]),
        ("alliance: National", "pass_mark: -1", ["'pass_mark'", ">= 0"]),
        ("alliance: National", 'pass_mark: "75"', ["'pass_mark'", "number"]),
        ("title: Hip fracture care", "weight: 0", ["'weight'", "> 0"]),
        ("title: Hip fracture care", "weight: -2", ["'weight'", "> 0"]),
        ("type: yes_no", "levels: [No, Yes]", ["'levels'", "only allowed on level"]),
        ("type: yes_no", "benchmark: {target: 1, direction: higher}", ["'benchmark'", "only allowed on metric"]),
        ("type: level", "unit: steps", ["'unit'", "only allowed on metric"]),
        ("text: Is there a named", "guidance: [a, b]", ["'guidance'", "text"]),
        ("alliance: National", "core_proposition: none", ["'core_proposition'", "list"]),
    ],
)
def test_wrong_value_of_added_key(tmp_path, after, new_line, words):
    if new_line.startswith("core_proposition"):
        text = (
            "\n".join(line for line in BASE.splitlines() if not line.startswith(("core_proposition:", "  - {id: cp-")))
            + "\n"
        )
        text = insert_after(text, after, new_line)
    else:
        text = insert_after(BASE, after, new_line)
    assert_only_problem(tmp_path, text, line_of(text, new_line), *words)


def test_routes_must_be_a_mapping_with_at_least_one_route(tmp_path):
    listed = BASE.replace(
        "routes:\n  full: {title: Full membership}\n  specialty: {title: Specialty membership}\n",
        "routes: [full, specialty]\n",
    )
    assert_only_problem(
        tmp_path, listed, listed.splitlines().index("routes: [full, specialty]") + 1, "'routes'", "mapping"
    )
    empty = BASE.replace(
        "routes:\n  full: {title: Full membership}\n  specialty: {title: Specialty membership}\n", "routes: {}\n"
    )
    _, problems = problems_of(tmp_path, empty)
    line = line_of(empty, "routes: {}")
    assert any(p.startswith(f"{tmp_path / 'standards.yaml'}:{line}: ") and "at least one" in p for p in problems)


def test_domains_must_be_a_list(tmp_path):
    text = BASE.split("domains:")[0] + "domains: {quality: {}}\n"
    assert_only_problem(tmp_path, text, line_of(text, "domains: {"), "'domains'", "list")


# -- ratings -----------------------------------------------------------------------------------------


def with_ratings(*bands: str) -> str:
    listed = "".join(f"  - {band}\n" for band in bands)
    return replace(BASE, "effective_from: 2026-04-01\n", f"effective_from: 2026-04-01\nratings:\n{listed}")


@pytest.mark.parametrize(
    "band, words",
    [
        ("{rating: Gold, min: 80}", ["'rating'"]),
        ("{rating: gold, min: 120}", ["'min'", "<= 100"]),
        ("{rating: gold, min: -1}", ["'min'", ">= 0"]),
        ("{rating: gold, min: high}", ["'min'", "number"]),
        ("{rating: met, min: 80}", ["'met'", "already"]),
        ("{rating: gold, min: 75}", ["min 75", "already"]),
        ("{rating: gold, min: 80, colour: yellow}", ["unknown key 'colour'"]),
    ],
)
def test_bad_rating_band(tmp_path, band, words):
    text = with_ratings("{rating: met, min: 75}", "{rating: not_met, min: 0}", band)
    assert_only_problem(tmp_path, text, line_of(text, band), *words)


def test_ratings_must_list_at_least_one_band(tmp_path):
    text = insert_after(BASE, "effective_from:", "ratings: []")
    assert_only_problem(tmp_path, text, line_of(text, "ratings: []"), "'ratings'")


def test_custom_ratings_in_any_order_and_with_gaps_load(tmp_path):
    text = with_ratings("{rating: bronze, min: 40}", "{rating: gold, min: 80.5}", "{rating: silver, min: 60}")
    path = tmp_path / "ok.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = rules.load_standards(path)
    assert [(b.rating, b.min) for b in loaded.ratings] == [("gold", 80.5), ("silver", 60), ("bronze", 40)]


# -- identifiers and route references ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "needle, new, first",
    [
        ("- id: Q1.2", "- id: Q1.1", "- id: Q1.1"),  # criterion and criterion
        ("- id: P1.1", "- id: Q1.3", "- id: Q1.3"),  # across standards
        ("- id: P1\n", "- id: quality\n", "- id: quality"),  # standard and domain
        ("- id: P1.1", "- id: Q1", "      - id: Q1\n"),  # criterion and standard
        ("- id: people", "- id: cp-qi", "{id: cp-qi"),  # domain and core proposition
        ("{id: cp-qi,", "{id: cp-lms,", "{id: cp-lms,"),  # core proposition entries
    ],
)
def test_duplicate_identifier(tmp_path, needle, new, first):
    text = BASE.replace(needle, new)
    assert text.count(new.strip()) >= 1 and text != BASE
    second_line = [n for n, line in enumerate(text.splitlines(), 1) if new.strip() in line][-1]
    first_line = line_of(BASE, first.rstrip("\n"))
    assert_only_problem(tmp_path, text, second_line, "already used", f"line {first_line}", "unique")


def test_ids_must_not_contain_spaces(tmp_path):
    text = replace(BASE, "- id: Q1.2", "- id: Q1 2")
    assert_only_problem(tmp_path, text, line_of(text, "- id: Q1 2"), "spaces")


@pytest.mark.parametrize(
    "needle, new",
    [
        ("routes: [full, specialty]", "routes: [full, associate]"),
        ("routes: [full]}", "routes: [fellowship]}"),
    ],
)
def test_route_references_must_name_a_route_of_the_file(tmp_path, needle, new):
    text = replace(BASE, needle, new)
    name = new.split("[")[1].split("]")[0].split(", ")[-1]
    assert_only_problem(tmp_path, text, line_of(text, new), f"unknown route '{name}'", "full, specialty")


def test_route_names_are_slugs(tmp_path):
    text = replace(BASE, "  specialty: {title: Specialty membership}", "  Specialty Route: {title: Specialty}")
    _, problems = problems_of(tmp_path, text)
    route_line = line_of(text, "Specialty Route")
    assert any(f":{route_line}: " in p and "route names" in p for p in problems), problems


# -- YAML itself ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path, text):
    assert_only_problem(tmp_path, text, 1, "empty")


@pytest.mark.parametrize("text, what", [("- a\n- b\n", "a list"), ("just words\n", "'just words'")])
def test_file_that_is_not_a_mapping(tmp_path, text, what):
    assert_only_problem(tmp_path, text, 1, "mapping", what)


@pytest.mark.parametrize(
    "needle, new, line_needle",
    [
        ("    title: Workforce", "   title: Workforce", "   title: Workforce"),  # indentation
        ("    title: Workforce", "\ttitle: Workforce", "\ttitle: Workforce"),  # tab
        ("    title: Workforce", "    title: Workforce: people", "Workforce: people"),
        ("amber: 5}", "amber: 5", "  - id: people"),  # unclosed: found on the next line
    ],
)
def test_yaml_syntax_error_has_its_line(tmp_path, needle, new, line_needle):
    text = replace(BASE, needle, new)
    assert_only_problem(tmp_path, text, line_of(text, line_needle), "YAML syntax error")


def test_unclosed_flow_mapping_names_where_it_started(tmp_path):
    text = replace(BASE, "amber: 5}", "amber: 5")
    message = assert_only_problem(tmp_path, text, line_of(text, "  - id: people"), "YAML syntax error")
    assert f"started on line {line_of(text, 'benchmark: {')}" in message


def test_two_documents_in_one_file(tmp_path):
    text = BASE + "---\nschema: 1\n"
    assert_only_problem(tmp_path, text, line_of(text, "---"), "YAML syntax error")


@pytest.mark.parametrize(
    "after, new_line",
    [
        ("title: Hip fracture care", "title: Hip fracture care again"),
        ("alliance: National", "schema: 2"),
        ("type: yes_no", "type: text"),
    ],
)
def test_duplicate_yaml_key(tmp_path, after, new_line):
    text = insert_after(BASE, after, new_line)
    key = new_line.split(":")[0]
    assert_only_problem(tmp_path, text, line_of(text, new_line), f"duplicate key '{key}'")


def test_duplicate_key_in_flow_mapping(tmp_path):
    text = replace(BASE, "{target: 85, direction: higher, amber: 5}", "{target: 85, direction: higher, target: 90}")
    assert_only_problem(tmp_path, text, line_of(text, "target: 90"), "duplicate key 'target'")


def test_keys_must_be_text(tmp_path):
    text = insert_after(BASE, "title: Hip fracture care", "2026: true")
    assert_only_problem(tmp_path, text, line_of(text, "2026: true"), "keys must be text")


def test_non_utf8_file_names_the_line(tmp_path):
    raw = BASE.replace("title: Workforce", "title: Workforce \udcff").encode("utf-8", "surrogateescape")
    assert b"\xff" in raw
    assert_only_problem(tmp_path, raw, line_of(BASE, "title: Workforce"), "UTF-8")


def test_utf8_text_and_byte_order_mark_are_fine(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.replace("Workforce", "Workforce – Ysbyty Gwynedd").encode("utf-8"))
    assert rules.load_standards(path).domains[1].title == "Workforce – Ysbyty Gwynedd"


def test_unreadable_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(rules.StandardsError) as caught:
        rules.load_standards(missing)
    assert caught.value.problems[0].startswith(f"{missing}:1: cannot read file")
    with pytest.raises(rules.StandardsError) as caught:
        rules.load_standards(tmp_path)
    assert caught.value.problems[0].startswith(f"{tmp_path}:1: cannot read file")


@pytest.mark.parametrize(
    "new, words",
    [
        ("    title: &t [*t]", ["YAML syntax error", "alias"]),
        ("    title: !!int Workforce", ["YAML syntax error", "int"]),
        ("    title: !!python/object:os.system Workforce", ["YAML syntax error"]),
    ],
)
def test_yaml_that_cannot_be_read_safely(tmp_path, new, words):
    text = replace(BASE, "    title: Workforce", new)
    assert_only_problem(tmp_path, text, line_of(text, new), *words)


def test_deep_nesting_is_an_error_not_a_crash(tmp_path):
    text = BASE + "rules: " + "[" * 3000 + "]" * 3000 + "\n"
    _, problems = problems_of(tmp_path, text)
    assert len(problems) == 1 and "YAML syntax error" in problems[0]


# -- the file as a whole ---------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    text = BASE
    text = replace(text, "schema: 1", "schema: 3")
    text = replace(text, "    weight: 2", "    weight: 0")
    text = replace(text, "type: yes_no", "type: boolean")
    text = replace(text, "- id: Q1.2", "- id: Q1.1")
    text = replace(text, "direction: higher", "direction: up")
    text = replace(text, "routes: [full]}", "routes: [fellowship]}")
    text = drop_key(text, "title: Staff training")
    text = insert_after(text, "text: Share of staff", "wieght: 1")
    path, problems = problems_of(tmp_path, text)
    expected_lines = [
        line_of(text, "schema: 3"),
        line_of(text, "fellowship"),
        line_of(text, "    weight: 0"),
        line_of(text, "type: boolean"),
        [n for n, line in enumerate(text.splitlines(), 1) if "- id: Q1.1" in line][1],
        line_of(text, "direction: up"),
        line_of(text, "- id: P1"),
        line_of(text, "wieght: 1"),
    ]
    assert [int(PROBLEM.match(p).group("line")) for p in problems] == expected_lines, problems


def test_nothing_is_loaded_from_a_bad_file(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(BASE, encoding="utf-8")
    compiled_before = dict(compiling._compiled)
    problems_of(tmp_path, replace(BASE, "type: yes_no", "type: boolean"))
    assert compiling._compiled == compiled_before
    assert rules.load_standards(good).criterion_lookup["Q1.1"][1].type == "yes_no"


def test_defaults_are_applied(tmp_path):
    path = tmp_path / "noa.yaml"
    path.write_text(BASE, encoding="utf-8")
    loaded = rules.load_standards(path)
    assert loaded.schema_version == 1 and loaded.effective_from == dt.date(2026, 4, 1)
    assert loaded.pass_mark == 75
    assert [(b.rating, b.min) for b in loaded.ratings] == [
        ("exemplary", 90),
        ("met", 75),
        ("approaching", 50),
        ("not_met", 0),
    ]
    assert [(r.id, r.title) for r in loaded.routes] == [
        ("full", "Full membership"),
        ("specialty", "Specialty membership"),
    ]
    quality, people = loaded.domains
    assert (quality.weight, people.weight) == (2, 1)
    q1, p1 = quality.standards[0], people.standards[0]
    assert (q1.weight, q1.must_meet, p1.weight, p1.must_meet) == (1, True, 1, False)
    assert (p1.applies.routes, p1.applies.specialties, p1.applies.org_types) == (None, None, None)
    assert q1.applies.routes == ("full", "specialty") and q1.applies.org_types == ("acute", "specialist")
    c = loaded.criterion_lookup
    q11, q13, p11 = c["Q1.1"][1], c["Q1.3"][1], c["P1.1"][1]
    assert (q11.weight, q11.required, q11.allow_na, q11.evidence, q11.guidance) == (1, True, False, "required", None)
    assert (p11.weight, p11.required, p11.allow_na, p11.evidence) == (0.5, False, True, "none")
    assert (q13.benchmark.target, q13.benchmark.direction, q13.benchmark.amber, q13.unit) == (85, "higher", 5, "%")
    no_amber = rules.parse_standards(replace(BASE, ", amber: 5}", "}"), "x.yaml")
    assert no_amber.criterion_lookup["Q1.3"][1].benchmark.amber == 0
    assert [(o.id, o.routes) for o in loaded.core_proposition] == [("cp-lms", ("full",)), ("cp-qi", None)]


def test_effective_from_may_be_quoted(tmp_path):
    loaded = rules.parse_standards(replace(BASE, "effective_from: 2026-04-01", 'effective_from: "2026-04-01"'))
    assert loaded.effective_from == dt.date(2026, 4, 1)


def test_route_title_is_optional():
    text = replace(BASE, "  specialty: {title: Specialty membership}", "  specialty: {}")
    text = replace(text, "  full: {title: Full membership}", "  full:")
    loaded = rules.parse_standards(text)
    assert [(r.id, r.title) for r in loaded.routes] == [
        ("full", "Full membership"),
        ("specialty", "Specialty membership"),
    ]


def test_zero_criterion_weight_and_zero_amber_are_valid():
    text = replace(BASE, "weight: 0.5", "weight: 0")
    text = replace(text, "amber: 5}", "amber: 0}")
    loaded = rules.parse_standards(text)
    assert loaded.criterion_lookup["P1.1"][1].weight == 0
    assert loaded.criterion_lookup["Q1.3"][1].benchmark.amber == 0


def test_empty_lists_of_domains_standards_and_criteria_are_valid():
    """The contract asks for at least one route only; a draft may have empty sections."""
    text = BASE.split("        criteria:\n          - id: P1.1")[0] + "        criteria: []\n"
    loaded = rules.parse_standards(text)
    result = rules.score(loaded, answers({"Q1.1": "yes", "Q1.2": 4, "Q1.3": 90}, org_type="acute"))
    assert result["standard_results"]["P1"] == {"score": None, "status": "not_scored"}
    assert result["domains"] == {"quality": 100.0}
    nothing = rules.parse_standards(BASE.split("domains:")[0] + "domains: []\n")
    assert rules.score(nothing, answers({}))["outcome"] == "not_accredited"


# -- content hash and versions ------------------------------------------------------------------------------------


def reformatted(text: str) -> str:
    """Same meaning, other layout: block style, other quoting, comments, blank lines, key order."""
    doc = yaml.safe_load(text)
    return "# reformatted copy\n\n" + yaml.safe_dump(doc, default_flow_style=False, sort_keys=True, width=60)


def test_content_hash_ignores_comments_and_formatting():
    original = rules.parse_standards(BASE)
    commented = rules.parse_standards(BASE.replace("    title: Workforce", "    title: Workforce   # people domain\n"))
    assert rules.parse_standards(reformatted(BASE)).content_hash == original.content_hash
    assert commented.content_hash == original.content_hash
    assert (
        rules.parse_standards(BASE.replace('version: "2026.1"', "version: '2026.1'")).content_hash
        == original.content_hash
    )


@pytest.mark.parametrize(
    "needle, new",
    [
        ("target: 85", "target: 86"),
        ("title: Workforce", "title: Workforce and training"),
        ("weight: 0.5", "weight: 1.5"),
        ("routes: [full]}", "routes: [specialty]}"),
        ('version: "2026.1"', 'version: "2026.2"'),
    ],
)
def test_content_hash_changes_with_content(needle, new):
    assert rules.parse_standards(replace(BASE, needle, new)).content_hash != rules.parse_standards(BASE).content_hash


def test_two_versions_of_one_set_load_and_score_side_by_side(tmp_path):
    first = tmp_path / "noa-2026.1.yaml"
    second = tmp_path / "noa-2026.2.yaml"
    first.write_text(BASE, encoding="utf-8")
    second.write_text(
        replace(replace(BASE, 'version: "2026.1"', 'version: "2026.2"'), "target: 85", "target: 80"), encoding="utf-8"
    )
    v1, v2 = rules.load_standards(first), rules.load_standards(second)
    assert (v1.id, v2.id) == ("noa-orthopaedics", "noa-orthopaedics")
    values = answers({"Q1.1": "yes", "Q1.2": 4, "Q1.3": 82}, org_type="acute")
    for _ in range(2):
        r1, r2 = rules.score(v1, values), rules.score(v2, values)
        assert r1["standards"] == {"id": "noa-orthopaedics", "version": "2026.1"}
        assert r2["standards"] == {"id": "noa-orthopaedics", "version": "2026.2"}
        assert [b["severity"] for b in r1["breaches"]] == ["minor"] and r2["breaches"] == []
        assert (r1["outcome"], r2["outcome"]) == ("accredited_with_conditions", "accredited")


def test_versions_written_calendar_style_load():
    for version in ("2026.1", "2026.10", "2026.2.1", "2027.1rc1"):
        assert rules.parse_standards(replace(BASE, '"2026.1"', f'"{version}"')).version == version


def test_loaded_set_is_frozen():
    loaded = rules.parse_standards(BASE)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        loaded.pass_mark = 10  # type: ignore[misc]


def test_a_problem_naming_a_value_with_a_line_break_stays_on_its_one_line():
    text = (Path(__file__).resolve().parent.parent / "standards" / "noa-orthopaedics-2026.1.yaml").read_text(
        encoding="utf-8"
    )
    damaged = text.replace("id: Q1.1\n", 'id: "Q1.1\\n- x"\n', 1)
    with pytest.raises(rules.StandardsError) as caught:
        rules.parse_standards(damaged, "f.yaml")
    assert all("\n" not in problem for problem in caught.value.problems)
    assert any("'Q1.1\\n- x'" in problem for problem in caught.value.problems)

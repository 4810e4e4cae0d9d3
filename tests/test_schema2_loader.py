"""The schema 2 additions to the standards file format: every new rule, and FILE:LINE for every new problem.

As in test_loader: each case changes one thing in a valid file and checks
that exactly that problem is reported, at the line of the offending key or
value (for a missing key, the line where the mapping that lacks it begins).
Metric ranges hold in both schemas; the other keys need ``schema: 2``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rules
from tests.test_loader import BASE as SCHEMA_1
from tests.test_loader import PROBLEM, insert_after, line_of, problems_of, replace

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
schema: 2
id: noa-orthopaedics
version: "2026.2"
title: National Orthopaedic Alliance quality standards
alliance: National Orthopaedic Alliance
effective_from: 2026-04-01
routes:
  full: {title: Full membership}
frameworks:
  cqc: {title: CQC quality statements}
  dspt:
domains:
  - id: quality
    title: Delivering consistent high-quality care
    standards:
      - id: Q4
        title: Follow-up after hip fracture
        maps_to:
          - {framework: cqc, ref: "Safe: safe systems, pathways and transitions"}
          - framework: dspt
            ref: "1.1"
        criteria:
          - id: Q4.1
            text: How are hip fracture patients reviewed after discharge?
            type: choice
            options:
              - id: none
                text: Not reviewed
              - id: phone
                text: Telephone follow-up
                score: 0.5
              - {id: clinic, text: Clinic review within 6 weeks, score: 1}
          - id: Q4.2
            text: Which audits does the trust submit to?
            type: multi_choice
            options:
              - {id: nhfd, text: National Hip Fracture Database, score: 0.5}
              - {id: njr, text: National Joint Registry, score: 0.5}
          - id: Q4.3
            text: Share of discharged patients reviewed in clinic
            type: metric
            unit: "%"
            benchmark: {target: 80, direction: higher, amber: 10}
            when:
              criterion: Q4.1
              in: [clinic]
          - id: Q4.4
            text: Is the clinic review audited?
            type: yes_partial_no
            when: {criterion: Q4.1, in: [phone, clinic]}
          - id: Q4.5
            text: How embedded is the audit?
            type: level
            levels: [None, Some, Most, All]
            when: {criterion: Q4.4, in: ["yes", "partial"]}
          - id: Q4.6
            text: Days from discharge to review
            type: metric
            unit: days
            min: 0
            max: 365
            benchmark: {target: 42, direction: lower}
"""


def only_problem(tmp_path: Path, text: str, line: int, *words: str) -> str:
    """The single problem of ``text``: at ``line``, holding every one of ``words``."""
    path, problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    found = PROBLEM.match(problems[0])
    assert found and found.group("file") == path and int(found.group("line")) == line, problems
    for word in words:
        assert word in found.group("message"), problems
    return found.group("message")


def test_the_base_file_is_valid_and_reads_every_new_key():
    loaded = rules.parse_standards(BASE)
    assert loaded.schema_version == 2
    assert [(f.id, f.title) for f in loaded.frameworks] == [("cqc", "CQC quality statements"), ("dspt", "dspt")]
    q4 = loaded.standards[0]
    assert [(r.framework, r.ref) for r in q4.maps_to] == [
        ("cqc", "Safe: safe systems, pathways and transitions"),
        ("dspt", "1.1"),
    ]
    lookup = {c.id: c for c in loaded.criteria}
    assert [(o.id, o.score) for o in lookup["Q4.1"].options] == [("none", 0), ("phone", 0.5), ("clinic", 1)]
    assert lookup["Q4.2"].option_ids == ("nhfd", "njr")
    assert (lookup["Q4.3"].when.criterion, lookup["Q4.3"].when.values) == ("Q4.1", ("clinic",))
    assert lookup["Q4.5"].when.values == ("yes", "partial")
    assert (lookup["Q4.3"].min, lookup["Q4.3"].max) == (0, 100)  # a "%" metric giving neither
    assert (lookup["Q4.6"].min, lookup["Q4.6"].max) == (0, 365)


def test_validate_accepts_a_schema_2_file_and_show_prints_its_new_keys(tmp_path):
    path = tmp_path / "schema2.yaml"
    path.write_text(BASE, encoding="utf-8")
    validated = subprocess.run(
        [sys.executable, "cli.py", "standards", "validate", str(path)], cwd=ROOT, capture_output=True, text=True
    )
    assert validated.returncode == 0 and validated.stdout.startswith(f"{path}: valid: noa-orthopaedics 2026.2")
    shown = subprocess.run(
        [sys.executable, "cli.py", "standards", "show", str(path)], cwd=ROOT, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert "  mapped to: cqc (CQC quality statements), dspt (dspt)" in shown.stdout
    assert "option none: Not reviewed (score 0)\n        option phone: Telephone follow-up (score 0.5)" in shown.stdout
    assert "asked when Q4.1 is clinic" in shown.stdout
    assert "range 0..365 days" in shown.stdout


# -- schema -------------------------------------------------------------------------------------------


def test_schema_must_be_1_or_2(tmp_path):
    text = replace(BASE, "schema: 2", "schema: 3")
    only_problem(tmp_path, text, line_of(text, "schema: 3"), "'schema'", "must be 1 or 2")


@pytest.mark.parametrize(
    "key, insert_after_line, new_line",
    [
        ("frameworks", "effective_from: 2026-04-01", "frameworks: {cqc: {title: CQC}}"),
        ("maps_to", "title: Hip fracture care", "maps_to: [{framework: cqc, ref: Safe}]"),
        ("when", "type: level", 'when: {criterion: Q1.1, in: ["yes"]}'),
        ("options", "type: yes_no", "options: [{id: a, text: A}, {id: b, text: B}]"),
    ],
)
def test_schema_1_file_using_a_schema_2_key_is_refused_at_that_key(tmp_path, key, insert_after_line, new_line):
    text = insert_after(SCHEMA_1, insert_after_line, new_line)
    only_problem(tmp_path, text, line_of(text, new_line), f"'{key}' needs schema: 2")


@pytest.mark.parametrize("ctype", ["choice", "multi_choice"])
def test_schema_1_file_using_a_choice_type_is_refused_at_the_type(tmp_path, ctype):
    text = replace(SCHEMA_1, "type: yes_no", f"type: {ctype}")
    only_problem(tmp_path, text, line_of(text, f"type: {ctype}"), f"type '{ctype}' needs schema: 2")


def test_schema_1_file_is_told_its_own_types(tmp_path):
    text = replace(SCHEMA_1, "type: yes_no", "type: boolean")
    message = only_problem(tmp_path, text, line_of(text, "type: boolean"), "must be one of")
    assert "choice" not in message


def test_schema_2_file_is_told_every_type(tmp_path):
    text = replace(BASE, "type: yes_partial_no", "type: boolean")
    only_problem(tmp_path, text, line_of(text, "type: boolean"), "text | choice | multi_choice")


# -- 1. metric ranges (both schemas) ---------------------------------------------------------------------


def test_schema_1_metric_may_give_a_range():
    text = insert_after(insert_after(SCHEMA_1, 'unit: "%"', "min: 10"), "min: 10", "max: 90")
    criterion = rules.parse_standards(text).criterion_lookup["Q1.3"][1]
    assert (criterion.min, criterion.max) == (10, 90)


def test_min_must_be_less_than_max(tmp_path):
    text = replace(BASE, "max: 365", "max: 0")
    only_problem(tmp_path, text, line_of(text, "max: 0"), "'max' must be greater than 'min'")


def test_range_bounds_are_numbers(tmp_path):
    text = replace(BASE, "min: 0", "min: none")
    only_problem(tmp_path, text, line_of(text, "min: none"), "'min' must be a number")


def test_range_only_on_metrics(tmp_path):
    text = insert_after(BASE, "type: yes_partial_no", "min: 1")
    only_problem(tmp_path, text, line_of(text, "min: 1"), "'min' is only allowed on metric criteria")


def test_percent_target_outside_0_to_100_is_refused_at_the_target(tmp_path):
    text = replace(SCHEMA_1, "{target: 85, direction: higher, amber: 5}", "{target: 105, direction: higher}")
    only_problem(tmp_path, text, line_of(text, "target: 105"), "'target' 105 is outside", "[0, 100]")


def test_target_outside_the_given_range_is_refused_at_the_target(tmp_path):
    text = replace(
        BASE,
        "benchmark: {target: 42, direction: lower}",
        "benchmark:\n              direction: lower\n              target: 400",
    )
    only_problem(tmp_path, text, line_of(text, "target: 400"), "'target' 400 is outside", "[0, 365]")


def test_a_given_range_replaces_the_percent_default():
    text = insert_after(insert_after(SCHEMA_1, 'unit: "%"', "min: 0"), "min: 0", "max: 200")
    text = replace(text, "{target: 85, direction: higher, amber: 5}", "{target: 150, direction: higher}")
    criterion = rules.parse_standards(text).criterion_lookup["Q1.3"][1]
    assert (criterion.min, criterion.max, criterion.benchmark.target) == (0, 200, 150)


def test_percent_metric_giving_one_bound_has_only_that_bound():
    text = insert_after(SCHEMA_1, 'unit: "%"', "min: -10")
    criterion = rules.parse_standards(text).criterion_lookup["Q1.3"][1]
    assert (criterion.min, criterion.max) == (-10, None)


# -- 2. options -----------------------------------------------------------------------------------------


def test_choice_needs_options(tmp_path):
    text = replace(
        BASE,
        """            options:
              - {id: nhfd, text: National Hip Fracture Database, score: 0.5}
              - {id: njr, text: National Joint Registry, score: 0.5}
""",
        "",
    )
    only_problem(tmp_path, text, line_of(text, "- id: Q4.2"), "need 'options'")


def test_options_need_at_least_two(tmp_path):
    text = replace(BASE, "              - {id: njr, text: National Joint Registry, score: 0.5}\n", "")
    only_problem(tmp_path, text, line_of(text, "- {id: nhfd"), "at least two options")


def test_options_must_be_a_list(tmp_path):
    text = replace(
        BASE,
        """            options:
              - {id: nhfd, text: National Hip Fracture Database, score: 0.5}
              - {id: njr, text: National Joint Registry, score: 0.5}
""",
        "            options: nhfd\n",
    )
    only_problem(tmp_path, text, line_of(text, "options: nhfd"), "'options' must be a list")


def test_option_ids_are_unique_within_the_criterion(tmp_path):
    text = replace(BASE, "{id: njr, text: National Joint Registry", "{id: nhfd, text: National Joint Registry")
    only_problem(tmp_path, text, line_of(text, "National Joint Registry"), "option id 'nhfd' is already used on line")


def test_option_ids_may_repeat_across_criteria():
    text = replace(BASE, "{id: njr, text: National Joint Registry", "{id: phone, text: National Joint Registry")
    assert rules.parse_standards(text).criterion_lookup["Q4.2"][1].option_ids == ("nhfd", "phone")


def test_option_id_is_never_na(tmp_path):
    text = replace(BASE, "{id: njr, text:", "{id: na, text:")
    only_problem(tmp_path, text, line_of(text, "{id: na, text:"), "option id 'na' is reserved")


@pytest.mark.parametrize("bad", ["Clinic review", "clinic_review", '""'])
def test_option_id_is_a_slug(tmp_path, bad):
    text = replace(BASE, "{id: njr, text:", f"{{id: {bad}, text:")
    only_problem(tmp_path, text, line_of(text, "National Joint Registry"), "'id' must be a slug")


def test_bare_yes_as_option_id_is_told_to_quote(tmp_path):
    text = replace(BASE, "{id: njr, text:", "{id: yes, text:")
    only_problem(tmp_path, text, line_of(text, "National Joint Registry"), "boolean", "quotes")


def test_option_needs_text(tmp_path):
    text = replace(
        BASE,
        """              - id: none
                text: Not reviewed
""",
        """              - id: none
""",
    )
    only_problem(tmp_path, text, line_of(text, "- id: none"), "missing required key 'text'")


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "high"])
def test_option_score_is_a_number_from_0_to_1(tmp_path, bad):
    text = replace(BASE, "                score: 0.5\n", f"                score: {bad}\n")
    only_problem(tmp_path, text, line_of(text, f"score: {bad}"), "'score' must be a number >= 0 and <= 1")


def test_option_score_defaults_to_0():
    assert rules.parse_standards(BASE).criterion_lookup["Q4.1"][1].options[0].score == 0


def test_unknown_option_key(tmp_path):
    text = insert_after(BASE, "text: Not reviewed", "weight: 2")
    only_problem(tmp_path, text, line_of(text, "weight: 2"), "unknown key 'weight'")


def test_options_only_on_choice_criteria(tmp_path):
    text = insert_after(BASE, "type: yes_partial_no", "options: [{id: a, text: A}, {id: b, text: B}]")
    only_problem(
        tmp_path,
        text,
        line_of(text, "options: [{id: a"),
        "'options' is only allowed on choice and multi_choice criteria",
    )


# -- 3. conditions ------------------------------------------------------------------------------------


def test_when_must_name_an_earlier_criterion(tmp_path):
    text = replace(BASE, "when: {criterion: Q4.1, in: [phone, clinic]}", "when: {criterion: Q4.5, in: [1]}")
    only_problem(tmp_path, text, line_of(text, "criterion: Q4.5"), "'Q4.5'", "earlier in the file")


def test_when_cannot_name_its_own_criterion(tmp_path):
    text = replace(BASE, "when: {criterion: Q4.1, in: [phone, clinic]}", 'when: {criterion: Q4.4, in: ["no"]}')
    only_problem(tmp_path, text, line_of(text, 'in: ["no"]'), "earlier in the file")


def test_when_names_an_existing_criterion(tmp_path):
    text = replace(BASE, "when: {criterion: Q4.1, in: [phone, clinic]}", "when: {criterion: Q9.9, in: [phone]}")
    only_problem(tmp_path, text, line_of(text, "criterion: Q9.9"), "'Q9.9'")


def test_when_names_a_criterion_not_a_standard(tmp_path):
    text = replace(BASE, "when: {criterion: Q4.1, in: [phone, clinic]}", "when: {criterion: Q4, in: [phone]}")
    only_problem(tmp_path, text, line_of(text, "criterion: Q4,"), "the standard 'Q4'", "must name a criterion")


def test_when_may_name_a_criterion_of_an_earlier_standard():
    text = replace(BASE, "maps_to:\n          - {framework: cqc", "maps_to:\n          - {framework: cqc")
    text = text.replace(
        "          - id: Q4.6\n",
        "      - id: Q5\n        title: Later standard\n        criteria:\n          - id: Q4.6\n",
    )
    text = insert_after(text, "target: 42, direction: lower", "when: {criterion: Q4.1, in: [none]}")
    assert rules.parse_standards(text).criterion_lookup["Q4.6"][1].when.criterion == "Q4.1"


@pytest.mark.parametrize("controller", ["Q4.2", "Q4.3"])
def test_when_names_only_yes_no_partial_level_or_choice(tmp_path, controller):
    text = replace(
        BASE, 'when: {criterion: Q4.4, in: ["yes", "partial"]}', f"when: {{criterion: {controller}, in: [1]}}"
    )
    only_problem(
        tmp_path,
        text,
        line_of(text, f"criterion: {controller}"),
        "a condition can name a yes_no, yes_partial_no, level or choice criterion",
    )


def test_when_cannot_name_a_text_criterion(tmp_path):
    text = replace(BASE, "type: yes_partial_no", "type: text")
    only_problem(tmp_path, text, line_of(text, "criterion: Q4.4"), "a text criterion")


def test_when_needs_criterion_and_in(tmp_path):
    text = replace(BASE, "when: {criterion: Q4.1, in: [phone, clinic]}", "when: {criterion: Q4.1}")
    only_problem(tmp_path, text, line_of(text, "when: {criterion: Q4.1}"), "missing required key 'in'")


def test_when_in_needs_a_list(tmp_path):
    text = replace(BASE, "              in: [clinic]", "              in: clinic")
    only_problem(tmp_path, text, line_of(text, "in: clinic"), "'in' must be a list")


def test_when_in_needs_at_least_one_answer(tmp_path):
    text = replace(BASE, "              in: [clinic]", "              in: []")
    only_problem(tmp_path, text, line_of(text, "in: []"), "at least one answer")


def test_when_in_holds_option_ids_of_a_choice(tmp_path):
    text = replace(
        BASE, "              in: [clinic]", "              in:\n                - clinic\n                - surgery"
    )
    only_problem(tmp_path, text, line_of(text, "- surgery"), "'surgery'", "option ids: none, phone, clinic")


@pytest.mark.parametrize("bad", ["true", "yes", "no", "false"])
def test_when_in_boolean_is_told_to_quote(tmp_path, bad):
    text = replace(BASE, 'in: ["yes", "partial"]', f'in: ["partial", {bad}]')
    only_problem(tmp_path, text, line_of(text, 'in: ["partial"'), "boolean", "quotes")


def test_when_in_holds_yes_partial_no_as_strings():
    text = replace(BASE, 'in: ["yes", "partial"]', 'in: ["no"]')
    assert rules.parse_standards(text).criterion_lookup["Q4.5"][1].when.values == ("no",)


def test_when_in_partial_is_not_an_answer_of_yes_no(tmp_path):
    text = replace(BASE, "type: yes_partial_no", "type: yes_no")
    only_problem(tmp_path, text, line_of(text, 'in: ["yes", "partial"]'), "'partial'", '"yes", "no"')


def test_when_in_holds_level_indices():
    text = insert_after(BASE, "levels: [None, Some, Most, All]", 'when: {criterion: Q4.4, in: ["yes"]}')
    text = replace(text, '            when: {criterion: Q4.4, in: ["yes", "partial"]}\n', "")
    text = insert_after(text, "benchmark: {target: 42, direction: lower}", "when: {criterion: Q4.5, in: [2, 3]}")
    assert rules.parse_standards(text).criterion_lookup["Q4.6"][1].when.values == (2, 3)


@pytest.mark.parametrize("bad", ["4", "-1", "1.5", '"1"'])
def test_when_in_level_index_out_of_range(tmp_path, bad):
    text = insert_after(BASE, "benchmark: {target: 42, direction: lower}", f"when: {{criterion: Q4.5, in: [{bad}]}}")
    only_problem(tmp_path, text, line_of(text, "criterion: Q4.5"), "a level index 0..3")


def test_when_in_na_is_not_an_answer_to_condition_on(tmp_path):
    text = replace(BASE, "              in: [clinic]", "              in: [na]")
    only_problem(tmp_path, text, line_of(text, "in: [na]"), "'na'")


def test_when_in_lists_an_answer_once(tmp_path):
    text = replace(BASE, "              in: [clinic]", "              in: [clinic, clinic]")
    only_problem(tmp_path, text, line_of(text, "in: [clinic, clinic]"), "twice")


def test_when_must_be_a_mapping(tmp_path):
    text = replace(BASE, "when: {criterion: Q4.1, in: [phone, clinic]}", "when: Q4.1")
    only_problem(tmp_path, text, line_of(text, "when: Q4.1"), "'when' must be a mapping")


def test_unknown_when_key(tmp_path):
    text = insert_after(BASE, "criterion: Q4.1", "unless: [none]")
    only_problem(tmp_path, text, line_of(text, "unless: [none]"), "unknown key 'unless'")


# -- 4. frameworks and maps_to ---------------------------------------------------------------------------


def test_frameworks_must_be_a_mapping(tmp_path):
    text = replace(
        BASE,
        """frameworks:
  cqc: {title: CQC quality statements}
  dspt:
""",
        "frameworks: [cqc, dspt]\n",
    )
    text = replace(
        text,
        """        maps_to:
          - {framework: cqc, ref: "Safe: safe systems, pathways and transitions"}
          - framework: dspt
            ref: "1.1"
""",
        "",
    )
    only_problem(tmp_path, text, line_of(text, "frameworks: [cqc, dspt]"), "'frameworks' must be a mapping")


def test_framework_ids_are_slugs(tmp_path):
    text = insert_after(BASE, "dspt:", "NHS_England: {title: NHS England}")
    only_problem(tmp_path, text, line_of(text, "NHS_England"), "framework ids must be slugs")


def test_unknown_framework_key(tmp_path):
    text = replace(BASE, "cqc: {title: CQC quality statements}", "cqc: {title: CQC, url: https://cqc.org.uk}")
    only_problem(tmp_path, text, line_of(text, "url: https"), "unknown key 'url'")


def test_maps_to_names_a_declared_framework(tmp_path):
    text = replace(BASE, "          - framework: dspt\n", "          - framework: caf\n")
    only_problem(tmp_path, text, line_of(text, "framework: caf"), "framework 'caf'", "declared: cqc, dspt")


def test_maps_to_without_frameworks_is_refused_at_the_framework(tmp_path):
    text = replace(
        BASE,
        """frameworks:
  cqc: {title: CQC quality statements}
  dspt:
""",
        "",
    )
    path, problems = problems_of(tmp_path, text)
    assert [int(PROBLEM.match(p).group("line")) for p in problems] == [
        line_of(text, "{framework: cqc"),
        line_of(text, "framework: dspt"),
    ]
    assert all("declared: none" in p for p in problems)


@pytest.mark.parametrize("bad", ["1.1", "2", "true"])
def test_maps_to_ref_that_yaml_reads_as_a_number_is_told_to_quote(tmp_path, bad):
    text = replace(BASE, '            ref: "1.1"\n', f"            ref: {bad}\n")
    only_problem(tmp_path, text, line_of(text, f"ref: {bad}"), "'ref' must be text", "quotes")


def test_maps_to_ref_is_not_empty(tmp_path):
    text = replace(BASE, '            ref: "1.1"\n', '            ref: "  "\n')
    only_problem(tmp_path, text, line_of(text, 'ref: "  "'), "'ref' must not be empty")


def test_maps_to_needs_framework_and_ref(tmp_path):
    text = replace(BASE, '            ref: "1.1"\n', "")
    only_problem(tmp_path, text, line_of(text, "- framework: dspt"), "missing required key 'ref'")


def test_same_framework_and_ref_twice_on_one_standard(tmp_path):
    text = replace(
        BASE, '            ref: "1.1"\n', '            ref: "Safe: safe systems, pathways and transitions"\n'
    )
    text = replace(text, "          - framework: dspt\n", "          - framework: cqc\n")
    only_problem(tmp_path, text, line_of(text, "- framework: cqc"), "twice", "first on line")


def test_same_ref_in_two_frameworks_or_on_two_standards_is_fine():
    text = replace(
        BASE, '            ref: "1.1"\n', '            ref: "Safe: safe systems, pathways and transitions"\n'
    )
    text = insert_after(text, "title: Follow-up after hip fracture", "weight: 1")
    assert len(rules.parse_standards(text).standards[0].maps_to) == 2


def test_maps_to_must_be_a_list(tmp_path):
    text = replace(
        BASE,
        """        maps_to:
          - {framework: cqc, ref: "Safe: safe systems, pathways and transitions"}
          - framework: dspt
            ref: "1.1"
""",
        "        maps_to: cqc\n",
    )
    only_problem(tmp_path, text, line_of(text, "maps_to: cqc"), "'maps_to' must be a list")


def test_a_framework_nothing_maps_to_and_an_empty_frameworks_are_valid():
    loaded = rules.parse_standards(insert_after(BASE, "dspt:", "caf: {title: NCSC CAF}"))
    assert [f.id for f in loaded.frameworks] == ["cqc", "dspt", "caf"]
    empty = replace(BASE, "frameworks:\n  cqc: {title: CQC quality statements}\n  dspt:\n", "frameworks: {}\n")
    empty = replace(
        empty,
        """        maps_to:
          - {framework: cqc, ref: "Safe: safe systems, pathways and transitions"}
          - framework: dspt
            ref: "1.1"
""",
        "",
    )
    assert rules.parse_standards(empty).frameworks == ()

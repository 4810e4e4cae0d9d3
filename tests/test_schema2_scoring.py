"""One test per scoring rule of schema 2 (and of metric ranges, in both schemas), through the real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rules
from rules import CriterionOverride, Overrides, StandardOverride
from tests.builders import answers, criterion, document, domain, load, one_standard, score, standard

ROOT = Path(__file__).resolve().parent.parent
FOLLOW_UP = [
    {"id": "none", "text": "Not reviewed", "score": 0},
    {"id": "phone", "text": "Telephone", "score": 0.5},
    {"id": "clinic", "text": "Clinic review", "score": 1},
]
AUDITS = [
    {"id": "nhfd", "text": "NHFD", "score": 0.5},
    {"id": "njr", "text": "NJR", "score": 0.5},
    {"id": "other", "text": "Other"},
]


def schema_2(*criteria: dict, **standard_extra) -> dict:
    doc = one_standard(*criteria, **standard_extra)
    doc["schema"] = 2
    return doc


def choice(cid: str = "C1", options: list[dict] = FOLLOW_UP, **extra) -> dict:
    return criterion(cid, "choice", options=options, **extra)


def multi(cid: str = "C2", options: list[dict] = AUDITS, **extra) -> dict:
    return criterion(cid, "multi_choice", options=options, **extra)


def problems(doc: dict, values: dict) -> list[str]:
    with pytest.raises(rules.AnswersError) as caught:
        score(doc, values)
    return caught.value.problems


# -- 1. metric ranges -----------------------------------------------------------------------------------

PERCENT = criterion("M1", "metric", unit="%")


@pytest.mark.parametrize("value", [0, 100, 55.5])
def test_percent_metric_accepts_0_to_100(value):
    assert score(one_standard(PERCENT), {"M1": value})["criteria"]["M1"]["answer"] == value


@pytest.mark.parametrize("value", [-0.1, 100.5, 250])
def test_percent_metric_answer_outside_0_to_100_is_an_error_naming_the_criterion(value):
    found = problems(one_standard(PERCENT), {"M1": value})
    assert len(found) == 1 and "criterion M1" in found[0] and "from 0 to 100" in found[0]


@pytest.mark.parametrize("value, ok", [(4.9, False), (5, True), (20, True), (20.01, False)])
def test_metric_answer_must_lie_within_min_and_max(value, ok):
    doc = one_standard(criterion("M1", "metric", min=5, max=20, benchmark={"target": 10, "direction": "higher"}))
    if ok:
        assert score(doc, {"M1": value})["criteria"]["M1"]["status"] == "scored"
    else:
        assert "criterion M1" in problems(doc, {"M1": value})[0]


def test_metric_with_only_min_has_no_upper_bound():
    doc = one_standard(criterion("M1", "metric", unit="%", min=0, benchmark={"target": 100, "direction": "higher"}))
    assert score(doc, {"M1": 180})["criteria"]["M1"]["rag"] == "green"


def test_metric_without_unit_or_range_takes_any_number():
    doc = one_standard(criterion("M1", "metric"))
    assert score(doc, {"M1": -1e6})["criteria"]["M1"]["rag"] == "red"


def test_na_is_still_an_answer_to_a_ranged_metric():
    doc = one_standard(criterion("M1", "metric", unit="%", allow_na=True))
    assert score(doc, {"M1": "na"})["criteria"]["M1"]["status"] == "na"


# -- 2. choice and multi_choice ------------------------------------------------------------------------


@pytest.mark.parametrize("answer, expected", [("none", 0.0), ("phone", 50.0), ("clinic", 100.0)])
def test_choice_scores_its_options_score(answer, expected):
    result = score(schema_2(choice()), {"C1": answer})
    assert result["standard_results"]["S1"]["score"] == expected
    assert result["criteria"]["C1"]["score"] == expected


def test_option_score_defaults_to_0():
    doc = schema_2(choice(options=[{"id": "a", "text": "A"}, {"id": "b", "text": "B", "score": 1}]))
    assert score(doc, {"C1": "a"})["standard_results"]["S1"]["score"] == 0.0


@pytest.mark.parametrize("bad", ["surgery", "Clinic", 2, ["clinic"], True])
def test_choice_answer_must_be_an_option_id(bad):
    found = problems(schema_2(choice()), {"C1": bad})
    assert len(found) == 1 and "criterion C1 (choice)" in found[0] and '"none", "phone", "clinic"' in found[0]


def test_choice_answer_na_only_when_allowed():
    assert "allow_na is false" in problems(schema_2(choice()), {"C1": "na"})[0]
    assert score(schema_2(choice(allow_na=True)), {"C1": "na"})["criteria"]["C1"]["status"] == "na"


@pytest.mark.parametrize(
    "chosen, expected",
    [
        (["nhfd"], 50.0),
        (["nhfd", "njr"], 100.0),
        (["other"], 0.0),
        (["njr", "other", "nhfd"], 100.0),
    ],
)
def test_multi_choice_scores_the_sum_of_its_options(chosen, expected):
    result = score(schema_2(multi()), {"C2": chosen})
    assert result["standard_results"]["S1"]["score"] == expected
    assert result["criteria"]["C2"]["answer"] == chosen


def test_multi_choice_score_is_at_most_1():
    options = [{"id": "a", "text": "A", "score": 0.75}, {"id": "b", "text": "B", "score": 0.75}]
    result = score(schema_2(multi(options=options), criterion("C3")), {"C2": ["a", "b"], "C3": "no"})
    assert result["criteria"]["C2"]["score"] == 100.0
    assert result["standard_results"]["S1"]["score"] == 50.0
    assert "capped at 1" in result["criteria"]["C2"]["explanation"]


def test_multi_choice_empty_list_is_an_answer_scoring_0():
    result = score(schema_2(multi()), {"C2": []})
    assert result["unanswered"] == [] and result["criteria"]["C2"]["status"] == "scored"
    assert result["standard_results"]["S1"] == {"score": 0.0, "status": "not_met"}


@pytest.mark.parametrize(
    "bad, words",
    [
        (["nhfd", "nhfd"], "twice"),
        (["nhfd", "ncepod"], '"ncepod" in the list'),
        ("nhfd", "a list"),
        ([1], "1 in the list"),
        ({"nhfd": True}, "a list"),
    ],
)
def test_multi_choice_answer_is_a_list_of_distinct_option_ids(bad, words):
    found = problems(schema_2(multi()), {"C2": bad})
    assert len(found) == 1 and "criterion C2 (multi_choice)" in found[0] and words in found[0]


def test_unanswered_required_choice_scores_0_and_is_listed():
    result = score(schema_2(choice(), multi(required=False)), {})
    assert result["unanswered"] == ["C1"]
    assert result["standard_results"]["S1"]["score"] == 0.0


def test_option_scores_are_exact():
    options = [{"id": "a", "text": "A", "score": 0.7}, {"id": "b", "text": "B", "score": 0.2}]
    doc = schema_2(multi(options=options))
    doc["pass_mark"] = 90
    result = score(doc, {"C2": ["a", "b"]})  # 0.7 + 0.2 is 0.8999999999999999 in binary floating point
    assert result["standard_results"]["S1"] == {"score": 90.0, "status": "met"}


# -- 3. conditions --------------------------------------------------------------------------------------

CLINIC_SHARE = criterion(
    "C3",
    "metric",
    unit="%",
    benchmark={"target": 80, "direction": "higher", "amber": 10},
    when={"criterion": "C1", "in": ["clinic"]},
)


def test_conditional_criterion_is_asked_when_its_condition_holds():
    result = score(schema_2(choice(), CLINIC_SHARE), {"C1": "clinic", "C3": 75})
    assert result["criteria"]["C3"]["status"] == "scored"
    assert result["breaches"] == [
        {"criterion": "C3", "standard": "S1", "value": 75, "target": 80, "direction": "higher", "severity": "minor"}
    ]
    assert result["standard_results"]["S1"]["score"] == 75.0


def test_inactive_criterion_is_not_scored_and_its_answer_is_ignored():
    result = score(schema_2(choice(), CLINIC_SHARE), {"C1": "phone", "C3": 10})
    entry = result["criteria"]["C3"]
    assert (entry["status"], entry["score"], entry["answer"]) == ("inactive", None, 10)
    assert entry["explanation"] == "not asked: C1 is 'phone'"
    assert result["breaches"] == []  # a red answer, but not asked
    assert result["standard_results"]["S1"]["score"] == 50.0


def test_inactive_required_criterion_is_not_unanswered():
    result = score(schema_2(choice(), CLINIC_SHARE), {"C1": "none"})
    assert result["unanswered"] == []
    assert result["criteria"]["C3"]["status"] == "inactive"


def test_active_required_criterion_left_unanswered_is_unanswered():
    result = score(schema_2(choice(), CLINIC_SHARE), {"C1": "clinic"})
    assert result["unanswered"] == ["C3"]
    assert result["standard_results"]["S1"]["score"] == 50.0


@pytest.mark.parametrize("controller_answer, why", [(None, "C1 is not answered"), ("na", 'C1 is answered "na"')])
def test_unanswered_or_na_condition_makes_it_inactive(controller_answer, why):
    doc = schema_2(choice(allow_na=True, required=False), CLINIC_SHARE)
    values = {"C3": 90} if controller_answer is None else {"C1": controller_answer, "C3": 90}
    entry = score(doc, values)["criteria"]["C3"]
    assert entry["status"] == "inactive" and entry["explanation"] == f"not asked: {why}"


def test_condition_on_a_criterion_of_a_standard_that_does_not_apply_is_inactive():
    doc = document(
        [
            domain(
                "d1",
                [
                    standard("S1", [choice()], applies={"org_types": ["community"]}),
                    standard("S2", [criterion("C3", when={"criterion": "C1", "in": ["clinic"]}), criterion("C4")]),
                ],
            )
        ],
        schema=2,
    )
    result = score(doc, {"C1": "clinic", "C3": "yes", "C4": "no"}, org_type="acute")
    assert result["criteria"]["C3"]["status"] == "inactive"
    assert result["criteria"]["C3"]["explanation"] == "not asked: C1 does not apply to this member"
    assert result["standard_results"]["S2"]["score"] == 0.0


def test_chained_conditions_need_every_link_active():
    doc = schema_2(
        choice(),
        criterion("C3", "yes_partial_no", when={"criterion": "C1", "in": ["phone", "clinic"]}),
        criterion("C4", "level", when={"criterion": "C3", "in": ["yes", "partial"]}),
        criterion("C5", when={"criterion": "C4", "in": [3, 4]}),
    )
    all_asked = score(doc, {"C1": "phone", "C3": "partial", "C4": 4, "C5": "yes"})
    assert [all_asked["criteria"][c]["status"] for c in ("C3", "C4", "C5")] == ["scored"] * 3
    top_not_asked = score(doc, {"C1": "none", "C3": "yes", "C4": 4, "C5": "yes"})
    assert [top_not_asked["criteria"][c]["status"] for c in ("C3", "C4", "C5")] == ["inactive"] * 3
    assert top_not_asked["criteria"]["C4"]["explanation"] == "not asked: C3 is not asked"
    middle = score(doc, {"C1": "clinic", "C3": "no", "C4": 4, "C5": "yes"})
    assert [middle["criteria"][c]["status"] for c in ("C3", "C4", "C5")] == ["scored", "inactive", "inactive"]
    assert middle["criteria"]["C4"]["explanation"] == "not asked: C3 is 'no'"


def test_condition_on_a_level_uses_its_index():
    doc = schema_2(criterion("C1", "level"), criterion("C2", when={"criterion": "C1", "in": [0, 1]}))
    assert score(doc, {"C1": 1, "C2": "no"})["criteria"]["C2"]["status"] == "scored"
    assert score(doc, {"C1": 2, "C2": "no"})["criteria"]["C2"]["explanation"] == "not asked: C1 is level 2"


def test_condition_may_name_a_criterion_of_another_standard():
    doc = document(
        [
            domain("d1", [standard("S1", [criterion("C1")])]),
            domain("d2", [standard("S2", [criterion("C2", "level", when={"criterion": "C1", "in": ["no"]})])]),
        ],
        schema=2,
    )
    assert score(doc, {"C1": "no", "C2": 4})["standard_results"]["S2"]["score"] == 100.0
    assert score(doc, {"C1": "yes", "C2": 4})["standard_results"]["S2"]["status"] == "not_scored"


def test_standard_whose_criteria_are_all_inactive_or_text_is_not_scored():
    doc = document(
        [
            domain(
                "d1",
                [
                    standard("S1", [choice()]),
                    standard(
                        "S2", [criterion("C3", when={"criterion": "C1", "in": ["clinic"]}), criterion("C4", "text")]
                    ),
                ],
            )
        ],
        schema=2,
    )
    result = score(doc, {"C1": "phone", "C3": "yes", "C4": "notes"})
    assert result["standard_results"]["S2"] == {"score": None, "status": "not_scored"}
    assert result["domains"] == {"d1": 50.0} and result["overall"] == 50.0


def test_malformed_answer_to_an_inactive_criterion_is_ignored_but_to_an_active_one_is_an_error():
    doc = schema_2(choice(), CLINIC_SHARE)
    assert score(doc, {"C1": "phone", "C3": "lots"})["criteria"]["C3"] == {
        "standard": "S1",
        "type": "metric",
        "answer": None,
        "status": "inactive",
        "rag": None,
        "breach": None,
        "explanation": "not asked: C1 is 'phone'",
        "score": None,
    }
    found = problems(doc, {"C1": "clinic", "C3": "lots"})
    assert len(found) == 1 and "criterion C3 (metric)" in found[0]


def test_lead_override_of_an_inactive_criterion_is_not_applied():
    doc = schema_2(choice(), CLINIC_SHARE)
    overrides = Overrides(criteria={"C3": CriterionOverride(1, "Seen on the visit")})
    result = rules.score(load(doc), answers({"C1": "phone"}), overrides=overrides)
    assert result["criteria"]["C3"]["status"] == "inactive"
    assert "override is not applied" in result["criteria"]["C3"]["explanation"]
    assert result["overrides"] == [] and result["standard_results"]["S1"]["score"] == 50.0
    asked = rules.score(load(doc), answers({"C1": "clinic", "C3": 20}), overrides=overrides)
    assert asked["criteria"]["C3"]["status"] == "overridden" and asked["standard_results"]["S1"]["score"] == 100.0


def test_conditions_on_many_answers_and_deep_chains_stay_exact():
    options = [{"id": f"o{i}", "text": f"Option {i}", "score": i / 100} for i in range(100)]
    chain = [
        criterion(
            f"K{i}",
            when={"criterion": f"K{i - 1}" if i else "C1", "in": ["yes"] if i else [f"o{j}" for j in range(0, 100, 2)]},
        )
        for i in range(12)
    ]
    doc = schema_2(choice(options=options), *chain)
    result = score(doc, {"C1": "o98", **{f"K{i}": "yes" for i in range(12)}})
    assert all(result["criteria"][f"K{i}"]["status"] == "scored" for i in range(12))
    broken = score(doc, {"C1": "o98", **{f"K{i}": "yes" for i in range(12)}, "K5": "no"})
    assert [broken["criteria"][f"K{i}"]["status"] for i in (5, 6, 11)] == ["scored", "inactive", "inactive"]
    odd = score(doc, {"C1": "o97", "K0": "yes"})
    assert odd["criteria"]["K0"]["status"] == "inactive" and odd["unanswered"] == []


# -- 4. mappings ----------------------------------------------------------------------------------------


def mapped_document(**top) -> dict:
    return document(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1",
                        [criterion("C1")],
                        maps_to=[{"framework": "cqc", "ref": "Safe"}, {"framework": "dspt", "ref": "1.1"}],
                    ),
                    standard(
                        "S2",
                        [criterion("C2")],
                        maps_to=[{"framework": "cqc", "ref": "Well-led"}, {"framework": "cqc", "ref": "Safe"}],
                    ),
                    standard(
                        "S3",
                        [criterion("C3")],
                        applies={"org_types": ["community"]},
                        maps_to=[{"framework": "cqc", "ref": "Effective"}],
                    ),
                    standard("S4", [criterion("C4", "text")], maps_to=[{"framework": "dspt", "ref": "1.1"}]),
                ],
            )
        ],
        schema=2,
        frameworks={"dspt": {"title": "DSPT"}, "cqc": {"title": "CQC"}, "caf": {"title": "CAF"}},
        **top,
    )


def test_mapped_is_empty_without_frameworks():
    assert score(one_standard(criterion("C1")), {"C1": "yes"})["mapped"] == {}
    assert score(schema_2(criterion("C1")), {"C1": "yes"})["mapped"] == {}


def test_mapped_lists_frameworks_in_declaration_order_and_refs_in_order_of_first_appearance():
    mapped = score(mapped_document(), {"C1": "yes", "C2": "yes"})["mapped"]
    assert list(mapped) == ["dspt", "cqc", "caf"]
    assert list(mapped["cqc"]) == ["Safe", "Well-led", "Effective"]
    assert mapped["caf"] == {}


def test_ref_is_not_met_if_any_mapped_standard_is_not_met():
    mapped = score(mapped_document(), {"C1": "yes", "C2": "no"})["mapped"]
    assert mapped["cqc"] == {"Safe": "not_met", "Well-led": "not_met", "Effective": "not_assessed"}
    assert mapped["dspt"] == {"1.1": "met"}


def test_ref_is_met_when_one_is_met_and_the_others_are_not_applicable_or_not_scored():
    mapped = score(mapped_document(), {"C1": "yes", "C2": "yes", "C4": "notes"})["mapped"]
    assert mapped["cqc"] == {"Safe": "met", "Well-led": "met", "Effective": "not_assessed"}
    assert mapped["dspt"] == {"1.1": "met"}  # S4 is not scored


def test_ref_is_not_assessed_when_every_mapped_standard_is_not_applicable_or_not_scored():
    doc = mapped_document()
    mapped = score(doc, {"C3": "no"}, org_type="acute")["mapped"]
    assert mapped["cqc"]["Effective"] == "not_assessed"
    assert score(doc, {"C3": "no"}, org_type="community")["mapped"]["cqc"]["Effective"] == "not_met"


def test_a_major_breach_makes_the_ref_not_met_whatever_the_score():
    doc = document(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1",
                        [
                            criterion("C1", weight=9),
                            criterion("M1", "metric", benchmark={"target": 85, "direction": "higher"}),
                        ],
                        maps_to=[{"framework": "cqc", "ref": "Safe"}],
                    )
                ],
            )
        ],
        schema=2,
        frameworks={"cqc": {"title": "CQC"}},
    )
    result = score(doc, {"C1": "yes", "M1": 10})
    assert result["standard_results"]["S1"] == {"score": 90.0, "status": "not_met"}
    assert result["mapped"] == {"cqc": {"Safe": "not_met"}}


def test_a_score_exactly_on_the_pass_mark_makes_the_ref_met():
    doc = document(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1",
                        [criterion("C1", "yes_partial_no", weight=0.3), criterion("C2", weight=0.3)],
                        maps_to=[{"framework": "cqc", "ref": "Safe"}],
                    )
                ],
            )
        ],
        schema=2,
        frameworks={"cqc": {"title": "CQC"}},
    )
    result = score(doc, {"C1": "partial", "C2": "yes"})
    assert result["standard_results"]["S1"] == {"score": 75.0, "status": "met"}
    assert result["mapped"] == {"cqc": {"Safe": "met"}}


def test_a_status_set_by_the_lead_counts_for_the_ref():
    loaded = load(mapped_document())
    base = answers({"C1": "yes", "C2": "yes"})
    pinned = rules.score(loaded, base, overrides=Overrides(standards={"S2": StandardOverride("not_met", "Audit")}))
    assert pinned["mapped"]["cqc"] == {"Safe": "not_met", "Well-led": "not_met", "Effective": "not_assessed"}
    failing = answers({"C1": "yes", "C2": "no"})
    lifted = rules.score(loaded, failing, overrides=Overrides(standards={"S2": StandardOverride("met", "Plan")}))
    assert lifted["mapped"]["cqc"] == {"Safe": "met", "Well-led": "met", "Effective": "not_assessed"}


def test_score_command_prints_mapped(tmp_path):
    standards_path = tmp_path / "standards.yaml"
    standards_path.write_text(json.dumps(mapped_document()), encoding="utf-8")  # JSON is YAML
    answers_path = tmp_path / "answers.json"
    answers_path.write_text(json.dumps(answers({"C1": "yes", "C2": "no"})), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "cli.py", "score", "--standards", str(standards_path), "--answers", str(answers_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mapped"] == {
        "dspt": {"1.1": "met"},
        "cqc": {"Safe": "not_met", "Well-led": "not_met", "Effective": "not_assessed"},
        "caf": {},
    }


# -- flag rules on the new types ---------------------------------------------------------------------------


def test_flag_rules_test_a_choice_answer_by_option_id():
    doc = schema_2(choice(), multi(required=False))
    doc["rules"] = [
        {
            "id": "no-follow-up",
            "severity": "warning",
            "message": "No follow-up",
            "when": {"all": [{"criterion": "C1", "answer": "none"}, {"criterion": "C2", "answered": False}]},
        }
    ]
    assert [f["id"] for f in score(doc, {"C1": "none"})["flags"]] == ["no-follow-up"]
    assert score(doc, {"C1": "phone"})["flags"] == []
    assert score(doc, {"C1": "none", "C2": []})["flags"] == []


def test_flag_rules_refuse_an_answer_test_on_multi_choice_and_an_unknown_option():
    doc = schema_2(choice(), multi())
    doc["rules"] = [
        {"id": "f1", "severity": "info", "message": "m", "when": {"all": [{"criterion": "C2", "answer": "nhfd"}]}}
    ]
    with pytest.raises(rules.StandardsError, match="multi_choice answers are lists"):
        load(doc)
    doc["rules"][0]["when"] = {"all": [{"criterion": "C1", "answer": "surgery"}]}
    with pytest.raises(rules.StandardsError, match="option id: none, phone, clinic"):
        load(doc)

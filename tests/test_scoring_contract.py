"""One test per rule of the scoring contract, through the real durable-rules engine."""

from __future__ import annotations

import pytest

import rules
from tests.builders import answers, criterion, document, domain, load, one_standard, score, standard

# -- criterion types --------------------------------------------------------------


@pytest.mark.parametrize("answer, expected", [("yes", 100.0), ("no", 0.0)])
def test_yes_no_scores_one_or_zero(answer, expected):
    result = score(one_standard(criterion("C1")), {"C1": answer})
    assert result["standard_results"]["S1"]["score"] == expected


@pytest.mark.parametrize("answer, expected", [("yes", 100.0), ("partial", 50.0), ("no", 0.0)])
def test_yes_partial_no_scores_one_half_zero(answer, expected):
    result = score(one_standard(criterion("C1", "yes_partial_no")), {"C1": answer})
    assert result["standard_results"]["S1"]["score"] == expected


@pytest.mark.parametrize("index, expected", [(0, 0.0), (1, 25.0), (2, 50.0), (3, 75.0), (4, 100.0)])
def test_level_scores_index_over_levels_minus_one(index, expected):
    result = score(one_standard(criterion("C1", "level")), {"C1": index})
    assert result["standard_results"]["S1"]["score"] == expected


def test_level_with_two_levels():
    doc = one_standard(criterion("C1", "level", levels=["No", "Yes"]))
    assert score(doc, {"C1": 1})["standard_results"]["S1"]["score"] == 100.0


def test_text_is_not_scored():
    doc = one_standard(criterion("C1"), criterion("C2", "text"))
    result = score(doc, {"C1": "no", "C2": "a long narrative"})
    assert result["standard_results"]["S1"] == {"score": 0.0, "status": "not_met"}
    assert result["criteria"]["C2"]["status"] == "not_scored"


def test_only_text_criteria_is_not_scored():
    doc = one_standard(criterion("C1", "text"))
    result = score(doc, {"C1": "narrative"})
    assert result["standard_results"]["S1"] == {"score": None, "status": "not_scored"}
    assert result["overall"] is None and result["rating"] is None
    assert result["outcome"] == "not_accredited"


# -- metrics and amber boundaries -------------------------------------------------

HIGHER = {"target": 85, "direction": "higher", "amber": 5}
LOWER = {"target": 3.0, "direction": "lower", "amber": 0.5}


@pytest.mark.parametrize(
    "value, rag, severity",
    [
        (90, "green", None),
        (85, "green", None),
        (84.999, "amber", "minor"),
        (80, "amber", "minor"),
        (79.999, "red", "major"),
        (0, "red", "major"),
    ],
)
def test_metric_higher_boundaries(value, rag, severity):
    result = score(one_standard(criterion("C1", "metric", benchmark=HIGHER)), {"C1": value})
    assert result["criteria"]["C1"]["rag"] == rag
    assert result["standard_results"]["S1"]["score"] == {"green": 100.0, "amber": 50.0, "red": 0.0}[rag]
    breaches = [b["severity"] for b in result["breaches"]]
    assert breaches == ([severity] if severity else [])


@pytest.mark.parametrize(
    "value, rag, severity",
    [
        (2, "green", None),
        (3.0, "green", None),
        (3.0001, "amber", "minor"),
        (3.5, "amber", "minor"),
        (3.5001, "red", "major"),
        (10, "red", "major"),
    ],
)
def test_metric_lower_boundaries(value, rag, severity):
    result = score(one_standard(criterion("C1", "metric", benchmark=LOWER)), {"C1": value})
    assert result["criteria"]["C1"]["rag"] == rag
    breaches = [b["severity"] for b in result["breaches"]]
    assert breaches == ([severity] if severity else [])


def test_metric_amber_defaults_to_zero():
    doc = one_standard(criterion("C1", "metric", benchmark={"target": 85, "direction": "higher"}))
    assert score(doc, {"C1": 84.99})["criteria"]["C1"]["rag"] == "red"
    assert score(doc, {"C1": 85})["criteria"]["C1"]["rag"] == "green"


def test_breach_record_names_value_target_direction():
    doc = one_standard(criterion("C1", "metric", benchmark=HIGHER))
    result = score(doc, {"C1": 82})
    assert result["breaches"] == [
        {"criterion": "C1", "standard": "S1", "value": 82, "target": 85, "direction": "higher", "severity": "minor"}
    ]


def test_unanswered_metric_is_not_a_breach():
    doc = one_standard(criterion("C1", "metric", benchmark=HIGHER), criterion("C2"))
    result = score(doc, {"C2": "yes"})
    assert result["breaches"] == []
    assert result["unanswered"] == ["C1"]
    assert result["standard_results"]["S1"]["score"] == 50.0


def test_tiny_and_huge_metric_values_compare_exactly():
    doc = one_standard(criterion("C1", "metric", benchmark={"target": 1e-7, "direction": "higher", "amber": 1e-8}))
    assert score(doc, {"C1": 1e-7})["criteria"]["C1"]["rag"] == "green"
    assert score(doc, {"C1": 9.5e-8})["criteria"]["C1"]["rag"] == "amber"
    assert score(doc, {"C1": 8.9e-8})["criteria"]["C1"]["rag"] == "red"
    big = one_standard(criterion("C1", "metric", benchmark={"target": 1e20, "direction": "lower"}))
    assert score(big, {"C1": 1e20})["criteria"]["C1"]["rag"] == "green"
    assert score(big, {"C1": 1.0000001e20})["criteria"]["C1"]["rag"] == "red"


def test_explanations_say_what_was_decided_and_why():
    doc = one_standard(
        criterion("C1", "metric", unit="%", benchmark=HIGHER), criterion("C2", "level"), criterion("C3", required=True)
    )
    result = score(doc, {"C1": 82.5, "C2": 2})
    assert result["criteria"]["C1"]["explanation"] == "82.5% < target 85%, within amber 5 (>= 80): amber, minor breach"
    assert "2/4" in result["criteria"]["C2"]["explanation"]
    assert "not answered" in result["criteria"]["C3"]["explanation"]


def test_explanations_space_word_units_from_numbers():
    doc = one_standard(
        criterion("C1", "metric", unit="days", benchmark={"target": 3.0, "direction": "lower", "amber": 0.5})
    )
    result = score(doc, {"C1": 3.3})
    assert result["criteria"]["C1"]["explanation"] == (
        "3.3 days > target 3 days, within amber 0.5 (<= 3.5): amber, minor breach"
    )


# -- na and unanswered -----------------------------------------------------------------


def test_na_is_excluded_from_the_score():
    doc = one_standard(criterion("C1", allow_na=True), criterion("C2"))
    result = score(doc, {"C1": "na", "C2": "yes"})
    assert result["standard_results"]["S1"]["score"] == 100.0


def test_na_refused_when_not_allowed():
    with pytest.raises(rules.AnswersError) as caught:
        score(one_standard(criterion("C1")), {"C1": "na"})
    assert "C1" in caught.value.problems[0]


def test_all_na_makes_standard_not_scored():
    doc = document(
        [domain("d1", [standard("S1", [criterion("C1", allow_na=True)]), standard("S2", [criterion("C2")])])]
    )
    result = score(doc, {"C1": "na", "C2": "yes"})
    assert result["standard_results"]["S1"] == {"score": None, "status": "not_scored"}
    assert result["domains"] == {"d1": 100.0}


def test_unanswered_required_scores_zero_and_is_listed():
    doc = one_standard(criterion("C1"), criterion("C2"), criterion("C3"))
    result = score(doc, {"C1": "yes"})
    assert result["standard_results"]["S1"]["score"] == pytest.approx(33.3)
    assert result["unanswered"] == ["C2", "C3"]


def test_unanswered_optional_is_left_out():
    doc = one_standard(criterion("C1"), criterion("C2", required=False))
    result = score(doc, {"C1": "yes"})
    assert result["standard_results"]["S1"]["score"] == 100.0
    assert result["unanswered"] == []


def test_unanswered_required_text_is_listed_but_not_scored():
    doc = one_standard(criterion("C1"), criterion("C2", "text"))
    result = score(doc, {"C1": "yes"})
    assert result["unanswered"] == ["C2"]
    assert result["standard_results"]["S1"]["score"] == 100.0


def test_unanswered_listed_in_file_order():
    doc = document(
        [domain("d1", [standard("S2", [criterion("B2"), criterion("A1")]), standard("S1", [criterion("Z9")])])]
    )
    assert score(doc, {})["unanswered"] == ["B2", "A1", "Z9"]


# -- answers errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ctype, bad",
    [
        ("yes_no", "partial"),
        ("yes_no", True),
        ("yes_no", 1),
        ("yes_partial_no", "maybe"),
        ("level", 5),
        ("level", -1),
        ("level", 1.5),
        ("level", "2"),
        ("metric", "80"),
        ("metric", True),
        ("metric", float("nan")),
        ("metric", float("inf")),
        ("text", 12),
    ],
)
def test_wrong_type_or_out_of_range_answer_is_an_error(ctype, bad):
    with pytest.raises(rules.AnswersError) as caught:
        score(one_standard(criterion("C1", ctype)), {"C1": bad})
    assert len(caught.value.problems) == 1 and "C1" in caught.value.problems[0]


def test_answer_to_unknown_criterion_is_an_error():
    with pytest.raises(rules.AnswersError) as caught:
        score(one_standard(criterion("C1")), {"C1": "yes", "C9": "yes"})
    assert any("C9" in p for p in caught.value.problems)


def test_all_answer_errors_reported_together():
    doc = one_standard(criterion("C1"), criterion("C2", "level"))
    with pytest.raises(rules.AnswersError) as caught:
        score(doc, {"C1": "maybe", "C2": 9, "X": 1})
    assert len(caught.value.problems) == 3


def test_unknown_route_is_an_error():
    with pytest.raises(rules.AnswersError) as caught:
        score(one_standard(criterion("C1")), {"C1": "yes"}, route="associate")
    assert "route" in caught.value.problems[0]


# -- applicability -----------------------------------------------------------------------------


def applicability_doc() -> dict:
    return document(
        [
            domain(
                "d1",
                [
                    standard("ALL", [criterion("A1")]),
                    standard("FULL", [criterion("F1")], applies={"routes": ["full"]}),
                    standard("ORTHO", [criterion("O1")], applies={"specialties": ["orthopaedics"]}),
                    standard("ACUTE", [criterion("T1")], applies={"org_types": ["acute"]}),
                ],
            )
        ]
    )


def test_standard_applies_by_route():
    result = score(applicability_doc(), {}, route="specialty", specialty="orthopaedics")
    assert result["standard_results"]["FULL"]["status"] == "not_applicable"
    assert result["standard_results"]["ORTHO"]["status"] == "not_met"


def test_specialties_only_constrain_the_specialty_route():
    full = score(applicability_doc(), {}, route="full", specialty=None)
    assert full["standard_results"]["ORTHO"]["status"] != "not_applicable"
    eyes = score(applicability_doc(), {}, route="specialty", specialty="ophthalmology")
    assert eyes["standard_results"]["ORTHO"] == {"score": None, "status": "not_applicable"}


def test_standard_applies_by_org_type():
    result = score(applicability_doc(), {}, org_type="mental-health")
    assert result["standard_results"]["ACUTE"]["status"] == "not_applicable"
    assert score(applicability_doc(), {}, org_type="acute")["standard_results"]["ACUTE"]["status"] == "not_met"


def test_criteria_of_inapplicable_standards_are_not_required_and_answers_ignored():
    result = score(applicability_doc(), {"A1": "yes", "T1": "bogus"}, route="full", org_type="community")
    assert result["unanswered"] == ["F1", "O1"]
    assert result["criteria"]["T1"]["status"] == "not_applicable"


def test_specialty_route_needs_a_specialty():
    with pytest.raises(rules.AnswersError) as caught:
        score(applicability_doc(), {}, route="specialty", specialty=None)
    assert "specialty" in caught.value.problems[0]


# -- weights and means -----------------------------------------------------------------------


def test_criterion_weights():
    doc = one_standard(criterion("C1", weight=3), criterion("C2", weight=1))
    assert score(doc, {"C1": "yes", "C2": "no"})["standard_results"]["S1"]["score"] == 75.0


def test_zero_weight_criterion_does_not_count():
    doc = one_standard(criterion("C1", weight=0), criterion("C2"))
    assert score(doc, {"C1": "no", "C2": "yes"})["standard_results"]["S1"]["score"] == 100.0


def test_all_zero_weights_make_standard_not_scored():
    doc = document([domain("d1", [standard("S1", [criterion("C1", weight=0)]), standard("S2", [criterion("C2")])])])
    result = score(doc, {"C1": "yes", "C2": "no"})
    assert result["standard_results"]["S1"] == {"score": None, "status": "not_scored"}
    assert result["domains"]["d1"] == 0.0


def test_domain_is_weighted_mean_of_standards():
    doc = document(
        [domain("d1", [standard("S1", [criterion("C1")], weight=3), standard("S2", [criterion("C2")], weight=1)])]
    )
    assert score(doc, {"C1": "yes", "C2": "no"})["domains"] == {"d1": 75.0}


def test_overall_is_weighted_mean_of_scored_domains():
    doc = document(
        [
            domain("d1", [standard("S1", [criterion("C1")])], weight=2),
            domain("d2", [standard("S2", [criterion("C2")])], weight=1),
            domain("d3", [standard("S3", [criterion("C3", "text")])], weight=5),
        ]
    )
    result = score(doc, {"C1": "yes", "C2": "no", "C3": "narrative"})
    assert result["domains"] == {"d1": 100.0, "d2": 0.0}
    assert result["overall"] == pytest.approx(66.7)


def test_rounding_only_at_output():
    # Three standards of 1/3 each: rounding each to 33.3 first would give 33.3, not 33.3333 -> overall differs.
    doc = document(
        [
            domain("d1", [standard("S1", [criterion("A1"), criterion("A2"), criterion("A3")])], weight=1),
            domain("d2", [standard("S2", [criterion("B1"), criterion("B2"), criterion("B3")])], weight=2),
        ],
        pass_mark=33.35,
        ratings=[{"rating": "met", "min": 33.34}, {"rating": "not_met", "min": 0}],
    )
    result = score(doc, {"A1": "yes", "A2": "no", "A3": "no", "B1": "yes", "B2": "no", "B3": "no"})
    assert result["standard_results"]["S1"]["score"] == 33.3
    # Full precision 33.333.. is below the pass mark 33.35 and the rating min 33.34.
    assert result["standard_results"]["S1"]["status"] == "not_met"
    assert result["rating"] == "not_met"


def test_level_score_rounds_at_output_only():
    doc = one_standard(criterion("C1", "level", levels=["a", "b", "c", "d"]))
    assert score(doc, {"C1": 1})["standard_results"]["S1"]["score"] == 33.3


# -- standard status ---------------------------------------------------------------------------


def test_status_met_at_pass_mark():
    doc = one_standard(criterion("C1", weight=3), criterion("C2"))
    result = score(doc, {"C1": "yes", "C2": "no"})
    assert result["standard_results"]["S1"] == {"score": 75.0, "status": "met"}


def test_status_not_met_below_pass_mark():
    doc = one_standard(criterion("C1", "level"))
    assert score(doc, {"C1": 2})["standard_results"]["S1"]["status"] == "not_met"


def test_custom_pass_mark():
    doc = one_standard(criterion("C1", "level"))
    doc["pass_mark"] = 50
    assert score(doc, {"C1": 2})["standard_results"]["S1"]["status"] == "met"


def test_major_breach_means_not_met_even_above_pass_mark():
    doc = one_standard(*[criterion(f"C{i}") for i in range(1, 10)], criterion("M1", "metric", benchmark=HIGHER))
    values = {f"C{i}": "yes" for i in range(1, 10)} | {"M1": 10}
    result = score(doc, values)
    assert result["standard_results"]["S1"] == {"score": 90.0, "status": "not_met"}


def test_minor_breach_does_not_stop_met():
    doc = one_standard(*[criterion(f"C{i}") for i in range(1, 10)], criterion("M1", "metric", benchmark=HIGHER))
    values = {f"C{i}": "yes" for i in range(1, 10)} | {"M1": 82}
    assert score(doc, values)["standard_results"]["S1"]["status"] == "met"


def test_every_standard_is_listed_in_file_order():
    result = score(applicability_doc(), {}, route="specialty", specialty="cardiology")
    assert list(result["standard_results"]) == ["ALL", "FULL", "ORTHO", "ACUTE"]


# -- ratings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("level, rating", [(4, "exemplary"), (3, "met"), (2, "approaching"), (1, "not_met")])
def test_default_rating_bands(level, rating):
    doc = one_standard(criterion("C1", "level"))
    assert score(doc, {"C1": level})["rating"] == rating


def test_rating_at_band_minimum():
    doc = one_standard(criterion("C1", "level", levels=[str(i) for i in range(11)]))
    assert score(doc, {"C1": 9})["rating"] == "exemplary"  # exactly 90
    assert score(doc, {"C1": 5})["rating"] == "approaching"  # exactly 50


def test_custom_ratings_in_any_order():
    doc = one_standard(criterion("C1", "level"))
    doc["ratings"] = [
        {"rating": "not_met", "min": 0},
        {"rating": "gold", "min": 70},
        {"rating": "approaching", "min": 20},
    ]
    assert score(doc, {"C1": 3})["rating"] == "gold"
    assert score(doc, {"C1": 1})["rating"] == "approaching"


def test_score_below_every_band_has_no_rating():
    doc = one_standard(criterion("C1", "level"))
    doc["ratings"] = [{"rating": "met", "min": 60}, {"rating": "approaching", "min": 40}]
    result = score(doc, {"C1": 1})
    assert result["rating"] is None and result["outcome"] == "not_accredited"


# -- outcomes --------------------------------------------------------------------------------------


def outcome_doc() -> dict:
    return document(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1", [criterion("C1", "level"), criterion("M1", "metric", benchmark=HIGHER, required=False)]
                    ),
                    standard("MM", [criterion("C2")], must_meet=True, applies={"routes": ["full"]}),
                ],
            )
        ]
    )


def test_outcome_not_accredited_when_rating_not_met():
    result = score(outcome_doc(), {"C1": 0, "C2": "no"})
    assert result["outcome"] == "not_accredited"
    assert result["core_proposition"] == []


def test_outcome_working_towards_when_approaching():
    result = score(outcome_doc(), {"C1": 1, "C2": "yes"})  # (25 + 100) / 2 = 62.5
    assert (result["rating"], result["outcome"]) == ("approaching", "working_towards")


def test_outcome_working_towards_when_must_meet_not_met():
    doc = outcome_doc()
    doc["domains"][0]["standards"][0]["criteria"].append(criterion("C3", weight=10))
    doc["domains"][0]["standards"].append(standard("S3", [criterion("C4")]))
    doc["domains"][0]["standards"].append(standard("S4", [criterion("C5")]))
    result = score(doc, {"C1": 4, "C3": "yes", "C2": "no", "C4": "yes", "C5": "yes"})
    assert result["rating"] == "met"
    assert result["standard_results"]["MM"]["status"] == "not_met"
    assert result["outcome"] == "working_towards"


def test_must_meet_not_applicable_does_not_hold_back():
    result = score(outcome_doc(), {"C1": 4}, route="specialty", specialty="orthopaedics")
    assert result["outcome"] == "accredited"


def test_outcome_accredited_with_conditions_on_any_breach():
    result = score(outcome_doc(), {"C1": 4, "C2": "yes", "M1": 82})  # (75 + 100) / 2
    assert result["rating"] == "met"
    assert result["outcome"] == "accredited_with_conditions"


def test_outcome_accredited():
    result = score(outcome_doc(), {"C1": 4, "C2": "yes", "M1": 99})
    assert result["outcome"] == "accredited"


def test_not_met_rating_wins_over_must_meet():
    result = score(outcome_doc(), {"C1": 0, "C2": "no", "M1": 10})
    assert result["outcome"] == "not_accredited"


def test_no_scored_domain_gives_null_overall_and_not_accredited():
    doc = one_standard(criterion("C1", allow_na=True))
    result = score(doc, {"C1": "na"})
    assert (result["overall"], result["rating"], result["outcome"]) == (None, None, "not_accredited")
    assert result["domains"] == {}


# -- support needs and core proposition -------------------------------------------------------------


def test_support_needs_are_not_met_standards_in_file_order():
    doc = document(
        [
            domain(
                "d1",
                [
                    standard("B", [criterion("C1")]),
                    standard("A", [criterion("C2")]),
                    standard("C", [criterion("C3")], applies={"routes": ["specialty"]}),
                ],
            ),
            domain("d2", [standard("D", [criterion("C4", allow_na=True)])]),
        ]
    )
    result = score(doc, {"C1": "no", "C2": "no", "C4": "na"})
    assert result["support_needs"] == ["B", "A"]


def core_doc() -> dict:
    doc = one_standard(criterion("C1", "level"))
    doc["core_proposition"] = [
        {"id": "cp-lms", "title": "Shared LMS", "routes": ["full"]},
        {"id": "cp-qi", "title": "QI toolkit"},
        {"id": "cp-spec", "title": "Specialty network", "routes": ["specialty"]},
    ]
    return doc


def test_core_proposition_by_route():
    assert score(core_doc(), {"C1": 4})["core_proposition"] == ["cp-lms", "cp-qi"]
    assert score(core_doc(), {"C1": 4}, route="specialty", specialty="x")["core_proposition"] == ["cp-qi", "cp-spec"]


@pytest.mark.parametrize("level, expected", [(4, ["cp-lms", "cp-qi"]), (2, ["cp-lms", "cp-qi"]), (0, [])])
def test_core_proposition_by_outcome(level, expected):
    assert score(core_doc(), {"C1": level})["core_proposition"] == expected


def test_result_has_contract_keys():
    result = score(core_doc(), {"C1": 3})
    for key in (
        "standards",
        "route",
        "specialty",
        "org_type",
        "overall",
        "rating",
        "outcome",
        "domains",
        "standard_results",
        "breaches",
        "unanswered",
        "support_needs",
        "core_proposition",
        "flags",
    ):
        assert key in result
    assert result["standards"] == {"id": "test-set", "version": "2026.1"}
    assert (result["route"], result["specialty"], result["org_type"]) == ("full", None, "acute")


# -- extra declarative rules (flags) ---------------------------------------------------------------


def flagged_doc(when: dict, severity: str = "critical") -> dict:
    doc = document(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1",
                        [
                            criterion("C1"),
                            criterion("L1", "level"),
                            criterion("M1", "metric", benchmark=HIGHER, allow_na=True),
                        ],
                    ),
                    standard("S2", [criterion("C2")], applies={"routes": ["full"]}),
                ],
            )
        ]
    )
    doc["rules"] = [{"id": "r1", "severity": severity, "message": "Look at this", "when": when}]
    return doc


@pytest.mark.parametrize(
    "when, values, fires",
    [
        ({"all": [{"criterion": "C1", "answer": "no"}]}, {"C1": "no"}, True),
        ({"all": [{"criterion": "C1", "answer": "no"}]}, {"C1": "yes"}, False),
        (
            {"all": [{"criterion": "M1", "rag": "red"}, {"criterion": "C1", "answer": "no"}]},
            {"C1": "no", "M1": 10},
            True,
        ),
        (
            {"all": [{"criterion": "M1", "rag": "red"}, {"criterion": "C1", "answer": "no"}]},
            {"C1": "yes", "M1": 10},
            False,
        ),
        ({"any": [{"criterion": "M1", "breach": "minor"}, {"standard": "S2", "status": "met"}]}, {"M1": 82}, True),
        ({"any": [{"criterion": "M1", "breach": "any"}]}, {"M1": 90}, False),
        ({"all": [{"criterion": "M1", "breach": "none"}]}, {"M1": 90}, True),
        ({"all": [{"criterion": "L1", "answer": {"lt": 2}}]}, {"L1": 1}, True),
        ({"all": [{"criterion": "L1", "answer": {"lt": 2}}]}, {"L1": 2}, False),
        ({"all": [{"criterion": "M1", "answer": {"gte": 50.5}}]}, {"M1": 50.5}, True),
        ({"all": [{"criterion": "M1", "answer": "na"}]}, {"M1": "na"}, True),
        ({"all": [{"criterion": "M1", "answer": {"ne": "na"}}]}, {"M1": 3}, True),
        ({"all": [{"criterion": "C2", "answered": False}]}, {}, True),
        ({"all": [{"standard": "S1", "status": ["not_met", "not_scored"]}]}, {"C1": "no"}, True),
        ({"all": [{"standard": "S2", "status": "not_applicable"}]}, {}, False),
        (
            {
                "all": [
                    {"criterion": "C1", "answer": "yes"},
                    {"any": [{"criterion": "L1", "answer": 4}, {"criterion": "M1", "rag": "green"}]},
                ]
            },
            {"C1": "yes", "L1": 0, "M1": 95},
            True,
        ),
    ],
)
def test_flag_rules(when, values, fires):
    result = score(flagged_doc(when), values)
    assert result["flags"] == ([{"id": "r1", "severity": "critical", "message": "Look at this"}] if fires else [])


def test_flags_do_not_change_scores():
    plain = one_standard(criterion("C1"))
    with_rule = flagged_doc({"all": [{"criterion": "C1", "answer": "no"}]})
    assert score(plain, {"C1": "no"})["standard_results"]["S1"] == {"score": 0.0, "status": "not_met"}
    assert score(with_rule, {"C1": "no"})["outcome"] == "not_accredited"


def test_flag_condition_on_inapplicable_standard_never_fires():
    doc = flagged_doc({"all": [{"criterion": "C2", "answer": "no"}]})
    assert score(doc, {"C2": "no"}, route="specialty", specialty="x")["flags"] == []
    assert len(score(doc, {"C2": "no"})["flags"]) == 1


def test_score_does_not_depend_on_answer_order():
    doc = one_standard(criterion("C1"), criterion("C2", "level"), criterion("M1", "metric"))
    a = score(doc, {"C1": "yes", "C2": 3, "M1": 82})
    b = score(doc, {"M1": 82, "C2": 3, "C1": "yes"})
    assert a == b


def test_loaded_set_can_be_scored_many_times():
    loaded = load(one_standard(criterion("C1")))
    results = [rules.score(loaded, answers({"C1": v}))["overall"] for v in ("yes", "no") * 700]
    assert results[:2] == [100.0, 0.0] and len(set(results)) == 2

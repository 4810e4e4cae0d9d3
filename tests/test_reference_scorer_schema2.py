"""The reference scorer on schema 2, against results worked out by hand from the contract.

The differential test trusts tests/reference_scorer.py to read the contract's "Schema 2" section right; these
cases check it does, one rule at a time, with the arithmetic written out. They run the reference alone, so they
hold whatever state the engine is in.
"""

from __future__ import annotations

import pytest
import yaml

from tests.builders import answers, criterion, document, domain, standard
from tests.reference_scorer import reference_score

HIP = [
    {"id": "none", "text": "Not reviewed", "score": 0},
    {"id": "phone", "text": "Telephone follow-up", "score": 0.5},
    {"id": "clinic", "text": "Clinic review within 6 weeks", "score": 1},
]
AUDITS = [
    {"id": "nhfd", "text": "National Hip Fracture Database", "score": 0.5},
    {"id": "njr", "text": "National Joint Registry", "score": 0.5},
    {"id": "other", "text": "Other"},  # no score: 0
    {"id": "local", "text": "Local audit", "score": 0.3},
]
CLINIC_METRIC = {"target": 80, "direction": "higher", "amber": 10}


def schema_2(domains: list[dict], **top) -> dict:
    return document(domains, schema=2, **top)


def one(*criteria: dict, **top) -> dict:
    return schema_2([domain("d1", [standard("S1", list(criteria))])], **top)


def s1(doc: dict, values: dict, **member) -> dict:
    return reference_score(doc, answers(values, **member))["standard_results"]["S1"]


# -- 1. metric ranges ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{"min": 0, "max": 200, "unit": " days"}, {"min": -5}, {"max": 60}, {"unit": "%"}])
def test_metric_ranges_change_no_score(extra):
    bench = {"target": 30, "direction": "lower", "amber": 5}
    plain = one(criterion("M1", "metric", benchmark=bench), criterion("C1"))
    ranged = one(criterion("M1", "metric", benchmark=bench, **extra), criterion("C1"))
    values = {"M1": 33, "C1": "yes"}  # 30 < 33 <= 35: amber, 0.5; S1 = 100 x (1 + 0.5) / 2 = 75
    result = reference_score(ranged, answers(values))
    assert result == reference_score(plain, answers(values))
    assert result["standard_results"]["S1"] == {"score": 75.0, "status": "met"}
    assert result["breaches"] == [
        {"criterion": "M1", "standard": "S1", "value": 33, "target": 30, "direction": "lower", "severity": "minor"}
    ]
    assert (result["overall"], result["outcome"]) == (75.0, "accredited_with_conditions")


# -- 2. choice and multi_choice -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, score, status", [("none", 0.0, "not_met"), ("phone", 50.0, "not_met"), ("clinic", 100.0, "met")]
)
def test_choice_scores_its_options_score(answer, score, status):
    assert s1(one(criterion("Q4.1", "choice", options=HIP)), {"Q4.1": answer}) == {"score": score, "status": status}


def test_choice_is_weighted_like_any_criterion():
    doc = one(criterion("Q4.1", "choice", options=HIP, weight=2), criterion("Q1.1"))
    # 100 x (2 x 0.5 + 1 x 1) / 3 = 66.67
    assert s1(doc, {"Q4.1": "phone", "Q1.1": "yes"}) == {"score": 66.7, "status": "not_met"}


def test_an_option_without_score_scores_0():
    doc = one(criterion("Q4.2", "choice", options=AUDITS), criterion("Q1.1"))
    assert s1(doc, {"Q4.2": "other", "Q1.1": "yes"}) == {"score": 50.0, "status": "not_met"}


@pytest.mark.parametrize(
    "chosen, score",
    [
        ([], 0.0),  # the empty list: none of them, answered
        (["nhfd"], 50.0),
        (["nhfd", "njr"], 100.0),
        (["nhfd", "njr", "local"], 100.0),  # 1.3 capped at 1
        (["other"], 0.0),
        (["njr", "local"], 80.0),
        (["local", "other"], 30.0),
    ],
)
def test_multi_choice_scores_the_sum_of_its_chosen_options_up_to_1(chosen, score):
    result = reference_score(one(criterion("Q4.2", "multi_choice", options=AUDITS)), answers({"Q4.2": chosen}))
    assert result["standard_results"]["S1"]["score"] == score
    assert result["unanswered"] == []


def test_multi_choice_sums_exactly():
    # 0.7 + 0.1 is 0.7999999999999999 in binary floats: 80 would miss a pass mark of 80
    options = [{"id": "a", "text": "A", "score": 0.7}, {"id": "b", "text": "B", "score": 0.1}]
    doc = one(criterion("Q", "multi_choice", options=options), pass_mark=80)
    assert s1(doc, {"Q": ["a", "b"]}) == {"score": 80.0, "status": "met"}


def test_choice_answers_na_unanswered_and_optional_like_any_criterion():
    doc = one(
        criterion("C", "choice", options=HIP, allow_na=True),
        criterion("M", "multi_choice", options=AUDITS),
        criterion("O", "multi_choice", options=AUDITS, required=False),
    )
    result = reference_score(doc, answers({"C": "na"}))
    assert result["unanswered"] == ["M"]  # M required and unanswered: 0; C na and O optional: left out
    assert result["standard_results"]["S1"] == {"score": 0.0, "status": "not_met"}
    assert s1(doc, {"C": "na", "M": ["nhfd"], "O": ["njr", "local"]}) == {"score": 65.0, "status": "not_met"}


# -- 3. conditional criteria --------------------------------------------------------------------------------


def follow_up() -> dict:
    return one(
        criterion("Q4.1", "choice", options=HIP, allow_na=True),
        criterion("Q4.3", "metric", unit="%", benchmark=CLINIC_METRIC, when={"criterion": "Q4.1", "in": ["clinic"]}),
    )


@pytest.mark.parametrize(
    "values, score, status, unanswered, breaches",
    [
        # active: clinic; 50 is red (below 80 - 10): S1 = (1 + 0) / 2, not met and a major breach
        ({"Q4.1": "clinic", "Q4.3": 50}, 50.0, "not_met", [], ["major"]),
        ({"Q4.1": "clinic", "Q4.3": 75}, 75.0, "met", [], ["minor"]),
        ({"Q4.1": "clinic"}, 50.0, "not_met", ["Q4.3"], []),
        # inactive: phone; Q4.3 is neither scored, a breach nor unanswered, whatever its answer
        ({"Q4.1": "phone", "Q4.3": 50}, 50.0, "not_met", [], []),
        ({"Q4.1": "phone"}, 50.0, "not_met", [], []),
        ({"Q4.1": "phone", "Q4.3": "not even a number"}, 50.0, "not_met", [], []),
        # the criterion it names unanswered, or na: inactive
        ({"Q4.3": 95}, 0.0, "not_met", ["Q4.1"], []),
        ({"Q4.1": None, "Q4.3": 95}, 0.0, "not_met", ["Q4.1"], []),
        ({"Q4.1": "na", "Q4.3": 95}, None, "not_scored", [], []),
    ],
)
def test_a_conditional_criterion_counts_only_when_its_condition_holds(values, score, status, unanswered, breaches):
    result = reference_score(follow_up(), answers(values))
    assert result["standard_results"]["S1"] == {"score": score, "status": status}
    assert result["unanswered"] == unanswered
    assert [b["severity"] for b in result["breaches"]] == breaches


def chain() -> dict:
    levels = ["None", "Planned", "Partly", "In place"]
    return schema_2(
        [
            domain(
                "d1",
                [
                    standard("S1", [criterion("A")]),
                    standard(
                        "S2",
                        [
                            criterion("B", "yes_partial_no", when={"criterion": "A", "in": ["yes"]}),
                            criterion("C", "level", levels=levels, when={"criterion": "B", "in": ["yes", "partial"]}),
                            criterion("D", "choice", options=HIP, when={"criterion": "C", "in": [2, 3]}),
                            criterion("E", when={"criterion": "D", "in": ["clinic"]}),
                        ],
                    ),
                ],
            )
        ]
    )


@pytest.mark.parametrize(
    "values, s2",
    [
        # all active: B partial 0.5, C 2 of 0..3 = 2/3, D clinic 1, E no 0: 100 x 2.1667 / 4 = 54.17
        ({"A": "yes", "B": "partial", "C": 2, "D": "clinic", "E": "no"}, {"score": 54.2, "status": "not_met"}),
        ({"A": "yes", "B": "partial", "C": 2.0, "D": "clinic", "E": "no"}, {"score": 54.2, "status": "not_met"}),
        # D phone: E inactive: (0.5 + 2/3 + 0.5) / 3 = 55.56
        ({"A": "yes", "B": "partial", "C": 2, "D": "phone", "E": "no"}, {"score": 55.6, "status": "not_met"}),
        # C 1 is not in [2, 3]: D and so E inactive: (1 + 1/3) / 2 = 66.67
        ({"A": "yes", "B": "yes", "C": 1, "D": "clinic", "E": "yes"}, {"score": 66.7, "status": "not_met"}),
        # B no: C, D, E inactive; S2 holds B alone: 0
        ({"A": "yes", "B": "no", "C": 3, "D": "clinic", "E": "yes"}, {"score": 0.0, "status": "not_met"}),
        # A no: every criterion of S2 inactive, so S2 is not scored
        ({"A": "no", "B": "yes", "C": 3, "D": "clinic", "E": "yes"}, {"score": None, "status": "not_scored"}),
    ],
)
def test_conditions_chain(values, s2):
    result = reference_score(chain(), answers(values))
    assert result["standard_results"]["S2"] == s2


def test_an_inactive_chain_leaves_nothing_unanswered():
    result = reference_score(chain(), answers({"A": "no"}))
    assert result["unanswered"] == []
    result = reference_score(chain(), answers({"A": "yes", "B": "yes"}))
    assert result["unanswered"] == ["C"]  # D and E wait on C


def test_a_condition_on_a_criterion_of_a_standard_that_does_not_apply_is_never_met():
    doc = schema_2(
        [
            domain(
                "d1",
                [
                    standard("S9", [criterion("X")], applies={"routes": ["specialty"]}),
                    standard("S1", [criterion("Y"), criterion("Z", when={"criterion": "X", "in": ["yes", "no"]})]),
                ],
            )
        ]
    )
    result = reference_score(doc, answers({"X": "yes", "Y": "yes"}))  # full route: S9 does not apply
    assert result["standard_results"] == {
        "S9": {"score": None, "status": "not_applicable"},
        "S1": {"score": 100.0, "status": "met"},
    }
    assert result["unanswered"] == []
    on_specialty = reference_score(doc, answers({"X": "yes", "Y": "yes"}, route="specialty", specialty="orthopaedics"))
    assert on_specialty["unanswered"] == ["Z"]
    assert on_specialty["standard_results"]["S1"] == {"score": 50.0, "status": "not_met"}


def test_a_standard_of_inactive_and_text_criteria_is_not_scored_and_fails_nothing():
    doc = schema_2(
        [
            domain(
                "d1",
                [
                    standard("S1", [criterion("A")]),
                    standard(
                        "MM",
                        [criterion("T", "text"), criterion("B", when={"criterion": "A", "in": ["no"]})],
                        must_meet=True,
                    ),
                ],
            ),
            domain("d2", [standard("S3", [criterion("B2", when={"criterion": "A", "in": ["no"]})])]),
        ],
        core_proposition=[{"id": "cp-qi", "title": "QI"}],
    )
    result = reference_score(doc, answers({"A": "yes", "B": "no", "B2": "no"}))
    assert result["standard_results"] == {
        "S1": {"score": 100.0, "status": "met"},
        "MM": {"score": None, "status": "not_scored"},
        "S3": {"score": None, "status": "not_scored"},
    }
    assert result["unanswered"] == ["T"]  # text: listed, never scored
    assert result["domains"] == {"d1": 100.0}  # d2 holds no scored standard
    assert (result["overall"], result["rating"], result["outcome"]) == (100.0, "exemplary", "accredited")
    assert result["support_needs"] == [] and result["core_proposition"] == ["cp-qi"]
    # A no: MM and S3 count, and MM, a must-meet standard, is not met
    result = reference_score(doc, answers({"A": "no", "B": "no", "B2": "yes"}))
    assert result["standard_results"]["MM"] == {"score": 0.0, "status": "not_met"}
    assert result["domains"] == {"d1": 0.0, "d2": 100.0}
    assert (result["overall"], result["rating"], result["outcome"]) == (50.0, "approaching", "working_towards")
    assert result["support_needs"] == ["S1", "MM"]


def test_a_condition_on_yes_no_answers_compares_the_words():
    doc = one(criterion("A", "yes_partial_no"), criterion("B", when={"criterion": "A", "in": ["partial", "no"]}))
    assert s1(doc, {"A": "partial", "B": "yes"}) == {"score": 75.0, "status": "met"}
    assert s1(doc, {"A": "yes", "B": "no"}) == {"score": 100.0, "status": "met"}


def test_an_inactive_metric_is_no_breach_and_the_outcome_has_no_conditions():
    doc = follow_up()
    result = reference_score(doc, answers({"Q4.1": "phone", "Q4.3": 10}))
    assert result["breaches"] == []
    assert reference_score(doc, answers({"Q4.1": "clinic", "Q4.3": 10}))["breaches"][0]["severity"] == "major"


# -- 4. mappings ----------------------------------------------------------------------------------------------


def mapped_document() -> dict:
    return schema_2(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q1",
                        [criterion("Q1.1")],
                        maps_to=[
                            {"framework": "cqc", "ref": "Safe"},
                            {"framework": "dspt", "ref": "1.1"},
                            {"framework": "cqc", "ref": "Caring"},
                        ],
                    ),
                    standard(
                        "Q2",
                        [criterion("Q2.1")],
                        maps_to=[{"framework": "cqc", "ref": "Effective"}, {"framework": "cqc", "ref": "Safe"}],
                    ),
                ],
            ),
            domain(
                "people",
                [
                    standard(
                        "P3",
                        [criterion("P3.1")],
                        applies={"routes": ["specialty"]},
                        maps_to=[{"framework": "cqc", "ref": "Well-led"}, {"framework": "cqc", "ref": "Caring"}],
                    ),
                    standard(
                        "P4",
                        [criterion("P4.1", "text")],
                        maps_to=[{"framework": "dspt", "ref": "1.1"}, {"framework": "dspt", "ref": "2.2"}],
                    ),
                ],
            ),
        ],
        frameworks={
            "dspt": {"title": "Data Security and Protection Toolkit"},
            "cqc": {"title": "CQC quality statements"},
            "caf": {"title": "NCSC CAF"},
        },
    )


def test_mapped_gives_each_framework_its_refs_in_order_with_their_status():
    # Q1 met, Q2 not met, P3 does not apply, P4 not scored (text only)
    result = reference_score(mapped_document(), answers({"Q1.1": "yes", "Q2.1": "no", "P4.1": "Notes"}))
    assert [result["standard_results"][s]["status"] for s in ("Q1", "Q2", "P3", "P4")] == [
        "met",
        "not_met",
        "not_applicable",
        "not_scored",
    ]
    assert result["mapped"] == {
        "dspt": {"1.1": "met", "2.2": "not_assessed"},  # met + not scored; not scored alone
        "cqc": {"Safe": "not_met", "Caring": "met", "Effective": "not_met", "Well-led": "not_assessed"},
        "caf": {},  # declared, mapped by nothing
    }
    assert list(result["mapped"]) == ["dspt", "cqc", "caf"]  # declaration order
    assert list(result["mapped"]["cqc"]) == ["Safe", "Caring", "Effective", "Well-led"]  # first appearance


def test_mapped_follows_the_statuses():
    doc = mapped_document()
    everything = reference_score(
        doc, answers({"Q1.1": "yes", "Q2.1": "yes", "P3.1": "no"}, route="specialty", specialty="orthopaedics")
    )
    assert everything["mapped"]["cqc"] == {
        "Safe": "met",
        "Caring": "not_met",
        "Effective": "met",
        "Well-led": "not_met",
    }
    unanswered = reference_score(doc, answers({}))  # required and unanswered: scored 0, not met
    assert unanswered["mapped"]["cqc"] == {
        "Safe": "not_met",
        "Caring": "not_met",
        "Effective": "not_met",
        "Well-led": "not_assessed",
    }


def test_a_major_breach_makes_the_mapped_ref_not_met():
    doc = schema_2(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1",
                        [
                            criterion("C1"),
                            criterion("C2"),
                            criterion("C3"),
                            criterion("M1", "metric", benchmark={"target": 85, "direction": "higher", "amber": 5}),
                        ],
                        maps_to=[{"framework": "cqc", "ref": "Safe"}],
                    )
                ],
            )
        ],
        frameworks={"cqc": {"title": "CQC"}},
    )
    result = reference_score(doc, answers({"C1": "yes", "C2": "yes", "C3": "yes", "M1": 10}))
    assert result["standard_results"]["S1"] == {"score": 75.0, "status": "not_met"}  # 75 >= 75, but a major breach
    assert result["mapped"] == {"cqc": {"Safe": "not_met"}}


def test_mapped_is_empty_without_frameworks():
    assert reference_score(one(criterion("C1")), answers({"C1": "yes"}))["mapped"] == {}


def test_schema_1_is_scored_as_before_and_maps_to_nothing():
    doc = document(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q1",
                        [
                            criterion("Q1.1"),
                            criterion("Q1.2", "level"),
                            criterion("Q1.3", "metric", benchmark={"target": 85, "direction": "higher", "amber": 5}),
                        ],
                    ),
                ],
            )
        ]
    )
    parsed = yaml.safe_load(yaml.safe_dump(doc))
    result = reference_score(parsed, answers({"Q1.1": "yes", "Q1.2": 3, "Q1.3": 82}))
    # (1 + 0.75 + 0.5) / 3 = 75: met, a minor breach
    assert result["standard_results"] == {"Q1": {"score": 75.0, "status": "met"}}
    assert (result["overall"], result["outcome"], result["mapped"]) == (75.0, "accredited_with_conditions", {})

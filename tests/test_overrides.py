"""An alliance lead's overrides, applied through the real engine.

Where it can, each test checks an override against the same standards scored
from answers that give the overridden value (a metric overridden to 1 must
score exactly like a green answer), so the expected result comes from the
contract, not from the override code.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rules
from rules import CriterionOverride, Overrides, OverridesError, StandardOverride
from tests.builders import answers, criterion, document, domain, load, one_standard, standard
from tests.reference_scorer import _applies, reference_score
from tests.test_differential import CONTRACT_KEYS as REFERENCE_KEYS
from tests.test_differential import FAST, _valid_answer, answer_docs, documents

CONTRACT_KEYS = (
    "overall",
    "rating",
    "outcome",
    "domains",
    "standard_results",
    "unanswered",
    "support_needs",
    "core_proposition",
    "flags",
)
HIGHER = {"target": 85, "direction": "higher", "amber": 5}


def crit(score, reason="Evidence seen on the review visit"):
    return Overrides(criteria={"C1": CriterionOverride(score=score, reason=reason)})


def pin(standard_id, status, reason="Agreed at the review panel"):
    return Overrides(standards={standard_id: StandardOverride(status=status, reason=reason)})


def two_standards(**s1_extra) -> dict:
    """S1: a metric C1 and a yes/partial/no C2; S2: a yes/no C3. A core proposition for every route."""
    doc = document(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1",
                        [criterion("C1", "metric", benchmark=HIGHER), criterion("C2", "yes_partial_no")],
                        **s1_extra,
                    ),
                    standard("S2", [criterion("C3")]),
                ],
            )
        ]
    )
    doc["core_proposition"] = [{"id": "cp-qi", "title": "Quality improvement toolkit"}]
    return doc


def scored(doc_or_set, values, overrides=None, **member):
    loaded = doc_or_set if isinstance(doc_or_set, rules.StandardsSet) else load(doc_or_set)
    return rules.score(loaded, answers(values, **member), overrides=overrides)


def contract(result):
    return {key: result[key] for key in CONTRACT_KEYS}


def without_override_marks(breaches):
    return [{k: v for k, v in b.items() if k != "overridden"} for b in breaches]


# -- criterion overrides: the same as answers that give that score ------------------------------


@pytest.mark.parametrize(
    "score, equivalent_answer, rag, breach",
    [
        (1, 90, "green", None),
        (1.0, 85, "green", None),
        (0.5, 82, "amber", "minor"),
        (0, 70, "red", "major"),
    ],
)
def test_metric_override_scores_like_an_answer_in_that_band(score, equivalent_answer, rag, breach):
    doc = two_standards(must_meet=True)
    values = {"C2": "yes", "C3": "yes"}
    overridden = scored(doc, {**values, "C1": 40}, crit(score))
    answered = scored(doc, {**values, "C1": equivalent_answer})
    assert contract(overridden) == contract(answered)
    assert without_override_marks(overridden["breaches"]) == [{**b, "value": 40} for b in answered["breaches"]]
    entry = overridden["criteria"]["C1"]
    assert (entry["status"], entry["rag"], entry["breach"]) == ("overridden", rag, breach)


@pytest.mark.parametrize("score, rag", [(0.4999, "red"), (0.5, "amber"), (0.9999, "amber"), (1, "green")])
def test_metric_override_bands_at_their_edges(score, rag):
    entry = scored(two_standards(), {"C1": 90, "C2": "yes", "C3": "yes"}, crit(score))["criteria"]["C1"]
    assert entry["rag"] == rag
    assert entry["breach"] == {"green": None, "amber": "minor", "red": "major"}[rag]


def test_overridden_green_metric_is_no_longer_a_breach_and_its_standard_can_be_met():
    doc = two_standards()
    before = scored(doc, {"C1": 60, "C2": "yes", "C3": "yes"})
    after = scored(doc, {"C1": 60, "C2": "yes", "C3": "yes"}, crit(1))
    assert before["standard_results"]["S1"]["status"] == "not_met" and before["support_needs"] == ["S1"]
    assert after["breaches"] == [] and after["support_needs"] == []
    assert after["standard_results"]["S1"] == {"score": 100.0, "status": "met"}
    assert after["outcome"] == "accredited"


def test_overridden_red_metric_is_a_major_breach_that_stops_the_standard_being_met():
    after = scored(two_standards(), {"C1": 95, "C2": "yes", "C3": "yes"}, crit(0.25))
    # 100 x (0.25 + 1) / 2 = 62.5 and a major breach: not met either way
    assert after["standard_results"]["S1"] == {"score": 62.5, "status": "not_met"}
    assert after["breaches"] == [
        {
            "criterion": "C1",
            "standard": "S1",
            "value": 95,
            "target": 85,
            "direction": "higher",
            "severity": "major",
            "overridden": True,
        }
    ]


def test_choice_override_scores_like_the_matching_answer():
    doc = two_standards()
    overridden = scored(
        doc,
        {"C1": 90, "C2": "no", "C3": "yes"},
        Overrides(criteria={"C2": CriterionOverride(0.5, "Partly in place on inspection")}),
    )
    answered = scored(doc, {"C1": 90, "C2": "partial", "C3": "yes"})
    assert contract(overridden) == contract(answered)
    assert overridden["criteria"]["C2"]["rag"] is None and overridden["criteria"]["C2"]["breach"] is None


def test_level_override_scores_like_the_matching_level():
    doc = one_standard(criterion("C1", "level"), criterion("C2", "yes_no", weight=2))
    assert contract(scored(doc, {"C1": 0, "C2": "yes"}, crit(0.75))) == contract(scored(doc, {"C1": 3, "C2": "yes"}))


def test_any_score_between_zero_and_one_counts_exactly():
    doc = one_standard(criterion("C1"), criterion("C2", weight=3))
    result = scored(doc, {"C1": "no", "C2": "yes"}, crit(0.3))
    assert result["standard_results"]["S1"] == {"score": 82.5, "status": "met"}  # 100 x (0.3 + 3) / 4
    # mixed with a level's credit (1 of 0..4) in exact fractions
    doc = one_standard(criterion("C1"), criterion("C2", "level", levels=["a", "b", "c", "d", "e"]), criterion("C3"))
    result = scored(doc, {"C1": "no", "C2": 1, "C3": "yes"}, crit(0.25))  # (0.25 + 0.25 + 1) / 3 = 50
    assert result["standard_results"]["S1"]["score"] == 50.0


def test_override_reaches_the_pass_mark_exactly():
    doc = one_standard(criterion("C1"), criterion("C2"), criterion("C3"), criterion("C4"))
    result = scored(
        doc,
        {"C1": "yes", "C2": "yes", "C3": "yes", "C4": "no"},
        Overrides(criteria={"C4": CriterionOverride(0, "Confirmed")}),
    )
    assert result["standard_results"]["S1"] == {"score": 75.0, "status": "met"}


@pytest.mark.parametrize(
    "values, engine_status",
    [
        ({"C2": "yes", "C3": "yes"}, "unanswered"),
        ({"C1": "na", "C2": "yes", "C3": "yes"}, "na"),
    ],
)
def test_unanswered_and_na_criteria_can_be_scored_by_the_lead(values, engine_status):
    doc = document(
        [
            domain(
                "d1",
                [
                    standard(
                        "S1",
                        [criterion("C1", "metric", benchmark=HIGHER, allow_na=True), criterion("C2", "yes_partial_no")],
                    ),
                    standard("S2", [criterion("C3")]),
                ],
            )
        ]
    )
    result = scored(doc, values, crit(1))
    assert result["unanswered"] == []
    assert result["criteria"]["C1"]["override"]["engine"]["status"] == engine_status
    assert contract(result) == contract(scored(doc, {**values, "C1": 90}))


def test_optional_unanswered_criterion_can_be_scored_by_the_lead():
    doc = one_standard(criterion("C1", required=False), criterion("C2"))
    assert scored(doc, {"C2": "yes"})["standard_results"]["S1"]["score"] == 100.0
    result = scored(doc, {"C2": "yes"}, crit(0))
    assert result["standard_results"]["S1"]["score"] == 50.0
    assert result["overrides"][0]["from"] is None and result["overrides"][0]["to"] == 0


def test_overridden_criterion_explains_the_override_and_what_the_engine_had_decided():
    doc = two_standards()
    engine = scored(doc, {"C1": 82, "C2": "yes", "C3": "yes"})["criteria"]["C1"]
    entry = scored(doc, {"C1": 82, "C2": "yes", "C3": "yes"}, crit(1, "  Audit shows 88% on the national basis "))[
        "criteria"
    ]["C1"]
    assert entry["explanation"] == (
        "overridden by the alliance lead to 1 (green, benchmark met): "
        '"Audit shows 88% on the national basis"; the engine had decided: '
        f"{engine['explanation']}"
    )
    assert "amber, minor breach" in engine["explanation"]
    assert entry["answer"] == 82 and entry["score"] == 100.0
    assert entry["override"] == {
        "score": 1,
        "reason": "  Audit shows 88% on the national basis ",
        "engine": {key: engine[key] for key in ("status", "score", "rag", "breach", "explanation")},
    }


def test_result_lists_the_overrides_applied_in_file_order_with_from_and_to():
    doc = two_standards()
    overrides = Overrides(
        criteria={"C3": CriterionOverride(1, "Lead named at board"), "C1": CriterionOverride(0.5, "Recount")},
        standards={"S1": StandardOverride("met", "Panel decision")},
    )
    result = scored(doc, {"C1": 70, "C2": "partial", "C3": "no"}, overrides)
    assert result["overrides"] == [
        {"kind": "criterion", "id": "C1", "standard": "S1", "from": 0.0, "to": 0.5, "reason": "Recount"},
        {"kind": "standard", "id": "S1", "standard": "S1", "from": "not_met", "to": "met", "reason": "Panel decision"},
        {"kind": "criterion", "id": "C3", "standard": "S2", "from": 0.0, "to": 1, "reason": "Lead named at board"},
    ]


def test_level_override_reports_the_engine_score_exactly():
    doc = one_standard(criterion("C1", "level", levels=["a", "b", "c", "d"]))
    result = scored(doc, {"C1": 1}, crit(1))
    assert result["overrides"][0]["from"] == pytest.approx(1 / 3)


def test_flags_see_the_overridden_rag():
    doc = two_standards()
    doc["rules"] = [
        {
            "id": "red-c1",
            "severity": "critical",
            "message": "C1 red",
            "when": {"all": [{"criterion": "C1", "rag": "red"}]},
        }
    ]
    values = {"C1": 50, "C2": "yes", "C3": "yes"}
    assert [f["id"] for f in scored(doc, values)["flags"]] == ["red-c1"]
    assert scored(doc, values, crit(1))["flags"] == []
    assert [f["id"] for f in scored(doc, {**values, "C1": 90}, crit(0))["flags"]] == ["red-c1"]


# -- standard overrides -------------------------------------------------------------------------


def test_standard_set_to_met_leaves_support_needs_and_keeps_its_score():
    doc = two_standards()
    values = {"C1": 90, "C2": "yes", "C3": "no"}
    before, after = scored(doc, values), scored(doc, values, pin("S2", "met"))
    assert before["standard_results"]["S2"] == {"score": 0.0, "status": "not_met"}
    assert after["standard_results"]["S2"] == {"score": 0.0, "status": "met"}
    assert before["support_needs"] == ["S2"] and after["support_needs"] == []
    assert (after["overall"], after["domains"]) == (before["overall"], before["domains"])


def test_standard_set_to_not_met_becomes_a_support_need():
    doc = two_standards()
    result = scored(doc, {"C1": 90, "C2": "yes", "C3": "yes"}, pin("S2", "not_met"))
    assert result["standard_results"]["S2"] == {"score": 100.0, "status": "not_met"}
    assert result["support_needs"] == ["S2"]
    assert result["outcome"] == "accredited"  # S2 is not must-meet and nothing is breached


def test_must_meet_standard_set_to_not_met_holds_the_outcome_back():
    doc = two_standards(must_meet=True)
    values = {"C1": 90, "C2": "yes", "C3": "yes"}
    assert scored(doc, values)["outcome"] == "accredited"
    result = scored(doc, values, pin("S1", "not_met"))
    assert result["outcome"] == "working_towards"
    assert result["core_proposition"] == ["cp-qi"]


def test_must_meet_standard_set_to_met_releases_the_outcome_but_breaches_remain_conditions():
    doc = two_standards(must_meet=True)
    values = {"C1": 60, "C2": "yes", "C3": "yes"}  # a major breach: S1 not met, so working towards
    assert scored(doc, values)["outcome"] == "working_towards"
    result = scored(doc, values, pin("S1", "met"))
    assert result["standard_results"]["S1"]["status"] == "met"
    assert result["outcome"] == "accredited_with_conditions"
    assert [b["severity"] for b in result["breaches"]] == ["major"]


def test_standard_override_does_not_lift_a_failing_overall():
    doc = two_standards(must_meet=True)
    result = scored(doc, {"C1": 60, "C2": "no", "C3": "no"}, pin("S1", "met"))
    assert result["overall"] == 0.0 and result["outcome"] == "not_accredited"
    assert result["core_proposition"] == []


def test_standard_with_nothing_to_score_can_be_set():
    doc = document(
        [
            domain(
                "d1",
                [
                    standard("S1", [criterion("C1", allow_na=True)], must_meet=True),
                    standard("S2", [criterion("C3")]),
                ],
            )
        ]
    )
    values = {"C1": "na", "C3": "yes"}
    assert scored(doc, values)["standard_results"]["S1"] == {"score": None, "status": "not_scored"}
    result = scored(doc, values, pin("S1", "not_met"))
    assert result["standard_results"]["S1"] == {"score": None, "status": "not_met"}
    assert result["outcome"] == "working_towards" and result["support_needs"] == ["S1"]


def test_criterion_and_standard_overrides_together():
    doc = two_standards(must_meet=True)
    overrides = Overrides(
        criteria={"C1": CriterionOverride(0, "Audit failed")},
        standards={"S1": StandardOverride("met", "Recovery plan accepted")},
    )
    result = scored(doc, {"C1": 90, "C2": "yes", "C3": "yes"}, overrides)
    assert result["standard_results"]["S1"] == {"score": 50.0, "status": "met"}
    assert result["outcome"] == "accredited_with_conditions"
    assert [o["kind"] for o in result["overrides"]] == ["criterion", "standard"]
    assert result["overrides"][1]["from"] == "met"  # the engine's status on the answers alone


# -- no overrides: exactly the contract's result --------------------------------------------------


def test_no_overrides_is_the_plain_result():
    loaded = load(two_standards(must_meet=True))
    doc = answers({"C1": 82, "C2": "partial", "C3": "no"})
    plain = rules.score(loaded, doc)
    assert "overrides" not in plain
    assert rules.score(loaded, doc, overrides=None) == plain
    assert rules.score(loaded, doc, overrides=Overrides()) == {**plain, "overrides": []}


def test_score_submission_takes_overrides():
    loaded = load(two_standards())
    submission = rules.read_submission(loaded, answers({"C1": 60, "C2": "yes", "C3": "yes"}))
    result = rules.score_submission(loaded, submission, overrides=crit(1))
    assert result["standard_results"]["S1"]["status"] == "met"


# -- bad overrides ----------------------------------------------------------------------------------


def specialty_doc() -> dict:
    return document(
        [
            domain(
                "d1",
                [
                    standard("S1", [criterion("C1"), criterion("T1", "text")]),
                    standard("S2", [criterion("C2")], applies={"routes": ["specialty"]}),
                ],
            )
        ]
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            Overrides(criteria={"X9": CriterionOverride(1, "r")}),
            "criterion override 'X9': no such criterion in test-set 2026.1",
        ),
        (
            Overrides(standards={"S9": StandardOverride("met", "r")}),
            "standard override 'S9': no such standard in test-set 2026.1",
        ),
        (
            Overrides(criteria={"T1": CriterionOverride(1, "r")}),
            "criterion override 'T1': a text criterion is not scored",
        ),
        (
            Overrides(criteria={"C2": CriterionOverride(1, "r")}),
            "criterion override 'C2': standard S2 does not apply to this member",
        ),
        (
            Overrides(standards={"S2": StandardOverride("met", "r")}),
            "standard override 'S2': standard S2 does not apply to this member",
        ),
        (
            Overrides(criteria={"C1": CriterionOverride(1.5, "r")}),
            "criterion override 'C1': score must be a number from 0 to 1, not 1.5",
        ),
        (
            Overrides(criteria={"C1": CriterionOverride(-0.1, "r")}),
            "criterion override 'C1': score must be a number from 0 to 1, not -0.1",
        ),
        (
            Overrides(criteria={"C1": CriterionOverride(True, "r")}),
            "criterion override 'C1': score must be a number from 0 to 1, not True",
        ),
        (
            Overrides(criteria={"C1": CriterionOverride("1", "r")}),
            "criterion override 'C1': score must be a number from 0 to 1, not '1'",
        ),
        (
            Overrides(criteria={"C1": CriterionOverride(float("nan"), "r")}),
            "criterion override 'C1': score must be a number from 0 to 1, not nan",
        ),
        (Overrides(criteria={"C1": CriterionOverride(1, "  ")}), "criterion override 'C1': a reason is required"),
        (Overrides(criteria={"C1": CriterionOverride(1, None)}), "criterion override 'C1': a reason is required"),
        (
            Overrides(standards={"S1": StandardOverride("not_scored", "r")}),
            "standard override 'S1': status must be met or not_met, not 'not_scored'",
        ),
        (Overrides(standards={"S1": StandardOverride("met", "")}), "standard override 'S1': a reason is required"),
        (Overrides(criteria={"C1": 1}), "criterion override 'C1': expected a CriterionOverride, not int"),
        ({"criteria": {}}, "overrides must be an Overrides, not dict"),
    ],
)
def test_bad_override_is_an_error_naming_it(overrides, message):
    with pytest.raises(OverridesError) as caught:
        scored(specialty_doc(), {"C1": "yes"}, overrides)
    assert caught.value.problems == [message]


def test_every_problem_is_listed_at_once():
    overrides = Overrides(
        criteria={"X1": CriterionOverride(2, ""), "C1": CriterionOverride(1, "ok")},
        standards={"S9": StandardOverride("met", "ok")},
    )
    with pytest.raises(OverridesError) as caught:
        scored(specialty_doc(), {"C1": "yes"}, overrides)
    assert caught.value.problems == [
        "criterion override 'X1': no such criterion in test-set 2026.1",
        "criterion override 'X1': score must be a number from 0 to 1, not 2",
        "criterion override 'X1': a reason is required",
        "standard override 'S9': no such standard in test-set 2026.1",
    ]


def test_override_of_a_standard_that_applies_on_this_route_is_accepted():
    result = scored(
        specialty_doc(), {"C1": "yes", "C2": "no"}, pin("S2", "met"), route="specialty", specialty="orthopaedics"
    )
    assert result["standard_results"]["S2"]["status"] == "met"


# -- overrides across standards versions --------------------------------------------------------------


def test_override_follows_its_criterion_into_a_new_version():
    v1 = two_standards()
    v2 = document(
        [
            domain(
                "d1",
                [  # C1 moved to a new standard S3, S2 gone, target raised
                    standard("S1", [criterion("C2", "yes_partial_no")]),
                    standard("S3", [criterion("C1", "metric", benchmark={"target": 90, "direction": "higher"})]),
                ],
            )
        ],
        version="2026.2",
    )
    overrides = Overrides(
        criteria={"C1": CriterionOverride(1, "Audit on the national basis"), "C3": CriterionOverride(1, "Lead named")},
        standards={"S2": StandardOverride("met", "Panel"), "S1": StandardOverride("not_met", "Panel")},
    )
    first = load(v1)
    assert (
        scored(first, {"C1": 60, "C2": "yes", "C3": "no"}, overrides)["standard_results"]["S1"]["status"] == "not_met"
    )

    second = load(v2)
    kept, dropped = rules.split_overrides(second, overrides)
    assert kept == Overrides(criteria={"C1": overrides.criteria["C1"]}, standards={"S1": overrides.standards["S1"]})
    assert [(d.kind, d.id, d.override, d.why) for d in dropped] == [
        ("criterion", "C3", overrides.criteria["C3"], "no such criterion in test-set 2026.2"),
        ("standard", "S2", overrides.standards["S2"], "no such standard in test-set 2026.2"),
    ]
    result = scored(second, {"C1": 80, "C2": "yes"}, kept)
    assert result["standard_results"]["S3"] == {"score": 100.0, "status": "met"}
    assert result["criteria"]["C1"]["status"] == "overridden"
    assert result["overrides"][0] == {
        "kind": "standard",
        "id": "S1",
        "standard": "S1",
        "from": "met",
        "to": "not_met",
        "reason": "Panel",
    }
    assert result["overrides"][1]["id"] == "C1" and result["overrides"][1]["standard"] == "S3"
    with pytest.raises(OverridesError):  # unsplit, the dropped ones are errors
        scored(second, {"C1": 80, "C2": "yes"}, overrides)


def test_split_with_a_member_also_drops_what_no_longer_applies_or_is_scored():
    v2 = document(
        [
            domain(
                "d1",
                [
                    standard("S1", [criterion("C1", "text")]),
                    standard("S2", [criterion("C2")], applies={"routes": ["specialty"]}),
                    standard("S3", [criterion("C3")]),
                ],
            )
        ],
        version="2026.2",
    )
    overrides = Overrides(
        criteria={"C1": CriterionOverride(1, "a"), "C2": CriterionOverride(1, "b"), "C3": CriterionOverride(1, "c")}
    )
    loaded = load(v2)
    kept, dropped = rules.split_overrides(loaded, overrides, rules.Member(route="full", org_type="acute"))
    assert list(kept.criteria) == ["C3"]
    assert [(d.id, d.why) for d in dropped] == [
        ("C1", "a text criterion is not scored"),
        ("C2", "standard S2 does not apply to this member"),
    ]
    kept_any, dropped_any = rules.split_overrides(loaded, overrides)  # without a member only existence counts
    assert list(kept_any.criteria) == ["C2", "C3"] and [d.id for d in dropped_any] == ["C1"]


# -- plain data for storage ------------------------------------------------------------------------------


def test_overrides_round_trip_through_plain_data():
    overrides = Overrides(
        criteria={"C1": CriterionOverride(0.5, "Recount")}, standards={"S2": StandardOverride("met", "Panel")}
    )
    data = overrides.to_dict()
    assert data == {
        "criteria": {"C1": {"score": 0.5, "reason": "Recount"}},
        "standards": {"S2": {"status": "met", "reason": "Panel"}},
    }
    assert Overrides.from_dict(data) == overrides
    assert Overrides.from_dict({}) == Overrides()


@pytest.mark.parametrize(
    "doc, message",
    [
        ([], 'overrides: expected an object with "criteria" and "standards"'),
        ({"criterion": {}}, "overrides: unknown keys criterion (expected criteria, standards)"),
        ({"criteria": []}, "overrides: criteria must be an object keyed by id"),
        (
            {"criteria": {"C1": {"score": 1}}},
            'overrides: criteria \'C1\' must be an object with exactly "score" and "reason"',
        ),
        (
            {"standards": {"S1": {"status": "met", "reason": "r", "by": "x"}}},
            'overrides: standards \'S1\' must be an object with exactly "status" and "reason"',
        ),
    ],
)
def test_from_dict_names_what_is_wrong(doc, message):
    with pytest.raises(OverridesError) as caught:
        Overrides.from_dict(doc)
    assert caught.value.problems == [message]


# -- properties on random standards, against the plain-Python reference scorer ----------------------


def contract_credit(item: dict, answer: Any) -> Optional[float]:
    """The contract's criterion score s for an answer, or None when it has no exact decimal form."""
    if item["type"] in ("yes_no", "yes_partial_no"):
        return {"yes": 1, "partial": 0.5, "no": 0}[answer]
    if item["type"] == "level":
        exact = Fraction(int(answer), len(item["levels"]) - 1)
        return float(exact) if Fraction(repr(float(exact))) == exact else None
    bench = item["benchmark"]
    value, target = (
        Fraction(repr(answer)) if isinstance(answer, float) else Fraction(answer),
        Fraction(repr(float(bench["target"]))),
    )
    amber = Fraction(repr(float(bench.get("amber", 0))))
    if bench["direction"] == "lower":
        value, target = -value, -target
    return 1 if value >= target else 0.5 if value >= target - amber else 0


def without_values(breaches: list[dict]) -> list[dict]:
    return [{k: v for k, v in b.items() if k not in ("value", "overridden")} for b in breaches]


@FAST
@given(st.data())
def test_override_scores_like_the_answer_that_gives_that_score(data):
    doc = data.draw(documents())
    loaded = load(doc)
    try:
        answers_doc = data.draw(answer_docs(doc))
        member = (answers_doc["route"], answers_doc["specialty"], answers_doc["org_type"])
        graded = [
            item
            for d in doc["domains"]
            for s in d["standards"]
            if _applies(s, *member)
            for item in s["criteria"]
            if item["type"] != "text"
        ]
        if not graded:
            return
        chosen = data.draw(st.lists(st.sampled_from(graded), min_size=1, unique_by=lambda item: item["id"]))
        substituted, overrides = dict(answers_doc["answers"]), {}
        for item in chosen:
            answer = _valid_answer(data.draw, item)
            credit = contract_credit(item, answer)
            if credit is not None:
                substituted[item["id"]] = answer
                overrides[item["id"]] = CriterionOverride(credit, "Seen on the review visit")
        result = rules.score(loaded, answers_doc, overrides=Overrides(criteria=overrides))
        expected = reference_score(doc, {**answers_doc, "answers": substituted})
        for key in REFERENCE_KEYS:
            if key != "breaches":
                assert result[key] == expected[key], key
        assert without_values(result["breaches"]) == without_values(expected["breaches"])
        assert [o["id"] for o in result["overrides"] if o["kind"] == "criterion"] == [
            item["id"] for item in graded if item["id"] in overrides
        ]
    finally:
        rules.release(loaded)


@settings(FAST, max_examples=100)
@given(st.data())
def test_setting_standards_to_the_engines_own_statuses_changes_nothing(data):
    doc = data.draw(documents())
    loaded = load(doc)
    try:
        answers_doc = data.draw(answer_docs(doc))
        plain = rules.score(loaded, answers_doc)
        pins = {
            sid: StandardOverride(r["status"], "Confirmed")
            for sid, r in plain["standard_results"].items()
            if r["status"] in ("met", "not_met") and data.draw(st.booleans())
        }
        result = rules.score(loaded, answers_doc, overrides=Overrides(standards=pins))
        assert {k: v for k, v in result.items() if k != "overrides"} == plain
        assert [(o["id"], o["from"], o["to"]) for o in result["overrides"]] == [
            (sid, pin.status, pin.status) for sid, pin in pins.items()
        ]
    finally:
        rules.release(loaded)

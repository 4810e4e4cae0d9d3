"""What rescoring changes, on plain data: carried answers (``rules.answers``) and the report's comparisons
(``rules.changes``)."""

from __future__ import annotations

import rules
from rules.answers import carry_over
from rules.changes import REPORT_FIELDS, compare, summarise, summary_text
from tests.builders import answers, criterion, document, domain, load, standard


def version_two() -> rules.StandardsSet:
    return load(
        document(
            [
                domain(
                    "quality",
                    [
                        standard(
                            "Q1",
                            [
                                criterion("Q1.1"),
                                criterion(
                                    "Q1.2",
                                    "metric",
                                    unit="%",
                                    benchmark={"target": 90, "direction": "higher", "amber": 5},
                                ),
                            ],
                        ),
                        standard(
                            "Q2", [criterion("Q2.1", "yes_partial_no"), criterion("Q2.2", "level", allow_na=False)]
                        ),
                    ],
                )
            ],
            version="2026.2",
        )
    )


def test_answers_carry_over_by_criterion_id_and_each_one_left_behind_says_why():
    kept, dropped = carry_over(
        version_two(),
        {
            "Q1.1": "yes",
            "Q1.2": 87.5,
            "Q2.1": "partial",
            "Q2.2": "na",  # na is no longer allowed here
            "OLD.1": "yes",  # the criterion is gone
            "Q1.3": None,  # unanswered stays unanswered
        },
    )
    assert kept == {"Q1.1": "yes", "Q1.2": 87.5, "Q2.1": "partial"}
    assert dropped == {
        "Q2.2": '"na" is not allowed for this criterion (allow_na is false)',
        "OLD.1": "criterion removed",
    }


def test_an_answer_whose_criterion_changed_type_is_not_carried():
    kept, dropped = carry_over(version_two(), {"Q1.1": 4, "Q2.2": "yes"})
    assert kept == {}
    assert set(dropped) == {"Q1.1", "Q2.2"}
    assert dropped["Q1.1"].startswith('expected one of "yes", "no"')
    assert dropped["Q2.2"].startswith("expected a level index")


def test_an_answer_is_carried_or_left_exactly_as_checking_it_alone_says():
    standards = version_two()
    text = load(document([domain("d", [standard("T1", [criterion("T1.1", "text")])])]))
    values = [
        "yes",
        "partial",
        "na",
        "",
        "  ",
        "note",
        0,
        1,
        3,
        4,
        -1,
        2.0,
        2.5,
        87.5,
        float("nan"),
        float("inf"),
        True,
        False,
        2**63,
        -(2**63) + 1,
        2**70,
        [],
        {},
    ]
    for set_, ids in ((standards, ("Q1.1", "Q1.2", "Q2.1", "Q2.2")), (text, ("T1.1",))):
        for cid in ids:
            for value in values:
                clean, problem = rules.check_answer(set_.criterion_lookup[cid][1], value)
                kept, dropped = carry_over(set_, {cid: value})
                expected = {} if problem or clean is None else {cid: clean}
                assert (kept, dropped) == (expected, {cid: problem} if problem else {}), (cid, value)
                assert [type(v) for v in kept.values()] == [type(v) for v in expected.values()], (cid, value)


def test_carried_answers_score_like_fresh_answers_to_the_new_version():
    standards = version_two()
    old_answers = {"Q1.1": "yes", "Q1.2": 88, "Q2.1": "yes", "Q2.2": 3, "OLD.1": "no"}
    kept, _ = carry_over(standards, old_answers)
    fresh = rules.score(standards, answers({k: v for k, v in old_answers.items() if k != "OLD.1"}))
    assert rules.score_submission(standards, rules.Submission(rules.Member("full", None, "acute"), kept)) == fresh


def result(outcome: str, breaches: list[tuple[str, str, str]], needs: list[str], overall: float = 80.0) -> dict:
    return {
        "overall": overall,
        "rating": "good",
        "outcome": outcome,
        "support_needs": needs,
        "breaches": [{"criterion": c, "standard": s, "severity": sev} for c, s, sev in breaches],
    }


def test_compare_names_breaches_added_resolved_and_changed_and_support_needs():
    old = result("accredited_with_conditions", [("Q1.2", "Q1", "minor"), ("Q2.1", "Q2", "major")], ["Q2"])
    new = result("working_towards", [("Q1.2", "Q1", "major"), ("Q3.1", "Q3", "minor")], ["Q1"], overall=70.5)
    change = compare(old, new)
    assert change.breaches_added == ["Q3.1 (minor)"]
    assert change.breaches_resolved == ["Q2.1 (major)"]
    assert change.breaches_changed == ["Q1.2 (minor -> major)"]
    assert change.added_by_standard == {"Q3": 1} and change.resolved_by_standard == {"Q2": 1}
    assert change.support_needs_added == ["Q1"] and change.support_needs_resolved == ["Q2"]
    assert change.outcome_changed
    line = change.to_dict()
    assert (line["old_overall"], line["new_overall"]) == (80.0, 70.5)
    assert (line["old_outcome"], line["new_outcome"]) == ("accredited_with_conditions", "working_towards")


def test_an_unchanged_result_reports_no_change():
    same = result("accredited", [("Q1.2", "Q1", "minor")], [])
    change = compare(same, dict(same))
    assert not change.outcome_changed
    assert change.breaches_added == change.breaches_resolved == change.breaches_changed == []


def test_summary_totals_and_table():
    lines = []
    for old, new in (
        (result("accredited", [], []), result("working_towards", [("Q1.2", "Q1", "major")], ["Q1"])),
        (result("accredited", [], []), result("accredited", [], [])),
        (result("working_towards", [("Q2.1", "Q2", "minor")], []), result("accredited", [], [])),
    ):
        lines.append({**compare(old, new).to_dict(), "answers_not_carried": []})
    lines[1]["answers_not_carried"] = ["OLD.1: criterion removed"]
    summary = summarise(lines)
    assert summary.assessments == 3 and summary.outcome_changed == 2
    assert summary.outcome_moves == {
        ("accredited", "working_towards"): 1,
        ("accredited", "accredited"): 1,
        ("working_towards", "accredited"): 1,
    }
    assert summary.breaches_added == {"Q1": 1} and summary.breaches_resolved == {"Q2": 1}
    assert summary.support_needs_added == {"Q1": 1} and summary.answers_not_carried == 1
    text = "\n".join(summary_text(summary))
    assert "assessments rescored: 3" in text and "outcome changed:      2" in text
    assert ["accredited", "working_towards", "1"] in [row.split() for row in summary_text(summary)]
    assert "support needs resolved: none" in text
    as_dict = summary.to_dict()
    assert as_dict["breaches_added_by_standard"] == {"Q1": 1}
    assert {"from": "accredited", "to": "working_towards", "count": 1} in as_dict["outcome_moves"]


def test_report_fields_cover_what_the_report_promises():
    for name in (
        "old_overall",
        "new_overall",
        "old_rating",
        "new_rating",
        "old_outcome",
        "new_outcome",
        "breaches_added",
        "breaches_resolved",
        "support_needs_added",
        "support_needs_resolved",
    ):
        assert name in REPORT_FIELDS


# -- schema 2: options, ranges and conditions ----------------------------------------------------------------


def follow_up(
    version: str,
    options: list[str],
    audits: list[str],
    days_max: int = 365,
    levels: tuple[str, ...] = ("None", "Some", "Most", "All", "Audited"),
    plan_type: str = "yes_no",
    **q43: object,
) -> rules.StandardsSet:
    """A schema 2 set whose options, range, levels and types each version changes."""
    scores = {"none": 0, "phone": 0.5, "video": 0.7, "clinic": 1}
    return load(
        document(
            [
                domain(
                    "quality",
                    [
                        standard(
                            "Q4",
                            [
                                criterion(
                                    "Q4.1",
                                    "choice",
                                    options=[{"id": o, "text": o.title(), "score": scores[o]} for o in options],
                                ),
                                criterion(
                                    "Q4.2",
                                    "multi_choice",
                                    options=[{"id": a, "text": a.upper(), "score": 0.5} for a in audits],
                                ),
                                criterion(
                                    "Q4.3",
                                    "metric",
                                    unit="%",
                                    benchmark={"target": 80, "direction": "higher", "amber": 10},
                                    **q43,
                                ),
                                criterion(
                                    "Q4.4",
                                    "metric",
                                    unit="days",
                                    min=0,
                                    max=days_max,
                                    benchmark={"target": 30, "direction": "lower", "amber": 5},
                                ),
                                criterion("Q4.5", "level", levels=list(levels)),
                                criterion("Q4.6", plan_type),
                            ],
                        )
                    ],
                )
            ],
            schema=2,
            version=version,
        )
    )


def test_answers_to_removed_options_or_outside_a_new_range_are_not_carried_and_say_why():
    old = follow_up("2026.1", ["none", "phone", "clinic"], ["nhfd", "njr", "other"])
    new = follow_up(
        "2026.2",
        ["none", "video", "clinic"],
        ["nhfd", "njr"],
        days_max=90,
        levels=("None", "Some", "All"),
        plan_type="yes_partial_no",
    )
    answers_made = {"Q4.1": "phone", "Q4.2": ["nhfd", "other"], "Q4.3": 75, "Q4.4": 120, "Q4.5": 4, "Q4.6": "yes"}
    kept, dropped = carry_over(new, answers_made, previous=old)
    assert kept == {"Q4.3": 75, "Q4.6": "yes"}
    assert dropped == {
        "Q4.1": 'option "phone" removed (the options now are "none", "video", "clinic")',
        "Q4.2": 'option "other" removed (the options now are "nhfd", "njr")',
        "Q4.4": "120 is outside the new range: a number from 0 to 90 (days)",
        "Q4.5": "level 4 removed (the levels now are 0 to 2)",
    }
    still = {"Q4.1": "clinic", "Q4.2": ["njr", "nhfd"], "Q4.4": 90, "Q4.5": 2}
    assert carry_over(new, still, previous=old) == (still, {})


def test_without_the_old_version_the_reason_is_what_the_new_one_accepts():
    old = follow_up("2026.1", ["none", "phone", "clinic"], ["nhfd", "njr", "other"])
    new = follow_up("2026.2", ["none", "clinic"], ["nhfd", "njr"], days_max=90, plan_type="level")
    answers_made = {"Q4.1": "phone", "Q4.4": 120, "Q4.6": "yes"}
    _, plain_reasons = carry_over(new, answers_made)
    assert plain_reasons == {
        cid: rules.check_answer(new.criterion_lookup[cid][1], value)[1] for cid, value in answers_made.items()
    }
    _, named = carry_over(new, answers_made, previous=old)
    assert named["Q4.6"] == f"type changed from yes_no to level: {plain_reasons['Q4.6']}"


def test_an_answer_to_a_criterion_now_asked_only_under_a_condition_is_carried_and_counts_only_when_asked():
    old = follow_up("2026.1", ["none", "phone", "clinic"], ["nhfd", "njr"])
    new = follow_up(
        "2026.2", ["none", "phone", "clinic"], ["nhfd", "njr"], when={"criterion": "Q4.1", "in": ["clinic"]}
    )
    base_answers = {"Q4.2": ["nhfd"], "Q4.3": 40, "Q4.4": 20, "Q4.5": 4, "Q4.6": "yes"}
    for follow, asked in (("clinic", True), ("phone", False)):
        made = {**base_answers, "Q4.1": follow}
        kept, dropped = carry_over(new, made, previous=old)
        assert (kept, dropped) == (made, {})
        result = rules.score_submission(new, rules.Submission(rules.Member("full", None, "acute"), kept))
        assert [b["criterion"] for b in result["breaches"]] == (["Q4.3"] if asked else [])
        assert result == rules.score(new, answers(made))

"""What counts as text (``rules.text``), and the answer check that every way in shares refusing what is not.

Issue 17 items 1 (a lone surrogate such as "\\ud800" from a JSON escape was stored and broke every page that
read it) and 8 (control characters in single-line fields reached operators' terminals).
"""

from __future__ import annotations

import pytest

import rules
from rules.answers import carry_over
from rules.text import printable, text_problem
from tests.builders import answers, criterion, document, domain, load, standard

DOC = document([domain("d", [standard("S1", [criterion("S1.1"), criterion("S1.2", "text")])])])


@pytest.mark.parametrize(
    "value, single_line, problem",
    [
        ("Dartford and Gravesham NHS Trust", True, None),
        ("Ysbyty Gwynedd – Bangor", True, None),
        ("lone \ud800 surrogate", False, "cannot contain \\ud800 (a lone surrogate, which is not a character)"),
        ("low \udfff too", True, "cannot contain \\udfff (a lone surrogate, which is not a character)"),
        ("a\x00b", False, "cannot contain NUL characters"),
        ("Trust\x1b[2J", True, "cannot contain the control character \\x1b"),
        ("bell\x07", False, "cannot contain the control character \\x07"),
        ("c1 \x9b", False, "cannot contain the control character \\x9b"),
        ("delete\x7f", True, "cannot contain the control character \\x7f"),
        ("two\nlines", False, None),
        ("two\r\nlines\tand a tab", False, None),
        ("two\nlines", True, "must be on one line"),
        ("para\u2029graph", True, "must be on one line"),
        ("a\ttab", True, "cannot contain a tab"),
        ("vertical\x0btab", False, "cannot contain the control character \\x0b"),
    ],
)
def test_text_problem_says_what_is_not_text(value, single_line, problem):
    assert text_problem(value, single_line=single_line) == problem


def test_printable_escapes_what_a_terminal_would_act_on():
    assert printable("Trust\x1b[2J\x07") == "Trust\\x1b[2J\\x07"
    assert printable("lone \ud800") == "lone \\ud800"
    assert printable("evil\u202eexe.pdf") == "evil\\u202eexe.pdf"
    assert printable("King's – Ysbyty\xa0Gwynedd") == "King's – Ysbyty\xa0Gwynedd"
    printable("lone \ud800").encode("utf-8")  # a terminal can show it


@pytest.mark.parametrize(
    "value, words",
    [
        ("lone \ud800 surrogate", "cannot contain \\ud800"),
        ("nul\x00", "cannot contain NUL characters"),
        ("escape \x1b[31m", "cannot contain the control character \\x1b"),
    ],
)
def test_the_answer_check_refuses_text_that_is_not_text(value, words):
    text_criterion = load(DOC).criterion_lookup["S1.2"][1]
    clean, problem = rules.check_answer(text_criterion, value)
    assert clean is None and problem.startswith("expected plain text: the answer ") and words in problem


def test_the_answer_check_keeps_several_lines_of_text():
    text_criterion = load(DOC).criterion_lookup["S1.2"][1]
    assert rules.check_answer(text_criterion, "line one\nline two\twith a tab") == (
        "line one\nline two\twith a tab",
        None,
    )


def test_an_answers_file_with_a_lone_surrogate_names_the_criterion():
    with pytest.raises(rules.AnswersError) as refused:
        rules.read_submission(load(DOC), answers({"S1.1": "yes", "S1.2": "lone \ud800 surrogate"}))
    assert refused.value.problems == [
        "answers: criterion S1.2 (text): expected plain text: the answer cannot "
        "contain \\ud800 (a lone surrogate, which is not a character)"
    ]


def test_a_stored_text_answer_still_counts_whatever_it_holds():
    """What text may hold is checked on the way in; an answer stored before is not dropped from scoring."""
    kept, dropped = carry_over(load(DOC), {"S1.1": "yes", "S1.2": "typed with a bell\x07"})
    assert kept == {"S1.1": "yes", "S1.2": "typed with a bell\x07"} and dropped == {}

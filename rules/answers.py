"""Checking a member's answers against a standards version, and carrying them over to another version.

Every problem names the criterion (or the member field) it is about: a wrong
type or an out-of-range answer is an error, never a silent 0. The per-answer
check is shared by the CLI, the web forms and the API. ``carry_over`` keeps the
answers that still fit a version (by criterion id): every scoring of stored
answers goes through it, and so does rescoring.

Answers to criteria that are not asked, because their standard does not
apply or their ``when`` condition does not hold (schema 2), are ignored, even
when malformed: ``not_asked`` works out which conditional criteria those are,
to know which answers to check. What is scored is decided by the rules
(``rules.scoring``), from the same answers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from . import model as m
from .text import escaped, text_problem

NA = "na"
ANSWERS_KEYS = ("route", "specialty", "org_type", "answers")


class AnswersError(Exception):
    """Answers that cannot be scored; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Member:
    """Who is being assessed: what decides which standards apply."""

    route: str
    specialty: Optional[str] = None
    org_type: Optional[str] = None


@dataclass(frozen=True)
class Submission:
    member: Member
    answers: dict[str, Any] = field(default_factory=dict)
    #: Things worth telling the person that do not stop scoring (e.g. a key the format does not know).
    warnings: tuple[str, ...] = ()


#: Line separators ``json.dumps`` leaves as they are (it escapes only those below U+0020).
_LINE_SEPARATORS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):  # quoted, a line break shown as \n or \u2028: one problem, one line
        shown = json.dumps(value, ensure_ascii=False).translate(_LINE_SEPARATORS)
        return _LONE_SURROGATE.sub(lambda found: escaped(found.group()), shown)  # no page or terminal can show one
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "a JSON " + ("object" if isinstance(value, dict) else "list")
    return repr(value)


def check_answer(criterion: m.Criterion, value: Any) -> tuple[Any, Optional[str]]:
    """The clean answer, or an error text saying what this criterion accepts.

    ``None`` (and, for text, a blank string) means unanswered and is returned
    as ``None`` with no error.
    """
    if value is None:
        return None, None
    if value == NA and isinstance(value, str):
        if criterion.allow_na:
            return NA, None
        return None, '"na" is not allowed for this criterion (allow_na is false)'
    na_hint = ' or "na"' if criterion.allow_na else ""
    if criterion.type == "choice":
        if isinstance(value, str) and value in criterion.option_ids:
            return value, None
        return None, f"expected one of the option ids {_listed(criterion.option_ids)}{na_hint}, got {_shown(value)}"
    if criterion.type == "multi_choice":
        return _check_options(criterion, value, na_hint)
    if criterion.type in m.CHOICES:
        options = m.CHOICES[criterion.type]
        if isinstance(value, str) and value in options:
            return value, None
        listed = ", ".join(f'"{o}"' for o in options)
        return None, f"expected one of {listed}{na_hint}, got {_shown(value)}"
    if criterion.type == "level":
        top = len(criterion.levels or ()) - 1
        if m.is_number(value) and float(value).is_integer() and 0 <= value <= top:
            return int(value), None
        return None, f"expected a level index, a whole number from 0 to {top}{na_hint}, got {_shown(value)}"
    if criterion.type == "metric":
        unit = f" ({criterion.unit})" if criterion.unit else ""
        if not m.is_number(value):
            return None, f"expected a finite number{unit}{na_hint}, got {_shown(value)}"
        if not criterion.in_range(value):
            return None, f"expected a number {_range_text(criterion)}{unit}{na_hint}, got {_shown(value)}"
        return value, None
    if isinstance(value, str):
        if not value.strip():
            return None, None
        problem = text_problem(value)
        return (None, f"expected plain text: the answer {problem}") if problem else (value, None)
    return None, f"expected text{na_hint}, got {_shown(value)}"


def _listed(values: Any) -> str:
    return ", ".join(f'"{v}"' for v in values)


def _range_text(criterion: m.Criterion) -> str:
    low, high = criterion.min, criterion.max
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    return f"of at least {low:g}" if low is not None else f"of at most {high:g}"


def _check_options(criterion: m.Criterion, value: Any, na_hint: str) -> tuple[Any, Optional[str]]:
    """A multi_choice answer: a list of distinct option ids ([] is an answer: none of them)."""
    expected = f"expected a list of distinct option ids from {_listed(criterion.option_ids)}{na_hint}"
    if not isinstance(value, (list, tuple)):
        return None, f"{expected}, got {_shown(value)}"
    chosen: list[str] = []
    for item in value:
        if not isinstance(item, str) or item not in criterion.option_ids:
            return None, f"{expected}, got {_shown(item)} in the list"
        if item in chosen:
            return None, f"{expected}, got {_shown(item)} twice"
        chosen.append(item)
    return chosen, None


def plain_forms(standards: m.StandardsSet) -> dict[str, tuple[str, m.Criterion, str, Any]]:
    """Per criterion id: its standard, the criterion, and what a common well-formed answer looks like
    (kept on the standards set, so reading answers checks them without building any error text)."""
    found = standards.answer_forms
    if not found:
        forms = {}
        for standard, criterion in standards.criterion_lookup.values():
            kind = criterion.type
            accepted: Any = None
            if kind in m.CHOICES:
                kind, accepted = "choice", frozenset(m.CHOICES[kind])
            elif kind in m.OPTION_TYPES:
                accepted = frozenset(criterion.option_ids)
            elif kind == "level":
                accepted = len(criterion.levels or ())
            elif kind == "metric" and (criterion.min is not None or criterion.max is not None):
                kind = "ranged"
                accepted = (
                    -math.inf if criterion.min is None else criterion.min,
                    math.inf if criterion.max is None else criterion.max,
                )
            forms[criterion.id] = (standard.id, criterion, kind, accepted)
        found.update(forms)  # all at once: a reader in another thread never sees it half filled
    return found


def applicable_forms(
    standards: m.StandardsSet, applies: frozenset[str]
) -> dict[str, tuple[str, m.Criterion, str, Any]]:
    """``plain_forms`` of the criteria of the standards in ``applies`` only (kept per set of standards)."""
    found = standards.applicable_answer_forms.get(applies)
    if found is None:
        found = {key: form for key, form in plain_forms(standards).items() if form[0] in applies}
        standards.applicable_answer_forms[applies] = found
    return found


def is_plain(form: tuple[str, m.Criterion, str, Any], value: Any) -> bool:
    """Whether ``value`` is a common well-formed answer to the criterion of ``form`` (from ``plain_forms``),
    which ``check_answer`` would return unchanged: told apart without building any error text."""
    _, _, kind, accepted = form
    plain = type(value)
    if kind == "metric":
        return plain is float and math.isfinite(value) or plain is int and -(2**63) < value < 2**63
    if kind == "choice":
        return plain is str and value in accepted
    if kind == "level":
        return plain is int and 0 <= value < accepted
    if kind == "ranged":
        return (plain is float or plain is int) and accepted[0] <= value <= accepted[1]
    if kind == "text":
        return plain is str and value != NA and value.strip() != "" and text_problem(value) is None
    # multi_choice: a list of distinct option ids
    return plain is list and all(type(v) is str and v in accepted for v in value) and len(set(value)) == len(value)


def _stored_text(form: tuple[str, m.Criterion, str, Any], value: Any) -> bool:
    """A stored text answer: kept whatever it contains, since what text may contain is checked on the way in
    (an answer stored before a check was added still counts)."""
    return form[2] == "text" and type(value) is str and value != NA and value.strip() != ""


def read_member(standards: m.StandardsSet, doc: Any) -> tuple[Optional[Member], list[str]]:
    problems: list[str] = []
    if not isinstance(doc, dict):
        return None, ["answers file: expected a JSON object with route, specialty, org_type and answers"]
    route = doc.get("route")
    specialty = doc.get("specialty")
    org_type = doc.get("org_type")
    if not isinstance(route, str):
        problems.append(f"route: required; one of {', '.join(standards.route_ids)}, got {_shown(route)}")
    elif route not in standards.route_ids:
        problems.append(
            f"route: {_shown(route)} is not a route of {standards.label}; routes are {', '.join(standards.route_ids)}"
        )
    if specialty is not None and (not isinstance(specialty, str) or not specialty.strip()):
        problems.append(f"specialty: expected a specialty name or null, got {_shown(specialty)}")
    elif route == "specialty" and specialty is None:
        problems.append("specialty: required for the specialty route (the clinical specialty of the membership)")
    if org_type is not None and (not isinstance(org_type, str) or not org_type.strip()):
        problems.append(f"org_type: expected an organisation type such as acute, got {_shown(org_type)}")
    if problems:
        return None, problems
    return Member(route=route, specialty=specialty, org_type=org_type), []


def not_asked(standards: m.StandardsSet, applies: frozenset[str], answers: dict[str, Any]) -> frozenset[str]:
    """Ids of the applicable conditional criteria whose condition does not hold with these (checked) answers.

    Used to know which answers to check; the scoring rules decide the same
    from the same answers.
    """
    asked: dict[str, bool] = {}
    for standard in standards.standards:
        for criterion in standard.criteria:
            applicable = standard.id in applies
            when = criterion.when
            if when is None or not applicable:
                asked[criterion.id] = applicable
                continue
            answer = answers.get(when.criterion)
            asked[criterion.id] = asked[when.criterion] and answer != NA and answer in when.values
    return frozenset(c.id for s in standards.standards if s.id in applies for c in s.criteria if not asked[c.id])


def read_submission(standards: m.StandardsSet, doc: Any) -> Submission:
    """Validate an answers document (the CLI's JSON shape); raises AnswersError."""
    member, problems = read_member(standards, doc)
    raw = doc.get("answers", {}) if isinstance(doc, dict) else {}
    if isinstance(doc, dict) and "answers" not in doc:
        problems.append("answers: missing; expected an object of criterion id to answer ({} for none yet)")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"answers: expected an object of criterion id to answer, got {_shown(raw)}")
        raw = {}
    forms = asked_forms = plain_forms(standards)
    applies = None
    if member is not None:
        applies = standards.applicable_ids(member.route, member.specialty, member.org_type)
        asked_forms = applicable_forms(standards, applies)
    clean: dict[str, Any] = {}
    conditional: dict[str, str] = {}  # problems with answers to conditional criteria: kept if they are asked
    for key, value in raw.items():
        found = asked_forms.get(key)
        if found is None:
            if key not in forms:
                problems.append(f"answers: {_shown(key)} is not a criterion of {standards.label}")
            continue  # answers to standards that do not apply are ignored
        if is_plain(found, value):
            clean[key] = value
            continue
        criterion = found[1]
        answer, problem = check_answer(criterion, value)
        if problem:
            if criterion.when is None:
                problems.append(f"answers: criterion {key} ({criterion.type}): {problem}")
            else:
                conditional[key] = f"answers: criterion {key} ({criterion.type}): {problem}"
        elif answer is not None:
            clean[key] = answer
    if conditional and applies is not None:
        ignored = not_asked(standards, applies, clean)
        problems.extend(problem for key, problem in conditional.items() if key not in ignored)
    if problems:
        raise AnswersError(problems)
    assert member is not None
    # Unknown top-level keys are ignored, not refused: the format may grow, but a typo should be seen.
    warnings = tuple(
        f"answers file: unknown key {_shown(key)} ignored; the keys are {', '.join(ANSWERS_KEYS)}"
        for key in doc
        if key not in ANSWERS_KEYS
    )
    return Submission(member=member, answers=clean, warnings=warnings)


def carry_over(
    standards: m.StandardsSet, answers: Mapping[str, Any], previous: Optional[m.StandardsSet] = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers that still fit ``standards`` (matched by criterion id) and why each other one does not.

    An answer to a criterion the version no longer has, or one its new type, options or range no longer
    accepts, is left out of the score (and kept where it is stored); a criterion new in the version is
    unanswered. A choice answer naming an option the version removed is not carried, nor is a multi_choice
    answer naming any such option (the rest alone would lower its score unseen). Given the version the
    answers were made on (``previous``), the reason says what changed: "criterion removed", "option "phone"
    removed", "82 is outside the new range ...", "type changed from yes_no to level: ...".
    """
    forms = plain_forms(standards)
    kept: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    for criterion_id, value in answers.items():
        if value is None:
            continue
        found = forms.get(criterion_id)
        if found is None:
            dropped[criterion_id] = "criterion removed"
            continue
        if is_plain(found, value) or _stored_text(found, value):
            kept[criterion_id] = value
            continue
        clean, problem = check_answer(found[1], value)
        if problem:
            before = previous.criterion_lookup.get(criterion_id) if previous is not None else None
            dropped[criterion_id] = _what_changed(before[1], found[1], value, problem) if before else problem
        elif clean is not None:
            kept[criterion_id] = clean
    return kept, dropped


def _what_changed(old: m.Criterion, new: m.Criterion, value: Any, problem: str) -> str:
    """Why an answer to ``old`` no longer fits ``new``, in the terms of the change where one explains it."""
    if old.type != new.type:
        return f"type changed from {old.type} to {new.type}: {problem}"
    if new.type in m.OPTION_TYPES:
        chosen = value if isinstance(value, (list, tuple)) else [value]
        gone = [v for v in chosen if isinstance(v, str) and v in old.option_ids and v not in new.option_ids]
        if gone:
            return (
                f"option{'s' if len(gone) > 1 else ''} {_listed(dict.fromkeys(gone))} removed "
                f"(the options now are {_listed(new.option_ids)})"
            )
    if new.type == "metric" and m.is_number(value) and old.in_range(value) and not new.in_range(value):
        unit = f" ({new.unit})" if new.unit else ""
        return f"{_shown(value)} is outside the new range: a number {_range_text(new)}{unit}"
    if new.type == "level" and m.is_number(value) and value >= len(new.levels or ()) and old.levels:
        return f"level {_shown(value)} removed (the levels now are 0 to {len(new.levels or ()) - 1})"
    return problem

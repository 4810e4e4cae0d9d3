"""A self-assessment's questions as a member meets them: which conditional questions are asked, and answers in
words.

A conditional criterion (schema 2, ``when``) is asked only when the criterion it names applies, is itself
asked and is answered with one of the listed values. One that is not asked keeps any answer stored for it,
but is neither required nor scored (the rules engine ignores the answer); the pages and the API say why it is
not asked, in the member's words ("C5.1 is “Telephone follow-up”"), from the same answers the engine scores
(carried over to the assessment's standards version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

from rules.answers import NA, carry_over
from rules.answers import not_asked as rules_not_asked
from rules.model import Criterion

from ..wording import decimal_text, with_unit
from .assessments import AssessmentContext

WORDS = {"yes": "Yes", "partial": "Partly", "no": "No", NA: "Not applicable"}
NONE_OF_THEM = "None of these"


def answer_words(criterion: Criterion, value: Any) -> str:
    """A stored answer as a member reads it: an option's text rather than its id, a level's name, "Partly"."""
    if value is None:
        return "Not answered"
    if isinstance(value, str) and value == NA:
        return WORDS[NA]
    if criterion.type in ("yes_no", "yes_partial_no") and isinstance(value, str):
        return WORDS.get(value, value)
    if criterion.type == "level" and isinstance(value, int) and 0 <= value < len(criterion.levels or ()):
        return (criterion.levels or ())[value]
    if criterion.type == "choice" and isinstance(value, str):
        option = criterion.option(value)
        return option.text if option is not None else value
    if criterion.type == "multi_choice" and isinstance(value, (list, tuple)):
        texts = [(criterion.option(v).text if isinstance(v, str) and criterion.option(v) else str(v)) for v in value]
        return "; ".join(texts) if texts else NONE_OF_THEM
    if criterion.type == "metric" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return with_unit(decimal_text(value), criterion.unit)
    return str(value)


def option_scores_words(criterion: Criterion, value: Any, score: Optional[float]) -> Optional[str]:
    """How a choice or multi_choice answer scored, by the options' texts (the engine's explanation names their
    ids); ``score`` is the criterion's score out of 100, as the result gives it. None for other answers."""
    if criterion.type not in ("choice", "multi_choice") or score is None:
        return None
    chosen = [value] if criterion.type == "choice" else value
    if not isinstance(chosen, (list, tuple)) or not all(isinstance(v, str) and criterion.option(v) for v in chosen):
        return None
    total = f"{score / 100:g}"
    if not chosen:
        return f"{NONE_OF_THEM}: scores 0"
    options = [o for o in (criterion.option(v) for v in chosen) if o is not None]
    parts = [f"{quoted(o.text)} {o.score:g}" for o in options]
    if criterion.type == "choice":
        return f"{parts[0]}: scores {total}"
    capped = " (a multiple choice scores at most 1)" if sum(o.score for o in options) > 1 else ""
    return " + ".join(parts) + f": scores {total}{capped}"


def quoted(text: str) -> str:
    return f"“{text}”"


def condition_words(criterion: Criterion, standards_lookup: Mapping[str, tuple[Any, Criterion]]) -> str:
    """When a conditional criterion is asked: 'Asked only if the answer to C5.1 is “Clinic” or “Telephone”.'"""
    assert criterion.when is not None
    controller = standards_lookup[criterion.when.criterion][1]
    values = [quoted(answer_words(controller, value)) for value in criterion.when.values]
    listed = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
    return f"Asked only if the answer to {controller.id} ({controller.text}) is {listed}."


@dataclass(frozen=True)
class NotAsked:
    """A conditional criterion the answers leave unasked, and why: the question it depends on (``controller``)
    does not apply, is not asked itself, is not answered, or has an answer that does not ask this one."""

    criterion: Criterion
    controller: Criterion
    #: The question it depends on is not answered yet (or, down a chain, the one that one depends on is not):
    #: this one may still be asked.
    pending: bool = False
    controller_applies: bool = True
    controller_asked: bool = True
    answer: Any = None  # the controller's answer, carried over to the assessment's version

    def because_for(self, whose: str = "your organisation") -> str:
        """Why, as a clause: "C5.1 is “Telephone follow-up”", "C5.1 does not apply to <whose>", ..."""
        controller = self.controller
        if not self.controller_applies:
            return f"{controller.id} does not apply to {whose}"
        if not self.controller_asked:
            return f"{controller.id} is not asked"
        if self.answer is None:
            return f"{controller.id} is not answered yet"
        if self.answer == NA:
            return f"{controller.id} is answered “Not applicable”"
        return f"{controller.id} is {quoted(answer_words(controller, self.answer))}"

    @property
    def because(self) -> str:
        """Why, in the member's words."""
        return self.because_for()

    @property
    def words(self) -> str:
        return f"Not asked because {self.because}."

    @property
    def for_reviewer(self) -> str:
        """Why, as a lead reads it: 'C5.2 not asked: C5.1 is “Telephone follow-up”'."""
        return f"{self.criterion.id} not asked: {self.because_for('this member')}"


def not_asked(ctx: AssessmentContext, answers: Mapping[str, Any]) -> dict[str, NotAsked]:
    """The applicable conditional criteria these (stored) answers leave unasked, in file order, with why."""
    standards = ctx.standards
    if not any(c.when is not None for c in standards.criteria):
        return {}
    kept, _ = carry_over(standards, answers)
    member = ctx.member
    applies = standards.applicable_ids(member.route, member.specialty, member.org_type)
    unasked = rules_not_asked(standards, applies, kept)
    lookup = standards.criterion_lookup
    found: dict[str, NotAsked] = {}
    for criterion_id in (c.id for c in standards.criteria if c.id in unasked):
        criterion = lookup[criterion_id][1]
        assert criterion.when is not None
        controller_standard, controller = lookup[criterion.when.criterion]
        applicable, asked = controller_standard.id in applies, controller.id not in unasked
        answer = kept.get(controller.id)
        pending = applicable and (answer is None if asked else found[controller.id].pending)
        found[criterion_id] = NotAsked(
            criterion,
            controller,
            pending=pending,
            controller_applies=applicable,
            controller_asked=asked,
            answer=answer,
        )
    return found

"""Conditional criteria (schema 2, ``when``): read and checked against the file, decided by two rules.

A criterion with ``when: {criterion: Q4.1, in: [clinic]}`` is asked (active)
only when Q4.1 applies to the member, is itself active and is answered with
one of the ``in`` values. ``WhenReader`` checks a condition against the
criteria above it in the file; a condition names an earlier criterion, so
every chain of conditions ends at an unconditional one and has a depth.

Scoring decides activity in the rules engine, wave by wave of depth: one
condition fact per conditional criterion carries its controlling criterion's
answer as a code (``x``), whether that criterion is applicable and active
(``ca``), and the codes of the ``in`` values (``k0``, ``k1``, ... padded with
``NO_CODE``, so every fact of a ruleset has the same fields). Two
data-driven rules, exclusive of each other, match every condition fact:
``criterion_active`` and ``criterion_inactive``.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from . import model as m
from .checking import Checker, describe
from .yamlnodes import Mapping, Scalar, Sequence

WHEN_KEYS = {"criterion": True, "in": True}
#: The code of an answer that makes no condition hold (unanswered, "na"), and of an unused ``in`` slot.
UNANSWERED, NO_CODE = -1, -2
#: Sibling tests per node of a rule; durable-rules hangs at 512 siblings, so longer lists nest (``nested``).
FAN_OUT = 32
ACTIVE_RULES = {"criterion_active": True, "criterion_inactive": False}
#: Answers one ``in`` may list: a condition fact carries one field per answer, and durable-rules' C core does
#: not match a fact of more than about 255 fields (a condition then goes undecided) and refuses (error 113)
#: rules testing a few hundred of them.
MAX_WHEN_VALUES = 200
YES_PARTIAL_NO_CODES = {"yes": 0, "partial": 1, "no": 2}


def answer_codes(criterion: m.Criterion) -> dict[Any, int]:
    """The code of each answer a condition can test, for a criterion other criteria may depend on."""
    if criterion.type in m.CHOICES:
        return {answer: YES_PARTIAL_NO_CODES[answer] for answer in m.CHOICES[criterion.type]}
    if criterion.type == "level":
        return {index: index for index in range(len(criterion.levels or ()))}
    if criterion.type == "choice":
        return {option_id: index for index, option_id in enumerate(criterion.option_ids)}
    return {}


def depths(criteria: tuple[m.Criterion, ...]) -> dict[str, int]:
    """Conditional criterion id -> the length of its chain of conditions (1: it names an unconditional one)."""
    found: dict[str, int] = {}
    for criterion in criteria:  # file order: a condition names an earlier criterion
        if criterion.when is not None:
            found[criterion.id] = found.get(criterion.when.criterion, 0) + 1
    return found


def nested(mode: str, tests: list[dict]) -> dict:
    """``{mode: tests}`` with no node holding more than FAN_OUT tests."""
    while len(tests) > FAN_OUT:
        tests = [{mode: tests[i : i + FAN_OUT]} for i in range(0, len(tests), FAN_OUT)]
    return {mode: tests}


def condition_rules(slots: int) -> dict[str, dict]:
    """The two rules deciding a condition fact with ``slots`` ``in`` codes (``rules.compiling`` adds them)."""
    holds = nested("$or", [{"x": {"$m": f"k{j}"}} for j in range(slots)])
    fails = nested("$and", [{"$neq": {"x": {"$m": f"k{j}"}}} for j in range(slots)])
    return {
        "criterion_active": {"all": [{"m": {"$and": [{"t": "w"}, {"ca": 1}, holds]}}], "cap": 1000},
        "criterion_inactive": {
            "all": [{"m": {"$and": [{"t": "w"}, {"$or": [{"ca": 0}, {"$and": [{"ca": 1}, fails]}]}]}}],
            "cap": 1000,
        },
    }


def condition_fact_start(index: int, fact_id: int, codes: tuple[int, ...], slots: int) -> str:
    """A condition fact as JSON text up to its ``ca`` and ``x`` fields."""
    padded = list(codes) + [NO_CODE] * (slots - len(codes))
    return f'{{"t":"w","id":{fact_id},' + "".join(f'"k{j}":{code},' for j, code in enumerate(padded))


def shown_answer(criterion: m.Criterion, answer: Any) -> str:
    """A controlling answer as an explanation quotes it: 'phone', level 2."""
    if criterion.type == "level" and isinstance(answer, int):
        return f"level {answer}"
    return f"'{answer}'"


class WhenReader:
    """Checks ``when`` conditions, reporting problems through the file's checker.

    ``earlier`` holds the criteria read so far, in file order; the reader is
    told of each criterion once it is read (``add``).
    """

    def __init__(self, checker: Checker):
        self.checker = checker
        self.earlier: dict[str, m.Criterion] = {}

    def add(self, criterion: m.Criterion) -> None:
        self.earlier[criterion.id] = criterion

    def read(self, body: Mapping, where: str, own_id: Optional[str]) -> Optional[m.When]:
        """The condition of criterion ``own_id``, or None with every problem reported."""
        entry = body.entries["when"]
        node = self.checker.mapping(entry.node, f"{where}: 'when'", entry.key_line)
        if node is None:
            return None
        self.checker.keys(node, WHEN_KEYS, f"{where} when")
        named = self.controller(node, where, own_id)
        values_node = node.get("in")
        if named is None or values_node is None:
            return None
        values = self.values(values_node, named, where, node.entries["in"].key_line)
        if values is None:
            return None
        return m.When(criterion=named.id, values=values, line=node.line)

    def controller(self, node: Mapping, where: str, own_id: Optional[str]) -> Optional[m.Criterion]:
        ref = self.checker.text(node, "criterion", f"{where} when")
        if ref is None:
            return None
        line = node.entries["criterion"].node.line
        named = self.earlier.get(ref)
        if ref == own_id:
            self.checker.error(
                line, f"{where}: 'when' names the criterion itself; it must name a criterion earlier in the file"
            )
            return None
        if named is None:
            kind, _ = self.checker.seen_ids.get(ref, (None, 0))
            if kind == "criterion":  # read earlier but invalid: already reported
                return None
            if kind is not None:
                self.checker.error(line, f"{where}: 'when' names the {kind} '{ref}'; it must name a criterion")
            else:
                self.checker.error(
                    line,
                    f"{where}: 'when' names '{ref}', which is not a criterion earlier in the "
                    "file (a condition names a criterion above it)",
                )
            return None
        if named.type not in m.CONDITION_TYPES:
            allowed = ", ".join(m.CONDITION_TYPES[:-1]) + " or " + m.CONDITION_TYPES[-1]
            self.checker.error(
                line,
                f"{where}: 'when' names '{ref}', a {named.type} criterion; a condition can name a {allowed} criterion",
            )
            return None
        return named

    def values(self, node: Any, named: m.Criterion, where: str, line: int) -> Optional[tuple[Union[str, int], ...]]:
        """The answers ``in`` lists (``line``: the line of its key)."""
        if not isinstance(node, Sequence):
            self.checker.error(
                node.line, f"{where}: 'when' 'in' must be a list of answers of '{named.id}', got {describe(node)}"
            )
            return None
        if not node.items:
            self.checker.error(node.line, f"{where}: 'when' 'in' must list at least one answer of '{named.id}'")
            return None
        if len(node.items) > MAX_WHEN_VALUES:
            self.checker.error(
                line,
                f"{where}: 'when' 'in' lists {len(node.items)} answers of '{named.id}', more than the engine can "
                f"test; list at most {MAX_WHEN_VALUES}",
            )
            return None
        codes = answer_codes(named)
        values: list[Union[str, int]] = []
        ok = True
        for item in node.items:
            value = self.value(item, named, codes, where)
            if value is None:
                ok = False
            elif value in values:
                self.checker.error(item.line, f"{where}: 'when' 'in' lists {value!r} twice")
                ok = False
            else:
                values.append(value)
        return tuple(values) if ok else None

    def value(self, item: Any, named: m.Criterion, codes: dict[Any, int], where: str) -> Optional[Union[str, int]]:
        value = item.value if isinstance(item, Scalar) else item
        if isinstance(value, bool):
            word = "yes or true" if value else "no or false"
            self.checker.error(
                item.line,
                f"{where}: 'when' 'in' holds the boolean {str(value).lower()}: YAML reads "
                f'a bare {word} as a boolean; put the answer in quotes, e.g. "yes"',
            )
            return None
        if named.type == "level" and m.is_number(value) and float(value).is_integer():
            value = int(value)
        if (isinstance(value, str) or type(value) is int) and value in codes:
            return value
        self.checker.error(
            item.line,
            f"{where}: 'when' 'in' holds {describe(item)}, not an answer of '{named.id}' ({_possible(named)})",
        )
        return None


def _possible(criterion: m.Criterion) -> str:
    if criterion.type == "level":
        return f"a level index 0..{len(criterion.levels or ()) - 1}"
    if criterion.type == "choice":
        return "one of its option ids: " + ", ".join(criterion.option_ids)
    return "one of " + ", ".join(f'"{a}"' for a in m.CHOICES[criterion.type])

"""Extra declarative rules: the optional ``rules:`` section of a standards file.

Each rule combines conditions on criteria and standards with ``all``/``any``
and raises a flag (id, severity, message). Reading validates every reference
against the file; compiling turns a rule into one durable-rules condition on
the assessment's summary fact, so the rules engine decides which flags fire.
See docs/standards.md for the syntax.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from . import model as m
from .checking import Checker
from .conditions import nested
from .yamlnodes import Mapping, Node, Scalar, Sequence

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in")
NUMERIC_OPERATORS = ("lt", "lte", "gt", "gte")
CRITERION_TESTS = ("answer", "answered", "rag", "breach")
BREACH_VALUES = ("minor", "major", "any", "none")
DURABLE_OPERATORS = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


def criterion_field(test: str, index: int, numeric: bool = False) -> str:
    """Name of a field of the summary fact, by criterion position in the file."""
    if test == "answer":
        return f"n{index}" if numeric else f"a{index}"
    return {"answered": "u", "rag": "r", "breach": "b"}[test] + str(index)


def standard_field(index: int) -> str:
    return f"s{index}"


#: durable-rules' C core crashes the process on a fact of more than 255 fields. The summary fact carries up to
#: five fields per criterion the flag rules name, one per standard, and three of its own.
MAX_SUMMARY_FIELDS = 250
CRITERION_FIELDS = 5
#: durable-rules refuses to go on (error 303, no action available) once one fact matches more than about 64
#: times, and every test of an "any" that holds is a match of its own: the most tests (a condition's each ``in``
#: value counting as one) all the flag rules of a file may make, so every one may hold at once.
MAX_FLAG_TESTS = 60


def named_by(rules: tuple[m.FlagRule, ...]) -> tuple[frozenset[str], frozenset[str]]:
    """The ids of the criteria and of the standards that the flag rules test: all the summary fact needs."""
    criteria: set[str] = set()
    standards: set[str] = set()

    def walk(node: Union[m.Combination, m.Condition]) -> None:
        if isinstance(node, m.Combination):
            for item in node.items:
                walk(item)
        else:
            (standards if node.target == "standard" else criteria).add(node.ref)

    for rule in rules:
        walk(rule.when)
    return frozenset(criteria), frozenset(standards)


class FlagRuleReader:
    """Validates the ``rules:`` section, reporting problems through the file's checker."""

    def __init__(self, checker: Checker, domains: tuple[m.Domain, ...]):
        self.checker = checker
        self.criteria = {c.id: c for d in domains for s in d.standards for c in s.criteria}
        self.standards = {s.id for d in domains for s in d.standards}

    def read(self, items: list[Node]) -> tuple[m.FlagRule, ...]:
        rules: list[m.FlagRule] = []
        seen: dict[str, int] = {}
        for item in items:
            body = self.checker.mapping(item, "a rules entry", item.line)
            if body is None:
                continue
            self.checker.keys(body, {"id": True, "severity": True, "message": True, "when": True}, "rule")
            ident = self.checker.text(body, "id", "rule")
            where = f"rule '{ident}'" if ident else "rule"
            if ident is not None:
                if ident in seen:
                    self.checker.error(
                        body.entries["id"].node.line, f"rule id '{ident}' is already used on line {seen[ident]}"
                    )
                    ident = None
                else:
                    seen[ident] = body.entries["id"].node.line
            severity = self.checker.choice(body, "severity", where, m.FLAG_SEVERITIES, None)
            message = self.checker.text(body, "message", where)
            when = self.combination(body.get("when"), where, body.line) if "when" in body else None
            if ident and severity and message and when:
                rules.append(m.FlagRule(id=ident, severity=severity, message=message, when=when, line=body.line))
        self.check_size(rules, items)
        return tuple(rules)

    def check_size(self, rules: list[m.FlagRule], items: list[Node]) -> None:
        total = 0
        for rule in rules:
            total += tests_in(rule.when)
            if total > MAX_FLAG_TESTS:
                made = sum(tests_in(r.when) for r in rules)
                self.checker.error(
                    rule.line,
                    f"rules: the flag rules make {made} tests in all, more than the engine can hold (from rule "
                    f"'{rule.id}' on); make at most {MAX_FLAG_TESTS} (each value of an 'in' counts as one)",
                )
                break
        criteria, standards = named_by(tuple(rules))
        fields = CRITERION_FIELDS * len(criteria) + len(standards)
        if items and fields > MAX_SUMMARY_FIELDS:
            self.checker.error(
                items[0].line,
                f"rules: the flag rules name {len(criteria)} criteria and "
                f"{len(standards)} standards, more than the engine can test at once; "
                f"name at most {MAX_SUMMARY_FIELDS // CRITERION_FIELDS} criteria "
                f"(each criterion counts as {CRITERION_FIELDS} standards)",
            )

    def combination(self, node: Node | None, where: str, line: int) -> Optional[m.Combination]:
        body = self.checker.mapping(node, f"{where}: a condition group", line)
        if body is None:
            return None
        modes = [key for key in ("all", "any") if key in body]
        others = [key for key in body.entries if key not in ("all", "any")]
        if len(modes) != 1 or others:
            self.checker.error(
                body.line,
                f"{where}: a condition group needs exactly one of 'all' or 'any' holding a list of conditions",
            )
            return None
        mode = modes[0]
        items_node = body.get(mode)
        if not isinstance(items_node, Sequence) or not items_node.items:
            self.checker.error(
                items_node.line if items_node else body.line,
                f"{where}: '{mode}' must be a non-empty list of conditions",
            )
            return None
        items: list[Union[m.Combination, m.Condition]] = []
        ok = True
        for item in items_node.items:
            if isinstance(item, Mapping) and ("all" in item or "any" in item):
                part: Any = self.combination(item, where, item.line)
            else:
                part = self.condition(item, where)
            if part is None:
                ok = False
            else:
                items.append(part)
        return m.Combination(mode=mode, items=tuple(items)) if ok else None

    def condition(self, node: Node, where: str) -> Optional[m.Condition]:
        body = self.checker.mapping(node, f"{where}: a condition", node.line)
        if body is None:
            return None
        if "criterion" in body:
            return self.criterion_condition(body, where)
        if "standard" in body:
            return self.standard_condition(body, where)
        self.checker.error(body.line, f"{where}: a condition needs 'criterion' or 'standard' (or a nested 'all'/'any')")
        return None

    def _single_test(self, body: Mapping, subject: str, tests: tuple[str, ...], where: str) -> Optional[str]:
        self.checker.keys(body, {subject: True, **{t: False for t in tests}}, f"{where} condition")
        present = [t for t in tests if t in body]
        if len(present) != 1:
            self.checker.error(body.line, f"{where}: a {subject} condition needs exactly one of {', '.join(tests)}")
            return None
        return present[0]

    def criterion_condition(self, body: Mapping, where: str) -> Optional[m.Condition]:
        test = self._single_test(body, "criterion", CRITERION_TESTS, where)
        ref = self.checker.text(body, "criterion", where)
        if test is None or ref is None:
            return None
        criterion = self.criteria.get(ref)
        if criterion is None:
            self.checker.error(body.entries["criterion"].node.line, f"{where}: no criterion '{ref}' in this file")
            return None
        value_node = body.get(test)
        assert value_node is not None
        if test in ("rag", "breach") and criterion.type != "metric":
            self.checker.error(
                value_node.line, f"{where}: '{test}' only applies to metric criteria; '{ref}' is {criterion.type}"
            )
            return None
        if test == "answer" and criterion.type == "text":
            self.checker.error(
                value_node.line, f"{where}: text answers are not scored and cannot be tested; '{ref}' is text"
            )
            return None
        if test == "answer" and criterion.type == "multi_choice":
            self.checker.error(
                value_node.line,
                f"{where}: multi_choice answers are lists and cannot be tested "
                f"(test 'answered' instead); '{ref}' is multi_choice",
            )
            return None
        if test == "answered":
            if not (isinstance(value_node, Scalar) and isinstance(value_node.value, bool)):
                self.checker.error(value_node.line, f"{where}: 'answered' must be true or false")
                return None
            return m.Condition(target="criterion", ref=ref, test="answered", op="eq", value=int(not value_node.value))
        op, value = self.operator(value_node, where, test)
        if op is None:
            return None
        allowed = self.allowed_values(criterion, test)
        values = value if isinstance(value, tuple) else (value,)
        for one in values:
            if op in NUMERIC_OPERATORS:
                if criterion.type not in ("level", "metric") or not m.is_number(one):
                    self.checker.error(
                        value_node.line,
                        f"{where}: '{op}' compares numbers; it needs a number and a level or metric criterion ('{ref}' is {criterion.type})",
                    )
                    return None
            elif not self._value_allowed(one, allowed, criterion):
                self.checker.error(
                    value_node.line, f"{where}: {one!r} is not a possible {test} of criterion '{ref}' ({allowed})"
                )
                return None
        if test == "breach" and value == "any":
            op, value = "in", ("minor", "major")
        return m.Condition(target="criterion", ref=ref, test=test, op=op, value=value)

    def standard_condition(self, body: Mapping, where: str) -> Optional[m.Condition]:
        test = self._single_test(body, "standard", ("status",), where)
        ref = self.checker.text(body, "standard", where)
        if test is None or ref is None:
            return None
        if ref not in self.standards:
            self.checker.error(body.entries["standard"].node.line, f"{where}: no standard '{ref}' in this file")
            return None
        value_node = body.get("status")
        assert value_node is not None
        op, value = self.operator(value_node, where, "status")
        if op is None:
            return None
        for one in value if isinstance(value, tuple) else (value,):
            if op in NUMERIC_OPERATORS or one not in m.STANDARD_STATUSES:
                self.checker.error(value_node.line, f"{where}: status must be one of {', '.join(m.STANDARD_STATUSES)}")
                return None
        return m.Condition(target="standard", ref=ref, test="status", op=op, value=value)

    def operator(self, node: Node, where: str, test: str) -> tuple[Optional[str], Any]:
        """``value``, ``[v1, v2]`` (any of) or ``{op: value}``."""
        if isinstance(node, Scalar):
            return "eq", node.value
        if isinstance(node, Sequence):
            values = [item.value for item in node.items if isinstance(item, Scalar)]
            if len(values) != len(node.items) or not values:
                self.checker.error(node.line, f"{where}: '{test}' list must hold plain values")
                return None, None
            return "in", tuple(values)
        assert isinstance(node, Mapping)
        if len(node.entries) != 1:
            self.checker.error(node.line, f"{where}: '{test}' takes one comparison such as {{lt: 80}}")
            return None, None
        ((op, entry),) = node.entries.items()
        if op not in OPERATORS or op == "in":
            self.checker.error(
                entry.key_line,
                f"{where}: unknown comparison '{op}'; use one of {', '.join(o for o in OPERATORS if o != 'in')}",
            )
            return None, None
        if not isinstance(entry.node, Scalar):
            self.checker.error(entry.node.line, f"{where}: '{op}' needs a single value")
            return None, None
        return op, entry.node.value

    @staticmethod
    def allowed_values(criterion: m.Criterion, test: str) -> str:
        if test == "rag":
            return "green, amber or red"
        if test == "breach":
            return "minor, major, any or none"
        na = ", or na" if criterion.allow_na else ""
        if criterion.type in m.CHOICES:
            return ", ".join(m.CHOICES[criterion.type]) + na
        if criterion.type == "choice":
            return "an option id: " + ", ".join(criterion.option_ids) + na
        if criterion.type == "level":
            return f"a level index 0..{len(criterion.levels or ()) - 1}{na}"
        return f"a number{na}"

    @staticmethod
    def _value_allowed(value: Any, allowed: str, criterion: m.Criterion) -> bool:
        if allowed.startswith("green"):
            return value in m.RAG
        if allowed.startswith("minor"):
            return value in m.BREACH_SEVERITIES + ("any", "none")
        if value == "na":
            return criterion.allow_na
        if criterion.type in m.CHOICES:
            return value in m.CHOICES[criterion.type]
        if criterion.type == "choice":
            return value in criterion.option_ids
        if criterion.type == "level":
            return m.is_number(value) and float(value).is_integer() and 0 <= value < len(criterion.levels or ())
        return m.is_number(value)


def tests_in(node: Union[m.Combination, m.Condition]) -> int:
    """The leaf tests a condition compiles to (an ``in`` or an answer list: one per value)."""
    if isinstance(node, m.Combination):
        return sum(tests_in(item) for item in node.items)
    return len(node.value) if isinstance(node.value, tuple) else 1


# -- compiling to durable-rules -------------------------------------------------


def compile_flag_rule(rule: m.FlagRule, criterion_index: dict[str, int], standard_index: dict[str, int]) -> dict:
    """One durable-rules rule spec (without ``run``) for one flag rule."""
    test = _compile(rule.when, criterion_index, standard_index)
    return {"all": [{"m": {"$and": [{"t": "f"}, test]}}]}


def _compile(node: Union[m.Combination, m.Condition], crit: dict[str, int], std: dict[str, int]) -> dict:
    if isinstance(node, m.Combination):
        parts = [_compile(item, crit, std) for item in node.items]
        return nested("$and" if node.mode == "all" else "$or", parts)  # the engine hangs on 512 siblings
    if node.target == "standard":
        field = standard_field(std[node.ref])
        return _leaf(field, node.op, node.value)
    index = crit[node.ref]
    if node.test == "answer":
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        op = "eq" if node.op == "in" else node.op
        parts = [_leaf(criterion_field("answer", index, m.is_number(v)), op, v, m.is_number(v)) for v in values]
        return parts[0] if len(parts) == 1 else nested("$or", parts)
    return _leaf(criterion_field(node.test, index), node.op, node.value)


def _leaf(field: str, op: str, value: Any, numeric: bool = False) -> dict:
    if op == "in":
        return nested("$or", [_leaf(field, "eq", one, numeric) for one in value])
    if numeric:
        value = float(value)
    if op == "eq":
        return {field: value}
    return {DURABLE_OPERATORS[op]: {field: value}}

"""A standards version compiled for scoring: its durable-rules ruleset and its scoring plan.

A version is compiled once (``compiled``, keyed by content hash) into a
ruleset of data-driven rules: thresholds travel in the facts, so the ruleset
stays small however many criteria the file has. The plan holds what every
scoring run needs per criterion, worked out once: weights and full credit in
whole units of its standard, the thresholds "higher is better", the start of
its fact as JSON text, and its fixed explanations. One scoring run over it is
``rules.scoring``; the rule names below are how the two speak.

Schema 2 adds rules only to the versions that use it: one for choice answers,
two deciding whether a conditional criterion is asked (``rules.conditions``,
with the conditional criteria grouped in waves by the depth of their chain
of conditions) and three deciding each framework ref's status
(``rules.mappings``). A schema 1 version compiles to the same ruleset as
before.
"""

from __future__ import annotations

import math
import threading
from typing import Any, NamedTuple, Optional

from . import model as m
from .conditions import answer_codes, condition_fact_start, condition_rules, depths
from .durable_engine import Ruleset, number_text
from .flags import compile_flag_rule, named_by
from .mappings import MAX_REF_SLOTS, mapping_rules
from .numbers import Ratio, engine_float, exact, lcm_of_denominators, plain_number, rounded

CAP = 1000
NO_RATING = -1
# Fact types: c graded criterion (an unanswered required one too), l level, choice or multi_choice answer,
# w condition of a conditional criterion, s scored standard, n standard decided without a score (nothing to
# score, or status set by a lead), r rating, o outcome, p framework ref (with the standards), f summary for
# extra rules.
CREDIT_HALVES = {"criterion_full": 2, "criterion_half": 1, "criterion_zero": 0}
SCORE_OF_RULE = {"criterion_full": 100.0, "criterion_half": 50.0, "criterion_zero": 0.0}
RAG_OF_RULE = {"criterion_full": "green", "criterion_half": "amber", "criterion_zero": "red"}
SEVERITY_OF_RAG = {"amber": "minor", "red": "major"}
STATUS_OF_RULE = {
    "standard_met": "met",
    "standard_not_met": "not_met",
    "standard_not_scored": "not_scored",
    "standard_set_met": "met",
    "standard_set_not_met": "not_met",
}
OUTCOME_OF_RULE = {
    "outcome_not_accredited": "not_accredited",
    "outcome_working_towards": "working_towards",
    "outcome_accredited_with_conditions": "accredited_with_conditions",
    "outcome_accredited": "accredited",
}
CHOICE_VALUE = {"yes": "1.0", "partial": "0.5", "no": "0.0"}  # as fact text
CHOICE_WORDS = {"yes": "full credit (1)", "partial": "half credit (0.5)", "no": "no credit (0)"}
FACT_ID_STANDARDS = 1_000_000  # fact ids: criteria by position, then standards, then single facts
FACT_ID_RATING, FACT_ID_OUTCOME, FACT_ID_SUMMARY = 2_000_000, 2_000_001, 2_000_002
FACT_ID_CONDITIONS, FACT_ID_MAPPED = 3_000_000, 4_000_000  # conditions by criterion position, refs in order
STANDARD_FACT, RATING_FACT, OUTCOME_FACT, REF_FACT = range(4)  # the kinds of stage-2 facts
SCORES_KEPT = 4096  # standard scores kept per version with their texts (a few hundred KB at most)


def _rule(fact_type: str, *tests: dict, cap: bool = True) -> dict:
    match = {"$and": [{"t": fact_type}, *tests]} if tests else {"t": fact_type}
    rule: dict[str, Any] = {"all": [{"m": match}]}
    if cap:
        rule["cap"] = CAP
    return rule


def _same(op: str, field: str, other: str) -> dict:
    return {op: {field: {"$m": other}}}


def build_spec(standards: m.StandardsSet) -> dict[str, dict]:
    """The durable-rules ruleset for one standards version."""
    spec: dict[str, dict] = {
        "criterion_full": _rule("c", _same("$gte", "v", "tg")),
        "criterion_half": _rule("c", _same("$lt", "v", "tg"), _same("$gte", "v", "lo")),
        "criterion_zero": _rule("c", _same("$lt", "v", "lo")),
        "criterion_listed": _rule("l"),  # level, choice and multi_choice answers, credited from the plan
        "standard_met": _rule("s", {"mj": 0}, _same("$gte", "sc", "pm")),
        "standard_not_met": _rule("s", {"$or": [_same("$lt", "sc", "pm"), {"$gt": {"mj": 0}}]}),
        "standard_not_scored": _rule("n", {"st": "not_scored"}),
        "standard_set_met": _rule("n", {"st": "met"}),
        "standard_set_not_met": _rule("n", {"st": "not_met"}),
    }
    bands = standards.ratings  # highest min first
    for index, band in enumerate(bands):
        tests: list[dict] = [{"has": 1}, {"$gte": {"ov": float(band.min)}}]
        if index > 0:
            tests.append({"$lt": {"ov": float(bands[index - 1].min)}})
        spec[f"rating_{index}"] = _rule("r", *tests, cap=False)
    spec["rating_none"] = _rule("r", {"$or": [{"has": 0}, {"$lt": {"ov": float(bands[-1].min)}}]}, cap=False)

    # Outcome, "first that holds", written as exclusive conditions on the outcome fact, which carries
    # the overall score (as the rating fact does) and each must-meet standard's score and major breaches
    # (as its standard fact does), so the outcome is decided in the same pass as ratings and statuses.
    def band(index: int) -> list[dict]:
        tests: list[dict] = [{"$gte": {"ov": float(bands[index].min)}}]
        if index > 0:
            tests.append({"$lt": {"ov": float(bands[index - 1].min)}})
        return tests

    def outside(index: int) -> dict:
        tests: list[dict] = [{"$lt": {"ov": float(bands[index].min)}}]
        if index > 0:
            tests.append({"$gte": {"ov": float(bands[index - 1].min)}})
        return {"$or": tests} if len(tests) > 1 else tests[0]

    failing_bands = [i for i, b in enumerate(bands) if b.rating == "not_met"]
    approaching_bands = [i for i, b in enumerate(bands) if b.rating == "approaching"]
    pass_mark = float(standards.pass_mark)
    must_meet = range(sum(1 for st in standards.standards if st.must_meet))
    failing = {
        "$or": [
            {"has": 0},
            {"$lt": {"ov": float(bands[-1].min)}},
            *({"$and": [{"has": 1}, *band(i)]} for i in failing_bands),
        ]
    }
    passing = [{"has": 1}, {"$gte": {"ov": float(bands[-1].min)}}, *(outside(i) for i in failing_bands)]
    held_back = [{"$and": band(i)} for i in approaching_bands]
    held_back += [test for k in must_meet for test in ({"$lt": {f"q{k}": pass_mark}}, {"$gt": {f"j{k}": 0}})]
    held_back.append({"$gt": {"pn": 0}})  # must-meet standards a lead has set to not met
    settled = [
        *(outside(i) for i in approaching_bands),
        *(test for k in must_meet for test in ({"$gte": {f"q{k}": pass_mark}}, {f"j{k}": 0})),
        {"pn": 0},
    ]
    spec["outcome_not_accredited"] = _rule("o", failing, cap=False)
    spec["outcome_working_towards"] = _rule("o", *passing, {"$or": held_back}, cap=False)
    spec["outcome_accredited_with_conditions"] = _rule("o", *passing, *settled, {"$gt": {"br": 0}}, cap=False)
    spec["outcome_accredited"] = _rule("o", *passing, *settled, {"br": 0}, cap=False)
    if standards.rules:
        criterion_index = {c.id: i for i, c in enumerate(standards.criteria)}
        standard_index = {s.id: i for i, s in enumerate(standards.standards)}
        for index, rule in enumerate(standards.rules):
            spec[f"flag_{index}"] = compile_flag_rule(rule, criterion_index, standard_index)
        spec["flags_checked"] = _rule("f", cap=False)
    slots = max((len(c.when.values) for c in standards.criteria if c.when is not None), default=0)
    if slots:
        spec.update(condition_rules(slots))
    slots = max((len(ids) for refs in standards.mapped_refs.values() for ids in refs.values()), default=0)
    slots = min(slots, MAX_REF_SLOTS)  # a ref mapped from more standards has a fact per part of them
    if slots:
        spec.update(mapping_rules(slots, float(standards.pass_mark)))
    return spec


class CriterionPlan(NamedTuple):
    """What scoring needs to know about one criterion, worked out once per version."""

    id: str
    index: int
    standard: str
    standard_pos: int
    type: str
    required: bool
    units: int  # the weight in whole units of its standard's common weight denominator
    full: int  # full credit in whole units of its standard's common credit denominator
    top: int  # highest level index (level criteria)
    thresholds: tuple[float, float]  # full-credit and half-credit thresholds, higher is better
    negate: bool  # lower-is-better metric
    explain: dict[str, str]  # fixed explanation texts by answer or RAG (multi_choice: each option's score)
    fact: str  # the start of this criterion's stage-1 fact, as JSON text
    facts: dict[Any, str]  # choice criteria: the whole fact but its end, by answer
    level_scores: tuple[float, ...]  # level criteria: the rounded score of each level
    entries: dict[tuple[str, Any], dict[str, Any]]  # choice and level criteria: the result entry by (rule, answer)
    credits: dict[str, int]  # choice and multi_choice criteria: each option's credit, in units of full credit


class ConditionPlan(NamedTuple):
    """What scoring needs to know about a conditional criterion's condition."""

    controller: CriterionPlan  # the criterion the condition names
    codes: dict[Any, int]  # the controller's answers that a condition can test, by answer
    fact: str  # the start of the condition fact, as JSON text (see ``rules.conditions``)


def plan_criterion(
    criterion: m.Criterion, index: int, standard: m.Standard, standard_pos: int, units: int, full: int
) -> CriterionPlan:
    thresholds, negate, explain, top = (1.0, 0.5), False, {}, 0
    if criterion.type in m.CHOICES:
        thresholds = (1.0, 0.5) if criterion.type == "yes_partial_no" else (1.0, 1.0)
        explain = {a: f'answered "{a}": {CHOICE_WORDS[a]}' for a in m.CHOICES[criterion.type]}
    elif criterion.type == "level":
        levels = criterion.levels or ()
        top = len(levels) - 1
        explain = {
            str(i): f'level {i} of 0..{top} ("{name}"): {i}/{top} = {plain_number(round(i / top, 3))}'
            for i, name in enumerate(levels)
        }
    elif criterion.type == "metric":
        bench = criterion.benchmark
        assert bench is not None
        unit = criterion.unit_suffix
        target, amber = plain_number(bench.target), plain_number(bench.amber)
        if bench.direction == "higher":
            edge = float(exact(bench.target) - exact(bench.amber))
            thresholds = (float(bench.target), edge)
            below = f" and below the amber band (>= {plain_number(edge)})" if bench.amber else ""
            explain = {
                "green": f" >= target {target}{unit}: green, benchmark met",
                "amber": f" < target {target}{unit}, within amber {amber} (>= {plain_number(edge)}): amber, minor breach",
                "red": f" < target {target}{unit}{below}: red, major breach",
            }
        else:
            edge = float(exact(bench.target) + exact(bench.amber))
            thresholds, negate = (-float(bench.target), -edge), True
            above = f" and above the amber band (<= {plain_number(edge)})" if bench.amber else ""
            explain = {
                "green": f" <= target {target}{unit}: green, benchmark met",
                "amber": f" > target {target}{unit}, within amber {amber} (<= {plain_number(edge)}): amber, minor breach",
                "red": f" > target {target}{unit}{above}: red, major breach",
            }
        explain = {rag: unit + text for rag, text in explain.items()}  # what follows the value, by RAG
    if criterion.type in ("level", "text", "choice", "multi_choice"):
        fact = f'{{"t":"l","id":{index}'
    else:
        fact = f'{{"t":"c","id":{index},"tg":{number_text(thresholds[0])},"lo":{number_text(thresholds[1])},"v":'
    facts = {a: fact + CHOICE_VALUE[a] for a in m.CHOICES.get(criterion.type, ())}
    level_scores = tuple(round(100 * i / top, 1) for i in range(top + 1)) if criterion.type == "level" else ()
    entries: dict[tuple[str, Any], dict[str, Any]] = {}
    for answer in m.CHOICES.get(criterion.type, ()):
        for rule, score in SCORE_OF_RULE.items():
            entries[rule, answer] = {
                "standard": standard.id,
                "type": criterion.type,
                "answer": answer,
                "status": "scored",
                "rag": None,
                "breach": None,
                "explanation": explain[answer],
                "score": score,
            }
    for level, score in enumerate(level_scores):
        entries["criterion_listed", level] = {
            "standard": standard.id,
            "type": "level",
            "answer": level,
            "status": "scored",
            "rag": None,
            "breach": None,
            "explanation": explain[str(level)],
            "score": score,
        }
    options = {o.id: o for o in criterion.options or ()}
    credits = {o.id: int(exact(o.score) * full) for o in options.values()}
    if criterion.type == "multi_choice":
        explain = {o.id: plain_number(o.score) for o in options.values()}  # each option's score as shown
    if criterion.type == "choice":
        for option in options.values():
            entries["criterion_listed", option.id] = {
                "standard": standard.id,
                "type": "choice",
                "answer": option.id,
                "status": "scored",
                "rag": None,
                "breach": None,
                "explanation": f'option "{option.id}" ("{option.text}"): {plain_number(option.score)}',
                "score": round(float(exact(option.score) * 100), 1),
            }
    return CriterionPlan(
        criterion.id,
        index,
        standard.id,
        standard_pos,
        criterion.type,
        criterion.required,
        units,
        full,
        top,
        thresholds,
        negate,
        explain,
        fact,
        facts,
        level_scores,
        entries,
        credits,
    )


class CompiledStandards:
    """A standards version with its ruleset registered in the engine and its scoring plan."""

    def __init__(self, standards: m.StandardsSet):
        self.standards = standards
        self.standard_list = standards.standards
        self.plans: list[CriterionPlan] = []
        self.standard_plans: list[tuple[m.Standard, list[CriterionPlan], int]] = []
        index = 0
        for pos, standard in enumerate(self.standard_list):
            weights = [exact(c.weight) for c in standard.criteria]
            scale = lcm_of_denominators(weights)
            full = math.lcm(
                2,
                *(len(c.levels or ()) - 1 for c in standard.criteria if c.type == "level"),
                *(exact(o.score).denominator for c in standard.criteria for o in c.options or ()),
            )
            plans = []
            for criterion, weight in zip(standard.criteria, weights):
                plans.append(plan_criterion(criterion, index, standard, pos, int(weight * scale), full))
                index += 1
            self.plans.extend(plans)
            self.standard_plans.append((standard, plans, full))
        # Standard weights in whole units per domain, domain weights in whole units per file.
        self.domain_plans: list[tuple[str, int, list[tuple[str, int]]]] = []
        domain_weights = [exact(d.weight) for d in standards.domains]
        domain_scale = lcm_of_denominators(domain_weights)
        for domain, weight in zip(standards.domains, domain_weights):
            standard_weights = [exact(s.weight) for s in domain.standards]
            scale = lcm_of_denominators(standard_weights)
            self.domain_plans.append(
                (
                    domain.id,
                    int(weight * domain_scale),
                    [(s.id, int(w * scale)) for s, w in zip(domain.standards, standard_weights)],
                )
            )
        self.pass_mark = [(exact(standards.pass_mark), float(standards.pass_mark))]
        self.standard_scores: dict[Ratio, tuple[str, float]] = {}  # see ``standard_score``
        self.option_answers: dict[tuple, tuple[int, str, float]] = {}  # see ``option_answer``
        self.band_mins = [(exact(b.min), float(b.min)) for b in standards.ratings]
        self.benchmarks = {c.id: c.benchmark for c in standards.criteria if c.benchmark is not None}
        self.position = {plan.id: plan.index for plan in self.plans}
        self.plan_of = {str(plan.index): plan for plan in self.plans}  # by fact id as the engine echoes it
        self.pass_mark_text = number_text(standards.pass_mark)
        self.plan_conditions(standards)
        # Framework refs in result order, with the positions of the standards mapped to each: (framework, ref,
        # positions), and how many standards the ref facts make room for.
        standard_pos = {s.id: pos for pos, s in enumerate(self.standard_list)}
        self.mapped = [
            (fid, ref, tuple(standard_pos[i] for i in ids))
            for fid, refs in standards.mapped_refs.items()
            for ref, ids in refs.items()
        ]
        # A ref mapped from more standards than one fact can carry (``MAX_REF_SLOTS``) has a fact per part of
        # them; ``ref_of_part`` names each part's ref, whose status its parts' statuses decide.
        parts = [
            (index, positions[start : start + MAX_REF_SLOTS])
            for index, (_, _, positions) in enumerate(self.mapped)
            for start in range(0, len(positions), MAX_REF_SLOTS)
        ]
        self.mapped_slots = max((len(positions) for _, positions in parts), default=0)
        self.ref_of_part = [index for index, _ in parts]
        self.ref_plans = [self.plan_ref(part, positions) for part, (_, positions) in enumerate(parts)]
        # What each stage-2 fact is, by its id as the engine echoes it: (kind, standard id or ref position; a
        # ref's part names its ref).
        self.stage_two: dict[str, tuple[int, Any]] = {
            **{str(FACT_ID_STANDARDS + pos): (STANDARD_FACT, s.id) for pos, s in enumerate(self.standard_list)},
            str(FACT_ID_RATING): (RATING_FACT, None),
            str(FACT_ID_OUTCOME): (OUTCOME_FACT, None),
            **{str(FACT_ID_MAPPED + part): (REF_FACT, ref) for part, ref in enumerate(self.ref_of_part)},
        }
        # What the flag rules' summary fact carries: only the criteria and standards they test (a fact of every
        # criterion would pass the engine's limit of fields in one fact).
        flag_criteria, flag_standards = named_by(standards.rules)
        self.flag_plans = [plan for plan in self.plans if plan.id in flag_criteria]
        self.flag_standards = [(pos, s) for pos, s in enumerate(self.standard_list) if s.id in flag_standards]
        self._applicability: dict[tuple, tuple[bool, ...]] = {}
        self.ruleset = Ruleset(
            f"{standards.id}@{standards.version}@{standards.content_hash[:12]}", build_spec(standards)
        )

    def plan_conditions(self, standards: m.StandardsSet) -> None:
        """Conditional criteria in waves by depth (``waves[0]``: those naming an unconditional criterion)."""
        self.conditions: dict[int, ConditionPlan] = {}
        self.condition_of: dict[str, CriterionPlan] = {}  # conditional criteria by condition fact id, as echoed
        by_id = {plan.id: plan for plan in self.plans}
        depth = depths(standards.criteria)
        self.waves: list[list[CriterionPlan]] = [[] for _ in range(max(depth.values(), default=0))]
        self.unconditional = [plan for plan in self.plans if plan.id not in depth]
        slots = max((len(c.when.values) for c in standards.criteria if c.when is not None), default=0)
        for index, criterion in enumerate(standards.criteria):
            if criterion.when is None:
                continue
            controller = standards.criterion_lookup[criterion.when.criterion][1]
            codes = answer_codes(controller)
            fact = condition_fact_start(
                index, FACT_ID_CONDITIONS + index, tuple(codes[v] for v in criterion.when.values), slots
            )
            self.conditions[index] = ConditionPlan(by_id[controller.id], codes, fact)
            self.condition_of[str(FACT_ID_CONDITIONS + index)] = self.plans[index]
            self.waves[depth[criterion.id] - 1].append(self.plans[index])

    def plan_ref(self, index: int, positions: tuple[int, ...]) -> tuple[str, list[tuple[int, str, str, str]], str]:
        """A ref fact's (or a part's: ``index``) start, its slots (standard position, score and major field names, neutral fields) and
        the neutral fields of its unused slots (see ``rules.mappings``)."""
        neutral = number_text(self.standards.pass_mark)  # a standard that can make a ref neither met nor not met
        slots = [(pos, f',"q{k}":', f',"j{k}":', f',"q{k}":{neutral},"j{k}":0') for k, pos in enumerate(positions)]
        padding = "".join(f',"q{k}":{neutral},"j{k}":0' for k in range(len(positions), self.mapped_slots))
        return f'{{"t":"p","id":{FACT_ID_MAPPED + index}', slots, padding

    def standard_score(self, value: Ratio) -> tuple[str, float]:
        """A standard's exact score as its fact carries it and as the result shows it. Standards take few
        distinct scores, so the first ``SCORES_KEPT`` are kept (``standard_scores``) and looked up."""
        found = (number_text(engine_float(value, self.pass_mark)), rounded(value))
        if len(self.standard_scores) < SCORES_KEPT:
            self.standard_scores[value] = found
        return found

    def option_answer(self, key: tuple, taken: tuple[int, str, float]) -> tuple[int, str, float]:
        """A multi_choice answer's credit, explanation and score (``taken``), kept by (criterion position, option
        ids chosen) for the first ``SCORES_KEPT`` answers (``option_answers``): members choose few distinct
        combinations."""
        if len(self.option_answers) < SCORES_KEPT:
            self.option_answers[key] = taken
        return taken

    def close(self) -> None:
        self.ruleset.close()

    def applicable(self, route: str, specialty: Optional[str], org_type: Optional[str]) -> tuple[bool, ...]:
        key = (route, specialty if route == "specialty" else None, org_type)
        found = self._applicability.get(key)
        if found is None:
            found = tuple(s.applies.covers(route, specialty, org_type) for s in self.standard_list)
            self._applicability[key] = found
        return found


_compiled: dict[str, CompiledStandards] = {}
_compiled_lock = threading.Lock()


def compiled(standards: m.StandardsSet) -> CompiledStandards:
    """The compiled ruleset for a version, compiled on first use and kept.

    Keyed by content hash: the same content loaded twice (from another path,
    with other comments) shares one ruleset.
    """
    found = _compiled.get(standards.content_hash)
    if found is not None:
        return found
    with _compiled_lock:
        found = _compiled.get(standards.content_hash)
        if found is None:
            found = CompiledStandards(standards)
            _compiled[standards.content_hash] = found
        return found


def release(standards: m.StandardsSet) -> None:
    """Free a version's ruleset in the engine (for long-running processes that retire versions)."""
    with _compiled_lock:
        found = _compiled.pop(standards.content_hash, None)
    if found is not None:
        found.close()

"""Scoring a member's self-assessment against one standards version.

A standards version is compiled once into a durable-rules ruleset of
data-driven rules: thresholds travel in the facts, so the ruleset stays small
however many criteria the file has. One assessment runs in two stages (three
when the file has extra rules) through one engine session:

1. criterion facts: the rules decide each criterion's credit band and so, for
   metrics, its RAG and any breach with its severity. Every graded answer is
   put "higher is better" (value, full-credit threshold, half-credit
   threshold): yes/partial/no carry 1/0.5/0 against 1 and 0.5; a metric
   carries its value against the target and the amber edge, negated when
   lower is better (negation is exact, so the comparisons are the contract's);
   a required criterion left unanswered carries nothing (0 against 1);
2. standard facts (score, pass mark, major breaches), the rating fact and the
   outcome fact (overall score, breaches, each must-meet standard's score and
   major breaches): the rules decide each standard's status, so the support
   needs, the rating band and the outcome;
3. with extra rules, the summary fact: the rules decide which flags fire.

An alliance lead's overrides (``rules.overrides``) reach the same rules in
the facts: an overridden criterion's fact carries the lead's score s instead
of the answer, graded like yes/partial/no (full credit at 1, half at 0.5); a
standard whose status the lead has set is a standard fact carrying that
status instead of a score; the outcome fact counts must-meet standards set to
not met. No rule is added for them that every fact would pass through.

Between stages Python does only plain arithmetic (weighted means). It is
exact: every number means what is written (``0.1`` is one tenth, not the
nearest binary fraction), scores are kept as integer fractions, and they reach
the engine as floats that keep the exact score's side of every threshold, so a
score of exactly 75 meets a pass mark of 75 whatever the weights. Numbers are
rounded only in the result.
"""
from __future__ import annotations

import math
import threading
from fractions import Fraction
from typing import Any, NamedTuple, Optional, Sequence

from . import model as m
from .answers import NA, Submission, read_submission
from .durable_engine import Ruleset, number_text
from .flags import compile_flag_rule, criterion_field, standard_field

CAP = 1000
NO_RATING = -1
# Fact types: c graded criterion (an unanswered required one too), l level, s scored standard,
# n standard decided without a score (nothing to score, or status set by a lead), r rating, o outcome,
# f summary for extra rules.
CREDIT_HALVES = {"criterion_full": 2, "criterion_half": 1, "criterion_zero": 0}
SCORE_OF_RULE = {"criterion_full": 100.0, "criterion_half": 50.0, "criterion_zero": 0.0}
RAG_OF_RULE = {"criterion_full": "green", "criterion_half": "amber", "criterion_zero": "red"}
SEVERITY_OF_RAG = {"amber": "minor", "red": "major"}
STATUS_OF_RULE = {"standard_met": "met", "standard_not_met": "not_met", "standard_not_scored": "not_scored",
                  "standard_set_met": "met", "standard_set_not_met": "not_met"}
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
        "criterion_level": _rule("l"),
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
    failing = {"$or": [{"has": 0}, {"$lt": {"ov": float(bands[-1].min)}},
                       *({"$and": [{"has": 1}, *band(i)]} for i in failing_bands)]}
    passing = [{"has": 1}, {"$gte": {"ov": float(bands[-1].min)}}, *(outside(i) for i in failing_bands)]
    held_back = [{"$and": band(i)} for i in approaching_bands]
    held_back += [test for k in must_meet for test in ({"$lt": {f"q{k}": pass_mark}}, {"$gt": {f"j{k}": 0}})]
    held_back.append({"$gt": {"pn": 0}})  # must-meet standards a lead has set to not met
    settled = [*(outside(i) for i in approaching_bands),
               *(test for k in must_meet for test in ({"$gte": {f"q{k}": pass_mark}}, {f"j{k}": 0})), {"pn": 0}]
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
    return spec


def plain_number(value: Any) -> str:
    """A number as people write it: 85 not 85.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def exact(value: Any) -> Fraction:
    """A number as written: a float means its shortest decimal form (0.1 is one tenth)."""
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def _lcm_of_denominators(values: Sequence[Fraction]) -> int:
    return math.lcm(1, *(v.denominator for v in values))


Ratio = tuple[int, int]  # an exact non-negative score as (numerator, denominator > 0)


def _reduced(num: int, den: int) -> Ratio:
    common = math.gcd(num, den)
    return num // common, den // common


def _round(value: Optional[Ratio]) -> Optional[float]:
    return None if value is None else round(value[0] / value[1], 1)


def _engine_float(value: Ratio, thresholds: Sequence[tuple[Fraction, float]]) -> float:
    """The score as a float for the engine, kept on its exact side of every threshold.

    Integer division rounds correctly, so only a score below a threshold but
    closer to it than float precision could compare as equal; it is moved one
    step down.
    """
    num, den = value
    result = num / den
    for threshold, as_float in thresholds:
        if result == as_float and num * threshold.denominator < threshold.numerator * den:
            result = math.nextafter(as_float, -math.inf)
    return result


class _Plan(NamedTuple):
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
    explain: dict[str, str]  # fixed explanation texts by answer or RAG
    fact: str  # the start of this criterion's stage-1 fact, as JSON text
    facts: dict[Any, str]  # choice criteria: the whole fact but its end, by answer
    level_scores: tuple[float, ...]  # level criteria: the rounded score of each level
    entries: dict[tuple[str, Any], dict[str, Any]]  # choice and level criteria: the result entry by (rule, answer)


def _plan(criterion: m.Criterion, index: int, standard: m.Standard, standard_pos: int, units: int,
          full: int) -> _Plan:
    thresholds, negate, explain, top = (1.0, 0.5), False, {}, 0
    if criterion.type in m.CHOICES:
        thresholds = (1.0, 0.5) if criterion.type == "yes_partial_no" else (1.0, 1.0)
        explain = {a: f'answered "{a}": {CHOICE_WORDS[a]}' for a in m.CHOICES[criterion.type]}
    elif criterion.type == "level":
        levels = criterion.levels or ()
        top = len(levels) - 1
        explain = {str(i): f'level {i} of 0..{top} ("{name}"): {i}/{top} = {plain_number(round(i / top, 3))}'
                   for i, name in enumerate(levels)}
    elif criterion.type == "metric":
        bench = criterion.benchmark
        assert bench is not None
        unit = criterion.unit_suffix
        target, amber = plain_number(bench.target), plain_number(bench.amber)
        if bench.direction == "higher":
            edge = float(exact(bench.target) - exact(bench.amber))
            thresholds = (float(bench.target), edge)
            below = f" and below the amber band (>= {plain_number(edge)})" if bench.amber else ""
            explain = {"green": f" >= target {target}{unit}: green, benchmark met",
                       "amber": f" < target {target}{unit}, within amber {amber} (>= {plain_number(edge)}): amber, minor breach",
                       "red": f" < target {target}{unit}{below}: red, major breach"}
        else:
            edge = float(exact(bench.target) + exact(bench.amber))
            thresholds, negate = (-float(bench.target), -edge), True
            above = f" and above the amber band (<= {plain_number(edge)})" if bench.amber else ""
            explain = {"green": f" <= target {target}{unit}: green, benchmark met",
                       "amber": f" > target {target}{unit}, within amber {amber} (<= {plain_number(edge)}): amber, minor breach",
                       "red": f" > target {target}{unit}{above}: red, major breach"}
        explain = {rag: unit + text for rag, text in explain.items()}  # what follows the value, by RAG
    if criterion.type in ("level", "text"):
        fact = f'{{"t":"l","id":{index}'
    else:
        fact = f'{{"t":"c","id":{index},"tg":{number_text(thresholds[0])},"lo":{number_text(thresholds[1])},"v":'
    facts = {a: fact + CHOICE_VALUE[a] for a in m.CHOICES.get(criterion.type, ())}
    level_scores = tuple(round(100 * i / top, 1) for i in range(top + 1)) if criterion.type == "level" else ()
    entries: dict[tuple[str, Any], dict[str, Any]] = {}
    for answer in m.CHOICES.get(criterion.type, ()):
        for rule, score in SCORE_OF_RULE.items():
            entries[rule, answer] = {"standard": standard.id, "type": criterion.type, "answer": answer,
                                     "status": "scored", "rag": None, "breach": None,
                                     "explanation": explain[answer], "score": score}
    for level, score in enumerate(level_scores):
        entries["criterion_level", level] = {"standard": standard.id, "type": "level", "answer": level,
                                             "status": "scored", "rag": None, "breach": None,
                                             "explanation": explain[str(level)], "score": score}
    return _Plan(criterion.id, index, standard.id, standard_pos, criterion.type, criterion.required,
                 units, full, top, thresholds, negate, explain, fact, facts, level_scores, entries)


class CompiledStandards:
    """A standards version with its ruleset registered in the engine and its scoring plan."""

    def __init__(self, standards: m.StandardsSet):
        self.standards = standards
        self.standard_list = standards.standards
        self.plans: list[_Plan] = []
        self.standard_plans: list[tuple[m.Standard, list[_Plan], int]] = []
        index = 0
        for pos, standard in enumerate(self.standard_list):
            weights = [exact(c.weight) for c in standard.criteria]
            scale = _lcm_of_denominators(weights)
            full = math.lcm(2, *(len(c.levels or ()) - 1 for c in standard.criteria if c.type == "level"))
            plans = []
            for criterion, weight in zip(standard.criteria, weights):
                plans.append(_plan(criterion, index, standard, pos, int(weight * scale), full))
                index += 1
            self.plans.extend(plans)
            self.standard_plans.append((standard, plans, full))
        # Standard weights in whole units per domain, domain weights in whole units per file.
        self.domain_plans: list[tuple[str, int, list[tuple[str, int]]]] = []
        domain_weights = [exact(d.weight) for d in standards.domains]
        domain_scale = _lcm_of_denominators(domain_weights)
        for domain, weight in zip(standards.domains, domain_weights):
            standard_weights = [exact(s.weight) for s in domain.standards]
            scale = _lcm_of_denominators(standard_weights)
            self.domain_plans.append((domain.id, int(weight * domain_scale),
                                      [(s.id, int(w * scale)) for s, w in zip(domain.standards, standard_weights)]))
        self.pass_mark = [(exact(standards.pass_mark), float(standards.pass_mark))]
        self.band_mins = [(exact(b.min), float(b.min)) for b in standards.ratings]
        self.benchmarks = {c.id: c.benchmark for c in standards.criteria if c.benchmark is not None}
        self._applicability: dict[tuple, tuple[bool, ...]] = {}
        self.ruleset = Ruleset(f"{standards.id}@{standards.version}@{standards.content_hash[:12]}", build_spec(standards))

    def close(self) -> None:
        self.ruleset.close()

    def applicable(self, route: str, specialty: Optional[str], org_type: Optional[str]) -> tuple[bool, ...]:
        key = (route, specialty if route == "specialty" else None, org_type)
        found = self._applicability.get(key)
        if found is None:
            found = tuple(s.applies.covers(route, specialty, org_type) for s in self.standard_list)
            self._applicability[key] = found
        return found

    def score(self, submission: Submission, overrides: Any = None) -> dict:
        """The result; with ``overrides`` (``rules.overrides.Overrides``) the lead's overrides applied."""
        if overrides is not None:
            from .overrides import score_overridden
            return score_overridden(self, submission, overrides)
        return _Assessment(self, submission).run()


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


def score(standards: m.StandardsSet, answers_doc: Any, overrides: Any = None) -> dict:
    """Score an answers document (``{"route", "specialty", "org_type", "answers"}``).

    Raises AnswersError when the answers cannot be scored, OverridesError when
    ``overrides`` name criteria or standards that do not exist or do not apply.
    """
    return compiled(standards).score(read_submission(standards, answers_doc), overrides)


def score_submission(standards: m.StandardsSet, submission: Submission, overrides: Any = None) -> dict:
    """Score answers already checked by ``read_submission`` (or the web forms)."""
    return compiled(standards).score(submission, overrides)


class _Assessment:
    """The working state of one scoring run."""

    def __init__(self, compiled_set: CompiledStandards, submission: Submission):
        self.compiled = compiled_set
        self.standards = compiled_set.standards
        self.member = submission.member
        self.answers = submission.answers
        self.applicable = compiled_set.applicable(self.member.route, self.member.specialty, self.member.org_type)
        self.details: dict[str, dict[str, Any]] = {}  # per criterion, in file order
        self.credit: dict[str, int] = {}  # in units of the plan's full credit
        self.majors: set[str] = set()  # standards with a major breach
        self.breaches: list[dict] = []
        self.unanswered: list[str] = []
        self.pinned: dict[str, str] = {}  # standard id -> status a lead has set

    # -- stage 1 --------------------------------------------------------------

    def criterion_facts(self, sid: str) -> str:
        """Stage-1 facts as JSON text (built from each criterion's precomputed start)."""
        facts = self.criterion_fact_list(sid, self.compiled.plans)
        return "[" + ",".join(facts) + "]" if facts else ""

    def criterion_fact_list(self, sid: str, plans: Sequence[_Plan]) -> list[str]:
        """The stage-1 facts of these criteria.

        Criteria the engine will decide get their result entry when it has
        (``take_criterion_matches``); their place in file order is held here.
        """
        facts = []
        end = f',"sid":"{sid}"}}'
        answers, applicable, details = self.answers, self.applicable, self.details
        for plan in plans:
            answer = answers.get(plan.id)
            if not applicable[plan.standard_pos]:
                details[plan.id] = self.entry(plan, answer, "not_applicable", "the standard does not apply to this member")
            elif answer is None:
                if not plan.required:
                    details[plan.id] = self.entry(plan, None, "not_answered",
                                                  "optional and not answered: left out of the score")
                    continue
                self.unanswered.append(plan.id)
                if plan.type == "text":
                    details[plan.id] = self.entry(plan, None, "unanswered",
                                                  "required text answer missing (text is not scored)")
                else:
                    details[plan.id] = None
                    facts.append(f'{{"t":"c","id":{plan.index},"tg":1.0,"lo":1.0,"v":0.0{end}')
            elif answer == NA:
                details[plan.id] = self.entry(plan, NA, "na", 'answered "na": left out of the score')
            elif plan.type == "text":
                details[plan.id] = self.entry(plan, answer, "not_scored", "text answer: not scored")
            else:
                details[plan.id] = None
                if plan.type == "metric":
                    facts.append(plan.fact + number_text(-answer if plan.negate else answer) + end)
                elif plan.type == "level":
                    facts.append(plan.fact + end)
                else:
                    facts.append(plan.facts[answer] + end)
        return facts

    @staticmethod
    def entry(plan: _Plan, answer: Any, status: str, explanation: str, score: Optional[float] = None,
              rag: Optional[str] = None, breach: Optional[str] = None) -> dict[str, Any]:
        """One criterion's part of the result: what was answered, decided and why."""
        return {"standard": plan.standard, "type": plan.type, "answer": answer, "status": status, "rag": rag,
                "breach": breach, "explanation": explanation, "score": score}

    def take_criterion_matches(self, matches: list[tuple[str, list[int]]]) -> None:
        plans, details, credit, answers, entry = self.compiled.plans, self.details, self.credit, self.answers, self.entry
        found_breaches = []
        for rule, fact_ids in matches:
            if rule == "criterion_level":
                for fact_id in fact_ids:
                    plan = plans[fact_id]
                    answer = answers[plan.id]
                    credit[plan.id] = answer * plan.full // plan.top
                    details[plan.id] = plan.entries[rule, answer].copy()
                continue
            halves, score, rag = CREDIT_HALVES[rule], SCORE_OF_RULE[rule], RAG_OF_RULE[rule]
            severity = SEVERITY_OF_RAG.get(rag)
            for fact_id in fact_ids:
                plan = plans[fact_id]
                answer = answers.get(plan.id)
                credit[plan.id] = plan.full * halves // 2
                if answer is None:  # required and unanswered: the rules gave it no credit
                    details[plan.id] = entry(plan, None, "unanswered", "required but not answered: scores 0", score)
                    continue
                if plan.type != "metric":
                    details[plan.id] = plan.entries[rule, answer].copy()
                    continue
                if type(answer) is int:
                    shown = str(answer)
                else:
                    shown = repr(answer) if not answer.is_integer() else plain_number(answer)
                details[plan.id] = {"standard": plan.standard, "type": "metric", "answer": answer,
                                    "status": "scored", "rag": rag, "breach": severity,
                                    "explanation": shown + plan.explain[rag], "score": score}
                if severity:
                    if severity == "major":
                        self.majors.add(plan.standard)
                    found_breaches.append((plan.index, plan, answer, severity))
        found_breaches.sort(key=lambda b: b[0])  # file order
        for _, plan, answer, severity in found_breaches:
            bench = self.compiled.benchmarks[plan.id]
            self.breaches.append({"criterion": plan.id, "standard": plan.standard, "value": answer,
                                  "target": bench.target, "direction": bench.direction, "severity": severity})

    # -- stage 2 --------------------------------------------------------------

    def standard_scores(self) -> dict[str, Optional[Ratio]]:
        """Applicable standards' exact scores (None: nothing to score)."""
        scores: dict[str, Optional[Ratio]] = {}
        credit = self.credit
        for pos, (standard, plans, full) in enumerate(self.compiled.standard_plans):
            if not self.applicable[pos]:
                continue
            counted, got, units = False, 0, 0
            for plan in plans:
                found = credit.get(plan.id)
                if found is not None:
                    counted = True
                    got += plan.units * found
                    units += plan.units
            scores[standard.id] = _reduced(100 * got, units * full) if counted and units else None
        return scores

    def standard_facts(self, scores: dict[str, Optional[Ratio]], overall: Optional[Ratio], sid: str) -> str:
        """Stage-2 facts as JSON text: one per applicable standard, the rating fact and the outcome fact."""
        end = f',"sid":"{sid}"}}'
        pass_mark = f',"pm":{number_text(self.standards.pass_mark)}'
        neutral = f'{number_text(self.standards.pass_mark)},"j{{}}":0'  # a must-meet standard that cannot hold back
        facts, must_meet = [], []
        pinned, pinned_not_met = self.pinned, 0
        for pos, standard in enumerate(self.compiled.standard_list):
            if pinned and standard.id in pinned:
                status = pinned[standard.id]
                if standard.must_meet:  # held back (or not) by the count of pinned not-met standards alone
                    must_meet.append(f',"q{len(must_meet)}":' + neutral.format(len(must_meet)))
                    pinned_not_met += status == "not_met"
                facts.append(f'{{"t":"n","id":{FACT_ID_STANDARDS + pos},"st":"{status}"{end}')
                continue
            value = scores.get(standard.id)
            if value is None:
                if standard.must_meet:
                    must_meet.append(f',"q{len(must_meet)}":' + neutral.format(len(must_meet)))
                if standard.id in scores:
                    facts.append(f'{{"t":"n","id":{FACT_ID_STANDARDS + pos},"st":"not_scored"{end}')
                continue
            score = number_text(_engine_float(value, self.compiled.pass_mark))
            major = int(standard.id in self.majors)
            if standard.must_meet:
                must_meet.append(f',"q{len(must_meet)}":{score},"j{len(must_meet)}":{major}')
            facts.append(f'{{"t":"s","id":{FACT_ID_STANDARDS + pos},"sc":{score}{pass_mark},"mj":{major}{end}')
        has = int(overall is not None)
        ov = number_text(_engine_float(overall, self.compiled.band_mins) if overall is not None else 0)
        facts.append(f'{{"t":"r","id":{FACT_ID_RATING},"has":{has},"ov":{ov}{end}')
        facts.append(f'{{"t":"o","id":{FACT_ID_OUTCOME},"has":{has},"ov":{ov},"br":{len(self.breaches)}'
                     f',"pn":{pinned_not_met}{"".join(must_meet)}{end}')
        return "[" + ",".join(facts) + "]"

    def means(self, scores: dict[str, Optional[Ratio]]) -> tuple[dict[str, Ratio], Optional[Ratio]]:
        """Exact weighted means: each domain over its scored standards, overall over scored domains."""
        domains: dict[str, Ratio] = {}
        total_num, total_den, total_weight = 0, 1, 0
        for domain_id, domain_weight, members in self.compiled.domain_plans:
            num, den, weight = 0, 1, 0
            for standard_id, standard_weight in members:
                found = scores.get(standard_id)
                if found is not None:
                    num, den = num * found[1] + standard_weight * found[0] * den, den * found[1]
                    weight += standard_weight
            if weight:
                num, den = _reduced(num, den * weight)
                domains[domain_id] = (num, den)
                total_num, total_den = _reduced(total_num * den + domain_weight * num * total_den, total_den * den)
                total_weight += domain_weight
        if not total_weight:
            return domains, None
        return domains, _reduced(total_num, total_den * total_weight)

    # -- the run --------------------------------------------------------------

    def run(self) -> dict:
        statuses: dict[str, str] = {}
        rating_index = NO_RATING
        outcome = None
        flags: list[dict] = []
        fired: list[int] = []
        standard_list = self.compiled.standard_list
        with self.compiled.ruleset.session() as session:
            facts = self.criterion_facts(session.sid)
            if facts:
                self.take_criterion_matches(session.assert_grouped(facts))
            scores = self.standard_scores()
            domain_scores, overall = self.means(scores)
            for rule, fact_id in session.assert_facts(self.standard_facts(scores, overall, session.sid)):
                if fact_id == FACT_ID_RATING:
                    if rule != "rating_none":
                        rating_index = int(rule.rsplit("_", 1)[1])
                elif fact_id == FACT_ID_OUTCOME:
                    outcome = OUTCOME_OF_RULE[rule]
                else:
                    statuses[standard_list[fact_id - FACT_ID_STANDARDS].id] = STATUS_OF_RULE[rule]
            if self.standards.rules:
                for rule, fact_id in session.assert_facts([self.summary_fact(statuses)]):
                    if rule.startswith("flag_"):
                        fired.append(int(rule.split("_", 1)[1]))
        if outcome is None:
            raise RuntimeError("the rules engine decided no outcome")
        for index in sorted(set(fired)):  # file order; an "any" rule fires once per condition that holds
            flag_rule = self.standards.rules[index]
            flags.append({"id": flag_rule.id, "severity": flag_rule.severity, "message": flag_rule.message})
        return self.result(scores, statuses, domain_scores, overall, rating_index, outcome, flags)

    def summary_fact(self, statuses: dict[str, str]) -> dict:
        fact: dict[str, Any] = {"t": "f", "id": FACT_ID_SUMMARY}
        for plan in self.compiled.plans:
            detail = self.details[plan.id]
            status = detail["status"]
            if status == "not_applicable":
                continue
            index = plan.index
            answer = detail["answer"]
            fact[criterion_field("answered", index)] = int(answer is None)  # the member's answer, overridden or not
            if answer is None or plan.type == "text":
                continue
            if answer == NA or plan.type in m.CHOICES:
                fact[criterion_field("answer", index)] = answer
            else:
                fact[criterion_field("answer", index)] = "="
                fact[criterion_field("answer", index, numeric=True)] = float(answer)
            if detail["rag"] is not None:
                fact[criterion_field("rag", index)] = detail["rag"]
                fact[criterion_field("breach", index)] = detail["breach"] or "none"
        for index, standard in enumerate(self.compiled.standard_list):
            fact[standard_field(index)] = statuses.get(standard.id, "not_applicable")
        return fact

    def result(self, scores: dict[str, Optional[Ratio]], statuses: dict[str, str], domain_scores: dict[str, Ratio],
               overall: Optional[Ratio], rating_index: int, outcome: str, flags: list[dict]) -> dict:
        standard_list = self.compiled.standard_list
        standard_results = {
            s.id: {"score": _round(scores.get(s.id)), "status": statuses.get(s.id, "not_applicable")}
            for s in standard_list
        }
        core = [] if outcome == "not_accredited" else [
            offer.id for offer in self.standards.core_proposition if offer.offered_to(self.member.route)
        ]
        return {
            "standards": {"id": self.standards.id, "version": self.standards.version},
            "route": self.member.route,
            "specialty": self.member.specialty,
            "org_type": self.member.org_type,
            "overall": _round(overall),
            "rating": self.standards.ratings[rating_index].rating if rating_index != NO_RATING else None,
            "outcome": outcome,
            "domains": {d: _round(v) for d, v in domain_scores.items()},
            "standard_results": standard_results,
            "breaches": self.breaches,
            "unanswered": self.unanswered,
            "support_needs": [s.id for s in standard_list if statuses.get(s.id) == "not_met"],
            "core_proposition": core,
            "flags": flags,
            "criteria": self.details,
            "standards_hash": self.standards.content_hash,
        }

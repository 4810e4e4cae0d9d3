"""One scoring run: a member's self-assessment against one compiled standards version.

The version is compiled once (``rules.compiling``) into a durable-rules
ruleset of data-driven rules. One assessment runs in two stages (three when
the file has extra rules) through one engine session:

1. criterion facts: the rules decide each criterion's credit band and so, for
   metrics, its RAG and any breach with its severity. Every graded answer is
   put "higher is better" (value, full-credit threshold, half-credit
   threshold): yes/partial/no carry 1/0.5/0 against 1 and 0.5; a metric
   carries its value against the target and the amber edge, negated when
   lower is better (negation is exact, so the comparisons are the contract's);
   a required criterion left unanswered carries nothing (0 against 1); a
   level, choice or multi_choice answer is matched as such and credited by
   its index or its options' scores (a multi_choice at most full credit).
   With conditional criteria (schema 2) the rules also decide which are
   asked, from one condition fact each (``rules.conditions``): the first
   assert holds every criterion's fact and the condition facts of the
   criteria whose condition names an unconditional one; each further step
   down a chain of conditions is one more assert, its facts carrying what
   the rules decided for the criterion named. What the rules graded for a
   criterion they found not asked is left out: it is neither scored,
   required, unanswered nor a breach;
2. standard facts (score, pass mark, major breaches), the rating fact and the
   outcome fact (overall score, breaches, each must-meet standard's score and
   major breaches), and with framework mappings one fact per framework ref
   (each mapped standard's score and major breaches, ``rules.mappings``): the
   rules decide each standard's status, so the support needs, the rating
   band, the outcome and each ref's status (``mapped``);
3. with extra rules, the summary fact: the rules decide which flags fire.

An alliance lead's overrides (``rules.overrides``, plain data) are applied
here, in the facts, so the same rules decide everything that follows from
them (standard scores and statuses, domains, overall, rating, outcome,
support needs, flags):

- A criterion override replaces the criterion's credit with the lead's score
  s, whatever the member answered (unanswered, "na" and optional criteria
  included: the lead has scored it). Its fact carries s instead of the
  answer, graded like yes/partial/no (full credit at 1, half at 0.5), which
  for a metric is its RAG: s = 1 green (no breach); 0.5 <= s < 1 amber (minor
  breach); s < 0.5 red (major breach, so its standard cannot be met). Other
  types have no RAG. An overridden criterion is not listed in ``unanswered``.
- A standard override sets the standard's status: its fact carries that
  status instead of a score; its score, and so every mean above it, is
  unchanged. The outcome fact counts must-meet standards set to not met: one
  set to not_met holds the outcome at working_towards; one set to met no
  longer does. Breaches inside a standard set to met remain breaches
  (conditions still apply).

No rule is added for overrides that every fact would pass through. A run with
overrides first scores the answers alone, so the result's ``overrides`` says
what each override changed, from the engine's decision to the lead's value,
and why; each overridden criterion's entry has status ``overridden``, an
explanation saying so and what the engine had decided, and the details under
``override``.

Between stages Python does only plain arithmetic (weighted means), exactly
(``rules.numbers``): a score of exactly 75 meets a pass mark of 75 whatever
the weights. Numbers are rounded only in the result.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional, Sequence

from . import model as m
from .answers import NA, Submission, read_submission
from .compiling import (
    CREDIT_HALVES,
    FACT_ID_OUTCOME,
    FACT_ID_RATING,
    FACT_ID_STANDARDS,
    FACT_ID_SUMMARY,
    NO_RATING,
    OUTCOME_OF_RULE,
    RAG_OF_RULE,
    RATING_FACT,
    REF_FACT,
    SCORE_OF_RULE,
    SEVERITY_OF_RAG,
    STANDARD_FACT,
    STATUS_OF_RULE,
    CompiledStandards,
    CriterionPlan,
    compiled,
)
from .conditions import ACTIVE_RULES, UNANSWERED, shown_answer
from .durable_engine import Session, number_text
from .flags import criterion_field, standard_field
from .mappings import STATUS_OF_RULE as MAPPED_STATUS_OF_RULE
from .mappings import combined
from .numbers import Ratio, engine_float, exact, plain_number, reduced, rounded
from .overrides import Overrides, OverridesError, check_overrides

RAG_WORDS = {"green": "green, benchmark met", "amber": "amber, minor breach", "red": "red, major breach"}
NO_OVERRIDES = Overrides()


def score(standards: m.StandardsSet, answers_doc: Any, overrides: Optional[Overrides] = None) -> dict:
    """Score an answers document (``{"route", "specialty", "org_type", "answers"}``).

    Raises AnswersError when the answers cannot be scored, OverridesError when
    ``overrides`` name criteria or standards that do not exist or do not apply.
    """
    return _run(compiled(standards), read_submission(standards, answers_doc), overrides)


def score_submission(standards: m.StandardsSet, submission: Submission, overrides: Optional[Overrides] = None) -> dict:
    """Score answers already checked by ``read_submission`` (or the web forms)."""
    return _run(compiled(standards), submission, overrides)


def _run(compiled_set: CompiledStandards, submission: Submission, overrides: Optional[Overrides]) -> dict:
    """The result; given ``overrides`` (even none), with the lead's overrides applied and listed."""
    if overrides is None:
        return _Assessment(compiled_set, submission).run()
    problems = check_overrides(compiled_set.standards, submission.member, overrides)
    if problems:
        raise OverridesError(problems)
    engine = _Assessment(compiled_set, submission)
    engine_result = engine.run()
    if not overrides:
        engine_result["overrides"] = []
        return engine_result
    return _Assessment(compiled_set, submission, overrides, engine, engine_result).run()


class _Assessment:
    """The working state of one scoring run, with a lead's overrides carried in its facts if given.

    A run with overrides is given the run on the answers alone (``engine`` and
    its result), to say what each override changed.
    """

    def __init__(
        self,
        compiled_set: CompiledStandards,
        submission: Submission,
        overrides: Optional[Overrides] = None,
        engine: Optional[_Assessment] = None,
        engine_result: Optional[dict] = None,
    ):
        self.compiled = compiled_set
        self.standards = compiled_set.standards
        self.member = submission.member
        self.answers = submission.answers
        self.applicable = compiled_set.applicable(self.member.route, self.member.specialty, self.member.org_type)
        self.details: dict[str, dict[str, Any]] = {}  # per criterion, in file order
        self.credit: dict[str, Any] = {}  # in units of the plan's full credit: int, or a Fraction from a lead
        self.majors: set[str] = set()  # standards with a major breach
        self.breaches: list[dict] = []
        self.unanswered: list[str] = []
        self.overrides = overrides or NO_OVERRIDES
        self.scores = {key: exact(o.score) for key, o in self.overrides.criteria.items()}  # criterion id -> s
        self.pinned = {key: o.status for key, o in self.overrides.standards.items()}  # standard id -> status
        self.metric_texts: dict[str, str] = {}  # float metric answers as their facts carry them (repr)
        self.engine, self.engine_result = engine, engine_result
        self.asked: dict[str, bool] = {}  # applicable conditional criteria: whether the rules found them asked

    # -- stage 1 --------------------------------------------------------------

    def decide_criteria(self, session: Session) -> None:
        """Stage 1: the rules decide each criterion's credit, and which conditional criteria are asked."""
        compiled_set = self.compiled
        facts = self.criterion_facts(session.sid, compiled_set.plans)
        if not compiled_set.waves:
            if facts:
                self.take_criterion_matches(session.assert_matched("[" + ",".join(facts) + "]"))
            return
        graded: list[tuple[str, list[str]]] = []
        asked, condition_of = self.asked, compiled_set.condition_of
        for wave in compiled_set.waves:  # the graded facts go with the first
            facts += self.condition_facts(session.sid, wave)
            if facts:
                for rule, fact_ids in session.assert_matched("[" + ",".join(facts) + "]"):
                    if rule in ACTIVE_RULES:
                        active = ACTIVE_RULES[rule]
                        for fact_id in fact_ids:
                            asked[condition_of[fact_id].id] = active
                    else:
                        graded.append((rule, fact_ids))
            facts = []
        not_asked = [plan for wave in compiled_set.waves for plan in wave if self.asked.get(plan.id) is False]
        if not_asked:  # neither scored, required, unanswered nor a breach: what the rules graded is left out
            for plan in not_asked:
                self.details[plan.id] = self.entry(
                    plan, self.answers.get(plan.id), "inactive", self.why_not_asked(plan)
                )
            left_out = {str(plan.index) for plan in not_asked}  # their facts' ids
            self.unanswered = [cid for cid in self.unanswered if asked.get(cid) is not False]
            graded = [
                (rule, fact_ids if left_out.isdisjoint(fact_ids) else [i for i in fact_ids if i not in left_out])
                for rule, fact_ids in graded
            ]
        self.take_criterion_matches(graded)

    def criterion_facts(self, sid: str, plans: Sequence[CriterionPlan]) -> list[str]:
        """Stage-1 facts of these criteria as JSON text (built from each criterion's precomputed start)."""
        if not self.scores:
            return self.criterion_fact_list(sid, plans)
        self.details.update((plan.id, None) for plan in plans)  # file order, whichever fact decides each
        facts = self.criterion_fact_list(sid, [plan for plan in plans if plan.id not in self.scores])
        end = f',"sid":"{sid}"}}'
        for plan in plans:
            if plan.id in self.scores:  # graded like yes/partial/no: full credit at 1, half at 0.5
                score = number_text(float(self.scores[plan.id]))
                facts.append(f'{{"t":"c","id":{plan.index},"tg":1.0,"lo":0.5,"v":{score}{end}')
        return facts

    def condition_facts(self, sid: str, wave: Sequence[CriterionPlan]) -> list[str]:
        """The condition facts of a wave's applicable criteria: each condition's ``in`` codes, whether the
        criterion it names is applicable and asked, and the code of its answer."""
        facts = []
        end = f',"sid":"{sid}"}}'
        applicable, conditions = self.applicable, self.compiled.conditions
        for plan in wave:
            if not applicable[plan.standard_pos]:
                continue
            condition = conditions[plan.index]
            controller = condition.controller
            asked = applicable[controller.standard_pos] and self.asked.get(controller.id, True)
            answer = self.answers.get(controller.id)
            code = condition.codes.get(answer, UNANSWERED) if isinstance(answer, (str, int)) else UNANSWERED
            facts.append(f'{condition.fact}"ca":{int(asked)},"x":{code}{end}')
        return facts

    def why_not_asked(self, plan: CriterionPlan) -> str:
        controller = self.compiled.conditions[plan.index].controller
        answer = self.answers.get(controller.id)
        if not self.applicable[controller.standard_pos]:
            state = "does not apply to this member"
        elif self.asked.get(controller.id) is False:
            state = "is not asked"
        elif answer is None:
            state = "is not answered"
        else:
            criterion = self.standards.criterion_lookup[controller.id][1]
            state = 'is answered "na"' if answer == NA else f"is {shown_answer(criterion, answer)}"
        override = " (the alliance lead's override is not applied)" if plan.id in self.scores else ""
        return f"not asked: {controller.id} {state}{override}"

    def criterion_fact_list(self, sid: str, plans: Sequence[CriterionPlan]) -> list[str]:
        """The stage-1 facts of these criteria.

        Criteria the engine will decide get their result entry when it has
        (``take_criterion_matches``); their place in file order is held here.
        """
        facts = []
        end = f',"sid":"{sid}"}}'
        answers, applicable, details, metric_texts = self.answers, self.applicable, self.details, self.metric_texts
        for plan in plans:
            answer = answers.get(plan.id)
            if not applicable[plan.standard_pos]:
                details[plan.id] = self.entry(
                    plan, answer, "not_applicable", "the standard does not apply to this member"
                )
            elif answer is None:
                if not plan.required:
                    details[plan.id] = self.entry(
                        plan, None, "not_answered", "optional and not answered: left out of the score"
                    )
                    continue
                self.unanswered.append(plan.id)
                if plan.type == "text":
                    details[plan.id] = self.entry(
                        plan, None, "unanswered", "required text answer missing (text is not scored)"
                    )
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
                    if type(answer) is float:
                        text = metric_texts[plan.id] = repr(answer)
                        if "e" in text:
                            text = number_text(-answer if plan.negate else answer)
                        elif plan.negate:  # the repr of -x is the repr of x with the sign turned
                            text = text[1:] if text[0] == "-" else "-" + text
                    else:
                        text = number_text(-answer if plan.negate else answer)
                    facts.append(plan.fact + text + end)
                elif plan.facts:  # yes_no, yes_partial_no
                    facts.append(plan.facts[answer] + end)
                else:  # level, choice, multi_choice: matched as such, credited from the plan
                    facts.append(plan.fact + end)
        return facts

    @staticmethod
    def entry(
        plan: CriterionPlan,
        answer: Any,
        status: str,
        explanation: str,
        score: Optional[float] = None,
        rag: Optional[str] = None,
        breach: Optional[str] = None,
    ) -> dict[str, Any]:
        """One criterion's part of the result: what was answered, decided and why."""
        return {
            "standard": plan.standard,
            "type": plan.type,
            "answer": answer,
            "status": status,
            "rag": rag,
            "breach": breach,
            "explanation": explanation,
            "score": score,
        }

    def take_criterion_matches(self, matches: list[tuple[str, list[str]]]) -> None:
        """Credit and result entries from what the rules decided; fact ids as the engine echoed them."""
        if self.scores:
            matches = self.take_override_matches(matches)
        plans, details, credit, answers, entry, metric_texts = (
            self.compiled.plan_of,
            self.details,
            self.credit,
            self.answers,
            self.entry,
            self.metric_texts,
        )
        found_breaches = []
        for rule, fact_ids in matches:
            if rule == "criterion_listed":  # a level's index, an option's score: from the plan
                for fact_id in fact_ids:
                    plan = plans[fact_id]
                    answer = answers[plan.id]
                    if plan.type == "level":
                        credit[plan.id] = answer * plan.full // plan.top
                    elif plan.type == "choice":
                        credit[plan.id] = plan.credits[answer]
                    else:
                        self.take_options(plan, answer)
                        continue
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
                elif answer.is_integer():
                    shown = plain_number(answer)
                else:
                    shown = metric_texts.get(plan.id) or repr(answer)
                details[plan.id] = {
                    "standard": plan.standard,
                    "type": "metric",
                    "answer": answer,
                    "status": "scored",
                    "rag": rag,
                    "breach": severity,
                    "explanation": shown + plan.explain[rag],
                    "score": score,
                }
                if severity:
                    if severity == "major":
                        self.majors.add(plan.standard)
                    found_breaches.append((plan.index, plan, answer, severity))
        found_breaches.sort(key=lambda b: b[0])  # file order
        for _, plan, answer, severity in found_breaches:
            bench = self.compiled.benchmarks[plan.id]
            self.breaches.append(
                {
                    "criterion": plan.id,
                    "standard": plan.standard,
                    "value": answer,
                    "target": bench.target,
                    "direction": bench.direction,
                    "severity": severity,
                }
            )
        if self.scores:
            position = self.compiled.position
            self.breaches.sort(key=lambda breach: position[breach["criterion"]])

    def take_options(self, plan: CriterionPlan, answer: list[str]) -> None:
        """Credit of a multi_choice answer: its options' scores added, at most full credit."""
        key = (plan.index, *answer)
        found = self.compiled.option_answers.get(key)
        if found is None:
            found = self.compiled.option_answer(key, self.options_taken(plan, answer))
        credit, explanation, score = found
        self.credit[plan.id] = credit
        self.details[plan.id] = {
            "standard": plan.standard,
            "type": "multi_choice",
            "answer": list(answer),
            "status": "scored",
            "rag": None,
            "breach": None,
            "explanation": explanation,
            "score": score,
        }

    @staticmethod
    def options_taken(plan: CriterionPlan, answer: list[str]) -> tuple[int, str, float]:
        """A multi_choice answer's credit (in units of full credit), explanation and score."""
        credits, full = plan.credits, plan.full
        total = 0
        for option_id in answer:
            total += credits[option_id]  # exact: in units of full credit
        credit = total if total < full else full
        if answer:
            scores = " + ".join([plan.explain[option_id] for option_id in answer])
            capped = ", capped at 1" if total > full else ""
            chosen = '", "'.join(answer)
            explanation = f'chose "{chosen}": {scores} = {plain_number(total / full)}{capped}'
        else:
            explanation = "chose none of the options: 0"
        return credit, explanation, round(100 * credit / full, 1)

    def take_override_matches(self, matches: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
        """Take the matches of overridden criteria's facts; the others' matches, to take as answers."""
        plans, overridden = self.compiled.plan_of, self.scores
        answered = []
        for rule, fact_ids in matches:
            ids = [fact_id for fact_id in fact_ids if plans[fact_id].id not in overridden]
            if ids:
                answered.append((rule, ids))
            for fact_id in fact_ids:
                if plans[fact_id].id in overridden:
                    self.take_override(plans[fact_id], RAG_OF_RULE[rule])
        return answered

    def take_override(self, plan: CriterionPlan, rag: str) -> None:
        """Credit, RAG and breach of a criterion as the rules decided from the lead's score."""
        score = self.scores[plan.id]
        credit = score * plan.full
        self.credit[plan.id] = int(credit) if credit.denominator == 1 else credit
        override = self.overrides.criteria[plan.id]
        answer = self.answers.get(plan.id)
        rag_or_none = rag if plan.type == "metric" else None
        severity = SEVERITY_OF_RAG.get(rag) if rag_or_none else None
        if severity:
            if severity == "major":
                self.majors.add(plan.standard)
            bench = self.compiled.benchmarks[plan.id]
            self.breaches.append(
                {
                    "criterion": plan.id,
                    "standard": plan.standard,
                    "value": answer,
                    "target": bench.target,
                    "direction": bench.direction,
                    "severity": severity,
                    "overridden": True,
                }
            )
        assert self.engine_result is not None
        before = self.engine_result["criteria"][plan.id]
        band = f" ({RAG_WORDS[rag]})" if rag_or_none else ""
        explanation = (
            f"overridden by the alliance lead to {plain_number(override.score)}{band}: "
            f'"{override.reason.strip()}"; the engine had decided: {before["explanation"]}'
        )
        entry = self.entry(plan, answer, "overridden", explanation, round(float(score) * 100, 1), rag_or_none, severity)
        entry["override"] = {
            "score": override.score,
            "reason": override.reason,
            "engine": {key: before[key] for key in ("status", "score", "rag", "breach", "explanation")},
        }
        self.details[plan.id] = entry

    # -- stage 2 --------------------------------------------------------------

    def standard_scores(self) -> dict[str, Optional[Ratio]]:
        """Applicable standards' exact scores (None: nothing to score)."""
        if self.scores:
            return self.overridden_standard_scores()
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
            scores[standard.id] = reduced(100 * got, units * full) if counted and units else None
        return scores

    def overridden_standard_scores(self) -> dict[str, Optional[Ratio]]:
        """As for answers, with a lead's credit kept as an exact fraction (it may be any s in [0, 1])."""
        scores: dict[str, Optional[Ratio]] = {}
        for pos, (standard, plans, full) in enumerate(self.compiled.standard_plans):
            if not self.applicable[pos]:
                continue
            counted = [(plan.units, self.credit[plan.id]) for plan in plans if plan.id in self.credit]
            units = sum(weight for weight, _ in counted)
            if not counted or not units:
                scores[standard.id] = None
                continue
            value = Fraction(100 * sum(weight * credit for weight, credit in counted), units * full)
            scores[standard.id] = (value.numerator, value.denominator)
        return scores

    def standard_facts(self, scores: dict[str, Optional[Ratio]], overall: Optional[Ratio], sid: str) -> str:
        """Stage-2 facts as JSON text: one per applicable standard, the rating fact, the outcome fact and one per
        framework ref."""
        end = f',"sid":"{sid}"}}'
        pass_mark = f',"pm":{self.compiled.pass_mark_text}'
        neutral = f'{self.compiled.pass_mark_text},"j{{}}":0'  # a must-meet standard that cannot hold back
        facts, must_meet = [], []
        pinned, pinned_not_met = self.pinned, 0
        mapped, standard_scores = self.compiled.mapped, self.compiled.standard_scores
        decided: dict[int, Any] = {}  # standard position -> its score and major breaches as fact text, or a set status
        for pos, standard in enumerate(self.compiled.standard_list):
            if pinned and standard.id in pinned:
                status = pinned[standard.id]
                if mapped:
                    decided[pos] = status
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
            score = (standard_scores.get(value) or self.compiled.standard_score(value))[0]
            major = int(standard.id in self.majors)
            if standard.must_meet:
                must_meet.append(f',"q{len(must_meet)}":{score},"j{len(must_meet)}":{major}')
            if mapped:
                decided[pos] = (score, major)
            facts.append(f'{{"t":"s","id":{FACT_ID_STANDARDS + pos},"sc":{score}{pass_mark},"mj":{major}{end}')
        has = int(overall is not None)
        ov = number_text(engine_float(overall, self.compiled.band_mins) if overall is not None else 0)
        facts.append(f'{{"t":"r","id":{FACT_ID_RATING},"has":{has},"ov":{ov}{end}')
        facts.append(
            f'{{"t":"o","id":{FACT_ID_OUTCOME},"has":{has},"ov":{ov},"br":{len(self.breaches)}'
            f',"pn":{pinned_not_met}{"".join(must_meet)}{end}'
        )
        if mapped:
            facts.extend(self.ref_facts(decided, end))
        return "[" + ",".join(facts) + "]"

    def ref_facts(self, decided: dict[int, Any], end: str) -> list[str]:
        """One fact per framework ref: each mapped standard's score and major breaches as its standard fact has
        them, neutral for the others; how many are decided (scored or set by a lead), and set to not met."""
        facts = []
        for start, slots, padding in self.compiled.ref_plans:
            fields, count, pinned_not_met = [], 0, 0
            for pos, score_field, major_field, neutral in slots:
                found = decided.get(pos)
                if found is None:  # not scored, or not applicable
                    fields.append(neutral)
                    continue
                count += 1
                if type(found) is str:  # set by a lead
                    fields.append(neutral)
                    pinned_not_met += found == "not_met"
                else:
                    fields.append(f"{score_field}{found[0]}{major_field}{found[1]}")
            facts.append(f'{start},"n":{count},"pn":{pinned_not_met}{"".join(fields)}{padding}{end}')
        return facts

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
                num, den = reduced(num, den * weight)
                domains[domain_id] = (num, den)
                total_num, total_den = reduced(total_num * den + domain_weight * num * total_den, total_den * den)
                total_weight += domain_weight
        if not total_weight:
            return domains, None
        return domains, reduced(total_num, total_den * total_weight)

    # -- the run --------------------------------------------------------------

    def run(self) -> dict:
        statuses: dict[str, str] = {}
        rating_index = NO_RATING
        outcome = None
        flags: list[dict] = []
        fired: list[int] = []
        stage_two = self.compiled.stage_two
        mapped_statuses: dict[int, list[str]] = {}  # ref position -> the statuses of its facts (parts)
        with self.compiled.ruleset.session() as session:
            self.decide_criteria(session)
            scores = self.standard_scores()
            domain_scores, overall = self.means(scores)
            for rule, fact_ids in session.assert_matched(self.standard_facts(scores, overall, session.sid)):
                for fact_id in fact_ids:
                    kind, key = stage_two[fact_id]
                    if kind == STANDARD_FACT:
                        statuses[key] = STATUS_OF_RULE[rule]
                    elif kind == REF_FACT:
                        mapped_statuses.setdefault(key, []).append(MAPPED_STATUS_OF_RULE[rule])
                    elif kind == RATING_FACT:
                        if rule != "rating_none":
                            rating_index = int(rule.rsplit("_", 1)[1])
                    else:
                        outcome = OUTCOME_OF_RULE[rule]
            if self.standards.rules:
                for rule, _fact_id in session.assert_facts([self.summary_fact(statuses)]):
                    if rule.startswith("flag_"):
                        fired.append(int(rule.split("_", 1)[1]))
        if outcome is None:
            raise RuntimeError("the rules engine decided no outcome")
        for index in sorted(set(fired)):  # file order; an "any" rule fires once per condition that holds
            flag_rule = self.standards.rules[index]
            flags.append({"id": flag_rule.id, "severity": flag_rule.severity, "message": flag_rule.message})
        mapped: dict[str, dict[str, str]] = {framework.id: {} for framework in self.standards.frameworks}
        for position, (framework_id, ref, _) in enumerate(self.compiled.mapped):
            mapped[framework_id][ref] = combined(mapped_statuses[position])
        return self.result(scores, statuses, domain_scores, overall, rating_index, outcome, flags, mapped)

    def summary_fact(self, statuses: dict[str, str]) -> dict:
        fact: dict[str, Any] = {"t": "f", "id": FACT_ID_SUMMARY}
        for plan in self.compiled.flag_plans:
            detail = self.details[plan.id]
            status = detail["status"]
            if status == "not_applicable" or status == "inactive":
                continue
            index = plan.index
            answer = detail["answer"]
            fact[criterion_field("answered", index)] = int(answer is None)  # the member's answer, overridden or not
            if answer is None or plan.type == "text":
                continue
            if answer == NA or plan.type in m.CHOICES or plan.type == "choice":
                fact[criterion_field("answer", index)] = answer
            elif plan.type == "multi_choice":
                continue  # a list: flag rules test only whether it is answered
            else:
                fact[criterion_field("answer", index)] = "="
                fact[criterion_field("answer", index, numeric=True)] = float(answer)
            if detail["rag"] is not None:
                fact[criterion_field("rag", index)] = detail["rag"]
                fact[criterion_field("breach", index)] = detail["breach"] or "none"
        for index, standard in self.compiled.flag_standards:
            fact[standard_field(index)] = statuses.get(standard.id, "not_applicable")
        return fact

    def result(
        self,
        scores: dict[str, Optional[Ratio]],
        statuses: dict[str, str],
        domain_scores: dict[str, Ratio],
        overall: Optional[Ratio],
        rating_index: int,
        outcome: str,
        flags: list[dict],
        mapped: dict[str, dict[str, str]],
    ) -> dict:
        standard_list = self.compiled.standard_list
        standard_scores, standard_results = self.compiled.standard_scores, {}
        for standard in standard_list:
            value = scores.get(standard.id)
            if value is not None:
                value = (standard_scores.get(value) or self.compiled.standard_score(value))[1]
            standard_results[standard.id] = {"score": value, "status": statuses.get(standard.id, "not_applicable")}
        core = (
            []
            if outcome == "not_accredited"
            else [offer.id for offer in self.standards.core_proposition if offer.offered_to(self.member.route)]
        )
        return {
            "standards": {"id": self.standards.id, "version": self.standards.version},
            "route": self.member.route,
            "specialty": self.member.specialty,
            "org_type": self.member.org_type,
            "overall": rounded(overall),
            "rating": self.standards.ratings[rating_index].rating if rating_index != NO_RATING else None,
            "outcome": outcome,
            "domains": {d: rounded(v) for d, v in domain_scores.items()},
            "standard_results": standard_results,
            "breaches": self.breaches,
            "unanswered": self.unanswered,
            "support_needs": [s.id for s in standard_list if statuses.get(s.id) == "not_met"],
            "core_proposition": core,
            "flags": flags,
            "mapped": mapped,
            "criteria": self.details,
            "standards_hash": self.standards.content_hash,
            **({"overrides": self.applied_overrides()} if self.overrides else {}),
        }

    def applied_overrides(self) -> list[dict]:
        """What each override changed, in file order: from the engine's decision on the answers to the lead's."""
        assert self.engine is not None and self.engine_result is not None
        applied = []
        engine_statuses = self.engine_result["standard_results"]
        for standard, plans, _ in self.compiled.standard_plans:
            for plan in plans:
                override = self.overrides.criteria.get(plan.id)
                if override is not None and self.details[plan.id]["status"] == "overridden":
                    applied.append(
                        {
                            "kind": "criterion",
                            "id": plan.id,
                            "standard": standard.id,
                            "from": self.engine.criterion_score(plan),
                            "to": override.score,
                            "reason": override.reason,
                        }
                    )
            pinned = self.overrides.standards.get(standard.id)
            if pinned is not None:
                applied.append(
                    {
                        "kind": "standard",
                        "id": standard.id,
                        "standard": standard.id,
                        "from": engine_statuses[standard.id]["status"],
                        "to": pinned.status,
                        "reason": pinned.reason,
                    }
                )
        return applied

    def criterion_score(self, plan: CriterionPlan) -> Optional[float]:
        """The criterion score s this run gave (None: left out of the score)."""
        credit = self.credit.get(plan.id)
        return None if credit is None else float(Fraction(credit) / plan.full)

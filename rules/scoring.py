"""Scoring a member's self-assessment against one standards version.

A standards version is compiled once into a durable-rules ruleset of
data-driven rules: the thresholds travel in the facts, so the ruleset stays
small however many criteria the file has. One assessment runs in three stages
through one engine session:

1. criterion facts: the rules decide each criterion's credit and, for
   metrics, its RAG (and so any breach and its severity);
2. standard facts (score, pass mark, major breaches) and the rating fact
   (overall score): the rules decide each standard's status (and so support
   needs) and the rating band;
3. the outcome fact and, when the file has extra rules, the summary fact:
   the rules decide the outcome and which flags fire.

Python does only the plain arithmetic between stages (weighted means, at full
precision) and rounds at output. See the contract in docs/standards.md.
"""
from __future__ import annotations

import threading
from typing import Any, Optional

from . import model as m
from .answers import NA, Member, Submission, read_submission
from .durable_engine import Ruleset
from .flags import compile_flag_rule, criterion_field, standard_field

CAP = 1000
CREDIT = {"criterion_full": 1, "criterion_half": 0.5, "criterion_zero": 0}
RAG_OF_RULE = {"criterion_full": "green", "criterion_half": "amber", "criterion_zero": "red"}
SEVERITY_OF_RAG = {"amber": "minor", "red": "major"}
STATUS_OF_RULE = {"standard_met": "met", "standard_not_met": "not_met", "standard_not_scored": "not_scored"}
OUTCOME_OF_RULE = {
    "outcome_not_accredited": "not_accredited",
    "outcome_working_towards": "working_towards",
    "outcome_accredited_with_conditions": "accredited_with_conditions",
    "outcome_accredited": "accredited",
}
NO_RATING = -1


def _one(fact_type: str, *tests: dict, cap: bool = False) -> dict:
    rule: dict[str, Any] = {"all": [{"m": {"$and": [{"t": fact_type}, *tests]}}]}
    if cap:
        rule["cap"] = CAP
    return rule


def _same(op: str, field: str, other: str) -> dict:
    return {op: {field: {"$m": other}}}


def _any_of(field: str, values: list[int]) -> dict:
    return {"$or": [{field: v} for v in values]} if len(values) > 1 else {field: values[0]}


def _none_of(field: str, values: list[int]) -> dict:
    return {"$and": [{"$neq": {field: v}} for v in values]} if len(values) > 1 else {"$neq": {field: values[0]}}


def build_spec(standards: m.StandardsSet) -> dict[str, dict]:
    """The durable-rules ruleset for one standards version."""
    higher, lower = {"k": "mh"}, {"k": "ml"}
    spec: dict[str, dict] = {
        # Stage 1: criterion credit. k: ch (choice), lv (level), mh/ml (metric, higher/lower better), un (unanswered required).
        "criterion_full": _one("c", {"$or": [
            {"a": "yes"},
            {"$and": [higher, _same("$gte", "v", "tg")]},
            {"$and": [lower, _same("$lte", "v", "tg")]},
        ]}, cap=True),
        "criterion_half": _one("c", {"$or": [
            {"a": "partial"},
            {"$and": [higher, _same("$lt", "v", "tg"), _same("$gte", "v", "lo")]},
            {"$and": [lower, _same("$gt", "v", "tg"), _same("$lte", "v", "hi")]},
        ]}, cap=True),
        "criterion_zero": _one("c", {"$or": [
            {"a": "no"},
            {"k": "un"},
            {"$and": [higher, _same("$lt", "v", "lo")]},
            {"$and": [lower, _same("$gt", "v", "hi")]},
        ]}, cap=True),
        "criterion_level": _one("c", {"k": "lv"}, cap=True),
        # Stage 2: standard status and rating band.
        "standard_met": _one("s", {"ns": 0}, {"mj": 0}, _same("$gte", "sc", "pm"), cap=True),
        "standard_not_met": _one("s", {"ns": 0}, {"$or": [_same("$lt", "sc", "pm"), {"$gt": {"mj": 0}}]}, cap=True),
        "standard_not_scored": _one("s", {"ns": 1}, cap=True),
    }
    bands = standards.ratings  # highest min first
    for index, band in enumerate(bands):
        tests: list[dict] = [{"has": 1}, {"$gte": {"ov": float(band.min)}}]
        if index > 0:
            tests.append({"$lt": {"ov": float(bands[index - 1].min)}})
        spec[f"rating_{index}"] = _one("r", *tests)
    lowest = float(bands[-1].min) if bands else None
    no_rating = [{"has": 0}] + ([{"$lt": {"ov": lowest}}] if lowest is not None else [{"has": 1}])
    spec["rating_none"] = _one("r", {"$or": no_rating})
    # Stage 3: outcome, first that holds (written as exclusive conditions).
    failing = [NO_RATING] + [i for i, b in enumerate(bands) if b.rating == "not_met"]
    approaching = [i for i, b in enumerate(bands) if b.rating == "approaching"]
    passing = _none_of("rt", failing)
    towards: list[dict] = [{"$gt": {"mmf": 0}}] + ([_any_of("rt", approaching)] if approaching else [])
    settled = [passing, {"mmf": 0}] + ([_none_of("rt", approaching)] if approaching else [])
    spec["outcome_not_accredited"] = _one("o", _any_of("rt", failing))
    spec["outcome_working_towards"] = _one("o", passing, {"$or": towards})
    spec["outcome_accredited_with_conditions"] = _one("o", *settled, {"$gt": {"br": 0}})
    spec["outcome_accredited"] = _one("o", *settled, {"br": 0})
    if standards.rules:
        criterion_index = {c.id: i for i, c in enumerate(standards.criteria)}
        standard_index = {s.id: i for i, s in enumerate(standards.standards)}
        for index, rule in enumerate(standards.rules):
            spec[f"flag_{index}"] = compile_flag_rule(rule, criterion_index, standard_index)
        spec["flags_checked"] = _one("f")
    return spec


class CompiledStandards:
    """A standards version with its ruleset registered in the engine."""

    def __init__(self, standards: m.StandardsSet):
        self.standards = standards
        self.criteria = standards.criteria
        self.standard_list = standards.standards
        self.ruleset = Ruleset(f"{standards.id}@{standards.version}@{standards.content_hash[:12]}", build_spec(standards))

    def close(self) -> None:
        self.ruleset.close()

    def score(self, submission: Submission) -> dict:
        return _Assessment(self, submission).run()


_compiled: dict[str, CompiledStandards] = {}
_compiled_lock = threading.Lock()


def compiled(standards: m.StandardsSet) -> CompiledStandards:
    """The compiled ruleset for a version, compiled on first use and kept (keyed by content hash)."""
    found = _compiled.get(standards.content_hash)
    if found is not None and found.standards == standards:
        return found
    with _compiled_lock:
        found = _compiled.get(standards.content_hash)
        if found is None or found.standards != standards:
            found = CompiledStandards(standards)
            _compiled[standards.content_hash] = found
        return found


def release(standards: m.StandardsSet) -> None:
    """Free a version's ruleset in the engine (for long-running processes that retire versions)."""
    with _compiled_lock:
        found = _compiled.pop(standards.content_hash, None)
    if found is not None:
        found.close()


def score(standards: m.StandardsSet, answers_doc: Any) -> dict:
    """Score an answers document (``{"route", "specialty", "org_type", "answers"}``).

    Raises AnswersError when the answers cannot be scored.
    """
    return compiled(standards).score(read_submission(standards, answers_doc))


def score_submission(standards: m.StandardsSet, submission: Submission) -> dict:
    return compiled(standards).score(submission)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)


class _Assessment:
    """The working state of one scoring run."""

    def __init__(self, compiled_set: CompiledStandards, submission: Submission):
        self.compiled = compiled_set
        self.standards = compiled_set.standards
        self.member: Member = submission.member
        self.answers = submission.answers
        self.applicable = {
            s.id: s.applies.covers(self.member.route, self.member.specialty, self.member.org_type)
            for s in compiled_set.standard_list
        }
        # Per criterion: answer, credit, rag, status, explanation.
        self.criteria: dict[str, dict[str, Any]] = {}
        self.breaches: list[dict] = []
        self.unanswered: list[str] = []

    # -- stage 1 --------------------------------------------------------------

    def criterion_facts(self) -> list[dict]:
        facts = []
        for index, criterion in enumerate(self.compiled.criteria):
            standard_id = self._standard_of[criterion.id]
            detail: dict[str, Any] = {"standard": standard_id, "type": criterion.type,
                                      "answer": self.answers.get(criterion.id)}
            self.criteria[criterion.id] = detail
            if not self.applicable[standard_id]:
                detail.update(status="not_applicable", explanation="the standard does not apply to this member")
                continue
            answer = detail["answer"]
            if answer is None:
                if criterion.required:
                    self.unanswered.append(criterion.id)
                    if criterion.scored:
                        facts.append({"t": "c", "i": index, "k": "un"})
                        continue
                    detail.update(status="unanswered", explanation="required text answer missing (text is not scored)")
                else:
                    detail.update(status="not_answered", explanation="optional and not answered: left out of the score")
                continue
            if answer == NA:
                detail.update(status="na", explanation='answered "na": left out of the score')
                continue
            if criterion.type == "text":
                detail.update(status="not_scored", explanation="text answer: not scored")
                continue
            if criterion.type in m.CHOICES:
                facts.append({"t": "c", "i": index, "k": "ch", "a": answer})
            elif criterion.type == "level":
                facts.append({"t": "c", "i": index, "k": "lv"})
            else:
                bench = criterion.benchmark
                assert bench is not None
                target = float(bench.target)
                fact = {"t": "c", "i": index, "v": float(answer), "tg": target}
                if bench.direction == "higher":
                    fact.update(k="mh", lo=target - bench.amber)
                else:
                    fact.update(k="ml", hi=target + bench.amber)
                facts.append(fact)
        return facts

    def take_criterion_matches(self, matches: list[tuple[str, dict]]) -> None:
        for rule, fact in matches:
            criterion = self.compiled.criteria[fact["i"]]
            detail = self.criteria[criterion.id]
            if fact["k"] == "un":
                detail.update(status="unanswered", credit=0, explanation="required but not answered: scores 0")
                continue
            if rule == "criterion_level":
                top = len(criterion.levels or ()) - 1
                answer = detail["answer"]
                credit = answer / top
                name = (criterion.levels or ())[answer]
                detail.update(status="scored", credit=credit,
                              explanation=f'level {answer} of 0..{top} ("{name}"): {answer}/{top} = {_num(round(credit, 3))}')
                continue
            credit = CREDIT[rule]
            if fact["k"] == "ch":
                word = {1: "full credit", 0.5: "half credit", 0: "no credit"}[credit]
                detail.update(status="scored", credit=credit, explanation=f'answered "{fact["a"]}": {word} ({_num(credit)})')
                continue
            rag = RAG_OF_RULE[rule]
            detail.update(status="scored", credit=credit, rag=rag,
                          explanation=self._metric_explanation(criterion, detail["answer"], rag))
            severity = SEVERITY_OF_RAG.get(rag)
            if severity:
                bench = criterion.benchmark
                assert bench is not None
                detail["breach"] = severity
                self.breaches.append({
                    "criterion": criterion.id, "standard": detail["standard"], "value": detail["answer"],
                    "target": bench.target, "direction": bench.direction, "severity": severity,
                })

    @staticmethod
    def _metric_explanation(criterion: m.Criterion, value: Any, rag: str) -> str:
        bench = criterion.benchmark
        assert bench is not None
        v, target, amber = _num(value), _num(bench.target), _num(bench.amber)
        unit = criterion.unit or ""
        if bench.direction == "higher":
            edge = _num(bench.target - bench.amber)
            if rag == "green":
                return f"{v}{unit} >= target {target}{unit}: green, benchmark met"
            if rag == "amber":
                return f"{v}{unit} < target {target}{unit}, within amber {amber} (>= {edge}): amber, minor breach"
            band = f" and below the amber band (>= {edge})" if bench.amber else ""
            return f"{v}{unit} < target {target}{unit}{band}: red, major breach"
        edge = _num(bench.target + bench.amber)
        if rag == "green":
            return f"{v}{unit} <= target {target}{unit}: green, benchmark met"
        if rag == "amber":
            return f"{v}{unit} > target {target}{unit}, within amber {amber} (<= {edge}): amber, minor breach"
        band = f" and above the amber band (<= {edge})" if bench.amber else ""
        return f"{v}{unit} > target {target}{unit}{band}: red, major breach"

    # -- stage 2 --------------------------------------------------------------

    def standard_scores(self) -> dict[str, Optional[float]]:
        scores: dict[str, Optional[float]] = {}
        for standard in self.compiled.standard_list:
            if not self.applicable[standard.id]:
                continue
            counted = [(c.weight, self.criteria[c.id]["credit"]) for c in standard.criteria
                       if "credit" in self.criteria[c.id]]
            total = sum(w for w, _ in counted)
            scores[standard.id] = 100 * sum(w * s for w, s in counted) / total if counted and total != 0 else None
        return scores

    def standard_facts(self, scores: dict[str, Optional[float]]) -> list[dict]:
        facts = []
        pass_mark = float(self.standards.pass_mark)
        for index, standard in enumerate(self.compiled.standard_list):
            if standard.id not in scores:
                continue
            score_value = scores[standard.id]
            if score_value is None:
                facts.append({"t": "s", "i": index, "ns": 1})
                continue
            majors = sum(1 for c in standard.criteria if self.criteria[c.id].get("breach") == "major")
            facts.append({"t": "s", "i": index, "ns": 0, "sc": float(score_value), "pm": pass_mark, "mj": majors})
        return facts

    def means(self, scores: dict[str, Optional[float]]) -> tuple[dict[str, float], Optional[float]]:
        domains: dict[str, float] = {}
        for domain in self.standards.domains:
            counted = [(s.weight, scores[s.id]) for s in domain.standards if scores.get(s.id) is not None]
            if counted:
                domains[domain.id] = sum(w * v for w, v in counted) / sum(w for w, _ in counted)
        weights = {d.id: d.weight for d in self.standards.domains}
        if not domains:
            return domains, None
        overall = sum(weights[d] * v for d, v in domains.items()) / sum(weights[d] for d in domains)
        return domains, overall

    # -- the run --------------------------------------------------------------

    def run(self) -> dict:
        self._standard_of = {c.id: s.id for s in self.compiled.standard_list for c in s.criteria}
        statuses: dict[str, str] = {}
        rating_index = NO_RATING
        outcome = None
        flags: list[dict] = []
        with self.compiled.ruleset.session() as session:
            self.take_criterion_matches(session.assert_facts(self.criterion_facts()))
            scores = self.standard_scores()
            domain_scores, overall = self.means(scores)
            stage2 = self.standard_facts(scores)
            stage2.append({"t": "r", "has": int(overall is not None), "ov": float(overall or 0)})
            for rule, fact in session.assert_facts(stage2):
                if fact["t"] == "s":
                    statuses[self.compiled.standard_list[fact["i"]].id] = STATUS_OF_RULE[rule]
                elif rule != "rating_none":
                    rating_index = int(rule.rsplit("_", 1)[1])
            must_meet_failed = sum(1 for s in self.compiled.standard_list
                                   if s.must_meet and statuses.get(s.id) == "not_met")
            stage3 = [{"t": "o", "rt": rating_index, "mmf": must_meet_failed, "br": len(self.breaches)}]
            if self.standards.rules:
                stage3.append(self.summary_fact(statuses))
            for rule, fact in session.assert_facts(stage3):
                if fact["t"] == "o":
                    outcome = OUTCOME_OF_RULE[rule]
                elif rule.startswith("flag_"):
                    flag_rule = self.standards.rules[int(rule.split("_", 1)[1])]
                    flags.append({"id": flag_rule.id, "severity": flag_rule.severity, "message": flag_rule.message})
        if outcome is None:
            raise RuntimeError("the rules engine decided no outcome")
        return self.result(scores, statuses, domain_scores, overall, rating_index, outcome, flags)

    def summary_fact(self, statuses: dict[str, str]) -> dict:
        fact: dict[str, Any] = {"t": "f"}
        for index, criterion in enumerate(self.compiled.criteria):
            detail = self.criteria[criterion.id]
            if detail["status"] == "not_applicable":
                continue
            fact[criterion_field("answered", index)] = int(detail["status"] in ("unanswered", "not_answered"))
            answer = detail["answer"]
            if answer is None or criterion.type == "text":
                continue
            if answer == NA:
                fact[criterion_field("answer", index)] = NA
                continue
            if criterion.type in m.CHOICES:
                fact[criterion_field("answer", index)] = answer
            else:
                fact[criterion_field("answer", index)] = "="
                fact[criterion_field("answer", index, numeric=True)] = float(answer)
            if "rag" in detail:
                fact[criterion_field("rag", index)] = detail["rag"]
                fact[criterion_field("breach", index)] = detail.get("breach", "none")
        for index, standard in enumerate(self.compiled.standard_list):
            fact[standard_field(index)] = statuses.get(standard.id, "not_applicable")
        return fact

    def result(self, scores: dict[str, Optional[float]], statuses: dict[str, str], domain_scores: dict[str, float],
               overall: Optional[float], rating_index: int, outcome: str, flags: list[dict]) -> dict:
        standard_results = {}
        for standard in self.compiled.standard_list:
            status = statuses.get(standard.id, "not_applicable")
            standard_results[standard.id] = {"score": _round(scores.get(standard.id)), "status": status}
        rating = self.standards.ratings[rating_index].rating if rating_index != NO_RATING else None
        support_needs = [s.id for s in self.compiled.standard_list if statuses.get(s.id) == "not_met"]
        core = [] if outcome == "not_accredited" else [
            offer.id for offer in self.standards.core_proposition if offer.offered_to(self.member.route)
        ]
        criteria = {}
        for criterion_id, detail in self.criteria.items():
            shown = {key: detail.get(key) for key in ("standard", "type", "answer", "status", "rag", "breach", "explanation")}
            shown["score"] = _round(100.0 * detail["credit"]) if "credit" in detail else None
            criteria[criterion_id] = shown
        return {
            "standards": {"id": self.standards.id, "version": self.standards.version},
            "route": self.member.route,
            "specialty": self.member.specialty,
            "org_type": self.member.org_type,
            "overall": _round(overall),
            "rating": rating,
            "outcome": outcome,
            "domains": {d: _round(v) for d, v in domain_scores.items()},
            "standard_results": standard_results,
            "breaches": self.breaches,
            "unanswered": self.unanswered,
            "support_needs": support_needs,
            "core_proposition": core,
            "flags": flags,
            "criteria": criteria,
            "standards_hash": self.standards.content_hash,
        }

"""A plain-Python reading of the standards-format contract's scoring, for differential tests.

Written from the contract text alone (it shares no code with ``rules``) so
that the engine and this file can only agree by both being right. It takes the
standards document as parsed from YAML, before any defaults, and answers that
are already valid; it does not validate either.

Arithmetic is exact: every number means what is written in the file or the
answers (``0.1`` is one tenth), sums and means are kept as fractions, and the
result is rounded to one decimal (Python ``round``) only when it is returned.
That is the contract's "computed at full precision".

Where the contract is silent this follows docs/standards.md: ``None`` and a
blank text answer are "not answered"; an overall score below every rating band
has no rating and is not accredited.

Schema 2 (the contract's "Schema 2" section): metric ranges (``min``/``max``)
only limit answers, so they change no score; ``choice`` scores its option's
``score`` (default 0) and ``multi_choice`` min(1, the sum of its chosen
options' scores), the empty list included; a criterion with ``when`` is active
only when the criterion it names (earlier in the file) is applicable, active
and answered with a value in ``in`` (a level answer ``2.0`` is the index 2),
and an inactive criterion counts for nothing, like one of a standard that does
not apply; ``mapped`` gives every declared framework, in declaration order, its
refs in order of first appearance, each ``not_met`` if a standard mapped to it
is not met, else ``met`` if one is met, else ``not_assessed``. A schema 1 file
has no ``frameworks``, so ``mapped`` is ``{}``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional

DEFAULT_PASS_MARK = 75
DEFAULT_RATINGS = [
    {"rating": "exemplary", "min": 90},
    {"rating": "met", "min": 75},
    {"rating": "approaching", "min": 50},
    {"rating": "not_met", "min": 0},
]
CHOICE_CREDIT = {"yes": Fraction(1), "partial": Fraction(1, 2), "no": Fraction(0)}
HALF = Fraction(1, 2)


def exact(value: Any) -> Fraction:
    """The number as written: a float means its shortest decimal form, not its binary value."""
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(value))


def _out(value: Optional[Fraction]) -> Optional[float]:
    return None if value is None else round(float(value), 1)


def _applies(standard: dict, route: str, specialty: Optional[str], org_type: Optional[str]) -> bool:
    applies = standard.get("applies") or {}
    routes = applies.get("routes")
    if routes is not None and route not in routes:
        return False
    org_types = applies.get("org_types")
    if org_types is not None and org_type not in org_types:
        return False
    specialties = applies.get("specialties")
    if route == "specialty" and specialties is not None and specialty not in specialties:
        return False
    return True


def condition_value(criterion: dict, answer: Any) -> Any:
    """What a ``when`` compares: the answer, a level's as a whole index; None when there is none to compare."""
    if answer is None or answer == "na":
        return None
    if criterion["type"] == "level" and isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return int(answer)
    return answer


def is_active(criterion: dict, values: dict[str, Any]) -> bool:
    """For a criterion of an applicable standard; ``values`` holds the condition value of every earlier
    applicable, active criterion (a criterion of a standard that does not apply is never active)."""
    when = criterion.get("when")
    if when is None:
        return True
    value = values.get(when["criterion"])
    return value is not None and value in when["in"]


def _option_scores(criterion: dict) -> dict[str, Fraction]:
    return {option["id"]: exact(option.get("score", 0)) for option in criterion["options"]}


def _credit(criterion: dict, answer: Any) -> Fraction:
    """Score in [0, 1] of a valid answer to a scored, non-metric criterion."""
    ctype = criterion["type"]
    if ctype in ("yes_no", "yes_partial_no"):
        return CHOICE_CREDIT[answer]
    if ctype == "level":
        return Fraction(int(answer), len(criterion["levels"]) - 1)
    if ctype == "choice":
        return _option_scores(criterion)[answer]
    scores = _option_scores(criterion)
    return min(Fraction(1), sum((scores[option] for option in answer), Fraction(0)))


def _mapped(doc: dict, standard_results: dict[str, dict]) -> dict[str, dict[str, str]]:
    statuses: dict[str, dict[str, list[str]]] = {framework: {} for framework in doc.get("frameworks") or {}}
    for domain in doc.get("domains") or []:
        for standard in domain.get("standards") or []:
            for mapping in standard.get("maps_to") or []:
                refs = statuses[mapping["framework"]]
                refs.setdefault(mapping["ref"], []).append(standard_results[standard["id"]]["status"])
    return {
        framework: {
            ref: "not_met" if "not_met" in found else "met" if "met" in found else "not_assessed"
            for ref, found in refs.items()
        }
        for framework, refs in statuses.items()
    }


def _unanswered(criterion: dict, answer: Any) -> bool:
    if answer is None:
        return True
    return criterion["type"] == "text" and isinstance(answer, str) and answer != "na" and not answer.strip()


def _rag(value: Any, benchmark: dict) -> str:
    v, target = exact(value), exact(benchmark["target"])
    amber = exact(benchmark.get("amber", 0))
    if benchmark["direction"] == "higher":
        if v >= target:
            return "green"
        return "amber" if target - amber <= v else "red"
    if v <= target:
        return "green"
    return "amber" if v <= target + amber else "red"


def reference_score(doc: dict, answers_doc: dict) -> dict:
    """The contract's result for one member's answers (only the contract's keys)."""
    route = answers_doc["route"]
    specialty = answers_doc.get("specialty")
    org_type = answers_doc.get("org_type")
    answers = answers_doc.get("answers") or {}
    pass_mark = exact(doc.get("pass_mark", DEFAULT_PASS_MARK))

    standard_results: dict[str, dict] = {}
    breaches: list[dict] = []
    unanswered: list[str] = []
    support_needs: list[str] = []
    domain_scores: dict[str, Fraction] = {}
    domain_weights: dict[str, Fraction] = {}
    values: dict[str, Any] = {}  # condition values of applicable, active criteria, for later `when`s
    must_meet_failed = False

    for domain in doc.get("domains") or []:
        domain_sum = Fraction(0)
        domain_weight = Fraction(0)
        for standard in domain.get("standards") or []:
            sid = standard["id"]
            if not _applies(standard, route, specialty, org_type):
                standard_results[sid] = {"score": None, "status": "not_applicable"}
                continue
            weighted = Fraction(0)
            weights = Fraction(0)
            counted = 0
            major = False
            for criterion in standard.get("criteria") or []:
                cid, ctype = criterion["id"], criterion["type"]
                if not is_active(criterion, values):
                    continue  # inactive: neither required, scored, unanswered nor a breach; its answer ignored
                weight = exact(criterion.get("weight", 1))
                answer = answers.get(cid)
                values[cid] = condition_value(criterion, answer)
                if _unanswered(criterion, answer):
                    if criterion.get("required", True):
                        unanswered.append(cid)
                        if ctype != "text":
                            counted += 1
                            weights += weight
                    continue
                if answer == "na" or ctype == "text":
                    continue
                if ctype != "metric":
                    credit = _credit(criterion, answer)
                else:
                    benchmark = criterion["benchmark"]
                    rag = _rag(answer, benchmark)
                    credit = {"green": Fraction(1), "amber": HALF, "red": Fraction(0)}[rag]
                    if rag != "green":
                        severity = "minor" if rag == "amber" else "major"
                        major = major or severity == "major"
                        breaches.append(
                            {
                                "criterion": cid,
                                "standard": sid,
                                "value": answer,
                                "target": benchmark["target"],
                                "direction": benchmark["direction"],
                                "severity": severity,
                            }
                        )
                counted += 1
                weighted += weight * credit
                weights += weight
            if counted == 0 or weights == 0:
                standard_results[sid] = {"score": None, "status": "not_scored"}
                continue
            score = 100 * weighted / weights
            status = "met" if score >= pass_mark and not major else "not_met"
            standard_results[sid] = {"score": _out(score), "status": status}
            if status == "not_met":
                support_needs.append(sid)
                if standard.get("must_meet", False):
                    must_meet_failed = True
            standard_weight = exact(standard.get("weight", 1))
            domain_sum += standard_weight * score
            domain_weight += standard_weight
        if domain_weight:
            domain_scores[domain["id"]] = domain_sum / domain_weight
            domain_weights[domain["id"]] = exact(domain.get("weight", 1))

    overall: Optional[Fraction] = None
    if domain_scores:
        total = sum(domain_weights.values())
        overall = sum(domain_weights[d] * domain_scores[d] for d in domain_scores) / total

    rating: Optional[str] = None
    if overall is not None:
        best: Optional[Fraction] = None
        for band in doc.get("ratings") or DEFAULT_RATINGS:
            low = exact(band["min"])
            if low <= overall and (best is None or low > best):
                best, rating = low, band["rating"]

    if overall is None or rating is None or rating == "not_met":
        outcome = "not_accredited"
    elif rating == "approaching" or must_meet_failed:
        outcome = "working_towards"
    elif breaches:
        outcome = "accredited_with_conditions"
    else:
        outcome = "accredited"

    core: list[str] = []
    if outcome != "not_accredited":
        for entry in doc.get("core_proposition") or []:
            routes = entry.get("routes")
            if routes is None or route in routes:
                core.append(entry["id"])

    return {
        "standards": {"id": doc["id"], "version": doc["version"]},
        "route": route,
        "specialty": specialty,
        "org_type": org_type,
        "overall": _out(overall),
        "rating": rating,
        "outcome": outcome,
        "domains": {d: _out(v) for d, v in domain_scores.items()},
        "standard_results": standard_results,
        "breaches": breaches,
        "unanswered": unanswered,
        "support_needs": support_needs,
        "core_proposition": core,
        "mapped": _mapped(doc, standard_results),
    }

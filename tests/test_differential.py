"""The engine against the plain-Python reference scorer, on random standards and answers.

Hypothesis writes random valid standards documents (every criterion type,
weights including 0 and fractions, must-meet standards, applicability by
route, specialty and org type, custom pass marks and rating bands, metrics in
both directions with and without amber) and random valid answers (na,
unanswered, null, answers to standards that do not apply, metric values on
and just around every benchmark edge, ints and floats). The engine's result
must equal the reference's on every key of the contract, down to the JSON
text (so 82 stays 82 and 82.0 stays 82.0).

Schema 2 files add choice and multi_choice criteria with option scores,
conditional criteria (``when``, chained, naming criteria of any earlier
standard, some of which do not apply), metric ranges, and ``frameworks`` with
``maps_to`` sharing refs across standards; their answers add option ids,
lists of options (empty ones too) and answers, bogus ones included, to
criteria that turn out inactive. A percentage metric keeps its target and
answers inside 0..100 in both schemas (the range the contract gives it).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Optional

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rules
from tests.builders import answers, criterion, document, domain, load, one_standard, standard
from tests.reference_scorer import _applies, condition_value, is_active, reference_score

CONTRACT_KEYS = (
    "standards",
    "route",
    "specialty",
    "org_type",
    "overall",
    "rating",
    "outcome",
    "domains",
    "standard_results",
    "breaches",
    "unanswered",
    "support_needs",
    "core_proposition",
)
SCHEMA_2_KEYS = CONTRACT_KEYS + ("mapped",)

ROUTES = ("full", "specialty", "associate")
SPECIALTIES = ("orthopaedics", "cardiology", "ophthalmology")
ORG_TYPES = ("acute", "community", "specialist")
CRITERION_WEIGHTS = (0, 0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.7, 1, 1, 1.5, 2, 3)
WEIGHTS = (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1, 1.5, 2, 3)
PASS_MARKS = (0, 33.3, 50, 62.5, 66.7, 70, 75, 75.0, 80, 100)
RATING_NAMES = ("exemplary", "met", "approaching", "not_met", "gold", "bronze")
RATING_MINS = (0, 0, 10, 25, 33.3, 50, 62.5, 66.7, 70, 75, 87.5, 90, 100)
TARGETS = (0, 1, 2.1, 3.5, 4.1, 7.1, 12, 50, 85, 92.5, 95, 100, -5, -0.3, 1000)
AMBERS = (0, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 2.5, 5, 10)
TYPES = ("yes_no", "yes_partial_no", "level", "metric", "text")
TYPES_2 = TYPES + ("choice", "multi_choice", "choice", "multi_choice")
CONDITION_TYPES = ("yes_no", "yes_partial_no", "level", "choice")
OPTION_SCORES = (0, 0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 1, 1)
OPTION_IDS = ("none", "phone", "clinic", "nhfd", "njr", "other", "a-1", "b-2")
FRAMEWORKS = ("cqc", "dspt", "caf")
REFS = ("Safe: safe systems", "Effective: outcomes", "Well-led: governance", "1.1", "A1.a")
RANGES = ((0, 100), (-10, 10), (0, 5), (-1000, 2000))
BOGUS = ("bogus", "na", 99, True, -1.5, None)
BOGUS_2 = BOGUS + ([], ["nope"], "clinic", 2)

FAST = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _nonempty_subset(draw: st.DrawFn, pool: tuple[str, ...]) -> list[str]:
    return draw(st.lists(st.sampled_from(pool), min_size=1, max_size=len(pool), unique=True))


def _maybe(draw: st.DrawFn, body: dict, key: str, strategy: st.SearchStrategy) -> None:
    """Set the key, or leave it out so the default applies."""
    if draw(st.booleans()):
        body[key] = draw(strategy)


@st.composite
def criteria_of(draw: st.DrawFn, counter: list[int], types: tuple[str, ...] = TYPES) -> dict:
    counter[0] += 1
    ctype = draw(st.sampled_from(types))
    body: dict[str, Any] = {"id": f"C{counter[0]}", "text": f"Criterion {counter[0]}", "type": ctype}
    _maybe(draw, body, "weight", st.sampled_from(CRITERION_WEIGHTS))
    _maybe(draw, body, "required", st.booleans())
    _maybe(draw, body, "allow_na", st.booleans())
    _maybe(draw, body, "evidence", st.sampled_from(("required", "optional", "none")))
    if ctype == "level":
        body["levels"] = [f"Level {i}" for i in range(draw(st.integers(2, 6)))]
    if ctype == "metric":
        bench: dict[str, Any] = {
            "target": draw(st.sampled_from(TARGETS)),
            "direction": draw(st.sampled_from(("higher", "lower"))),
        }
        _maybe(draw, bench, "amber", st.sampled_from(AMBERS))
        body["benchmark"] = bench
        _maybe(draw, body, "unit", st.sampled_from(("%", " days", "per 1,000")))
        if body.get("unit") == "%":  # a percentage ranges over 0..100: so does its target
            bench["target"] = min(max(bench["target"], 0), 100)
    return body


def condition_answers(item: dict) -> list[Any]:
    """Every answer of a criterion a `when` may name, as its `in` lists them."""
    if item["type"] == "level":
        return list(range(len(item["levels"])))
    if item["type"] == "choice":
        return [option["id"] for option in item["options"]]
    return ["yes", "no"] if item["type"] == "yes_no" else ["yes", "partial", "no"]


@st.composite
def options_of(draw: st.DrawFn) -> list[dict]:
    ids = draw(st.lists(st.sampled_from(OPTION_IDS), min_size=2, max_size=5, unique=True))
    options = []
    for number, ident in enumerate(ids):
        option: dict[str, Any] = {"id": ident, "text": f"Option {number}"}
        _maybe(draw, option, "score", st.sampled_from(OPTION_SCORES))
        options.append(option)
    return options


@st.composite
def criteria_of_2(draw: st.DrawFn, counter: list[int], earlier: list[dict]) -> dict:
    """A schema 2 criterion; ``earlier`` holds the criteria before it that a `when` may name (file order)."""
    body = draw(criteria_of(counter, TYPES_2))
    if body["type"] in ("choice", "multi_choice"):
        body["options"] = draw(options_of())
    if body["type"] == "metric" and draw(st.integers(0, 2)) == 0:
        low, high = draw(st.sampled_from(RANGES))
        given = draw(st.sampled_from(("min", "max", "both")))
        if given != "max":
            body["min"] = low
        if given != "min":
            body["max"] = high
        body["benchmark"]["target"] = min(max(body["benchmark"]["target"], low), high)
    if earlier and draw(st.integers(0, 2)) == 0:  # a third conditional, chains included
        named = draw(st.sampled_from(earlier))
        body["when"] = {
            "criterion": named["id"],
            "in": draw(st.lists(st.sampled_from(condition_answers(named)), min_size=1, unique=True)),
        }
    if body["type"] in CONDITION_TYPES:
        earlier.append(body)
    return body


@st.composite
def maps_to_of(draw: st.DrawFn, frameworks: list[str]) -> list[dict]:
    pairs = draw(st.lists(st.tuples(st.sampled_from(frameworks), st.sampled_from(REFS)), max_size=3, unique=True))
    return [{"framework": framework, "ref": ref} for framework, ref in pairs]


@st.composite
def documents(draw: st.DrawFn, schema: int = 1) -> dict:
    routes = _nonempty_subset(draw, ROUTES)
    top: dict[str, Any] = {"routes": {r: {"title": f"{r.title()} membership"} for r in routes}}
    _maybe(draw, top, "pass_mark", st.sampled_from(PASS_MARKS))
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(RATING_NAMES), min_size=1, max_size=4, unique=True))
        mins = draw(st.lists(st.sampled_from(RATING_MINS), min_size=len(names), max_size=len(names), unique_by=float))
        top["ratings"] = [{"rating": n, "min": v} for n, v in zip(names, mins)]
    if draw(st.booleans()):
        offers = []
        for i in range(draw(st.integers(0, 3))):
            offer: dict[str, Any] = {"id": f"cp-{i}", "title": f"Offer {i}"}
            _maybe(draw, offer, "routes", st.just(_nonempty_subset(draw, tuple(routes))))
            offers.append(offer)
        top["core_proposition"] = offers
    frameworks: list[str] = []
    if schema == 2 and draw(st.integers(0, 3)):
        frameworks = draw(st.lists(st.sampled_from(FRAMEWORKS), min_size=1, max_size=3, unique=True))
    if frameworks:
        top["frameworks"] = {framework: {"title": framework.upper()} for framework in frameworks}
    counter, earlier = [0], []
    domains = []
    standard_number = 0
    for d in range(draw(st.sampled_from((1, 2, 3, 2, 3, 0)))):
        standards = []
        for _ in range(draw(st.sampled_from((1, 2, 3, 2, 3, 0)))):
            standard_number += 1
            body: dict[str, Any] = {"id": f"S{standard_number}", "title": f"Standard {standard_number}"}
            _maybe(draw, body, "weight", st.sampled_from(WEIGHTS))
            _maybe(draw, body, "must_meet", st.booleans())
            if draw(st.booleans()):
                applies: dict[str, Any] = {}
                _maybe(draw, applies, "routes", st.just(_nonempty_subset(draw, tuple(routes))))
                _maybe(draw, applies, "specialties", st.just(_nonempty_subset(draw, SPECIALTIES)))
                _maybe(draw, applies, "org_types", st.just(_nonempty_subset(draw, ORG_TYPES)))
                body["applies"] = applies
            criteria = criteria_of(counter) if schema == 1 else criteria_of_2(counter, earlier)
            body["criteria"] = [draw(criteria) for _ in range(draw(st.sampled_from((1, 2, 3, 4, 3, 4, 0))))]
            if frameworks and draw(st.integers(0, 3)):
                body["maps_to"] = draw(maps_to_of(frameworks))
            standards.append(body)
        body = {"id": f"d{d}", "title": f"Domain {d}", "standards": standards}
        _maybe(draw, body, "weight", st.sampled_from(WEIGHTS))
        domains.append(body)
    return document(domains, **top, schema=schema)


def _decimal(value: Any) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _as_number(draw: st.DrawFn, value: Decimal) -> int | float:
    """A value as a member might send it: 82 or 82.0 for whole numbers, else the float."""
    if value == value.to_integral_value() and draw(st.booleans()):
        return int(value)
    return float(value)


def metric_range(item: dict) -> Optional[tuple[Decimal, Decimal]]:
    """The answers a metric accepts: its min and max, 0..100 for a percentage that gives neither."""
    if "min" in item or "max" in item:
        return (_decimal(item.get("min", -(10**9))), _decimal(item.get("max", 10**9)))
    return (Decimal(0), Decimal(100)) if item.get("unit") == "%" else None


@st.composite
def metric_values(draw: st.DrawFn, bench: dict, bounds: Optional[tuple[Decimal, Decimal]] = None) -> int | float:
    """Values on, just inside and just outside every edge of the benchmark, and anywhere (inside ``bounds``)."""
    target, amber = _decimal(bench["target"]), _decimal(bench.get("amber", 0))
    edge = target - amber if bench["direction"] == "higher" else target + amber
    step = draw(st.sampled_from((Decimal("0.01"), Decimal("0.1"), Decimal("1"), Decimal("0.001"))))
    near = draw(st.sampled_from((target, edge, (target + edge) / 2)))
    offset = draw(st.sampled_from((0, 0, 1, -1)))
    if draw(st.integers(0, 4)) == 0:
        near = Decimal(draw(st.integers(-2000, 2000))) / 10
        offset = 0
    value = near + offset * step
    if bounds is not None:
        value = min(max(value, bounds[0]), bounds[1])
    return _as_number(draw, value)


def _best_answer(item: dict) -> Any:
    ctype = item["type"]
    if ctype in ("yes_no", "yes_partial_no"):
        return "yes"
    if ctype == "level":
        return len(item["levels"]) - 1
    if ctype == "metric":
        return item["benchmark"]["target"]
    if ctype in ("choice", "multi_choice"):
        best = max(item["options"], key=lambda option: option.get("score", 0))["id"]
        return best if ctype == "choice" else [option["id"] for option in item["options"]]
    return "Narrative"


def _valid_answer(draw: st.DrawFn, item: dict) -> Any:
    ctype = item["type"]
    if ctype == "yes_no":
        return draw(st.sampled_from(("yes", "no")))
    if ctype == "yes_partial_no":
        return draw(st.sampled_from(("yes", "partial", "no")))
    if ctype == "level":
        index = draw(st.integers(0, len(item["levels"]) - 1))
        return float(index) if draw(st.integers(0, 4)) == 0 else index
    if ctype == "metric":
        return draw(metric_values(item["benchmark"], metric_range(item)))
    if ctype == "choice":
        return draw(st.sampled_from([option["id"] for option in item["options"]]))
    if ctype == "multi_choice":
        return draw(st.lists(st.sampled_from([option["id"] for option in item["options"]]), unique=True))
    return draw(st.sampled_from(("We audit this every quarter.", "", "   ", "na text")))


@st.composite
def answer_docs(draw: st.DrawFn, doc: dict) -> dict:
    route = draw(st.sampled_from(list(doc["routes"])))
    if route == "specialty":
        specialty = draw(st.sampled_from(SPECIALTIES))
    else:
        specialty = draw(st.one_of(st.none(), st.sampled_from(SPECIALTIES)))
    org_type = draw(st.one_of(st.none(), st.sampled_from(ORG_TYPES)))
    strength = draw(st.sampled_from((0, 50, 80, 90, 97, 100)))  # how often the member gives the best answer
    bogus = BOGUS if doc["schema"] == 1 else BOGUS_2
    values: dict[str, Any] = {}
    conditions: dict[str, Any] = {}  # what later `when`s compare, for applicable, active criteria
    for d in doc["domains"]:
        for s in d["standards"]:
            applies = _applies(s, route, specialty, org_type)
            for item in s["criteria"]:
                active = applies and is_active(item, conditions)
                roll = draw(st.integers(0, 19))
                if roll == 0:
                    pass  # not answered
                elif roll == 1:
                    values[item["id"]] = None
                elif roll < 4 and item.get("allow_na", False):
                    values[item["id"]] = "na"
                elif roll < 8 and not active:  # ignored, however wrong
                    values[item["id"]] = draw(st.sampled_from(bogus))
                elif draw(st.integers(0, 99)) < strength and (item["type"] != "metric" or draw(st.booleans())):
                    values[item["id"]] = _best_answer(item)
                else:
                    values[item["id"]] = _valid_answer(draw, item)
                if active:
                    conditions[item["id"]] = condition_value(item, values.get(item["id"]))
    return answers(values, route=route, specialty=specialty, org_type=org_type)


def contract_part(result: dict, keys: tuple[str, ...] = CONTRACT_KEYS) -> dict:
    return {key: result[key] for key in keys}


def assert_same(
    doc: dict, loaded: rules.StandardsSet, answers_doc: dict, keys: tuple[str, ...] = CONTRACT_KEYS
) -> None:
    engine = contract_part(rules.score(loaded, answers_doc), keys)
    expected = contract_part(reference_score(doc, answers_doc), keys)
    event(f"outcome {expected['outcome']}")
    event(f"breaches {min(len(expected['breaches']), 2)}")
    event(f"statuses {sorted({r['status'] for r in expected['standard_results'].values()})}")
    assert engine == expected
    # Equal as JSON text too: int stays int, float stays float, lists and file order match.
    assert json.dumps(engine) == json.dumps(expected)


@FAST
@given(st.data())
def test_engine_equals_reference_on_random_standards_and_answers(data):
    doc = data.draw(documents())
    loaded = load(doc)
    try:
        for _ in range(3):
            assert_same(doc, loaded, data.draw(answer_docs(doc)))
    finally:
        rules.release(loaded)


@FAST
@given(st.data())
def test_engine_equals_reference_on_random_schema_2_standards_and_answers(data):
    doc = data.draw(documents(schema=2))
    loaded = load(doc)
    try:
        for _ in range(3):
            assert_same(doc, loaded, data.draw(answer_docs(doc)), SCHEMA_2_KEYS)
    finally:
        rules.release(loaded)


@settings(FAST, max_examples=50)
@given(st.data())
def test_schema_1_results_map_to_no_framework(data):
    doc = data.draw(documents())
    loaded = load(doc)
    try:
        assert rules.score(loaded, data.draw(answer_docs(doc)))["mapped"] == {}
    finally:
        rules.release(loaded)


@settings(FAST, max_examples=100)
@given(st.data())
def test_reference_on_random_schema_2_documents_keeps_the_contracts_invariants(data):
    """The oracle alone (runs before the engine reads schema 2): what any result must satisfy."""
    doc = data.draw(documents(schema=2))
    answers_doc = data.draw(answer_docs(doc))
    result = reference_score(doc, answers_doc)
    member = (answers_doc["route"], answers_doc["specialty"], answers_doc["org_type"])
    conditions: dict[str, Any] = {}
    active: list[str] = []
    conditional = {True: 0, False: 0}
    for d in doc["domains"]:
        for s in d["standards"]:
            for item in s["criteria"]:
                applies_and_active = _applies(s, *member) and is_active(item, conditions)
                if "when" in item:
                    conditional[applies_and_active] += 1
                if applies_and_active:
                    active.append(item["id"])
                    conditions[item["id"]] = condition_value(item, answers_doc["answers"].get(item["id"]))
    assert set(result["unanswered"]) <= set(active)
    assert {b["criterion"] for b in result["breaches"]} <= set(active)
    assert list(result["mapped"]) == list(doc.get("frameworks", {}))
    for refs in result["mapped"].values():
        assert set(refs.values()) <= {"met", "not_met", "not_assessed"}
    event(f"conditional criteria active {min(conditional[True], 2)}, inactive {min(conditional[False], 2)}")
    event(f"mapped statuses {sorted({v for refs in result['mapped'].values() for v in refs.values()})}")
    json.dumps(result)


@st.composite
def one_metric(draw: st.DrawFn) -> dict:
    """A benchmark with decimal target and amber, written as YAML would carry them."""
    places = draw(st.integers(0, 2))
    target = Decimal(draw(st.integers(-500, 5000))) / (10**places)
    amber = Decimal(draw(st.integers(0, 60))) / (10 ** draw(st.integers(0, 2)))
    bench: dict[str, Any] = {
        "target": _as_number(draw, target),
        "direction": draw(st.sampled_from(("higher", "lower"))),
    }
    if amber or draw(st.booleans()):
        bench["amber"] = _as_number(draw, amber)
    return bench


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_metric_rag_and_breaches_equal_reference_on_and_around_edges(data):
    bench = data.draw(one_metric())
    doc = one_standard(criterion("M1", "metric", benchmark=bench), criterion("C1", "yes_partial_no"))
    loaded = load(doc)
    try:
        for _ in range(4):
            values = {"M1": data.draw(metric_values(bench)), "C1": data.draw(st.sampled_from(("yes", "partial")))}
            assert_same(doc, loaded, answers(values))
    finally:
        rules.release(loaded)


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.sampled_from(CRITERION_WEIGHTS), min_size=1, max_size=5),
    credits=st.lists(st.sampled_from(("yes", "partial", "no")), min_size=5, max_size=5),
    pass_mark=st.sampled_from(PASS_MARKS),
)
def test_fractional_weights_meet_the_pass_mark_exactly(weights, credits, pass_mark):
    items = [criterion(f"C{i}", "yes_partial_no", weight=w) for i, w in enumerate(weights)]
    doc = document([domain("d1", [standard("S1", items)], weight=0.3)], pass_mark=pass_mark)
    loaded = load(doc)
    try:
        assert_same(doc, loaded, answers({f"C{i}": credits[i] for i in range(len(weights))}))
    finally:
        rules.release(loaded)


# -- exactness: each of these failed while scores were sums of binary floats ---------------------------


def test_score_of_exactly_the_pass_mark_meets_it_with_fractional_weights():
    # 100 x (0.3 x 0.5 + 0.3 x 1) / 0.6 is exactly 75; in binary floats it was 74.99999999999999.
    doc = one_standard(criterion("C1", "yes_partial_no", weight=0.3), criterion("C2", "yes_partial_no", weight=0.3))
    result = rules.score(load(doc), answers({"C1": "partial", "C2": "yes"}))
    assert result["standard_results"]["S1"] == {"score": 75.0, "status": "met"}
    assert (result["overall"], result["rating"], result["outcome"]) == (75.0, "met", "accredited")


def test_overall_of_exactly_a_band_minimum_gets_that_band():
    doc = document(
        [
            domain(
                "d1",
                [standard("S1", [criterion("A1", "yes_partial_no", weight=0.6), criterion("A2", weight=0.6)])],
                weight=0.3,
            ),
            domain(
                "d2",
                [
                    standard(
                        "S2",
                        [criterion("B1", "yes_partial_no", weight=0.1), criterion("B2", "yes_partial_no", weight=1.3)],
                    )
                ],
                weight=0.7,
            ),
        ]
    )
    # S1 = 100 x (0.3 + 0.6) / 1.2 = 75; S2 = 50; overall = (0.3 x 75 + 0.7 x 50) / 1.0 = 57.5
    result = rules.score(load(doc), answers({"A1": "partial", "A2": "yes", "B1": "partial", "B2": "partial"}))
    assert result["domains"] == {"d1": 75.0, "d2": 50.0}
    assert result["standard_results"]["S1"]["status"] == "met"
    assert result["overall"] == 57.5 and result["rating"] == "approaching"


@pytest.mark.parametrize(
    "bench, value, rag",
    [
        # edges 4.1 + 0.1 and 2.1 - 0.2 are 4.199999999999999 and 1.9000000000000001 in binary floats
        ({"target": 4.1, "direction": "lower", "amber": 0.1}, 4.2, "amber"),
        ({"target": 4.1, "direction": "lower", "amber": 0.1}, 4.21, "red"),
        ({"target": 2.1, "direction": "higher", "amber": 0.2}, 1.9, "amber"),
        ({"target": 2.1, "direction": "higher", "amber": 0.2}, 1.89, "red"),
        ({"target": 0.7, "direction": "lower", "amber": 0.1}, 0.8, "amber"),
        ({"target": -0.3, "direction": "higher", "amber": 0.1}, -0.4, "amber"),
    ],
)
def test_metric_amber_edge_is_exact(bench, value, rag):
    result = rules.score(load(one_standard(criterion("M1", "metric", benchmark=bench))), answers({"M1": value}))
    assert result["criteria"]["M1"]["rag"] == rag
    assert result["breaches"][0]["severity"] == {"amber": "minor", "red": "major"}[rag]


# -- the reference itself, on results worked out by hand from the contract ----------------------------


def test_reference_on_a_hand_worked_assessment():
    doc = document(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q1",
                        [
                            criterion("Q1.1"),
                            criterion("Q1.2", "level"),
                            criterion("Q1.3", "metric", benchmark={"target": 85, "direction": "higher", "amber": 5}),
                        ],
                        must_meet=True,
                    ),
                    standard("Q2", [criterion("Q2.1"), criterion("Q2.2", "text")]),
                ],
                weight=2,
            ),
            domain(
                "people",
                [
                    standard("P1", [criterion("P1.1", "yes_partial_no"), criterion("P1.2", allow_na=True)]),
                    standard("P9", [criterion("P9.1")], applies={"routes": ["specialty"]}),
                ],
            ),
        ],
        core_proposition=[{"id": "cp-lms", "title": "LMS", "routes": ["full"]}, {"id": "cp-qi", "title": "QI"}],
    )
    answers_doc = answers({"Q1.1": "yes", "Q1.2": 3, "Q1.3": 82, "P1.1": "partial", "P1.2": "na", "P9.1": "no"})
    result = reference_score(yaml.safe_load(yaml.safe_dump(doc)), answers_doc)
    # Q1 = (1 + 0.75 + 0.5) / 3 = 75 (met, minor breach only); Q2 = 0 (Q2.1 unanswered, text not scored);
    # quality = 37.5; people = P1 = 50; overall = (2 x 37.5 + 50) / 3 = 41.67 -> not_met band.
    assert result["standard_results"] == {
        "Q1": {"score": 75.0, "status": "met"},
        "Q2": {"score": 0.0, "status": "not_met"},
        "P1": {"score": 50.0, "status": "not_met"},
        "P9": {"score": None, "status": "not_applicable"},
    }
    assert result["domains"] == {"quality": 37.5, "people": 50.0}
    assert (result["overall"], result["rating"], result["outcome"]) == (41.7, "not_met", "not_accredited")
    assert result["breaches"] == [
        {"criterion": "Q1.3", "standard": "Q1", "value": 82, "target": 85, "direction": "higher", "severity": "minor"}
    ]
    assert result["unanswered"] == ["Q2.1", "Q2.2"]
    assert result["support_needs"] == ["Q2", "P1"]
    assert result["core_proposition"] == []
    assert result["mapped"] == {}  # a schema 1 file maps to no framework
    assert contract_part(rules.score(load(doc), answers_doc)) == contract_part(result)


def test_reference_outcome_ladder():
    doc = document(
        [
            domain(
                "d1",
                [
                    standard("S1", [criterion("C1", "level"), criterion("M1", "metric", required=False)], weight=3),
                    standard("MM", [criterion("C2")], must_meet=True),
                ],
            )
        ],
        core_proposition=[{"id": "cp-qi", "title": "QI"}],
    )
    cases = [
        ({"C1": 4, "C2": "yes"}, 100.0, "exemplary", "accredited", ["cp-qi"]),
        ({"C1": 4, "C2": "yes", "M1": 82}, 81.2, "met", "accredited_with_conditions", ["cp-qi"]),  # (3 x 75 + 100) / 4
        ({"C1": 2, "C2": "yes"}, 62.5, "approaching", "working_towards", ["cp-qi"]),
        ({"C1": 4, "C2": "no", "M1": 90}, 75.0, "met", "working_towards", ["cp-qi"]),  # must-meet MM not met
        ({"C1": 0, "C2": "no"}, 0.0, "not_met", "not_accredited", []),
    ]
    for values, overall, rating, outcome, core in cases:
        result = reference_score(doc, answers(values))
        assert (result["overall"], result["rating"], result["outcome"], result["core_proposition"]) == (
            overall,
            rating,
            outcome,
            core,
        ), values
        assert contract_part(rules.score(load(doc), answers(values))) == contract_part(result)

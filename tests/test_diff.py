"""The semantic diff of two standards versions: one case per kind of change.

Each case edits one thing in a small standards document and checks that the
diff names exactly that item, with the field's old and new value as the edit
wrote them.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest
import yaml

from rules.diff import KINDS, diff_standards
from tests.builders import criterion, document, domain, load, standard


def base() -> dict:
    return document(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q1",
                        [
                            criterion("Q1.1", guidance="Name the clinical lead"),
                            criterion("Q1.2", "level"),
                            criterion(
                                "Q1.3", "metric", unit="%", benchmark={"target": 85, "direction": "higher", "amber": 5}
                            ),
                        ],
                        must_meet=True,
                        applies={"routes": ["full", "specialty"], "specialties": ["spinal"], "org_types": ["acute"]},
                    ),
                    standard("Q2", [criterion("Q2.1", "yes_partial_no"), criterion("Q2.2", "text", required=False)]),
                ],
                weight=2,
            ),
            domain(
                "people",
                [
                    standard(
                        "P1",
                        [
                            criterion(
                                "P1.1",
                                "metric",
                                unit="days",
                                benchmark={"target": 3.2, "direction": "lower", "amber": 0.5},
                            )
                        ],
                    ),
                ],
            ),
        ],
        pass_mark=75,
        ratings=[
            {"rating": "exemplary", "min": 90},
            {"rating": "met", "min": 75},
            {"rating": "approaching", "min": 50},
            {"rating": "not_met", "min": 0},
        ],
        core_proposition=[
            {"id": "cp-lms", "title": "Shared LMS", "routes": ["full"]},
            {"id": "cp-qi", "title": "QI toolkit"},
        ],
        rules=[
            {
                "id": "hip-lead-missing",
                "severity": "warning",
                "message": "No named hip fracture lead",
                "when": {"all": [{"criterion": "Q1.1", "answer": "no"}]},
            }
        ],
    )


def node(doc: dict, ident: str) -> dict:
    """The domain, standard or criterion with this id."""
    for d in doc["domains"]:
        if d["id"] == ident:
            return d
        for s in d["standards"]:
            if s["id"] == ident:
                return s
            for c in s["criteria"]:
                if c["id"] == ident:
                    return c
    raise KeyError(ident)


def parent_list(doc: dict, ident: str) -> list:
    """The list that holds the standard or criterion with this id."""
    for d in doc["domains"]:
        if any(s["id"] == ident for s in d["standards"]):
            return d["standards"]
        for s in d["standards"]:
            if any(c["id"] == ident for c in s["criteria"]):
                return s["criteria"]
    raise KeyError(ident)


def remove(doc: dict, ident: str) -> None:
    items = parent_list(doc, ident)
    items[:] = [i for i in items if i["id"] != ident]


def move(doc: dict, ident: str, to: str) -> None:
    item = node(doc, ident)
    remove(doc, ident)
    target = node(doc, to)
    (target["standards"] if "standards" in target else target["criteria"]).append(item)


def setter(ident: str | None, key: str, value: Any) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        place = doc if ident is None else node(doc, ident)
        *path, last = key.split(".")
        for part in path:
            place = place[part]
        place[last] = value

    return change


def deleter(ident: str, key: str) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        place = node(doc, ident)
        *path, last = key.split(".")
        for part in path:
            place = place[part]
        del place[last]

    return change


def edit(*steps: Callable[[dict], None]) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        for step in steps:
            step(doc)

    return change


def diff_of(change: Callable[[dict], None]) -> dict:
    old = base()
    new = copy.deepcopy(old)
    change(new)
    return diff_standards(load(old), load(new)).to_dict()


def summary(found: dict) -> set[tuple[str, str, str]]:
    return {(kind, item["id"], item["change"]) for kind in KINDS for item in found[kind]}


# -- the standards set itself --------------------------------------------------------------------------------

SET_CASES = {
    "title": (setter(None, "title", "Revised standards"), [("title", "Test standards", "Revised standards")]),
    "alliance": (setter(None, "alliance", "Other Alliance"), [("alliance", "Test Alliance", "Other Alliance")]),
    "effective_from": (setter(None, "effective_from", "2027-04-01"), [("effective_from", "2026-04-01", "2027-04-01")]),
    "pass_mark": (setter(None, "pass_mark", 80), [("pass_mark", 75, 80)]),
    "rating band moved": (lambda doc: doc["ratings"][1].update(min=70), [("ratings.met", 75, 70)]),
    "rating band added": (
        lambda doc: doc["ratings"].append({"rating": "outstanding", "min": 97}),
        [("ratings.outstanding", None, 97)],
    ),
    "rating band removed": (lambda doc: doc["ratings"].pop(0), [("ratings.exemplary", 90, None)]),
}


@pytest.mark.parametrize("name", SET_CASES)
def test_set_level_change(name):
    change, fields = SET_CASES[name]
    found = diff_of(change)
    assert [(f["field"], f["old"], f["new"]) for f in found["set"]] == fields
    assert summary(found) == set() and found["identical"] is False


# -- routes, core proposition, domains, standards, criteria, rules -------------------------------------------


def add_route(doc: dict) -> None:
    doc["routes"]["affiliate"] = {"title": "Affiliate membership"}


def remove_specialty_route(doc: dict) -> None:
    del doc["routes"]["specialty"]
    node(doc, "Q1")["applies"]["routes"] = ["full"]
    del node(doc, "Q1")["applies"]["specialties"]


ITEM_CASES: dict[str, tuple[Callable[[dict], None], str, str, str, list[tuple], set]] = {
    # name: (edit, kind, id, change, [(field, old, new)], other items expected to change)
    "route added": (add_route, "routes", "affiliate", "added", [], set()),
    "route removed": (remove_specialty_route, "routes", "specialty", "removed", [], {("standards", "Q1", "changed")}),
    "route title": (
        lambda doc: doc["routes"]["full"].update(title="Full members"),
        "routes",
        "full",
        "changed",
        [("title", "Full membership", "Full members")],
        set(),
    ),
    "core proposition added": (
        lambda doc: doc["core_proposition"].append({"id": "cp-peer", "title": "Peer review"}),
        "core_proposition",
        "cp-peer",
        "added",
        [],
        set(),
    ),
    "core proposition removed": (
        lambda doc: doc["core_proposition"].pop(0),
        "core_proposition",
        "cp-lms",
        "removed",
        [],
        set(),
    ),
    "core proposition title": (
        lambda doc: doc["core_proposition"][1].update(title="Improvement coaching"),
        "core_proposition",
        "cp-qi",
        "changed",
        [("title", "QI toolkit", "Improvement coaching")],
        set(),
    ),
    "core proposition routes": (
        lambda doc: doc["core_proposition"][0].update(routes=["full", "specialty"]),
        "core_proposition",
        "cp-lms",
        "changed",
        [("routes", ["full"], ["full", "specialty"])],
        set(),
    ),
    "domain added": (
        lambda doc: doc["domains"].append(domain("innovation", [standard("I1", [criterion("I1.1")])])),
        "domains",
        "innovation",
        "added",
        [],
        {("standards", "I1", "added"), ("criteria", "I1.1", "added")},
    ),
    "domain removed": (
        lambda doc: doc["domains"].pop(1),
        "domains",
        "people",
        "removed",
        [],
        {("standards", "P1", "removed"), ("criteria", "P1.1", "removed")},
    ),
    "domain title": (
        setter("people", "title", "Developing our people"),
        "domains",
        "people",
        "changed",
        [("title", "Domain people", "Developing our people")],
        set(),
    ),
    "domain weight": (setter("quality", "weight", 3), "domains", "quality", "changed", [("weight", 2, 3)], set()),
    "standard added": (
        lambda doc: node(doc, "people")["standards"].append(standard("P2", [criterion("P2.1")])),
        "standards",
        "P2",
        "added",
        [],
        {("criteria", "P2.1", "added")},
    ),
    "standard removed": (
        lambda doc: remove(doc, "Q2"),
        "standards",
        "Q2",
        "removed",
        [],
        {("criteria", "Q2.1", "removed"), ("criteria", "Q2.2", "removed")},
    ),
    "standard moved to another domain": (
        lambda doc: move(doc, "Q2", "people"),
        "standards",
        "Q2",
        "changed",
        [("domain", "quality", "people")],
        set(),
    ),
    "standard title": (
        setter("Q2", "title", "Elective care"),
        "standards",
        "Q2",
        "changed",
        [("title", "Standard Q2", "Elective care")],
        set(),
    ),
    "standard weight": (setter("Q2", "weight", 2.5), "standards", "Q2", "changed", [("weight", 1, 2.5)], set()),
    "standard must_meet on": (
        setter("Q2", "must_meet", True),
        "standards",
        "Q2",
        "changed",
        [("must_meet", False, True)],
        set(),
    ),
    "standard must_meet off": (
        setter("Q1", "must_meet", False),
        "standards",
        "Q1",
        "changed",
        [("must_meet", True, False)],
        set(),
    ),
    "applies routes": (
        setter("Q1", "applies.routes", ["full"]),
        "standards",
        "Q1",
        "changed",
        [("applies.routes", ["full", "specialty"], ["full"])],
        set(),
    ),
    "applies specialties": (
        setter("Q1", "applies.specialties", ["spinal", "hand"]),
        "standards",
        "Q1",
        "changed",
        [("applies.specialties", ["spinal"], ["spinal", "hand"])],
        set(),
    ),
    "applies org_types": (
        setter("Q1", "applies.org_types", ["acute", "specialist"]),
        "standards",
        "Q1",
        "changed",
        [("applies.org_types", ["acute"], ["acute", "specialist"])],
        set(),
    ),
    "applies widened to everyone": (
        deleter("Q1", "applies.org_types"),
        "standards",
        "Q1",
        "changed",
        [("applies.org_types", ["acute"], None)],
        set(),
    ),
    "applies narrowed from everyone": (
        setter("Q2", "applies", {"org_types": ["community"]}),
        "standards",
        "Q2",
        "changed",
        [("applies.org_types", None, ["community"])],
        set(),
    ),
    "criterion added": (
        lambda doc: node(doc, "Q2")["criteria"].append(criterion("Q2.3")),
        "criteria",
        "Q2.3",
        "added",
        [],
        set(),
    ),
    "criterion removed": (lambda doc: remove(doc, "Q2.2"), "criteria", "Q2.2", "removed", [], set()),
    "criterion moved to another standard": (
        lambda doc: move(doc, "Q2.1", "P1"),
        "criteria",
        "Q2.1",
        "changed",
        [("standard", "Q2", "P1")],
        set(),
    ),
    "criterion text": (
        setter("Q1.1", "text", "Is there a named lead?"),
        "criteria",
        "Q1.1",
        "changed",
        [("text", "Criterion Q1.1", "Is there a named lead?")],
        set(),
    ),
    "criterion type": (
        setter("Q2.1", "type", "yes_no"),
        "criteria",
        "Q2.1",
        "changed",
        [("type", "yes_partial_no", "yes_no")],
        set(),
    ),
    "criterion weight": (setter("Q1.2", "weight", 0), "criteria", "Q1.2", "changed", [("weight", 1, 0)], set()),
    "criterion required": (
        setter("Q1.1", "required", False),
        "criteria",
        "Q1.1",
        "changed",
        [("required", True, False)],
        set(),
    ),
    "criterion allow_na": (
        setter("Q2.1", "allow_na", True),
        "criteria",
        "Q2.1",
        "changed",
        [("allow_na", False, True)],
        set(),
    ),
    "criterion evidence": (
        setter("Q1.1", "evidence", "required"),
        "criteria",
        "Q1.1",
        "changed",
        [("evidence", "none", "required")],
        set(),
    ),
    "criterion guidance": (
        setter("Q1.1", "guidance", "Name the lead and their deputy"),
        "criteria",
        "Q1.1",
        "changed",
        [("guidance", "Name the clinical lead", "Name the lead and their deputy")],
        set(),
    ),
    "criterion guidance removed": (
        deleter("Q1.1", "guidance"),
        "criteria",
        "Q1.1",
        "changed",
        [("guidance", "Name the clinical lead", None)],
        set(),
    ),
    "criterion levels": (
        setter("Q1.2", "levels", ["None", "Some", "All"]),
        "criteria",
        "Q1.2",
        "changed",
        [("levels", ["None", "Some", "Most", "All", "Audited"], ["None", "Some", "All"])],
        set(),
    ),
    "criterion unit": (
        setter("P1.1", "unit", "hours"),
        "criteria",
        "P1.1",
        "changed",
        [("unit", "days", "hours")],
        set(),
    ),
    "benchmark target": (
        setter("Q1.3", "benchmark.target", 90),
        "criteria",
        "Q1.3",
        "changed",
        [("benchmark.target", 85, 90)],
        set(),
    ),
    "benchmark direction": (
        setter("Q1.3", "benchmark.direction", "lower"),
        "criteria",
        "Q1.3",
        "changed",
        [("benchmark.direction", "higher", "lower")],
        set(),
    ),
    "benchmark amber band": (
        setter("P1.1", "benchmark.amber", 1),
        "criteria",
        "P1.1",
        "changed",
        [("benchmark.amber", 0.5, 1)],
        set(),
    ),
    "benchmark amber band dropped to the default": (
        deleter("Q1.3", "benchmark.amber"),
        "criteria",
        "Q1.3",
        "changed",
        [("benchmark.amber", 5, 0)],
        set(),
    ),
    "metric becomes yes/no": (
        edit(setter("P1.1", "type", "yes_no"), deleter("P1.1", "unit"), deleter("P1.1", "benchmark")),
        "criteria",
        "P1.1",
        "changed",
        [
            ("type", "metric", "yes_no"),
            ("unit", "days", None),
            ("benchmark.target", 3.2, None),
            ("benchmark.direction", "lower", None),
            ("benchmark.amber", 0.5, None),
        ],
        set(),
    ),
    "rule added": (
        lambda doc: doc["rules"].append(
            {
                "id": "q2-behind",
                "severity": "info",
                "message": "Q2 behind",
                "when": {"any": [{"standard": "Q2", "status": "not_met"}]},
            }
        ),
        "rules",
        "q2-behind",
        "added",
        [],
        set(),
    ),
    "rule removed": (lambda doc: doc.pop("rules"), "rules", "hip-lead-missing", "removed", [], set()),
    "rule severity": (
        lambda doc: doc["rules"][0].update(severity="critical"),
        "rules",
        "hip-lead-missing",
        "changed",
        [("severity", "warning", "critical")],
        set(),
    ),
    "rule message": (
        lambda doc: doc["rules"][0].update(message="Hip lead missing"),
        "rules",
        "hip-lead-missing",
        "changed",
        [("message", "No named hip fracture lead", "Hip lead missing")],
        set(),
    ),
}


@pytest.mark.parametrize("name", ITEM_CASES)
def test_item_change(name):
    change, kind, ident, what, fields, others = ITEM_CASES[name]
    found = diff_of(change)
    assert summary(found) == {(kind, ident, what)} | others
    assert found["set"] == [] and found["identical"] is False
    (item,) = [i for i in found[kind] if i["id"] == ident]
    assert [(f["field"], f["old"], f["new"]) for f in item["fields"]] == fields


def test_rule_condition_change_shows_both_conditions():
    found = diff_of(lambda doc: doc["rules"][0]["when"]["all"].append({"criterion": "Q1.3", "rag": "red"}))
    (item,) = found["rules"]
    assert (item["id"], item["change"]) == ("hip-lead-missing", "changed")
    (when,) = item["fields"]
    assert when["field"] == "when"
    assert "Q1.3" not in json.dumps(when["old"]) and "Q1.3" in json.dumps(when["new"])


def test_a_move_names_the_new_parent_and_says_moved():
    found = diff_of(edit(lambda doc: move(doc, "Q2", "people"), lambda doc: move(doc, "Q1.1", "Q2")))
    standard_item = found["standards"][0]
    assert (standard_item["id"], standard_item["domain"], standard_item["moved"]) == ("Q2", "people", True)
    criterion_item = found["criteria"][0]
    assert (criterion_item["id"], criterion_item["standard"], criterion_item["moved"]) == ("Q1.1", "Q2", True)


def test_several_changes_to_one_criterion_are_listed_together():
    found = diff_of(
        edit(
            setter("Q1.3", "benchmark.target", 90),
            setter("Q1.3", "text", "Within 36 hours"),
            setter("Q1.3", "weight", 2),
        )
    )
    (item,) = found["criteria"]
    assert {f["field"] for f in item["fields"]} == {"benchmark.target", "text", "weight"}


# -- no change ------------------------------------------------------------------------------------------------


def test_identical_files_give_an_empty_diff():
    doc = base()
    found = diff_standards(load(doc), load(copy.deepcopy(doc)))
    assert found.empty
    body = found.to_dict()
    assert body["identical"] is True and body["set"] == [] and all(body[kind] == [] for kind in KINDS)
    assert found.lines()[1].strip().startswith("no changes")


def test_layout_defaults_and_list_order_that_mean_the_same_give_an_empty_diff():
    old = base()
    new = copy.deepcopy(old)
    node(new, "Q2.1")["weight"] = 1  # the default, now written out
    node(new, "Q1")["applies"]["org_types"] = ["acute"]
    node(new, "Q1")["applies"]["routes"] = ["specialty", "full"]  # the same routes in another order
    new["ratings"].reverse()  # bands may be listed in any order
    text = "# reformatted\n" + yaml.safe_dump(new, sort_keys=True, default_flow_style=True)
    from rules import parse_standards

    assert diff_standards(load(old), parse_standards(text, "other.yaml")).empty


# -- output ----------------------------------------------------------------------------------------------------


def test_json_round_trip_keeps_every_documented_key():
    found = diff_standards(load(base()), load(_many_changes()))
    body = found.to_dict()
    again = json.loads(json.dumps(body))
    assert again == body
    assert set(body) == {"old", "new", "identical", "set", *KINDS}
    assert set(body["old"]) == {"id", "version", "content_hash"} and body["new"]["version"] == "2026.2"
    for kind in KINDS:
        for item in body[kind]:
            assert {"id", "change", "fields"} <= set(item) and item["change"] in ("added", "removed", "changed")
            assert all(set(f) == {"field", "old", "new"} for f in item["fields"])
    assert {"domain", "moved"} <= set(body["standards"][0]) and {"standard", "moved"} <= set(body["criteria"][0])


def _many_changes() -> dict:
    doc = base()
    doc.update(version="2026.2", pass_mark=80)
    move(doc, "Q2", "people")
    node(doc, "Q1.3")["benchmark"]["target"] = 90
    remove(doc, "Q2.2")
    node(doc, "P1")["criteria"].append(criterion("P1.2", "yes_no"))
    return doc


def test_text_output_is_readable():
    lines = diff_standards(load(base()), load(_many_changes())).lines()
    text = "\n".join(lines)
    assert lines[0] == "test-set 2026.1 -> test-set 2026.2"
    assert "pass_mark: 75 -> 80" in text
    assert "~ standard Q2 moved (in domain people)" in text and "domain: quality -> people" in text
    assert "~ criterion Q1.3 changed (in standard Q1)" in text and "benchmark.target: 85 -> 90" in text
    assert "- criterion Q2.2 removed (in standard Q2)" in text
    assert "+ criterion P1.2 added (in standard P1): Criterion P1.2" in text


def test_text_says_any_for_a_missing_applicability_list():
    old = base()
    new = copy.deepcopy(old)
    del node(new, "Q1")["applies"]["org_types"]
    text = "\n".join(diff_standards(load(old), load(new)).lines())
    assert "applies.org_types: [acute] -> (any)" in text


# -- schema 2: options, conditions, ranges, frameworks and mappings, the source library ---------------------


def base_2() -> dict:
    return document(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q4",
                        [
                            criterion(
                                "Q4.1",
                                "choice",
                                options=[
                                    {"id": "none", "text": "Not reviewed", "score": 0},
                                    {"id": "phone", "text": "Telephone follow-up", "score": 0.5},
                                    {"id": "clinic", "text": "Clinic review", "score": 1},
                                ],
                            ),
                            criterion(
                                "Q4.2",
                                "multi_choice",
                                options=[
                                    {"id": "nhfd", "text": "NHFD", "score": 0.5},
                                    {"id": "njr", "text": "NJR", "score": 0.5},
                                ],
                            ),
                            criterion(
                                "Q4.3",
                                "metric",
                                unit="%",
                                benchmark={"target": 80, "direction": "higher", "amber": 10},
                                when={"criterion": "Q4.1", "in": ["clinic"]},
                            ),
                            criterion(
                                "Q4.4",
                                "metric",
                                unit="days",
                                min=0,
                                max=365,
                                benchmark={"target": 30, "direction": "lower", "amber": 5},
                            ),
                        ],
                        maps_to=[
                            {"framework": "cqc", "ref": "Safe: safe systems"},
                            {"framework": "cqc", "ref": "Well-led"},
                        ],
                    ),
                ],
            ),
        ],
        schema=2,
        frameworks={"cqc": {"title": "CQC quality statements"}},
        source={"urn": "urn:example:library:noa", "version": "1", "provider": "NOA"},
    )


def option(doc: dict, cid: str, oid: str) -> dict:
    return next(o for o in node(doc, cid)["options"] if o["id"] == oid)


def diff_2(change: Callable[[dict], None]) -> dict:
    old = base_2()
    new = copy.deepcopy(old)
    change(new)
    return diff_standards(load(old), load(new)).to_dict()


SCHEMA_2_CASES: dict[str, tuple[Callable[[dict], None], str, str, list[tuple]]] = {
    # name: (edit, kind, id, [(field, old, new)]) of the one item that changes
    "option added": (
        lambda doc: node(doc, "Q4.1")["options"].append({"id": "video", "text": "Video call", "score": 0.7}),
        "criteria",
        "Q4.1",
        [("options.video", None, {"text": "Video call", "score": 0.7})],
    ),
    "option removed": (
        lambda doc: node(doc, "Q4.1")["options"].pop(1),
        "criteria",
        "Q4.1",
        [("options.phone", {"text": "Telephone follow-up", "score": 0.5}, None)],
    ),
    "option score": (
        lambda doc: option(doc, "Q4.1", "clinic").update(score=0.9),
        "criteria",
        "Q4.1",
        [("options.clinic.score", 1, 0.9)],
    ),
    "option score dropped to the default": (
        lambda doc: option(doc, "Q4.2", "njr").pop("score"),
        "criteria",
        "Q4.2",
        [("options.njr.score", 0.5, 0)],
    ),
    "option text": (
        lambda doc: option(doc, "Q4.2", "nhfd").update(text="National Hip Fracture Database"),
        "criteria",
        "Q4.2",
        [("options.nhfd.text", "NHFD", "National Hip Fracture Database")],
    ),
    "options reordered": (
        lambda doc: node(doc, "Q4.2")["options"].reverse(),
        "criteria",
        "Q4.2",
        [("option_order", ["nhfd", "njr"], ["njr", "nhfd"])],
    ),
    "multi_choice becomes choice": (
        setter("Q4.2", "type", "choice"),
        "criteria",
        "Q4.2",
        [("type", "multi_choice", "choice")],
    ),
    "condition widened": (
        setter("Q4.3", "when.in", ["phone", "clinic"]),
        "criteria",
        "Q4.3",
        [("when", {"criterion": "Q4.1", "in": ["clinic"]}, {"criterion": "Q4.1", "in": ["clinic", "phone"]})],
    ),
    "condition added": (
        setter("Q4.4", "when", {"criterion": "Q4.1", "in": ["phone"]}),
        "criteria",
        "Q4.4",
        [("when", None, {"criterion": "Q4.1", "in": ["phone"]})],
    ),
    "condition removed": (
        deleter("Q4.3", "when"),
        "criteria",
        "Q4.3",
        [("when", {"criterion": "Q4.1", "in": ["clinic"]}, None)],
    ),
    "range narrowed": (setter("Q4.4", "max", 90), "criteria", "Q4.4", [("max", 365, 90)]),
    "range given to a % metric": (setter("Q4.3", "max", 95), "criteria", "Q4.3", [("min", 0, None), ("max", 100, 95)]),
    "range removed": (
        edit(deleter("Q4.4", "min"), deleter("Q4.4", "max")),
        "criteria",
        "Q4.4",
        [("min", 0, None), ("max", 365, None)],
    ),
    "mapping added": (
        lambda doc: node(doc, "Q4")["maps_to"].append({"framework": "cqc", "ref": "Effective"}),
        "standards",
        "Q4",
        [("maps_to.cqc", None, "Effective")],
    ),
    "mapping removed": (
        lambda doc: node(doc, "Q4")["maps_to"].pop(0),
        "standards",
        "Q4",
        [("maps_to.cqc", "Safe: safe systems", None)],
    ),
    "mapping ref renamed": (
        lambda doc: node(doc, "Q4")["maps_to"][1].update(ref="Well-led: governance"),
        "standards",
        "Q4",
        [("maps_to.cqc", None, "Well-led: governance"), ("maps_to.cqc", "Well-led", None)],
    ),
    "framework title": (
        lambda doc: doc["frameworks"]["cqc"].update(title="CQC statements"),
        "frameworks",
        "cqc",
        [("title", "CQC quality statements", "CQC statements")],
    ),
}


@pytest.mark.parametrize("name", SCHEMA_2_CASES)
def test_schema_2_change(name):
    change, kind, ident, fields = SCHEMA_2_CASES[name]
    found = diff_2(change)
    assert summary(found) == {(kind, ident, "changed")} and found["set"] == []
    (item,) = found[kind]
    assert [(f["field"], f["old"], f["new"]) for f in item["fields"]] == fields


def test_frameworks_added_and_removed_with_the_mappings_they_take():
    def swap(doc: dict) -> None:
        doc["frameworks"] = {"dspt": {"title": "Data Security and Protection Toolkit"}}
        node(doc, "Q4")["maps_to"] = [{"framework": "dspt", "ref": "1.1"}]

    found = diff_2(swap)
    assert summary(found) == {
        ("frameworks", "dspt", "added"),
        ("frameworks", "cqc", "removed"),
        ("standards", "Q4", "changed"),
    }
    (q4,) = found["standards"]
    assert [(f["field"], f["old"], f["new"]) for f in q4["fields"]] == [
        ("maps_to.dspt", None, "1.1"),
        ("maps_to.cqc", "Safe: safe systems", None),
        ("maps_to.cqc", "Well-led", None),
    ]


def test_the_source_library_is_a_field_of_the_set():
    found = diff_2(lambda doc: doc["source"].update(version="2", copyright="Free to reuse"))
    assert [(f["field"], f["old"], f["new"]) for f in found["set"]] == [
        ("source.version", "1", "2"),
        ("source.copyright", None, "Free to reuse"),
    ]
    gone = diff_2(lambda doc: doc.pop("source"))
    assert {(f["field"], f["old"], f["new"]) for f in gone["set"]} == {
        ("source.urn", "urn:example:library:noa", None),
        ("source.version", "1", None),
        ("source.provider", "NOA", None),
    }


def test_schema_2_meaning_not_layout_an_empty_diff():
    old = base_2()
    new = copy.deepcopy(old)
    node(new, "Q4.3")["when"]["in"] = ["clinic"]
    node(new, "Q4.3").update(min=0, max=100)  # what a "%" metric without a range has anyway
    option(new, "Q4.1", "none").pop("score")  # the default score, now left out
    assert diff_standards(load(old), load(new)).empty


def test_schema_2_changes_as_text():
    def many(doc: dict) -> None:
        options = node(doc, "Q4.1")["options"]
        options.pop(1)
        options.append({"id": "video", "text": "Video call", "score": 0.7})
        option(doc, "Q4.1", "clinic")["score"] = 0.9
        node(doc, "Q4.3")["when"]["in"] = ["clinic", "video"]
        node(doc, "Q4.4")["max"] = 90
        node(doc, "Q4")["maps_to"].append({"framework": "dspt", "ref": "1.1"})
        doc["frameworks"]["dspt"] = {"title": "DSPT"}

    old = base_2()
    new = copy.deepcopy(old)
    many(new)
    text = "\n".join(diff_standards(load(old), load(new)).lines())
    for expected in (
        "+ framework dspt added: DSPT",
        "~ standard Q4 changed (in domain quality)",
        'maps_to.dspt: added "1.1"',
        "~ criterion Q4.1 changed (in standard Q4)",
        "options.clinic.score: 1 -> 0.9",
        'options.video: added "Video call" (score 0.7)',
        'options.phone: removed "Telephone follow-up" (score 0.5)',
        "when: asked when Q4.1 is clinic -> asked when Q4.1 is one of clinic, video",
        "max: 365 -> 90",
    ):
        assert expected in text, expected
    dropped = copy.deepcopy(old)
    del node(dropped, "Q4.3")["when"]
    text = "\n".join(diff_standards(load(old), load(dropped)).lines())
    assert "when: asked when Q4.1 is clinic -> (always asked)" in text

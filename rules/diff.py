"""What changed between two versions of a standards set, in the terms an alliance lead uses.

The diff compares meaning, not text: two files that load to the same standards
give an empty diff whatever their layout, and every change is named by the id
of the domain, standard, criterion, route, core-proposition entry, framework or
flag rule it touches, with each field's old and new value. Moves between
domains (for a standard) or between standards (for a criterion) are changes of
the item, not a removal and an addition, so its members' answers and history
carry over.

Schema 2 changes are fields of the item they belong to: a choice criterion's
options (``options.ID`` added or removed, ``options.ID.score`` and
``options.ID.text`` changed, ``option_order``), its condition (``when``), a metric's range
(``min``, ``max``), and a standard's mappings (``maps_to.FRAMEWORK``, one
field per ref added or removed). Frameworks are items of their own, and the
library a set was imported from is a field of the set (``source.KEY``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from .model import SOURCE_KEYS, Applies, CoreOffer, Criterion, FlagRule, Option, Standard, StandardsSet, When

#: Kinds of item, in the order the diff lists them.
KINDS = ("routes", "core_proposition", "frameworks", "domains", "standards", "criteria", "rules")
KIND_NAMES = {
    "routes": "route",
    "core_proposition": "core proposition",
    "frameworks": "framework",
    "domains": "domain",
    "standards": "standard",
    "criteria": "criterion",
    "rules": "flag rule",
}
#: The field that says where an item lives; a change of it is a move.
PARENT_FIELDS = {"standards": "domain", "criteria": "standard"}

SET_FIELDS = ("title", "alliance", "effective_from", "pass_mark")
DOMAIN_FIELDS = ("title", "weight")
STANDARD_FIELDS = ("domain", "title", "weight", "must_meet")
CRITERION_FIELDS = (
    "standard",
    "text",
    "type",
    "weight",
    "required",
    "allow_na",
    "evidence",
    "guidance",
    "levels",
    "unit",
    "min",
    "max",
)
OPTION_FIELDS = ("text", "score")
APPLIES_FIELDS = ("routes", "specialties", "org_types")
BENCHMARK_FIELDS = ("target", "direction", "amber")


def plain(value: Any) -> Any:
    """A JSON-ready copy: tuples become lists, dates ISO strings."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any

    def to_dict(self) -> dict:
        return {"field": self.field, "old": plain(self.old), "new": plain(self.new)}


@dataclass(frozen=True)
class ItemChange:
    """One route, core-proposition entry, domain, standard, criterion or flag rule that differs."""

    kind: str  # one of KINDS
    id: str
    change: str  # added | removed | changed
    parent: Optional[str] = None  # domain of a standard, standard of a criterion (the older version's if removed)
    title: Optional[str] = None
    fields: tuple[FieldChange, ...] = ()

    @property
    def moved(self) -> bool:
        parent_field = PARENT_FIELDS.get(self.kind)
        return any(f.field == parent_field for f in self.fields)

    def to_dict(self) -> dict:
        body: dict[str, Any] = {"id": self.id, "change": self.change}
        if self.kind in PARENT_FIELDS:
            body[PARENT_FIELDS[self.kind]] = self.parent
            body["moved"] = self.moved
        if self.title is not None:
            body["title"] = self.title
        body["fields"] = [f.to_dict() for f in self.fields]
        return body


@dataclass(frozen=True)
class StandardsDiff:
    old: StandardsSet
    new: StandardsSet
    set_fields: tuple[FieldChange, ...] = ()
    items: tuple[ItemChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.set_fields and not self.items

    def of(self, kind: str, change: Optional[str] = None) -> list[ItemChange]:
        return [i for i in self.items if i.kind == kind and (change is None or i.change == change)]

    def find(self, kind: str, ident: str) -> Optional[ItemChange]:
        return next((i for i in self.items if i.kind == kind and i.id == ident), None)

    def to_dict(self) -> dict:
        """Keys: old, new ({id, version, content_hash}), identical, set (field changes), then one list of
        item changes per kind: routes, core_proposition, frameworks, domains, standards, criteria, rules."""
        body: dict[str, Any] = {
            "old": _label(self.old),
            "new": _label(self.new),
            "identical": self.empty,
            "set": [f.to_dict() for f in self.set_fields],
        }
        for kind in KINDS:
            body[kind] = [i.to_dict() for i in self.of(kind)]
        return body

    def lines(self) -> list[str]:
        """The diff as readable text, one item per line and its field changes indented below it."""
        lines = [f"{self.old.label} -> {self.new.label}"]
        if self.empty:
            lines.append("  no changes: both versions hold the same standards")
            return lines
        if self.set_fields:
            lines.append("  standards set:")
            lines.extend(f"      {_field_text(f)}" for f in self.set_fields)
        for kind in KINDS:
            for item in self.of(kind):
                where = ""
                if item.parent is not None:
                    where = f" (in {PARENT_FIELDS[item.kind]} {item.parent})"
                title = f": {item.title}" if item.title and item.change != "changed" else ""
                verb = (
                    "moved and changed"
                    if item.moved and len(item.fields) > 1
                    else ("moved" if item.moved else item.change)
                )
                lines.append(f"  {_SIGN[item.change]} {KIND_NAMES[kind]} {item.id} {verb}{where}{title}")
                lines.extend(f"      {_field_text(f)}" for f in item.fields)
        return lines


_SIGN = {"added": "+", "removed": "-", "changed": "~"}


def _label(loaded: StandardsSet) -> dict:
    return {"id": loaded.id, "version": loaded.version, "content_hash": loaded.content_hash}


def _show(value: Any, none: str = "(none)") -> str:
    if value is None:
        return none
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return f'"{value}"' if not value or value != value.strip() or " " in value else value
    return str(value)


def _field_text(change: FieldChange) -> str:
    name = change.field
    if name.count(".") == 1 and name.startswith(("options.", "maps_to.")):  # one option or one ref, in or out
        what = change.old if change.new is None else change.new
        verb = "removed" if change.new is None else "added"
        if name.startswith("maps_to."):
            return f'{name}: {verb} "{what}"'
        return f'{name}: {verb} "{what["text"]}" (score {_show(what["score"])})'
    if name == "when":
        return f"when: {_when_text(change.old)} -> {_when_text(change.new)}"
    # an absent applicability or routes list means "everyone", not "nobody"
    none = "(any)" if name.startswith("applies.") or name == "routes" else "(none)"
    return f"{name}: {_show(change.old, none)} -> {_show(change.new, none)}"


def _when_text(when: Optional[dict]) -> str:
    if when is None:
        return "(always asked)"
    values = [_show(v) for v in when["in"]]
    return f"asked when {when['criterion']} is " + (values[0] if len(values) == 1 else "one of " + ", ".join(values))


def _compare(old: Any, new: Any, names: Iterable[str], prefix: str = "") -> list[FieldChange]:
    found = []
    for name in names:
        before = getattr(old, name, None) if old is not None else None
        after = getattr(new, name, None) if new is not None else None
        if before != after:
            found.append(FieldChange(prefix + name, before, after))
    return found


def _applies(old: Applies, new: Applies) -> list[FieldChange]:
    # None means "any"; a list that is only reordered means the same
    changes = []
    for name in APPLIES_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if (None if before is None else sorted(before)) != (None if after is None else sorted(after)):
            changes.append(FieldChange(f"applies.{name}", before, after))
    return changes


def _criterion(old: Criterion, old_parent: str, new: Criterion, new_parent: str) -> list[FieldChange]:
    changes = []
    for name in CRITERION_FIELDS:
        before = old_parent if name == "standard" else getattr(old, name)
        after = new_parent if name == "standard" else getattr(new, name)
        if before != after:
            changes.append(FieldChange(name, before, after))
    changes += _compare(old.benchmark, new.benchmark, BENCHMARK_FIELDS, "benchmark.")
    changes += _options(old.options or (), new.options or ())
    if _when(old.when) != _when(new.when):
        changes.append(FieldChange("when", _when(old.when), _when(new.when)))
    return changes


def _options(old: tuple[Option, ...], new: tuple[Option, ...]) -> list[FieldChange]:
    """Options added, changed (text, score) and removed, by id; a new order of the same options too."""
    before = {o.id: o for o in old}
    after = {o.id: o for o in new}
    changes = []
    for ident, option in after.items():
        if ident not in before:
            changes.append(FieldChange(f"options.{ident}", None, {"text": option.text, "score": option.score}))
        else:
            changes += _compare(before[ident], option, OPTION_FIELDS, f"options.{ident}.")
    changes += [
        FieldChange(f"options.{ident}", {"text": option.text, "score": option.score}, None)
        for ident, option in before.items()
        if ident not in after
    ]
    kept_before = [ident for ident in before if ident in after]
    kept_after = [ident for ident in after if ident in before]
    if kept_before != kept_after:
        changes.append(FieldChange("option_order", kept_before, kept_after))
    return changes


def _when(when: Optional[When]) -> Optional[dict]:
    """A condition as the file writes it ({criterion, in}); the order of ``in`` means nothing."""
    if when is None:
        return None
    return {"criterion": when.criterion, "in": sorted(when.values, key=lambda v: (isinstance(v, str), v))}


def _standard(old: Standard, new: Standard) -> list[FieldChange]:
    changes = _compare(old, new, STANDARD_FIELDS) + _applies(old.applies, new.applies)
    before = [(r.framework, r.ref) for r in old.maps_to]
    after = [(r.framework, r.ref) for r in new.maps_to]
    changes += [
        FieldChange(f"maps_to.{framework}", None, ref) for framework, ref in after if (framework, ref) not in before
    ]
    changes += [
        FieldChange(f"maps_to.{framework}", ref, None) for framework, ref in before if (framework, ref) not in after
    ]
    return changes


def _offer(old: CoreOffer, new: CoreOffer) -> list[FieldChange]:
    changes = _compare(old, new, ("title",))
    if (None if old.routes is None else sorted(old.routes)) != (None if new.routes is None else sorted(new.routes)):
        changes.append(FieldChange("routes", old.routes, new.routes))
    return changes


def _rule(old: FlagRule, new: FlagRule) -> list[FieldChange]:
    changes = _compare(old, new, ("severity", "message"))
    if old.when != new.when:
        changes.append(FieldChange("when", old.when.model_dump(), new.when.model_dump()))
    return changes


def _items(
    kind: str,
    old: dict[str, Any],
    new: dict[str, Any],
    compare,
    parents=None,
    title=lambda item: getattr(item, "title", None),
) -> list[ItemChange]:
    """Added and changed items in the newer version's order, then removed ones in the older's."""
    parents = parents or (lambda item: None)
    found = []
    for ident, item in new.items():
        if ident not in old:
            found.append(ItemChange(kind, ident, "added", parents(item), title(item)))
        else:
            fields = tuple(compare(old[ident], item))
            if fields:
                found.append(ItemChange(kind, ident, "changed", parents(item), title(item), fields))
    for ident, item in old.items():
        if ident not in new:
            found.append(ItemChange(kind, ident, "removed", parents(item), title(item)))
    return found


def _set_fields(old: StandardsSet, new: StandardsSet) -> list[FieldChange]:
    changes = _compare(old, new, SET_FIELDS)
    before = {b.rating: b.min for b in old.ratings}
    after = {b.rating: b.min for b in new.ratings}
    for rating in [*after, *(r for r in before if r not in after)]:
        if before.get(rating) != after.get(rating):
            changes.append(FieldChange(f"ratings.{rating}", before.get(rating), after.get(rating)))
    changes += _compare(old.source_library, new.source_library, SOURCE_KEYS, "source.")
    return changes


def diff_standards(old: StandardsSet, new: StandardsSet) -> StandardsDiff:
    """Every change from ``old`` to ``new``; empty when both mean the same standards."""

    def by_id(items: Iterable[Any]) -> dict[str, Any]:
        return {item.id: item for item in items}

    def criteria(loaded: StandardsSet) -> dict[str, tuple[str, Criterion]]:
        return {c.id: (s.id, c) for s in loaded.standards for c in s.criteria}

    items: list[ItemChange] = []
    items += _items("routes", by_id(old.routes), by_id(new.routes), lambda a, b: _compare(a, b, ("title",)))
    items += _items("core_proposition", by_id(old.core_proposition), by_id(new.core_proposition), _offer)
    items += _items("frameworks", by_id(old.frameworks), by_id(new.frameworks), lambda a, b: _compare(a, b, ("title",)))
    items += _items("domains", by_id(old.domains), by_id(new.domains), lambda a, b: _compare(a, b, DOMAIN_FIELDS))
    items += _items("standards", by_id(old.standards), by_id(new.standards), _standard, parents=lambda s: s.domain)
    items += _items(
        "criteria",
        criteria(old),
        criteria(new),
        lambda a, b: _criterion(a[1], a[0], b[1], b[0]),
        parents=lambda pair: pair[0],
        title=lambda pair: pair[1].text,
    )
    items += _items("rules", by_id(old.rules), by_id(new.rules), _rule, title=lambda r: r.message)
    return StandardsDiff(old, new, tuple(_set_fields(old, new)), tuple(items))


__all__ = ["FieldChange", "ItemChange", "StandardsDiff", "diff_standards"]

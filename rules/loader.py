"""Load and validate standards files against the standards-format contract.

A file is accepted whole or not at all: every problem is collected and
reported together as ``FILE:LINE: message`` so an alliance lead can fix a
file in one pass. Nothing here touches Flask or a database.

Schema 2 adds choice and multi_choice criteria (``options``, read by
``rules.options``), conditional criteria (``when``, read by
``rules.conditions``) and mappings to other frameworks (``frameworks``,
``maps_to``, read by ``rules.mappings``); a
schema 1 file using any of them is refused at that key's line. Metric ranges
(``min``, ``max``) hold in both schemas, and so does the optional ``source:``
mapping that says which published library an imported set came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Optional

from packaging.version import InvalidVersion, Version

from . import model as m
from .checking import UNSET, Checker, describe, text_check
from .conditions import WhenReader
from .flags import FlagRuleReader
from .mappings import framework_names, read_frameworks, read_maps_to
from .options import read_options
from .yamlnodes import MAX_BYTES, Mapping, Node, Scalar, Sequence, YamlSyntaxError, parse, plain

SET_ID = re.compile(r"[a-z0-9-]+\Z")
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")

TOP_KEYS = {
    "schema": True,
    "id": True,
    "version": True,
    "title": True,
    "alliance": True,
    "effective_from": True,
    "pass_mark": False,
    "ratings": False,
    "routes": True,
    "core_proposition": False,
    "domains": True,
    "rules": False,
    "frameworks": False,
    "source": False,
}
DOMAIN_KEYS = {"id": True, "title": True, "weight": False, "standards": True}
STANDARD_KEYS = {
    "id": True,
    "title": True,
    "weight": False,
    "must_meet": False,
    "applies": False,
    "criteria": True,
    "maps_to": False,
}
CRITERION_KEYS = {
    "id": True,
    "text": True,
    "type": True,
    "weight": False,
    "required": False,
    "allow_na": False,
    "evidence": False,
    "guidance": False,
    "levels": False,
    "unit": False,
    "benchmark": False,
    "min": False,
    "max": False,
    "options": False,
    "when": False,
}
TYPE_ONLY_KEYS = {
    "levels": ("level",),
    "unit": ("metric",),
    "benchmark": ("metric",),
    "min": ("metric",),
    "max": ("metric",),
    "options": m.OPTION_TYPES,
}
#: Keys only a schema 2 file may use, by where they are.
SCHEMA_2_KEYS = {"standards set": ("frameworks",), "standard": ("maps_to",), "criterion": ("options", "when")}
PERCENT_RANGE = (0, 100)
#: The outcome fact carries two fields per must-meet standard, and the "working towards" rule tests each twice;
#: durable-rules stops (error 303) once one fact matches more than about 64 times (a test that holds is a match),
#: and does not match a fact of more than about 255 fields, so a file may mark at most this many.
MAX_MUST_MEET = 30
BENCHMARK_KEYS = {"target": True, "direction": True, "amber": False}
APPLIES_KEYS = {"routes": False, "specialties": False, "org_types": False}
ROUTE_KEYS = {"title": False}
OFFER_KEYS = {"id": True, "title": True, "routes": False}
RATING_KEYS = {"rating": True, "min": True}
FLAG_KEYS = {"id": True, "severity": True, "message": True, "when": True}


class StandardsError(Exception):
    """A standards file that breaks the contract; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def load_standards(path: str | Path) -> m.StandardsSet:
    """Load one standards file from disk."""
    path = Path(path)
    name = str(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)  # no more than a file may hold
    except OSError as exc:
        raise StandardsError([f"{name}:1: cannot read file: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_BYTES:
        raise StandardsError(
            [f"{name}:1: the file is larger than {MAX_BYTES // 1024:,} KB, the most a standards file can be"]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StandardsError([f"{name}:{line}: file is not valid UTF-8 text"]) from None
    return parse_standards(text, filename=name)


def parse_standards(text: str, filename: str = "<string>") -> m.StandardsSet:
    """Parse standards YAML text; raises StandardsError listing every problem."""
    try:
        root = parse(text)
    except YamlSyntaxError as exc:
        raise StandardsError([f"{filename}:{exc.line}: {exc.message}"]) from None
    checker = _StandardsReader()
    result = checker.standards_set(root, filename)
    if checker.problems:
        ordered = sorted(checker.problems, key=lambda p: p[0])
        listed = [f"{filename}:{line}: {message}" for line, message in ordered]
        if checker.unlisted:
            listed.append(
                f"{filename}:{ordered[-1][0]}: and {checker.unlisted:,} more problems (the first "
                f"{len(ordered)} found are listed)"
            )
        raise StandardsError(listed)
    assert result is not None
    return result


def content_hash(document: Any) -> str:
    """Hash of the file's meaning: formatting and comments do not change it."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not serialisable: {value!r}")


class _StandardsReader(Checker):
    """Reads one standards file against the contract, collecting every problem (see ``Checker``)."""

    def __init__(self) -> None:
        super().__init__()
        self.schema: Optional[int] = None  # as declared; None when missing or not one this engine reads
        self.frameworks: tuple[m.Framework, ...] = ()
        self.framework_names: Optional[tuple[str, ...]] = ()  # as declared, readable or not
        self.conditions = WhenReader(self)
        self.must_meet_count = 0  # must-meet standards read so far (``MAX_MUST_MEET``)

    def type_check(self, value: Any) -> Optional[str]:
        """A criterion type; a schema 1 file is told of its own types (the schema 2 ones are refused apart)."""
        if isinstance(value, str) and value in m.CRITERION_TYPES:
            return None
        types = [t for t in m.CRITERION_TYPES if self.schema != 1 or t not in m.SCHEMA_2_TYPES]
        return f"must be one of {' | '.join(types)}"

    def schema_2_keys(self, body: Mapping, kind: str, where: str) -> set[str]:
        """In a schema 1 file, report each schema 2 key of ``body``; the keys to leave unread."""
        if self.schema != 1:
            return set()
        found = {key for key in SCHEMA_2_KEYS[kind] if key in body}
        for key in found:
            self.error(body.entries[key].key_line, f"{where}: '{key}' needs schema: 2 (this file declares schema: 1)")
        return found

    def standards_set(self, root: Node | None, filename: str) -> Optional[m.StandardsSet]:
        if root is None or isinstance(root, Scalar) and root.value is None:  # nothing, or only "---"
            self.error(1, "the file is empty; expected a standards set mapping")
            return None
        top = self.mapping(root, "the standards file", 1)
        if top is None:
            return None
        self.keys(top, TOP_KEYS, "standards set")
        where = "standards set"
        schema = self.field(
            top,
            "schema",
            where,
            lambda v: (
                None
                if v in m.SCHEMAS and not isinstance(v, bool)
                else "must be 1 or 2 (the format versions this engine reads)"
            ),
        )
        self.schema = int(schema) if schema is not None else None
        set_id = self.field(
            top,
            "id",
            where,
            lambda v: None if isinstance(v, str) and SET_ID.match(v) else "must be a slug of a-z, 0-9 and '-'",
        )
        version = self.field(top, "version", where, _version_check)
        title = self.text(top, "title", where)
        alliance = self.text(top, "alliance", where)
        effective = self.field(top, "effective_from", where, _date_check)
        pass_mark = self.number(top, "pass_mark", where, m.DEFAULT_PASS_MARK, minimum=0, maximum=100)
        ratings = self.ratings(top)
        routes = self.routes(top)
        route_ids = tuple(r.id for r in routes) if routes is not None else None
        offers = self.core_proposition(top, route_ids)
        if not self.schema_2_keys(top, "standards set", where):
            self.frameworks, self.framework_names = read_frameworks(self, top), framework_names(top)
        source_library = self.source_library(top)
        domains = self.domains(top, route_ids)
        flag_rules = self.flag_rules(top, domains)
        if self.problems:
            return None
        return m.StandardsSet(
            schema_version=schema,
            id=set_id,
            version=version,
            title=title,
            alliance=alliance,
            effective_from=_to_date(effective),
            pass_mark=pass_mark,
            ratings=ratings,
            routes=routes,
            core_proposition=offers,
            domains=domains,
            rules=flag_rules,
            frameworks=self.frameworks,
            source_library=source_library,
            content_hash=content_hash(plain(top)),
            source=filename,
        )

    def source_library(self, top: Mapping) -> Optional[m.SourceLibrary]:
        """The optional ``source:`` mapping (either schema): where an imported set came from, all text."""
        node = top.get("source")
        if node is None:
            return None
        body = self.mapping(node, "standards set: 'source'", node.line)
        if body is None:
            return None
        self.keys(body, dict.fromkeys(m.SOURCE_KEYS, False), "source")
        found = {key: self.field(body, key, "source", _source_text_check) for key in m.SOURCE_KEYS}
        facts = {
            key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in found.items()
            if value is not None
        }
        return m.SourceLibrary(**facts) if facts else None

    def ratings(self, top: Mapping) -> tuple[m.RatingBand, ...]:
        node = top.get("ratings")
        if node is None:
            return tuple(m.RatingBand(rating=r, min=v) for r, v in m.DEFAULT_RATINGS)
        items = self.sequence(top, "ratings", "standards set", required=True)
        bands: list[m.RatingBand] = []
        names: dict[str, int] = {}
        mins: dict[float, int] = {}
        for item in items:
            band = self.mapping(item, "a ratings entry", item.line)
            if band is None:
                continue
            self.keys(band, RATING_KEYS, "ratings entry")
            name = self.field(
                band,
                "rating",
                "ratings entry",
                lambda v: (
                    None if isinstance(v, str) and SLUG.match(v) else "must be a lower-case name such as met or not_met"
                ),
            )
            low = self.number(band, "min", "ratings entry", None, minimum=0, maximum=100)
            if name is not None and name in names:
                self.error(
                    band.entries["rating"].node.line, f"rating '{name}' is already defined on line {names[name]}"
                )
                continue
            if low is not None and low in mins:
                self.error(
                    band.entries["min"].node.line,
                    f"ratings entry: min {low:g} is already used by the band on line {mins[low]}",
                )
                continue
            if name is not None and low is not None:
                names[name] = band.line
                mins[low] = band.line
                bands.append(m.RatingBand(rating=name, min=low))
        return tuple(sorted(bands, key=lambda b: b.min, reverse=True))

    def routes(self, top: Mapping) -> Optional[tuple[m.Route, ...]]:
        node = top.get("routes")
        if node is None:
            return None
        if not isinstance(node, Mapping):
            self.error(
                node.line,
                f"standards set: 'routes' must be a mapping of route name to {{title: ...}}, got {describe(node)}",
            )
            return None
        self.keys(node, {key: False for key in node.entries}, "routes")
        if not node.entries:
            self.error(node.line, "standards set: 'routes' must define at least one membership route")
            return None
        routes = []
        for key, entry in node.entries.items():
            where = f"route '{key}'"
            if not SLUG.match(key):
                self.error(entry.key_line, f"{where}: route names must be lower-case slugs such as full or specialty")
                continue
            title = key.replace("_", " ").replace("-", " ").capitalize() + " membership"
            if isinstance(entry.node, Scalar) and entry.node.value is None:
                routes.append(m.Route(id=key, title=title))
                continue
            body = self.mapping(entry.node, where, entry.key_line)
            if body is None:
                continue
            self.keys(body, ROUTE_KEYS, where)
            routes.append(m.Route(id=key, title=self.text(body, "title", where, title) or title))
        return tuple(routes)

    def core_proposition(self, top: Mapping, route_ids: tuple[str, ...] | None) -> tuple[m.CoreOffer, ...]:
        offers = []
        for item in self.sequence(top, "core_proposition", "standards set", required=False):
            body = self.mapping(item, "a core_proposition entry", item.line)
            if body is None:
                continue
            self.keys(body, OFFER_KEYS, _named(body, "core proposition"))
            ident = self.identifier(body, "core proposition entry", "core_proposition entry")
            where = f"core proposition '{ident}'" if ident else "core_proposition entry"
            title = self.text(body, "title", where)
            routes = self.slug_list(body, "routes", where, route_ids)
            if ident and title is not None:
                offers.append(m.CoreOffer(id=ident, title=title, routes=routes))
        return tuple(offers)

    def domains(self, top: Mapping, route_ids: tuple[str, ...] | None) -> tuple[m.Domain, ...]:
        domains = []
        for item in self.sequence(top, "domains", "standards set", required=False):
            body = self.mapping(item, "a domains entry", item.line)
            if body is None:
                continue
            self.keys(body, DOMAIN_KEYS, _named(body, "domain"))
            ident = self.identifier(body, "domain", "domain")
            where = f"domain '{ident}'" if ident else "domain"
            title = self.text(body, "title", where)
            weight = self.number(body, "weight", where, 1, minimum=0, strict=True)
            standards = tuple(
                s
                for s in (
                    self.standard(s_node, ident or "", route_ids)
                    for s_node in self.sequence(body, "standards", where, required=False)
                )
                if s is not None
            )
            if ident and title is not None and weight is not None:
                domains.append(m.Domain(id=ident, title=title, weight=weight, standards=standards, line=body.line))
        return tuple(domains)

    def standard(self, node: Node, domain_id: str, route_ids: tuple[str, ...] | None) -> Optional[m.Standard]:
        body = self.mapping(node, "a standards entry", node.line)
        if body is None:
            return None
        self.keys(body, STANDARD_KEYS, _named(body, "standard"))
        ident = self.identifier(body, "standard", "standard")
        where = f"standard '{ident}'" if ident else "standard"
        title = self.text(body, "title", where)
        weight = self.number(body, "weight", where, 1, minimum=0, strict=True)
        must_meet = self.boolean(body, "must_meet", where, False)
        if must_meet:
            self.must_meet_count += 1
            if self.must_meet_count == MAX_MUST_MEET + 1:
                self.error(
                    body.entries["must_meet"].node.line,
                    f"{where}: more than {MAX_MUST_MEET} standards are must_meet, more than the engine can test "
                    f"at once; mark at most {MAX_MUST_MEET} standards must_meet",
                )
        applies = m.Applies()
        applies_node = body.get("applies")
        if applies_node is not None:
            applies_body = self.mapping(applies_node, f"{where}: 'applies'", applies_node.line)
            if applies_body is not None:
                self.keys(applies_body, APPLIES_KEYS, f"{where} applies")
                applies = m.Applies(
                    routes=self.slug_list(applies_body, "routes", f"{where} applies", route_ids),
                    specialties=self.slug_list(applies_body, "specialties", f"{where} applies"),
                    org_types=self.slug_list(applies_body, "org_types", f"{where} applies"),
                )
        maps_to: tuple[m.FrameworkRef, ...] = ()
        if not self.schema_2_keys(body, "standard", where):
            maps_to = read_maps_to(self, body, where, self.framework_names)
        criteria = tuple(
            c
            for c in (self.criterion(c_node) for c_node in self.sequence(body, "criteria", where, required=False))
            if c is not None
        )
        if ident is None or title is None or weight is None:
            return None
        return m.Standard(
            id=ident,
            title=title,
            domain=domain_id,
            weight=weight,
            must_meet=must_meet,
            applies=applies,
            criteria=criteria,
            maps_to=maps_to,
            line=body.line,
        )

    def criterion(self, node: Node) -> Optional[m.Criterion]:
        body = self.mapping(node, "a criteria entry", node.line)
        if body is None:
            return None
        self.keys(body, CRITERION_KEYS, _named(body, "criterion"))
        ident = self.identifier(body, "criterion", "criterion")
        where = f"criterion '{ident}'" if ident else "criterion"
        text = self.text(body, "text", where)
        ctype = self.field(body, "type", where, self.type_check)
        weight = self.number(body, "weight", where, 1, minimum=0)
        required = self.boolean(body, "required", where, True)
        allow_na = self.boolean(body, "allow_na", where, False)
        evidence = self.choice(body, "evidence", where, m.EVIDENCE_LEVELS, "none")
        guidance = self.text(body, "guidance", where)
        if ctype in m.SCHEMA_2_TYPES and self.schema == 1:
            self.error(
                body.entries["type"].node.line,
                f"{where}: type '{ctype}' needs schema: 2 (this file declares schema: 1)",
            )
            ctype = None
        unread = self.schema_2_keys(body, "criterion", where)
        for key, owners in TYPE_ONLY_KEYS.items():
            if key in body and key not in unread and ctype is not None and ctype not in owners:
                self.error(
                    body.entries[key].key_line,
                    f"{where}: '{key}' is only allowed on {' and '.join(owners)} criteria, this one is {ctype}",
                )
        levels = None
        unit = None
        benchmark = None
        low = high = None
        options = None
        if ctype == "level":
            levels = self.levels(body, where)
        elif ctype == "metric":
            unit = self.text(body, "unit", where)
            low, high = self.metric_range(body, where, unit)
            benchmark = self.benchmark(body, where, low, high)
        elif ctype in m.OPTION_TYPES and "options" not in unread:
            options = read_options(self, body, where, ctype)
        when = self.conditions.read(body, where, ident) if "when" in body and "when" not in unread else None
        if ident is None or text is None or ctype is None or weight is None:
            return None
        if ctype in m.OPTION_TYPES and options is None or "when" in body and when is None:
            return None
        criterion = m.Criterion(
            id=ident,
            text=text,
            type=ctype,
            weight=weight,
            required=required,
            allow_na=allow_na,
            evidence=evidence,
            guidance=guidance,
            levels=levels,
            unit=unit,
            benchmark=benchmark,
            min=low,
            max=high,
            options=options,
            when=when,
            line=body.line,
        )
        self.conditions.add(criterion)
        return criterion

    def levels(self, body: Mapping, where: str) -> Optional[tuple[str, ...]]:
        node = body.get("levels")
        if node is None:
            self.error(body.line, f"{where}: level criteria need 'levels' (a list of at least two level names)")
            return None
        if not isinstance(node, Sequence):
            self.error(node.line, f"{where}: 'levels' must be a list of level names, got {describe(node)}")
            return None
        if len(node.items) < 2:
            self.error(node.line, f"{where}: 'levels' must list at least two levels, got {len(node.items)}")
            return None
        names = []
        for item in node.items:
            value = item.value if isinstance(item, Scalar) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                self.error(item.line, f"{where}: each level must be a name, got {describe(item)}")
                return None
            names.append(value)
        return tuple(names)

    def metric_range(self, body: Mapping, where: str, unit: Optional[str]) -> tuple[Any, Any]:
        """A metric's (min, max): as given, or 0 and 100 for a "%" metric that gives neither."""
        if "min" not in body and "max" not in body:
            return PERCENT_RANGE if unit == "%" else (None, None)
        low = self.number(body, "min", where, None)
        high = self.number(body, "max", where, None)
        if low is not None and high is not None and low >= high:
            self.error(
                body.entries["max"].node.line,
                f"{where}: 'max' must be greater than 'min', got min {low:g} and max {high:g}",
            )
            return None, None
        return low, high

    def benchmark(self, body: Mapping, where: str, low: Any = None, high: Any = None) -> Optional[m.Benchmark]:
        node = body.get("benchmark")
        if node is None:
            self.error(body.line, f"{where}: metric criteria need a 'benchmark' ({{target, direction, amber}})")
            return None
        bench = self.mapping(node, f"{where}: 'benchmark'", node.line)
        if bench is None:
            return None
        self.keys(bench, BENCHMARK_KEYS, f"{where} benchmark")
        target = self.number(bench, "target", f"{where} benchmark", None)
        direction = self.choice(bench, "direction", f"{where} benchmark", m.DIRECTIONS, None)
        amber = self.number(bench, "amber", f"{where} benchmark", 0, minimum=0)
        if target is not None and (low is not None and target < low or high is not None and target > high):
            shown = f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
            percent = " (a % metric without min and max)" if "min" not in body and "max" not in body else ""
            self.error(
                bench.entries["target"].node.line,
                f"{where} benchmark: 'target' {target:g} is outside the criterion's range {shown}{percent}",
            )
            return None
        if target is None or direction is None or amber is None:
            return None
        return m.Benchmark(target=target, direction=direction, amber=amber)

    def flag_rules(self, top: Mapping, domains: tuple[m.Domain, ...]) -> tuple[m.FlagRule, ...]:
        if "rules" not in top:
            return ()
        reader = FlagRuleReader(self, domains)
        return reader.read(self.sequence(top, "rules", "standards set", required=False))


def _named(body: Mapping, kind: str) -> str:
    """'criterion 'Q1.1'' when the entry has a readable id, so key problems say which entry."""
    ident = body.get("id")
    if isinstance(ident, Scalar) and isinstance(ident.value, str) and ident.value.strip():
        return f"{kind} '{ident.value}'"
    return kind


def _source_text_check(value: Any) -> Optional[str]:
    """Text, or a date (kept as written, YYYY-MM-DD); a number must be quoted so it stays as written."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return None
    if isinstance(value, bool):
        return "must be text: YAML reads a bare yes, no, true or false as a boolean, so put it in quotes"
    return text_check(value)


def _version_check(value: Any) -> Optional[str]:
    if value is UNSET or not isinstance(value, str):
        return 'must be a quoted string such as "2026.1"'
    try:
        Version(value)
    except InvalidVersion:
        return 'must be a version that sorts (PEP 440 or calendar style, e.g. "2026.1")'
    return None


def _date_check(value: Any) -> Optional[str]:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return None
    if isinstance(value, str) and ISO_DATE.match(value):
        try:
            dt.date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return "must be a date written YYYY-MM-DD"


def _to_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)

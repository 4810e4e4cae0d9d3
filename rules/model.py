"""The in-memory standards model: what a validated standards file means.

Everything here is frozen so one loaded version can be shared by the CLI, the
web app and batch workers (and across threads) without anyone changing it.
The loader builds these objects only from input it has already validated.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cached_property
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict

Number = Union[int, float]

SCHEMAS = (1, 2)
CRITERION_TYPES = ("yes_no", "yes_partial_no", "level", "metric", "text", "choice", "multi_choice")
#: Types only a schema 2 file may use.
SCHEMA_2_TYPES = ("choice", "multi_choice")
#: Criterion types answered with one or several of the criterion's own options.
OPTION_TYPES = ("choice", "multi_choice")
#: Types a ``when`` condition may name: one answer, from a short fixed list.
CONDITION_TYPES = ("yes_no", "yes_partial_no", "level", "choice")
EVIDENCE_LEVELS = ("required", "optional", "none")
DIRECTIONS = ("higher", "lower")
FLAG_SEVERITIES = ("info", "warning", "critical")
STANDARD_STATUSES = ("met", "not_met", "not_scored", "not_applicable")
RAG = ("green", "amber", "red")
BREACH_SEVERITIES = ("minor", "major")

DEFAULT_PASS_MARK = 75
DEFAULT_RATINGS = (("exemplary", 90), ("met", 75), ("approaching", 50), ("not_met", 0))

#: Which criterion types accept which string answers (besides "na").
CHOICES = {"yes_no": ("yes", "no"), "yes_partial_no": ("yes", "partial", "no")}


def is_number(value: object) -> bool:
    """A finite int or float that fits a float: what the engine can compare (JSON and YAML allow more)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer of hundreds of digits
        return False


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Benchmark(Frozen):
    target: Number
    direction: Literal["higher", "lower"]
    amber: Number = 0


class Option(Frozen):
    """One option of a choice or multi_choice criterion."""

    id: str
    text: str
    score: Number = 0
    line: int = 0


class When(Frozen):
    """A conditional criterion's condition: asked only when ``criterion`` is answered with one of ``values``.

    ``criterion`` is earlier in the file; ``values`` are answers it accepts
    ("yes"/"partial"/"no", level indices or option ids).
    """

    criterion: str
    values: tuple[Union[str, int], ...]
    line: int = 0


class Criterion(Frozen):
    id: str
    text: str
    type: Literal["yes_no", "yes_partial_no", "level", "metric", "text", "choice", "multi_choice"]
    weight: Number = 1
    required: bool = True
    allow_na: bool = False
    evidence: Literal["required", "optional", "none"] = "none"
    guidance: Optional[str] = None
    levels: Optional[tuple[str, ...]] = None
    unit: Optional[str] = None
    benchmark: Optional[Benchmark] = None
    #: A metric's range, as the file gives it (a "%" metric that gives neither has 0 and 100).
    min: Optional[Number] = None
    max: Optional[Number] = None
    options: Optional[tuple[Option, ...]] = None
    when: Optional[When] = None
    line: int = 0

    @property
    def scored(self) -> bool:
        return self.type != "text"

    @cached_property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options or ())

    def option(self, option_id: str) -> Optional[Option]:
        return next((o for o in self.options or () if o.id == option_id), None)

    def in_range(self, value: Number) -> bool:
        """Whether a metric answer lies within [min, max] (either may be open)."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    @property
    def unit_suffix(self) -> str:
        """The unit as written after a number: "85%" but "3 days"."""
        if not self.unit:
            return ""
        return self.unit if self.unit.startswith("%") else f" {self.unit}"


class Applies(Frozen):
    routes: Optional[tuple[str, ...]] = None
    specialties: Optional[tuple[str, ...]] = None
    org_types: Optional[tuple[str, ...]] = None

    def covers(self, route: str, specialty: Optional[str], org_type: Optional[str]) -> bool:
        if self.routes is not None and route not in self.routes:
            return False
        if self.org_types is not None and org_type not in self.org_types:
            return False
        if route == "specialty" and self.specialties is not None and specialty not in self.specialties:
            return False
        return True


class FrameworkRef(Frozen):
    """One reference of another framework that a standard evidences (``maps_to``)."""

    framework: str
    ref: str
    line: int = 0


class Standard(Frozen):
    id: str
    title: str
    domain: str
    weight: Number = 1
    must_meet: bool = False
    applies: Applies = Applies()
    criteria: tuple[Criterion, ...]
    maps_to: tuple[FrameworkRef, ...] = ()
    line: int = 0


class Domain(Frozen):
    id: str
    title: str
    weight: Number = 1
    standards: tuple[Standard, ...]
    line: int = 0


class Route(Frozen):
    id: str
    title: str


class CoreOffer(Frozen):
    """One entry of the core proposition: support a route's members receive."""

    id: str
    title: str
    routes: Optional[tuple[str, ...]] = None

    def offered_to(self, route: str) -> bool:
        return self.routes is None or route in self.routes


class Framework(Frozen):
    """A framework the set is mapped to (``frameworks``): CQC quality statements, DSPT, ..."""

    id: str
    title: str


#: The keys of a ``source:`` mapping: where an imported set came from (``rules.library_import`` writes them).
SOURCE_KEYS = (
    "name",
    "urn",
    "ref_id",
    "version",
    "provider",
    "packager",
    "publication_date",
    "locale",
    "copyright",
    "framework_urn",
)


class SourceLibrary(Frozen):
    """The published library a set was imported from (the file's optional ``source:`` mapping), all text."""

    name: Optional[str] = None
    urn: Optional[str] = None
    ref_id: Optional[str] = None
    version: Optional[str] = None
    provider: Optional[str] = None
    packager: Optional[str] = None
    publication_date: Optional[str] = None
    locale: Optional[str] = None
    copyright: Optional[str] = None
    framework_urn: Optional[str] = None

    def facts(self) -> tuple[tuple[str, str], ...]:
        """(key, value) of each key the file gives, in ``SOURCE_KEYS`` order."""
        return tuple((key, getattr(self, key)) for key in SOURCE_KEYS if getattr(self, key) is not None)


class RatingBand(Frozen):
    rating: str
    min: Number


class Condition(Frozen):
    """A leaf test of a flag rule, on one criterion or one standard.

    ``test`` is one of: answer, answered, rag, breach (criterion) or status
    (standard);
    ``op`` is eq, ne, lt, lte, gt or gte; ``value`` is what is compared.
    """

    target: Literal["criterion", "standard"]
    ref: str
    test: Literal["answer", "answered", "rag", "breach", "status"]
    op: Literal["eq", "ne", "lt", "lte", "gt", "gte", "in"]
    value: Union[str, int, float, tuple[Union[str, int, float], ...]]


class Combination(Frozen):
    mode: Literal["all", "any"]
    items: tuple[Union[Combination, Condition], ...]


class FlagRule(Frozen):
    id: str
    severity: Literal["info", "warning", "critical"]
    message: str
    when: Combination
    line: int = 0


class StandardsSet(Frozen):
    """One version of one standards set, as loaded from one file."""

    schema_version: int
    id: str
    version: str
    title: str
    alliance: str
    effective_from: dt.date
    pass_mark: Number = DEFAULT_PASS_MARK
    ratings: tuple[RatingBand, ...]
    routes: tuple[Route, ...]
    core_proposition: tuple[CoreOffer, ...] = ()
    domains: tuple[Domain, ...]
    rules: tuple[FlagRule, ...] = ()
    frameworks: tuple[Framework, ...] = ()
    #: The library the set was imported from, if the file says (``source:``); ``source`` is the file's own name.
    source_library: Optional[SourceLibrary] = None
    content_hash: str
    source: str = "<string>"

    @cached_property
    def standards(self) -> tuple[Standard, ...]:
        return tuple(s for d in self.domains for s in d.standards)

    @cached_property
    def criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for s in self.standards for c in s.criteria)

    @cached_property
    def criterion_lookup(self) -> dict[str, tuple[Standard, Criterion]]:
        """Criterion id -> (its standard, the criterion)."""
        return {c.id: (s, c) for s in self.standards for c in s.criteria}

    @cached_property
    def mapped_refs(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Framework id -> ref -> ids of the standards mapped to it: frameworks in declaration order, refs in
        order of first appearance in the file (a framework nothing maps to has no refs)."""
        found: dict[str, dict[str, list[str]]] = {f.id: {} for f in self.frameworks}
        for standard in self.standards:
            for mapping in standard.maps_to:
                found[mapping.framework].setdefault(mapping.ref, []).append(standard.id)
        return {fid: {ref: tuple(ids) for ref, ids in refs.items()} for fid, refs in found.items()}

    @cached_property
    def route_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.routes)

    @cached_property
    def applicability_cache(self) -> dict[tuple, frozenset[str]]:
        return {}

    @cached_property
    def answer_forms(self) -> dict[str, tuple]:
        """Filled by ``rules.answers`` on first use: how to recognise each criterion's common answers."""
        return {}

    @cached_property
    def applicable_answer_forms(self) -> dict[frozenset[str], dict[str, tuple]]:
        """Filled by ``rules.answers``: ``answer_forms`` of the criteria of each set of standards that apply."""
        return {}

    def applicable_ids(self, route: str, specialty: Optional[str], org_type: Optional[str]) -> frozenset[str]:
        """Ids of the standards that apply to such a member (worked out once per kind of member)."""
        key = (route, specialty if route == "specialty" else None, org_type)
        found = self.applicability_cache.get(key)
        if found is None:
            found = frozenset(s.id for s in self.standards if s.applies.covers(route, specialty, org_type))
            self.applicability_cache[key] = found
        return found

    @property
    def label(self) -> str:
        return f"{self.id} {self.version}"

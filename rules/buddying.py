"""Buddying: which members need a buddy on which standard, and who should it be.

Buddying pairs a member below a standard with a stronger peer that meets it.
Two parts, both pure (the database and web layers pass plain data in):

1. Needs. Every standard a member's latest result has ``not_met`` and every
   standard with a major breach raises one need per (member, standard),
   decided by a small data-driven durable-rules ruleset (facts per standard:
   its status and its count of major breaches). A standard both not met and
   breached gives reason ``not_met``; ``major_breach`` covers a breach in a
   standard that is otherwise met (a lead may have set it met).

2. Matching (``match``). For each need, one buddy from the member's alliance
   whose latest result has that standard met, and:

   - in scope: a full member covers every member; any other member covers
     only members of its own route and specialty (a specialty member needs a
     full member or a specialty member of the same specialty; a full member
     needs a full member);
   - never the member itself, nor another membership of its organisation;
   - within capacity: a buddy organisation takes at most ``capacity``
     distinct mentee members at once (its current mentees plus new
     proposals); further needs of a member it already buddies are free, so
     one buddy may cover several needs of the same member;

   preferring, in this order: the top quartile of the alliance on that
   standard (score at or above the score of the best quarter of members with
   a score on it, ties included); the same region; the shorter great-circle
   distance where both have coordinates (travel time limits what buddying can
   offer; unknown distance sorts after every known one); the fewest other
   mentees; then the lower membership id. Needs with the fewest possible
   buddies are matched first, so scarce buddies go where nobody else could
   help; ties by membership id and standard id. The outcome depends only on
   the needs and members given, not on their order. A need nobody can take
   is returned in ``no_buddy``, for the alliance lead.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping, Optional, Sequence

from .durable_engine import Ruleset

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
DEFAULT_CAPACITY = 3
CAP = 1000
FACTS_PER_SESSION = 3000  # many members' standards per engine run, well inside the core's batch limits

NEED_RULES = {
    "need_not_met": {"all": [{"m": {"$and": [{"t": "b"}, {"st": "not_met"}]}}], "cap": CAP},
    "need_major_breach": {
        "all": [{"m": {"$and": [{"t": "b"}, {"$neq": {"st": "not_met"}}, {"$gt": {"mj": 0}}]}}],
        "cap": CAP,
    },
    "no_need": {"all": [{"m": {"$and": [{"t": "b"}, {"$neq": {"st": "not_met"}}, {"mj": 0}]}}], "cap": CAP},
}
REASON_OF_RULE = {"need_not_met": "not_met", "need_major_breach": "major_breach"}


class BuddyingError(ValueError):
    """Input that cannot be matched, naming what is wrong."""


@dataclass(frozen=True)
class Need:
    """A member that needs a buddy on one standard, and why."""

    membership_id: int
    standard: str
    reason: Literal["not_met", "major_breach"]
    criteria: tuple[str, ...] = ()  # criteria of the standard with a major breach, in file order


@dataclass(frozen=True)
class MemberProfile:
    """What matching needs to know about one membership of an alliance."""

    membership_id: int
    organisation_id: int
    route: str
    specialty: Optional[str] = None
    region: Optional[str] = None
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    scores: Mapping[str, Optional[float]] = field(default_factory=dict)  # standard -> latest score (0..100)
    statuses: Mapping[str, str] = field(default_factory=dict)  # standard -> latest decided status
    mentees: frozenset[int] = frozenset()  # membership ids it buddies now (accepted or active pairs)
    alliance_id: Optional[int] = None

    @classmethod
    def from_result(
        cls,
        membership_id: int,
        organisation_id: int,
        result: Optional[Mapping],
        *,
        route: Optional[str] = None,
        specialty: Optional[str] = None,
        region: Optional[str] = None,
        latitude: Optional[float] = None,
        longitude: Optional[float] = None,
        mentees: Iterable[int] = (),
        alliance_id: Optional[int] = None,
    ) -> MemberProfile:
        """A profile from a scoring result (None: no decided result yet, so it can buddy nobody)."""
        standard_results = (result or {}).get("standard_results", {})
        if route is None:
            if result is None:
                raise BuddyingError(f"membership {membership_id}: a route is needed when there is no result")
            route, specialty = result["route"], result.get("specialty")
        return cls(
            membership_id,
            organisation_id,
            route,
            specialty,
            region,
            latitude,
            longitude,
            scores={sid: r.get("score") for sid, r in standard_results.items()},
            statuses={sid: r["status"] for sid, r in standard_results.items()},
            mentees=frozenset(mentees),
            alliance_id=alliance_id,
        )

    @property
    def scope(self) -> Optional[tuple[str, Optional[str]]]:
        """What this member's support covers: None for everything (full route)."""
        return None if self.route == "full" else (self.route, self.specialty)

    def covers(self, mentee: MemberProfile) -> bool:
        return self.scope is None or self.scope == mentee.scope


@dataclass(frozen=True)
class Proposal:
    """A proposed buddy for a need, with why it was chosen."""

    need: Need
    buddy_membership_id: int
    buddy_organisation_id: int
    buddy_score: Optional[float]
    top_quartile: bool
    same_region: bool
    distance_km: Optional[float]
    load: int  # the buddy organisation's other mentee members when proposed
    capacity: int

    @property
    def reasons(self) -> list[str]:
        score = "no score" if self.buddy_score is None else f"scores {self.buddy_score:g}"
        quartile = "top quartile of the alliance" if self.top_quartile else "below the top quartile"
        return [
            f"meets {self.need.standard} ({score}, {quartile})",
            "same region" if self.same_region else "another region",
            "distance unknown" if self.distance_km is None else f"{self.distance_km:.0f} km away",
            f"buddies {self.load} other member{'s' if self.load != 1 else ''} (capacity {self.capacity})",
        ]


@dataclass(frozen=True)
class Matching:
    proposals: tuple[Proposal, ...]  # in the order of the needs given
    no_buddy: tuple[Need, ...]  # needs nobody can take: "no buddy available", for the lead


# -- needs ------------------------------------------------------------------------------------------

_ruleset: Optional[Ruleset] = None
_ruleset_lock = threading.Lock()


def _needs_ruleset() -> Ruleset:
    global _ruleset
    with _ruleset_lock:
        if _ruleset is None:
            _ruleset = Ruleset("buddying-needs", NEED_RULES)
        return _ruleset


def derive_needs(results: Mapping[int, Mapping] | Iterable[tuple[int, Mapping]]) -> list[Need]:
    """The buddying needs of members' latest results (membership id -> scoring result).

    In the order given, and per member in the result's standard order. The rules read a standard's status
    and its count of major breaches only, so standards alike in both are one fact to them: each distinct
    fact is asserted once (an alliance's thousand standards are a dozen facts).
    """
    items = list(results.items() if isinstance(results, Mapping) else results)
    keys: list[tuple[int, str, tuple[str, ...], int]] = []  # (membership, standard, breached criteria, fact id)
    fact_ids: dict[tuple[str, int], int] = {}  # (status, major breaches) -> fact id
    for membership_id, result in items:
        majors: dict[str, list[str]] = defaultdict(list)
        for breach in result.get("breaches", ()):
            if breach["severity"] == "major":
                majors[breach["standard"]].append(breach["criterion"])
        for standard_id, outcome in result["standard_results"].items():
            fact_id = fact_ids.setdefault((outcome["status"], len(majors[standard_id])), len(fact_ids))
            keys.append((membership_id, standard_id, tuple(majors[standard_id]), fact_id))
    facts = [{"t": "b", "id": fact_id, "st": status, "mj": major} for (status, major), fact_id in fact_ids.items()]
    reasons: dict[int, str] = {}
    ruleset = _needs_ruleset()
    for start in range(0, len(facts), FACTS_PER_SESSION):
        with ruleset.session() as session:
            for rule, fact_id in session.assert_facts(facts[start : start + FACTS_PER_SESSION]):
                if rule in REASON_OF_RULE:
                    reasons[fact_id] = REASON_OF_RULE[rule]
    return [
        Need(membership_id, standard_id, reasons[fact_id], criteria)
        for membership_id, standard_id, criteria, fact_id in keys
        if fact_id in reasons
    ]


def needs_for(membership_id: int, result: Mapping) -> list[Need]:
    """One member's buddying needs."""
    return derive_needs([(membership_id, result)])


# -- matching ---------------------------------------------------------------------------------------


def distance_km(a: MemberProfile, b: MemberProfile) -> Optional[float]:
    """Great-circle (haversine) distance, or None when either has no coordinates."""
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    half_dlat, half_dlon = (lat2 - lat1) / 2, math.radians(b.longitude - a.longitude) / 2
    h = math.sin(half_dlat) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(half_dlon) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def top_quartile(members: Iterable[MemberProfile], standard: str) -> set[int]:
    """Membership ids scoring at or above the best quarter's lowest score on a standard (ties included)."""
    scored = sorted(
        ((p.scores.get(standard), p.membership_id) for p in members if p.scores.get(standard) is not None), reverse=True
    )
    if not scored:
        return set()
    threshold = scored[math.ceil(len(scored) / 4) - 1][0]
    return {membership_id for score, membership_id in scored if score >= threshold}


def _check(needs: Sequence[Need], members: Sequence[MemberProfile], capacity: int) -> dict[int, MemberProfile]:
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
        raise BuddyingError(f"capacity must be a whole number of mentees, 0 or more, not {capacity!r}")
    profiles: dict[int, MemberProfile] = {}
    for profile in members:
        if profile.membership_id in profiles:
            raise BuddyingError(f"membership {profile.membership_id} is given twice")
        profiles[profile.membership_id] = profile
    seen = set()
    for need in needs:
        if need.membership_id not in profiles:
            raise BuddyingError(f"need on {need.standard}: membership {need.membership_id} is not among the members")
        if (need.membership_id, need.standard) in seen:
            raise BuddyingError(f"membership {need.membership_id} has two needs on {need.standard}")
        seen.add((need.membership_id, need.standard))
    return profiles


def match(needs: Sequence[Need], members: Sequence[MemberProfile], capacity: int = DEFAULT_CAPACITY) -> Matching:
    """Propose a buddy for each need (see the module's docstring for the rules)."""
    profiles = _check(needs, members, capacity)
    ordered = sorted(profiles.values(), key=lambda p: p.membership_id)
    standards = {need.standard for need in needs}
    # Per standard: the members that meet it, best quartile first.
    tiers: dict[str, tuple[list[MemberProfile], list[MemberProfile]]] = {}
    tops: dict[str, set[int]] = {}
    for standard in standards:
        tops[standard] = top_quartile(ordered, standard)
        meeting = [p for p in ordered if p.statuses.get(standard) == "met"]
        tiers[standard] = (
            [p for p in meeting if p.membership_id in tops[standard]],
            [p for p in meeting if p.membership_id not in tops[standard]],
        )
    taken: dict[int, set[int]] = defaultdict(set)  # buddy organisation -> its distinct mentee members
    by_organisation: dict[int, list[MemberProfile]] = defaultdict(list)
    for profile in ordered:
        taken[profile.organisation_id] |= profile.mentees
        by_organisation[profile.organisation_id].append(profile)
    meeting_by_scope: dict[tuple, int] = defaultdict(int)  # (standard, alliance, scope) -> members meeting it
    for standard in standards:
        for tier in tiers[standard]:
            for buddy in tier:
                meeting_by_scope[(standard, buddy.alliance_id, buddy.scope)] += 1

    def possible(need: Need) -> int:
        """How many members could ever buddy this need (capacity aside), counted by scope."""
        mentee, standard = profiles[need.membership_id], need.standard
        count = meeting_by_scope[(standard, mentee.alliance_id, None)]
        if mentee.scope is not None:
            count += meeting_by_scope[(standard, mentee.alliance_id, mentee.scope)]
        return count - sum(
            1
            for own in by_organisation[mentee.organisation_id]
            if own.statuses.get(standard) == "met" and own.alliance_id == mentee.alliance_id and own.covers(mentee)
        )

    chosen: dict[tuple[int, str], Proposal] = {}
    for need in sorted(needs, key=lambda n: (possible(n), n.membership_id, n.standard)):
        mentee = profiles[need.membership_id]
        best: Optional[tuple] = None
        for tier in tiers[need.standard]:
            for buddy in tier:
                mentees = taken[buddy.organisation_id]
                already = mentee.membership_id in mentees
                if not already and len(mentees) >= capacity or not _suits(buddy, mentee):
                    continue
                same_region = mentee.region is not None and buddy.region == mentee.region
                distance = distance_km(mentee, buddy)
                load = len(mentees) - already
                key = (not same_region, math.inf if distance is None else distance, load, buddy.membership_id)
                if best is None or key < best[0]:
                    best = (key, buddy, same_region, distance, load)
            if best is not None:
                break
        if best is None:
            continue
        _, buddy, same_region, distance, load = best
        taken[buddy.organisation_id].add(mentee.membership_id)
        chosen[(need.membership_id, need.standard)] = Proposal(
            need,
            buddy.membership_id,
            buddy.organisation_id,
            buddy.scores.get(need.standard),
            buddy.membership_id in tops[need.standard],
            same_region,
            distance,
            load,
            capacity,
        )
    proposals = tuple(chosen[key] for key in ((n.membership_id, n.standard) for n in needs) if key in chosen)
    no_buddy = tuple(n for n in needs if (n.membership_id, n.standard) not in chosen)
    return Matching(proposals, no_buddy)


def _suits(buddy: MemberProfile, mentee: MemberProfile) -> bool:
    """Could this member ever buddy that one: another organisation, same alliance, in scope."""
    return (
        buddy.organisation_id != mentee.organisation_id
        and buddy.alliance_id == mentee.alliance_id
        and buddy.covers(mentee)
    )

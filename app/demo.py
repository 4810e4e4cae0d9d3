"""A realistic alliance world to demonstrate and try the product.

Two alliances: the National Orthopaedic Alliance (its founding partners and
twenty-odd members across England's regions) and a Guy's and St Thomas' style
Healthcare Alliance (Dartford and Gravesham as founding full member, plus full
and specialty members). Each member has self-assessments for two cycles:
2025/26, all decided, and 2026/27, a mix of decided, under review, submitted
and draft. Organisation names, types and regions are real; every answer,
score and decision is invented, and targets in the standards are illustrative.

Answers are generated from the loaded standards, not written out by criterion
id: each assessment follows a profile (strong, typical, major breach, weak,
failing) drawn with a fixed seed, and is re-drawn until the real engine gives
the profile's outcome, so every outcome, benchmark breach, at-risk member and
one "suspension recommended" case appear on every load, identically.

The lead's review work is there too: comments to members (one on a
question), overrides with reasons on assessments under review, a notification
for every decision and comment, members' improvement plans for the gaps of
their 2025/26 results (overdue, in progress, and closed by a 2026/27 result),
and buddying proposals for the National Orthopaedic Alliance's 2026/27 cycle.

Everything goes through the service layer, at the time it happens in the
story (``clock_at``), so audit log, status histories and dates read like a real
history. Loading twice adds nothing.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from sqlmodel import Session, func, select

import rules
from rules.model import Criterion, StandardsSet

from . import services
from .db import ROOT
from .models import (Alliance, Assessment, AssessmentCycle, AssessmentResult, BuddyAssignment, Membership,
                     Notification, Organisation, ResultOverride, ReviewComment, User, clock_at)
from .services import Actor
from .services.buddying import planning as buddy_service
from .services import plans as plan_service
from .services import review as review_service
from .services.accounts import hash_password
from .storage import UploadStore, attach_file, default_store

STANDARDS_DIR = ROOT / "standards"
EMAIL_DOMAIN = "demo.example"


@dataclass(frozen=True)
class Org:
    ods: str
    name: str
    org_type: str
    region: str
    latitude: float
    longitude: float


ORGANISATIONS = {org.ods: org for org in (
    Org("RL1", "Robert Jones and Agnes Hunt Orthopaedic Hospital NHS Foundation Trust", "specialist",
        "West Midlands (Oswestry)", 52.8906, -3.0337),
    Org("RAN", "Royal National Orthopaedic Hospital NHS Trust", "specialist", "London (Stanmore)", 51.6290, -0.3180),
    Org("RRJ", "The Royal Orthopaedic Hospital NHS Foundation Trust", "specialist", "West Midlands (Birmingham)",
        52.4140, -1.9660),
    Org("RTH", "Oxford University Hospitals NHS Foundation Trust", "acute", "South East (Oxford)", 51.7640, -1.2190),
    Org("RRF", "Wrightington, Wigan and Leigh Teaching Hospitals NHS Foundation Trust", "acute", "Greater Manchester",
        53.5930, -2.7140),
    Org("RJ1", "Guy's and St Thomas' NHS Foundation Trust", "acute", "South East London", 51.4980, -0.1180),
    Org("RN7", "Dartford and Gravesham NHS Trust", "acute", "North Kent", 51.4370, 0.2580),
    Org("RJZ", "King's College Hospital NHS Foundation Trust", "acute", "South East London", 51.4680, -0.0940),
    Org("RJ2", "Lewisham and Greenwich NHS Trust", "acute", "South East London", 51.4530, -0.0180),
    Org("RV5", "South London and Maudsley NHS Foundation Trust", "mental-health", "South East London", 51.4690, -0.0910),
    Org("RPG", "Oxleas NHS Foundation Trust", "community", "South East London", 51.4480, 0.1800),
    Org("RTF", "Northumbria Healthcare NHS Foundation Trust", "acute", "North East", 55.0900, -1.5800),
    Org("RNL", "North Cumbria Integrated Care NHS Foundation Trust", "acute", "Cumbria", 54.8950, -2.9550),
    Org("RAL", "Royal Free London NHS Foundation Trust", "acute", "North London", 51.5530, -0.1650),
    Org("RAP", "North Middlesex University Hospital NHS Trust", "acute", "North London", 51.6130, -0.0700),
    Org("RWG", "West Hertfordshire Teaching Hospitals NHS Trust", "acute", "Hertfordshire", 51.6500, -0.4040),
    Org("RM3", "Salford Royal NHS Foundation Trust", "acute", "Greater Manchester", 53.4870, -2.3220),
    Org("RW6", "Pennine Acute Hospitals NHS Trust", "acute", "Greater Manchester", 53.5130, -2.2250),
    Org("RBD", "Dorset County Hospital NHS Foundation Trust", "acute", "Dorset", 50.7110, -2.4460),
    Org("RD3", "Poole Hospital NHS Foundation Trust", "acute", "Dorset", 50.7200, -1.9760),
    Org("RDZ", "The Royal Bournemouth and Christchurch Hospitals NHS Foundation Trust", "acute", "Dorset",
        50.7480, -1.8210),
    Org("RCU", "Sheffield Children's NHS Foundation Trust", "specialist", "Yorkshire", 53.3800, -1.4900),
    Org("RFS", "Chesterfield Royal Hospital NHS Foundation Trust", "acute", "Derbyshire", 53.2360, -1.3820),
    Org("RX1", "Nottingham University Hospitals NHS Trust", "acute", "East Midlands", 52.9440, -1.1860),
    Org("RJF", "Burton Hospitals NHS Foundation Trust", "acute", "East Midlands", 52.8170, -1.6570),
    Org("RET", "The Walton Centre NHS Foundation Trust", "specialist", "Cheshire and Merseyside", 53.4660, -2.9310),
    Org("RWW", "Warrington and Halton Teaching Hospitals NHS Foundation Trust", "acute", "Cheshire and Merseyside",
        53.3900, -2.6050),
    Org("RP6", "Moorfields Eye Hospital NHS Foundation Trust", "specialist", "London", 51.5270, -0.0890),
    Org("RYJ", "Imperial College Healthcare NHS Trust", "acute", "North West London", 51.5170, -0.1740),
)}

# Profiles: what a self-assessment looks like, and the engine outcome it must produce.
STRONG, TYPICAL, MAJOR, WEAK, FAILING = "strong", "typical", "major", "weak", "failing"
#: profile -> (good, fair, poor) for non-metric answers, (green, amber, red) for metrics
PROFILES = {
    STRONG: ((0.9, 0.1, 0.0), (1.0, 0.0, 0.0)),
    TYPICAL: ((0.75, 0.2, 0.05), (0.85, 0.15, 0.0)),
    MAJOR: ((0.75, 0.2, 0.05), (0.8, 0.2, 0.0)),
    WEAK: ((0.35, 0.35, 0.3), (0.35, 0.65, 0.0)),
    FAILING: ((0.1, 0.3, 0.6), (0.15, 0.35, 0.5)),
}
EXPECTED_OUTCOME = {STRONG: "accredited", TYPICAL: "accredited_with_conditions", WEAK: "working_towards",
                    FAILING: "not_accredited"}

DECIDED, UNDER_REVIEW, SUBMITTED, DRAFT = "decided", "under_review", "submitted", "draft"


@dataclass(frozen=True)
class Plan:
    """One membership's story: route, when it joined, and each cycle's profile and where it got to."""

    ods: str
    route: str = "full"
    specialty: Optional[str] = None
    applied: dt.date = dt.date(2016, 1, 11)
    founding: bool = False
    cycle1: Optional[str] = None          # profile; decided
    cycle2: Optional[tuple[str, str]] = None  # (profile, state)
    suspend: bool = False                # the lead suspends after the recommendation
    withdraws: Optional[str] = None      # reason, after the 2025/26 decision


@dataclass(frozen=True)
class AllianceDemo:
    slug: str
    name: str
    standards_file: str
    lead_email: str
    lead_name: str
    lead_password: str
    created: dt.date
    plans: tuple[Plan, ...]


NOA = AllianceDemo(
    slug="noa", name="National Orthopaedic Alliance", standards_file="noa-orthopaedics-2026.1.yaml",
    lead_email=f"lead.noa@{EMAIL_DOMAIN}", lead_name="NOA alliance lead", lead_password="demo-lead-noa-pass",
    created=dt.date(2016, 1, 4),
    plans=(
        Plan("RL1", founding=True, cycle1=STRONG, cycle2=(STRONG, DECIDED)),
        Plan("RAN", founding=True, cycle1=STRONG, cycle2=(TYPICAL, DECIDED)),
        Plan("RRJ", founding=True, cycle1=TYPICAL, cycle2=(STRONG, UNDER_REVIEW)),
        Plan("RTH", founding=True, cycle1=STRONG, cycle2=(TYPICAL, SUBMITTED)),
        Plan("RRF", founding=True, cycle1=TYPICAL, cycle2=(STRONG, DECIDED)),
        Plan("RTF", applied=dt.date(2017, 2, 6), cycle1=STRONG, cycle2=(STRONG, DECIDED)),
        Plan("RNL", applied=dt.date(2017, 5, 8), cycle1=MAJOR, cycle2=(MAJOR, DECIDED), suspend=True),
        Plan("RAL", applied=dt.date(2017, 9, 4), cycle1=TYPICAL, cycle2=(TYPICAL, SUBMITTED)),
        Plan("RAP", applied=dt.date(2018, 1, 8), cycle1=MAJOR, cycle2=(WEAK, DRAFT)),
        Plan("RWG", applied=dt.date(2018, 3, 5), cycle1=MAJOR, cycle2=(MAJOR, UNDER_REVIEW)),
        Plan("RM3", applied=dt.date(2018, 6, 4), cycle1=STRONG, cycle2=(TYPICAL, UNDER_REVIEW)),
        Plan("RW6", applied=dt.date(2018, 9, 3), cycle1=MAJOR, cycle2=(MAJOR, DECIDED)),
        Plan("RBD", applied=dt.date(2019, 1, 7), cycle1=WEAK, cycle2=(TYPICAL, DECIDED)),
        Plan("RD3", applied=dt.date(2019, 2, 4), cycle1=TYPICAL,
             withdraws="withdrew after the 2025/26 cycle: orthopaedic services moved to a neighbouring trust"),
        Plan("RDZ", applied=dt.date(2019, 2, 11), cycle1=TYPICAL, cycle2=(TYPICAL, DRAFT)),
        Plan("RCU", route="specialty", specialty="paediatric-orthopaedics", applied=dt.date(2019, 6, 3),
             cycle1=TYPICAL, cycle2=(STRONG, SUBMITTED)),
        Plan("RFS", applied=dt.date(2019, 10, 7), cycle1=FAILING, cycle2=(WEAK, DRAFT)),
        Plan("RX1", applied=dt.date(2020, 1, 13), cycle1=STRONG, cycle2=(STRONG, SUBMITTED)),
        Plan("RJF", applied=dt.date(2020, 9, 7), cycle1=MAJOR, cycle2=(TYPICAL, DECIDED)),
        Plan("RET", route="specialty", specialty="spinal", applied=dt.date(2021, 3, 1), cycle1=STRONG,
             cycle2=(TYPICAL, DRAFT)),
        Plan("RWW", applied=dt.date(2021, 9, 6), cycle1=WEAK, cycle2=(WEAK, UNDER_REVIEW)),
        Plan("RJZ", route="specialty", specialty="spinal", applied=dt.date(2022, 4, 4), cycle1=TYPICAL,
             cycle2=(MAJOR, SUBMITTED)),
        Plan("RJ2", applied=dt.date(2022, 10, 3), cycle1=WEAK, cycle2=(FAILING, DECIDED)),
        Plan("RN7", applied=dt.date(2023, 5, 2), cycle1=STRONG),
        Plan("RJ1", applied=dt.date(2023, 11, 6), cycle1=STRONG, cycle2=(STRONG, UNDER_REVIEW)),
        Plan("RYJ", applied=dt.date(2026, 6, 1), cycle2=(TYPICAL, DRAFT)),
    ),
)

HEALTHCARE = AllianceDemo(
    slug="healthcare-alliance", name="Guy's and St Thomas' Healthcare Alliance",
    standards_file="healthcare-alliance-2026.1.yaml", lead_email=f"lead.healthcare@{EMAIL_DOMAIN}",
    lead_name="Healthcare Alliance lead (Guy's and St Thomas')", lead_password="demo-lead-healthcare-pass",
    created=dt.date(2018, 8, 1),
    plans=(
        Plan("RN7", applied=dt.date(2018, 9, 3), founding=True, cycle1=STRONG, cycle2=(STRONG, DECIDED)),
        Plan("RPG", applied=dt.date(2019, 7, 1), cycle1=TYPICAL, cycle2=(TYPICAL, UNDER_REVIEW)),
        Plan("RJZ", route="specialty", specialty="cardiology", applied=dt.date(2020, 2, 3), cycle1=STRONG,
             cycle2=(TYPICAL, SUBMITTED)),
        Plan("RJ2", route="specialty", specialty="orthopaedics", applied=dt.date(2021, 1, 11), cycle1=TYPICAL,
             cycle2=(MAJOR, DECIDED)),
        Plan("RV5", route="specialty", specialty="camhs", applied=dt.date(2022, 6, 6), cycle1=WEAK,
             cycle2=(TYPICAL, DRAFT)),
        Plan("RP6", route="specialty", specialty="ophthalmology", applied=dt.date(2026, 7, 6), cycle2=(STRONG, DRAFT)),
    ),
)

ALLIANCES = (NOA, HEALTHCARE)
CYCLES = (("2025/26", dt.date(2025, 4, 1), dt.date(2026, 3, 31)), ("2026/27", dt.date(2026, 4, 1), dt.date(2027, 3, 31)))
ADMIN = (f"admin@{EMAIL_DOMAIN}", "Platform administrator", "demo-admin-password")
PORTAL_OPENED = dt.date(2025, 4, 1)

#: (alliance, member) -> the lead's comments on its 2026/27 self-assessment:
#: (days after submission, about the member's headline measure?, text)
COMMENTS = {
    ("noa", "RTH"): ((4, False, "Thank you for submitting early. Before the panel, please replace the link to the "
                               "theatre utilisation report: it opens a sign-in page, not the document."),),
    ("noa", "RRJ"): ((12, True, "Please confirm the period this figure covers: the panel compares April to September "
                               "across members, and yours looks like a full year."),
                     (14, False, "The peer review visit is booked for the second week of next month; the clinical "
                                 "practice group would like to see the new enhanced recovery pathway.")),
    ("noa", "RWG"): ((13, False, "This is the second cycle with a major breach of the same benchmark. Please "
                                 "bring the recovery trajectory to the panel, with its owner and milestones."),),
    ("healthcare-alliance", "RPG"): ((12, False, "Thank you. The community MSK waiting times are a focus for the "
                                                 "alliance this year; please add the latest board report."),),
    ("healthcare-alliance", "RJZ"): ((5, False, "Received. The cardiology specialty lead will review this with "
                                                "you at the quarterly specialty meeting."),),
}

#: (alliance, member) -> the lead's override on its 2026/27 self-assessment under review: (kind, reason)
OVERRIDES = {
    ("noa", "RM3"): ("criterion", "Seen fully in place at the peer review visit on {day}; the evidence uploaded was "
                                  "last year's version, so the answer undersold it. Full credit."),
    ("noa", "RWW"): ("standard", "Met: the board ratified the policy after the submission, and the minutes were seen "
                                 "at the peer review visit on {day}."),
}

#: Members that record improvement plans for the gaps of their 2025/26 result.
PLAN_WRITERS = (("noa", "RNL"), ("noa", "RWG"), ("noa", "RW6"), ("noa", "RBD"), ("noa", "RFS"), ("noa", "RJ2"),
                ("healthcare-alliance", "RV5"))
#: For each member's first three gaps: (due, progress); the first is overdue unless 2026/27 closed the gap.
PLAN_SHAPES = ((dt.date(2026, 9, 30), "in_progress"), (dt.date(2027, 3, 31), "in_progress"),
               (dt.date(2026, 12, 31), "not_started"))
PLAN_OWNERS = ("Clinical director, trauma and orthopaedics", "Divisional director of nursing",
               "Head of quality and governance")
PLANS_RECORDED = dt.date(2026, 4, 14)
PLANS_CLOSED = dt.date(2026, 11, 16)
BUDDIES_PROPOSED = dt.date(2026, 11, 18)

TEXT_ANSWERS = (
    "Reviewed every quarter at the divisional quality meeting; actions are tracked on the risk register.",
    "Summarised in the annual report to the board; the remaining gaps have named owners and dates.",
    "Plan agreed with the clinical lead and the alliance clinical practice group; due by the end of the cycle.",
    "Shared with the alliance at the last peer review visit; the notes are on the information portal.",
)


class DemoError(services.ServiceError):
    """The demonstration world cannot be loaded (e.g. a bundled standards pack is missing)."""


@dataclass
class DemoReport:
    added: bool
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    users: list[tuple[str, str, str, str]] = field(default_factory=list)  # role, email, password, where

    def lines(self) -> list[str]:
        if self.added:
            out = ["demo data loaded: " + ", ".join(f"{n} {what}" for what, n in self.counts.items())]
        else:
            out = ["demo data already loaded: nothing added"]
        out += [f"  {note}" for note in self.notes]
        out.append("demo users (these passwords are for the demonstration only):")
        width = max((len(email) for _, email, _, _ in self.users), default=0)
        out += [f"  {role:<6} {email:<{width}}  {password:<26} {where}" for role, email, password, where in self.users]
        return out


def member_email(ods: str) -> str:
    return f"member.{ods.lower()}@{EMAIL_DOMAIN}"


def member_password(ods: str) -> str:
    return f"demo-member-{ods.lower()}"


def demo_users() -> list[tuple[str, str, str, str]]:
    """Every demo account: (role, email, password, what it belongs to)."""
    users = [("admin", ADMIN[0], ADMIN[2], "every alliance")]
    users += [("lead", a.lead_email, a.lead_password, a.name) for a in ALLIANCES]
    seen = []
    for alliance in ALLIANCES:
        for plan in alliance.plans:
            if plan.ods not in seen:
                seen.append(plan.ods)
    users += [("member", member_email(ods), member_password(ods), ORGANISATIONS[ods].name) for ods in seen]
    return users


def _moment(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------------------------
# Answers generated from the standards


def _pick(rng: random.Random, weights: tuple[float, float, float], options: tuple[Any, Any, Any]) -> Any:
    return rng.choices(options, weights=weights)[0]


def _round_for(criterion: Criterion, value: float) -> float | int:
    bench = criterion.benchmark
    whole = (float(bench.target).is_integer() and float(bench.amber).is_integer()
             and (criterion.unit or "") not in ("%", "days"))
    return int(round(value)) if whole else round(value, 1)


def rag_of(criterion: Criterion, value: float) -> str:
    """The contract's RAG for a metric value (used to check generated values land where meant)."""
    b = criterion.benchmark
    if b.direction == "higher":
        return "green" if value >= b.target else "amber" if value >= b.target - b.amber else "red"
    return "green" if value <= b.target else "amber" if value <= b.target + b.amber else "red"


def metric_value(criterion: Criterion, rag: str, rng: random.Random) -> float | int:
    """A plausible value with the given RAG against the criterion's benchmark."""
    b = criterion.benchmark
    target, amber = float(b.target), float(b.amber)
    spread = max(amber, abs(target) * 0.1, 1.0)
    ceiling = 100.0 if criterion.unit == "%" else None
    higher = b.direction == "higher"
    if rag == "amber" and amber == 0:
        rag = "green"  # no amber band: the value either meets the target or is a major breach
    for _ in range(20):
        if rag == "green":
            room = spread if ceiling is None or not higher else min(spread, ceiling - target)
            if not higher:
                room = min(spread, target) if target > 0 else 0.0
            shift = rng.uniform(0, room)
            value = target + shift if higher else target - shift
        elif rag == "amber":
            shift = amber * rng.uniform(0.2, 0.9)
            value = target - shift if higher else target + shift
        else:
            shift = amber + spread * rng.uniform(0.3, 1.5)
            value = max(0.0, target - shift) if higher else target + shift
        if ceiling is not None:
            value = min(value, ceiling)
        value = _round_for(criterion, value)
        if rag_of(criterion, value) == rag:
            return value
    raise DemoError(f"{criterion.id}: no {rag} value fits its benchmark")


def _answer(criterion: Criterion, grade: str, rng: random.Random) -> Any:
    if criterion.type == "yes_no":
        return "no" if grade == "poor" or (grade == "fair" and rng.random() < 0.4) else "yes"
    if criterion.type == "yes_partial_no":
        return {"good": "yes", "fair": "partial", "poor": "no"}[grade]
    if criterion.type == "level":
        top = len(criterion.levels or ()) - 1
        if grade == "good":
            return top if rng.random() < 0.6 else top - 1
        if grade == "fair":
            return max(1, top // 2)
        return rng.choice((0, min(1, top)))
    if criterion.type == "text":
        return rng.choice(TEXT_ANSWERS)
    raise AssertionError(criterion.type)


def headline_metric(standards: StandardsSet, member: rules.Member) -> Criterion:
    """The applicable required metric that weighs most in the overall score (first in file order on a tie):
    where the demo's repeated major breaches fall."""
    best, best_weight = None, -1.0
    for d in standards.domains:
        for s in d.standards:
            if not s.applies.covers(member.route, member.specialty, member.org_type):
                continue
            for c in s.criteria:
                weight = float(d.weight) * float(s.weight) * float(c.weight)
                if c.type == "metric" and c.required and weight > best_weight:
                    best, best_weight = c, weight
    if best is None:
        raise DemoError(f"{standards.label} has no required metric for a {member.route} member")
    return best


def generate_answers(standards: StandardsSet, member: rules.Member, profile: str, seed: str) -> tuple[dict, dict]:
    """Answers following the profile, re-drawn (with the same seed sequence) until the engine agrees;
    returns the answers and the engine's result for them."""
    answer_weights, rag_weights = PROFILES[profile]
    headline = headline_metric(standards, member) if profile == MAJOR else None
    for attempt in range(60):
        rng = random.Random(f"{seed}#{attempt}")
        answers: dict[str, Any] = {}
        for s in standards.standards:
            if not s.applies.covers(member.route, member.specialty, member.org_type):
                continue
            for c in s.criteria:
                if not c.required and rng.random() < 0.3:
                    continue
                if c.allow_na and rng.random() < 0.06:
                    answers[c.id] = "na"
                elif c.type == "metric":
                    answers[c.id] = metric_value(c, _pick(rng, rag_weights, ("green", "amber", "red")), rng)
                else:
                    answers[c.id] = _answer(c, _pick(rng, answer_weights, ("good", "fair", "poor")), rng)
        if headline is not None:
            answers[headline.id] = metric_value(headline, "red", rng)
        result = rules.score_submission(standards, rules.Submission(member=member, answers=answers))
        majors = [b for b in result["breaches"] if b["severity"] == "major"]
        if profile == MAJOR:
            fits = result["outcome"] != "not_accredited" and any(b["criterion"] == headline.id for b in majors)
        else:
            fits = result["outcome"] == EXPECTED_OUTCOME[profile] and (profile == FAILING or not majors)
        if fits:
            return answers, result
    raise DemoError(f"{standards.label}: could not draw a {profile} self-assessment for seed {seed}")


# ---------------------------------------------------------------------------------------------
# The story, event by event


@dataclass
class _Member:
    alliance: AllianceDemo
    plan: Plan
    index: int
    membership_id: Optional[int] = None
    assessments: dict[int, int] = field(default_factory=dict)
    expected: dict[int, dict] = field(default_factory=dict)  # cycle number -> the engine's result for its answers


class _Loader:
    def __init__(self, session: Session, standards_dir: Path, store: UploadStore, buddies: bool = True):
        self.session = session
        self.buddies = buddies
        self.standards_dir = standards_dir
        self.store = store
        self.events: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        self.actors: dict[str, Actor] = {}
        self.password_hashes: dict[str, str] = {}
        self.alliance_ids: dict[str, int] = {}
        self.version_ids: dict[str, int] = {}
        self.cycle_ids: dict[tuple[str, int], int] = {}
        self.organisation_ids: dict[str, int] = {}
        self.standards: dict[str, StandardsSet] = {}

    def at(self, moment: dt.datetime, action: Callable[[], None]) -> None:
        self.events.append((moment, len(self.events), action))

    def run(self) -> None:
        for moment, _, action in sorted(self.events, key=lambda e: (e[0], e[1])):
            with clock_at(moment):
                action()

    # -- people and organisations

    def hash_passwords(self, users: list[tuple[str, str, str, str]]) -> None:
        """scrypt is deliberately slow: hash the demo passwords side by side."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            hashes = list(pool.map(lambda user: hash_password(user[2]), users))
        self.password_hashes = {email: h for (_, email, _, _), h in zip(users, hashes)}

    def user(self, role: str, email: str, name: str, password: str, **where: int) -> Actor:
        existing = self.session.exec(select(User).where(User.email == email)).first()
        if existing is None:
            existing = services.create_user(self.session, self.actors.get("admin", services.CLI), email=email,
                                            name=name, password=password, role=role,
                                            password_hash=self.password_hashes.get(email), **where)
        actor = Actor(existing.email, existing.id)
        self.actors[email] = actor
        return actor

    def organisation(self, ods: str) -> int:
        if ods not in self.organisation_ids:
            found = self.session.exec(select(Organisation).where(Organisation.ods_code == ods)).first()
            if found is None:
                org = ORGANISATIONS[ods]
                found = services.register_organisation(
                    self.session, self.actors["admin"], name=org.name, ods_code=org.ods, org_type=org.org_type,
                    region=org.region, latitude=org.latitude, longitude=org.longitude)
            self.organisation_ids[ods] = found.id
        return self.organisation_ids[ods]

    def member_actor(self, ods: str) -> Actor:
        email = member_email(ods)
        if email not in self.actors:
            self.user("member", email, f"Quality lead, {ORGANISATIONS[ods].name}", member_password(ods),
                      organisation_id=self.organisation(ods))
        return self.actors[email]

    # -- alliances

    def plan_alliance(self, alliance: AllianceDemo) -> None:
        path = self.standards_dir / alliance.standards_file
        if not path.is_file():
            raise DemoError(f"{path}: missing; the demo needs the bundled standards packs in {self.standards_dir}")
        loaded = rules.load_standards(path)
        self.standards[alliance.slug] = loaded
        lead = lambda: self.actors[alliance.lead_email]  # noqa: E731  (the account exists once the story reaches it)

        def create() -> None:
            version = services.register_version(self.session, path, self.actors["admin"])
            self.version_ids[alliance.slug] = version.id
            created = services.create_alliance(self.session, self.actors["admin"], slug=alliance.slug,
                                               name=alliance.name, standards_set=loaded.id)
            self.alliance_ids[alliance.slug] = created.id
        self.at(_moment(alliance.created, 9), create)

        def create_lead() -> None:
            self.user("lead", alliance.lead_email, alliance.lead_name, alliance.lead_password,
                      alliance_id=self.alliance_ids[alliance.slug])
        self.at(_moment(alliance.created, 9, 30), create_lead)

        for number, (name, opens, closes) in enumerate(CYCLES):
            def open_cycle(number: int = number, name: str = name, opens: dt.date = opens,
                           closes: dt.date = closes) -> None:
                cycle = services.open_cycle(self.session, self.actors[alliance.lead_email],
                                            alliance_id=self.alliance_ids[alliance.slug], name=name, opens_on=opens,
                                            closes_on=closes)
                self.cycle_ids[(alliance.slug, number)] = cycle.id
            self.at(_moment(opens - dt.timedelta(days=30), 9), open_cycle)

        for index, plan in enumerate(alliance.plans):
            self.plan_member(_Member(alliance, plan, index), loaded, lead)

        if alliance is NOA and self.buddies:
            def propose_buddies() -> None:
                found = buddy_service.plan_buddying(self.session, self.alliance_ids[alliance.slug],
                                                    self.cycle_ids[(alliance.slug, 1)])
                buddy_service.apply_plan(self.session, lead(), found)
            self.at(_moment(BUDDIES_PROPOSED, 10), propose_buddies)

    def plan_member(self, m: _Member, standards: StandardsSet, lead: Callable[[], Actor]) -> None:
        plan, slug = m.plan, m.alliance.slug
        org = ORGANISATIONS[plan.ods]
        member = rules.Member(route=plan.route, specialty=plan.specialty, org_type=org.org_type)

        def apply() -> None:
            self.organisation(plan.ods)
            membership = services.apply_for_membership(
                self.session, self.actors["admin"], organisation_id=self.organisation(plan.ods),
                alliance_id=self.alliance_ids[slug], route=plan.route, specialty=plan.specialty)
            m.membership_id = membership.id
        self.at(_moment(plan.applied, 11), apply)

        if plan.cycle1 is not None:
            admitted = plan.applied + dt.timedelta(days=81)
            reason = ("founding partner: memorandum of understanding signed" if plan.founding
                      else "admitted: memorandum of understanding signed")
            self.at(_moment(admitted, 15), lambda: services.change_membership_status(
                self.session, lead(), m.membership_id, "working_towards", reason))

        def member_user() -> None:
            self.member_actor(plan.ods)
        self.at(_moment(max(PORTAL_OPENED, plan.applied), 12), member_user)

        if plan.cycle1 is not None:
            self.plan_assessment(m, 0, plan.cycle1, DECIDED, standards, member, lead)
        if plan.withdraws:
            self.at(_moment(dt.date(2026, 4, 30), 16), lambda: services.change_membership_status(
                self.session, self.member_actor(plan.ods), m.membership_id, "withdrawn", plan.withdraws))
        if plan.cycle2 is not None:
            profile, state = plan.cycle2
            self.plan_assessment(m, 1, profile, state, standards, member, lead)
        if (slug, plan.ods) in PLAN_WRITERS:
            self.plan_improvement(m)

    def plan_improvement(self, m: _Member) -> None:
        """The member plans for its 2025/26 gaps (a breach first, then standards not met), and marks a plan
        completed once a later result shows the gap closed."""
        member_actor = lambda: self.member_actor(m.plan.ods)  # noqa: E731
        later = m.expected.get(1) if m.plan.cycle2 and m.plan.cycle2[1] != DRAFT else None

        def record() -> None:
            assessment_id = m.assessments[0]
            ctx = services.assessments.context(self.session, assessment_id)
            gaps = plan_service.gaps_of(ctx, services.current_result(self.session, assessment_id).result)
            gaps = [g for g in gaps if g.kind == "breach"][:1] + [g for g in gaps if g.kind == "not_met"]
            for position, (gap, (due, progress)) in enumerate(zip(gaps, PLAN_SHAPES)):
                if gap.kind == "breach":
                    actions = (f"Weekly review of {gap.criterion_id} at the divisional performance meeting; "
                               "recovery trajectory agreed with the alliance clinical practice group.")
                else:
                    actions = (f"Gap analysis against {gap.standard_id} with the clinical lead; missing policies "
                               "drafted and taken to the quality committee for approval.")
                plan_service.save_plan(self.session, member_actor(), ctx, gap.key, {
                    "actions": actions, "owner": PLAN_OWNERS[position], "due_on": due, "progress": progress,
                    "evidence": "Monthly report to the trust board" if progress == "in_progress" else ""})
        self.at(_moment(PLANS_RECORDED + dt.timedelta(days=m.index % 10), 11), record)

        def close() -> None:
            ctx = services.assessments.context(self.session, m.assessments[0])
            for line in plan_service.plan_lines(self.session, ctx):
                if line.plan is not None and line.closed_by is not None and line.plan.progress != "completed":
                    plan = line.plan
                    plan_service.save_plan(self.session, member_actor(), ctx, line.gap.key, {
                        "actions": plan.actions, "owner": plan.owner, "due_on": plan.due_on, "progress": "completed",
                        "evidence": f"Closed: the {line.closed_by.name} self-assessment no longer shows the gap"})
        if later is not None:
            self.at(_moment(PLANS_CLOSED, 11), close)

    def plan_review_work(self, m: _Member, number: int, submitted: dt.date, reviewed: dt.date,
                         standards: StandardsSet, member: rules.Member, lead: Callable[[], Actor]) -> None:
        """The lead's comments and overrides on a 2026/27 self-assessment awaiting a decision."""
        if number != 1:
            return
        key = (m.alliance.slug, m.plan.ods)
        for days, on_headline, text in COMMENTS.get(key, ()):
            criterion_id = headline_metric(standards, member).id if on_headline else None

            def comment(text: str = text, criterion_id: Optional[str] = criterion_id) -> None:
                review_service.add_comment(self.session, lead(), self.alliance_ids[m.alliance.slug],
                                           m.assessments[number], text, criterion_id)
            self.at(_moment(submitted + dt.timedelta(days=days), 15), comment)
        if key in OVERRIDES:
            kind, reason = OVERRIDES[key]
            visit = reviewed + dt.timedelta(days=1)

            def override() -> None:
                assessment_id = m.assessments[number]
                target, value = _override_target(self.session, assessment_id, kind)
                review_service.override(self.session, lead(), self.alliance_ids[m.alliance.slug], assessment_id,
                                        kind, target, value, reason.format(day=f"{visit.day} {visit:%B %Y}"))
            self.at(_moment(visit + dt.timedelta(days=1), 10), override)

    def plan_assessment(self, m: _Member, number: int, profile: str, state: str, standards: StandardsSet,
                        member: rules.Member, lead: Callable[[], Actor]) -> None:
        plan, slug, i = m.plan, m.alliance.slug, m.index
        seed = f"{slug}/{plan.ods}/{CYCLES[number][0]}"
        answers, m.expected[number] = generate_answers(standards, member, profile, seed)
        rng = random.Random(seed + "/progress")
        start = CYCLES[number][1]
        late_joiner = plan.applied > start
        opened = (plan.applied + dt.timedelta(days=14)) if late_joiner else start + dt.timedelta(days=35 + i)
        first_save = start + dt.timedelta(days=120 + 2 * i) if not late_joiner else opened + dt.timedelta(days=30)
        submitted = start + dt.timedelta(days=(285 if number == 0 else 183) + i % 20)
        reviewed = submitted + dt.timedelta(days=10)
        decided = reviewed + dt.timedelta(days=3 + i % 5) if number == 1 else start + dt.timedelta(days=335 + i % 20)
        member_actor = lambda: self.member_actor(plan.ods)  # noqa: E731

        def open_it() -> None:
            assessment = services.open_assessment(self.session, member_actor(), membership_id=m.membership_id,
                                                  cycle_id=self.cycle_ids[(slug, number)])
            m.assessments[number] = assessment.id
        self.at(_moment(opened, 10), open_it)

        order = [c.id for c in standards.criteria if c.id in answers]
        if state == DRAFT:
            order = order[: int(len(order) * rng.uniform(0.55, 0.8))]
        half = len(order) // 2
        evidence_needed = [c for c in standards.criteria if c.id in order and c.evidence == "required"
                           and answers[c.id] != "na"]
        if state == DRAFT and evidence_needed:
            evidence_needed = evidence_needed[:-1]   # one piece still to find: submission shows it missing

        def save(ids: list[str]) -> Callable[[], None]:
            def run() -> None:
                outcome = services.save_answers(self.session, member_actor(), m.assessments[number],
                                                {cid: answers[cid] for cid in ids})
                if not outcome.ok:
                    raise DemoError(f"{plan.ods} {CYCLES[number][0]}: generated answers refused: {outcome.errors}")
            return run
        self.at(_moment(first_save, 14), save(order[:half]))
        self.at(_moment(first_save + dt.timedelta(days=9), 14), save(order[half:]))

        def add_evidence() -> None:
            for position, c in enumerate(evidence_needed):
                if plan.founding and position == 0:
                    title = f"{plan.ods} {CYCLES[number][0]} {c.id} evidence"
                    attach_file(self.session, member_actor(), m.assessments[number], c.id, data=_pdf(title),
                                filename=f"{c.id} {c.text[:60].rstrip(' ?')}.pdf", content_type="application/pdf",
                                note="Board-approved document", store=self.store)
                else:
                    services.add_evidence(
                        self.session, member_actor(), m.assessments[number], c.id, kind="link",
                        url=f"https://documents.{EMAIL_DOMAIN}/{plan.ods.lower()}/{CYCLES[number][0].replace('/', '-')}"
                            f"/{c.id.lower()}", note="Trust document library")
        self.at(_moment(first_save + dt.timedelta(days=12), 11), add_evidence)

        if state == DRAFT:
            return
        self.at(_moment(submitted, 16), lambda: services.submit(self.session, member_actor(), m.assessments[number]))
        if state in (SUBMITTED, UNDER_REVIEW):
            self.plan_review_work(m, number, submitted, reviewed, standards, member, lead)
        if state == SUBMITTED:
            return
        self.at(_moment(reviewed, 9), lambda: services.start_review(self.session, lead(), m.assessments[number]))
        if state == UNDER_REVIEW:
            return

        def decide() -> None:
            assessment_id = m.assessments[number]
            result = services.current_result(self.session, assessment_id)
            kind, conditions, due = _decision_for(self.session, result, m.membership_id, CYCLES[number][2])
            review_service.decide(self.session, lead(), self.alliance_ids[slug], assessment_id, kind,
                                  conditions=conditions, due_on=due, notes=f"{CYCLES[number][0]} accreditation panel")
        self.at(_moment(decided, 14), decide)
        if plan.suspend and number == 1:
            self.at(_moment(decided + dt.timedelta(days=7), 10), lambda: review_service.decide(
                self.session, lead(), self.alliance_ids[slug], m.assessments[number], "suspend",
                notes="major breach of the same benchmark in consecutive cycles; improvement plan requested"))


def _override_target(session: Session, assessment_id: int, kind: str) -> tuple[str, Any]:
    """What the lead overrides: the first question answered in part (to full credit), or the first standard
    not met (to met)."""
    ctx = services.assessments.context(session, assessment_id)
    result = services.current_result(session, assessment_id).result
    if kind == "criterion":
        for _, criterion in ctx.applicable_criteria():
            score = (result["criteria"].get(criterion.id) or {}).get("score")
            if criterion.type != "metric" and isinstance(score, (int, float)) and 0 < score < 100:
                return criterion.id, 1
    else:
        for standard in ctx.standards.standards:
            if (result["standard_results"].get(standard.id) or {}).get("status") == "not_met":
                return standard.id, "met"
    raise DemoError(f"assessment {assessment_id}: nothing for a {kind} override to change")


def _decision_for(session: Session, result: AssessmentResult, membership_id: int,
                  cycle_closes: dt.date) -> tuple[str, str, Optional[dt.date]]:
    """What the lead decides for an outcome (in the demo the panel follows the engine)."""
    outcome = result.outcome
    if outcome == "accredited":
        return "accredit", "", None
    if outcome == "accredited_with_conditions":
        breaches = result.result["breaches"]
        conditions = "; ".join(
            f"bring {b['criterion']} back to target ({b['value']} against {b['target']}, "
            f"{b['direction']} is better)" for b in breaches[:4])
        return "accredit_with_conditions", conditions[:1].upper() + conditions[1:] + ".", cycle_closes
    if outcome == "not_accredited" and session.get(Membership, membership_id).status == "applicant":
        return "decline", "", None
    return "working_towards", "", None


def _pdf(title: str) -> bytes:
    """A one-page PDF naming the document (enough for the evidence screens to show a real file)."""
    safe = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 14 Tf 72 760 Td ({safe}) Tj 0 -20 Td (Demonstration document) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# ---------------------------------------------------------------------------------------------


def load_demo(session: Session, *, standards_dir: Optional[Path] = None, store: Optional[UploadStore] = None,
              buddies: bool = True) -> DemoReport:
    """Load the demonstration world into the session's database; an alliance already there is left
    as it is, so loading twice adds nothing. ``buddies=False`` leaves the buddy match for a later run."""
    loader = _Loader(session, Path(standards_dir or STANDARDS_DIR), store or default_store(), buddies)
    existing = set(session.exec(select(Alliance.slug)).all())
    todo = [a for a in ALLIANCES if a.slug not in existing]
    users = demo_users()
    if not todo:
        return DemoReport(added=False, users=users)

    def admin() -> None:
        loader.user("admin", ADMIN[0], ADMIN[1], ADMIN[2])
        loader.actors["admin"] = loader.actors[ADMIN[0]]
    loader.at(_moment(min(a.created for a in todo), 8), admin)
    for alliance in todo:
        loader.plan_alliance(alliance)
    loader.hash_passwords([u for u in users
                           if not session.exec(select(User.id).where(User.email == u[1])).first()])
    loader.run()
    report = DemoReport(added=True, users=users)
    report.counts = _counts(session)
    report.notes = _notes(session)
    services.audit(session, services.CLI, "demo.loaded", entity_type="demo",
                   after={"alliances": [a.slug for a in todo], **report.counts})
    return report


def _counts(session: Session) -> dict[str, int]:
    def count(model: Any) -> int:
        return session.exec(select(func.count()).select_from(model)).one()
    return {"alliances": count(Alliance), "organisations": count(Organisation), "memberships": count(Membership),
            "cycles": count(AssessmentCycle), "assessments": count(Assessment), "users": count(User)}


def _notes(session: Session) -> list[str]:
    results = session.exec(select(AssessmentResult).where(AssessmentResult.is_current == True)).all()  # noqa: E712
    outcomes = Counter(r.outcome for r in results)
    statuses = Counter(session.exec(select(Membership.status)).all())
    states = Counter(session.exec(select(Assessment.status)).all())
    recommended = session.exec(select(Organisation.name).join(Membership, Membership.organisation_id == Organisation.id)
                               .where(Membership.suspension_recommended == True)).all()  # noqa: E712
    notes = [
        "assessments: " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(states.items())),
        "outcomes: " + ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in sorted(outcomes.items())),
        "memberships: " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(statuses.items())),
    ]
    if recommended:
        notes.append("suspension recommended, awaiting the lead: " + "; ".join(recommended))
    notes += _review_notes(session)
    return notes


def _review_notes(session: Session) -> list[str]:
    """One line per kind of the lead's review work, as the screens will show it."""
    comments = session.exec(select(ReviewComment)).all()
    notices = Counter(session.exec(select(Notification.kind)).all())
    overrides = Counter(session.exec(select(ResultOverride.kind)).all())
    tracked = [t for alliance_id in session.exec(select(Alliance.id)).all()
               for t in plan_service.alliance_plans(session, alliance_id)]
    pairs = session.exec(select(BuddyAssignment)).all()
    return [
        f"lead comments: {len(comments)} ({sum(1 for c in comments if c.criterion_id)} on a question)",
        "lead overrides: " + ", ".join(f"{n} {kind}" for kind, n in sorted(overrides.items())),
        "notifications to members: " + ", ".join(f"{n} {kind}" for kind, n in sorted(notices.items())),
        f"improvement plans: {len(tracked)} ({sum(t.overdue for t in tracked)} overdue, "
        f"{sum(1 for t in tracked if t.plan.progress == 'in_progress' and not t.overdue)} in progress, "
        f"{sum(1 for t in tracked if t.closed_by is not None)} closed by a later cycle)",
        f"buddying proposals: {sum(1 for p in pairs if p.buddy_membership_id)} pairs, "
        f"{sum(1 for p in pairs if not p.buddy_membership_id)} needs without a buddy",
    ]

"""Buddy matching at alliance scale: needs from the rules engine, then proposals.

Scores N synthetic members (default 1,000) against a synthetic standards set
of S standards (default 30) through the real engine, derives their buddying
needs through the needs ruleset, and matches them, printing the number of
needs, proposals and needs with no buddy, and the seconds each step took.
Members sit in the regions of the NHS organisations in the domain notes, a
tenth without coordinates; a third are specialty members; a tenth already
buddy someone; for one in twenty members with a major breach a lead has set
that standard met (so it is a need for its breach alone).

    python benchmarks/buddy_bench.py [--members 1000] [--standards 30] [--capacity 3]

Target: needs plus matching under 10 s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import rules  # noqa: E402
from rules.buddying import MemberProfile, derive_needs, match  # noqa: E402

REGIONS = {
    "South East London": (51.45, -0.05),
    "North Kent": (51.43, 0.30),
    "West Midlands": (52.48, -1.90),
    "London": (51.51, -0.13),
    "Oxford": (51.75, -1.26),
    "Greater Manchester": (53.48, -2.24),
    "North East": (54.97, -1.60),
    "Cumbria": (54.60, -2.90),
    "Hertfordshire": (51.75, -0.30),
    "Dorset": (50.72, -2.00),
    "Yorkshire": (53.38, -1.47),
    "East Midlands": (52.95, -1.15),
    "Cheshire and Merseyside": (53.40, -2.95),
}
SPECIALTIES = ("orthopaedics", "ophthalmology", "cardiology", "paediatrics")


def standards_document(count: int) -> dict:
    """``count`` standards over four domains, each a yes/partial/no, a level and a metric criterion."""
    domains = []
    for d in range(4):
        standards = []
        for s in range(d, count, 4):
            standards.append(
                {
                    "id": f"S{s}",
                    "title": f"Standard {s}",
                    "must_meet": s % 10 == 0,
                    "criteria": [
                        {"id": f"S{s}.1", "text": "Named lead?", "type": "yes_partial_no"},
                        {
                            "id": f"S{s}.2",
                            "text": "Pathway embedded?",
                            "type": "level",
                            "levels": ["None", "Planned", "Partly", "In place", "Audited"],
                        },
                        {
                            "id": f"S{s}.3",
                            "text": "Patients within target",
                            "type": "metric",
                            "unit": "%",
                            "benchmark": {"target": 85, "direction": "higher", "amber": 5},
                        },
                    ],
                }
            )
        domains.append({"id": f"d{d}", "title": f"Domain {d}", "standards": standards})
    return {
        "schema": 1,
        "id": "buddy-bench",
        "version": "2026.1",
        "title": "Buddy benchmark",
        "alliance": "Benchmark Alliance",
        "effective_from": "2026-04-01",
        "routes": {"full": {"title": "Full"}, "specialty": {"title": "Specialty"}},
        "domains": domains,
    }


def member_answers(doc: dict, rng: random.Random, route: str, specialty: str | None) -> dict:
    """Answers of a member of random strength: strong members mostly give the best answers."""
    strength = rng.uniform(0.55, 1.0)
    values: dict = {}
    for domain in doc["domains"]:
        for standard in domain["standards"]:
            s = standard["id"]
            good = rng.random() < strength
            values[f"{s}.1"] = "yes" if good else rng.choice(["partial", "no"])
            values[f"{s}.2"] = rng.randint(3, 4) if good else rng.randint(0, 3)
            values[f"{s}.3"] = round(rng.uniform(85, 99) if good or rng.random() < 0.5 else rng.uniform(60, 90), 1)
    return {"route": route, "specialty": specialty, "org_type": "acute", "answers": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--standards", type=int, default=30)
    parser.add_argument("--capacity", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    doc = standards_document(args.standards)
    loaded = rules.parse_standards(yaml.safe_dump(doc, sort_keys=False), "buddy-bench.yaml")

    began = time.perf_counter()
    results, where = {}, {}
    organisation = 0
    regions = list(REGIONS)
    for membership_id in range(1, args.members + 1):
        specialty = rng.choice(SPECIALTIES) if rng.random() < 0.35 else None
        if not (specialty and membership_id % 20 == 0):  # every twentieth specialty membership shares an organisation
            organisation += 1
        route = "specialty" if specialty else "full"
        answers = member_answers(doc, rng, route, specialty)
        result = rules.score(loaded, answers)
        breached = sorted({b["standard"] for b in result["breaches"] if b["severity"] == "major"})
        if breached and rng.random() < 0.05:  # a lead has set a breached standard met: still a buddying need
            pinned = rules.Overrides(standards={breached[0]: rules.StandardOverride("met", "Recovery plan agreed")})
            result = rules.score(loaded, answers, overrides=pinned)
        results[membership_id] = result
        region = rng.choice(regions)
        lat, lon = REGIONS[region]
        coordinates = (
            (None, None) if rng.random() < 0.1 else (lat + rng.uniform(-0.4, 0.4), lon + rng.uniform(-0.6, 0.6))
        )
        mentees = rng.sample(range(1, args.members + 1), rng.randint(1, 2)) if rng.random() < 0.1 else []
        where[membership_id] = (organisation, region, coordinates, [m for m in mentees if m != membership_id])
    scoring_s = time.perf_counter() - began

    began = time.perf_counter()
    needs = derive_needs(results)
    needs_s = time.perf_counter() - began

    began = time.perf_counter()
    members = [
        MemberProfile.from_result(mid, org, results[mid], region=region, latitude=lat, longitude=lon, mentees=mentees)
        for mid, (org, region, (lat, lon), mentees) in where.items()
    ]
    matching = match(needs, members, capacity=args.capacity)
    match_s = time.perf_counter() - began

    mentees_of: dict[int, set[int]] = defaultdict(set)
    for member in members:
        mentees_of[member.organisation_id] |= member.mentees
    before = {org: len(found) for org, found in mentees_of.items()}
    for proposal in matching.proposals:
        mentees_of[proposal.buddy_organisation_id].add(proposal.need.membership_id)
    over = [org for org, found in mentees_of.items() if len(found) > max(args.capacity, before.get(org, 0))]
    reasons = defaultdict(int)
    for need in needs:
        reasons[need.reason] += 1
    top = sum(p.top_quartile for p in matching.proposals)
    same_region = sum(p.same_region for p in matching.proposals)

    print(f"members: {args.members} x {args.standards} standards; capacity {args.capacity}")
    print(f"scoring (engine, not part of the target): {scoring_s:.2f} s")
    print(f"needs: {len(needs)} ({dict(sorted(reasons.items()))}) in {needs_s:.2f} s")
    print(
        f"proposals: {len(matching.proposals)} (top quartile {top}, same region {same_region}); "
        f"no buddy available: {len(matching.no_buddy)}; matching {match_s:.2f} s"
    )
    print(f"buddies over capacity: {len(over)}")
    total = needs_s + match_s
    print(f"needs + matching: {total:.2f} s (target < 10 s): {'ok' if total < 10 else 'MISSED'}")
    if over:
        sys.exit(1)


if __name__ == "__main__":
    main()

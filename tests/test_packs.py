"""The bundled standards packs and example self-assessments.

The packs are what alliance leads start from and what the demo and the web
app score against, so they must load, be big enough to exercise every feature
of the format, point their benchmarks the right way, and the example
self-assessments must reach the outcomes a reader of the answers would
expect. The expectations below were worked out by hand from the answers and
the packs (the arithmetic is in the comments), not copied from the engine.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rules
from rules.model import CRITERION_TYPES, SCHEMA_2_TYPES

ROOT = Path(__file__).resolve().parent.parent
PACKS = sorted((ROOT / "standards").glob("*.yaml"))
ANSWERS = sorted((ROOT / "examples" / "answers").glob("*.json"))
NOA = ROOT / "standards" / "noa-orthopaedics-2026.1.yaml"
HA = ROOT / "standards" / "healthcare-alliance-2026.1.yaml"


def pack_for(answers_file: Path) -> Path:
    """The pack an example is scored against (the rule scripts/demo.sh uses)."""
    return NOA if answers_file.name.startswith("noa-") else HA


@pytest.fixture(scope="module")
def loaded() -> dict[Path, rules.StandardsSet]:
    return {path: rules.load_standards(path) for path in PACKS}


def test_both_packs_are_bundled():
    assert NOA in PACKS and HA in PACKS


# -- every pack ------------------------------------------------------------------

@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_pack_loads_and_is_named_after_its_id_and_version(path):
    pack = rules.load_standards(path)
    assert path.name == f"{pack.id}-{pack.version}.yaml"
    assert pack.version == "2026.1"


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_pack_is_big_enough(path, loaded):
    pack = loaded[path]
    assert len(pack.domains) >= 4
    assert len(pack.standards) >= 12
    assert len(pack.criteria) >= 40
    assert all(len(d.standards) >= 2 for d in pack.domains), "every domain holds two or more standards"


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_pack_uses_every_feature_of_the_format(path, loaded):
    pack = loaded[path]
    criteria = pack.criteria
    assert {c.type for c in criteria} == set(CRITERION_TYPES) - (set(SCHEMA_2_TYPES) if pack.schema_version == 1 else set())
    assert set(pack.route_ids) == {"full", "specialty"}
    assert {c.evidence for c in criteria} == {"required", "optional", "none"}
    assert any(c.allow_na for c in criteria)
    assert any(not c.required and c.type != "text" for c in criteria), "an optional scored criterion"
    assert any(c.guidance for c in criteria)
    assert any(s.must_meet for s in pack.standards)
    assert any(s.applies.org_types for s in pack.standards)
    directions = {c.benchmark.direction for c in criteria if c.type == "metric"}
    assert directions == {"higher", "lower"}
    assert any(c.weight != 1 for c in criteria) or any(d.weight != 1 for d in pack.domains)
    assert pack.rules, "a rules: section with extra flags"


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_pack_has_full_only_specialty_only_and_per_specialty_standards(path, loaded):
    pack = loaded[path]
    full_only = [s.id for s in pack.standards if s.applies.routes == ("full",)]
    specialty_only = [s for s in pack.standards if s.applies.routes == ("specialty",)]
    assert full_only
    assert specialty_only
    specialties = {name for s in specialty_only for name in (s.applies.specialties or ())}
    assert len(specialties) >= 2, "specialty standards for at least two specialties"


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_core_proposition_has_route_limited_and_shared_entries(path, loaded):
    offers = loaded[path].core_proposition
    assert any(o.routes == ("full",) for o in offers)
    assert any(o.routes is None for o in offers)


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_metric_bands_are_sensible(path, loaded):
    for c in loaded[path].criteria:
        if c.type != "metric":
            continue
        b = c.benchmark
        assert b.amber >= 0, c.id
        if c.unit == "%":
            assert 0 <= b.target <= 100, c.id
            edge = b.target - b.amber if b.direction == "higher" else b.target + b.amber
            assert 0 <= edge <= 100, f"{c.id}: amber band leaves 0..100"
        if b.direction == "higher":
            assert b.target - b.amber >= 0, c.id


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_targets_are_marked_illustrative_at_the_top(path):
    head = path.read_text(encoding="utf-8").split("\nschema:")[0]
    assert "ILLUSTRATIVE" in head
    assert all(line.startswith("#") or not line.strip() for line in head.splitlines())


# Benchmarks the packs must carry, and which way is better for each: a
# direction the wrong way round would reward the worst members.
NOA_BENCHMARKS = [
    ("operated on within 36 hours", "higher"),
    ("30-day mortality", "lower"),
    ("length of stay, elective primary hip", "lower"),
    ("length of stay, elective primary knee", "lower"),
    ("readmission after elective hip", "lower"),
    ("readmission after elective knee", "lower"),
    ("cemented or hybrid", "higher"),
    ("site infection after elective primary hip", "lower"),
    ("site infection after hip fracture", "lower"),
    ("National Joint Registry data submission", "higher"),
    ("National Joint Registry patient consent", "higher"),
    ("PROMs participation", "higher"),
    ("Day-case rate", "higher"),
    ("day cases converted", "lower"),
    ("cancelled on the day", "lower"),
    ("revised within 10 years", "lower"),
    ("Hand hygiene", "higher"),
    ("surgical safety checklist", "higher"),
    ("Never events", "lower"),
]
HA_BENCHMARKS = [
    ("18 weeks", "higher"),
    ("62 days", "higher"),
    ("within 4 hours", "higher"),
    ("more than 6 weeks for a diagnostic", "lower"),
    ("Agency spend", "lower"),
    ("Vacancy rate", "lower"),
    ("staff turnover", "lower"),
    ("Staff engagement", "higher"),
    ("Friends and Family Test", "higher"),
]


@pytest.mark.parametrize("path, expected", [(NOA, NOA_BENCHMARKS), (HA, HA_BENCHMARKS)], ids=["noa", "ha"])
def test_pack_carries_the_key_benchmarks_the_right_way_round(path, expected, loaded):
    metrics = [c for c in loaded[path].criteria if c.type == "metric"]
    for phrase, direction in expected:
        found = [c for c in metrics if phrase.lower() in c.text.lower()]
        assert found, f"no metric about {phrase!r}"
        assert all(c.benchmark.direction == direction for c in found), phrase


def test_noa_hip_fracture_route_and_org_limits(loaded):
    """Hip fracture care needs an emergency department; spinal and paediatric standards are sub-specialty only."""
    pack = loaded[NOA]
    by_id = {s.id: s for s in pack.standards}
    assert by_id["Q1"].must_meet and by_id["Q1"].applies.org_types == ("acute",)
    assert by_id["Q4"].applies.specialties == ("spinal",)
    assert by_id["Q5"].applies.specialties == ("paediatric-orthopaedics",)


def test_healthcare_alliance_domains_are_the_four_pillars(loaded):
    titles = [d.title for d in loaded[HA].domains]
    assert titles == [
        "Delivering consistent high-quality care",
        "Developing our people",
        "Leveraging scarce resources",
        "Embracing innovation",
    ]
    offers = {o.id for o in loaded[HA].core_proposition}
    assert {"cp-lms", "cp-leadership", "cp-qi", "cp-specialist"} <= offers


# -- the command line on the packs -----------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_validates_every_pack():
    done = run_cli("standards", "validate", *[str(p.relative_to(ROOT)) for p in PACKS])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == len(PACKS)
    assert all(": valid: " in line for line in lines)


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.name)
def test_cli_shows_every_standard_of_a_pack(path, loaded):
    done = run_cli("standards", "show", str(path))
    assert done.returncode == 0, done.stderr
    for standard in loaded[path].standards:
        assert re.search(rf"^  Standard {re.escape(standard.id)}: ", done.stdout, re.M), standard.id


# -- example self-assessments ----------------------------------------------------

NOA_CORE_FULL = ["cp-portal", "cp-buddy", "cp-cpg", "cp-peer-review", "cp-procurement", "cp-education"]
NOA_CORE_SPECIALTY = ["cp-portal", "cp-buddy", "cp-cpg"]
HA_CORE_FULL = ["cp-lms", "cp-leadership", "cp-talent", "cp-qi", "cp-specialist", "cp-buddy"]
HA_CORE_SPECIALTY = ["cp-qi", "cp-specialist", "cp-buddy"]

EXPECTED = {
    # Acute full member, every benchmark green. Only G3 (shared audit level 3 of 4:
    # 4.75/5 = 95) and S3 (weekend therapy partial: 2.5/3 = 83.3) are below 100.
    # Overall (98.75 + 2 x 100 + 94.44 + 100 + 100) / 6 = 98.87: exemplary, no breach.
    "noa-full-accredited.json": {
        "outcome": "accredited", "rating": "exemplary", "overall": 98.866,
        "breaches": [], "unanswered": [], "support_needs": [], "flags": [],
        "not_applicable": ["Q4", "Q5"], "core_proposition": NOA_CORE_FULL,
    },
    # Acute full member with six amber metrics and one red: day-case rate 82% is
    # below 93 - 8 = 85, so E1 (0.5 + 0 + 1 + 0.5 + 0.5)/5 = 50 is not met. The
    # must-meet standards G1, Q1, S1 are all 100. Domains 92.60 / 90.28 / 96.67 /
    # 80.56 / 81.25, overall 88.6: met, with breaches. P1.2 = 90 sits exactly on
    # its target (green). Flags: revision partly outside the network (Q3.1
    # partial), elective beds not ring-fenced with on-the-day cancellations amber.
    "noa-full-conditions.json": {
        "outcome": "accredited_with_conditions", "rating": "met", "overall": 88.605,
        "breaches": [("G3.5", "minor"), ("Q2.1", "minor"), ("S2.1", "minor"), ("E1.2", "major"),
                     ("E1.4", "minor"), ("E1.5", "minor"), ("P2.1", "minor")],
        "unanswered": [], "support_needs": ["E1"],
        "flags": ["revision-outside-network", "elective-capacity-at-risk"],
        "not_applicable": ["Q4", "Q5"], "core_proposition": NOA_CORE_FULL,
    },
    # Spinal specialty member at a specialist hospital: only G1-G3, Q4, S1, S2,
    # E1, P1, P2 apply (G4/S3/E3 are full-route, Q1 needs orthopaedics and an
    # acute org, Q2/Q3/E2 orthopaedics, Q5 paediatric). NJR and joint SSI are
    # "na"; optional S2.5 and E1.5 are left out. Day-case 93.0 is exactly on
    # target. Overall (97.22 + 2 x 100 + 100 + 100 + 93.75) / 6 = 98.5.
    "noa-specialty-spinal.json": {
        "outcome": "accredited", "rating": "exemplary", "overall": 98.495,
        "breaches": [], "unanswered": [], "support_needs": [], "flags": [],
        "not_applicable": ["G4", "Q1", "Q2", "Q3", "Q5", "S3", "E2", "E3"],
        "core_proposition": NOA_CORE_SPECIALTY,
    },
    # Paediatric orthopaedic specialty member: the must-meet standards that apply
    # (G1 100, S1 (2 + 0.5 + 1 + 0.5)/5 = 80) are met, but the overall
    # (83.33 + 2 x 50 + 77.5 + 37.5 + 66.67) / 6 = 60.8 is only approaching.
    # S2 is (0.5 + 1)/2 = 75, exactly the pass mark, so met.
    "noa-specialty-paediatric-approaching.json": {
        "outcome": "working_towards", "rating": "approaching", "overall": 60.833,
        "breaches": [("G3.5", "minor"), ("Q5.2", "major"), ("Q5.3", "minor"), ("S1.4", "minor"),
                     ("S2.1", "minor"), ("E1.2", "minor"), ("E1.3", "minor"), ("E1.4", "major"),
                     ("P1.1", "minor"), ("P1.2", "minor"), ("P2.1", "minor"), ("P2.2", "minor")],
        "unanswered": [], "support_needs": ["G3", "Q5", "E1", "P1", "P2"],
        "flags": ["elective-capacity-at-risk"],
        "not_applicable": ["G4", "Q1", "Q2", "Q3", "Q4", "S3", "E2", "E3"],
        "core_proposition": NOA_CORE_SPECIALTY,
    },
    # Acute full member, overall 80.2 (met), but hip fracture care, a must-meet
    # standard, fails: 72% within 36 h is red (weight 2), 30-day LOS 19 days red,
    # so Q1 = (1 + 0 + 0.5 + 0.5 + 0)/6 = 33.3. G1 is (1 + 0.5)/2 = 75, exactly
    # the pass mark, so that must-meet standard is met. G2 66.7 and S3 50 are
    # also not met.
    "noa-working-towards.json": {
        "outcome": "working_towards", "rating": "met", "overall": 80.220,
        "breaches": [("Q1.2", "major"), ("Q1.3", "minor"), ("Q1.4", "minor"), ("Q1.5", "major"),
                     ("Q2.2", "minor"), ("S2.3", "minor"), ("S3.1", "minor"), ("E1.4", "minor"),
                     ("P1.2", "minor"), ("P2.2", "minor")],
        "unanswered": [], "support_needs": ["G2", "Q1", "S3"],
        "flags": ["hip-fracture-pathway-at-risk"],
        "not_applicable": ["Q4", "Q5"], "core_proposition": NOA_CORE_FULL,
        "domains": {"governance": 79.792, "quality": 73.611, "safety": 80.0, "efficiency": 93.056,
                    "people": 81.25},
    },
    # A specialist hospital's first, incomplete self-assessment on the full route
    # (Q1 and S3 need an acute org): most benchmarks red, three required answers
    # missing (scored 0), a never event reported. Overall 11.8: not accredited,
    # so no core proposition; every applicable standard needs support.
    "noa-not-accredited.json": {
        "outcome": "not_accredited", "rating": "not_met", "overall": 11.829,
        "breaches": [("G3.3", "major"), ("G3.4", "major"), ("G3.5", "major"), ("Q2.1", "major"),
                     ("Q2.2", "major"), ("Q2.3", "major"), ("Q2.5", "major"), ("Q3.2", "major"),
                     ("S1.1", "major"), ("S1.3", "major"), ("S1.4", "minor"), ("S2.1", "major"),
                     ("S2.2", "minor"), ("E1.2", "major"), ("E1.3", "major"), ("E1.4", "major"),
                     ("E2.1", "major"), ("P1.1", "major"), ("P1.2", "major"), ("P2.1", "major"),
                     ("P2.2", "major")],
        "unanswered": ["G4.3", "Q2.4", "E3.2"],
        "support_needs": ["G1", "G2", "G3", "G4", "Q2", "Q3", "S1", "S2", "E1", "E2", "E3", "P1", "P2"],
        "flags": ["never-event-reported", "revision-outside-network", "elective-capacity-at-risk",
                  "registry-data-gap"],
        "not_applicable": ["Q1", "Q4", "Q5", "S3"], "core_proposition": [],
    },
    # Acute full member: A&E 4-hour 76.4% is below 95 - 7 = 88 (red), so Q1
    # (0.5 + 1 + 0 + 0.5 + 1)/5 = 60 is not met; agency spend amber and a
    # partial staff bank leave R1 at 66.7. Must-meet Q2 100 and Q3 91.7 are met.
    # Domains 83.89 (x2) / 85.42 / 86.81 / 83.33: overall 84.7, met with breaches.
    "ha-full-member.json": {
        "outcome": "accredited_with_conditions", "rating": "met", "overall": 84.667,
        "breaches": [("Q1.1", "minor"), ("Q1.3", "major"), ("Q1.4", "minor"), ("P1.3", "minor"),
                     ("P1.4", "minor"), ("P2.4", "minor"), ("R1.1", "minor")],
        "unanswered": [], "support_needs": ["Q1", "R1"], "flags": [],
        "not_applicable": ["Q4", "Q5", "Q6"], "core_proposition": HA_CORE_FULL,
    },
    # Cardiology specialty member, every benchmark green (primary PCI "na": not a
    # PPCI centre). No coding network makes R2 (1 + 0 + 1)/3 = 66.7 not met: a
    # support need, but with no breach and no failed must-meet standard the
    # member is still accredited. Overall (2 x 100 + 87.5 + 83.33 + 91.67)/5 = 92.5.
    "ha-specialty-cardiology.json": {
        "outcome": "accredited", "rating": "exemplary", "overall": 92.5,
        "breaches": [], "unanswered": [], "support_needs": ["R2"], "flags": [],
        "not_applicable": ["Q1", "Q4", "Q6", "P3", "R1"], "core_proposition": HA_CORE_SPECIALTY,
    },
    # Orthopaedic specialty member: hand hygiene 82% is below 95 - 5 = 90, a major
    # breach, so must-meet Q2 is not met although its score (1 + 1 + 0 + 1)/4 = 75
    # reaches the pass mark. Overall (2 x 75 + 81.25 + 91.67 + 83.33)/5 = 81.25 is
    # met, so the must-meet failure alone makes it working towards.
    "ha-specialty-orthopaedics.json": {
        "outcome": "working_towards", "rating": "met", "overall": 81.25,
        "breaches": [("Q2.3", "major"), ("Q4.2", "minor"), ("Q4.3", "minor"), ("P1.1", "minor"),
                     ("P1.2", "minor"), ("I1.2", "minor")],
        "unanswered": [], "support_needs": ["Q2"], "flags": ["workforce-pressure"],
        "not_applicable": ["Q1", "Q5", "Q6", "P3", "R1"], "core_proposition": HA_CORE_SPECIALTY,
        "domains": {"quality": 75.0, "people": 81.25, "resources": 91.667, "innovation": 83.333},
    },
}


def test_every_example_has_an_expectation():
    assert sorted(p.name for p in ANSWERS) == sorted(EXPECTED)


def test_examples_cover_every_outcome_and_both_routes_of_each_pack():
    outcomes = {e["outcome"] for name, e in EXPECTED.items() if name.startswith("noa-")}
    assert outcomes == {"accredited", "accredited_with_conditions", "working_towards", "not_accredited"}
    for prefix in ("noa-", "ha-"):
        routes = {json.loads(p.read_text())["route"] for p in ANSWERS if p.name.startswith(prefix)}
        assert routes == {"full", "specialty"}, prefix


@pytest.mark.parametrize("path", ANSWERS, ids=lambda p: p.name)
def test_example_reaches_its_expected_result(path, loaded):
    pack = loaded[pack_for(path)]
    doc = json.loads(path.read_text(encoding="utf-8"))
    submission = rules.read_submission(pack, doc)
    assert submission.warnings == ()
    result = rules.score(pack, doc)
    expected = EXPECTED[path.name]

    assert result["standards"] == {"id": pack.id, "version": pack.version}
    assert result["outcome"] == expected["outcome"]
    assert result["rating"] == expected["rating"]
    assert result["overall"] == pytest.approx(expected["overall"], abs=0.051)
    assert [(b["criterion"], b["severity"]) for b in result["breaches"]] == expected["breaches"]
    assert result["unanswered"] == expected["unanswered"]
    assert result["support_needs"] == expected["support_needs"]
    assert [f["id"] for f in result["flags"]] == expected["flags"]
    assert result["core_proposition"] == expected["core_proposition"]

    statuses = {sid: r["status"] for sid, r in result["standard_results"].items()}
    wanted = {
        s.id: "not_applicable" if s.id in expected["not_applicable"]
        else "not_met" if s.id in expected["support_needs"] else "met"
        for s in pack.standards
    }
    assert statuses == wanted
    for sid, domain_score in expected.get("domains", {}).items():
        assert result["domains"][sid] == pytest.approx(domain_score, abs=0.051)


@pytest.mark.parametrize("path", [ANSWERS[0], ANSWERS[-1]], ids=lambda p: p.name)
def test_cli_scores_an_example(path):
    done = run_cli("score", "--standards", str(pack_for(path)), "--answers", str(path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == EXPECTED[path.name]["outcome"]

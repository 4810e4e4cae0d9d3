"""Buddying: needs from the rules engine and the matching rules, one by one, then properties."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rules
from rules import CriterionOverride, Overrides, StandardOverride
from rules.buddying import BuddyingError, MemberProfile, Need, derive_needs, distance_km, match, needs_for, top_quartile
from tests.builders import answers, criterion, document, domain, load, standard
from tests.test_differential import FAST, answer_docs, documents

HIGHER = {"target": 85, "direction": "higher", "amber": 5}


# -- needs, through the engine ----------------------------------------------------------------------


def needs_doc() -> dict:
    return document(
        [
            domain(
                "d1",
                [
                    standard("S1", [criterion("C1")]),
                    standard("S2", [criterion("M1", "metric", benchmark=HIGHER), criterion("C2")]),
                    standard("S3", [criterion("M2", "metric", benchmark=HIGHER), criterion("C3")]),
                    standard("S4", [criterion("C4", allow_na=True)]),
                    standard("S5", [criterion("C5")], applies={"routes": ["specialty"]}),
                ],
            )
        ]
    )


def test_each_standard_not_met_is_a_need():
    result = rules.score(
        load(needs_doc()), answers({"C1": "no", "M1": 90, "C2": "no", "M2": 90, "C3": "yes", "C4": "na"})
    )
    assert result["support_needs"] == ["S1", "S2"]
    assert needs_for(7, result) == [Need(7, "S1", "not_met"), Need(7, "S2", "not_met")]


def test_not_met_with_a_major_breach_is_one_need_naming_the_breached_criteria():
    result = rules.score(
        load(needs_doc()), answers({"C1": "yes", "M1": 50, "C2": "yes", "M2": 82, "C3": "yes", "C4": "yes"})
    )
    # S2: red metric, not met; S3: amber (minor) only, met
    assert needs_for(1, result) == [Need(1, "S2", "not_met", ("M1",))]


def test_major_breach_in_a_standard_set_met_is_still_a_need():
    loaded = load(needs_doc())
    values = answers({"C1": "yes", "M1": 50, "C2": "yes", "M2": 90, "C3": "yes", "C4": "yes"})
    result = rules.score(loaded, values, overrides=Overrides(standards={"S2": StandardOverride("met", "Plan agreed")}))
    assert result["support_needs"] == []
    assert needs_for(1, result) == [Need(1, "S2", "major_breach", ("M1",))]
    # ... and none once the lead has scored the breached metric green
    cleared = rules.score(loaded, values, overrides=Overrides(criteria={"M1": CriterionOverride(1, "Recount")}))
    assert needs_for(1, cleared) == []


def test_needs_of_many_members_in_the_order_given():
    loaded = load(needs_doc())
    strong = rules.score(loaded, answers({"C1": "yes", "M1": 90, "C2": "yes", "M2": 90, "C3": "yes", "C4": "yes"}))
    weak = rules.score(loaded, answers({"C1": "no", "M1": 90, "C2": "yes", "M2": 90, "C3": "no", "C4": "no"}))
    assert needs_for(1, strong) == []
    assert derive_needs({3: weak, 1: strong, 2: weak}) == [
        Need(3, "S1", "not_met"),
        Need(3, "S3", "not_met"),
        Need(3, "S4", "not_met"),
        Need(2, "S1", "not_met"),
        Need(2, "S3", "not_met"),
        Need(2, "S4", "not_met"),
    ]


def test_needs_of_thousands_of_standards_in_one_call():
    result = {
        "standard_results": {f"S{i}": {"score": 0.0, "status": "not_met" if i % 3 else "met"} for i in range(1000)},
        "breaches": [],
    }
    found = derive_needs({m: result for m in range(10)})  # 10,000 facts, several engine sessions
    assert len(found) == 10 * sum(1 for i in range(1000) if i % 3)
    assert found[0] == Need(0, "S1", "not_met") and found[-1] == Need(9, "S998", "not_met")


@settings(FAST, max_examples=100)
@given(st.data())
def test_needs_are_the_support_needs_and_the_majorly_breached_standards(data):
    doc = data.draw(documents())
    loaded = load(doc)
    try:
        answers_doc = data.draw(answer_docs(doc))
        plain = rules.score(loaded, answers_doc)
        pins = {
            sid: StandardOverride(data.draw(st.sampled_from(("met", "not_met"))), "Panel")
            for sid, r in plain["standard_results"].items()
            if r["status"] in ("met", "not_met") and data.draw(st.booleans())
        }
        result = rules.score(loaded, answers_doc, overrides=Overrides(standards=pins))
        breached = {b["standard"] for b in result["breaches"] if b["severity"] == "major"}
        order = list(result["standard_results"])
        expected = [
            (sid, "not_met" if sid in result["support_needs"] else "major_breach")
            for sid in order
            if sid in result["support_needs"] or sid in breached
        ]
        assert [(n.standard, n.reason) for n in needs_for(1, result)] == expected
    finally:
        rules.release(loaded)


# -- matching, rule by rule --------------------------------------------------------------------------


def member(
    mid,
    org=None,
    route="full",
    specialty=None,
    region="London",
    at=None,
    met=("Q1",),
    score=80.0,
    mentees=(),
    alliance=1,
    **statuses,
):
    """A profile meeting the standards in ``met`` with ``score``; ``at`` is (latitude, longitude)."""
    lat, lon = at if at else (None, None)
    all_statuses = {sid: "met" for sid in met}
    all_statuses.update(statuses)
    return MemberProfile(
        mid,
        mid if org is None else org,
        route,
        specialty,
        region,
        lat,
        lon,
        scores={sid: score for sid in all_statuses},
        statuses=all_statuses,
        mentees=frozenset(mentees),
        alliance_id=alliance,
    )


def mentee(mid=1, **kw):
    kw.setdefault("met", ())
    return member(mid, Q1="not_met", score=kw.pop("score", 40.0), **kw)


def need(mid=1, standard="Q1", reason="not_met"):
    return Need(mid, standard, reason)


def buddy_of(matching, membership_id=1, standard="Q1"):
    found = [
        p.buddy_membership_id
        for p in matching.proposals
        if (p.need.membership_id, p.need.standard) == (membership_id, standard)
    ]
    return found[0] if found else None


def test_buddy_must_meet_the_standard():
    members = [mentee(), member(2, Q1="not_met"), member(3, met=(), Q1="not_scored"), member(4)]
    assert buddy_of(match([need()], members)) == 4


def test_specialty_member_needs_a_full_member_or_its_own_specialty():
    ortho = dict(route="specialty", specialty="orthopaedics")
    assert buddy_of(match([need()], [mentee(**ortho), member(2, route="specialty", specialty="cardiology")])) is None
    assert (
        buddy_of(
            match([need()], [mentee(**ortho), member(2, route="specialty", specialty="cardiology"), member(3, **ortho)])
        )
        == 3
    )
    assert (
        buddy_of(match([need()], [mentee(**ortho), member(2, route="specialty", specialty="cardiology"), member(4)]))
        == 4
    )


def test_full_member_needs_a_full_member():
    members = [mentee(), member(2, route="specialty", specialty="orthopaedics", score=100.0)]
    assert buddy_of(match([need()], members)) is None
    assert buddy_of(match([need()], members + [member(3, score=60.0)])) == 3


def test_never_itself_nor_its_own_organisation():
    # a major breach in a standard the member itself meets: it must not buddy itself
    me = member(1, org=10, mentees=())
    sister = member(2, org=10, score=100.0)
    assert match([need(reason="major_breach")], [me, sister]).no_buddy == (need(reason="major_breach"),)
    assert buddy_of(match([need(reason="major_breach")], [me, sister, member(3, org=30)])) == 3


def test_buddy_from_another_alliance_is_never_proposed():
    assert buddy_of(match([need()], [mentee(), member(2, alliance=2)])) is None


def test_capacity_counts_distinct_mentees_per_organisation():
    busy = member(2, org=20, mentees=(50, 51, 52))
    free = member(3, org=30, score=10.0)
    assert buddy_of(match([need()], [mentee(), busy, free])) == 3
    # its current mentee may still get it for a new need: that adds no mentee
    assert buddy_of(match([need(50)], [mentee(50), busy, free], capacity=3), 50) == 2
    # the limit is per organisation, across its memberships
    sister = member(4, org=20, mentees=(53,))
    assert buddy_of(match([need()], [mentee(), member(2, org=20, mentees=(50, 51)), sister, free])) == 3


def test_capacity_is_configurable_and_zero_means_no_new_mentees():
    members = [mentee(1), mentee(2), member(3)]
    assert buddy_of(match([need(1), need(2)], members, capacity=1), 2) is None
    assert len(match([need(1), need(2)], members, capacity=2).proposals) == 2
    assert match([need(1)], members, capacity=0).no_buddy == (need(1),)


def test_one_buddy_covers_several_needs_of_one_member_within_capacity_one():
    members = [
        member(1, met=(), Q1="not_met", Q2="not_met", Q3="not_met", score=10.0),
        member(2, met=("Q1", "Q2", "Q3"), score=90.0),
    ]
    matching = match([need(1, "Q1"), need(1, "Q2"), need(1, "Q3")], members, capacity=1)
    assert [p.buddy_membership_id for p in matching.proposals] == [2, 2, 2]
    assert [p.load for p in matching.proposals] == [0, 0, 0]


def test_top_quartile_is_preferred_over_nearer():
    # eight scores: the top quartile is the best two, 95 (Dorset, far) and 85 (Cumbria, distance unknown)
    members = [
        mentee(at=(51.5, -0.1)),
        member(2, score=70.0, at=(51.5, -0.1)),
        member(3, score=95.0, region="Dorset", at=(50.7, -2.0)),
        member(4, score=85.0, region="Cumbria"),
        member(5, score=60.0),
        member(6, score=50.0),
        member(7, score=45.0),
        member(8, score=42.0),
    ]
    proposal = match([need()], members).proposals[0]
    assert proposal.buddy_membership_id == 3 and proposal.top_quartile and not proposal.same_region
    assert top_quartile(members, "Q1") == {3, 4}


def test_same_region_is_preferred_then_the_shorter_distance():
    london = (51.5074, -0.1278)
    members = [
        mentee(at=london),
        member(2, region="Hertfordshire", at=(51.55, -0.2)),  # nearest, but another region
        member(3, at=(51.40, 0.05)),  # same region, about 17 km
        member(4, at=(51.52, -0.10)),
    ]  # same region, about 2 km
    proposal = match([need()], members).proposals[0]
    assert proposal.buddy_membership_id == 4 and proposal.same_region
    assert proposal.distance_km == pytest.approx(2.4, abs=0.3)
    assert buddy_of(match([need()], [m for m in members if m.membership_id != 4])) == 3
    assert buddy_of(match([need()], members[:2])) == 2


def test_unknown_distance_comes_after_known():
    members = [mentee(at=(51.5, -0.1)), member(2), member(3, at=(52.5, -1.9))]
    assert buddy_of(match([need()], members)) == 3


def test_least_loaded_then_lowest_membership_id():
    members = [mentee(), member(2, mentees=(60, 61)), member(3, mentees=(62,)), member(4, mentees=(63,))]
    assert buddy_of(match([need()], members)) == 3
    assert buddy_of(match([need()], [mentee(), member(5), member(4)])) == 4


def test_scarce_buddies_go_where_nobody_else_could_help():
    ortho = dict(route="specialty", specialty="orthopaedics")
    members = [mentee(1), mentee(2, **ortho), member(3, **ortho, score=90.0), member(4, score=90.0, region="Dorset")]
    # member 1 (full) can only use 4; member 2 could use 3 or 4: with capacity 1 both are served
    for needs in ([need(1), need(2)], [need(2), need(1)]):
        matching = match(needs, members, capacity=1)
        assert (buddy_of(matching, 1), buddy_of(matching, 2)) == (4, 3)
        assert [p.need for p in matching.proposals] == needs  # listed in the order given


def test_no_candidate_is_flagged_for_the_lead():
    matching = match([need(1), need(1, "Q2")], [mentee(1, Q2="not_met"), member(2)])
    assert buddy_of(matching, 1) == 2
    assert matching.no_buddy == (need(1, "Q2"),)


def test_proposal_says_why():
    members = [mentee(at=(51.5074, -0.1278)), member(2, score=92.5, at=(52.4862, -1.8904), mentees=(70,))]
    proposal = match([need()], members).proposals[0]
    assert proposal.reasons == [
        "meets Q1 (scores 92.5, top quartile of the alliance)",
        "same region",
        "162 km away",
        "buddies 1 other member (capacity 3)",
    ]


def test_haversine_distance():
    london, birmingham = member(1, at=(51.5074, -0.1278)), member(2, at=(52.4862, -1.8904))
    assert distance_km(london, birmingham) == pytest.approx(163, abs=1)  # published great-circle distance
    assert distance_km(birmingham, london) == distance_km(london, birmingham)
    assert distance_km(london, london) == 0
    assert distance_km(london, member(3)) is None
    # a quarter of the way round the equator
    assert distance_km(member(4, at=(0, 0)), member(5, at=(0, 90))) == pytest.approx(10007.5, abs=1)


def test_top_quartile_includes_ties():
    profiles = [member(i, score=s) for i, s in enumerate([90, 80, 80, 70, 60, 50, 40, 30], start=1)]
    assert top_quartile(profiles, "Q1") == {1, 2, 3}  # best quarter is 2 members; 80 tied
    assert top_quartile([member(1, score=10)], "Q1") == {1}
    assert top_quartile([member(1, met=())], "Q1") == set()


def test_profile_from_a_scoring_result():
    loaded = load(needs_doc())
    result = rules.score(
        loaded,
        answers(
            {"C1": "yes", "M1": 90, "C2": "no", "M2": 90, "C3": "yes", "C4": "na"},
            route="specialty",
            specialty="orthopaedics",
        ),
    )
    profile = MemberProfile.from_result(5, 50, result, region="Dorset", mentees=[9])
    assert (profile.route, profile.specialty, profile.mentees) == ("specialty", "orthopaedics", frozenset({9}))
    assert profile.statuses == {"S1": "met", "S2": "not_met", "S3": "met", "S4": "not_scored", "S5": "not_met"}
    assert profile.scores["S2"] == 50.0 and profile.scores["S4"] is None
    assert MemberProfile.from_result(6, 60, None, route="full").statuses == {}
    with pytest.raises(BuddyingError, match="membership 6: a route is needed"):
        MemberProfile.from_result(6, 60, None)


@pytest.mark.parametrize(
    "needs, members, capacity, message",
    [
        ([need(9)], [member(1)], 3, "need on Q1: membership 9 is not among the members"),
        ([], [member(1), member(1)], 3, "membership 1 is given twice"),
        ([need(1), need(1)], [mentee(1)], 3, "membership 1 has two needs on Q1"),
        ([], [], -1, "capacity must be a whole number of mentees, 0 or more, not -1"),
        ([], [], 2.5, "capacity must be a whole number of mentees, 0 or more, not 2.5"),
    ],
)
def test_bad_input_is_named(needs, members, capacity, message):
    with pytest.raises(BuddyingError) as caught:
        match(needs, members, capacity)
    assert str(caught.value) == message


# -- properties --------------------------------------------------------------------------------------

STANDARDS = ("Q1", "Q2", "Q3", "Q4")
REGIONS = ("London", "Dorset", "Oxford", None)


@st.composite
def alliances(draw):
    """Random members (some sharing an organisation, some already buddying) and their needs."""
    count = draw(st.integers(1, 25))
    members = []
    for mid in range(1, count + 1):
        route = draw(st.sampled_from(("full", "full", "specialty")))
        specialty = draw(st.sampled_from(("orthopaedics", "cardiology"))) if route == "specialty" else None
        statuses = {sid: draw(st.sampled_from(("met", "met", "not_met", "not_scored"))) for sid in STANDARDS}
        scores = {
            sid: (None if status == "not_scored" else float(draw(st.integers(0, 100))))
            for sid, status in statuses.items()
        }
        at = draw(st.one_of(st.none(), st.tuples(st.floats(50, 55), st.floats(-3, 1))))
        members.append(
            MemberProfile(
                mid,
                draw(st.integers(1, max(1, count - 2))),
                route,
                specialty,
                draw(st.sampled_from(REGIONS)),
                at[0] if at else None,
                at[1] if at else None,
                scores,
                statuses,
                frozenset(draw(st.lists(st.integers(1, count), max_size=3))) - {mid},
                draw(st.sampled_from((1, 1, 1, 2))),
            )
        )
    needs = [
        Need(p.membership_id, sid, "not_met" if p.statuses[sid] == "not_met" else "major_breach")
        for p in members
        for sid in STANDARDS
        if p.statuses[sid] == "not_met" or draw(st.integers(0, 9)) == 0
    ]
    return members, needs, draw(st.integers(0, 4))


@settings(FAST, max_examples=300)
@given(alliances(), st.randoms(use_true_random=False))
def test_matching_properties(alliance, shuffler):
    members, needs, capacity = alliance
    matching = match(needs, members, capacity)
    profiles = {p.membership_id: p for p in members}

    # every need is answered once: a proposal or "no buddy available"
    assert sorted([p.need for p in matching.proposals] + list(matching.no_buddy), key=repr) == sorted(needs, key=repr)

    mentees_of: dict[int, set[int]] = defaultdict(set)
    for p in members:
        mentees_of[p.organisation_id] |= p.mentees
    before = {org: set(found) for org, found in mentees_of.items()}
    for proposal in matching.proposals:
        mentee, buddy = profiles[proposal.need.membership_id], profiles[proposal.buddy_membership_id]
        assert buddy.organisation_id != mentee.organisation_id  # never itself
        assert buddy.alliance_id == mentee.alliance_id
        assert buddy.statuses[proposal.need.standard] == "met"
        assert buddy.route == "full" or (buddy.route, buddy.specialty) == (mentee.route, mentee.specialty)  # scope
        assert proposal.buddy_organisation_id == buddy.organisation_id
        mentees_of[buddy.organisation_id].add(mentee.membership_id)
    for org, found in mentees_of.items():  # no buddy over capacity (one already over gains nobody new)
        assert found == before.get(org, set()) or len(found) <= capacity

    # "no buddy available" is honest: every suitable buddy is full and does not have that member already
    for need in matching.no_buddy:
        mentee = profiles[need.membership_id]
        for buddy in members:
            if (
                buddy.statuses[need.standard] == "met"
                and buddy.organisation_id != mentee.organisation_id
                and buddy.alliance_id == mentee.alliance_id
                and buddy.covers(mentee)
            ):
                found = mentees_of[buddy.organisation_id]
                assert mentee.membership_id not in found and len(found) >= capacity

    # deterministic, whatever the order of needs and members
    shuffled_needs, shuffled_members = list(needs), list(members)
    shuffler.shuffle(shuffled_needs)
    shuffler.shuffle(shuffled_members)
    again = match(shuffled_needs, shuffled_members, capacity)
    assert set(again.proposals) == set(matching.proposals)
    assert set(again.no_buddy) == set(matching.no_buddy)


def test_large_alliance_stays_within_capacity():
    rng = random.Random(5)
    members = [
        MemberProfile(
            mid,
            mid // 2,
            "full",
            None,
            rng.choice(REGIONS),
            None,
            None,
            {"Q1": float(rng.randint(0, 100))},
            {"Q1": rng.choice(("met", "not_met"))},
        )
        for mid in range(400)
    ]
    needs = [Need(p.membership_id, "Q1", "not_met") for p in members if p.statuses["Q1"] == "not_met"]
    matching = match(needs, members, capacity=2)
    per_org: dict[int, set[int]] = defaultdict(set)
    for proposal in matching.proposals:
        per_org[proposal.buddy_organisation_id].add(proposal.need.membership_id)
    assert max(len(found) for found in per_org.values()) <= 2
    met_orgs = {p.organisation_id for p in members if p.statuses["Q1"] == "met"}
    # every organisation that meets Q1 is filled before a need goes without a buddy
    assert not matching.no_buddy or all(len(per_org[org]) == 2 for org in met_orgs)

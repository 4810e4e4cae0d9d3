"""The services behind the member pages: benchmark distributions, chart geometry, cycles, applicability."""

from __future__ import annotations

import datetime as dt

import pytest

from app import db
from app.models import AssessmentCycle
from app.services import CLI, open_cycle
from app.services.benchmarks import Distribution, MetricBenchmark, distribution
from app.services.portal import applicable_by_domain, core_offers, current_cycle, specialties_named
from app.web.charts import number, strip
from tests.builders import criterion, document, domain, load, standard


def test_distribution_uses_inclusive_quartiles():
    # Sorted 2, 4, 6, 8: positions (n - 1) x p = 0.75, 1.5, 2.25 -> 3.5, 5, 6.5
    assert distribution([8, 2, 6, 4]) == Distribution(4, 3.5, 5.0, 6.5)
    assert distribution([80, 90, 95]) == Distribution(3, 85.0, 90.0, 92.5)
    assert distribution([7]) == Distribution(1, 7, 7, 7)


def metric(direction: str):
    standards = load(
        document(
            [
                domain(
                    "d",
                    [
                        standard(
                            "S",
                            [
                                criterion(
                                    "M",
                                    "metric",
                                    unit="%",
                                    benchmark={"target": 50, "direction": direction, "amber": 5},
                                )
                            ],
                        )
                    ],
                )
            ]
        )
    )
    s = standards.standards[0]
    return s, s.criteria[0]


@pytest.mark.parametrize(
    "direction, value, words",
    [
        ("higher", 95, "better than the median, in the best quarter"),
        ("higher", 65, "better than the median"),
        ("higher", 60, "at the median"),
        ("higher", 55, "worse than the median"),
        ("higher", 40, "worse than the median, in the worst quarter"),
        ("lower", 40, "better than the median, in the best quarter"),
        ("lower", 55, "better than the median"),
        ("lower", 65, "worse than the median"),
        ("lower", 95, "worse than the median, in the worst quarter"),
    ],
)
def test_position_in_words_takes_the_better_direction_into_account(direction, value, words):
    s, c = metric(direction)
    benchmark = MetricBenchmark(s, c, value, None, 5, Distribution(5, 50, 60, 70))
    assert benchmark.position == words


def test_no_position_without_a_value_or_a_distribution():
    s, c = metric("higher")
    assert MetricBenchmark(s, c, None, None, 5, Distribution(5, 50, 60, 70)).position is None
    assert MetricBenchmark(s, c, 55, "amber", 2, None).position is None


def test_chart_geometry_fits_every_mark_and_points_to_the_better_end():
    s, c = metric("lower")
    geometry = strip(MetricBenchmark(s, c, 72.5, "red", 5, Distribution(5, 40, 45, 61)))
    left, right = geometry.left, geometry.width - geometry.right
    xs = [geometry.target_x, geometry.median_x, geometry.value_x, *geometry.box]
    assert all(left <= x <= right for x in xs)
    assert geometry.box[0] < geometry.median_x < geometry.box[1] < geometry.value_x  # 40 < 45 < 61 < 72.5
    assert geometry.median_x < geometry.target_x < geometry.box[1]  # target 50 between the median and q3
    assert geometry.better == "left"
    ticks = [float(t.label) for t in geometry.ticks]
    assert ticks == sorted(ticks) and ticks[0] <= 40 and ticks[-1] >= 72.5
    spacing = {round(b - a, 6) for a, b in zip(ticks, ticks[1:])}
    assert len(spacing) == 1  # evenly spaced


def test_chart_of_a_single_value_without_others():
    s, c = metric("higher")
    geometry = strip(MetricBenchmark(s, c, 50, "green", 0, None))
    assert geometry.box is None and geometry.median_x is None
    assert geometry.value_x == geometry.target_x  # the value is the target
    assert geometry.better == "right"


def test_numbers_are_shown_as_the_result_rounds_them():
    assert [number(v) for v in (85, 85.0, 92.5, 54.938, 0.04, None)] == ["85", "85", "92.5", "54.9", "0", ""]


def test_current_cycle_is_the_open_one_else_the_latest_opened(world):
    with db.session_scope(world.url) as session:
        this_year = session.get(AssessmentCycle, world.cycle_id)
        later = open_cycle(
            session,
            CLI,
            alliance_id=world.alliance_id,
            name=f"{this_year.opens_on.year + 1}/{(this_year.opens_on.year + 2) % 100:02d}",
            opens_on=this_year.closes_on + dt.timedelta(days=1),
            closes_on=this_year.closes_on + dt.timedelta(days=365),
        )
        assert current_cycle(session, world.alliance_id, this_year.opens_on).id == this_year.id
        assert current_cycle(session, world.alliance_id, later.opens_on + dt.timedelta(days=5)).id == later.id
        assert current_cycle(session, world.alliance_id, later.closes_on + dt.timedelta(days=5)).id == later.id
        assert current_cycle(session, world.alliance_id, this_year.opens_on - dt.timedelta(days=5)).id == this_year.id
        assert current_cycle(session, world.alliance_id + 99) is None


def test_applicability_and_core_proposition_by_route():
    standards = load(
        document(
            [
                domain(
                    "a",
                    [
                        standard("A1", [criterion("A1.1")]),
                        standard(
                            "A2",
                            [criterion("A2.1")],
                            applies={"routes": ["specialty"], "specialties": ["spinal", "hand"]},
                        ),
                    ],
                ),
                domain(
                    "b",
                    [
                        standard(
                            "B1",
                            [criterion("B1.1")],
                            applies={"org_types": ["acute"], "specialties": ["hand", "paediatrics"]},
                        )
                    ],
                ),
            ],
            core_proposition=[
                {"id": "cp-all", "title": "For all"},
                {"id": "cp-full", "title": "Full", "routes": ["full"]},
            ],
        )
    )
    assert specialties_named(standards) == ["spinal", "hand", "paediatrics"]
    full_acute = applicable_by_domain(standards, "full", None, "acute")
    assert [(d.id, [s.id for s in found]) for d, found in full_acute] == [("a", ["A1"]), ("b", ["B1"])]
    spinal_community = applicable_by_domain(standards, "specialty", "spinal", "community")
    assert [(d.id, [s.id for s in found]) for d, found in spinal_community] == [("a", ["A1", "A2"])]
    assert [o.id for o in core_offers(standards, "full")] == ["cp-all", "cp-full"]
    assert [o.id for o in core_offers(standards, "specialty")] == ["cp-all"]


def test_tick_labels_carry_the_decimals_of_the_step():
    s, c = metric("higher")  # target 50; with a value of 49.2 the axis steps by 0.25
    geometry = strip(MetricBenchmark(s, c, 49.2, "amber", 0, None))
    assert [t.label for t in geometry.ticks] == ["49", "49.25", "49.5", "49.75", "50", "50.25"]

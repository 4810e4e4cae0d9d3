"""Geometry of the benchmark chart: one horizontal strip per metric, drawn as SVG by the template.

Each strip shows the other members' quartile box and median, the target, and
the member's own value, on a scale that fits all of them, with an arrow
towards the better end. Colour is never the only signal: every mark is also
named in text, and the page has a table with the same numbers. A value the
chart cannot draw (not finite, or beyond ``DRAWABLE``) is left off it and
named in its text; without a drawable target there is no chart at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ..services.benchmarks import MetricBenchmark
from ..wording import decimal_text

WIDTH, HEIGHT = 640, 110
#: The largest magnitude a strip draws: beyond it a float no longer holds every digit, and the other marks
#: would be squeezed into one pixel.
DRAWABLE = 1e15
LEFT, RIGHT = 24, 24
AXIS_Y, BOX_TOP, BOX_BOTTOM = 80, 32, 60


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Strip:
    width: int
    height: int
    axis_y: int
    box_top: int
    box_bottom: int
    left: int
    right: int
    ticks: list[Tick]
    target_x: float
    box: Optional[tuple[float, float]]  # q1 and q3 as x
    median_x: Optional[float]
    value_x: Optional[float]
    better: str  # "right" or "left"
    value_off_scale: bool = False  # the member gave a value the strip cannot draw


def number(value: Optional[float]) -> str:
    """A number as the result shows numbers: at most one decimal, no trailing .0; a number too large for a
    float to hold its last digits in its plain decimal digits as written."""
    if value is None:
        return ""
    if not drawable(value):
        return decimal_text(value)
    rounded = round(value, 1)
    return str(int(rounded)) if float(rounded).is_integer() else f"{rounded:.1f}"


def drawable(value: Optional[float]) -> bool:
    try:
        return value is not None and math.isfinite(value) and abs(value) <= DRAWABLE
    except OverflowError:  # an integer beyond any float
        return False


def _tick_label(value: float) -> str:
    """A tick as written on an axis: as many decimals as the step needs (0.25, not 0.2), no trailing zeros."""
    text = "%.6f" % (round(value, 6) + 0.0)  # + 0.0 turns -0.0 into 0.0
    return text.rstrip("0").rstrip(".")


def _nice_step(span: float) -> float:
    raw = span / 4
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power


def strip(benchmark: MetricBenchmark) -> Optional[Strip]:
    """The strip of a benchmark, leaving off what cannot be drawn; None when the target cannot be."""
    if not drawable(benchmark.target):
        return None
    points = [float(benchmark.target)]
    d = benchmark.distribution
    if d is not None and not all(drawable(v) for v in (d.q1, d.median, d.q3)):
        d = None
    if d is not None:
        points += [d.q1, d.median, d.q3]
    own = benchmark.value if drawable(benchmark.value) else None
    if own is not None:
        points.append(own)
    low, high = min(points), max(points)
    if high == low:
        pad = abs(high) * 0.1 or 1.0
    else:
        pad = (high - low) * 0.1
    low, high = low - pad, high + pad
    step = _nice_step(high - low)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    inner = WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return round(LEFT + (value - low) / (high - low) * inner, 1)

    ticks = []
    count = int(round((high - low) / step))
    for i in range(count + 1):
        value = low + i * step
        ticks.append(Tick(x(value), _tick_label(value)))
    return Strip(
        width=WIDTH,
        height=HEIGHT,
        axis_y=AXIS_Y,
        box_top=BOX_TOP,
        box_bottom=BOX_BOTTOM,
        left=LEFT,
        right=RIGHT,
        ticks=ticks,
        target_x=x(float(benchmark.target)),
        box=(x(d.q1), x(d.q3)) if d is not None else None,
        median_x=x(d.median) if d is not None else None,
        value_x=x(own) if own is not None else None,
        better="right" if benchmark.direction == "higher" else "left",
        value_off_scale=benchmark.value is not None and own is None,
    )

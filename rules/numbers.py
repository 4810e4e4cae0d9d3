"""Exact numbers for scoring: as written, as kept, as the engine compares them and as people read them.

Every number in a standards file, an answer or an override means what is
written (``0.1`` is one tenth, not the nearest binary fraction). Scores are
kept as integer fractions (``Ratio``), reach the engine as floats that keep
the exact score's side of every threshold, and are rounded only in the result.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Optional, Sequence

Ratio = tuple[int, int]  # an exact non-negative score as (numerator, denominator > 0)


def plain_number(value: Any) -> str:
    """A number as people write it: 85 not 85.0."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def exact(value: Any) -> Fraction:
    """A number as written: a float means its shortest decimal form (0.1 is one tenth)."""
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def lcm_of_denominators(values: Sequence[Fraction]) -> int:
    return math.lcm(1, *(v.denominator for v in values))


def reduced(num: int, den: int) -> Ratio:
    common = math.gcd(num, den)
    return num // common, den // common


def rounded(value: Optional[Ratio]) -> Optional[float]:
    """What the result shows: one decimal."""
    return None if value is None else round(value[0] / value[1], 1)


def engine_float(value: Ratio, thresholds: Sequence[tuple[Fraction, float]]) -> float:
    """The score as a float for the engine, kept on its exact side of every threshold.

    Integer division rounds correctly, so only a score below a threshold but
    closer to it than float precision could compare as equal; it is moved one
    step down.
    """
    num, den = value
    result = num / den
    for threshold, as_float in thresholds:
        if result == as_float and num * threshold.denominator < threshold.numerator * den:
            result = math.nextafter(as_float, -math.inf)
    return result

"""How the product's codes and numbers read to people: one vocabulary for pages, notifications and messages.

A code stored in the database (``accredit_with_conditions``, ``under_review``, a specialty such as
``paediatric-orthopaedics``) is never shown as it is stored: ``label`` gives its words. Numbers are shown as
written (no binary-float digits nobody typed), with a space before a unit word ("17.2 days", but "85%"),
and file sizes in the unit that reads best ("45 bytes", "12 KB", "1.5 MB").
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Optional

#: Words for every code the product stores, with the tag colour that repeats (never replaces) the meaning.
VOCABULARY: dict[str, tuple[str, str]] = {
    # standards, criteria and benchmarks
    "met": ("Met", "green"),
    "not_met": ("Not met", "red"),
    "not_scored": ("Not scored", "grey"),
    "not_applicable": ("Not applicable", "grey"),
    "exemplary": ("Exemplary", "green"),
    "approaching": ("Approaching", "orange"),
    "green": ("Green: target met", "green"),
    "amber": ("Amber: near the target", "yellow"),
    "red": ("Red: below the target band", "red"),
    "minor": ("Minor breach (amber)", "yellow"),
    "major": ("Major breach (red)", "red"),
    "info": ("Information", "blue"),
    "warning": ("Warning", "orange"),
    "critical": ("Critical", "red"),
    # engine outcomes and membership statuses
    "accredited": ("Accredited", "green"),
    "accredited_with_conditions": ("Accredited with conditions", "yellow"),
    "working_towards": ("Working towards accreditation", "orange"),
    "not_accredited": ("Not accredited", "red"),
    "applicant": ("Applicant", "blue"),
    "at_risk": ("At risk", "red"),
    "suspended": ("Suspended", "red"),
    "lapsed": ("Lapsed", "grey"),
    "withdrawn": ("Withdrawn", "grey"),
    "declined": ("Declined", "grey"),
    # a lead's decisions
    "accredit": ("Accredited", "green"),
    "accredit_with_conditions": ("Accredited with conditions", "yellow"),
    "decline": ("Declined", "grey"),
    "suspend": ("Suspended", "red"),
    "reinstate": ("Reinstated", "green"),
    # self-assessments, plans and buddying
    "draft": ("Draft", "grey"),
    "returned": ("Returned for changes", "orange"),
    "submitted": ("Submitted", "blue"),
    "under_review": ("Under review", "purple"),
    "decided": ("Decided", "green"),
    "completed": ("Completed", "green"),
    "in_progress": ("In progress", "blue"),
    "not_started": ("Not started", "grey"),
    "proposed": ("Proposed", "blue"),
    "accepted": ("Accepted", "blue"),
    "active": ("Active", "green"),
    # applications for membership and cycles
    "new": ("New", "blue"),
    "under_consideration": ("Under consideration", "purple"),
    "admitted": ("Admitted", "green"),
    "upcoming": ("Upcoming", "grey"),
    "open": ("Open", "green"),
    "closed": ("Closed", "grey"),
    "late": ("Late", "red"),
    # standards versions
    "published": ("Published", "green"),
    "retired": ("Retired", "grey"),
    # routes and organisation types
    "full": ("Full", "grey"),
    "specialty": ("Specialty", "grey"),
    "mental-health": ("Mental health", "grey"),
    "primary-care": ("Primary care", "grey"),
    "social-care": ("Social care", "grey"),
}
#: A code as stored: lower-case words joined by underscores or hyphens.
_CODE = re.compile(r"[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*\Z")


def label(code: Any, known_only: bool = False) -> str:
    """The words for a code, capitalised as at the start of a sentence: a known code's words, else (unless
    ``known_only``) a code's words with its separators as spaces ("hand-surgery": "Hand surgery"). Anything
    else (free text, a number) is shown as it is."""
    if code is None or code == "":
        return "None"
    if not isinstance(code, str):
        return str(code)
    found = VOCABULARY.get(code)
    if found is not None:
        return found[0]
    if known_only or not _CODE.match(code):
        return code
    words = code.replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:]


def tag_colour(code: Any) -> str:
    found = VOCABULARY.get(code) if isinstance(code, str) else None
    return found[1] if found else "grey"


def in_sentence(code: Any) -> str:
    """A code's words inside a sentence ("a mental health organisation", "on the full route")."""
    words = label(code)
    return words[:1].lower() + words[1:] if words[1:2].islower() or len(words) == 1 else words


#: Words whose sound does not follow their first letter.
_AN_EXCEPTIONS = ("hour", "honest", "honour", "heir")
_A_EXCEPTIONS = ("one", "once", "uni", "use", "usu", "uk ", "eu", "ewe")


def with_article(phrase: str) -> str:
    """``phrase`` after "a" or "an", as it is said: "an acute", "a community", "a university"."""
    start = phrase.strip().lower()
    if start.startswith(_AN_EXCEPTIONS):
        return f"an {phrase}"
    if start.startswith(_A_EXCEPTIONS):
        return f"a {phrase}"
    return f"{'an' if start[:1] in 'aeiou' and start else 'a'} {phrase}"


def size_text(size: Optional[int]) -> str:
    """A file size in the unit that reads best: "45 bytes", "12 KB", "1.5 MB" (at most one decimal, none
    when it adds nothing)."""
    size = int(size or 0)
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    for unit, scale in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3)):
        value = size / scale
        if value < 1024 or unit == "GB":
            shown = f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")
            return f"{shown} {unit}"
    return f"{size} bytes"  # pragma: no cover  (the loop always returns)


def decimal_text(value: Any) -> str:
    """A number in plain decimal digits as it was written: a float is its shortest form (1e21 is
    1000000000000000000000, never 999999999999999983222784 or 1e+21), with no trailing ".0"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "not a number" if math.isnan(value) else ("infinity" if value > 0 else "minus infinity")
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def with_unit(number: str, unit: Optional[str]) -> str:
    """A number (as text) followed by its unit as people write it: "85%", "17.2 days"."""
    if not unit:
        return number
    return f"{number}{unit}" if unit.startswith("%") else f"{number} {unit}"

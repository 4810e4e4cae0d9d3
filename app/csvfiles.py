"""Every CSV file the product writes (the leads' exports, the rescore report) is written here, so none can carry
a formula: a cell that starts as a spreadsheet formula does (= + - @, a tab or a carriage return) is written as
text, with a leading apostrophe, whoever typed it (an organisation's name, a note, an id in a standards file).
"""

from __future__ import annotations

import csv
from typing import Any, Iterable, Sequence, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell: text a spreadsheet would run as a formula is made text; None is empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(handle: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A header line, then a line per row, every cell made safe (``safe_cell``)."""
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    writer.writerows([safe_cell(value) for value in row] for row in rows)

"""What counts as text: the one check every way in applies to what people type, and safe display of text.

Text that can be stored and shown anywhere (a database, a web page, a CSV, a
terminal) has no NUL, no lone surrogate (``"\\ud800"`` from a JSON escape is
no character and cannot be encoded) and no control characters: tabs and line
breaks only where several lines are allowed. A single-line field (a name, a
region, a title) takes no line break or tab either. ``text_problem`` says what
is wrong in words; ``printable`` escapes what a terminal would act on.
"""

from __future__ import annotations

import re
from typing import Optional

#: Never text: control characters other than tab and line breaks, and lone surrogates.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: Not in a single-line field: every control character and the Unicode line and paragraph separators.
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
#: What a terminal acts on or cannot encode: controls, line separators, lone surrogates, bidirectional overrides.
_UNSAFE_TO_PRINT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def escaped(char: str) -> str:
    """A character as its escape: \\x1b, \\ud800, \\u2028, \\n."""
    return ascii(char)[1:-1]


def text_problem(value: str, single_line: bool = False) -> Optional[str]:
    """None for text that can be stored and shown anywhere; else what is wrong, to follow a field's name
    ("cannot contain ..."). ``single_line``: a name or a title, where line breaks and tabs are refused too."""
    found = (_NOT_ONE_LINE if single_line else _NOT_TEXT).search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "cannot contain NUL characters"
    if "\ud800" <= char <= "\udfff":
        return f"cannot contain {escaped(char)} (a lone surrogate, which is not a character)"
    if single_line and char in _LINE_BREAKS:
        return "must be on one line"
    if char == "\t":
        return "cannot contain a tab"
    return f"cannot contain the control character {escaped(char)}"


def printable(value: str) -> str:
    """The text with every character a terminal would act on (or could not encode) escaped, so a name
    prints as what it is: "Trust\\x1b[2J" rather than a cleared screen."""
    return _UNSAFE_TO_PRINT.sub(lambda found: escaped(found.group()), value)

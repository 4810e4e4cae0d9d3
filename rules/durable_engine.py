"""The one place that talks to durable-rules.

durable-rules 2.0.28 is unmaintained and several of its failures are silent
or kill the process, so this module drives its C core directly and keeps
every hazard behind a small surface:

- No ``Host``: the stock host starts background timer threads, keeps a global
  name directory that refuses re-registration, and swallows exceptions raised
  in actions. We create rulesets by handle, run the matched actions ourselves
  (synchronously, in the caller's thread) and let exceptions propagate.
- Every ruleset gets a unique name, so any number of standards versions (two
  versions of one set included) live side by side in one process; ``close``
  frees a ruleset's memory in the C core.
- Each run uses a fresh state id, deleted in a ``finally`` once an action has
  run (deleting a state that never ran one crashes the core), so live states
  never pile up towards the core's limit of 1,024.
- Numbers are written without exponents (the core rejects ``1e-07``) and
  specs are serialised, never mutated.
- A lock per ruleset serialises runs: the core never releases the GIL, so
  threads lose nothing and cannot interleave one ruleset's calls.
- Each run allocates and frees about 1 MB, some of it in blocks of a few
  hundred KB. glibc hands the freed top of the heap back to the kernel at
  once, and serves large blocks with their own ``mmap`` (unmapped again on
  free), so every run faulted the same memory in again: scoring ran 2-2.5x
  slower in a process with a small heap, and spent a third of its time in
  page faults. Loading this module keeps some headroom at the top of the
  heap and serves blocks up to a few MB from the heap (``keep_heap_headroom``).
"""

from __future__ import annotations

import ctypes
import itertools
import json
import re
import sys
import threading
from decimal import Decimal
from typing import Any, Iterable

import durable_rules_engine as _core

_names = itertools.count(1)
_state_ids = itertools.count(1)
_EXPONENT_NUMBER = re.compile(r"(?<=[:\[,] )-?\d+(?:\.\d+)?[eE][+-]?\d+|(?<=[:\[,])-?\d+(?:\.\d+)?[eE][+-]?\d+")

# A matched fact's id in an action message (the core echoes facts as they were sent)
_FACT_ID = re.compile(r'"id": ?(\d+)')


#: glibc's ``M_TOP_PAD`` (how much the heap keeps beyond what is in use when it grows or shrinks) and
#: ``M_MMAP_THRESHOLD`` (the size from which a block gets its own mapping instead of heap memory).
_M_TOP_PAD, _M_MMAP_THRESHOLD = -2, -3
HEAP_HEADROOM = 4 * 1024 * 1024
HEAP_BLOCK_LIMIT = 8 * 1024 * 1024


def keep_heap_headroom(size: int = HEAP_HEADROOM, blocks_up_to: int = HEAP_BLOCK_LIMIT) -> bool:
    """Ask glibc to keep ``size`` bytes free at the top of the heap and to serve blocks up to
    ``blocks_up_to`` bytes from the heap (see the module's notes); whether it took. Elsewhere (another C
    library, another system) nothing changes."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process runs on
        return bool(libc.mallopt(_M_TOP_PAD, size)) and bool(libc.mallopt(_M_MMAP_THRESHOLD, blocks_up_to))
    except (OSError, AttributeError):
        return False


keep_heap_headroom()


class RulesEngineError(RuntimeError):
    """The rules engine refused or failed on something it was given."""


def dumps(value: Any) -> str:
    """JSON for the core: plain decimals only, never exponent notation."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if "e-" in text or "e+" in text:  # json writes exponents as 1e-07 / 1e+16
        text = _EXPONENT_NUMBER.sub(_plain_decimal, text)
    return text


def number_text(value: float) -> str:
    """One number as the core accepts it (see ``dumps``)."""
    text = repr(value) if type(value) is float else repr(float(value))
    if "e" in text:
        text = _plain_decimal_text(text)
    return text


def _plain_decimal_text(text: str) -> str:
    text = format(Decimal(text), "f")
    return text if "." in text else text + ".0"  # keep it a float: digits alone overflow the core's integers


def _plain_decimal(found: re.Match) -> str:
    return _plain_decimal_text(found.group())


class Ruleset:
    """A compiled ruleset living in the durable-rules core.

    ``spec`` maps rule names to durable-rules JSON rules (``all``/``any``,
    ``pri``, ``cap``); there are no ``run`` callbacks: ``run`` returns what
    matched and the caller decides what it means.
    """

    def __init__(self, label: str, spec: dict[str, dict]):
        self.name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}#{next(_names)}"
        self.rule_names = tuple(spec)
        self._lock = threading.Lock()
        try:
            self._handle: int | None = _core.create_ruleset(self.name, dumps(spec))
        except Exception as exc:  # the core reports bad specs as bare errors
            raise RulesEngineError(f"durable-rules refused ruleset {self.name}: {exc}") from exc

    def session(self) -> Session:
        return Session(self)

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                _core.delete_ruleset(self._handle)
                self._handle = None

    def _check_open(self) -> int:
        if self._handle is None:
            raise RulesEngineError(f"ruleset {self.name} has been closed")
        return self._handle


class Session:
    """One assessment's run through a ruleset: facts in, matches out.

    Use as a context manager; facts may be asserted in several stages, each
    returning the rule matches it caused, in the order the core fired them.
    """

    def __init__(self, ruleset: Ruleset):
        self.ruleset = ruleset
        self.sid = f"s{next(_state_ids)}"
        self._ran_action = False
        self._fact_ids = itertools.count(10_000_000)

    def __enter__(self) -> Session:
        self.ruleset._lock.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            handle = self.ruleset._handle
            if self._ran_action and handle is not None:
                _core.delete_state(handle, self.sid)
        finally:
            self.ruleset._lock.release()

    def assert_facts(self, facts: str | Iterable[dict]) -> list[tuple[str, int]]:
        """Assert facts, run every matched action; returns (rule, fact id) pairs in firing order."""
        return [(rule, fact_id) for rule, fact_ids in self.assert_grouped(facts) for fact_id in fact_ids]

    def assert_grouped(self, facts: str | Iterable[dict]) -> list[tuple[str, list[int]]]:
        """Assert facts, run every matched action; returns (rule, ids of the facts it matched) per action.

        ``facts`` is JSON text (the fast path: each fact already carrying this
        session's ``sid`` and a unique integer ``id``) or dicts, which get the
        ``sid`` and, unless they have one, an ``id``.
        """
        return [(rule, list(map(int, fact_ids))) for rule, fact_ids in self.assert_matched(facts)]

    def assert_matched(self, facts: str | Iterable[dict]) -> list[tuple[str, list[str]]]:
        """As ``assert_grouped``, with each fact id as the digits the core echoed (``"12"``): a caller that looks
        facts up by those saves converting every id to a number."""
        if not isinstance(facts, str):
            batch = []
            for fact in facts:
                fact["sid"] = self.sid
                if "id" not in fact:
                    fact["id"] = next(self._fact_ids)
                batch.append(fact)
            if not batch:
                return []
            facts = dumps(batch)
        handle = self.ruleset._check_open()
        try:
            code, state_handle = _core.assert_facts(handle, facts)
        except Exception as exc:
            raise RulesEngineError(f"durable-rules rejected facts: {exc}") from exc
        if code == 1:
            raise RulesEngineError(f"no rule of {self.ruleset.name} matches one of these facts: {facts[:500]}")
        if code not in (0, 3):
            raise RulesEngineError(f"durable-rules answered code {code} to facts of {self.ruleset.name}")
        matches: list[tuple[str, list[str]]] = []
        started = _core.start_action_for_state(handle, state_handle)
        if not started:
            return matches
        self._ran_action = True
        message = started[1]
        find_ids, complete = _FACT_ID.findall, _core.complete_and_start_action
        while message:  # {"rule":[{"m":{...}}, ...]} or {"rule":{"m":{...}}}
            matches.append((message[2 : message.index('"', 2)], find_ids(message)))
            message = complete(handle, state_handle)
        return matches

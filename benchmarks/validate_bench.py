"""How long ``standards validate`` takes on a file as large as an upload may be (1 MB).

Builds two files of about 1 MB each and times ``python cli.py standards validate`` on them in a fresh
process (start-up included, as a person or an upload would see it), best and median of ``--runs``:

- a valid pack: the NOA pack's opening, then domains of standards whose criteria have realistic text
  (about 7,000 criteria, 90,000 values);
- a broken one: the pack followed by about 110,000 unknown keys of a few characters each, the file that
  once took 22-55 s and answered with 25 MB of problems;
- the same keys in one flow mapping on one line (``{k0: 0, k1: 0, ...}``), which no count of lines refuses.

It also times the loader in this process on files of each kind a quarter, a half and all of that size, to
show that the time grows with the file's size and no faster.

    python benchmarks/validate_bench.py [--runs 5]

Target: under 2 s for each file, end to end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rules  # noqa: E402
from rules.yamlnodes import MAX_BYTES  # noqa: E402

PACK = ROOT / "standards" / "noa-orthopaedics-2026.1.yaml"
TARGET_SECONDS = 2.0
SIZE = 1_000_000  # bytes: under the 1 MB bound, as large as an upload may be
TYPES = ("yes_no", "yes_partial_no", "text", "level", "metric")


def opening() -> str:
    """The NOA pack up to its domains: set, ratings, routes and core proposition."""
    text = PACK.read_text(encoding="utf-8")
    return text[: text.index("\ndomains:\n") + 1]


def criterion(ident: str, kind: str) -> str:
    lines = [
        f"          - id: {ident}",
        (
            f"            text: Does the service meet requirement {ident} of the alliance's pathway, with "
            "named leads and an audit in the last year?"
        ),
        f"            type: {kind}",
        ("            guidance: Upload the audit report or the minutes of the governance meeting that agreed it."),
    ]
    if kind == "level":
        lines.append("            levels: [Not started, Planned, Partly in place, In place, Embedded and audited]")
    if kind == "metric":
        lines += ["            unit: '%'", "            benchmark: {target: 85, direction: higher, amber: 5}"]
    return "\n".join(lines) + "\n"


def valid_pack(size: int) -> str:
    """A valid standards file of about ``size`` bytes."""
    parts, total, count = [opening(), "domains:\n"], 0, 0
    total = sum(len(p) for p in parts)
    domain = 0
    while total < size - 3_000:
        domain += 1
        head = f"  - id: d{domain}\n    title: Domain {domain}\n    standards:\n"
        parts.append(head)
        total += len(head)
        for standard in range(20):
            block = (
                f"      - id: D{domain}S{standard}\n        title: Standard {standard} of domain {domain}\n"
                "        criteria:\n"
            )
            block += "".join(
                criterion(f"D{domain}S{standard}.{c}", TYPES[(standard + c) % len(TYPES)]) for c in range(5)
            )
            count += 5
            parts.append(block)
            total += len(block)
            if total >= size - 3_000:
                break
    return "".join(parts)


def broken_pack(size: int) -> str:
    """The NOA pack followed by unknown top-level keys of a few characters each, to about ``size`` bytes."""
    text = PACK.read_text(encoding="utf-8")
    keys, total, index = [], len(text), 0
    while total < size:
        line = f"{_base36(index)}: 0\n"
        keys.append(line)
        total += len(line)
        index += 1
    return text + "".join(keys)


def flow_pack(size: int) -> str:
    """The NOA pack followed by one flow mapping of unknown keys, to about ``size`` bytes."""
    text = PACK.read_text(encoding="utf-8") + "extra: {"
    keys, total, index = [], len(text), 0
    while total < size - 2:
        keys.append(f"{_base36(index)}: 0")
        total += len(keys[-1]) + 2
        index += 1
    return text + ", ".join(keys) + "}\n"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    found = ""
    while True:
        number, rest = divmod(number, 36)
        found = digits[rest] + found
        if not number:
            return "k" + found


def end_to_end(path: Path, runs: int) -> tuple[float, float, subprocess.CompletedProcess]:
    """(best, median) seconds of ``cli.py standards validate PATH`` in a fresh process, and the last run."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "cli.py", "standards", "validate", str(path)], cwd=ROOT, capture_output=True, text=True
        )
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), done


def in_process(text: str) -> float:
    """Seconds to load (or refuse) the text, best of three."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        try:
            rules.parse_standards(text, filename="bench.yaml")
        except rules.StandardsError:
            pass
        best = min(best, time.perf_counter() - started)
    return best


def growth(build: Callable[[int], str]) -> list[str]:
    """Load time of the same kind of file at a quarter, a half and all of the size."""
    rows = []
    for share in (0.25, 0.5, 1.0):
        text = build(int(SIZE * share))
        rows.append(f"    {len(text.encode()):>9,} bytes: {in_process(text):6.3f} s")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        f"standards validate on ~1 MB files (bound {MAX_BYTES:,} bytes), {args.runs} runs each, "
        f"target < {TARGET_SECONDS} s end to end"
    )
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        files = (
            ("valid pack", valid_pack),
            ("110k unknown keys", broken_pack),
            ("110k keys in one flow mapping", flow_pack),
        )
        for name, build in files:
            text = build(SIZE)
            path = Path(folder) / f"{name.replace(' ', '-')}.yaml"
            path.write_text(text, encoding="utf-8")
            best, median, done = end_to_end(path, args.runs)
            shown = (done.stdout or done.stderr).splitlines()
            print(f"\n{name}: {len(text.encode()):,} bytes, {text.count(chr(10)):,} lines")
            print(
                f"  end to end: best {best:.2f} s, median {median:.2f} s "
                f"({'met' if median < TARGET_SECONDS else 'NOT MET'})"
            )
            print(
                f"  exit {done.returncode}, {len(shown)} line(s) of output, {len(done.stdout + done.stderr):,} bytes; "
                f"last: {shown[-1][:120] if shown else ''}"
            )
            print("  in process, by size:")
            for row in growth(build):
                print(row)
            ok = ok and median < TARGET_SECONDS
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

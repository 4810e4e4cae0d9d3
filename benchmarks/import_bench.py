"""Time of importing a large CISO Assistant framework library (``python cli.py standards import``).

Builds a library of N requirement nodes (default 5,000: sections of groups of assessable requirements, each
with a description of about 60 words, plus a few descriptions of 20,000 words), writes it to a temporary
file, then times the import as the command runs it (read, convert, write the standards file), the median of
three runs, and once more as a fresh ``python cli.py standards import`` process.

    python benchmarks/import_bench.py [--nodes 5000]

Target: importing 5,000 nodes under 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli import write_atomically  # noqa: E402
from rules.library_import import import_library_file  # noqa: E402
from tests.libraries import big_library, text  # noqa: E402

TARGET_SECONDS = 5.0


def build(path: Path, nodes: int) -> None:
    doc = big_library(nodes)
    long_text = " ".join(["Every clinical system keeps an audit trail of who opened which record."] * 2000)
    for item in doc["objects"]["framework"]["requirement_nodes"][10:nodes:1000]:
        item["description"] = long_text
    path.write_text(text(doc), encoding="utf-8")


def import_once(library: Path, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    imported = import_library_file(library, "bench-import", "2026.1")
    write_atomically(out, imported.text)
    return time.perf_counter() - started, imported.criteria


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        library, out = Path(folder) / "library.yaml", Path(folder) / "standards.yaml"
        build(library, args.nodes)
        runs = [import_once(library, out) for _ in range(3)]
        seconds = statistics.median(run[0] for run in runs)
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "cli.py",
                "standards",
                "import",
                str(library),
                "--id",
                "bench-import",
                "--version",
                "2026.1",
                "--out",
                str(out),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        command = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"the import command failed: {done.stderr}")
        size = library.stat().st_size / 1e6
        print(f"library: {args.nodes:,} requirement nodes, {runs[0][1]:,} assessable, {size:.1f} MB")
        print(
            f"import (read, convert, write): median {seconds:.2f} s of 3 runs "
            f"({', '.join(f'{run[0]:.2f}' for run in runs)})"
        )
        print(f"`python cli.py standards import` in a fresh process: {command:.2f} s")
        verdict = "met" if max(seconds, command) < TARGET_SECONDS else "NOT met"
        print(f"target: under {TARGET_SECONDS:g} s: {verdict}")


if __name__ == "__main__":
    main()

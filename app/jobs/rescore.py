"""Running a rescore from the command line: in this process or in ``--jobs`` worker processes, with a
progress bar, and a report of what changed per member.

The work itself is in ``app.services.rescore_runs``; this module only shares it out.
An applied run's workers share it through the database, so a second command
started on another machine against the same PostgreSQL database joins the run
instead of repeating it.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import multiprocessing
import multiprocessing.connection
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from rules import changes

from .. import db
from ..csvfiles import write_csv
from ..services import Actor
from ..services import rescore_runs as runs
from ..services.buddying import planning as buddying

REPORT_FORMATS = (".csv", ".json")
DRY_CHUNK = 200
#: The cyclic garbage collector's first threshold in a rescore's processes (CPython's default is 700).
COLLECTOR_THRESHOLD = 50_000


def _processes():
    """Worker processes are forked on Linux (they start with everything already imported, which takes a
    spawned one most of a second), spawned elsewhere (forking is unsafe on macOS, absent on Windows)."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def tune_collector() -> None:
    """For a process that rescores: the objects it holds by then (modules, the ORM's tables, parsed
    standards) live as long as it does, so the cyclic collector stops walking them (``gc.freeze``); and it
    runs after many more allocations, since a batch's results and report lines are built and dropped by the
    thousand and freed by reference counting. Collection took about a tenth of a worker's time before. The
    collector is switched on (the command switches it off while it imports)."""
    gc.freeze()
    gc.set_threshold(COLLECTOR_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()


def _in_worker() -> None:
    db.forget_engines()  # a forked worker must not use the parent's connections
    tune_collector()


class RescoreFailed(RuntimeError):
    """A run could not finish; the message says why (its finished items stay done)."""


@dataclass(frozen=True)
class Request:
    set_id: str
    version: str
    cycle: Optional[str] = None
    url: Optional[str] = None
    actor: str = "cli"
    batch: int = 250
    lease_seconds: float = 300.0


@dataclass
class Outcome:
    """What a run did: its report lines, the assessments that could not be rescored, and its run id."""

    lines: list[dict]
    failures: list[dict] = field(default_factory=list)
    run_id: Optional[int] = None

    @property
    def summary(self) -> changes.Summary:
        return changes.summarise(self.lines)


Progress = Callable[[int, int], None]  # (done, total)


def check_report_path(path: Optional[str]) -> None:
    if path is not None and Path(path).suffix.lower() not in REPORT_FORMATS:
        raise RescoreFailed(f"--report {path}: the report is written as CSV or JSON: name it .csv or .json")


def _target(session, request: Request) -> runs.Target:
    return runs.find_target(session, request.set_id, request.version, request.cycle)


def count(request: Request) -> tuple[runs.Target, int]:
    with db.read_scope(request.url) as session:
        target = _target(session, request)
        return target, runs.count_affected(session, target)


# -- dry run -----------------------------------------------------------------------------------------


def _dry_chunk(job: tuple[Request, list[int]]) -> tuple[list[dict], list[dict]]:
    request, ids = job
    with db.read_scope(request.url) as session:  # read, then score outside the transaction
        target = _target(session, request)
        loaded = runs.load(session, ids)
    return runs.report_of(loaded, target)


def dry_run(request: Request, jobs: int = 1, progress: Optional[Progress] = None) -> Outcome:
    with db.session_scope(request.url) as session:
        ids = runs.affected(session, _target(session, request))
    chunks = [(request, ids[i : i + DRY_CHUNK]) for i in range(0, len(ids), DRY_CHUNK)]
    lines: list[dict] = []
    failures: list[dict] = []
    if progress:
        progress(0, len(ids))
    with (
        _processes().Pool(min(jobs, len(chunks)), initializer=_in_worker)
        if jobs > 1 and len(chunks) > 1
        else nullcontext()
    ) as pool:
        for done, failed in pool.imap_unordered(_dry_chunk, chunks) if pool else map(_dry_chunk, chunks):
            lines.extend(done)
            failures.extend(failed)
            if progress:
                progress(len(lines) + len(failures), len(ids))
    lines.sort(key=lambda line: line["assessment"])
    failures.sort(key=lambda failure: failure["assessment"])
    return Outcome(lines, failures)


# -- applied run -------------------------------------------------------------------------------------


def work(
    request: Request, run_id: int, progress: Optional[Callable[[int], None]] = None, worker: Optional[str] = None
) -> int:
    """Claim and rescore batches of the run until none is left; returns how many items this worker did.
    Each batch is read, scored outside any transaction, then written in one transaction; an assessment the
    engine cannot rescore is recorded as failed and the worker goes on."""
    worker = worker or runs.worker_name()
    actor = Actor(request.actor)
    lease = dt.timedelta(seconds=request.lease_seconds)
    with db.session_scope(request.url) as session:
        target = _target(session, request)
    handled = 0
    with db.session_scope(request.url) as session:
        batch = runs.claim(session, run_id, worker, request.batch, lease)
    while batch:
        with db.read_scope(request.url) as session:  # read the batch, then score it outside any transaction
            loaded = runs.load(session, [assessment_id for _, assessment_id, _ in batch])
        prepared, failures = runs.prepare(loaded, target)
        with db.session_scope(request.url) as session:  # store it, and claim the next in the same transaction
            runs.apply_batch(session, actor, target, worker, batch, prepared, failures)
            following = runs.claim(session, run_id, worker, request.batch, lease)
        handled += len(batch)
        refresh(request, run_id, {alliance_id for _, _, alliance_id in batch})
        if progress:
            progress(len(batch))
        batch = following
    return handled


def _worker_process(request: Request, run_id: int) -> None:
    """A worker process: a failure is one line on stderr and exit status 1 (the run resumes later)."""
    _in_worker()
    try:
        work(request, run_id)
    except KeyboardInterrupt:
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"rescore worker {runs.worker_name()}: {exc.__class__.__name__}: {first}", file=sys.stderr)
        sys.exit(1)


def apply(request: Request, jobs: int = 1, progress: Optional[Progress] = None) -> Outcome:
    """Start (or resume) the applied run for the request and see it through."""
    actor = Actor(request.actor)
    with db.session_scope(request.url) as session:
        run = runs.open_run(session, actor, _target(session, request))
        if run is None:
            return Outcome([])
        run_id = run.id
    while True:
        with db.session_scope(request.url) as session:
            done, total = runs.progress(session, run_id)
        if progress:
            progress(done, total)
        if done >= total:
            break
        if jobs <= 1:
            counted = [done]

            def step(n: int, counted: list[int] = counted, total: int = total) -> None:
                counted[0] += n
                if progress:
                    progress(counted[0], total)

            work(request, run_id, step)
        else:
            _run_processes(request, run_id, jobs, total, progress)
        with db.session_scope(request.url) as session:
            done, total = runs.progress(session, run_id)
        if done < total:
            time.sleep(1)  # items held by workers elsewhere: wait for them to finish or their claims to lapse
    finish(request, run_id)
    with db.session_scope(request.url) as session:
        lines, failures = runs.report_lines(session, run_id)
    return Outcome(lines, failures, run_id)


def refresh(request: Request, run_id: int, alliance_ids: Optional[set[int]] = None) -> None:
    """Refresh the buddying needs of the run's alliances whose self-assessments are all rescored (of
    ``alliance_ids``, or all), together in one transaction, so workers refresh finished alliances while
    others are still being scored. On SQLite, where writers take turns, the refreshes are worked out from a
    read beforehand, so the transaction that stores them is short; elsewhere they are worked out in it,
    under their alliances' locks."""
    with db.read_scope(request.url) as session:
        due = runs.refreshes_due(session, run_id, alliance_ids)
        ahead = buddying.plan_refreshes(session, due) if due and session.get_bind().dialect.name == "sqlite" else None
    if due:
        with db.session_scope(request.url) as session:
            runs.refresh_alliances(session, Actor(request.actor), run_id, due, ahead)


def finish(request: Request, run_id: int) -> None:
    """Close a run whose items are all done: refresh what the workers left (after a resume, say), then mark
    it finished (once, however many workers get here)."""
    refresh(request, run_id)
    with db.session_scope(request.url) as session:
        runs.close(session, Actor(request.actor), run_id)


def _run_processes(request: Request, run_id: int, jobs: int, total: int, progress: Optional[Progress]) -> None:
    context = _processes()
    workers = [context.Process(target=_worker_process, args=(request, run_id), daemon=True) for _ in range(jobs)]
    for process in workers:
        process.start()
    try:
        while any(p.is_alive() for p in workers):
            multiprocessing.connection.wait([p.sentinel for p in workers if p.is_alive()], timeout=0.25)
            if progress:
                with db.session_scope(request.url) as session:
                    progress(runs.progress(session, run_id)[0], total)
    finally:
        for process in workers:
            if process.is_alive():
                process.terminate()
            process.join()
    failed = [p.exitcode for p in workers if p.exitcode != 0]
    if failed:
        raise RescoreFailed(
            f"{len(failed)} of {jobs} worker processes stopped with an error "
            f"(exit codes {', '.join(map(str, failed))}); run the same command again to resume"
        )


# -- report ------------------------------------------------------------------------------------------


def write_report(path: str, meta: dict, outcome: Outcome) -> None:
    """The report, as CSV (a line per assessment) or JSON (lines, failures and summary), by extension."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".json":
        target.write_text(
            json.dumps(
                {**meta, "summary": outcome.summary.to_dict(), "failures": outcome.failures, "members": outcome.lines},
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        return
    with target.open("w", newline="", encoding="utf-8") as handle:
        write_csv(
            handle,
            changes.REPORT_FIELDS,
            ([_cell(k, line.get(k)) for k in changes.REPORT_FIELDS] for line in outcome.lines),
        )


def _cell(name: str, value: Any) -> Any:
    """A report field's value as its cell: a list joined with "; ", yes or no for a flag."""
    if name in changes.LIST_FIELDS:
        return "; ".join(value or ())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


class Bar:
    """A progress bar with rate and ETA on stderr (tqdm), fed with (done, total)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._bar = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(
                total=total, initial=done, unit=" assessments", file=sys.stderr, dynamic_ncols=True, smoothing=0.1
            )
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

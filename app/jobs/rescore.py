"""Running a rescore: a dry run in this process or in ``--jobs`` processes; an applied run as batches, each
one task of the job queue (``rescore_batch``: a run's id and a batch's number) that ``cli.py worker`` processes
run on any number of machines while the command follows the run, or the same batches run here in ``--jobs``
forked processes without a queue. Progress bar, and a report of what changed per member.

The work itself is in ``app.services.rescore_runs``; this module only shares it out. Exactly once per
assessment comes from the database (a batch is marked done in the transaction that stores it), not from the
queue: a task run twice does nothing the second time, so the command enqueues again, without fear, a batch
whose worker seems to have died in it (Huey does not run such a task again).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import multiprocessing
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from rules import changes

from .. import db
from ..csvfiles import write_csv
from ..services import CLI, Actor
from ..services import rescore_runs as runs
from ..services.buddying import planning as buddying
from . import queue
from .queue import huey

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
    batch: int = runs.BATCH_SIZE


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


def run_batch(url: Optional[str], run_id: int, number: int) -> int:
    """Do batch ``number`` of run ``run_id``: read it, score it outside any transaction, then store it in one
    transaction that marks it done (an assessment the engine cannot rescore is recorded as failed); refresh
    the buddying needs of the alliances it finished; and when it was the run's last batch, close the run.
    A batch already done (a task delivered twice, a batch enqueued again) does nothing. Returns how many
    assessments this call stored."""
    with db.session_scope(url) as session:  # a short write: the batch is started (when, and one more attempt)
        items = runs.start_batch(session, run_id, number)
    if items:
        with db.read_scope(url) as session:  # read the batch, then score it outside any transaction
            target = runs.run_target(session, run_id)
            actor = runs.started_by(session, run_id)
            loaded = runs.load(session, [assessment_id for _, assessment_id, _ in items])
        prepared, failures = runs.prepare(loaded, target)
        with db.session_scope(url) as session:
            stored = runs.apply_batch(session, actor, target, run_id, number, prepared, failures)
        if stored is None:  # another task stored it meanwhile
            return 0
        refresh(url, run_id, {alliance_id for _, _, alliance_id in items}, actor)
    with db.read_scope(url) as session:
        last = runs.all_batches_done(session, run_id)
    if last:
        finish(url, run_id)
    return len(items)


@huey.task(retries=2, retry_delay=5)
def rescore_batch(run_id: int, number: int) -> None:
    """The queue's task for one batch of a rescore run (its arguments are ids only: the database is the
    worker's own). It returns nothing, so the queue keeps no result of it."""
    run_batch(queue.database_url(), run_id, number)


@huey.on_startup()
def _worker_started() -> None:
    tune_collector()


def _local_batch(job: tuple[Optional[str], int, int]) -> int:
    """A batch in a ``--jobs`` process: a failure stops the command with one line naming the batch (the
    batches stored so far stay stored)."""
    url, run_id, number = job
    try:
        return run_batch(url, run_id, number)
    except Exception as exc:  # noqa: BLE001
        text = str(getattr(exc, "orig", None) or exc).strip()
        first = text.splitlines()[0] if text else ""
        raise RescoreFailed(
            f"batch {number} of run {run_id} failed ({exc.__class__.__name__}: {first}); every batch stored so far "
            "is kept: run the same command again to resume"
        ) from None


def open_run(request: Request) -> Optional[int]:
    """The run for the request, opened (or found, to resume) in batches of ``request.batch``; None when no
    assessment is left to move."""
    with db.session_scope(request.url) as session:
        run = runs.open_run(session, Actor(request.actor), _target(session, request), request.batch)
        return None if run is None else run.id


def apply(request: Request, jobs: int = 1, progress: Optional[Progress] = None) -> Outcome:
    """Start (or resume) the applied run for the request and see it through on this machine, in ``jobs``
    processes (forked, each running whole batches), without a queue."""
    run_id = open_run(request)
    if run_id is None:
        return Outcome([])
    with db.read_scope(request.url) as session:
        left = [batch.number for batch in runs.batches_left(session, run_id)]
        done, total = runs.progress(session, run_id)
    if progress:
        progress(done, total)
    jobs = min(jobs, len(left))
    work = [(request.url, run_id, number) for number in left]
    with _processes().Pool(jobs, initializer=_in_worker) if jobs > 1 else nullcontext() as pool:
        for stored in pool.imap_unordered(_local_batch, work) if pool else map(_local_batch, work):
            done += stored
            if progress:
                progress(done, total)
    finish(request.url, run_id)
    return report(request.url, run_id)


def run_status(request: Request, run_id: int) -> str:
    """``running`` or ``finished``: the state of run ``run_id``, which must be the request's (set, version and
    cycle)."""
    with db.read_scope(request.url) as session:
        status = runs.run_status(session, run_id, _target(session, request))
    if status is None:
        raise RescoreFailed(
            f"--run {run_id}: no rescore run {run_id} of {request.set_id} to {request.version}"
            + (f" for cycle {request.cycle}" if request.cycle else "")
        )
    return status


def report(url: Optional[str], run_id: int) -> Outcome:
    with db.read_scope(url) as session:
        lines, failures = runs.report_lines(session, run_id)
    return Outcome(lines, failures, run_id)


def enqueue(request: Request, run_id: int, lease_seconds: float, pending: Optional[set[int]] = None) -> list[int]:
    """Put on the queue each batch of the run that is not done and that no task is on: not waiting in the
    queue (``pending``: the batch numbers of this run's tasks in it, read from the queue when not given),
    and not started, or started more than ``lease_seconds`` ago (its worker died, say: Huey does not run a
    task again whose worker stopped in it). Returns the batch numbers enqueued."""
    if pending is None:
        pending = queued_batches(run_id)
    now = dt.datetime.now(dt.timezone.utc)
    with db.read_scope(request.url) as session:
        left = runs.batches_left(session, run_id)
    again = [
        batch.number
        for batch in left
        if batch.number not in pending
        and (batch.started_at is None or now - _aware(batch.started_at) > dt.timedelta(seconds=lease_seconds))
        and (batch.enqueued_at is None or now - _aware(batch.enqueued_at) > dt.timedelta(seconds=lease_seconds))
    ]
    if not again:
        return []
    with db.session_scope(request.url) as session:  # noted before the tasks exist: a worker may start at once
        runs.mark_enqueued(session, run_id, again)
    for number in again:
        rescore_batch(run_id, number)
    return again


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def queued_batches(run_id: int) -> set[int]:
    """The batch numbers of this run's tasks waiting in the queue."""
    name = huey._registry.task_to_string(rescore_batch.task_class)
    found = set()
    for data in huey.storage.enqueued_items():  # read as messages: other modules' tasks need not be known here
        message = huey.serializer.deserialize(data)
        if message.name == name and len(message.args) == 2 and message.args[0] == run_id:
            found.add(message.args[1])
    return found


@dataclass
class Watch:
    """What watching a queued run saw: the batches enqueued again (after a worker stopped in them)."""

    requeued: list[int] = field(default_factory=list)


def watch(
    request: Request,
    run_id: int,
    progress: Optional[Progress] = None,
    lease_seconds: float = 60.0,
    poll: float = 0.5,
    idle_hint: Optional[Callable[[], None]] = None,
    max_attempts: int = 5,
) -> Watch:
    """Follow a run whose batches are on the queue until every one is done, showing progress and enqueueing
    again each batch whose task is lost (see ``enqueue``); then close the run (if its last task did not).
    ``idle_hint`` is called once if no batch has started after a while (no worker is running, say)."""
    seen = Watch()
    checked = time.monotonic()
    began = checked
    hinted = False
    while True:
        with db.read_scope(request.url) as session:
            done, total = runs.progress(session, run_id)
            finished = runs.all_batches_done(session, run_id)
            if not hinted and idle_hint and time.monotonic() - began > min(10.0, lease_seconds):
                left = runs.batches_left(session, run_id)
                if done == 0 and left and all(batch.started_at is None for batch in left):
                    idle_hint()
                    hinted = True
        if progress:
            progress(done, total)
        if finished:
            break
        if time.monotonic() - checked >= min(lease_seconds / 4, 5.0):
            checked = time.monotonic()
            seen.requeued += enqueue(request, run_id, lease_seconds)
            with db.read_scope(request.url) as session:
                stuck = [b.number for b in runs.batches_left(session, run_id) if b.attempts >= max_attempts]
            if stuck:
                raise RescoreFailed(
                    f"batch(es) {', '.join(map(str, stuck[:10]))} of run {run_id} were started {max_attempts} times "
                    "and are still not done: see the queue workers' log; run the same command again to resume"
                )
        time.sleep(poll)
    finish(request.url, run_id)
    return seen


def refresh(url: Optional[str], run_id: int, alliance_ids: Optional[set[int]] = None, actor: Actor = CLI) -> None:
    """Refresh the buddying needs of the run's alliances whose self-assessments are all rescored (of
    ``alliance_ids``, or all), together in one transaction, so batches refresh finished alliances while
    others are still being scored. On SQLite, where writers take turns, the refreshes are worked out from a
    read beforehand, so the transaction that stores them is short; elsewhere they are worked out in it,
    under their alliances' locks."""
    with db.read_scope(url) as session:
        due = runs.refreshes_due(session, run_id, alliance_ids)
        ahead = buddying.plan_refreshes(session, due) if due and session.get_bind().dialect.name == "sqlite" else None
    if due:
        with db.session_scope(url) as session:
            runs.refresh_alliances(session, actor, run_id, due, ahead)


def finish(url: Optional[str], run_id: int) -> None:
    """Close a run whose batches are all done: refresh what the batches left (a task killed after storing its
    batch, say), then mark it finished (once, however many tasks or commands get here)."""
    with db.read_scope(url) as session:
        if not runs.all_batches_done(session, run_id):
            return
        actor = runs.started_by(session, run_id)
    refresh(url, run_id, None, actor)
    with db.session_scope(url) as session:
        runs.close(session, actor, run_id)


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
        """End the bar (a message may follow); the next progress starts a new one."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

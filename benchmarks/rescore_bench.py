"""End-to-end batch rescoring: N stored assessments moved to a new standards version by the CLI.

For each database (SQLite file, PostgreSQL on 127.0.0.1:5432), on a fresh
database: registers a synthetic standards set (default 60 criteria) and a
second version of it (every metric target moved, one criterion added, one
removed), seeds N assessments (default 10,000: 100 alliances of 100 members
sharing the set, 70% decided, 30% submitted) with stored results of the
first version and each alliance's buddy match applied (as a live alliance
has; on PostgreSQL the tables are then analysed, as autovacuum keeps a live
database's planner statistics), then times ``python cli.py rescore --dry-run`` and ``--apply`` with
``--jobs J``, checks that every assessment was moved exactly once and that a
second apply changes nothing, and prints wall time, assessments/s, peak RSS
and, measured in the same run on the same answers, the pure engine rate (the
new version scored in one process, no database). The apply is timed three
times (``--applies``), each on its own copy of the seeded database, and the
engine before, between and after the runs; medians are compared.

Two ways of applying (``--modes``): ``local`` is ``rescore --apply --jobs J``
(the batches in J forked processes, no queue); ``queue`` starts
``cli.py worker --workers J`` on a job queue of its own (an SQLite file in the
benchmark's directory, or ``--jobs-url``) before the clock starts, then times
``rescore --apply`` enqueueing the batches and following them to the end, and
samples each worker process's memory (RSS) through the run: at the start, in
each quarter of the run and at its peak.

``--schema`` puts the PostgreSQL database in a schema of its own inside
``postgresql://postgres@127.0.0.1:5432/test`` (dropped at the end) rather than
in databases of its own; there is then one apply (one copy) and one mode.

    python benchmarks/rescore_bench.py [--assessments 10000] [--criteria 60] [--jobs 2]
                                        [--database sqlite|postgresql|both] [--applies 3]
                                        [--modes local,queue] [--jobs-url URL] [--schema]
    python benchmarks/rescore_bench.py --assessments 100000 --database postgresql --schema --modes queue

Targets: <= 30 s end to end with 2 processes (local) or 2 queue workers on
both databases, and the rescore rate >= 40% of the pure engine rate; 100,000
assessments on PostgreSQL with 2 queue workers in <= 150 s with flat worker
memory.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

import rules  # noqa: E402
from benchmarks.score_bench import answers_for, synthetic_document  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_BENCH = "postgresql://postgres@127.0.0.1:5432/alliance_rescore_bench"
CHUNK = 2000
MEMBERS = 100  # members per alliance (the NOA has about 100)


def second_version(doc: dict) -> dict:
    """The next version: every metric target 3% stricter, the first criterion gone, a new one added."""
    new = copy.deepcopy(doc)
    new["version"] = "2026.2"
    for domain in new["domains"]:
        for standard in domain["standards"]:
            for item in standard["criteria"]:
                bench = item.get("benchmark")
                if bench:
                    bench["target"] = round(bench["target"] * (1.03 if bench["direction"] == "higher" else 0.97), 2)
    first = new["domains"][0]["standards"][0]
    first["criteria"] = first["criteria"][1:] + [{"id": "NEW.1", "text": "A new criterion", "type": "yes_no"}]
    return new


SCHEMA_BASE = "postgresql://postgres@127.0.0.1:5432/test"


def schema_url(schema: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(SCHEMA_BASE).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def fresh_schema() -> tuple[str, str]:
    import psycopg

    schema = f"rescore_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(SCHEMA_BASE, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    return schema, schema_url(schema)


def drop_schema(schema: str) -> None:
    import psycopg

    from app import db

    db.dispose_engine(schema_url(schema))
    with psycopg.connect(SCHEMA_BASE, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'rescore-bench.db'}"
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS alliance_rescore_bench WITH (FORCE)")
        connection.execute("CREATE DATABASE alliance_rescore_bench")
    return PG_BENCH


def copies_of(kind: str, url: str, count: int) -> list[str]:
    """Copies of the seeded database, one for each timed apply (a SQLite file copied, a PostgreSQL database
    made from it as a template)."""
    if kind == "sqlite":
        import sqlite3

        path = Path(url.split("///", 1)[1])
        with sqlite3.connect(path) as connection:  # everything in the main file, nothing left in the log
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        clones = [path.with_name(f"{path.stem}-{i}.db") for i in range(count)]
        for clone in clones:
            shutil.copyfile(path, clone)
        return [f"sqlite:///{clone}" for clone in clones]
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        for i in range(count):
            connection.execute(f"DROP DATABASE IF EXISTS alliance_rescore_bench_{i} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE alliance_rescore_bench_{i} TEMPLATE alliance_rescore_bench")
    return [f"{PG_BENCH}_{i}" for i in range(count)]


def drop_database(kind: str, copies: int = 0) -> None:
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute("DROP DATABASE IF EXISTS alliance_rescore_bench WITH (FORCE)")
            for i in range(copies):
                connection.execute(f"DROP DATABASE IF EXISTS alliance_rescore_bench_{i} WITH (FORCE)")


def seed(url: str, workdir: Path, n: int, criteria: int) -> tuple[dict, dict]:
    """The two versions registered and N assessments with their first-version results stored."""
    from app import db, services
    from app.models import Answer, Assessment, AssessmentResult, Breach, Membership, Organisation
    from app.services.scoring import headline_of

    db.upgrade(url)
    doc = synthetic_document(criteria)
    new_doc = second_version(doc)
    paths = []
    for version in (doc, new_doc):
        path = workdir / f"bench-set-{version['version']}.yaml"
        path.write_text(yaml.safe_dump(version, sort_keys=False), encoding="utf-8")
        paths.append(path)
    standards = rules.parse_standards(paths[0].read_text(), str(paths[0]))
    now = dt.datetime.now(dt.timezone.utc)
    with db.session_scope(url) as session:
        old = services.register_version(session, paths[0], services.CLI)
        services.register_version(session, paths[1], services.CLI)
        cycles = []  # (alliance id, cycle id) of each alliance of MEMBERS members sharing the standards set
        for a in range((n + MEMBERS - 1) // MEMBERS):
            alliance = services.create_alliance(
                session, services.CLI, slug=f"bench-{a}", name=f"Alliance {a}", standards_set="bench-set"
            )
            cycle = services.open_cycle(
                session,
                services.CLI,
                alliance_id=alliance.id,
                name="2026/27",
                opens_on=dt.date(2026, 4, 1),
                closes_on=dt.date(2027, 3, 31),
            )
            cycles.append((alliance.id, cycle.id))
        old_id, old_hash = old.id, old.content_hash
    engine = db.get_engine(url)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        docs = [answers_for(doc, i) for i in range(start, stop)]
        with engine.begin() as connection:
            connection.execute(
                insert(Organisation),
                [
                    {
                        "name": f"Trust {i}",
                        "ods_code": f"B{i:05d}",
                        "org_type": d["org_type"],
                        "region": "England",
                        "created_at": now,
                    }
                    for i, d in zip(range(start, stop), docs)
                ],
            )
            orgs = dict(
                connection.execute(
                    select(Organisation.ods_code, Organisation.id).where(
                        Organisation.ods_code.in_([f"B{i:05d}" for i in range(start, stop)])
                    )
                ).all()
            )
            connection.execute(
                insert(Membership),
                [
                    {
                        "organisation_id": orgs[f"B{i:05d}"],
                        "alliance_id": cycles[i // MEMBERS][0],
                        "route": "full",
                        "status": "accredited",
                        "suspension_recommended": False,
                        "created_at": now,
                    }
                    for i in range(start, stop)
                ],
            )
            members = dict(
                connection.execute(
                    select(Membership.organisation_id, Membership.id).where(
                        Membership.organisation_id.in_(orgs.values())
                    )
                ).all()
            )
            connection.execute(
                insert(Assessment),
                [
                    {
                        "membership_id": members[orgs[f"B{i:05d}"]],
                        "cycle_id": cycles[i // MEMBERS][1],
                        "standards_version_id": old_id,
                        "status": "decided" if i % 10 < 7 else "submitted",
                        "created_at": now,
                        "submitted_at": now,
                    }
                    for i in range(start, stop)
                ],
            )
            assessments = dict(
                connection.execute(
                    select(Assessment.membership_id, Assessment.id).where(
                        Assessment.membership_id.in_(members.values())
                    )
                ).all()
            )
            ids = [assessments[members[orgs[f"B{i:05d}"]]] for i in range(start, stop)]
            connection.execute(
                insert(Answer),
                [
                    {"assessment_id": aid, "criterion_id": cid, "value": value, "note": "", "updated_at": now}
                    for aid, d in zip(ids, docs)
                    for cid, value in d["answers"].items()
                ],
            )
            results = [rules.score(standards, d) for d in docs]
            connection.execute(
                insert(AssessmentResult),
                [
                    {
                        "assessment_id": aid,
                        "standards_version_id": old_id,
                        "standards_hash": old_hash,
                        "result": r,
                        "overall": r["overall"],
                        "rating": r["rating"],
                        "outcome": r["outcome"],
                        "is_current": True,
                        "computed_at": now,
                        "headline": headline_of(r),
                    }
                    for aid, r in zip(ids, results)
                ],
            )
            stored = dict(
                connection.execute(
                    select(AssessmentResult.assessment_id, AssessmentResult.id).where(
                        AssessmentResult.assessment_id.in_(ids)
                    )
                ).all()
            )
            breaches = [
                {
                    "result_id": stored[aid],
                    "assessment_id": aid,
                    "criterion_id": b["criterion"],
                    "standard_id": b["standard"],
                    "value": b["value"],
                    "target": b["target"],
                    "direction": b["direction"],
                    "severity": b["severity"],
                }
                for aid, r in zip(ids, results)
                for b in r["breaches"]
            ]
            if breaches:
                connection.execute(insert(Breach), breaches)
    from app.services.buddying import planning

    for alliance_id, cycle_id in cycles:  # each alliance has run its buddy match for the cycle, as live ones have
        with db.session_scope(url) as session:
            planning.apply_plan(session, services.CLI, planning.plan_buddying(session, alliance_id, cycle_id))
    if url.startswith("postgresql"):  # planner statistics, as autovacuum keeps them on a live database
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    db.dispose_engine(url)
    return doc, new_doc


def engine_rate(doc: dict, new_doc: dict, n: int) -> float:
    """The new version scored on the same answers (carried over) in this process: assessments/s."""
    from rules.answers import carry_over

    new = rules.parse_standards(yaml.safe_dump(new_doc, sort_keys=False), "bench-new.yaml")
    submissions = []
    for i in range(n):
        d = answers_for(doc, i)
        kept, _ = carry_over(new, d["answers"])
        submissions.append(rules.Submission(rules.Member(d["route"], d["specialty"], d["org_type"]), kept))
    rules.score_submission(new, submissions[0])  # compile outside the timing
    began = time.perf_counter()
    for submission in submissions:
        rules.score_submission(new, submission)
    return n / (time.perf_counter() - began)


def check(url: str, n: int) -> dict:
    """Every assessment moved exactly once: on the new version, one current result, one audit event."""
    from app import db
    from app.models import Assessment, AssessmentResult, AuditEvent, StandardsVersion

    engine = db.get_engine(url)
    with engine.connect() as connection:
        new_id = connection.execute(select(StandardsVersion.id).where(StandardsVersion.version == "2026.2")).scalar()
        moved = connection.execute(
            select(func.count()).select_from(Assessment).where(Assessment.standards_version_id == new_id)
        ).scalar()
        current = connection.execute(
            select(func.count())
            .select_from(AssessmentResult)
            .where(AssessmentResult.is_current.is_(True), AssessmentResult.standards_version_id == new_id)
        ).scalar()
        audited = connection.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "assessment.rescored")
        ).scalar()
        doubles = connection.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT assessment_id FROM assessmentresult WHERE is_current "
                "GROUP BY assessment_id HAVING COUNT(*) > 1) AS d"
            )
        ).scalar()
        orphans = connection.execute(
            text(  # breaches that do not belong to their result's assessment
                "SELECT COUNT(*) FROM breach b LEFT JOIN assessmentresult r ON r.id = b.result_id "
                "AND r.assessment_id = b.assessment_id WHERE r.id IS NULL"
            )
        ).scalar()
    db.dispose_engine(url)
    assert moved == current == audited == n and doubles == orphans == 0, (moved, current, audited, doubles, orphans)
    return {"moved": moved, "current": current, "audited": audited}


def run_cli(url: str, jobs: int | None, apply: bool, jobs_url: str = "immediate") -> tuple[float, str]:
    """``rescore`` timed end to end: with ``--jobs`` (here, no queue), or without (on the queue ``jobs_url``)."""
    env = {**os.environ, "DATABASE_URL": url, "JOBS_URL": jobs_url}
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "cli.py",
            "rescore",
            "--set",
            "bench-set",
            "--to-version",
            "2026.2",
            "--apply" if apply else "--dry-run",
            *(["--jobs", str(jobs)] if jobs is not None else []),
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"rescore failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


class Worker:
    """``cli.py worker --workers J`` on its own queue, and its worker processes' RSS sampled twice a second."""

    def __init__(self, url: str, jobs_url: str, workers: int, log: Path):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "JOBS_URL": jobs_url,
            "SECRET_KEY": secrets.token_hex(16),
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log
        with log.open("wb") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "cli.py", "worker", "--workers", str(workers), "--no-periodic"],
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while "Huey consumer started" not in log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the queue worker did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        time.sleep(0.5)  # its worker processes are forked after the line
        self.samples: dict[int, list[tuple[float, float]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            now = time.perf_counter()
            for pid in _children(self.process.pid):
                rss = _rss_mb(pid)
                if rss is not None:
                    self.samples.setdefault(pid, []).append((now, rss))
            self._stop.wait(0.5)

    def start_sampling(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def memory(self, began: float, ended: float) -> list[list[float]]:
        """Per worker process: RSS (MB) at the start of the run, the peak in each quarter of it, the peak."""
        profiles = []
        span = max(ended - began, 1e-6)
        for samples in self.samples.values():
            inside = [(t, rss) for t, rss in samples if began <= t <= ended]
            if not inside:
                continue
            quarters = [
                max((rss for t, rss in inside if q / 4 <= (t - began) / span <= (q + 1) / 4), default=float("nan"))
                for q in range(4)
            ]
            profiles.append([inside[0][1], *quarters, max(rss for _, rss in inside)])
        return profiles


def run_queue(url: str, jobs: int, jobs_url: str, workdir: Path) -> tuple[float, list[list[float]]]:
    """``rescore --apply`` on a queue that ``jobs`` workers (started before the clock) consume."""
    worker = Worker(url, jobs_url, jobs, workdir / f"worker-{uuid.uuid4().hex[:6]}.log")
    try:
        worker.start_sampling()
        began = time.perf_counter()
        elapsed, _ = run_cli(url, None, apply=True, jobs_url=jobs_url)
        ended = time.perf_counter()
    finally:
        worker.stop()
    return elapsed, worker.memory(began, ended)


def queue_for(workdir: Path, given: str | None) -> str:
    if given is None:
        return f"sqlite:///{workdir / f'jobs-{uuid.uuid4().hex[:6]}.db'}"
    if given.startswith("redis"):
        import redis

        redis.Redis.from_url(given).flushdb()
    return given


def bench(
    kind: str, n: int, criteria: int, jobs: int, applies: int, modes: list[str], jobs_url: str | None, schema: bool
) -> dict:
    with tempfile.TemporaryDirectory(prefix="rescore-bench-") as tmp:
        workdir = Path(tmp)
        own_schema = None
        if schema and kind == "postgresql":
            own_schema, url = fresh_schema()
        else:
            url = fresh_database(kind, workdir)
        try:
            began = time.perf_counter()
            doc, new_doc = seed(url, workdir, n, criteria)
            seeded = time.perf_counter() - began
            copies = {mode: [url] if own_schema else [] for mode in modes}
            if not own_schema:
                made = copies_of(kind, url, applies * len(modes))
                for i, mode in enumerate(modes):
                    copies[mode] = made[i * applies : (i + 1) * applies]
            # The machine's speed drifts by a third within a minute: the engine is measured before, between and
            # after the timed runs (each apply on its own copy of the seeded database), and the medians compared.
            rates = [engine_rate(doc, new_doc, n)]
            dry_seconds = None if own_schema else run_cli(url, jobs, apply=False)[0]
            applied: dict[str, list[float]] = {mode: [] for mode in modes}
            memory: list[list[float]] = []
            for round_ in range(len(next(iter(copies.values())))):
                for mode in modes:
                    clone = copies[mode][round_]
                    rates.append(engine_rate(doc, new_doc, n))
                    if mode == "local":
                        applied[mode].append(run_cli(clone, jobs, apply=True)[0])
                    else:
                        seconds, profile = run_queue(clone, jobs, queue_for(workdir, jobs_url), workdir)
                        applied[mode].append(seconds)
                        memory += profile
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            rates.append(engine_rate(doc, new_doc, n))
            for mode in modes:
                for clone in copies[mode]:
                    check(clone, n)
            last = copies[modes[-1]][-1]
            again, output_again = run_cli(last, jobs, apply=True)
            assert "assessments rescored: 0" in output_again, output_again
        finally:
            if own_schema:
                drop_schema(own_schema)
            else:
                drop_database(kind, applies * len(modes))
    return {
        "database": kind,
        "seed_s": seeded,
        "engine_rate": statistics.median(rates),
        "engine_rates": rates,
        "dry_s": dry_seconds,
        "applies": applied,
        "rss_mb": rss,
        "memory": memory,
        "again_s": again,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assessments", type=int, default=10_000)
    parser.add_argument("--criteria", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2, help="processes (local) or queue workers (queue)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--applies", type=int, default=3, help="timed applies, each on a copy of the database")
    parser.add_argument("--modes", default="local,queue", help="local, queue or both, comma-separated")
    parser.add_argument("--jobs-url", default=None, help="the queue (default: an SQLite file of the benchmark's)")
    parser.add_argument("--schema", action="store_true", help="PostgreSQL in a schema of its own in .../test")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not modes or set(modes) - {"local", "queue"}:
        parser.error("--modes: local, queue or local,queue")
    if args.schema and len(modes) > 1:
        parser.error("--schema seeds one database: name one of --modes")
    n = args.assessments
    print(f"rescore --apply with {args.jobs} processes or queue workers: {n:,} assessments x {args.criteria} criteria")
    print(f"started {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, load average {os.getloadavg()[0]:.1f}")
    for kind in kinds:
        r = bench(kind, n, args.criteria, args.jobs, args.applies, modes, args.jobs_url, args.schema)
        print(f"\n{kind}:")
        print(f"  seeding (not timed)          {r['seed_s']:8.1f} s")
        print(
            f"  pure engine, one process     {r['engine_rate']:8.0f} assessments/s (median of "
            f"{', '.join(f'{rate:.0f}' for rate in r['engine_rates'])}: before, between and after the runs)"
        )
        if r["dry_s"] is not None:
            dry_rate = n / r["dry_s"]
            print(
                f"  dry run                      {r['dry_s']:8.1f} s  {dry_rate:8.0f} assessments/s "
                f"({100 * dry_rate / r['engine_rate']:.1f}% of engine)"
            )
        for mode, seconds in r["applies"].items():
            median = statistics.median(seconds)
            rate = n / median
            label = f"--jobs {args.jobs}" if mode == "local" else f"queue, {args.jobs} workers"
            print(
                f"  apply {label:<18} {median:8.1f} s  {rate:8.0f} assessments/s "
                f"({100 * rate / r['engine_rate']:.1f}% of engine; median)"
            )
            shares = ", ".join(f"{100 * n / one / r['engine_rate']:.1f}%" for one in seconds)
            print(f"    each on a copy             {', '.join(f'{one:.1f}' for one in seconds)} s ({shares} of engine)")
        print(f"  peak RSS of a rescore process {r['rss_mb']:7.0f} MB (the command, its --jobs processes)")
        for profile in r["memory"]:
            start, *quarters, peak = profile
            print(
                f"  queue worker RSS (MB)        start {start:.0f}, quarters "
                f"{' / '.join(f'{q:.0f}' for q in quarters)}, peak {peak:.0f}"
            )
        print(f"  apply again (nothing to do)  {r['again_s']:8.1f} s")


if __name__ == "__main__":
    main()

"""The lead's review queue (``GET /review/``) on a large alliance: 5,000 member organisations.

For each database (a SQLite file; PostgreSQL on 127.0.0.1:5432, in a schema of its own that is dropped at the
end), migrates an empty database and seeds, with bulk inserts (not the web's path), one alliance of N members
(default 5,000) with two cycles: last year's self-assessments all decided, this year's 10% draft, 30%
submitted, 20% under review and 40% decided, each submitted one with its current result (a small document)
and 0-3 breaches, 2% of the members at risk, three leads and a third of the waiting work assigned. Then, as
one of the leads signed in through the Flask test client, times three pages, each ``--requests`` times after
a few unmeasured ones:

- first: ``/review/`` (waiting work first, page 1 of 50 rows, counts per state);
- filtered: ``/review/?status=submitted&assignee=nobody&major_breach=yes``;
- deep: ``/review/?sort=member&page=150`` (the 7,451st row on, by name; page N x 3 / 100 for N members).

    python benchmarks/queue_bench.py [--members 5000] [--requests 40] [--database sqlite|postgresql|both]

Target: p95 < 300 ms on PostgreSQL for each page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, make_url, select, text  # noqa: E402

from app import create_app, db  # noqa: E402
from app.models import (  # noqa: E402
    Alliance,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    Breach,
    Membership,
    Organisation,
    ReviewAssignment,
    StandardsVersion,
    User,
)

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "queue-bench-password"
CHUNK = 2000
PAGES = {
    "first": "/review/",
    "filtered": "/review/?status=submitted&assignee=nobody&major_breach=yes",
    "deep": "/review/?sort=member&page={deep}",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def chunks(rows: list[dict]):
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def bulk(connection, table, rows: list[dict]) -> None:
    for part in chunks(rows):
        connection.execute(insert(table), part)


def seed(url: str, members: int) -> None:
    """One alliance of ``members`` organisations, straight into the tables."""
    from werkzeug.security import generate_password_hash

    rng = random.Random(2026)
    now = dt.datetime.now(dt.timezone.utc)
    engine = db.get_engine(url)
    source = (ROOT / "standards" / "noa-orthopaedics-2026.1.yaml").read_text(encoding="utf-8")
    with engine.begin() as c:
        version_id = c.execute(
            insert(StandardsVersion.__table__).returning(StandardsVersion.__table__.c.id),
            {
                "set_id": "noa-orthopaedics",
                "version": "2026.1",
                "title": "NOA orthopaedics",
                "content_hash": "0" * 64,
                "source_name": "noa-orthopaedics-2026.1.yaml",
                "source_text": source,
                "effective_from": dt.date(2025, 4, 1),
                "state": "published",
                "created_at": now,
                "published_at": now,
            },
        ).scalar_one()
        alliance_id = c.execute(
            insert(Alliance.__table__).returning(Alliance.__table__.c.id),
            {
                "slug": "big-alliance",
                "name": "A Very Large Alliance",
                "standards_set": "noa-orthopaedics",
                "at_risk_on_major_breach": True,
                "suspension_after_cycles": 2,
                "max_buddy_mentees": 3,
                "created_at": now,
            },
        ).scalar_one()
        cycles = []
        for name, opens in (("2025/26", dt.date(2025, 4, 1)), ("2026/27", dt.date(2026, 4, 1))):
            cycles.append(
                c.execute(
                    insert(AssessmentCycle.__table__).returning(AssessmentCycle.__table__.c.id),
                    {
                        "alliance_id": alliance_id,
                        "name": name,
                        "opens_on": opens,
                        "closes_on": opens.replace(year=opens.year + 1) - dt.timedelta(days=1),
                    },
                ).scalar_one()
            )
        hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        leads = []
        for n in range(3):
            leads.append(
                c.execute(
                    insert(User.__table__).returning(User.__table__.c.id),
                    {
                        "email": f"lead{n}@bench.example",
                        "name": f"Lead {n}",
                        "password_hash": hashed,
                        "role": "lead",
                        "alliance_id": alliance_id,
                        "active": True,
                        "created_at": now,
                        "session_generation": 0,
                    },
                ).scalar_one()
            )
        bulk(
            c,
            Organisation.__table__,
            [
                {
                    "name": f"Trust {n:05d} {rng.choice(['North', 'South', 'East', 'West'])}",
                    "ods_code": f"B{n:05d}",
                    "org_type": "acute",
                    "region": "Bench",
                    "created_at": now,
                }
                for n in range(members)
            ],
        )
        org_ids = c.execute(
            select(Organisation.__table__.c.id).where(Organisation.__table__.c.region == "Bench")
        ).scalars()
        statuses = ["accredited"] * 98 + ["at_risk"] * 2
        bulk(
            c,
            Membership.__table__,
            [
                {
                    "organisation_id": org_id,
                    "alliance_id": alliance_id,
                    "route": "full",
                    "status": rng.choice(statuses),
                    "suspension_recommended": False,
                    "joined_on": dt.date(2024, 4, 1),
                    "created_at": now,
                }
                for org_id in org_ids
            ],
        )
        membership_ids = list(
            c.execute(
                select(Membership.__table__.c.id).where(Membership.__table__.c.alliance_id == alliance_id)
            ).scalars()
        )
        assessments = []
        for membership_id in membership_ids:
            for cycle_id, status in (
                (cycles[0], "decided"),
                (cycles[1], rng.choices(["draft", "submitted", "under_review", "decided"], [10, 30, 20, 40])[0]),
            ):
                submitted = now - dt.timedelta(days=rng.randint(1, 120) + (365 if cycle_id == cycles[0] else 0))
                assessments.append(
                    {
                        "membership_id": membership_id,
                        "cycle_id": cycle_id,
                        "standards_version_id": version_id,
                        "status": status,
                        "created_at": submitted - dt.timedelta(days=30),
                        "submitted_at": None if status == "draft" else submitted,
                        "decided_at": submitted + dt.timedelta(days=rng.randint(5, 40))
                        if status == "decided"
                        else None,
                    }
                )
        bulk(c, Assessment.__table__, assessments)
        table = Assessment.__table__
        rows = c.execute(
            select(table.c.id, table.c.status).where(
                table.c.membership_id.in_(
                    select(Membership.__table__.c.id).where(Membership.alliance_id == alliance_id)
                ),
                table.c.status != "draft",
            )
        ).all()
        outcomes = ["accredited", "accredited_with_conditions", "working_towards", "not_accredited"]
        document = {"criteria": {f"C{n}.1": {"score": 1.0, "explanation": "Met the target"} for n in range(40)}}
        bulk(
            c,
            AssessmentResult.__table__,
            [
                {
                    "assessment_id": assessment_id,
                    "standards_version_id": version_id,
                    "standards_hash": "0" * 64,
                    "overall": round(rng.uniform(40, 100), 1),
                    "rating": "good",
                    "outcome": rng.choice(outcomes),
                    "is_current": True,
                    "computed_at": now,
                    "headline": {"standard_results": {}, "breaches": [], "support_needs": []},
                    "result": document,
                }
                for assessment_id, _ in rows
            ],
        )
        results = c.execute(select(AssessmentResult.__table__.c.id, AssessmentResult.__table__.c.assessment_id)).all()
        bulk(
            c,
            Breach.__table__,
            [
                {
                    "result_id": result_id,
                    "assessment_id": assessment_id,
                    "criterion_id": f"C{n}.1",
                    "standard_id": f"S{n}",
                    "value": 70.0,
                    "target": 85.0,
                    "direction": "higher",
                    "severity": rng.choice(["major", "minor", "minor"]),
                }
                for result_id, assessment_id in results
                for n in range(rng.choice([0, 0, 1, 2, 3]))
            ],
        )
        bulk(
            c,
            ReviewAssignment.__table__,
            [
                {
                    "assessment_id": assessment_id,
                    "reviewer_id": rng.choice(leads),
                    "assigned_by": leads[0],
                    "assigned_at": now,
                }
                for assessment_id, status in rows
                if status != "decided" and rng.random() < 1 / 3
            ],
        )
    if url.startswith("postgresql"):  # planner statistics, as autovacuum keeps them on a live database
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("ANALYZE"))


def signed_in_client(app):
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": "lead0@bench.example", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def time_pages(url: str, requests: int, workdir: Path, members: int) -> dict[str, tuple[float, float]]:
    app = create_app(
        {
            "APP_ENV": "development",
            "DATABASE_URL": url,
            "SECRET_KEY": "queue-bench",
            "MFA_REQUIRED_ROLES": "",
            "UPLOAD_DIR": str(workdir / "uploads"),
            "EXPORT_DIR": str(workdir / "exports"),
            "JOBS_URL": "immediate",
        }
    )
    client = signed_in_client(app)
    figures = {}
    for name, path in PAGES.items():
        path = path.format(deep=max(1, members * 3 // 100))
        for _ in range(3):  # warm: templates compiled, connections open
            assert client.get(path).status_code == 200
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        assert 'id="queue"' in body and "There is a problem" not in body, path
        figures[name] = (statistics.median(timings), percentile(timings, 0.95))
    return figures


def postgres_schema() -> tuple[str, str]:
    schema = f"queue_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return schema, str(make_url(PG_BASE).update_query_dict({"options": f"-csearch_path={schema}"}))


def drop_schema(schema: str) -> None:
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def bench(kind: str, members: int, requests: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
        workdir = Path(tmp)
        schema = None
        if kind == "postgresql":
            schema, url = postgres_schema()
        else:
            url = f"sqlite:///{workdir / 'queue.db'}"
        try:
            db.upgrade(url)
            started = time.perf_counter()
            seed(url, members)
            print(f"{kind}: seeded {members} members in {time.perf_counter() - started:.1f} s", flush=True)
            return time_pages(url, requests, workdir, members)
        finally:
            db.dispose_engines()
            if schema:
                drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    logging.getLogger("alliance.request").setLevel(logging.WARNING)
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    failed = False
    for kind in kinds:
        figures = bench(kind, args.members, args.requests)
        for name, (p50, p95) in figures.items():
            met = p95 < 300
            failed |= kind == "postgresql" and not met
            print(
                f"{kind:10} {name:8} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({'met' if met else 'NOT met'}: p95 < 300 ms)"
            )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

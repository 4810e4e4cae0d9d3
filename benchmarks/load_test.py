"""Load test: the product served by gunicorn on PostgreSQL, 50 people at once, and the figures.

    python benchmarks/load_test.py [--users 50] [--duration 60] [--server postgresql://postgres@127.0.0.1:5432]

It creates a fresh database (``alliance_load``) on the server, runs ``python
cli.py db upgrade`` and ``python cli.py demo load`` on it, gives a set of
members complete drafts of their own to submit (through the service layer),
starts gunicorn with gunicorn.conf.py (production settings, plain HTTP), and
drives the people of benchmarks/load_users.py with locust, headless, for a
fixed time: members sign in, open their draft self-assessment and save
answers with the form's CSRF token, some submit; leads sign in and browse
the review queue, assessments, timelines and dashboards. It prints p50, p95
and p99 per request type and overall (as the clients saw them, and as the
server's request log timed them), the number of requests and the errors, then
stops gunicorn and drops the database. Needs ``pip install -e .[bench]``.

Targets: p95 under 300 ms, no errors.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_P95_MS = 300.0
SUBMITTER_PASSWORD = "load-test-member-pass"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a value that was really measured)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(statement)


def run(command: list[str], env: dict[str, str], what: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {what} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - started


def prepare(url: str, submitters: int) -> dict:
    """The accounts for the people: demo members with drafts (shared by savers), new members with complete
    drafts of their own (one submission each), and the two alliance leads."""
    from sqlmodel import select

    from app import db
    from app.demo import demo_users
    from app.models import Alliance, Assessment, AssessmentCycle, Membership, User
    from app.services import (
        CLI,
        add_evidence,
        apply_for_membership,
        create_user,
        open_assessment,
        register_organisation,
        save_answers,
    )
    from app.services.accounts import hash_password
    from app.services.portal import own_assessment
    from app.services.submission import missing_for_submission

    users = demo_users()
    passwords = {email: password for _, email, password, _ in users}
    plan: dict = {"savers": [], "submitters": [], "leads": []}
    plan["leads"] = [{"email": email, "password": password} for role, email, password, _ in users if role == "lead"]
    with db.session_scope(url) as session:
        drafts = session.exec(
            select(User.email, Assessment.id)
            .join(Membership, Membership.organisation_id == User.organisation_id)
            .join(Assessment, Assessment.membership_id == Membership.id)
            .where(User.role == "member", Assessment.status == "draft")
            .order_by(Assessment.id)
        ).all()
        plan["savers"] = [
            {"email": email, "password": passwords[email], "assessment": assessment_id}
            for email, assessment_id in drafts
            if email in passwords
        ]
        noa = session.exec(select(Alliance).where(Alliance.slug == "noa")).one()
        cycle = session.exec(
            select(AssessmentCycle)
            .where(AssessmentCycle.alliance_id == noa.id)
            .order_by(AssessmentCycle.opens_on.desc())
        ).first()
        answers = json.loads((ROOT / "examples" / "answers" / "noa-2026.2-full-accredited.json").read_text())["answers"]
        password_hash = hash_password(SUBMITTER_PASSWORD)
        for n in range(1, submitters + 1):
            organisation = register_organisation(
                session,
                CLI,
                name=f"Load Test {n:02d} NHS Trust",
                ods_code=f"LT{n:02d}",
                org_type="acute",
                region="Load test",
            )
            user = create_user(
                session,
                CLI,
                email=f"member.lt{n:02d}@load.example",
                name=f"Load test member {n}",
                password=SUBMITTER_PASSWORD,
                role="member",
                organisation_id=organisation.id,
                password_hash=password_hash,
            )
            membership = apply_for_membership(
                session, CLI, organisation_id=organisation.id, alliance_id=noa.id, route="full"
            )
            assessment = open_assessment(session, CLI, membership_id=membership.id, cycle_id=cycle.id)
            outcome = save_answers(session, CLI, assessment.id, answers)
            if not outcome.ok:
                raise SystemExit(f"error: the example answers do not fit the demo standards: {outcome.errors}")
            ctx = own_assessment(session, organisation.id, assessment.id)
            for item in missing_for_submission(session, ctx):
                if item["reason"] != "evidence required":
                    raise SystemExit(f"error: the prepared draft misses {item}")
                add_evidence(
                    session,
                    CLI,
                    assessment.id,
                    item["criterion"],
                    kind="link",
                    url="https://example.nhs.uk/evidence.pdf",
                )
            plan["submitters"].append(
                {"email": user.email, "password": SUBMITTER_PASSWORD, "assessment": assessment.id}
            )
    db.dispose_engine(url)
    return plan


def wait_for_health(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"error: gunicorn stopped:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise SystemExit("error: gunicorn did not answer within 60 s")
        time.sleep(0.3)


def workers_cpu_seconds(master: int) -> float:
    """CPU time (user + system) of gunicorn's workers so far, from /proc (Linux; 0 elsewhere)."""
    total = 0.0
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:  # ppid
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    except (OSError, ValueError, AttributeError):
        return 0.0
    return total


def locust(port: int, env: dict[str, str], users: int, spawn_rate: float, seconds: int):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "benchmarks" / "load_users.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(spawn_rate),
            "--run-time",
            f"{seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--only-summary",
            "--stop-timeout",
            "10",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def table(title: str, timings: dict[str, list[float]], failures: dict[str, int]) -> list[str]:
    width = max(len(name) for name in [*timings, "all requests"]) + 2
    lines = [
        title,
        f"{'request':<{width}}{'count':>7}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    everything: list[float] = []
    for name in sorted(timings):
        values = timings[name]
        everything += values
        lines.append(
            f"{name:<{width}}{len(values):>7}{failures.get(name, 0):>8}{percentile(values, 50):>9.0f}"
            f"{percentile(values, 95):>9.0f}{percentile(values, 99):>9.0f}{max(values):>9.0f}"
        )
    if everything:
        lines.append(
            f"{'all requests':<{width}}{len(everything):>7}{sum(failures.values()):>8}"
            f"{percentile(everything, 50):>9.0f}{percentile(everything, 95):>9.0f}"
            f"{percentile(everything, 99):>9.0f}{max(everything):>9.0f}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--leads", type=int, default=10, help="how many of the users are alliance leads")
    parser.add_argument("--submitters", type=int, default=10, help="how many members submit a draft of their own")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users signing in per second at the start")
    parser.add_argument("--think", default="1,3", help="seconds each person waits between steps: MIN,MAX")
    parser.add_argument("--warm-up", type=int, default=15, help="seconds of uncounted load first")
    parser.add_argument("--server", default=os.environ.get("LOAD_PG_SERVER", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--database", default="alliance_load")
    parser.add_argument("--workdir", help="where logs and results go (default: a temporary directory)")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="alliance-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"{args.server}/{args.database}"
    port = free_port()
    env = dict(os.environ)  # GUNICORN_WORKERS, GUNICORN_THREADS ... pass through to gunicorn.conf.py
    env.update(
        DATABASE_URL=url,
        APP_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_SECURE="false",
        RATELIMIT_ENABLED="false",
        UPLOAD_DIR=str(workdir / "uploads"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        LOAD_THINK=args.think,
    )
    os.environ.update(UPLOAD_DIR=env["UPLOAD_DIR"])
    server = None
    print(f"database {args.database} on {args.server}; work directory {workdir}")
    admin(args.server, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    admin(args.server, f'CREATE DATABASE "{args.database}"')
    try:
        seconds = run([sys.executable, "cli.py", "db", "upgrade"], env, "db upgrade")
        print(f"db upgrade: {seconds:.1f} s")
        seconds = run([sys.executable, "cli.py", "demo", "load"], env, "demo load")
        print(f"demo load: {seconds:.1f} s")
        plan = prepare(url, args.submitters)
        plan_file = workdir / "plan.json"
        plan_file.write_text(json.dumps(plan, indent=1))
        print(
            f"accounts: {len(plan['savers'])} draft assessments shared by savers, "
            f"{len(plan['submitters'])} drafts to submit, {len(plan['leads'])} leads"
        )

        log = workdir / "gunicorn.log"
        with log.open("w") as err:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env, stdout=err, stderr=err
            )
        wait_for_health(port, server, log)
        # Warm-up, not counted: every worker loads its templates and standards once, as a server that has
        # been up for a while has (no submissions, so the drafts to submit stay drafts).
        warm_plan = workdir / "warm-up.json"
        warm_plan.write_text(json.dumps({**plan, "submitters": []}))
        print(f"warm-up: {args.warm_up} s, not counted")
        locust(port, {**env, "LOAD_PLAN": str(warm_plan), "LOAD_LEADS": "4"}, 12, 12, args.warm_up)
        results = workdir / "timings.json"
        print(
            f"load: {args.users} users ({args.leads} leads, {args.submitters} submitting members, the rest "
            f"saving drafts), {args.spawn_rate:g} signing in per second, {args.think.replace(',', '-')} s between "
            f"steps, for {args.duration} s against gunicorn on port {port} "
            f"({log.read_text().count('Booting worker')} workers)"
        )
        measured_from = log.stat().st_size  # the server's lines of the warm-up are not counted
        server_cpu = workers_cpu_seconds(server.pid)
        client_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = locust(
            port,
            {**env, "LOAD_PLAN": str(plan_file), "LOAD_RESULTS": str(results), "LOAD_LEADS": str(args.leads)},
            args.users,
            args.spawn_rate,
            args.duration,
        )
        elapsed = time.perf_counter() - started
        server_cpu = workers_cpu_seconds(server.pid) - server_cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = after.ru_utime + after.ru_stime - client_cpu.ru_utime - client_cpu.ru_stime
        load_average = os.getloadavg()
        (workdir / "locust.out").write_text(done.stdout + done.stderr)
        if not results.is_file():
            raise SystemExit(f"error: locust gave no results:\n{done.stdout}{done.stderr}")
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        if not args.keep_database:
            from app import db

            db.dispose_engines()
            admin(args.server, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')

    client: dict[str, list[float]] = defaultdict(list)
    client_failures: dict[str, int] = defaultdict(int)
    for _method, name, milliseconds, failed in json.loads(results.read_text()):
        client[name].append(milliseconds)
        client_failures[name] += int(failed)
    server_times: dict[str, list[float]] = defaultdict(list)
    server_errors: dict[str, int] = defaultdict(int)
    for line in log.read_bytes()[measured_from:].decode().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            key = f"{entry['method']} {entry['status'] // 100}xx"
            server_times[key].append(entry["duration_ms"])
            server_errors[key] += int(entry["status"] >= 500)

    total = sum(len(v) for v in client.values())
    everything = [ms for values in client.values() for ms in values]
    errors = sum(client_failures.values())
    print()
    print(
        "\n".join(
            table(
                "as the clients saw them (locust, includes the client's own time on a shared CPU):",
                client,
                client_failures,
            )
        )
    )
    print()
    print(
        "\n".join(
            table("as the server timed them (request log, by method and status class):", server_times, server_errors)
        )
    )
    print()
    p95 = percentile(everything, 95) if everything else float("nan")
    print(f"{total} requests in {elapsed:.0f} s ({total / elapsed:.1f} per second), {errors} errors")
    print(
        f"CPU: gunicorn workers {server_cpu:.1f} s ({1000 * server_cpu / max(total, 1):.0f} ms per request), "
        f"locust {client_cpu:.1f} s, over {elapsed:.0f} s on {os.cpu_count()} cores; load average at the end "
        f"{load_average[0]:.1f} (everything on the machine)"
    )
    print(
        f"target p95 < {TARGET_P95_MS:.0f} ms: {'met' if p95 < TARGET_P95_MS else 'MISSED'} ({p95:.0f} ms); "
        f"target no errors: {'met' if errors == 0 else 'MISSED'}"
    )
    if errors:
        print("errors (locust's summary):")
        print(
            "\n".join(
                line
                for line in done.stdout.splitlines() + done.stderr.splitlines()
                if "Error" in line or "failure" in line.lower()
            )[:4000]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

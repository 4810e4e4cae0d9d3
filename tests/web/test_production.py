"""Serving in production: the health check, the request log, security headers on every kind of response,
gunicorn with the project's settings, and backups that restore."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import create_app, db
from app.web import NHSUK_DIST
from app.web.request_log import LOGGER_NAME

from .conftest import signed_in
from .reviewing import export_file

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_lines(records) -> list[dict]:
    return [json.loads(record.getMessage()) for record in records if record.name == LOGGER_NAME]


# --- health -----------------------------------------------------------------------------------------------------


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_url(request, tmp_path):
    """A database nobody can reach: a closed port with a password in the URL, or a directory as the file."""
    url = (
        f"postgresql://alliance:pw-not-to-leak@127.0.0.1:{free_port()}/alliance"
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path}"
    )
    yield url
    db.dispose_engine(url)


def test_health_is_unavailable_when_the_database_cannot_be_reached(unreachable_url, tmp_path, caplog):
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": unreachable_url,
            "SECRET_KEY": "test-secret",
            "CHECK_SCHEMA": False,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    with caplog.at_level(logging.WARNING):
        response = app.test_client().get("/api/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["database"].startswith("unreachable (") and "OperationalError" in body["database"]
    assert "pw-not-to-leak" not in response.get_data(as_text=True)
    warning = [r.getMessage() for r in caplog.records if r.getMessage().startswith("health:")]
    assert warning and "does not answer" in warning[0] and "pw-not-to-leak" not in warning[0]


def test_health_is_ok_on_the_migrated_database(app, visitor):
    response = visitor.get("/api/health")
    assert response.status_code == 200 and response.get_json() == {
        "status": "ok",
        "database": "ok",
        "queue": "immediate",
    }


# --- request log ------------------------------------------------------------------------------------------------


def test_every_request_is_one_json_line_with_its_request_id(app, visitor, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        response = visitor.get(
            "/api/health?token=private", headers={"X-Request-ID": "lb-7f3a.42", "X-Forwarded-For": "198.51.100.7"}
        )
    assert response.headers["X-Request-ID"] == "lb-7f3a.42"
    [line] = request_lines(caplog.records)
    assert set(line) == {"time", "method", "path", "status", "duration_ms", "user", "remote_addr", "request_id"}
    assert line["method"] == "GET" and line["path"] == "/api/health" and line["status"] == 200
    assert line["request_id"] == "lb-7f3a.42" and line["user"] is None
    assert line["remote_addr"] == "127.0.0.1"  # X-Forwarded-For is nobody's word without TRUSTED_PROXIES
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("+00:00")
    assert "private" not in caplog.text  # query strings are not logged


def test_a_request_id_that_does_not_look_like_one_is_replaced(app, visitor, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        first = visitor.get("/login", headers={"X-Request-ID": 'x" injected=1'})
        second = visitor.get("/login", headers={"X-Request-ID": "a" * 129})
        third = visitor.get("/login")
    ids = [r.headers["X-Request-ID"] for r in (first, second, third)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and len(set(ids)) == 3
    assert [line["request_id"] for line in request_lines(caplog.records)] == ids
    assert "injected" not in caplog.text


def test_the_signed_in_user_errors_and_forms_are_logged(app, world, caplog):
    person = signed_in(app, world, "member_a")
    person.token()  # the form's CSRF token, fetched before the requests under test
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        person.get("/member/")
        person.get("/member/no-such-page")
        person.post("/logout")
    lines = request_lines(caplog.records)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/member/", 200),
        ("GET", "/member/no-such-page", 404),
        ("POST", "/logout", 302),
    ]
    assert [line["user"] for line in lines[:2]] == [world.user_ids["member_a"]] * 2


def test_a_failing_view_is_still_logged_as_a_500(app, visitor, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setitem(app.view_functions, "api.health", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        response = visitor.get("/api/health", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "req-500"
    assert [(line["status"], line["request_id"]) for line in request_lines(caplog.records)] == [(500, "req-500")]


# --- security headers -------------------------------------------------------------------------------------------


def assert_security_headers(response) -> None:
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"


def test_security_headers_on_pages_json_and_errors(app, world, visitor):
    anonymous_json = visitor.get("/api/health")
    assert anonymous_json.mimetype == "application/json"
    assert_security_headers(anonymous_json)
    assert_security_headers(visitor.get("/login"))
    assert_security_headers(visitor.get("/no-such-page"))
    person = signed_in(app, world, "lead")
    for url in ("/api/", "/review/"):
        response = person.get(url)
        assert response.status_code == 200, url
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in anonymous_json.headers  # plain HTTP in testing


def test_no_answer_to_a_signed_in_person_or_a_token_may_be_stored(app, world, visitor):
    """Pages, CSV and JSON exports, evidence files, the JSON API and error pages: ``Cache-Control: no-store``.
    The NHS.UK frontend's files are the same for everyone and stay cacheable."""
    from app.services import CLI
    from app.services.api_tokens import create_token
    from app.services.evidence import attach_file

    with db.session_scope(world.url) as session:
        document = attach_file(
            session,
            CLI,
            world.assessments["a"],
            "C1.1",
            data=b"%PDF-1.4 plan\n",
            filename="plan.pdf",
            content_type="application/pdf",
            store=app.extensions["upload_store"],
        )
        _, token = create_token(session, CLI, name="Cache check", organisation_id=world.organisations["a"])
    member, lead = signed_in(app, world, "member_a"), signed_in(app, world, "lead")
    answers = {
        "member page": member.get("/member/"),
        "evidence file": member.get(f"/member/assessments/{world.assessments['a']}/evidence/{document.id}"),
        "not found": member.get("/member/no-such-page"),
        "csv export": export_file(lead, world.cycle_id, "results", "csv"),
        "json export": export_file(lead, world.cycle_id, "results", "json"),
        "api": visitor.get("/api/v1/memberships", headers={"Authorization": f"Bearer {token}"}),
    }
    assert {name: (r.status_code, r.headers.get("Cache-Control")) for name, r in answers.items()} == {
        "member page": (200, "no-store"),
        "evidence file": (200, "no-store"),
        "not found": (404, "no-store"),
        "csv export": (200, "no-store"),
        "json export": (200, "no-store"),
        "api": (200, "no-store"),
    }
    assert answers["csv export"].mimetype == "text/csv" and answers["evidence file"].mimetype == "application/pdf"
    assert "no-store" not in (visitor.get("/login").headers.get("Cache-Control") or "")
    if (NHSUK_DIST / "nhsuk-frontend.min.css").is_file():
        assert "no-store" not in member.get("/vendor/nhsuk/nhsuk-frontend.min.css").headers["Cache-Control"]


def test_https_only_in_production_sends_hsts(database_url, tmp_path):
    production = create_app(
        {
            "APP_ENV": "production",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "s" * 32,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    response = production.test_client().get("/api/health")
    assert_security_headers(response)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# --- gunicorn with gunicorn.conf.py -----------------------------------------------------------------------------


def gunicorn_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GUNICORN_")}
    env.update(
        SECRET_KEY="k" * 32,
        APP_ENV="production",
        DATABASE_URL=database_url,
        UPLOAD_DIR=str(tmp_path / "uploads"),
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
    )
    env.update(extra)
    return env


def test_gunicorn_with_the_project_settings_logs_json_lines_and_trusts_the_proxy(database_url, tmp_path):
    port = free_port()
    env = gunicorn_env(database_url, tmp_path, GUNICORN_BIND=f"127.0.0.1:{port}", TRUSTED_PROXIES="1")
    stderr = (tmp_path / "gunicorn.err").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )
    try:
        deadline = time.monotonic() + 30
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/health", headers={"X-Request-ID": "proxy-1", "X-Forwarded-For": "203.0.113.9"}
        )
        while True:
            try:
                with urllib.request.urlopen(request, timeout=2) as reply:
                    assert reply.status == 200 and reply.headers["X-Request-ID"] == "proxy-1"
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "gunicorn.err").read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
        stderr.close()
    log = (tmp_path / "gunicorn.err").read_text()
    assert "Using worker: gthread" in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert {
        "path": "/api/health",
        "status": 200,
        "remote_addr": "203.0.113.9",
        "request_id": "proxy-1",
    }.items() <= lines[-1].items()


def test_gunicorn_stops_at_once_with_one_line_on_a_database_without_schema(empty_database_url, tmp_path):
    env = gunicorn_env(empty_database_url, tmp_path, GUNICORN_BIND=f"127.0.0.1:{free_port()}")
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "error: cannot start the web application: " in done.stderr
    assert "has no schema yet: run `python cli.py db upgrade` first" in done.stderr
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr


def test_production_refuses_more_than_one_worker_with_limits_counted_in_memory(database_url, tmp_path):
    """Each worker would count on its own: 4 workers let about 4 times as many sign-in attempts through."""
    env = gunicorn_env(database_url, tmp_path, GUNICORN_BIND=f"127.0.0.1:{free_port()}")
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert (
        "error: cannot start the web application: rate limits are counted in memory, by each of 2 workers"
        in done.stderr
    )
    assert "set RATELIMIT_STORAGE_URI=redis://" in done.stderr
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr


class Browser:
    """A browser from one address behind the proxy, a new connection for each request (so gunicorn's workers
    share them out), keeping its session cookie."""

    def __init__(self, port: int, address: str):
        self.port, self.address, self.cookie = port, address, None

    def send(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        import http.client
        import urllib.parse
        from http.cookies import SimpleCookie

        headers = {"X-Forwarded-For": self.address}
        if self.cookie:
            headers["Cookie"] = f"session={self.cookie}"
        body = urllib.parse.urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            page = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookie = SimpleCookie(header)
                if "session" in cookie:
                    self.cookie = cookie["session"].value or None
            return response.status, response.getheader("Location") or "", page
        finally:
            connection.close()

    def csrf(self) -> str:
        from .conftest import CSRF

        return CSRF.search(self.send("GET", "/login")[2]).group(1)


def test_two_workers_share_sign_in_limits_and_sessions_through_redis(database_url, tmp_path):
    import uuid

    import redis

    from .conftest import PASSWORD, build_world, redis_url, unique_address

    world = build_world(database_url)
    prefix = f"test-gunicorn:{uuid.uuid4().hex}:"
    port = free_port()
    env = gunicorn_env(
        database_url,
        tmp_path,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
        RATELIMIT_STORAGE_URI=redis_url(),
        SESSION_STORE=redis_url(),
        SESSION_KEY_PREFIX=prefix,
        TRUSTED_PROXIES="1",
        SESSION_COOKIE_SECURE="false",
    )
    stderr = (tmp_path / "gunicorn.err").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "gunicorn.err").read_text()
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        guesser = Browser(port, unique_address())
        email = world.emails["member_a"]
        statuses = [
            guesser.send(
                "POST", "/login", {"email": email, "password": "wrong password", "csrf_token": guesser.csrf()}
            )[0]
            for _ in range(6)
        ]
        assert statuses == [200] * 5 + [429]  # counted once for both workers
        member = Browser(port, unique_address())
        status, location, _ = member.send(
            "POST", "/login", {"email": email, "password": PASSWORD, "csrf_token": member.csrf()}
        )
        assert (status, location) == (302, "/member/")
        assert [member.send("GET", "/")[:2] for _ in range(6)] == [(302, "/member/")] * 6
        status, _, _ = member.send("POST", "/logout", {"csrf_token": member.csrf()})
        assert status == 302 and member.send("GET", "/")[0] == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        stderr.close()
        store = redis.Redis.from_url(redis_url())
        for key in store.scan_iter(prefix + "*"):
            store.delete(key)
    assert (tmp_path / "gunicorn.err").read_text().count("Booting worker") == 2


# --- backup and restore -----------------------------------------------------------------------------------------


def sqlite_state(url: str) -> list[str]:
    import sqlite3

    db.dispose_engine(url)
    connection = sqlite3.connect(url.split("///", 1)[1])
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def files_state(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def script(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / name), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def backed_up(backups: Path, env: dict[str, str], database_file: str) -> Path:
    """Run the backup script into ``backups``; the one backup it made, checked to hold what a backup holds."""
    made = script("backup.sh", str(backups), env=env)
    assert made.returncode == 0, made.stderr
    [backup] = backups.iterdir()
    assert sorted(p.name for p in backup.iterdir()) == sorted(
        ["SHA256SUMS", database_file, "schema-revision", "uploads.tar.gz"]
    )
    return backup


def test_a_backup_of_sqlite_and_uploads_restores_to_the_same_state(tmp_path):
    from app.services import save_answers
    from app.services.evidence import attach_file
    from app.uploads import UploadStore

    from .conftest import build_world

    url = f"sqlite:///{tmp_path / 'live' / 'alliance.db'}"
    uploads = tmp_path / "live" / "uploads"
    db.upgrade(url)
    world = build_world(url)
    store = UploadStore(uploads)
    with db.session_scope(url) as session:
        attach_file(
            session,
            world.actor("member_a"),
            world.assessments["a"],
            "C1.1",
            data=b"%PDF-1.4 job plan\n",
            filename="job-plan.pdf",
            content_type="application/pdf",
            store=store,
        )
    env = {**os.environ, "DATABASE_URL": url, "UPLOAD_DIR": str(uploads)}
    backup = backed_up(tmp_path / "backups", env, "database.sqlite")
    assert oct(backup.stat().st_mode & 0o777) == "0o700"
    database_then, files_then = sqlite_state(url), files_state(uploads)
    assert len(files_then) == 1

    # Life goes on after the backup: answers change, another file arrives, a file is lost.
    with db.session_scope(url) as session:
        save_answers(session, world.actor("member_a"), world.assessments["a"], {"C1.1": "no"})
        attach_file(
            session,
            world.actor("member_b"),
            world.assessments["b"],
            "C1.1",
            data=b"%PDF-1.4 other\n",
            filename="other.pdf",
            content_type="application/pdf",
            store=store,
        )
    [kept] = [path for path in uploads.rglob("*") if path.is_file() and path.read_bytes().endswith(b"job plan\n")]
    kept.unlink()
    files_later = files_state(uploads)
    assert sqlite_state(url) != database_then and len(files_later) == 1 and files_later != files_then

    restored = script("restore.sh", str(backup), "--replace", env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "checked: all 1 evidence files present and intact" in restored.stdout
    assert sqlite_state(url) == database_then
    assert files_state(uploads) == files_then
    [aside] = [path for path in (tmp_path / "live").iterdir() if path.name.startswith("uploads.before-restore-")]
    assert files_state(aside) == files_later  # the files there before are kept aside, not deleted


def test_a_damaged_backup_is_refused_and_nothing_is_replaced(tmp_path):
    url = f"sqlite:///{tmp_path / 'alliance.db'}"
    db.upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "UPLOAD_DIR": str(tmp_path / "uploads")}
    assert script("backup.sh", str(tmp_path / "backups"), env=env).returncode == 0
    [backup] = (tmp_path / "backups").iterdir()
    with (backup / "uploads.tar.gz").open("ab") as damaged:
        damaged.write(b"x")
    before = sqlite_state(url)
    refused = script("restore.sh", str(backup), "--replace", env=env)
    assert refused.returncode == 1
    assert "does not match its SHA256SUMS" in refused.stderr
    assert sqlite_state(url) == before
    assert script("restore.sh", str(backup), env=env).returncode == 2  # --replace is required


@pytest.mark.db
def test_a_backup_of_postgresql_restores_to_the_same_state_with_planner_statistics(databases, tmp_path):
    """On a database of its own (a dump covers the whole database), with the server's own pg_dump and
    pg_restore; the restore gathers planner statistics, which a dump does not hold."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from app.services import save_answers
    from app.services.evidence import attach_file
    from app.uploads import UploadStore

    from .conftest import build_world

    if databases.kind != "postgresql":
        pytest.skip("PostgreSQL backups: run the database tests with TEST_DATABASE_URL set to PostgreSQL")
    name = f"backup_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = db.get_engine(databases.base_url)
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(databases.base_url).set(database=name).render_as_string(hide_password=False)

    def state() -> list[tuple]:
        with db.get_engine(url).connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(
                    text(
                        "SELECT assessment_id, criterion_id, value::text FROM answer ORDER BY assessment_id, criterion_id"
                    )
                )
            ]

    try:
        db.upgrade(url)
        world = build_world(url)
        uploads = tmp_path / "uploads"
        with db.session_scope(url) as session:
            save_answers(session, world.actor("member_a"), world.assessments["a"], {"C1.1": "yes"})
            attach_file(
                session,
                world.actor("member_a"),
                world.assessments["a"],
                "C1.1",
                data=b"%PDF-1.4 plan\n",
                filename="plan.pdf",
                content_type="application/pdf",
                store=UploadStore(uploads),
            )
        env = {**os.environ, "DATABASE_URL": url, "UPLOAD_DIR": str(uploads)}
        backup = backed_up(tmp_path / "backups", env, "database.pgdump")
        then = state()
        assert ("C1.1", '"yes"') in {(row[1], row[2]) for row in then if row[0] == world.assessments["a"]}
        with db.session_scope(url) as session:
            save_answers(session, world.actor("member_a"), world.assessments["a"], {"C1.1": "no"})
        assert state() != then

        db.dispose_engine(url)  # pg_restore drops and recreates the tables this process holds open
        restored = script("restore.sh", str(backup), "--replace", env=env)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "checked: all 1 evidence files present and intact" in restored.stdout
        assert state() == then
        with db.get_engine(url).connect() as connection:
            analysed = connection.execute(
                text("SELECT COUNT(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'answer'")
            ).scalar()
        assert analysed > 0
    finally:
        db.dispose_engine(url)
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

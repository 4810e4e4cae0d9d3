"""The application factory, its settings, headers, assets and error pages."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from app import StartupError, create_app, db
from app import config as app_config
from app.web import NHSUK_DIST
from app.web.access import check_every_route_is_marked, public, roles
from app.web.limits import unshared_limits

from .conftest import Visitor, signed_in, text

ROOT = Path(__file__).resolve().parents[2]


def test_production_refuses_to_start_without_a_secret_key(database_url):
    with pytest.raises(StartupError, match="SECRET_KEY is not set"):
        create_app({"APP_ENV": "production", "DATABASE_URL": database_url, "SECRET_KEY": None})


def test_an_unknown_environment_is_refused(database_url):
    with pytest.raises(StartupError, match="APP_ENV: one of production, development, testing"):
        create_app({"APP_ENV": "staging", "DATABASE_URL": database_url})


def test_a_bad_number_in_the_environment_names_the_setting():
    with pytest.raises(app_config.ConfigError, match="UPLOAD_MAX_BYTES: expected a whole number, got 'ten'"):
        app_config.load({"APP_ENV": "testing"}, environ={"UPLOAD_MAX_BYTES": "ten"})
    with pytest.raises(app_config.ConfigError, match="SESSION_COOKIE_SECURE: expected true or false"):
        app_config.load({"APP_ENV": "testing"}, environ={"SESSION_COOKIE_SECURE": "sometimes"})


def test_an_empty_database_is_refused_naming_the_command(empty_database_url):
    with pytest.raises(StartupError, match=r"has no schema yet: run `python cli.py db upgrade` first"):
        create_app({"APP_ENV": "testing", "DATABASE_URL": empty_database_url})


def test_an_out_of_date_schema_is_refused_naming_the_command(empty_database_url):
    from alembic.script import ScriptDirectory

    revisions = [s.revision for s in ScriptDirectory(str(ROOT / "migrations")).walk_revisions()]
    if len(revisions) < 2:
        pytest.skip("only one migration: no older schema to start from")
    db.upgrade(empty_database_url, revisions[-1])  # the first migration only
    with pytest.raises(StartupError, match=r"is out of date .*: run `python cli.py db upgrade`"):
        create_app({"APP_ENV": "testing", "DATABASE_URL": empty_database_url})


def test_cookie_flags_in_production_and_in_testing(database_url):
    production = create_app({"APP_ENV": "production", "DATABASE_URL": database_url, "SECRET_KEY": "s" * 32})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production.config["REMEMBER_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    testing = create_app({"APP_ENV": "testing", "DATABASE_URL": database_url})
    assert testing.config["SESSION_COOKIE_SECURE"] is False
    assert testing.config["SESSION_COOKIE_HTTPONLY"] is True


def test_session_and_limit_settings_are_checked(monkeypatch):
    settings = app_config.load({"APP_ENV": "testing"}, environ={})
    assert settings["SESSION_STORE"] == "database"
    assert (settings["SESSION_IDLE"], settings["PERMANENT_SESSION_LIFETIME"]) == (
        dt.timedelta(hours=1),
        dt.timedelta(hours=8),
    )
    redis_store = app_config.load(
        {"APP_ENV": "testing"}, environ={"SESSION_STORE": "redis://127.0.0.1:6379/1", "SESSION_IDLE_MINUTES": "20"}
    )
    assert (redis_store["SESSION_STORE"], redis_store["SESSION_IDLE"]) == (
        "redis://127.0.0.1:6379/1",
        dt.timedelta(minutes=20),
    )
    with pytest.raises(app_config.ConfigError, match="SESSION_STORE: expected 'database' or a Redis URL"):
        app_config.load({"APP_ENV": "testing"}, environ={"SESSION_STORE": "memcached://here"})
    with pytest.raises(app_config.ConfigError, match="LOGIN_ADDRESS_RATE_LIMIT: expected a rate"):
        app_config.load({"APP_ENV": "testing"}, environ={"LOGIN_ADDRESS_RATE_LIMIT": "lots"})


@pytest.mark.parametrize(
    "environ, workers, refused",
    [
        ({}, 1, False),
        ({}, 2, True),
        ({"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}, 4, False),
        ({"RATELIMIT_ENABLED": "false"}, 4, False),  # load tests
    ],
)
def test_production_needs_shared_limits_for_more_than_one_worker(environ, workers, refused):
    settings = app_config.load({"SECRET_KEY": "k" * 32}, environ=environ)
    assert (unshared_limits(settings, workers) is not None) is refused
    assert unshared_limits(app_config.load({"APP_ENV": "development"}, environ=environ), workers) is None


def test_secure_cookies_can_be_forced_from_the_environment(monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    assert app_config.load({"APP_ENV": "development"})["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "false")
    assert app_config.load({"APP_ENV": "production", "SECRET_KEY": "k"})["SESSION_COOKIE_SECURE"] is False


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/somewhere.db")
    settings = app_config.load()
    assert settings["APP_ENV"] == "production"
    assert settings["SECRET_KEY"] == "from-the-environment"
    assert settings["DATABASE_URL"] == "sqlite:////tmp/somewhere.db"
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"
    assert settings["MAX_CONTENT_LENGTH"] > settings["UPLOAD_MAX_BYTES"]


def test_the_session_cookie_is_http_only_and_same_site(app, world):
    person = Visitor(app)
    response = person.login(world.emails["member_a"])
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # testing runs over plain http


def test_a_secure_app_sends_secure_cookies(database_url, world, tmp_path):
    secure = create_app(
        {"APP_ENV": "production", "DATABASE_URL": database_url, "SECRET_KEY": "k" * 32, "UPLOAD_DIR": str(tmp_path)}
    )
    person = Visitor(secure)
    person.client.environ_base["wsgi.url_scheme"] = "https"
    response = person.login(world.emails["member_a"])
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]


def test_every_route_carries_an_access_rule(app):
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            assert getattr(view, "access", None), endpoint


def test_an_app_with_an_unguarded_route_refuses_to_start():
    bare = Flask("bare")
    bare.add_url_rule("/ok", "ok", public(lambda: "ok"))
    bare.add_url_rule("/member-only", "member_only", roles("member")(lambda: "ok"))
    check_every_route_is_marked(bare)
    bare.add_url_rule("/forgotten", "forgotten", lambda: "oops")
    with pytest.raises(RuntimeError, match="routes without an access rule.*forgotten"):
        check_every_route_is_marked(bare)


def test_security_headers(visitor):
    response = visitor.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in text(response)  # the page's one inline script carries the nonce
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_with_personal_data_are_not_cached(app, world):
    person = signed_in(app, world, "member_a")
    assert person.get("/member/").headers["Cache-Control"] == "no-store"


@pytest.mark.skipif(
    not (NHSUK_DIST / "nhsuk-frontend.min.css").is_file(), reason="NHS.UK frontend not installed: run scripts/assets.sh"
)
def test_nhsuk_frontend_assets_are_served_from_the_npm_package(visitor):
    css = visitor.get("/vendor/nhsuk/nhsuk-frontend.min.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b".nhsuk-header" in css.data
    js = visitor.get("/vendor/nhsuk/nhsuk-frontend.min.js")
    assert js.status_code == 200 and b"initAll" in js.data
    assert visitor.get("/assets/images/favicon.svg").status_code == 200
    assert visitor.get("/vendor/nhsuk/index.scss").status_code == 404  # only the built files
    page = text(visitor.get("/"))
    assert "/vendor/nhsuk/nhsuk-frontend.min.css" in page and "/static/app.js" in page


def test_the_installed_frontend_is_the_version_the_macros_expect():
    pinned = (ROOT / "package.json").read_text()
    assert '"nhsuk-frontend": "10.6.1"' in pinned
    from importlib.metadata import version

    assert version("nhsuk-frontend-jinja").startswith("0.10.")


def test_not_found_page_in_nhsuk_style(visitor):
    response = visitor.get("/no-such-page")
    assert response.status_code == 404
    body = text(response)
    assert "Page not found" in body and "nhsuk-header" in body and "nhsuk-footer" in body


def test_server_error_page_shows_no_traceback(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @public
    def broken():
        raise ZeroDivisionError("secret detail")

    app.add_url_rule("/broken", "broken", broken)
    response = app.test_client().get("/broken")
    assert response.status_code == 500
    body = text(response)
    assert "Sorry, there is a problem with the service" in body
    assert "Traceback" not in body and "secret detail" not in body and "ZeroDivisionError" not in body


def test_wrong_method_page(visitor):
    response = visitor.get("/logout")
    assert response.status_code == 405
    assert "Sorry, that cannot be done here" in text(response)


def test_a_post_without_csrf_token_is_refused(visitor, world):
    response = visitor.post("/login", {"email": world.emails["member_a"], "password": "x"}, csrf=False)
    assert response.status_code == 400
    assert "did not come from this service" in text(response)
    response = visitor.post(
        "/login", {"email": world.emails["member_a"], "password": "x", "csrf_token": "forged"}, csrf=False
    )
    assert response.status_code == 400


def test_a_request_over_the_size_limit_gets_the_too_large_page(app, world):
    person = signed_in(app, world, "member_a")
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = person.post(
        f"/member/assessments/{world.assessments['a']}/criteria/C1.1/evidence",
        {"kind": "note", "note": "x" * (limit + 10)},
    )
    assert response.status_code == 413
    assert "The file is too large" in text(response)


def test_health_and_api_landing(app, world, visitor):
    health = visitor.get("/api/health")
    assert health.status_code == 200 and health.get_json() == {"status": "ok", "database": "ok", "queue": "immediate"}
    anonymous = visitor.get("/api/")
    assert anonymous.status_code == 401 and anonymous.get_json() == {"error": "sign in first"}
    person = signed_in(app, world, "lead")
    assert person.get("/api/").get_json()["user"] == {
        "email": "lead@alliance.test",
        "name": "Alliance Lead",
        "role": "lead",
    }


def test_wsgi_refuses_to_start_without_a_secret_key_in_one_clear_line(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "APP_ENV")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: cannot start the web application: configuration: SECRET_KEY")
    assert "Traceback" not in done.stderr


def test_wsgi_serves_the_app(database_url):
    env = {**os.environ, "SECRET_KEY": "k" * 32, "APP_ENV": "production", "DATABASE_URL": database_url}
    code = "import wsgi; c = wsgi.app.test_client(); print(c.get('/api/health').status_code)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "200"


def test_gunicorn_serves_the_wsgi_entry_point(database_url, tmp_path):
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "SECRET_KEY": "k" * 32,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as reply:
                    assert reply.status == 200 and reply.read() == b'{"database":"ok","queue":"ok","status":"ok"}\n'
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)

"""Fixtures for the web tests: the app on the project's fresh migrated database per test (``database_url``
from tests/conftest.py: SQLite, or PostgreSQL through TEST_DATABASE_URL), an alliance world (two member
organisations, a lead and an admin) built through the service layer, and headless Chromium for the browser
journeys (one per test process, a fresh context per test)."""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from app import create_app, db
from app.jobs import queue
from app.models import utcnow
from app.services import (
    CLI,
    Actor,
    add_evidence,
    apply_for_membership,
    create_alliance,
    create_user,
    open_assessment,
    open_cycle,
    register_organisation,
    register_version,
    save_answers,
    submit,
)
from tests.builders import attested

from .oidc import Provider, start_provider, stop_provider

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = HERE.parents[1] / "test-artifacts"  # screenshots of the browser journeys, for people to look at
STANDARDS = HERE / "standards" / "web-test-2026.1.yaml"
#: The same alliance's schema 2 edition: choice and multi_choice questions, conditional questions, metric ranges.
STANDARDS_2 = HERE / "standards" / "web-test-2026.2.yaml"
PASSWORD = "correct horse battery staple"


def attestation(name: str = "Alex Approver", role: str = "Director of Nursing") -> dict[str, str]:
    """The submit page's attestation, filled in and ticked (a submission is refused without it)."""
    return {"confirmed": "y", "name": name, "role": role}


#: The approver's attestation an API submission carries ({"submit": true, "attestation": ...}).
API_ATTESTATION = {"confirmed": True, "name": "Alex Approver", "role": "Director of Nursing"}

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


#: scrypt as the application uses it (werkzeug's ``scrypt``: n = 2**15, r = 8, p = 1), with a work factor
#: a thirty-second of that for the users the fixtures make. Signing in reads the factor from the stored hash
#: and checks it the same way, in a few milliseconds rather than a quarter of a second; users who register
#: through the pages get the application's own hash (tests/web/test_auth.py).
FIXTURE_HASH = "scrypt:1024:8:1"


@functools.cache
def password_hash(password: str) -> str:
    """The fixtures' users share one hash per password across tests, with the small work factor above."""
    return generate_password_hash(password, method=FIXTURE_HASH)


def current_cycle_name(today: dt.date) -> tuple[str, dt.date, dt.date]:
    """The financial year that contains today, as the alliance names its cycles."""
    start = today.year if today.month >= 4 else today.year - 1
    return f"{start}/{(start + 1) % 100:02d}", dt.date(start, 4, 1), dt.date(start + 1, 3, 31)


@dataclass
class World:
    url: str
    alliance_id: int
    cycle_id: int
    version_id: int
    organisations: dict[str, int] = field(default_factory=dict)
    memberships: dict[str, int] = field(default_factory=dict)
    assessments: dict[str, int] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def actor(self, who: str) -> Actor:
        return Actor(self.emails[who], self.user_ids[who])


def build_world(url: str, standards: Path = STANDARDS) -> World:
    with db.session_scope(url) as session:
        version = register_version(session, standards, CLI)
        alliance = create_alliance(
            session, CLI, slug="web-test", name="Web Test Alliance", standards_set=version.set_id
        )
        name, opens, closes = current_cycle_name(utcnow().date())
        cycle = open_cycle(session, CLI, alliance_id=alliance.id, name=name, opens_on=opens, closes_on=closes)
        world = World(url, alliance.id, cycle.id, version.id)
        for key, org_name, ods in (
            ("a", "Dartford and Gravesham NHS Trust", "RN7"),
            ("b", "King's College Hospital NHS Foundation Trust", "RJZ"),
        ):
            organisation = register_organisation(
                session, CLI, name=org_name, ods_code=ods, org_type="acute", region="South East London"
            )
            user = create_user(
                session,
                CLI,
                email=f"lead.{ods.lower()}@nhs.test",
                name=f"Member {key.upper()}",
                password=PASSWORD,
                role="member",
                organisation_id=organisation.id,
                password_hash=password_hash(PASSWORD),
            )
            membership = apply_for_membership(
                session, CLI, organisation_id=organisation.id, alliance_id=alliance.id, route="full"
            )
            assessment = open_assessment(session, CLI, membership_id=membership.id, cycle_id=cycle.id)
            world.organisations[key] = organisation.id
            world.memberships[key] = membership.id
            world.assessments[key] = assessment.id
            world.emails[f"member_{key}"] = user.email
            world.user_ids[f"member_{key}"] = user.id
        lead = create_user(
            session,
            CLI,
            email="lead@alliance.test",
            name="Alliance Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=alliance.id,
            password_hash=password_hash(PASSWORD),
        )
        admin = create_user(
            session,
            CLI,
            email="admin@alliance.test",
            name="Operator",
            password=PASSWORD,
            role="admin",
            password_hash=password_hash(PASSWORD),
        )
        world.emails.update(lead=lead.email, admin=admin.email)
        world.user_ids.update(lead=lead.id, admin=admin.id)
    return world


COMPLETE_ANSWERS = {
    "C1.1": "yes",
    "C1.2": "partial",
    "C1.3": 2,
    "C2.1": 88,
    "C2.2": 7.5,
    "C4.1": "yes",
    "P1.1": 9,
    "P1.2": "A shared talent pool with the alliance.",
}
#: Every question of STANDARDS_2 asked when follow-up is by telephone (C5.2 and P1.2 are then not asked).
COMPLETE_ANSWERS_2 = {
    "C1.1": "yes",
    "C1.2": "partial",
    "C5.1": "phone",
    "C5.3": "yes",
    "C5.4": "nurse",
    "C5.5": ["nhfd"],
    "C6.1": "yes",
    "C2.1": 88,
    "C2.2": 11,
    "P1.1": 9,
}


def submit_peer(url: str, world: World, key: str, ods: str, answers: dict[str, Any], org_type: str = "acute") -> int:
    """Another member that has answered everything and submitted: its result feeds the benchmarks."""
    with db.session_scope(url) as session:
        organisation = register_organisation(
            session, CLI, name=f"Peer {key} NHS Trust", ods_code=ods, org_type=org_type, region="Peer region"
        )
        membership = apply_for_membership(
            session, CLI, organisation_id=organisation.id, alliance_id=world.alliance_id, route="full"
        )
        assessment = open_assessment(session, CLI, membership_id=membership.id, cycle_id=world.cycle_id)
        outcome = save_answers(session, CLI, assessment.id, answers)
        assert outcome.ok, outcome.errors
        add_evidence(session, CLI, assessment.id, "C1.1", kind="link", url="https://example.nhs.uk/job-plan.pdf")
        submit(session, CLI, assessment.id, attested())
        world.organisations[key] = organisation.id
        world.memberships[key] = membership.id
        world.assessments[key] = assessment.id
        return assessment.id


@pytest.fixture
def world(database_url: str) -> World:
    return build_world(database_url)


@pytest.fixture
def app(database_url: str, world: World, tmp_path: Path):
    application = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "EXPORT_DIR": str(tmp_path / "exports"),
            "UPLOAD_MAX_BYTES": 64 * 1024,
        }
    )
    return application


@pytest.fixture
def queued_app(database_url, world, tmp_path):
    """The application on a queue file no worker reads: a job waits until the test runs it
    (``run_queued``); the tests' immediate queue again afterwards."""
    application = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "EXPORT_DIR": str(tmp_path / "exports"),
            "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        }
    )
    yield application
    queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def queued(kind: str) -> list:
    """The tasks waiting on the queue whose name has ``kind`` in it (``compute_preview``, ``write_export``)."""
    return [task for task in queue.huey.pending() if kind in task.name]


def run_queued() -> int:
    """The worker's part, in the test: run every task waiting on the queue (a preview, an export, the mail the
    world's events wrote), in the order queued. How many ran."""
    ran = 0
    while (task := queue.huey.dequeue()) is not None:
        queue.huey.execute(task)
        ran += 1
    return ran


class Visitor:
    """A person at a browser, through Flask's test client: fetches CSRF tokens the way a form would."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self._token: Optional[str] = None

    def token(self) -> str:
        if self._token is None:
            page = self.client.get("/login")
            found = CSRF.search(page.get_data(as_text=True))
            assert found, "no CSRF token on the sign-in page"
            self._token = found.group(1)
        return self._token

    def get(self, url: str, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: Optional[dict] = None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token())
        response = self.client.post(url, data=data, **kwargs)
        return response

    def login(self, email: str, password: str = PASSWORD):
        response = self.post("/login", {"email": email, "password": password})
        self._token = None  # a new session after signing in
        return response

    def logout(self):
        response = self.post("/logout")
        self._token = None
        return response


@pytest.fixture
def visitor(app) -> Visitor:
    return Visitor(app)


def signed_in(app, world: World, who: str) -> Visitor:
    person = Visitor(app)
    response = person.login(world.emails[who])
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return person


def text(response) -> str:
    return response.get_data(as_text=True)


def redis_url() -> str:
    """The Redis server the production settings are tested against (TEST_REDIS_URL, by default the local one);
    one that cannot be reached fails the tests that need it."""
    import redis

    url = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis (TEST_REDIS_URL = {url}) cannot be reached: {exc}", pytrace=False)
    return url


def unique_address() -> str:
    """An address of the documentation range of its own, so counts kept in a shared Redis never meet."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def browser_app(database_url: str, tmp_path: Path, **settings: Any):
    """The application as the browser journeys run it (``settings`` on top, say ``MFA_REQUIRED_ROLES`` or single
    sign-on's)."""
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "browser-test",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "EXPORT_DIR": str(tmp_path / "exports"),
            **settings,
        }
    )


@contextmanager
def served(app) -> Iterator[str]:
    """The application served on a free local port while the block runs; yields its base address."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium through Playwright, started once per test process and shared by the
    browser journeys (each has a context of its own: no cookies or storage carried over)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is not installed at /usr/bin/chromium: run `bash scripts/browser.sh` "
            "(or leave the browser tests out: `bash scripts/test.sh --fast`)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser):
    """One tab in a fresh browser context that reaches only the app; page errors are kept in ``page.problems``."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)  # generous: the machine may be busy
    # Only the app itself: the NHS fonts' host is not reachable from the test machine.
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.problems = problems
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    """A real OpenID Connect provider (node and oidc-provider, tests/oidc_provider.mjs) on 127.0.0.1, started
    once per test process for the single sign-on tests."""
    provider = start_provider()
    try:
        yield provider
    finally:
        stop_provider(provider)


@pytest.fixture(scope="session")
def late_oidc_provider() -> Iterator[Provider]:
    """The same provider on a host whose clock is half an hour behind: every ID token it issues (valid for five
    minutes) has expired by our clock."""
    provider = start_provider(clock_offset=-1800)
    try:
        yield provider
    finally:
        stop_provider(provider)

"""Database fixtures: every test that asks for one gets a brand-new, migrated, empty database.

SQLite by default: each test gets its own file, copied from a template that
Alembic migrated once for the test process. ``TEST_DATABASE_URL`` (or
``DATABASE_URL``) naming a PostgreSQL database runs the same tests there: each
test process migrates its own schema inside that database (so parallel runs and
pytest-xdist workers do not meet) and every test starts with all tables emptied;
the schema is dropped at the end. PostgreSQL that was asked for but cannot be
reached fails the tests; nothing is skipped.

Tests using these fixtures are marked ``db`` (``pytest -m db`` runs only them);
tests driving a real browser are marked ``browser`` (``--no-browser`` leaves
them out, as ``bash scripts/test.sh --fast`` does).

What is expensive and the same for every test is made once per test process
(each xdist worker is one): the migrated template, the demo world
(``demo_worlds``) and the compiled page templates (``compiled_templates``).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import flask
import jinja2
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from app import db
from tests.builders import criterion, document, domain, standard

DB_FIXTURES = {"database_url", "empty_database_url"}  # item.fixturenames holds every fixture a test needs
BROWSER_FIXTURES = {"browser"}  # tests/web/conftest.py: headless Chromium


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-browser",
        action="store_true",
        help="leave out the tests that drive a real browser (marker 'browser'; no Chromium needed)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: uses a database (SQLite by default, PostgreSQL via TEST_DATABASE_URL)")
    config.addinivalue_line("markers", "browser: drives headless Chromium (/usr/bin/chromium, scripts/browser.sh)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if DB_FIXTURES & fixtures:
            item.add_marker(pytest.mark.db)
        if BROWSER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.browser)
    if config.getoption("--no-browser"):
        browser = [item for item in items if item.get_closest_marker("browser")]
        if browser:
            config.hook.pytest_deselected(items=browser)
            items[:] = [item for item in items if not item.get_closest_marker("browser")]


class CompiledTemplates(jinja2.BytecodeCache):
    """Jinja's compiled templates, kept in memory for the test process.

    Every test builds its own application, and each new application would lex, parse and compile the
    same templates (the NHS.UK macros are large) the first time it renders them: about half of a page
    test's time. The cache hands a new application the code compiled for an earlier one; Jinja checks
    the template's source checksum, so an edited template is compiled again."""

    def __init__(self) -> None:
        self.code: dict[str, tuple[str, Any]] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        checksum, code = self.code.get(bucket.key, (None, None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = (bucket.checksum, bucket.code)


@pytest.fixture(scope="session", autouse=True)
def compiled_templates() -> Iterator[CompiledTemplates]:
    """Every Flask application the tests create shares one cache of compiled templates (all of them are
    made by ``create_app`` with the same Jinja options)."""
    cache = CompiledTemplates()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flask.Flask, "jinja_options", {**flask.Flask.jinja_options, "bytecode_cache": cache})
        yield cache


def requested_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql:", "postgresql+", "postgres:"))


class SqliteDatabases:
    kind = "sqlite"

    def __init__(self, root: Path):
        self.root = root
        self.template = root / "template.db"
        template_url = self.url(self.template)
        db.upgrade(template_url)
        db.dispose_engine(template_url)  # closes the file, folding the write-ahead log into it

    @staticmethod
    def url(path: Path) -> str:
        return f"sqlite:///{path}"

    def fresh(self, directory: Path) -> str:
        target = directory / "alliance.db"
        shutil.copyfile(self.template, target)
        return self.url(target)

    def empty(self, directory: Path, name: str = "empty.db") -> str:
        return self.url(directory / name)

    def release(self, url: str) -> None:
        db.dispose_engine(url)

    def kept(self, directory: Path, name: str) -> str:
        """A migrated database that lives as long as the test process (filled once, copied into tests)."""
        return self.fresh(directory)

    def settle(self, url: str) -> None:
        db.dispose_engine(url)  # closes the file, folding the write-ahead log into it

    def copy(self, source: str, target: str) -> None:
        """Replace the test's database ``target`` with a copy of ``source``."""
        db.dispose_engine(target)
        shutil.copyfile(make_url(source).database, make_url(target).database)

    def close(self) -> None:
        pass


class PostgresDatabases:
    kind = "postgresql"

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.prefix = f"test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.schemas: list[str] = []
        try:
            with db.get_engine(base_url).connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            pytest.fail(
                f"PostgreSQL was asked for (TEST_DATABASE_URL/DATABASE_URL = {db.describe(base_url)}) "
                f"but cannot be reached: {exc}",
                pytrace=False,
            )
        self.schema = self.new_schema("main")
        self.main_url = self.url(self.schema)
        db.upgrade(self.main_url)
        tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
        self.truncate = f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"

    def url(self, schema: str) -> str:
        url = make_url(self.base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def new_schema(self, suffix: str) -> str:
        name = f"{self.prefix}_{suffix}"
        with db.get_engine(self.base_url).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        self.schemas.append(name)
        return name

    def drop_schema(self, name: str) -> None:
        db.dispose_engine(self.url(name))
        with db.get_engine(self.base_url).begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        if name in self.schemas:
            self.schemas.remove(name)

    def fresh(self, directory: Path) -> str:
        with db.get_engine(self.main_url).begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            connection.exec_driver_sql(self.truncate)
        return self.main_url

    def empty(self, directory: Path, name: str = "empty") -> str:
        return self.url(self.new_schema(f"{name}_{uuid.uuid4().hex[:6]}"))

    @staticmethod
    def schema_of(url: str) -> str:
        return make_url(url).query.get("options", "").partition("=")[2]

    def release(self, url: str) -> None:
        schema = self.schema_of(url)
        if schema and schema != self.schema:
            self.drop_schema(schema)

    def kept(self, directory: Path, name: str) -> str:
        """A migrated schema that lives as long as the test process (filled once, copied into tests)."""
        url = self.url(self.new_schema(name))
        db.upgrade(url)
        return url

    def settle(self, url: str) -> None:
        pass

    def copy(self, source: str, target: str) -> None:
        """Copy every row of the schema ``source`` into the test's emptied tables (``target``, the main schema),
        in the order their keys need, and move the id sequences on past the copied rows."""
        schema = self.schema_of(source)
        with db.get_engine(target).begin() as connection:
            for table in SQLModel.metadata.sorted_tables:
                name = table.name
                connection.exec_driver_sql(f'INSERT INTO "{name}" SELECT * FROM "{schema}"."{name}"')
                if "id" in table.c and table.c.id.primary_key:
                    connection.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                        f'(SELECT coalesce(max(id), 0) + 1 FROM "{name}"), false)'
                    )

    def close(self) -> None:
        for name in list(self.schemas):
            self.drop_schema(name)
        db.dispose_engines()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqliteDatabases | PostgresDatabases]:
    """The test session's database server: SQLite files, or one PostgreSQL database."""
    url = requested_url()
    backend = PostgresDatabases(url) if is_postgres(url) else SqliteDatabases(tmp_path_factory.mktemp("databases"))
    yield backend
    backend.close()


@pytest.fixture
def database_url(
    databases: SqliteDatabases | PostgresDatabases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A migrated, empty database of its own for this test; also set as DATABASE_URL, with
    UPLOAD_DIR in the test's temporary directory."""
    url = databases.fresh(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path / "uploads"))
    yield url
    databases.release(url)


class DemoWorlds:
    """The demo world (``app.demo.load_demo``) for tests that start from it.

    Loading it takes seconds (it scores every assessment through the engine), so it is loaded once per
    test process into a database of its own (one per ``buddies`` setting) and each test gets a copy of
    it and of its evidence files: the file on SQLite, the rows on PostgreSQL."""

    def __init__(self, databases: SqliteDatabases | PostgresDatabases, root: Path):
        self.databases = databases
        self.root = root
        self.loaded: dict[bool, tuple[str, Path, Any, float]] = {}

    def load(self, buddies: bool) -> tuple[str, Path, Any, float]:
        from app.demo import load_demo

        directory = self.root / f"buddies-{buddies}"
        directory.mkdir()
        url = self.databases.kept(directory, f"demo_{int(buddies)}")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("UPLOAD_DIR", str(directory / "uploads"))
            started = time.perf_counter()
            with db.session_scope(url) as session:
                report = load_demo(session, buddies=buddies)
            seconds = time.perf_counter() - started
        self.databases.settle(url)
        return url, directory, report, seconds

    def into(self, url: str, buddies: bool = True) -> tuple[Any, float]:
        """Fill the test's database (``url``, just made by ``database_url``) and its UPLOAD_DIR with the demo
        world; the load's report and how long the load took, in seconds."""
        if buddies not in self.loaded:
            self.loaded[buddies] = self.load(buddies)
        source, directory, report, seconds = self.loaded[buddies]
        self.databases.copy(source, url)
        if (directory / "uploads").is_dir():
            shutil.copytree(directory / "uploads", os.environ["UPLOAD_DIR"], dirs_exist_ok=True)
        return report, seconds


@pytest.fixture(scope="session")
def demo_worlds(databases: SqliteDatabases | PostgresDatabases, tmp_path_factory: pytest.TempPathFactory) -> DemoWorlds:
    return DemoWorlds(databases, tmp_path_factory.mktemp("demo"))


@pytest.fixture
def empty_database_url(databases: SqliteDatabases | PostgresDatabases, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (not even Alembic's version table)."""
    url = databases.empty(tmp_path)
    yield url
    databases.release(url)


@pytest.fixture
def session_factory(database_url: str) -> Callable[[], Any]:
    """Open units of work on the test database: ``with session_factory() as session: ...``."""
    return functools.partial(db.session_scope, database_url)


@pytest.fixture
def session(session_factory: Callable[[], Any]) -> Iterator[Session]:
    """One unit of work on the test database, committed when the test ends."""
    with session_factory() as opened:
        yield opened


# A small standards set that exercises every criterion type, must-meet, applicability,
# evidence, optional and na criteria; the service tests run against it.
def standards_document() -> dict:
    return document(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q1",
                        [
                            criterion("Q1.1", "yes_no", evidence="required"),
                            criterion("Q1.2", "level"),
                            criterion(
                                "Q1.3", "metric", unit="%", benchmark={"target": 85, "direction": "higher", "amber": 5}
                            ),
                        ],
                        must_meet=True,
                    ),
                    standard(
                        "Q2",
                        [
                            criterion(
                                "Q2.1",
                                "metric",
                                unit="%",
                                benchmark={"target": 3.2, "direction": "lower", "amber": 0.5},
                            ),
                            criterion("Q2.2", "yes_partial_no", allow_na=True),
                            criterion("Q2.3", "text", required=False),
                        ],
                    ),
                    standard(
                        "Q3",
                        [criterion("Q3.1", "yes_no")],
                        applies={"routes": ["specialty"], "specialties": ["spinal"]},
                    ),
                ],
                weight=2,
            ),
            domain(
                "people",
                [
                    standard(
                        "P1",
                        [
                            criterion(
                                "P1.1", "metric", unit="%", benchmark={"target": 90, "direction": "higher", "amber": 5}
                            ),
                            criterion("P1.2", "yes_no", required=False, evidence="optional"),
                        ],
                    ),
                ],
            ),
        ],
        id="test-set",
        version="2026.1",
        alliance="Test Alliance",
    )


#: Answers meeting every applicable standard of the test set for a full member (no breach).
PERFECT = {"Q1.1": "yes", "Q1.2": 4, "Q1.3": 90, "Q2.1": 2.0, "Q2.2": "yes", "P1.1": 95}


@dataclass
class World:
    """A registered standards version, an alliance with two cycles, a member organisation with a full
    membership, and a lead, an admin and a member user."""

    url: str
    standards_path: Path
    alliance_id: int
    version_id: int
    cycle_ids: list[int]
    organisation_id: int
    membership_id: int
    lead: Any
    admin: Any
    member: Any

    def open(self, session: Session, cycle: int = 0, membership_id: int | None = None) -> int:
        from app import services

        assessment = services.open_assessment(
            session, self.member, membership_id=membership_id or self.membership_id, cycle_id=self.cycle_ids[cycle]
        )
        return assessment.id


@functools.cache
def _password_hash(password: str) -> str:
    """scrypt is slow on purpose; the fixture's users share their hashes across tests, made with a small
    work factor (signing in checks them as it checks any other; see tests/web/conftest.py)."""
    from tests.web.conftest import password_hash

    return password_hash(password)


@pytest.fixture
def standards_path(tmp_path: Path) -> Path:
    path = tmp_path / "test-set-2026.1.yaml"
    path.write_text(yaml.safe_dump(standards_document(), sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def world(session_factory: Callable[[], Any], standards_path: Path, database_url: str) -> World:
    from app import services
    from app.services import Actor

    with session_factory() as session:
        version = services.register_version(session, standards_path, services.CLI)
        alliance = services.create_alliance(
            session, services.CLI, slug="test-alliance", name="Test Alliance", standards_set="test-set"
        )
        cycles = [
            services.open_cycle(
                session, services.CLI, alliance_id=alliance.id, name=name, opens_on=start, closes_on=end
            )
            for name, start, end in (
                ("2025/26", dt.date(2025, 4, 1), dt.date(2026, 3, 31)),
                ("2026/27", dt.date(2026, 4, 1), dt.date(2027, 3, 31)),
            )
        ]
        organisation = services.register_organisation(
            session,
            services.CLI,
            name="Royal Orthopaedic Hospital NHS FT",
            ods_code="RRJ",
            org_type="acute",
            region="Birmingham",
            latitude=52.414,
            longitude=-1.966,
        )
        membership = services.apply_for_membership(
            session, services.CLI, organisation_id=organisation.id, alliance_id=alliance.id, route="full"
        )
        users = {}
        for role, extra in (
            ("lead", {"alliance_id": alliance.id}),
            ("admin", {}),
            ("member", {"organisation_id": organisation.id}),
        ):
            password = f"{role}-password-123"
            user = services.create_user(
                session,
                services.CLI,
                email=f"{role}@test.example",
                name=role.title(),
                password=password,
                role=role,
                password_hash=_password_hash(password),
                **extra,
            )
            users[role] = Actor(user.email, user.id)
        return World(
            url=database_url,
            standards_path=standards_path,
            alliance_id=alliance.id,
            version_id=version.id,
            cycle_ids=[c.id for c in cycles],
            organisation_id=organisation.id,
            membership_id=membership.id,
            lead=users["lead"],
            admin=users["admin"],
            member=users["member"],
        )

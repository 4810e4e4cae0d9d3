"""The one place that creates database engines and sessions.

``DATABASE_URL`` selects the database; an SQLite file in ``instance/`` is the
default. The schema belongs to Alembic: ``check_schema`` refuses to run on a
database whose schema is not at the migrations' head and says what to run.
"""

from __future__ import annotations

import json
import os
import re
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = f"sqlite:///{ROOT / 'instance' / 'alliance.db'}"
UPGRADE_COMMAND = "python cli.py db upgrade"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class SchemaOutOfDate(RuntimeError):
    """The database schema is not what this code expects."""


class NestedUnitOfWork(RuntimeError):
    """A thread opened a second SQLite transaction while holding one (it would block on itself)."""


_sqlite_held = threading.local()


#: Execution option of a unit of work that only reads (``read_scope``).
READ_ONLY = "alliance_read_only"


def database_url(url: str | None = None) -> str:
    return url or os.environ.get("DATABASE_URL") or DEFAULT_URL


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL for the process."""
    url = database_url(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            _engines[url] = engine
        return engine


def json_text(value: Any) -> str:
    """JSON text of a value stored in a JSON column: orjson (results are about 14 KB and written in bulk,
    where it is ten times faster), the standard library for what orjson declines (integers beyond 64 bits).
    Keys that are not strings are allowed only on a second try: the check costs orjson half its time again."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        pass
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    """The value of a JSON column's text: orjson, and the standard library for what orjson refuses, so a stored
    value can always be read (see ``_leniently``)."""
    if not isinstance(text, (str, bytes)):  # as the standard library does: SQLite hands back bare numbers
        raise TypeError(f"JSON text expected, not {type(text).__name__}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _leniently(text)


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _leniently(text: str | bytes) -> Any:
    """JSON that orjson refuses but the standard library reads: a lone surrogate escape ("\\ud800", stored
    before text was checked on the way in, or written by another program), NaN or an overflowing number. A
    lone surrogate is no character (no page or file could encode it): it reads as U+FFFD, the replacement
    character, so every page that shows the value still renders."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _without_lone_surrogates(json.loads(text))


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    return value


def _make_engine(url: str) -> Engine:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=json_text,
            json_deserializer=json_value,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001
            # The driver's own transaction handling starts transactions late (and never for
            # SELECT or DDL); we emit BEGIN ourselves below.
            connection.isolation_level = None
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts the database; a power cut may lose the last commits, not an
            # application crash (SQLite's recommended setting for WAL).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:  # noqa: ANN001
            # Take the write lock at the start of every unit of work: a transaction that read first
            # and wrote later would otherwise fail at once ("database is locked") when another
            # writer committed in between, losing that save; this way it waits its turn.
            if connection.get_execution_options().get(READ_ONLY):
                connection.exec_driver_sql("BEGIN")  # a reader: WAL lets it run beside the writer
                return
            held = _sqlite_held.__dict__.setdefault(url, weakref.WeakSet())
            if any(other is not connection and not other.closed and other.in_transaction() for other in held):
                raise NestedUnitOfWork(
                    "a second unit of work was opened on this SQLite database while this thread's first one "
                    "is still open; it would wait for itself. Finish the first, or pass its session along."
                )
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            held.add(connection)

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _sqlite_end(connection) -> None:  # noqa: ANN001
            _sqlite_held.__dict__.setdefault(url, weakref.WeakSet()).discard(connection)

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=json_text, json_deserializer=json_value)


def dispose_engine(url: str | None = None) -> None:
    """Close one database's connections (e.g. before its file is removed)."""
    with _lock:
        engine = _engines.pop(database_url(url), None)
    if engine is not None:
        engine.dispose()


def forget_engines() -> None:
    """In a forked child: drop the engines inherited from the parent without closing their connections
    (they are the parent's), so this process opens its own."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error."""
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work that only reads: on SQLite it does not take the write lock, so readers run beside
    writers (batch jobs read their next batch while another worker writes); it is rolled back at the end."""
    session = Session(get_engine(url).execution_options(**{READ_ONLY: True}), expire_on_commit=False)
    try:
        yield session
    finally:
        session.expunge_all()  # what was read stays readable after the rollback
        session.rollback()
        session.close()


def _alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    from alembic import command

    _migrate(url, command.upgrade, revision)


def downgrade(url: str | None = None, revision: str = "-1") -> None:
    from alembic import command

    _migrate(url, command.downgrade, revision)


def _migrate(url: str | None, step, revision: str) -> None:  # noqa: ANN001
    """Run an Alembic step in one transaction. On SQLite foreign keys are off while it runs (a step that
    rebuilds a table drops the old one, which they would refuse) and checked before it commits: SQLite's
    own procedure for changing a table."""
    url = database_url(url)
    config = _alembic_config(url)
    with get_engine(url).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                step(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise SchemaOutOfDate(
                            f"the migration would leave {len(broken)} rows whose references "
                            f"do not exist (first: {tuple(broken[0])}); nothing was changed"
                        )
        finally:
            if sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(database_url())).get_current_head()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(_alembic_config(database_url())).walk_revisions()}


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]([^'\"]+)['\"]", re.M)


def _head_of_scripts() -> str | None:
    """The head revision as the migration scripts' ``revision`` and ``down_revision`` lines give it; None
    unless every script names one revision and they make one head (then Alembic decides)."""
    scripts = list((ROOT / "migrations" / "versions").glob("*.py"))
    revisions, parents = set(), set()
    for path in scripts:
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    return next(iter(heads)) if len(revisions) == len(scripts) and len(heads) == 1 else None


def _stamped_revision(connection: Any) -> str | None:
    """The revision in Alembic's version table, None if there is no table or not one revision."""
    try:
        stamped = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:
        return None
    return stamped[0][0] if len(stamped) == 1 else None


def check_schema(url: str | None = None) -> None:
    """Raise SchemaOutOfDate, naming the command to run, unless the schema is at head. A database at head is
    recognised without importing Alembic (a fifth of a second, before every command); anything else is
    Alembic's to tell."""
    try:
        with get_engine(url).connect() as connection:
            if _stamped_revision(connection) == _head_of_scripts() is not None:
                return
        current = current_revision(url)
    except Exception as exc:  # noqa: BLE001  (unreachable server, bad URL, unreadable file)
        raise SchemaOutOfDate(
            f"cannot open the database {describe(url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaOutOfDate(f"the database {describe(url)} has no schema yet: run `{UPGRADE_COMMAND}` first")
    if current not in known_revisions():
        raise SchemaOutOfDate(
            f"the database {describe(url)} is at schema revision {current}, which this code does not know "
            f"(it needs {head}): it was upgraded by a newer version of the application"
        )
    raise SchemaOutOfDate(
        f"the database schema of {describe(url)} is out of date (at {current}, this code needs {head}): "
        f"run `{UPGRADE_COMMAND}`"
    )


@dataclass(frozen=True)
class CopiedKey:
    """A column that holds another row's key with no database key to check it (the migration that dropped
    it says why), and the query counting the rows whose copy is wrong."""

    table: str
    column: str
    problem: str
    count_sql: str


COPIED_KEYS = (
    CopiedKey(
        "breach",
        "result_id",
        "whose result does not exist",
        "SELECT count(*) FROM breach b WHERE NOT EXISTS (SELECT 1 FROM assessmentresult r WHERE r.id = b.result_id)",
    ),
    CopiedKey(
        "breach",
        "assessment_id",
        "whose assessment is not their result's",
        "SELECT count(*) FROM breach b JOIN assessmentresult r ON r.id = b.result_id "
        "WHERE r.assessment_id <> b.assessment_id",
    ),
    CopiedKey(
        "rescoreitem",
        "alliance_id",
        "whose alliance does not exist",
        "SELECT count(*) FROM rescoreitem i WHERE NOT EXISTS (SELECT 1 FROM alliance a WHERE a.id = i.alliance_id)",
    ),
    CopiedKey(
        "rescoreitem",
        "alliance_id",
        "whose alliance is not their assessment's",
        "SELECT count(*) FROM rescoreitem i JOIN assessment s ON s.id = i.assessment_id "
        "JOIN membership m ON m.id = s.membership_id WHERE m.alliance_id <> i.alliance_id",
    ),
)


def orphaned_rows(url: str | None = None) -> list[tuple[CopiedKey, int]]:
    """Each check of ``COPIED_KEYS`` that finds rows, with how many (breaches' result key is checked too: a
    tool writing to SQLite with foreign keys off bypasses it)."""
    found = []
    with get_engine(url).execution_options(**{READ_ONLY: True}).connect() as connection:
        for key in COPIED_KEYS:
            count = connection.exec_driver_sql(key.count_sql).scalar() or 0
            if count:
                found.append((key, count))
        connection.rollback()
    return found


def describe(url: str | None = None) -> str:
    """The database's URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(database_url(url)).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "(unreadable DATABASE_URL)"

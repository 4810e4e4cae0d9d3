"""What every service shares: who is acting, errors, the check of what people type, and the audit log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, TypeVar

from sqlalchemy import Table, any_, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, SQLModel

from rules.text import text_problem

from ..db import json_text
from ..models import AuditEvent, utcnow

T = TypeVar("T", bound=SQLModel)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (id and email), or a named process such as the CLI."""

    label: str
    user_id: Optional[int] = None


SYSTEM = Actor("system")
CLI = Actor("cli")


class ServiceError(ValueError):
    """A request the domain refuses, with a message for the person who made it."""


class NotFound(ServiceError):
    pass


def text_problems(values: Mapping[str, Optional[str]], single_line: bool = False) -> list[str]:
    """ "field: problem" for each value that is not text to store and show anywhere (``rules.text``): no NUL,
    lone surrogate or control character. Every service checks what people type with it (the answer check does
    the same for text answers). ``single_line`` for names, titles and the like: no line break or tab either."""
    return [
        f"{name}: {problem}"
        for name, value in values.items()
        if isinstance(value, str) and (problem := text_problem(value, single_line)) is not None
    ]


def require_text(values: Mapping[str, Optional[str]], single_line: bool = False) -> None:
    """Raise ServiceError naming every value that is not text (see ``text_problems``)."""
    problems = text_problems(values, single_line)
    if problems:
        raise ServiceError("; ".join(problems))


def get_or_404(session: Session, model: type[T], ident: Any, what: str | None = None) -> T:
    found = session.get(model, ident)
    if found is None:
        raise NotFound(f"{what or model.__name__.lower()} {ident} does not exist")
    return found


def snapshot(row: SQLModel | None, *fields: str) -> dict[str, Any] | None:
    """A JSON-safe picture of a row (or of some of its fields) for the audit log."""
    if row is None:
        return None
    data = row.model_dump(include=set(fields) if fields else None)
    return {key: _json_safe(value) for key, value in data.items()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def among(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``: one parameter however many values, so a
    statement reads the same each time and the driver and the server parse and plan it once, not once for
    each number of values."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


# One statement, compiled once: the values travel as parameters.
_INSERT_EVENT = insert(AuditEvent)


def audit(
    session: Session,
    actor: Actor,
    action: str,
    entity: SQLModel | None = None,
    *,
    entity_type: str | None = None,
    entity_id: int | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append an audit event in the caller's transaction (so it lands with the change or not at all)."""
    session.execute(
        _INSERT_EVENT,
        {
            "occurred_at": utcnow(),
            "actor_id": actor.user_id,
            "actor": actor.label,
            "action": action,
            "entity_type": entity_type or (type(entity).__name__.lower() if entity is not None else "none"),
            "entity_id": entity_id if entity_id is not None else getattr(entity, "id", None),
            "before": before,
            "after": after,
        },
    )


def insert_rows(
    session: Session, table: Table, rows: list[dict[str, Any]], stored_as_is: frozenset[str] = frozenset()
) -> None:
    """Insert many rows (each with the same keys) in the caller's transaction. ``stored_as_is``: JSON columns
    whose values are already JSON text.

    Both go below SQLAlchemy's per-row work: SQLite runs in this process, and its driver's own ``executemany``
    takes the rows; PostgreSQL takes them as one ``COPY`` (no statement to parse, plan and run per row)."""
    if not rows:
        return
    names = list(rows[0])
    dialect = session.get_bind().dialect
    by_column = []  # built column by column, each converter mapped over its column: no per-value Python loop
    for name in names:
        column = [row[name] for row in rows]
        to_stored = None if name in stored_as_is else table.c[name].type.bind_processor(dialect)
        by_column.append(column if to_stored is None else list(map(to_stored, column)))
    values = list(zip(*by_column))
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    if dialect.name == "postgresql":
        connection = session.connection()
        types = _binary_copy_types(connection, quote(table.name), names)
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(
                f"COPY {quote(table.name)} ({columns}) FROM STDIN" + (" (FORMAT BINARY)" if types else "")
            ) as copy:
                if types:
                    copy.set_types(types)
                for row in values:
                    copy.write_row(row)
        return
    session.connection().exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({', '.join('?' for _ in names)})", values
    )


#: Types whose binary COPY form psycopg writes from the values as bound; JSON and varchar go as text, which
#: is their binary form too (the server still checks JSON).
_AS_TEXT = {114: 25, 1043: 25}  # json, varchar -> text
_BINARY_COPY = {16, 20, 23, 25, 701, 1184}  # bool, int8, int4, text, float8, timestamptz


def _binary_copy_types(connection: Any, table: str, names: list[str]) -> Optional[list[int]]:
    """The type oids to send these columns as in a binary ``COPY``, or None where a column's type has no
    binary form here (that table goes as text). Binary rows need no escaping on either side: about a third
    less time for ten thousand results of 12 KB of JSON each. Looked up once per connection and table."""
    known = connection.info.setdefault("copy_types", {})
    if table not in known:
        known[table] = dict(
            connection.exec_driver_sql(
                "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %(table)s::regclass AND attnum > 0 "
                "AND NOT attisdropped",
                {"table": table},
            ).all()
        )
    oids = [_AS_TEXT.get(known[table].get(name), known[table].get(name)) for name in names]
    return oids if all(oid in _BINARY_COPY for oid in oids) else None


def update_rows(session: Session, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """Update many rows of ``table`` found by their ``key`` column, each with values of its own (each row with
    the same keys), in the caller's transaction.

    SQLite takes them through its driver's own ``executemany``; PostgreSQL as one statement over the rows sent
    as one JSON array (``json_to_recordset``), not a statement per row."""
    if not rows:
        return
    names = [name for name in rows[0] if name != key]
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    if dialect.name == "postgresql":
        session.execute(
            text(
                f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(n)} = r.{quote(n)}' for n in names)} "
                f"FROM {_recordset(dialect, table, [key, *names])} "
                f"WHERE {quote(table.name)}.{quote(key)} = r.{quote(key)}"
            ),
            {"rows": json_text(rows)},
        )
        return
    convert = [table.c[name].type.bind_processor(dialect) for name in [*names, key]]
    session.connection().exec_driver_sql(
        f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(n)} = ?' for n in names)} WHERE {quote(key)} = ?",
        [
            tuple(
                value if to_stored is None else to_stored(value)
                for to_stored, value in zip(convert, [*(row[name] for name in names), row[key]])
            )
            for row in rows
        ],
    )


def insert_returning_ids(
    session: Session, table: Table, rows: list[dict[str, Any]], distinct_by: tuple[str, ...]
) -> list[int]:
    """Insert many rows (each with the same keys) and return their ids in the rows' order; ``distinct_by``
    names columns whose values tell the rows apart. On PostgreSQL the rows go as one JSON array, so the
    statement reads the same however many there are; elsewhere as SQLAlchemy's insert with RETURNING."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return list(
            session.connection()
            .execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            .scalars()
            .all()
        )
    names = list(rows[0])
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    found = {
        tuple(returned[1:]): returned[0]
        for returned in session.execute(
            text(
                f"INSERT INTO {quote(table.name)} ({columns}) SELECT {columns} FROM {_recordset(dialect, table, names)} "
                f"RETURNING id, {', '.join(quote(name) for name in distinct_by)}"
            ),
            {"rows": json_text(rows)},
        )
    }
    return [found[tuple(row[name] for name in distinct_by)] for row in rows]


def _recordset(dialect: Any, table: Table, names: list[str]) -> str:
    """``json_to_recordset`` over a JSON array parameter ``:rows``, as table ``r`` with these columns."""
    quote = dialect.identifier_preparer.quote
    fields = ", ".join(f"{quote(name)} {table.c[name].type.compile(dialect)}" for name in names)
    return f"json_to_recordset(CAST(:rows AS json)) AS r({fields})"


def audit_many(
    session: Session, actor: Actor, action: str, entity_type: str, events: list[tuple[Optional[int], Any, Any]]
) -> None:
    """Append many audit events of one kind at once: (entity id, before, after) each."""
    now = utcnow()
    insert_rows(
        session,
        AuditEvent.__table__,
        [
            {
                "occurred_at": now,
                "actor_id": actor.user_id,
                "actor": actor.label,
                "action": action,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "before": before,
                "after": after,
            }
            for entity_id, before, after in events
        ],
    )

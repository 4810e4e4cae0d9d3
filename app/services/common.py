"""What every service shares: who is acting, errors, and the audit log."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from sqlalchemy import JSON, Table, Text, bindparam, cast, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, SQLModel

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


# One statement, compiled once: the values travel as parameters.
_INSERT_EVENT = insert(AuditEvent)


def audit(session: Session, actor: Actor, action: str, entity: SQLModel | None = None, *,
          entity_type: str | None = None, entity_id: int | None = None,
          before: Any = None, after: Any = None) -> None:
    """Append an audit event in the caller's transaction (so it lands with the change or not at all)."""
    session.execute(_INSERT_EVENT, {
        "occurred_at": utcnow(), "actor_id": actor.user_id, "actor": actor.label, "action": action,
        "entity_type": entity_type or (type(entity).__name__.lower() if entity is not None else "none"),
        "entity_id": entity_id if entity_id is not None else getattr(entity, "id", None),
        "before": before, "after": after,
    })


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]],
                stored_as_is: frozenset[str] = frozenset()) -> None:
    """Insert many rows (each with the same keys) in the caller's transaction. ``stored_as_is``: JSON columns
    whose values are already JSON text.

    SQLite runs in this process: the driver's own ``executemany`` takes them. On PostgreSQL rows of plain
    values go as one statement over arrays (``unnest``), so the server plans and runs one statement, not one
    per row; rows with JSON go one statement per row (the driver escapes JSON text in arrays slowly)."""
    if not rows:
        return
    names = list(rows[0])
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        if any(isinstance(table.c[name].type, JSON) for name in names):
            as_is = {name: cast(bindparam(name, type_=Text), table.c[name].type) for name in stored_as_is}
            session.connection().execute(insert(table).values(as_is) if as_is else insert(table), rows)
            return
        arrays = [bindparam(f"column_{i}", _one_type([row[name] for row in rows], table.c[name].type),
                            type_=ARRAY(table.c[name].type)) for i, name in enumerate(names)]
        unnested = func.unnest(*arrays).table_valued(*names).render_derived()
        session.connection().execute(insert(table).from_select(names, select(*[unnested.c[n] for n in names])))
        return
    convert = [None if name in stored_as_is else table.c[name].type.bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    statement = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
                 f"VALUES ({', '.join('?' for _ in names)})")
    session.connection().exec_driver_sql(statement, [
        tuple(value if to_stored is None else to_stored(value)
              for to_stored, value in zip(convert, (row[name] for name in names))) for row in rows])


def _one_type(values: list, column_type: Any) -> list:
    """An array's values all of one type, as the driver requires (a float column's 95 and 7.5 as floats)."""
    if getattr(column_type, "asdecimal", None) is False:  # Float
        return [None if value is None else float(value) for value in values]
    return values


def audit_many(session: Session, actor: Actor, action: str, entity_type: str,
               events: list[tuple[Optional[int], Any, Any]]) -> None:
    """Append many audit events of one kind at once: (entity id, before, after) each."""
    now = utcnow()
    insert_rows(session, AuditEvent.__table__, [
        {"occurred_at": now, "actor_id": actor.user_id, "actor": actor.label, "action": action,
         "entity_type": entity_type, "entity_id": entity_id, "before": before, "after": after}
        for entity_id, before, after in events])

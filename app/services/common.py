"""What every service shares: who is acting, errors, and the audit log."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

from sqlalchemy import Table, bindparam, func, insert, select
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


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (each with the same keys) in the caller's transaction. On PostgreSQL they go as one
    statement over arrays (``unnest``), so the server plans and runs one statement, not one per row;
    SQLite runs in this process, where one statement per row costs nothing extra."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.connection().execute(insert(table), rows)
        return
    names = list(rows[0])
    arrays = [bindparam(f"column_{i}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
              for i, name in enumerate(names)]
    unnested = func.unnest(*arrays).table_valued(*names).render_derived()
    session.connection().execute(insert(table).from_select(names, select(*[unnested.c[n] for n in names])))


def audit_many(session: Session, actor: Actor, action: str, entity_type: str,
               events: list[tuple[Optional[int], Any, Any]]) -> None:
    """Append many audit events of one kind at once: (entity id, before, after) each."""
    now = utcnow()
    insert_rows(session, AuditEvent.__table__, [
        {"occurred_at": now, "actor_id": actor.user_id, "actor": actor.label, "action": action,
         "entity_type": entity_type, "entity_id": entity_id, "before": before, "after": after}
        for entity_id, before, after in events])

"""What every service shares: who is acting, errors, and the audit log."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

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


def audit(session: Session, actor: Actor, action: str, entity: SQLModel | None = None, *,
          entity_type: str | None = None, entity_id: int | None = None,
          before: Any = None, after: Any = None) -> AuditEvent:
    """Append an audit event in the caller's transaction (so it lands with the change or not at all)."""
    event = AuditEvent(
        occurred_at=utcnow(), actor_id=actor.user_id, actor=actor.label, action=action,
        entity_type=entity_type or (type(entity).__name__.lower() if entity is not None else "none"),
        entity_id=entity_id if entity_id is not None else getattr(entity, "id", None),
        before=before, after=after,
    )
    session.add(event)
    return event

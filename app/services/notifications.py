"""In-app notifications to a member organisation: written when a lead comments, decides or returns an
assessment, listed on the member's home page and marked read there.

A notification belongs to an organisation; ``mark_read`` refuses (``NotFound``) another organisation's, so a
member cannot tell whether an id exists elsewhere.
"""

from __future__ import annotations

from typing import Optional

from sqlmodel import Session, col, select

from ..models import Notification, utcnow
from .common import Actor, NotFound


def notify(
    session: Session, organisation_id: int, kind: str, title: str, body: str = "", assessment_id: Optional[int] = None
) -> Notification:
    notice = Notification(
        organisation_id=organisation_id, assessment_id=assessment_id, kind=kind, title=title, body=body
    )
    session.add(notice)
    session.flush()
    return notice


def notifications_of(session: Session, organisation_id: int, unread_only: bool = False) -> list[Notification]:
    query = select(Notification).where(Notification.organisation_id == organisation_id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    return list(session.exec(query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())).all())


def mark_read(session: Session, actor: Actor, organisation_id: int, notification_id: int) -> Notification:
    notice = session.get(Notification, notification_id)
    if notice is None or notice.organisation_id != organisation_id:
        raise NotFound(f"notification {notification_id} does not exist")
    if notice.read_at is None:
        notice.read_at, notice.read_by = utcnow(), actor.user_id
        session.add(notice)
    return notice

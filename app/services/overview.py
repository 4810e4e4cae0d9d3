"""Landing-page figures for alliance leads and operators."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import func
from sqlmodel import Session, select

from ..models import Alliance, Assessment, Membership, Organisation, User


def counts(session: Session) -> dict[str, int]:
    """How many of each thing the service holds."""

    def count(model) -> int:
        return session.exec(select(func.count()).select_from(model)).one()

    return {
        "alliances": count(Alliance),
        "organisations": count(Organisation),
        "memberships": count(Membership),
        "assessments": count(Assessment),
        "users": count(User),
    }


def alliance(session: Session, alliance_id: Optional[int]) -> Optional[Alliance]:
    return session.get(Alliance, alliance_id) if alliance_id is not None else None

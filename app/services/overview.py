"""Landing-page figures for alliance leads and operators."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func
from sqlmodel import Session, col, select

from ..models import Alliance, Assessment, AssessmentCycle, AssessmentResult, Membership, Organisation, User


@dataclass(frozen=True)
class QueueRow:
    assessment: Assessment
    organisation: Organisation
    membership: Membership
    cycle: AssessmentCycle
    outcome: Optional[str]


def review_queue(session: Session, alliance_id: int) -> list[QueueRow]:
    """The alliance's assessments that members have submitted, oldest submission first."""
    rows = session.exec(
        select(Assessment, Membership, Organisation, AssessmentCycle)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(Membership.alliance_id == alliance_id, Assessment.status != "draft")
        .order_by(Assessment.submitted_at, Assessment.id)
    ).all()
    ids = [a.id for a, _, _, _ in rows]
    outcomes = dict(session.exec(select(AssessmentResult.assessment_id, AssessmentResult.outcome).where(
        AssessmentResult.is_current == True, col(AssessmentResult.assessment_id).in_(ids))).all()) if ids else {}  # noqa: E712
    return [QueueRow(a, o, m, c, outcomes.get(a.id)) for a, m, o, c in rows]


def counts(session: Session) -> dict[str, int]:
    """How many of each thing the service holds."""
    def count(model) -> int:
        return session.exec(select(func.count()).select_from(model)).one()

    return {"alliances": count(Alliance), "organisations": count(Organisation), "memberships": count(Membership),
            "assessments": count(Assessment), "users": count(User)}


def alliance(session: Session, alliance_id: Optional[int]) -> Optional[Alliance]:
    return session.get(Alliance, alliance_id) if alliance_id is not None else None

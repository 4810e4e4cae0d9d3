"""Who of an alliance's leads is to review each of its submitted self-assessments: one reviewer at a time,
set and cleared by the alliance's leads (from the queue or the assessment's page), each change audited.

A reviewer is an active lead of the assessment's own alliance; an assessment of another alliance is not found.
"""

from __future__ import annotations

from typing import Optional

from sqlmodel import Session, col, select

from ..models import ReviewAssignment, User, utcnow
from .common import Actor, ServiceError, audit
from .review import lead_assessment

#: The reviewer filter's and form's own values (besides a reviewer's id).
ME, NOBODY = "me", "nobody"


def reviewers_of(session: Session, alliance_id: int) -> list[User]:
    """The alliance's active leads: who may be assigned its assessments."""
    return list(
        session.exec(
            select(User)
            .where(User.alliance_id == alliance_id, User.role == "lead", User.active == True)  # noqa: E712
            .order_by(col(User.name), col(User.id))
        ).all()
    )


def assign(
    session: Session, actor: Actor, alliance_id: Optional[int], assessment_id: int, reviewer_id: Optional[int]
) -> Optional[User]:
    """Assign an assessment of the lead's alliance to one of its leads (``None``: to nobody), audited; the
    reviewer it is assigned to now.

    An assessment of another alliance is not found; a reviewer who is not an active lead of this alliance is
    refused, by the same words whether or not that person exists."""
    lead_assessment(session, alliance_id, assessment_id)
    reviewer = None
    if reviewer_id is not None:
        reviewer = session.get(User, reviewer_id)
        if reviewer is None or reviewer.role != "lead" or reviewer.alliance_id != alliance_id or not reviewer.active:
            raise ServiceError("reviewer: choose a lead of this alliance from the list")
    current = session.get(ReviewAssignment, assessment_id)
    before = {"reviewer_id": current.reviewer_id} if current else None
    if (current.reviewer_id if current else None) == reviewer_id:
        return reviewer
    if reviewer_id is None:
        session.delete(current)
        session.flush()
        row = None
    else:
        if current is None:
            current = ReviewAssignment(assessment_id=assessment_id, reviewer_id=reviewer_id)
            session.add(current)
        current.reviewer_id, current.assigned_by, current.assigned_at = reviewer_id, actor.user_id, utcnow()
        session.flush()
        row = current
    audit(
        session,
        actor,
        "assessment.assigned" if row else "assessment.unassigned",
        entity_type="assessment",
        entity_id=assessment_id,
        before=before,
        after={"reviewer_id": reviewer_id} if row else None,
    )
    return reviewer


def assignment_of(session: Session, alliance_id: Optional[int], assessment_id: int) -> Optional[ReviewAssignment]:
    lead_assessment(session, alliance_id, assessment_id)
    return session.get(ReviewAssignment, assessment_id)


def reviewer_name(session: Session, assignment: Optional[ReviewAssignment]) -> Optional[str]:
    reviewer = session.get(User, assignment.reviewer_id) if assignment else None
    return reviewer.name if reviewer else None


def parse_reviewer(raw: str, viewer_id: Optional[int]) -> Optional[int]:
    """A reviewer as a form sends it: a user id, "me", or nothing (nobody)."""
    value = (raw or "").strip()
    if not value or value == NOBODY:
        return None
    if value == ME:
        return viewer_id
    if value.isascii() and value.isdigit() and len(value) <= 12:
        return int(value)
    raise ServiceError("reviewer: choose a lead of this alliance from the list")

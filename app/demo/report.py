"""What a demo load reports: the counts and notes of what was added, and the demo users.

``world_counts`` and ``world_notes`` read the database after the story has run, as the screens will show
it; ``demo_users`` lists every account of the world with its password (for the demonstration only).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlmodel import Session, func, select

from ..models import (
    Alliance,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    BuddyAssignment,
    Membership,
    Notification,
    Organisation,
    ResultOverride,
    ReviewComment,
    User,
)
from ..services import plans as plan_service
from .world import World, read_world


@dataclass
class DemoReport:
    """What a load added (nothing, when the world was there already) and who can sign in."""

    added: bool
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    users: list[tuple[str, str, str, str]] = field(default_factory=list)  # role, email, password, where

    def lines(self) -> list[str]:
        """What ``demo load`` prints: what was added, then the demo users as a table (last, so a script that
        starts the server next leaves them in view)."""
        if self.added:
            out = ["demo data loaded: " + ", ".join(f"{n} {what}" for what, n in self.counts.items())]
        else:
            out = ["demo data already loaded: nothing added"]
        out += [f"  {note}" for note in self.notes]
        out.append("demo users (these passwords are for the demonstration only):")
        rows = [("role", "email", "password", "for")]
        rows += [(role, email, password, _short(where)) for role, email, password, where in self.users]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        out += [
            "  " + "  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths)) + "  " + row[3] for row in rows
        ]
        return out


def _short(name: str) -> str:
    """An organisation's name without its NHS trust suffix, so a row of the users table fits on one line."""
    for suffix in (" NHS Foundation Trust", " NHS Trust"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def demo_users(world: Optional[World] = None) -> list[tuple[str, str, str, str]]:
    """Every demo account: (role, email, password, what it belongs to)."""
    world = world or read_world()
    users = [("admin", world.admin.email, world.admin.password, "every alliance")]
    users += [("lead", a.lead.email, a.lead.password, a.name) for a in world.alliances]
    seen = []
    for alliance in world.alliances:
        for story in alliance.stories:
            if story.ods not in seen:
                seen.append(story.ods)
    users += [
        ("member", world.member_account(ods).email, world.member_account(ods).password, world.organisations[ods].name)
        for ods in seen
    ]
    return users


def world_counts(session: Session) -> dict[str, int]:
    """How many of each kind of thing the database holds."""

    def count(model: Any) -> int:
        return session.exec(select(func.count()).select_from(model)).one()

    return {
        "alliances": count(Alliance),
        "organisations": count(Organisation),
        "memberships": count(Membership),
        "cycles": count(AssessmentCycle),
        "assessments": count(Assessment),
        "users": count(User),
    }


def world_notes(session: Session) -> list[str]:
    """One line per aspect of the loaded world: states, outcomes, memberships, the lead's review work."""
    results = session.exec(select(AssessmentResult).where(AssessmentResult.is_current == True)).all()  # noqa: E712
    outcomes = Counter(r.outcome for r in results)
    statuses = Counter(session.exec(select(Membership.status)).all())
    states = Counter(session.exec(select(Assessment.status)).all())
    recommended = session.exec(
        select(Organisation.name)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Membership.suspension_recommended == True)
    ).all()  # noqa: E712
    notes = [
        "assessments: " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(states.items())),
        "outcomes: " + ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in sorted(outcomes.items())),
        "memberships: " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(statuses.items())),
    ]
    if recommended:
        notes.append("suspension recommended, awaiting the lead: " + "; ".join(recommended))
    notes += _review_notes(session)
    return notes


def _review_notes(session: Session) -> list[str]:
    """One line per kind of the lead's review work, as the screens will show it."""
    comments = session.exec(select(ReviewComment)).all()
    notices = Counter(session.exec(select(Notification.kind)).all())
    overrides = Counter(session.exec(select(ResultOverride.kind)).all())
    tracked = [
        t
        for alliance_id in session.exec(select(Alliance.id)).all()
        for t in plan_service.alliance_plans(session, alliance_id)
    ]
    pairs = session.exec(select(BuddyAssignment)).all()
    return [
        f"lead comments: {len(comments)} ({sum(1 for c in comments if c.criterion_id)} on a question)",
        "lead overrides: " + ", ".join(f"{n} {kind}" for kind, n in sorted(overrides.items())),
        "notifications to members: " + ", ".join(f"{n} {kind}" for kind, n in sorted(notices.items())),
        f"improvement plans: {len(tracked)} ({sum(t.overdue for t in tracked)} overdue, "
        f"{sum(1 for t in tracked if t.plan.progress == 'in_progress' and not t.overdue)} in progress, "
        f"{sum(1 for t in tracked if t.closed_by is not None)} closed by a later cycle)",
        f"buddying proposals: {sum(1 for p in pairs if p.buddy_membership_id)} pairs, "
        f"{sum(1 for p in pairs if not p.buddy_membership_id)} needs without a buddy",
    ]

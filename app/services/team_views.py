"""What the Team page and "My questions" show (``teams`` holds the rules): a member organisation's people with
their roles, who owns each domain and standard of a self-assessment with its progress, the standards assigned
to one person, and the owners of a domain page's standards. Always the viewer's own organisation: another's
assessment is not found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from sqlmodel import Session, col, select

from rules.model import Standard

from ..models import Answer, Assessment, Membership, Organisation, User
from .common import NotFound, get_or_404
from .teams import active_members, assessment_parts, is_org_admin, owner_of, owners, roles_of, words


def owners_on_page(
    session: Session, viewer_id: int, membership_id: int, standards: Iterable[Standard]
) -> list[tuple[Standard, str, bool]]:
    """Each of these standards that has an owner: (standard, owner's name, whether it is the viewer)."""
    assigned = owners(session, membership_id)
    found = []
    for standard in standards:
        owner = owner_of(assigned, standard)
        if owner is not None:
            found.append((standard, getattr(session.get(User, owner), "name", "a colleague"), owner == viewer_id))
    return found


# -- pages' read models ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mate:
    id: int
    name: str
    email: str
    roles: frozenset[str]
    owns: tuple[str, ...]

    @property
    def role_words(self) -> str:
        return words(self.roles)


@dataclass
class Area:
    """A domain or standard, its owner, and (for "My questions") its progress."""

    scope: str
    ref: str
    title: str
    owner_id: Optional[int] = None
    inherited: bool = False
    domain: str = ""
    answered: int = 0
    total: int = 0
    criteria: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TeamView:
    organisation: Organisation
    mates: list[Mate]
    may_manage: bool
    areas: list[Area]
    assessment_id: Optional[int]


def _latest_assessment(session: Session, organisation_id: int, assessment_id: Optional[int]) -> Optional[Assessment]:
    query = (
        select(Assessment)
        .join(Membership, col(Membership.id) == Assessment.membership_id)
        .where(Membership.organisation_id == organisation_id)
    )
    if assessment_id is not None:
        found = session.exec(query.where(Assessment.id == assessment_id)).first()
        if found is None:
            raise NotFound(f"assessment {assessment_id} does not exist")
        return found
    return session.exec(query.order_by(col(Assessment.id).desc())).first()


def _areas(session: Session, assessment: Assessment) -> list[Area]:
    _, membership, standards = assessment_parts(session, assessment.id)
    organisation = session.get(Organisation, membership.organisation_id)
    assigned = owners(session, membership.id)
    answered = {
        a.criterion_id
        for a in session.exec(select(Answer).where(Answer.assessment_id == assessment.id))
        if a.value is not None
    }
    areas = []
    for domain in standards.domains:
        applying = [
            s
            for s in domain.standards
            if s.applies.covers(membership.route, membership.specialty, organisation.org_type)
        ]
        if not applying:
            continue
        areas.append(Area("domain", domain.id, domain.title, assigned.get(("domain", domain.id)), domain=domain.id))
        for standard in applying:
            own = assigned.get(("standard", standard.id))
            criteria = [c.id for c in standard.criteria]
            areas.append(
                Area(
                    "standard",
                    standard.id,
                    standard.title,
                    own if own is not None else owner_of(assigned, standard),
                    inherited=own is None,
                    domain=domain.id,
                    answered=sum(1 for c in criteria if c in answered),
                    total=len(criteria),
                    criteria=criteria,
                )
            )
    for area in areas:
        if area.scope == "domain":
            parts = [a for a in areas if a.scope == "standard" and a.domain == area.ref]
            area.answered, area.total = sum(a.answered for a in parts), sum(a.total for a in parts)
            area.criteria = [c for a in parts for c in a.criteria]
    return areas


def team(session: Session, viewer_id: int, assessment_id: Optional[int] = None) -> TeamView:
    """The viewer's organisation's team: people and their roles, and who owns which domain and standard of an
    assessment (the latest, unless one is named). Another organisation's assessment is not found."""
    viewer = get_or_404(session, User, viewer_id, "user")
    if viewer.role != "member" or viewer.organisation_id is None:
        raise NotFound("only a member organisation has a team")
    organisation = get_or_404(session, Organisation, viewer.organisation_id)
    assessment = _latest_assessment(session, organisation.id, assessment_id)
    areas = _areas(session, assessment) if assessment is not None else []
    owned: dict[int, list[str]] = {}
    if assessment is not None:
        for (scope, ref), uid in owners(session, assessment.membership_id).items():
            owned.setdefault(uid, []).append(f"{scope} {ref}")
    mates = [
        Mate(m.id, m.name, m.email, roles_of(m), tuple(sorted(owned.get(m.id, []))))
        for m in active_members(session, organisation.id)
    ]
    return TeamView(organisation, mates, is_org_admin(session, viewer), areas, assessment.id if assessment else None)


@dataclass(frozen=True)
class MyAssessment:
    assessment: Assessment
    title: str
    areas: list[Area]

    @property
    def answered(self) -> int:
        return sum(a.answered for a in self.areas if a.scope == "standard")

    @property
    def total(self) -> int:
        return sum(a.total for a in self.areas if a.scope == "standard")


def my_questions(session: Session, user_id: int) -> list[MyAssessment]:
    """The standards assigned to a person (their own, or through their domain), per draft of their
    organisation, with how many of their questions are answered."""
    user = get_or_404(session, User, user_id, "user")
    if user.role != "member" or user.organisation_id is None:
        return []
    drafts = session.exec(
        select(Assessment, Membership)
        .join(Membership, col(Membership.id) == Assessment.membership_id)
        .where(Membership.organisation_id == user.organisation_id, Assessment.status == "draft")
        .order_by(col(Assessment.id))
    ).all()
    mine = []
    for assessment, membership in drafts:
        areas = [a for a in _areas(session, assessment) if a.owner_id == user.id and a.scope == "standard"]
        if areas:
            title = f"{membership.route}{' ' + membership.specialty if membership.specialty else ''}"
            mine.append(MyAssessment(assessment, f"Self-assessment {assessment.id} ({title})", areas))
    return mine

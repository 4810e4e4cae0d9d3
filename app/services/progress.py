"""How far a self-assessment has got, domain by domain.

"Complete" means what submission means (``missing_for_submission``): every
required answer given and every required piece of evidence attached, so the
progress a member sees and the check at submission never disagree. A
conditional question the answers leave unasked (``questions.not_asked``) is
not counted: neither as a question to answer nor as one answered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from rules.model import Criterion, Domain, Standard

from ..models import Evidence
from .assessments import AssessmentContext, answers_of
from .evidence import evidence_of
from .questions import NotAsked, not_asked
from .submission import missing_for_submission

NOT_STARTED, IN_PROGRESS, COMPLETED = "not_started", "in_progress", "completed"


@dataclass
class DomainProgress:
    domain: Domain
    standards: list[Standard] = field(default_factory=list)
    criteria: list[Criterion] = field(default_factory=list)
    answered: int = 0
    asked: int = 0
    missing: list[dict[str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.missing:
            return COMPLETED
        return NOT_STARTED if self.answered == 0 else IN_PROGRESS


@dataclass
class Progress:
    domains: list[DomainProgress]
    answers: dict[str, Any]
    evidence: dict[str, list[Evidence]]
    missing: list[dict[str, str]]
    not_asked: dict[str, NotAsked] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.missing

    def domain(self, domain_id: str) -> DomainProgress | None:
        return next((d for d in self.domains if d.domain.id == domain_id), None)

    def next_domain(self, domain_id: str) -> str | None:
        """The domain after this one, in file order (None after the last)."""
        ids = [d.domain.id for d in self.domains]
        index = ids.index(domain_id) if domain_id in ids else len(ids)
        return ids[index + 1] if index + 1 < len(ids) else None


def evidence_by_criterion(session: Session, assessment_id: int) -> dict[str, list[Evidence]]:
    found: dict[str, list[Evidence]] = defaultdict(list)
    for item in evidence_of(session, assessment_id):
        found[item.criterion_id].append(item)
    return dict(found)


def progress(session: Session, ctx: AssessmentContext) -> Progress:
    """Per applicable domain: its applicable standards and criteria, how many are answered, what is missing."""
    answers = answers_of(session, ctx.assessment.id)
    missing = missing_for_submission(session, ctx)
    unasked = not_asked(ctx, answers)
    by_domain: dict[str, DomainProgress] = {}
    for standard, criterion in ctx.applicable_criteria():
        row = by_domain.get(standard.domain)
        if row is None:
            domain = next(d for d in ctx.standards.domains if d.id == standard.domain)
            row = by_domain[standard.domain] = DomainProgress(domain)
        if standard not in row.standards:
            row.standards.append(standard)
        row.criteria.append(criterion)
        if criterion.id in unasked:
            continue
        row.asked += 1
        value = answers.get(criterion.id)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            row.answered += 1
    for item in missing:
        standard, _ = ctx.standards.criterion_lookup[item["criterion"]]
        by_domain[standard.domain].missing.append(item)
    ordered = [by_domain[d.id] for d in ctx.standards.domains if d.id in by_domain]
    return Progress(ordered, answers, evidence_by_criterion(session, ctx.assessment.id), missing, unasked)

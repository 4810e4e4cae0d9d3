"""Service layer: the domain's operations, with no Flask in them.

Each function takes an open session and an ``Actor``, does its work and writes
its audit events in the caller's transaction (``app.db.session_scope``), so a
change and its audit record land together or not at all.
"""

from .accounts import authenticate, create_user
from .alliances import create_alliance, cycles_of, open_cycle, set_retention_policy
from .assessments import SaveOutcome, answers_of, open_assessment, return_to_draft, save_answers, start_review
from .common import CLI, SYSTEM, Actor, NotFound, ServiceError, audit
from .decisions import (
    DECISIONS,
    apply_retention_policy,
    consecutive_major_breaches,
    dismiss_suspension_recommendation,
    record_decision,
    suspension_recommendations,
)
from .evidence import add_evidence, evidence_of, remove_evidence
from .membership import (
    TransitionRefused,
    apply_for_membership,
    change_membership_status,
    change_status,
    history,
    register_organisation,
)
from .scoring import current_result, score, store_result
from .standards import latest_published, parsed, register_version, set_version_state
from .submission import SubmissionRefused, missing_for_submission, submit

__all__ = [
    "CLI",
    "DECISIONS",
    "SYSTEM",
    "Actor",
    "NotFound",
    "SaveOutcome",
    "ServiceError",
    "SubmissionRefused",
    "TransitionRefused",
    "add_evidence",
    "answers_of",
    "apply_for_membership",
    "apply_retention_policy",
    "audit",
    "authenticate",
    "change_membership_status",
    "change_status",
    "consecutive_major_breaches",
    "create_alliance",
    "create_user",
    "current_result",
    "cycles_of",
    "dismiss_suspension_recommendation",
    "evidence_of",
    "history",
    "latest_published",
    "missing_for_submission",
    "open_assessment",
    "open_cycle",
    "parsed",
    "record_decision",
    "register_organisation",
    "register_version",
    "remove_evidence",
    "return_to_draft",
    "save_answers",
    "score",
    "set_retention_policy",
    "set_version_state",
    "start_review",
    "store_result",
    "submit",
    "suspension_recommendations",
]

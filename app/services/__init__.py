"""Service layer: the domain's operations, with no Flask in them.

Each function takes an open session and an ``Actor``, does its work and writes
its audit events in the caller's transaction (``app.db.session_scope``), so a
change and its audit record land together or not at all.
"""
from .accounts import authenticate, create_user
from .assessments import (SaveOutcome, SubmissionRefused, add_evidence, answers_of, current_result,
                          missing_for_submission, open_assessment, save_answers, score, store_result, submit)
from .common import CLI, SYSTEM, Actor, NotFound, ServiceError, audit
from .decisions import DECISIONS, apply_retention_policy, consecutive_major_breaches, record_decision
from .membership import apply_for_membership, change_status, register_organisation
from .standards import latest_published, parsed, register_version

__all__ = [
    "CLI", "DECISIONS", "SYSTEM", "Actor", "NotFound", "SaveOutcome", "ServiceError", "SubmissionRefused",
    "add_evidence", "answers_of", "apply_for_membership", "apply_retention_policy", "audit", "authenticate",
    "change_status", "consecutive_major_breaches", "create_user", "current_result", "latest_published",
    "missing_for_submission", "open_assessment", "parsed", "record_decision", "register_organisation",
    "register_version", "save_answers", "score", "store_result", "submit",
]

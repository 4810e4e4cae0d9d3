"""The standards engine: load standards files and score self-assessments.

Pure Python (no Flask, no database) so the CLI, the web app and batch jobs all
call the same code.
"""

from .answers import AnswersError, Member, Submission, check_answer, read_submission
from .compiling import compiled, release
from .durable_engine import RulesEngineError
from .loader import StandardsError, load_standards, parse_standards
from .model import StandardsSet
from .overrides import (
    CriterionOverride,
    DroppedOverride,
    Overrides,
    OverridesError,
    StandardOverride,
    check_overrides,
    split_overrides,
)
from .scoring import score, score_submission

__all__ = [
    "AnswersError",
    "CriterionOverride",
    "DroppedOverride",
    "Member",
    "Overrides",
    "OverridesError",
    "RulesEngineError",
    "StandardOverride",
    "StandardsError",
    "StandardsSet",
    "Submission",
    "check_answer",
    "check_overrides",
    "compiled",
    "load_standards",
    "parse_standards",
    "read_submission",
    "release",
    "score",
    "score_submission",
    "split_overrides",
]

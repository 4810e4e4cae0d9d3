"""The record of queued tasks that failed: written by the queue's error signal (``app/jobs/failures.py``),
read by operators on ``/admin/jobs`` and with ``cli.py jobs failures``.

A failure keeps what names it and no more: the task, its id, the attempt, the error's type and the first line
of its message (cut short). The traceback stays in the worker's log; a task's arguments are not copied, only
the ids among them (``subject``), so no one's answers or notes land here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlmodel import Session, col, select

from ..models import JobFailure

MESSAGE_CHARS = 300
LIMIT = 100


def subject_of(args: Iterable[Any]) -> str:
    """The ids among a task's arguments (whole numbers), the only arguments a failure keeps."""
    ids = [str(a) for a in args if isinstance(a, int) and not isinstance(a, bool)]
    return ("ids " + ", ".join(ids))[:200] if ids else ""


def message_of(error: BaseException) -> str:
    """The first line of an error's message, cut to ``MESSAGE_CHARS``."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def record(
    session: Session, task_name: str, task_id: str, args: Iterable[Any], retries_left: int, error: BaseException
) -> JobFailure:
    row = JobFailure(
        task_name=task_name[:200],
        task_id=str(task_id)[:64],
        subject=subject_of(args),
        retries_left=max(0, int(retries_left or 0)),
        error_type=type(error).__name__[:200],
        message=message_of(error),
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class FailureLine:
    failure: JobFailure

    @property
    def attempt_words(self) -> str:
        left = self.failure.retries_left
        return "last attempt" if left == 0 else f"will be tried again ({left} more attempt{'s' if left != 1 else ''})"


def recent(session: Session, limit: int = LIMIT) -> list[FailureLine]:
    """The latest failures, newest first."""
    rows = session.exec(
        select(JobFailure).order_by(col(JobFailure.failed_at).desc(), col(JobFailure.id).desc()).limit(limit)
    ).all()
    return [FailureLine(row) for row in rows]

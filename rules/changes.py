"""What moving to a new standards version changes for a member, and for an alliance in total.

Pure: the database side (``app.services.rescore_runs``) loads the answers and
the stored result, carries the answers over (``rules.answers.carry_over``),
scores them against the new version with the same engine as everything else,
and asks this module what the change means in the words of the report: old
and new overall, rating and outcome, breaches and support needs added and
resolved, and the totals over a run or a lead's preview.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

#: The columns of a report line, in order (the CSV header).
REPORT_FIELDS = (
    "assessment",
    "organisation",
    "ods_code",
    "alliance",
    "membership",
    "cycle",
    "status",
    "from_version",
    "to_version",
    "old_overall",
    "new_overall",
    "old_rating",
    "new_rating",
    "old_outcome",
    "new_outcome",
    "outcome_changed",
    "breaches_added",
    "breaches_resolved",
    "breaches_changed",
    "support_needs_added",
    "support_needs_resolved",
    "answers_not_carried",
)
LIST_FIELDS = (
    "breaches_added",
    "breaches_resolved",
    "breaches_changed",
    "support_needs_added",
    "support_needs_resolved",
    "answers_not_carried",
)


def _breaches(result: Optional[Mapping]) -> dict[str, tuple[str, str]]:
    """criterion id -> (standard, severity) of a result's breaches."""
    return {b["criterion"]: (b["standard"], b["severity"]) for b in (result or {}).get("breaches", ())}


@dataclass(frozen=True)
class Change:
    """One assessment's move from its old result to its new one."""

    old_overall: Optional[float]
    new_overall: Optional[float]
    old_rating: Optional[str]
    new_rating: Optional[str]
    old_outcome: Optional[str]
    new_outcome: str
    breaches_added: list[str] = field(default_factory=list)  # "criterion (severity)"
    breaches_resolved: list[str] = field(default_factory=list)
    breaches_changed: list[str] = field(default_factory=list)  # "criterion (old -> new severity)"
    added_by_standard: dict[str, int] = field(default_factory=dict)
    resolved_by_standard: dict[str, int] = field(default_factory=dict)
    support_needs_added: list[str] = field(default_factory=list)
    support_needs_resolved: list[str] = field(default_factory=list)

    @property
    def outcome_changed(self) -> bool:
        return self.old_outcome != self.new_outcome

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_overall": self.old_overall,
            "new_overall": self.new_overall,
            "old_rating": self.old_rating,
            "new_rating": self.new_rating,
            "old_outcome": self.old_outcome,
            "new_outcome": self.new_outcome,
            "outcome_changed": self.outcome_changed,
            "breaches_added": self.breaches_added,
            "breaches_resolved": self.breaches_resolved,
            "breaches_changed": self.breaches_changed,
            "added_by_standard": self.added_by_standard,
            "resolved_by_standard": self.resolved_by_standard,
            "support_needs_added": self.support_needs_added,
            "support_needs_resolved": self.support_needs_resolved,
        }


def compare(old: Optional[Mapping], new: Mapping) -> Change:
    """What moved between two results: breaches new and gone (by criterion), and breaches whose severity
    changed (a minor breach turning major is neither new nor gone)."""
    before, after = _breaches(old), _breaches(new)
    added = [(cid, s) for cid, s in after.items() if cid not in before]
    resolved = [(cid, s) for cid, s in before.items() if cid not in after]
    moved = [(cid, before[cid][1], s[1]) for cid, s in after.items() if cid in before and before[cid][1] != s[1]]
    old_needs = list((old or {}).get("support_needs", ()))
    new_needs = list(new.get("support_needs", ()))
    return Change(
        old_overall=(old or {}).get("overall"),
        new_overall=new.get("overall"),
        old_rating=(old or {}).get("rating"),
        new_rating=new.get("rating"),
        old_outcome=(old or {}).get("outcome"),
        new_outcome=new["outcome"],
        breaches_added=[f"{cid} ({severity})" for cid, (_, severity) in added],
        breaches_resolved=[f"{cid} ({severity})" for cid, (_, severity) in resolved],
        breaches_changed=[f"{cid} ({was} -> {now})" for cid, was, now in moved],
        added_by_standard=dict(Counter(standard for _, (standard, _) in added)),
        resolved_by_standard=dict(Counter(standard for _, (standard, _) in resolved)),
        support_needs_added=[s for s in new_needs if s not in old_needs],
        support_needs_resolved=[s for s in old_needs if s not in new_needs],
    )


@dataclass
class Summary:
    """The totals at the end of a report."""

    assessments: int = 0
    outcome_changed: int = 0
    outcome_moves: Counter = field(default_factory=Counter)  # (old, new) -> count
    breaches_added: Counter = field(default_factory=Counter)  # standard -> count
    breaches_resolved: Counter = field(default_factory=Counter)
    support_needs_added: Counter = field(default_factory=Counter)  # standard -> count
    support_needs_resolved: Counter = field(default_factory=Counter)
    breaches_changed: int = 0
    answers_not_carried: int = 0

    def moves(self) -> list[tuple[tuple[Optional[str], str], int]]:
        """(old outcome, new outcome) and count, in a stable order (a draft's old outcome may be None)."""
        return sorted(self.outcome_moves.items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "assessments": self.assessments,
            "outcome_changed": self.outcome_changed,
            "outcome_moves": [{"from": old, "to": new, "count": n} for (old, new), n in self.moves()],
            "breaches_added_by_standard": dict(sorted(self.breaches_added.items())),
            "breaches_resolved_by_standard": dict(sorted(self.breaches_resolved.items())),
            "support_needs_added_by_standard": dict(sorted(self.support_needs_added.items())),
            "support_needs_resolved_by_standard": dict(sorted(self.support_needs_resolved.items())),
            "breaches_changed_severity": self.breaches_changed,
            "answers_not_carried": self.answers_not_carried,
        }


def summarise(lines: Iterable[Mapping[str, Any]]) -> Summary:
    """Totals over report lines (each a ``Change.to_dict()`` with the line's other fields)."""
    summary = Summary()
    for line in lines:
        summary.assessments += 1
        summary.outcome_changed += bool(line["outcome_changed"])
        summary.outcome_moves[(line["old_outcome"], line["new_outcome"])] += 1
        summary.breaches_added.update(line.get("added_by_standard") or {})
        summary.breaches_resolved.update(line.get("resolved_by_standard") or {})
        summary.support_needs_added.update(line.get("support_needs_added") or ())
        summary.support_needs_resolved.update(line.get("support_needs_resolved") or ())
        summary.breaches_changed += len(line.get("breaches_changed") or ())
        summary.answers_not_carried += len(line.get("answers_not_carried") or ())
    return summary


def summary_text(summary: Summary) -> list[str]:
    """The summary table printed at the end of a run."""
    lines = [f"assessments rescored: {summary.assessments}", f"outcome changed:      {summary.outcome_changed}"]
    if summary.outcome_moves:
        lines.append("")
        width = max(len(str(old)) for old, _ in summary.outcome_moves) + 2
        lines.append(f"{'old outcome':<{width}} {'new outcome':<26} assessments")
        for (old, new), count in summary.moves():
            lines.append(f"{str(old):<{width}} {new:<26} {count:>11}")
    for title, counter in (
        ("breaches added", summary.breaches_added),
        ("breaches resolved", summary.breaches_resolved),
        ("support needs added", summary.support_needs_added),
        ("support needs resolved", summary.support_needs_resolved),
    ):
        lines.append("")
        if not counter:
            lines.append(f"{title}: none")
            continue
        lines.append(f"{title + ' by standard':<34} count")
        for standard, count in sorted(counter.items()):
            lines.append(f"  {standard:<32} {count:>5}")
    if summary.breaches_changed:
        lines.append("")
        lines.append(f"breaches that changed severity: {summary.breaches_changed}")
    if summary.answers_not_carried:
        lines.append("")
        lines.append(
            f"answers not carried over (criterion or option removed, outside a new range, or otherwise "
            f"no longer valid; each is named in the report): "
            f"{summary.answers_not_carried}"
        )
    return lines

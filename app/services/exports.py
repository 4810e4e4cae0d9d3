"""A cycle's results, breaches and decisions as tables, for CSV and JSON downloads; and what members' latest
results evidence for one framework their standards are mapped to (rows from ``frameworks.evidence_rows``).

Every number comes from the stored results the review pages show, so a file
and the screen agree. Only the lead's own alliance is exported, and only a member's own results to it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Optional

from sqlmodel import Session, col, select

from ..csvfiles import write_csv
from ..models import Assessment, AssessmentCycle, AssessmentResult, Breach, Decision, Membership, Organisation, User
from .common import NotFound
from .frameworks import Evidence
from .review import latest_decision

KINDS = ("results", "breaches", "decisions")
FORMATS = ("csv", "json")


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]


def lead_cycle(session: Session, alliance_id: Optional[int], cycle_id: int) -> AssessmentCycle:
    cycle = session.get(AssessmentCycle, cycle_id)
    if cycle is None or alliance_id is None or cycle.alliance_id != alliance_id:
        raise NotFound(f"cycle {cycle_id} does not exist")
    return cycle


def _submitted(session: Session, cycle: AssessmentCycle):
    return session.exec(
        select(Assessment, Membership, Organisation)
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(
            Assessment.cycle_id == cycle.id, Membership.alliance_id == cycle.alliance_id, Assessment.status != "draft"
        )
        .order_by(Organisation.name, Assessment.id)
    ).all()


def _current(session: Session, ids: list[int]) -> dict[int, AssessmentResult]:
    if not ids:
        return {}
    return {
        r.assessment_id: r
        for r in session.exec(
            select(AssessmentResult).where(
                AssessmentResult.is_current == True, col(AssessmentResult.assessment_id).in_(ids)
            )
        ).all()
    }  # noqa: E712


def _member(assessment: Assessment, membership: Membership, organisation: Organisation) -> dict[str, Any]:
    return {
        "member": organisation.name,
        "ods_code": organisation.ods_code,
        "route": membership.route,
        "specialty": membership.specialty or "",
        "assessment_id": assessment.id,
    }


def results_table(session: Session, cycle: AssessmentCycle) -> Table:
    rows = _submitted(session, cycle)
    results = _current(session, [a.id for a, _, _ in rows])
    standard_ids: list[str] = []
    for result in results.values():
        for sid in result.result.get("standard_results", {}):
            if sid not in standard_ids:
                standard_ids.append(sid)
    out = []
    for assessment, membership, organisation in rows:
        result = results.get(assessment.id)
        stored = result.result if result else {}
        breaches = stored.get("breaches", [])
        decision = latest_decision(session, assessment.id)
        row = {
            **_member(assessment, membership, organisation),
            "cycle": cycle.name,
            "assessment_status": assessment.status,
            "membership_status": membership.status,
            "overall": result.overall if result else None,
            "rating": result.rating if result else None,
            "outcome": result.outcome if result else None,
            "major_breaches": sum(1 for b in breaches if b.get("severity") == "major"),
            "minor_breaches": sum(1 for b in breaches if b.get("severity") == "minor"),
            "overrides": len(stored.get("overrides") or []),
            "decision": decision.kind if decision else None,
            "decided_at": decision.decided_at.isoformat() if decision else None,
            # The approver's attestation given with the submission (services.teams).
            "attested_by": assessment.attested_name,
            "attested_role": assessment.attested_role,
            "attested_at": assessment.attested_at.isoformat() if assessment.attested_at else None,
        }
        for sid in standard_ids:
            row[f"standard {sid}"] = (stored.get("standard_results", {}).get(sid) or {}).get("status")
        out.append(row)
    columns = [
        "member",
        "ods_code",
        "route",
        "specialty",
        "assessment_id",
        "cycle",
        "assessment_status",
        "membership_status",
        "overall",
        "rating",
        "outcome",
        "major_breaches",
        "minor_breaches",
        "overrides",
        "decision",
        "decided_at",
        "attested_by",
        "attested_role",
        "attested_at",
        *(f"standard {sid}" for sid in standard_ids),
    ]
    return Table("results", columns, out)


def breaches_table(session: Session, cycle: AssessmentCycle) -> Table:
    rows = _submitted(session, cycle)
    results = _current(session, [a.id for a, _, _ in rows])
    by_result: dict[int, list[Breach]] = {}
    if results:
        for breach in session.exec(
            select(Breach)
            .where(col(Breach.result_id).in_([r.id for r in results.values()]))
            .order_by(Breach.standard_id, Breach.criterion_id)
        ).all():
            by_result.setdefault(breach.result_id, []).append(breach)
    out = []
    for assessment, membership, organisation in rows:
        result = results.get(assessment.id)
        for breach in by_result.get(result.id, []) if result else []:
            out.append(
                {
                    **_member(assessment, membership, organisation),
                    "cycle": cycle.name,
                    "standard": breach.standard_id,
                    "criterion": breach.criterion_id,
                    "value": breach.value,
                    "target": breach.target,
                    "direction": breach.direction,
                    "severity": breach.severity,
                }
            )
    columns = [
        "member",
        "ods_code",
        "route",
        "specialty",
        "assessment_id",
        "cycle",
        "standard",
        "criterion",
        "value",
        "target",
        "direction",
        "severity",
    ]
    return Table("breaches", columns, out)


def decisions_table(session: Session, cycle: AssessmentCycle) -> Table:
    rows = _submitted(session, cycle)
    members = {a.id: (a, m, o) for a, m, o in rows}
    decisions = session.exec(
        select(Decision, User)
        .join(User, User.id == Decision.decided_by, isouter=True)
        .where(col(Decision.assessment_id).in_(list(members) or [-1]))
        .order_by(Decision.decided_at, Decision.id)
    ).all()
    out = [
        {
            **_member(*members[d.assessment_id]),
            "cycle": cycle.name,
            "decision": d.kind,
            "conditions": d.conditions,
            "due_on": d.due_on.isoformat() if d.due_on else None,
            "notes": d.notes,
            "decided_by": user.email if user else None,
            "decided_at": d.decided_at.isoformat(),
        }
        for d, user in decisions
    ]
    columns = [
        "member",
        "ods_code",
        "route",
        "specialty",
        "assessment_id",
        "cycle",
        "decision",
        "conditions",
        "due_on",
        "notes",
        "decided_by",
        "decided_at",
    ]
    return Table("decisions", columns, out)


def table(session: Session, alliance_id: Optional[int], cycle_id: int, kind: str) -> tuple[AssessmentCycle, Table]:
    cycle = lead_cycle(session, alliance_id, cycle_id)
    if kind not in KINDS:
        raise NotFound(f"there is no {kind} export")
    return cycle, {"results": results_table, "breaches": breaches_table, "decisions": decisions_table}[kind](
        session, cycle
    )


def as_csv(found: Table) -> str:
    out = io.StringIO()
    write_csv(out, found.columns, ([row.get(k) for k in found.columns] for row in found.rows))
    return out.getvalue()


def as_json(cycle: AssessmentCycle, found: Table) -> str:
    return json.dumps(
        {"cycle": cycle.name, "kind": found.name, "columns": found.columns, "rows": found.rows},
        indent=2,
        ensure_ascii=False,
    )


def filename(cycle: AssessmentCycle, kind: str, fmt: str) -> str:
    return f"{kind}-{cycle.name.replace('/', '-')}.{fmt}"


# -- what results evidence for a framework ("our CQC evidence") -------------------------------------------------


def standards_words(standards: list[dict[str, Any]]) -> str:
    """The standards behind a ref in one CSV cell: "C1 Clinical leadership: met; C5 Follow-up: not_met"."""
    return "; ".join(f"{s['id']} {s['title']}: {s['status']}" for s in standards)


def evidence_csv(found: Evidence) -> str:
    out = io.StringIO()
    write_csv(
        out,
        found.columns,
        ([standards_words(row[k]) if k == "standards" else row.get(k) for k in found.columns] for row in found.rows),
    )
    return out.getvalue()


def evidence_json(found: Evidence, scope: str) -> str:
    """``scope``: whose results (an organisation's or an alliance's name)."""
    return json.dumps(
        {
            "framework": {"id": found.framework.id, "title": found.framework.title},
            "scope": scope,
            "columns": found.columns,
            "rows": found.rows,
        },
        indent=2,
        ensure_ascii=False,
    )


def evidence_filename(found: Evidence, scope_slug: str, fmt: str) -> str:
    return f"{found.framework.id}-evidence-{scope_slug}.{fmt}"

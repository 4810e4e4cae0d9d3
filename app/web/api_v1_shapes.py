"""How the JSON API (``api_v1``) shows each resource: plain dicts from the models and the scoped reads of
``app.services.token_access``. The OpenAPI document (``openapi.py``) describes the same shapes, and the tests
check real responses against it."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from flask import url_for

from rules.model import Criterion, Standard

from ..models import Alliance, AssessmentCycle, AssessmentResult, Evidence, Organisation, StandardsVersion
from ..services.questions import NotAsked
from ..services.token_access import AssessmentLine, PairView


def when(value: Optional[dt.date]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def organisation(organisation: Organisation) -> dict:
    return {"id": organisation.id, "name": organisation.name, "ods_code": organisation.ods_code}


def alliance(alliance: Alliance) -> dict:
    return {"id": alliance.id, "slug": alliance.slug, "name": alliance.name}


def cycle(cycle: AssessmentCycle) -> dict:
    return {"id": cycle.id, "name": cycle.name, "opens_on": when(cycle.opens_on), "closes_on": when(cycle.closes_on)}


def version(version: StandardsVersion) -> dict:
    return {
        "id": version.id,
        "set_id": version.set_id,
        "version": version.version,
        "title": version.title,
        "state": version.state,
        "effective_from": when(version.effective_from),
        "published_at": when(version.published_at),
        "content_hash": version.content_hash,
    }


def summary(result: Optional[AssessmentResult]) -> Optional[dict]:
    if result is None:
        return None
    return {
        "overall": result.overall,
        "rating": result.rating,
        "outcome": result.outcome,
        "computed_at": when(result.computed_at),
    }


def assessment(line: AssessmentLine) -> dict:
    a = line.assessment
    return {
        "id": a.id,
        "membership_id": a.membership_id,
        "organisation": organisation(line.organisation),
        "cycle": cycle(line.cycle),
        "standards_version_id": a.standards_version_id,
        "status": a.status,
        "created_at": when(a.created_at),
        "submitted_at": when(a.submitted_at),
        "decided_at": when(a.decided_at),
        "attestation": attestation(a),
        "result": summary(line.result),
    }


def attestation(a) -> Optional[dict]:  # noqa: ANN001
    """The approver's attestation given with the submission (none for a draft)."""
    if not a.attestation:
        return None
    return {"statement": a.attestation, "name": a.attested_name, "role": a.attested_role, "at": when(a.attested_at)}


def links(assessment_id: int) -> dict:
    return {
        "self": url_for("api_v1.assessment", assessment_id=assessment_id),
        "result": url_for("api_v1.result", assessment_id=assessment_id),
        "breaches": url_for("api_v1.breaches", assessment_id=assessment_id),
        "answers": url_for("api_v1.answers", assessment_id=assessment_id),
        "evidence": url_for("api_v1.evidence", assessment_id=assessment_id),
    }


def evidence(item: Evidence) -> dict:
    shown = {
        "id": item.id,
        "assessment_id": item.assessment_id,
        "criterion": item.criterion_id,
        "kind": item.kind,
        "url": item.url,
        "filename": item.filename,
        "content_type": item.content_type,
        "size": item.size,
        "sha256": item.sha256,
        "note": item.note,
        "added_at": when(item.created_at),
        "download": None,
    }
    if item.kind == "file":
        shown["download"] = url_for("api_v1.evidence_file", assessment_id=item.assessment_id, evidence_id=item.id)
    return shown


def _criterion(c: Criterion) -> dict:
    return {
        "id": c.id,
        "text": c.text,
        "type": c.type,
        "weight": c.weight,
        "required": c.required,
        "allow_na": c.allow_na,
        "evidence": c.evidence,
        "guidance": c.guidance,
        "levels": list(c.levels) if c.levels is not None else None,
        "unit": c.unit,
        "benchmark": c.benchmark.model_dump() if c.benchmark is not None else None,
        "min": c.min,
        "max": c.max,
        "options": (
            [{"id": o.id, "text": o.text, "score": o.score} for o in c.options] if c.options is not None else None
        ),
        "when": {"criterion": c.when.criterion, "in": list(c.when.values)} if c.when is not None else None,
    }


def optional_list(values) -> Optional[list]:
    return list(values) if values is not None else None


def standard(s: Standard) -> dict:
    return {
        "id": s.id,
        "title": s.title,
        "weight": s.weight,
        "must_meet": s.must_meet,
        "applies": {
            "routes": optional_list(s.applies.routes),
            "specialties": optional_list(s.applies.specialties),
            "org_types": optional_list(s.applies.org_types),
        },
        "maps_to": [{"framework": m.framework, "ref": m.ref} for m in s.maps_to],
        "criteria": [_criterion(c) for c in s.criteria],
    }


def not_asked(found: dict[str, NotAsked]) -> list[dict]:
    """The conditional criteria the answers leave unasked, with why (file order)."""
    return [{"criterion": cid, "depends_on": item.controller.id, "reason": item.words} for cid, item in found.items()]


def pair(view: PairView) -> dict:
    line, pair = view.line, view.line.pair
    return {
        "id": pair.id,
        "standard_id": pair.standard_id,
        "cycle": line.cycle,
        "status": pair.status,
        "role": view.role,
        "mentee": {"membership_id": pair.mentee_membership_id, "name": line.mentee},
        "buddy": (
            {"membership_id": pair.buddy_membership_id, "name": line.buddy}
            if pair.buddy_membership_id is not None
            else None
        ),
        "lead_accepted_at": when(pair.lead_accepted_at),
        "buddy_accepted_at": when(pair.buddy_accepted_at),
        "started_at": when(pair.started_at),
        "ended_at": when(pair.ended_at),
        "end_reason": pair.end_reason,
    }

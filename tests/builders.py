"""Small builders for standards documents and answers used across the tests."""

from __future__ import annotations

import copy
from typing import Any

import yaml

import rules

BASE: dict[str, Any] = {
    "schema": 1,
    "id": "test-set",
    "version": "2026.1",
    "title": "Test standards",
    "alliance": "Test Alliance",
    "effective_from": "2026-04-01",
    "routes": {"full": {"title": "Full membership"}, "specialty": {"title": "Specialty membership"}},
}


def criterion(cid: str, ctype: str = "yes_no", **extra: Any) -> dict:
    body: dict[str, Any] = {"id": cid, "text": f"Criterion {cid}", "type": ctype}
    if ctype == "level" and "levels" not in extra:
        body["levels"] = ["None", "Some", "Most", "All", "Audited"]
    if ctype == "metric" and "benchmark" not in extra:
        body["benchmark"] = {"target": 85, "direction": "higher", "amber": 5}
    body.update(extra)
    return body


def standard(sid: str, criteria: list[dict], **extra: Any) -> dict:
    return {"id": sid, "title": f"Standard {sid}", "criteria": criteria, **extra}


def domain(did: str, standards: list[dict], **extra: Any) -> dict:
    return {"id": did, "title": f"Domain {did}", "standards": standards, **extra}


def document(domains: list[dict], **top: Any) -> dict:
    doc = copy.deepcopy(BASE)
    doc.update(top)
    doc["domains"] = domains
    return doc


def load(doc: dict) -> rules.StandardsSet:
    return rules.parse_standards(yaml.safe_dump(doc, sort_keys=False), filename="test.yaml")


def answers(
    values: dict[str, Any], route: str = "full", specialty: str | None = None, org_type: str | None = "acute"
) -> dict:
    return {"route": route, "specialty": specialty, "org_type": org_type, "answers": values}


def score(doc: dict, values: dict[str, Any], **member: Any) -> dict:
    return rules.score(load(doc), answers(values, **member))


def one_standard(*criteria: dict, **standard_extra: Any) -> dict:
    """A document with one domain holding one standard S1 of the given criteria."""
    return document([domain("d1", [standard("S1", list(criteria), **standard_extra)])])


def attested(name: str = "Alex Approver", role: str = "Director of Nursing"):  # noqa: ANN201
    """The approver's attestation a submission needs (``app.services.teams.Attestation``)."""
    from app.services.teams import Attestation

    return Attestation(True, name, role)

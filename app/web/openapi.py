"""The OpenAPI 3.0 document of the JSON API (``/api/v1``), written here by hand and served at
``/api/v1/openapi.json``. Tests keep it true: every route is documented, every documented path exists, and
real responses validate against these schemas."""

from __future__ import annotations

import copy
from typing import Any

from rules.model import CRITERION_TYPES
from rules.model import SCHEMAS as SCHEMAS_OF_FILES

MAX_ID = 2_147_483_647  # ids are 32-bit integers in the database


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    """In OpenAPI 3.0 ``nullable`` beside a ``$ref`` is ignored, so a nullable reference is written out."""
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return {**schema, "nullable": True}


def _array(items: dict) -> dict:
    return {"type": "array", "items": items}


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    """An object with these properties, all required unless listed otherwise."""
    required = list(properties) if required is None else required
    return {"type": "object", "properties": properties, **({"required": required} if required else {}), **extra}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
BOOLEAN = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
ANY: dict = {}
MAPPED_STATUSES = ("met", "not_met", "not_assessed")

SCHEMAS: dict[str, dict] = {
    "OrganisationRef": _object({"id": INTEGER, "name": STRING, "ods_code": STRING}),
    "AllianceRef": _object({"id": INTEGER, "slug": STRING, "name": STRING}),
    "MembershipRef": _object({"membership_id": INTEGER, "name": STRING}),
    "ResultSummary": _object(
        {
            "overall": _nullable(NUMBER),
            "rating": _nullable(STRING),
            "outcome": STRING,
            "computed_at": DATETIME,
        }
    ),
    "Attestation": _object(
        {
            "statement": STRING,
            "name": STRING,
            "role": STRING,
            "at": DATETIME,
        },
        description="The approver's attestation given with the submission (none for a draft)",
    ),
}
SCHEMAS.update(
    {
        "Error": _object(
            {
                "error": {**STRING, "description": "what went wrong, in words"},
                "status": {**INTEGER, "description": "the HTTP status code"},
            }
        ),
        "AnswersRefused": _object(
            {
                "error": STRING,
                "status": INTEGER,
                "errors": _array(_object({"criterion": STRING, "message": STRING})),
                "missing": _array(_object({"criterion": STRING, "standard": STRING, "reason": STRING})),
                "saved": _array(STRING),
                "cleared": _array(STRING),
                "submitted": BOOLEAN,
            },
            required=["error", "status", "errors", "missing", "saved", "cleared", "submitted"],
            description="422: answers refused (``errors``, per criterion) or submission refused (``missing``). "
            "Valid answers of the same request are saved and listed in ``saved``.",
        ),
        "Token": _object(
            {
                "token": _object({"id": INTEGER, "name": STRING}),
                "scope": _object(
                    {
                        "kind": {"type": "string", "enum": ["organisation", "alliance"]},
                        "organisation": _nullable(_ref("OrganisationRef")),
                        "alliance": _nullable(_ref("AllianceRef")),
                    }
                ),
                "links": {"type": "object", "additionalProperties": STRING},
            }
        ),
        "CycleRef": _object({"id": INTEGER, "name": STRING, "opens_on": DATE, "closes_on": DATE}),
        "StandardsVersion": _object(
            {
                "id": INTEGER,
                "set_id": STRING,
                "version": STRING,
                "title": STRING,
                "state": {"type": "string", "enum": ["draft", "published", "retired"]},
                "effective_from": DATE,
                "published_at": _nullable(DATETIME),
                "content_hash": STRING,
            }
        ),
        "StandardsVersionList": _object({"versions": _array(_ref("StandardsVersion"))}),
        "Option": _object(
            {
                "id": {**STRING, "description": 'what an answer gives: the option id, never "na"'},
                "text": STRING,
                "score": {**NUMBER, "minimum": 0, "maximum": 1, "description": "the criterion score this option gives"},
            }
        ),
        "Criterion": _object(
            {
                "id": STRING,
                "text": STRING,
                "type": {"type": "string", "enum": list(CRITERION_TYPES)},
                "weight": NUMBER,
                "required": BOOLEAN,
                "allow_na": BOOLEAN,
                "evidence": {"type": "string", "enum": ["required", "optional", "none"]},
                "guidance": _nullable(STRING),
                "levels": _nullable(_array(STRING)),
                "unit": _nullable(STRING),
                "benchmark": _nullable(
                    _object(
                        {
                            "target": NUMBER,
                            "direction": {"type": "string", "enum": ["higher", "lower"]},
                            "amber": NUMBER,
                        }
                    )
                ),
                "min": {**_nullable(NUMBER), "description": "a metric's lowest accepted answer (null: none)"},
                "max": {**_nullable(NUMBER), "description": "a metric's highest accepted answer (null: none)"},
                "options": {
                    **_nullable(_array(_ref("Option"))),
                    "description": "a choice or multi_choice criterion's options, in order (null for other types)",
                },
                "when": {
                    **_nullable(
                        _object(
                            {
                                "criterion": {
                                    **STRING,
                                    "description": "the criterion this one depends on (earlier in the file)",
                                },
                                "in": {
                                    **_array({"oneOf": [STRING, INTEGER]}),
                                    "minItems": 1,
                                    "description": 'its answers that ask this one: "yes", "partial", "no", level indices or '
                                    "option ids",
                                },
                            }
                        )
                    ),
                    "description": "a conditional criterion (schema 2): asked only when the criterion named applies, is "
                    "asked and is answered with one of ``in``; otherwise neither required nor scored, and "
                    "any answer to it is kept but ignored. null: always asked",
                },
            }
        ),
        "Standard": _object(
            {
                "id": STRING,
                "title": STRING,
                "weight": NUMBER,
                "must_meet": BOOLEAN,
                "applies": _object(
                    {
                        "routes": _nullable(_array(STRING)),
                        "specialties": _nullable(_array(STRING)),
                        "org_types": _nullable(_array(STRING)),
                    }
                ),
                "maps_to": {
                    **_array(_object({"framework": STRING, "ref": STRING})),
                    "description": "the refs of other frameworks this standard evidences",
                },
                "criteria": _array(_ref("Criterion")),
            }
        ),
        "Domain": _object({"id": STRING, "title": STRING, "weight": NUMBER, "standards": _array(_ref("Standard"))}),
        "StandardsContent": _object(
            {
                "version": _ref("StandardsVersion"),
                "schema": {
                    "type": "integer",
                    "enum": list(SCHEMAS_OF_FILES),
                    "description": "the file's format version",
                },
                "alliance": STRING,
                "pass_mark": NUMBER,
                "routes": _array(_object({"id": STRING, "title": STRING})),
                "frameworks": {
                    **_array(_object({"id": STRING, "title": STRING})),
                    "description": "the frameworks the standards are mapped to, in the file's order",
                },
                "ratings": _array(_object({"rating": STRING, "min": NUMBER})),
                "core_proposition": _array(
                    _object({"id": STRING, "title": STRING, "routes": _nullable(_array(STRING))})
                ),
                "domains": _array(_ref("Domain")),
            }
        ),
        "Membership": _object(
            {
                "id": INTEGER,
                "organisation": _ref("OrganisationRef"),
                "alliance": _ref("AllianceRef"),
                "route": STRING,
                "specialty": _nullable(STRING),
                "status": STRING,
                "suspension_recommended": BOOLEAN,
                "joined_on": _nullable(DATE),
                "left_on": _nullable(DATE),
            }
        ),
        "MembershipList": _object({"memberships": _array(_ref("Membership"))}),
        "Assessment": _object(
            {
                "id": INTEGER,
                "membership_id": INTEGER,
                "organisation": _ref("OrganisationRef"),
                "cycle": _ref("CycleRef"),
                "standards_version_id": INTEGER,
                "status": {"type": "string", "enum": ["draft", "submitted", "under_review", "decided"]},
                "created_at": DATETIME,
                "submitted_at": _nullable(DATETIME),
                "decided_at": _nullable(DATETIME),
                "attestation": _nullable(_ref("Attestation")),
                "result": _nullable(_ref("ResultSummary")),
            }
        ),
        "AttestationRequest": _object(
            {
                "confirmed": {**BOOLEAN, "description": "true: the approver confirms the self-assessment is accurate"},
                "name": {**STRING, "maxLength": 200, "description": "the approver's name"},
                "role": {**STRING, "maxLength": 200, "description": "their role, e.g. Director of Nursing"},
            },
            additionalProperties=False,
        ),
        "AssessmentList": _object({"assessments": _array(_ref("Assessment"))}),
        "AssessmentDetail": {
            "allOf": [
                _ref("Assessment"),
                _object(
                    {
                        "answers": {
                            "type": "object",
                            "additionalProperties": ANY,
                            "description": "criterion id -> the stored answer",
                        },
                        "missing": _array(_object({"criterion": STRING, "standard": STRING, "reason": STRING})),
                        "not_asked": {
                            **_array(_object({"criterion": STRING, "depends_on": STRING, "reason": STRING})),
                            "description": "conditional criteria the answers leave unasked: neither required nor scored "
                            "(an answer stored for one is kept)",
                        },
                        "links": {"type": "object", "additionalProperties": STRING},
                    }
                ),
            ]
        },
        "Breach": _object(
            {
                "criterion": STRING,
                "standard": STRING,
                "value": NUMBER,
                "target": NUMBER,
                "direction": {"type": "string", "enum": ["higher", "lower"]},
                "severity": {"type": "string", "enum": ["major", "minor"]},
            },
            required=["criterion", "standard", "value", "target", "direction", "severity"],
        ),
        "EngineResult": _object(
            {
                "overall": _nullable(NUMBER),
                "rating": _nullable(STRING),
                "outcome": STRING,
                "domains": {"type": "object", "additionalProperties": _nullable(NUMBER)},
                "standard_results": {
                    "type": "object",
                    "additionalProperties": _object({"score": _nullable(NUMBER), "status": STRING}),
                },
                "breaches": _array(_ref("Breach")),
                "unanswered": _array(STRING),
                "support_needs": _array(STRING),
                "core_proposition": _array(STRING),
                "flags": _array({"type": "object"}),
                "mapped": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "enum": list(MAPPED_STATUSES)},
                    },
                    "description": "framework id -> ref -> met, not_met or not_assessed, for every framework the "
                    "standards are mapped to ({} when none)",
                },
                "criteria": {"type": "object", "additionalProperties": {"type": "object"}},
            },
            description="The rules engine's result (more fields may be added; see docs/standards.md).",
        ),
        "Result": _object(
            {
                "assessment_id": INTEGER,
                "status": STRING,
                "provisional": {**BOOLEAN, "description": "true for a draft: scored as it stands, stored nowhere"},
                "computed_at": _nullable(DATETIME),
                "result": _ref("EngineResult"),
            }
        ),
        "BreachLine": {
            "allOf": [
                _ref("Breach"),
                _object({"criterion_text": STRING, "standard_title": STRING, "unit": _nullable(STRING)}),
            ]
        },
        "BreachList": _object(
            {"assessment_id": INTEGER, "provisional": BOOLEAN, "breaches": _array(_ref("BreachLine"))}
        ),
        "Pair": _object(
            {
                "id": INTEGER,
                "standard_id": STRING,
                "cycle": STRING,
                "status": {"type": "string", "enum": ["proposed", "accepted", "active", "completed", "withdrawn"]},
                "role": _nullable({"type": "string", "enum": ["mentee", "buddy", None]}),
                "mentee": _ref("MembershipRef"),
                "buddy": _nullable(_ref("MembershipRef")),
                "lead_accepted_at": _nullable(DATETIME),
                "buddy_accepted_at": _nullable(DATETIME),
                "started_at": _nullable(DATETIME),
                "ended_at": _nullable(DATETIME),
                "end_reason": STRING,
            }
        ),
        "PairList": _object({"pairs": _array(_ref("Pair"))}),
        "AnswersRequest": _object(
            {
                "answers": {
                    "type": "object",
                    "additionalProperties": ANY,
                    "description": 'criterion id -> answer: "yes"/"no", "yes"/"partial"/"no", a level index, '
                    "a number within the metric's min and max, text, an option id (choice), a "
                    'list of distinct option ids (multi_choice; [] for none of them), or "na" where '
                    "allowed; null clears an answer. An answer to a conditional criterion that is "
                    "not asked is kept, but not scored",
                },
                "notes": {"type": "object", "additionalProperties": STRING, "description": "criterion id -> note"},
                "submit": {**BOOLEAN, "description": "submit for review once every answer is saved"},
                "attestation": {
                    "allOf": [_ref("AttestationRequest")],
                    "description": 'required with "submit": true: "I confirm, as [role], that this '
                    "self-assessment is accurate\", with the approver's name and role",
                },
            },
            required=[],
            additionalProperties=False,
        ),
        "Evidence": _object(
            {
                "id": INTEGER,
                "assessment_id": INTEGER,
                "criterion": STRING,
                "kind": {"type": "string", "enum": ["file", "link"]},
                "url": {**_nullable(STRING), "description": "a link's address (null for a file)"},
                "filename": {**_nullable(STRING), "description": "a file's name (null for a link)"},
                "content_type": _nullable(STRING),
                "size": {**_nullable(INTEGER), "description": "a file's size in bytes"},
                "sha256": {**_nullable(STRING), "description": "the SHA-256 of a file's bytes"},
                "note": STRING,
                "added_at": DATETIME,
                "download": {**_nullable(STRING), "description": "where to download a file (null for a link)"},
            }
        ),
        "EvidenceList": _object({"assessment_id": INTEGER, "evidence": _array(_ref("Evidence"))}),
        "EvidenceRemoved": _object({"assessment_id": INTEGER, "removed": _ref("Evidence")}),
        "EvidenceLink": _object(
            {
                "criterion": {**STRING, "description": "the criterion id, e.g. C1.1"},
                "url": {
                    **STRING,
                    "description": "a full link starting with https:// or http://, without spaces, at most "
                    "2000 characters",
                },
                "note": {**STRING, "description": "optional, at most 2000 characters"},
            },
            required=["criterion", "url"],
            additionalProperties=False,
        ),
        "EvidenceFile": _object(
            {
                "criterion": {**STRING, "description": "the criterion id, e.g. C1.1"},
                "file": {
                    "type": "string",
                    "format": "binary",
                    "description": "a document or image (.pdf, .png, .jpg, .docx, .xlsx, .pptx, .doc, .xls, .odt, .ods, "
                    ".csv, .txt), at most UPLOAD_MAX_BYTES",
                },
                "note": {**STRING, "description": "optional, at most 2000 characters"},
            },
            required=["criterion", "file"],
            additionalProperties=False,
        ),
        "EvidenceRefused": _object(
            {
                "error": STRING,
                "status": INTEGER,
                "criterion": {**_nullable(STRING), "description": "the criterion the evidence was for, when given"},
                "errors": _array(
                    _object(
                        {
                            "field": {
                                **STRING,
                                "description": "criterion, url, file, note, or a field the request cannot have",
                            },
                            "message": STRING,
                        }
                    )
                ),
            },
            description="422: the evidence is refused; each problem is named by its field.",
        ),
        "AnswersSaved": _object(
            {
                "assessment_id": INTEGER,
                "status": STRING,
                "saved": _array(STRING),
                "cleared": _array(STRING),
                "submitted": BOOLEAN,
                "result": _nullable(_ref("ResultSummary")),
            }
        ),
    }
)


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(schema: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


UNAUTHORISED = _error("No token, or a token that is unknown or revoked")
TOO_MANY = {
    **_error("Too many requests from this token (API_RATE_LIMIT; per address without a token)"),
    "headers": {"Retry-After": {"description": "seconds to wait before the next request", "schema": INTEGER}},
}
NOT_FOUND = _error("Not found, or outside the token's scope")
UNAVAILABLE = _error("The database cannot be reached: try again later (the response says when in Retry-After)")
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _id_parameter(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _read(summary: str, schema: str, *, parameter: str | None = None, description: str = "") -> dict:
    responses = {"200": _ok(schema), "401": UNAUTHORISED}
    if parameter:
        responses["404"] = NOT_FOUND
    responses["429"] = TOO_MANY
    responses["503"] = UNAVAILABLE
    operation = {"summary": summary, "description": description, "responses": responses}
    if parameter:
        operation["parameters"] = [_id_parameter(parameter)]
    return {"get": operation}


MEMBER_ONLY = _error("An alliance token: only a member organisation changes its self-assessment")
NOT_A_DRAFT = _error("The assessment is not a draft (already submitted): only a draft can be changed")
EVIDENCE = [_id_parameter("assessment_id")]
ONE_EVIDENCE = [_id_parameter("assessment_id"), _id_parameter("evidence_id")]


PATHS = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/api/v1/token": _read("The token in use and its scope", "Token"),
    "/api/v1/standards": _read(
        "Standards versions the token may read",
        "StandardsVersionList",
        description="Published and retired versions of the sets the token's pages show (every alliance's for "
        "an organisation token, its own alliance's for an alliance token), and any version its "
        "assessments use.",
    ),
    "/api/v1/standards/{version_id}": _read(
        "One standards version: domains, standards and criteria", "StandardsContent", parameter="version_id"
    ),
    "/api/v1/memberships": _read("Memberships: the organisation's own, or every one of the alliance", "MembershipList"),
    "/api/v1/assessments": _read(
        "Self-assessments",
        "AssessmentList",
        description="An organisation token: its own, drafts included, newest cycle first. An alliance token: "
        "its alliance's submitted ones (drafts are the member's own until submitted).",
    ),
    "/api/v1/assessments/{assessment_id}": _read(
        "One self-assessment with its answers", "AssessmentDetail", parameter="assessment_id"
    ),
    "/api/v1/assessments/{assessment_id}/result": _read(
        "The assessment's current result",
        "Result",
        parameter="assessment_id",
        description="The stored result of a submitted assessment; a draft's provisional score otherwise.",
    ),
    "/api/v1/assessments/{assessment_id}/breaches": _read(
        "Benchmark breaches of the current result", "BreachList", parameter="assessment_id"
    ),
    "/api/v1/assessments/{assessment_id}/answers": {
        "post": {
            "summary": "Save a draft's answers, and optionally submit it for review",
            "description": "Organisation tokens only. Each valid answer is saved even when others are refused; "
            'refused answers are listed by criterion (422). With "submit": true and every answer '
            "valid, the assessment is submitted; a submission refused lists each missing answer or "
            "evidence (422), the answers staying saved. A submission needs the approver's attestation "
            '("attestation": {"confirmed": true, "name": ..., "role": ...}); without it, or with a part missing, '
            'it is refused (422, each problem listed under "attestation"), the valid answers staying saved.',
            "parameters": [_id_parameter("assessment_id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AnswersRequest")}}},
            "responses": {
                "200": _ok("AnswersSaved"),
                "400": _error("The body is not a JSON object"),
                "401": UNAUTHORISED,
                "403": _error("An alliance token: only a member organisation answers its self-assessment"),
                "404": NOT_FOUND,
                "409": _error("The assessment is not a draft (already submitted)"),
                "422": {
                    "description": "Answers or submission refused",
                    "content": {"application/json": {"schema": _ref("AnswersRefused")}},
                },
                "429": TOO_MANY,
                "503": UNAVAILABLE,
            },
        }
    },
    "/api/v1/assessments/{assessment_id}/evidence": {
        **_read(
            "The assessment's evidence: links and files, by criterion",
            "EvidenceList",
            parameter="assessment_id",
            description="Every evidence item, oldest first. An organisation token: its own assessments. An "
            "alliance token: its alliance's submitted ones.",
        ),
        "post": {
            "summary": "Add evidence to a criterion of a draft: a link, or a file",
            "description": "Organisation tokens only, on a draft. A link is a JSON object; a file is "
            "multipart/form-data with the fields criterion and file (and optionally note). The "
            "criterion must apply to the membership. A file must be an allowed type whose content "
            "matches it, and no larger than UPLOAD_MAX_BYTES. Each addition is audited.",
            "parameters": EVIDENCE,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("EvidenceLink")},
                    "multipart/form-data": {"schema": _ref("EvidenceFile")},
                },
            },
            "responses": {
                "201": {
                    **_ok("Evidence", "Added"),
                    "headers": {"Location": {"description": "the new evidence item", "schema": STRING}},
                },
                "400": _error("The body is neither a JSON object nor multipart/form-data"),
                "401": UNAUTHORISED,
                "403": MEMBER_ONLY,
                "404": NOT_FOUND,
                "409": NOT_A_DRAFT,
                "413": _error("The request is larger than the upload limit allows"),
                "422": {
                    "description": "The evidence is refused: each problem named by its field",
                    "content": {"application/json": {"schema": _ref("EvidenceRefused")}},
                },
                "429": TOO_MANY,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/assessments/{assessment_id}/evidence/{evidence_id}": {
        "get": {
            "summary": "One evidence item",
            "description": "As the assessment's evidence list shows it, to whoever may read the assessment.",
            "parameters": ONE_EVIDENCE,
            "responses": {
                "200": _ok("Evidence"),
                "401": UNAUTHORISED,
                "404": NOT_FOUND,
                "429": TOO_MANY,
                "503": UNAVAILABLE,
            },
        },
        "delete": {
            "summary": "Remove evidence from a draft",
            "description": "Organisation tokens only, on a draft. A stored file is deleted with it. Audited.",
            "parameters": ONE_EVIDENCE,
            "responses": {
                "200": _ok("EvidenceRemoved", "Removed"),
                "401": UNAUTHORISED,
                "403": MEMBER_ONLY,
                "404": NOT_FOUND,
                "409": NOT_A_DRAFT,
                "429": TOO_MANY,
                "503": UNAVAILABLE,
            },
        },
    },
    "/api/v1/assessments/{assessment_id}/evidence/{evidence_id}/file": {
        "get": {
            "summary": "Download an evidence file",
            "description": "The stored bytes, with the file's own content type, as an attachment. A link has no "
            "file (404).",
            "parameters": ONE_EVIDENCE,
            "responses": {
                "200": {
                    "description": "The file, with the content type it was stored with (application/pdf, "
                    "image/png, ...)",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "401": UNAUTHORISED,
                "404": NOT_FOUND,
                "429": TOO_MANY,
                "503": UNAVAILABLE,
            },
        }
    },
    "/api/v1/buddying/pairs": _read(
        "Buddying pairs",
        "PairList",
        description="An organisation token: the pairs with a buddy it is in, as mentee or buddy. An alliance "
        "token: every pair of the alliance, including needs without a buddy.",
    ),
}

DOCUMENT: dict = {
    "openapi": "3.0.3",
    "info": {
        "title": "Alliance accreditation API",
        "version": "1.0.0",
        "description": "Read standards, memberships, self-assessments, results, breaches and buddying pairs, "
        "answer a member's self-assessment and add or remove its evidence. Authenticate with an "
        "API token from an administrator: `Authorization: Bearer <token>`. Requests are rate "
        "limited per token (429 with Retry-After). See docs/api.md.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerToken": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token, scoped to one organisation or one alliance",
            }
        },
        "schemas": SCHEMAS,
    },
}


def document() -> dict:
    """A copy of the document (callers may change theirs)."""
    return copy.deepcopy(DOCUMENT)

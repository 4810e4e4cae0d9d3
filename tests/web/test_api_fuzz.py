"""Fuzzing the JSON API from its OpenAPI document (schemathesis, in process through WSGI): with a valid
token, data that fits the document and data that does not never make a server error, and every response
keeps to the document (status codes and schemas).

Each operation is fuzzed with generated ids and with the ids of real objects, so the cases reach the views'
work and not only their 404s; once more on the schema 2 edition of the standards (options, conditions, ranges,
mappings). The rate limit is set far above what the fuzzing sends (a 429 is documented, but
would stop the cases reaching the views). The example counts are kept small so the suite stays quick; set
``API_FUZZ_EXAMPLES`` (examples per operation and mode, 12 by default) to fuzz harder.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from app import db
from app.services import CLI, api_tokens, evidence_of
from app.services.evidence import attach_file
from app.web import openapi

from .conftest import COMPLETE_ANSWERS, COMPLETE_ANSWERS_2, STANDARDS, STANDARDS_2, build_world, submit_peer

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES") or 12)


def strategies(schema, real_ids: dict[str, int]):
    """Per operation and generation mode: cases with generated ids, and with the ids of real objects."""
    for found in schema.get_all_operations():
        operation = found.ok()
        names = {p.name for p in operation.path_parameters}
        pinned = {name: real_ids[name] for name in names}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            choices = [operation.as_strategy(generation_mode=mode)]
            if pinned:
                choices.append(operation.as_strategy(generation_mode=mode, path_parameters=pinned))
            yield operation.label, mode, st.one_of(choices)


@pytest.fixture
def world(database_url, request):
    """The web tests' world on the standards the test names (schema 1 unless told)."""
    return build_world(database_url, getattr(request, "param", STANDARDS))


@pytest.mark.parametrize(
    "scope, world, answers",
    [
        ("organisation", STANDARDS, COMPLETE_ANSWERS),
        ("alliance", STANDARDS, COMPLETE_ANSWERS),
        ("organisation", STANDARDS_2, COMPLETE_ANSWERS_2),
    ],
    ids=["organisation", "alliance", "organisation-schema-2"],
    indirect=["world"],
)
def test_no_server_errors_and_responses_keep_to_the_document(app, world, scope, answers):
    app.config["API_RATE_LIMIT"] = "1000000 per minute"
    submit_peer(world.url, world, "p1", "PEER1", {**answers, "C2.1": 70})
    assessment_id = world.assessments["a" if scope == "organisation" else "p1"]
    with db.session_scope(world.url) as session:
        _, token = api_tokens.create_token(
            session,
            CLI,
            name="fuzz",
            **(
                {"organisation_id": world.organisations["a"]}
                if scope == "organisation"
                else {"alliance_id": world.alliance_id}
            ),
        )
        if scope == "organisation":  # a file on the draft (the peer's submitted one has a link)
            attach_file(
                session,
                CLI,
                assessment_id,
                "C1.1",
                data=b"%PDF-1.4\n%%EOF\n",
                filename="plan.pdf",
                content_type="application/pdf",
                store=app.extensions["upload_store"],
            )
        evidence_id = evidence_of(session, assessment_id)[0].id
    real_ids = {"assessment_id": assessment_id, "version_id": world.version_id, "evidence_id": evidence_id}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.validate()  # the document itself against the OpenAPI 3.0 meta-schema
    headers = {"Authorization": f"Bearer {token}"}
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    ran = []
    for label, mode, strategy in strategies(schema, real_ids):

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def fuzz(case):
            case.call_and_validate(headers=headers, checks=checks)

        fuzz()
        ran.append((label, mode))
    documented = {
        f"{method.upper()} {path}" for path, operations in openapi.DOCUMENT["paths"].items() for method in operations
    } - {"GET /api/v1/openapi.json"}  # the document itself is not fuzzed
    assert {label for label, _ in ran} == documented and len(ran) == 2 * len(documented)

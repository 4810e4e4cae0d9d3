"""The JSON API (/api/v1): tokens, scope, reads, writes, the OpenAPI document and the admin's token pages.

Tokens are made through the token service (as the admin page makes them). Every response checked here is
also validated against the schema the OpenAPI document gives for its path, method and status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from openapi_schema_validator import OAS30Validator
from sqlmodel import select

from app import db
from app.models import Answer, ApiToken, Assessment, AuditEvent, BuddyAssignment
from app.services import (
    CLI,
    add_evidence,
    api_tokens,
    apply_for_membership,
    create_alliance,
    evidence_of,
    open_assessment,
    register_organisation,
    register_version,
)
from app.web import openapi

from .conftest import API_ATTESTATION, COMPLETE_ANSWERS, STANDARDS_2, Visitor, signed_in, submit_peer, text
from .matrix import Case, Seen, mismatches, uncovered

DOC = openapi.document()
BREACHING = {**COMPLETE_ANSWERS, "C2.1": 70}  # 70% within 36 hours against a target of 85: a major breach


def path_of(rule: str) -> str:
    """A Flask rule as an OpenAPI path: <int(min=1):assessment_id> -> {assessment_id}."""
    return re.sub(r"<(?:[^<>:]*:)?(\w+)>", r"{\1}", rule)


def template_of(url: str) -> str:
    """The documented path a concrete URL belongs to."""
    path = url.split("?")[0]
    for template in DOC["paths"]:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", r"[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path} is not in the OpenAPI document")


def conforms(response, url: str, method: str = "get") -> dict:
    """The response's JSON, after checking its status is documented and its body matches the schema."""
    operation = DOC["paths"][template_of(url)][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{method.upper()} {url}: status {response.status_code} is not documented"
    assert response.mimetype == "application/json"
    schema = documented["content"]["application/json"]["schema"]
    body = response.get_json()
    OAS30Validator({"allOf": [schema], "components": DOC["components"]}).validate(body)
    return body


@dataclass
class Api:
    app: object
    tokens: dict[str, str]

    def get(self, url: str, who: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.app.test_client().get(url, headers=headers, **kwargs)

    def post(self, url: str, body, who: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.app.test_client().post(url, json=body, headers=headers, **kwargs)

    def delete(self, url: str, who: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.app.test_client().delete(url, headers=headers, **kwargs)

    def read(self, url: str, who: str, status: int = 200) -> dict:
        response = self.get(url, who)
        assert response.status_code == status, (url, who, response.get_data(as_text=True)[:500])
        return conforms(response, url)


@pytest.fixture
def api(app, world) -> Api:
    """Tokens for org A, org B, the alliance (as its lead), another alliance, and a revoked one of org A;
    a peer of the alliance has submitted with a major breach."""
    submit_peer(world.url, world, "p1", "PEER1", BREACHING)
    tokens = {}
    with db.session_scope(world.url) as session:
        other = create_alliance(session, CLI, slug="other", name="Other Alliance", standards_set="web-test")
        for who, scope in (
            ("org_a", {"organisation_id": world.organisations["a"]}),
            ("org_b", {"organisation_id": world.organisations["b"]}),
            ("alliance", {"alliance_id": world.alliance_id}),
            ("other_alliance", {"alliance_id": other.id}),
            ("revoked", {"organisation_id": world.organisations["a"]}),
        ):
            row, tokens[who] = api_tokens.create_token(session, world.actor("admin"), name=f"{who} system", **scope)
            if who == "revoked":
                api_tokens.revoke_token(session, world.actor("admin"), row.id)
    return Api(app, tokens)


# -- the document --------------------------------------------------------------------------------------------


def test_every_route_is_documented_and_every_documented_path_exists(app):
    routes = {
        (path_of(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, operations in DOC["paths"].items() for method in operations}
    assert routes == documented
    for path, operations in DOC["paths"].items():
        for method, operation in operations.items():
            assert {"200", "201"} & set(operation["responses"]), (path, method)
            for status, response in operation["responses"].items():
                if path.endswith("/file") and status == "200":  # the file itself, in its own type
                    assert "schema" in response["content"]["*/*"], (path, method)
                    continue
                assert "schema" in response["content"]["application/json"], (path, method, status)
            if path != "/api/v1/openapi.json":  # every route but the document is rate limited
                assert "Retry-After" in operation["responses"]["429"]["headers"], (path, method)
    for schema in DOC["components"]["schemas"].values():
        OAS30Validator.check_schema(schema)


def test_the_document_is_served_publicly(app, world, visitor):
    response = visitor.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json() == DOC
    assert response.get_json()["openapi"].startswith("3.")


# -- authentication ------------------------------------------------------------------------------------------


def test_missing_unknown_malformed_and_revoked_tokens_get_401(api):
    attempts = {
        "none": api.get("/api/v1/assessments"),
        "revoked": api.get("/api/v1/assessments", "revoked"),
        "unknown": api.app.test_client().get(
            "/api/v1/assessments", headers={"Authorization": "Bearer aat_" + "x" * 43}
        ),
        "basic": api.app.test_client().get("/api/v1/assessments", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        "empty": api.app.test_client().get("/api/v1/assessments", headers={"Authorization": "Bearer "}),
        "hash": api.app.test_client().get(
            "/api/v1/assessments", headers={"Authorization": "Bearer " + api_tokens.digest(api.tokens["org_a"])}
        ),
    }
    for name, response in attempts.items():
        assert response.status_code == 401, name
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Dartford" not in text(response)
        conforms(response, "/api/v1/assessments")
    assert "revoked" in attempts["revoked"].get_json()["error"]


def test_only_a_digest_is_stored_and_use_is_recorded(api, world):
    with db.session_scope(world.url) as session:
        row = session.exec(select(ApiToken).where(ApiToken.name == "org_a system")).one()
        assert row.last_used_at is None
        assert row.token_hash == api_tokens.digest(api.tokens["org_a"]) != api.tokens["org_a"]
        assert api.tokens["org_a"].startswith("aat_") and len(api.tokens["org_a"]) >= 40
        assert row.prefix == api.tokens["org_a"][:12]
        stored = [str(v) for v in row.model_dump().values()]
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "api_token.created")).all()
    assert api.tokens["org_a"] not in stored
    assert all(api.tokens["org_a"] not in str(e.after) for e in events) and len(events) == 5
    response = api.get("/api/v1/token", "org_a")
    assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "no-store"
    body = conforms(response, "/api/v1/token")
    assert body["scope"] == {
        "kind": "organisation",
        "alliance": None,
        "organisation": {"id": world.organisations["a"], "name": "Dartford and Gravesham NHS Trust", "ods_code": "RN7"},
    }
    with db.session_scope(world.url) as session:
        assert session.exec(select(ApiToken).where(ApiToken.name == "org_a system")).one().last_used_at is not None


def test_a_signed_in_browser_session_does_not_open_the_api(app, world, api):
    member = signed_in(app, world, "member_a")
    a = world.assessments["a"]
    assert member.get("/member/").status_code == 200  # the session is good for the pages
    assert member.get("/api/v1/assessments").status_code == 401
    posted = member.client.post(f"/api/v1/assessments/{a}/answers", json={"answers": {"C1.1": "no"}})
    assert posted.status_code == 401
    with db.session_scope(world.url) as session:
        assert session.exec(select(Answer).where(Answer.assessment_id == a)).all() == []


# -- reading, within the scope -------------------------------------------------------------------------------


def test_an_organisation_token_reads_its_own_world_only(api, world):
    a, b, peer = world.assessments["a"], world.assessments["b"], world.assessments["p1"]
    memberships = api.read("/api/v1/memberships", "org_a")["memberships"]
    assert [m["id"] for m in memberships] == [world.memberships["a"]]
    assert memberships[0]["alliance"]["slug"] == "web-test" and memberships[0]["organisation"]["ods_code"] == "RN7"
    listed = api.read("/api/v1/assessments", "org_a")["assessments"]
    assert [x["id"] for x in listed] == [a] and listed[0]["status"] == "draft" and listed[0]["result"] is None
    detail = api.read(f"/api/v1/assessments/{a}", "org_a")
    assert (
        detail["answers"] == {}
        and {"criterion": "C1.1", "standard": "C1", "reason": "answer required"} in detail["missing"]
    )
    result = api.read(f"/api/v1/assessments/{a}/result", "org_a")
    assert result["provisional"] is True and result["computed_at"] is None and result["result"]["overall"] == 0
    # B's and the peer's are not found, exactly like an id that does not exist.
    for other in (b, peer, 999_999):
        for suffix in ("", "/result", "/breaches"):
            response = api.get(f"/api/v1/assessments/{other}{suffix}", "org_a")
            assert response.status_code == 404 and response.get_json() == {"error": "not found", "status": 404}
            conforms(response, f"/api/v1/assessments/{other}{suffix}")


def test_results_and_breaches_of_a_submitted_assessment(api, world):
    peer = world.assessments["p1"]
    tokens = dict(api.tokens)
    with db.session_scope(world.url) as session:
        _, tokens["peer"] = api_tokens.create_token(
            session, CLI, name="peer", organisation_id=world.organisations["p1"]
        )
    api.tokens = tokens
    for who in ("peer", "alliance"):
        result = api.read(f"/api/v1/assessments/{peer}/result", who)
        assert result["provisional"] is False and result["status"] == "submitted" and result["computed_at"]
        assert result["result"]["breaches"] == [
            {
                "criterion": "C2.1",
                "standard": "C2",
                "value": 70,
                "target": 85,
                "direction": "higher",
                "severity": "major",
            }
        ]
        breaches = api.read(f"/api/v1/assessments/{peer}/breaches", who)
        assert [(x["criterion"], x["severity"], x["standard_title"]) for x in breaches["breaches"]] == [
            ("C2.1", "major", "Hip fracture outcomes")
        ]
        listed = api.read("/api/v1/assessments", who)["assessments"]
        assert [(x["id"], x["result"]["outcome"]) for x in listed] == [(peer, result["result"]["outcome"])]


def test_an_alliance_token_reads_the_alliance_as_its_lead_does(api, world):
    memberships = api.read("/api/v1/memberships", "alliance")["memberships"]
    assert sorted(m["id"] for m in memberships) == sorted(world.memberships.values())
    # Drafts stay the member's own until submitted: the lead's token does not find them.
    assert api.get(f"/api/v1/assessments/{world.assessments['a']}", "alliance").status_code == 404
    detail = api.read(f"/api/v1/assessments/{world.assessments['p1']}", "alliance")
    assert detail["answers"]["C2.1"] == 70 and detail["missing"] == []
    # Another alliance's token sees none of it.
    assert api.read("/api/v1/memberships", "other_alliance")["memberships"] == []
    assert api.read("/api/v1/assessments", "other_alliance")["assessments"] == []
    for suffix in ("", "/result", "/breaches"):
        assert api.get(f"/api/v1/assessments/{world.assessments['p1']}{suffix}", "other_alliance").status_code == 404


def test_standards_versions_and_their_content(api, world):
    versions = api.read("/api/v1/standards", "org_a")["versions"]
    assert [(v["id"], v["set_id"], v["state"]) for v in versions] == [(world.version_id, "web-test", "published")]
    content = api.read(f"/api/v1/standards/{world.version_id}", "alliance")
    assert [d["id"] for d in content["domains"]] == ["care", "people"]
    c1 = content["domains"][0]["standards"][0]
    assert c1["id"] == "C1" and c1["must_meet"] is True
    assert c1["criteria"][0] == {
        "id": "C1.1",
        "text": "Is there a named clinical lead for the service?",
        "type": "yes_no",
        "weight": 1,
        "required": True,
        "allow_na": False,
        "evidence": "required",
        "guidance": "Upload the lead's job plan or give a link to it.",
        "levels": None,
        "unit": None,
        "benchmark": None,
        "min": None,
        "max": None,
        "options": None,
        "when": None,
    }
    c21 = content["domains"][0]["standards"][1]["criteria"][0]
    assert (c21["id"], c21["min"], c21["max"]) == ("C2.1", 0, 100)  # a percentage's range, without min and max given
    assert content["schema"] == 1 and content["frameworks"] == [] and c1["maps_to"] == []
    assert api.get("/api/v1/standards/999999", "alliance").status_code == 404


def test_buddying_pairs_in_scope(api, world):
    with db.session_scope(world.url) as session:
        pair = BuddyAssignment(
            alliance_id=world.alliance_id,
            cycle_id=world.cycle_id,
            standard_id="C2",
            mentee_membership_id=world.memberships["a"],
            buddy_membership_id=world.memberships["p1"],
        )
        session.add(pair)
        session.flush()
        pair_id = pair.id
    mine = api.read("/api/v1/buddying/pairs", "org_a")["pairs"]
    assert [(p["id"], p["role"], p["buddy"]["name"], p["status"]) for p in mine] == [
        (pair_id, "mentee", "Peer p1 NHS Trust", "proposed")
    ]
    assert api.read("/api/v1/buddying/pairs", "org_b")["pairs"] == []
    lead = api.read("/api/v1/buddying/pairs", "alliance")["pairs"]
    assert [(p["id"], p["role"], p["mentee"]["membership_id"]) for p in lead] == [
        (pair_id, None, world.memberships["a"])
    ]
    assert api.read("/api/v1/buddying/pairs", "other_alliance")["pairs"] == []


# -- writing -------------------------------------------------------------------------------------------------


def stored_answers(world, key: str = "a") -> dict:
    with db.session_scope(world.url) as session:
        return {
            r.criterion_id: r.value
            for r in session.exec(select(Answer).where(Answer.assessment_id == world.assessments[key]))
        }


def test_valid_answers_are_saved_and_each_refused_one_is_named(api, world):
    url = f"/api/v1/assessments/{world.assessments['a']}/answers"
    response = api.post(
        url,
        {
            "answers": {"C1.1": "yes", "C1.3": 9, "C2.1": "fast", "X9": "yes", "C2.2": 7.5},
            "notes": {"C1.1": "Job plan signed off"},
        },
        "org_a",
    )
    assert response.status_code == 422
    body = conforms(response, url, "post")
    assert {e["criterion"] for e in body["errors"]} == {"C1.3", "C2.1", "X9"}
    messages = {e["criterion"]: e["message"] for e in body["errors"]}
    assert messages["C1.3"] == "Choose a level from 0 to 3" and messages["C2.1"] == "Enter a number, like 82.5"
    assert messages["X9"] == "no such criterion in these standards"
    assert body["saved"] == ["C1.1", "C2.2"] and body["submitted"] is False
    assert stored_answers(world) == {"C1.1": "yes", "C2.2": 7.5}
    with db.session_scope(world.url) as session:
        event = session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "answers.saved", AuditEvent.entity_id == world.assessments["a"]
            )
        ).one()
        token_id = session.exec(select(ApiToken.id).where(ApiToken.name == "org_a system")).one()
        assert event.actor == f"api-token:{token_id} (org_a system)" and event.actor_id is None
        assert event.after == {"C1.1": "yes", "C2.2": 7.5}
    # null clears an answer
    cleared = api.post(url, {"answers": {"C2.2": None}}, "org_a")
    assert conforms(cleared, url, "post")["cleared"] == ["C2.2"] and stored_answers(world) == {"C1.1": "yes"}


def test_submission_refused_lists_what_is_missing_and_keeps_the_answers(api, world):
    url = f"/api/v1/assessments/{world.assessments['a']}/answers"
    response = api.post(url, {"answers": {"C1.1": "yes"}, "submit": True, "attestation": API_ATTESTATION}, "org_a")
    assert response.status_code == 422
    body = conforms(response, url, "post")
    assert body["errors"] == [] and body["saved"] == ["C1.1"] and body["submitted"] is False
    assert {"criterion": "C1.1", "standard": "C1", "reason": "evidence required"} in body["missing"]
    assert {"criterion": "P1.1", "standard": "P1", "reason": "answer required"} in body["missing"]
    assert stored_answers(world) == {"C1.1": "yes"}


def test_a_complete_draft_is_submitted_and_then_refuses_changes(api, world):
    a = world.assessments["a"]
    with db.session_scope(world.url) as session:
        add_evidence(session, CLI, a, "C1.1", kind="link", url="https://example.nhs.uk/job-plan.pdf")
    url = f"/api/v1/assessments/{a}/answers"
    response = api.post(url, {"answers": COMPLETE_ANSWERS, "submit": True, "attestation": API_ATTESTATION}, "org_a")
    assert response.status_code == 200, response.get_json()
    body = conforms(response, url, "post")
    assert body["submitted"] is True and body["status"] == "submitted" and body["result"]["outcome"]
    again = api.post(url, {"answers": {"C1.1": "no"}}, "org_a")
    assert again.status_code == 409 and "only a draft can be changed" in conforms(again, url, "post")["error"]
    assert stored_answers(world)["C1.1"] == "yes"
    assert api.read(f"/api/v1/assessments/{a}", "alliance")["status"] == "submitted"


def test_nobody_else_writes_a_members_answers(api, world):
    url = f"/api/v1/assessments/{world.assessments['a']}/answers"
    attempts = {"org_b": 404, "alliance": 403, "other_alliance": 403, "revoked": 401}
    for who, status in attempts.items():
        response = api.post(url, {"answers": {"C1.1": "no"}, "submit": True, "attestation": API_ATTESTATION}, who)
        assert response.status_code == status, who
        conforms(response, url, "post")
    assert api.post(url, {"answers": {"C1.1": "no"}}).status_code == 401
    assert stored_answers(world) == {}
    with db.session_scope(world.url) as session:
        assert session.get(Assessment, world.assessments["a"]).status == "draft"


def test_bad_bodies_are_refused_clearly(api, world):
    url = f"/api/v1/assessments/{world.assessments['a']}/answers"
    not_json = api.app.test_client().post(
        url,
        data="answers=yes",
        headers={"Authorization": f"Bearer {api.tokens['org_a']}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and "JSON object" in conforms(not_json, url, "post")["error"]
    assert api.post(url, ["C1.1", "yes"], "org_a").status_code == 400
    shaped = api.post(url, {"answers": ["yes"], "notes": {"C1.1": 3}, "submit": "yes", "extra": 1}, "org_a")
    assert shaped.status_code == 422
    named = {e["criterion"] for e in conforms(shaped, url, "post")["errors"]}
    assert named == {"answers", "submit", "extra", "C1.1"}  # C1.1: its note is not text
    nul = api.post(url, {"answers": {"C2.3": "a\x00b", "C1.1": "yes"}, "notes": {"C1.2": "x\x00"}}, "org_a")
    assert nul.status_code == 422 and {e["criterion"] for e in nul.get_json()["errors"]} == {"C2.3", "C1.2"}
    assert stored_answers(world) == {"C1.1": "yes"}


# -- schema 2: options, conditions, ranges and mappings ------------------------------------------------------


@dataclass
class Schema2:
    url: str
    version_id: int
    assessment_id: int

    @property
    def answers_url(self) -> str:
        return f"/api/v1/assessments/{self.assessment_id}/answers"


@pytest.fixture
def schema2(api, world) -> Schema2:
    """The alliance's schema 2 edition (web-test 2026.2) published, and a third member (token org_c) with a draft
    on it."""
    with db.session_scope(world.url) as session:
        version = register_version(session, STANDARDS_2, CLI)
        organisation = register_organisation(
            session, CLI, name="Medway NHS Foundation Trust", ods_code="RPA", org_type="acute", region="Kent"
        )
        membership = apply_for_membership(
            session, CLI, organisation_id=organisation.id, alliance_id=world.alliance_id, route="full"
        )
        assessment = open_assessment(
            session, CLI, membership_id=membership.id, cycle_id=world.cycle_id, standards_version_id=version.id
        )
        _, api.tokens["org_c"] = api_tokens.create_token(
            session, world.actor("admin"), name="org_c system", organisation_id=organisation.id
        )
        return Schema2(world.url, version.id, assessment.id)


def schema2_answers(schema2: Schema2) -> dict:
    with db.session_scope(schema2.url) as session:
        return {
            r.criterion_id: r.value
            for r in session.exec(select(Answer).where(Answer.assessment_id == schema2.assessment_id))
        }


def test_schema_2_criteria_show_options_conditions_ranges_and_mappings(api, world, schema2):
    content = api.read(f"/api/v1/standards/{schema2.version_id}", "org_c")
    assert content["schema"] == 2 and content["frameworks"] == [{"id": "cqc", "title": "CQC quality statements"}]
    by_id = {s["id"]: s for d in content["domains"] for s in d["standards"]}
    assert by_id["C5"]["maps_to"] == [{"framework": "cqc", "ref": "Safe: safe systems, pathways and transitions"}]
    criteria = {c["id"]: c for s in by_id.values() for c in s["criteria"]}
    assert criteria["C5.1"]["type"] == "choice" and criteria["C5.1"]["options"] == [
        {"id": "none", "text": "Not reviewed", "score": 0},
        {"id": "phone", "text": "Telephone follow-up", "score": 0.5},
        {"id": "clinic", "text": "Clinic review within 6 weeks", "score": 1},
    ]
    assert criteria["C5.1"]["when"] is None and criteria["C5.5"]["type"] == "multi_choice"
    assert criteria["C5.2"]["when"] == {"criterion": "C5.1", "in": ["clinic"]}
    assert criteria["C5.4"]["when"] == {"criterion": "C5.3", "in": ["yes"]}
    assert (criteria["C2.2"]["min"], criteria["C2.2"]["max"]) == (0, 60)
    assert (criteria["C5.2"]["min"], criteria["C5.2"]["max"]) == (0, 100)
    assert criteria["C1.1"]["options"] is None and criteria["C1.1"]["min"] is None


def test_option_ids_and_lists_are_answers_and_each_refusal_names_its_criterion(api, world, schema2):
    url = schema2.answers_url
    response = api.post(
        url,
        {
            "answers": {
                "C5.1": "phone",
                "C5.5": ["nhfd", "njr"],
                "C2.2": 11,
                "C5.3": "yes",
                "C5.4": "Dr Who",
                "C1.2": "fax",
                "C6.1": ["yes"],
                "C2.1": 101,
                "P1.1": ["nhfd", "nhfd"],
            }
        },
        "org_c",
    )
    assert response.status_code == 422
    body = conforms(response, url, "post")
    messages = {e["criterion"]: e["message"] for e in body["errors"]}
    assert set(messages) == {"C5.4", "C1.2", "C6.1", "C2.1", "P1.1"}
    assert messages["C5.4"] == 'Send one of the option ids "consultant" or "nurse"'
    assert messages["C2.1"] == "Enter a number between 0 and 100"
    assert messages["P1.1"] == "Enter a number, like 82.5"
    assert body["saved"] == ["C5.1", "C5.3", "C5.5", "C2.2"]
    assert schema2_answers(schema2) == {"C5.1": "phone", "C5.3": "yes", "C5.5": ["nhfd", "njr"], "C2.2": 11}
    listed = api.post(url, {"answers": {"C5.5": ["nhfd", "fax"]}}, "org_c").get_json()["errors"]
    assert listed == [
        {
            "criterion": "C5.5",
            "message": 'Send a list of distinct option ids from "nhfd", "njr" or "other" ([] for none of them)',
        }
    ]
    none = api.post(url, {"answers": {"C5.5": []}}, "org_c")
    assert conforms(none, url, "post")["saved"] == ["C5.5"] and schema2_answers(schema2)["C5.5"] == []


def test_an_answer_to_a_question_not_asked_is_kept_and_left_out(api, world, schema2):
    url = schema2.answers_url
    api.post(url, {"answers": {"C5.1": "clinic", "C5.2": 85}}, "org_c")
    detail = api.read(f"/api/v1/assessments/{schema2.assessment_id}", "org_c")
    assert [n["criterion"] for n in detail["not_asked"]] == ["C5.4", "C6.1"]
    assert {"criterion": "C5.2", "standard": "C5", "reason": "answer required"} not in detail["missing"]
    assert {"criterion": "C6.1", "standard": "C6", "reason": "answer required"} not in detail["missing"]
    saved = api.post(url, {"answers": {"C5.1": "phone"}}, "org_c")
    assert conforms(saved, url, "post")["saved"] == ["C5.1"]
    detail = api.read(f"/api/v1/assessments/{schema2.assessment_id}", "org_c")
    assert detail["answers"]["C5.2"] == 85
    c52 = next(n for n in detail["not_asked"] if n["criterion"] == "C5.2")
    assert c52 == {
        "criterion": "C5.2",
        "depends_on": "C5.1",
        "reason": "Not asked because C5.1 is “Telephone follow-up”.",
    }
    assert not any(m["criterion"] in ("C5.2", "P1.2") for m in detail["missing"])
    assert {"criterion": "C6.1", "standard": "C6", "reason": "answer required"} in detail["missing"]
    result = api.read(f"/api/v1/assessments/{schema2.assessment_id}/result", "org_c")["result"]
    assert result["criteria"]["C5.2"]["status"] == "inactive" and result["criteria"]["C5.2"]["answer"] == 85
    assert "C5.2" not in result["unanswered"] and "C6.1" in result["unanswered"]


def test_results_include_the_framework_mappings(api, world, schema2):
    body = api.read(f"/api/v1/assessments/{schema2.assessment_id}/result", "org_c")
    assert body["result"]["mapped"] == {
        "cqc": {
            "Well-led: capable, compassionate and inclusive leaders": "not_met",
            "Safe: safe systems, pathways and transitions": "not_met",
        }
    }
    api.post(schema2.answers_url, {"answers": {"C1.1": "yes", "C1.2": "yes"}}, "org_c")
    mapped = api.read(f"/api/v1/assessments/{schema2.assessment_id}/result", "org_c")["result"]["mapped"]
    assert mapped["cqc"]["Well-led: capable, compassionate and inclusive leaders"] == "met"
    # a schema 1 assessment's result maps nothing
    assert api.read(f"/api/v1/assessments/{world.assessments['a']}/result", "org_a")["result"]["mapped"] == {}


# -- the token matrix: every route x every kind of caller ---------------------------------------------------


def test_every_api_route_x_every_caller(app, world, api):
    a, peer = world.assessments["a"], world.assessments["p1"]
    with db.session_scope(world.url) as session:
        [peer_link] = [e.id for e in evidence_of(session, peer)]
    member_cookie = signed_in(app, world, "member_a")
    callers = ("none", "cookie", "revoked", "org_b", "alliance", "other_alliance", "org_a")

    def expect(org_a: int, org_b: int, alliance: int, other: int, public: bool = False) -> dict:
        closed = 200 if public else 401
        return {
            "none": closed,
            "cookie": closed,
            "revoked": closed,
            "org_a": org_a,
            "org_b": org_b,
            "alliance": alliance,
            "other_alliance": other,
        }

    cases = [
        Case("api_v1.openapi_document", "GET", "/api/v1/openapi.json", expect(200, 200, 200, 200, public=True)),
        Case("api_v1.token", "GET", "/api/v1/token", expect(200, 200, 200, 200)),
        Case("api_v1.standards", "GET", "/api/v1/standards", expect(200, 200, 200, 200)),
        Case("api_v1.standards_version", "GET", f"/api/v1/standards/{world.version_id}", expect(200, 200, 200, 200)),
        Case("api_v1.memberships", "GET", "/api/v1/memberships", expect(200, 200, 200, 200)),
        Case("api_v1.assessments", "GET", "/api/v1/assessments", expect(200, 200, 200, 200)),
        Case("api_v1.assessment", "GET", f"/api/v1/assessments/{a}", expect(200, 404, 404, 404)),
        Case("api_v1.assessment", "GET", f"/api/v1/assessments/{peer}", expect(404, 404, 200, 404)),
        Case("api_v1.result", "GET", f"/api/v1/assessments/{a}/result", expect(200, 404, 404, 404)),
        Case("api_v1.breaches", "GET", f"/api/v1/assessments/{peer}/breaches", expect(404, 404, 200, 404)),
        Case("api_v1.pairs", "GET", "/api/v1/buddying/pairs", expect(200, 200, 200, 200)),
        Case(
            "api_v1.answers",
            "POST",
            f"/api/v1/assessments/{a}/answers",
            expect(200, 404, 403, 403),
            {"answers": {"C1.2": "partial"}},
        ),
        Case("api_v1.evidence", "GET", f"/api/v1/assessments/{a}/evidence", expect(200, 404, 404, 404)),
        Case("api_v1.evidence", "GET", f"/api/v1/assessments/{peer}/evidence", expect(404, 404, 200, 404)),
        Case(
            "api_v1.evidence_file",
            "GET",
            f"/api/v1/assessments/{peer}/evidence/{peer_link}/file",
            expect(404, 404, 404, 404),
        ),  # a link has no file, for the lead too
        Case(
            "api_v1.evidence",
            "POST",
            f"/api/v1/assessments/{a}/evidence",
            expect(201, 404, 403, 403),
            {"criterion": "C1.1", "url": "https://example.nhs.uk/job-plan.pdf"},
        ),
        Case(
            "api_v1.evidence_item",
            "GET",
            f"/api/v1/assessments/{peer}/evidence/{peer_link}",
            expect(404, 404, 200, 404),
        ),
        Case(
            "api_v1.evidence_item",
            "DELETE",
            f"/api/v1/assessments/{peer}/evidence/{peer_link}",
            expect(404, 404, 403, 403),
        ),
    ]
    assert uncovered(app, "api_v1", cases) == []
    seen: Seen = {}
    for who in callers:  # org A last: its own write must not hide anyone else's
        if who == "org_a":
            assert stored_answers(world) == {}, "someone other than org A wrote org A's answers"
        for case in cases:
            if who == "cookie":
                client = member_cookie.client
                response = client.open(case.path, method=case.method, json=case.data)
            elif case.method == "GET":
                response = api.get(case.path, None if who == "none" else who)
            elif case.method == "DELETE":
                response = api.delete(case.path, None if who == "none" else who)
            else:
                response = api.post(case.path, case.data, None if who == "none" else who)
            if case.endpoint != "api_v1.openapi_document":
                conforms(response, case.path, case.method.lower())
            seen[(case.method, case.path, who)] = response.status_code
    assert mismatches(cases, seen, callers) == {}, "(method, path, caller): (got, expected)"
    assert stored_answers(world) == {"C1.2": "partial"}
    with db.session_scope(world.url) as session:
        assert [(e.criterion_id, e.url) for e in evidence_of(session, a)] == [
            ("C1.1", "https://example.nhs.uk/job-plan.pdf")
        ]
        assert [e.id for e in evidence_of(session, peer)] == [peer_link]


# -- the admin's token pages ---------------------------------------------------------------------------------


def test_the_admin_creates_sees_once_lists_and_revokes_a_token(app, world):
    admin = signed_in(app, world, "admin")
    form = admin.get("/admin/tokens/new")
    assert form.status_code == 200 and "Web Test Alliance" in text(form) and "Dartford" in text(form)
    refused = admin.post("/admin/tokens/new", {"name": "", "scope": "organisation:999999"})
    assert refused.status_code == 200 and "Enter what the token is for" in text(refused)
    assert "Choose an organisation or an alliance from the list" in text(refused)
    created = admin.post(
        "/admin/tokens/new", {"name": "Trust warehouse", "scope": f"organisation:{world.organisations['a']}"}
    )
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="api-token" type="text" value="(aat_[\w-]+)"', text(created)).group(1)
    api = app.test_client()
    assert (
        api.get("/api/v1/token", headers={"Authorization": f"Bearer {token}"}).get_json()["token"]["name"]
        == "Trust warehouse"
    )
    listing = text(admin.get("/admin/tokens"))
    assert "Trust warehouse" in listing and token[:12] in listing and token not in listing
    token_id = re.search(r'action="/admin/tokens/(\d+)/revoke"', listing).group(1)
    revoked = admin.post(f"/admin/tokens/{token_id}/revoke")
    assert revoked.status_code == 302 and revoked.headers["Location"] == "/admin/tokens"
    assert "Revoked" in text(admin.get("/admin/tokens"))
    assert api.get("/api/v1/token", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert admin.post(f"/admin/tokens/{token_id}/revoke", csrf=False).status_code == 400
    assert admin.post("/admin/tokens/999999/revoke").status_code == 404
    with db.session_scope(world.url) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.entity_type == "apitoken").order_by(AuditEvent.id)
        ).all()
    assert [(e.action, e.actor_id) for e in events] == [
        ("api_token.created", world.user_ids["admin"]),
        ("api_token.revoked", world.user_ids["admin"]),
    ]
    assert events[1].before["revoked_at"] is None and events[1].after["revoked_at"]


def test_only_admins_reach_the_token_pages(app, world):
    for who in ("member_a", "lead"):
        person = signed_in(app, world, who)
        assert person.get("/admin/tokens").status_code == 403
        created = person.post("/admin/tokens/new", {"name": "x", "scope": f"alliance:{world.alliance_id}"})
        assert created.status_code == 403
    with db.session_scope(world.url) as session:
        assert session.exec(select(ApiToken)).all() == []
    anonymous = Visitor(app)
    assert anonymous.get("/admin/tokens").headers["Location"].startswith("/login")

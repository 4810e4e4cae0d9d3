"""Evidence through the JSON API (links and files: add, list, download, remove, each refusal, the scope) and
the API's rate limit per token. Every response is checked against the OpenAPI document."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlmodel import select

from app import db
from app.models import ApiToken, AuditEvent
from app.services import CLI, add_evidence, evidence_of, save_answers, submit
from tests.builders import attested

from .conftest import API_ATTESTATION, COMPLETE_ANSWERS
from .test_api_v1 import api, conforms  # noqa: F401 (the api fixture)

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def bearer(api, who: str) -> dict:
    return {"Authorization": f"Bearer {api.tokens[who]}"}


def upload(
    api,
    path: str,
    who: str,
    data: bytes = PDF,
    filename: str = "Job plan.pdf",
    content_type: str = "application/pdf",
    **fields,
):
    form = {"criterion": "C1.1", "file": (io.BytesIO(data), filename, content_type), **fields}
    return api.app.test_client().post(path, data=form, headers=bearer(api, who), content_type="multipart/form-data")


def stored(world, key: str = "a") -> list[tuple[str, str, str]]:
    with db.session_scope(world.url) as session:
        return [(e.criterion_id, e.kind, e.url or e.filename) for e in evidence_of(session, world.assessments[key])]


def files_in(app) -> list[Path]:
    uploads = Path(app.config["UPLOAD_DIR"])
    return [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []


def evidence_events(world) -> list[AuditEvent]:
    """The evidence changes audited for any API token (the peer's own evidence was added from the command line)."""
    with db.session_scope(world.url) as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(
                    AuditEvent.action.in_(("evidence.added", "evidence.removed")),
                    AuditEvent.actor.startswith("api-token:"),
                )
                .order_by(AuditEvent.id)
            ).all()
        )


# -- adding, listing, downloading, removing ------------------------------------------------------------------


def test_a_link_and_a_file_are_added_listed_downloaded_and_removed_and_audited(app, api, world):
    a = world.assessments["a"]
    url = f"/api/v1/assessments/{a}/evidence"
    assert api.read(url, "org_a") == {"assessment_id": a, "evidence": []}

    linked = api.post(
        url, {"criterion": "C1.1", "url": " https://example.nhs.uk/job-plan.pdf ", "note": "Page 3"}, "org_a"
    )
    assert linked.status_code == 201, linked.get_json()
    link = conforms(linked, url, "post")
    assert linked.headers["Location"] == f"{url}/{link['id']}"
    assert conforms(api.get(linked.headers["Location"], "org_a"), linked.headers["Location"]) == link
    assert (link["criterion"], link["kind"], link["url"], link["note"], link["filename"], link["download"]) == (
        "C1.1",
        "link",
        "https://example.nhs.uk/job-plan.pdf",
        "Page 3",
        None,
        None,
    )

    posted = upload(api, url, "org_a", note="Signed copy")
    assert posted.status_code == 201, posted.get_json()
    item = conforms(posted, url, "post")
    assert (item["kind"], item["filename"], item["content_type"], item["size"], item["sha256"], item["url"]) == (
        "file",
        "Job plan.pdf",
        "application/pdf",
        len(PDF),
        hashlib.sha256(PDF).hexdigest(),
        None,
    )
    assert item["download"] == f"{url}/{item['id']}/file"
    [on_disk] = files_in(app)
    assert on_disk.read_bytes() == PDF

    listed = api.read(url, "org_a")["evidence"]
    assert [(e["id"], e["kind"]) for e in listed] == [(link["id"], "link"), (item["id"], "file")]
    assert all(e["added_at"] for e in listed)
    detail = api.read(f"/api/v1/assessments/{a}", "org_a")
    assert detail["links"]["evidence"] == url

    download = api.get(item["download"], "org_a")
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    assert (
        "attachment" in download.headers["Content-Disposition"]
        and "Job plan.pdf" in download.headers["Content-Disposition"]
    )
    no_file = api.get(f"{url}/{link['id']}/file", "org_a")
    assert no_file.status_code == 404 and "is a link" in conforms(no_file, f"{url}/{link['id']}/file")["error"]

    removed = api.delete(f"{url}/{item['id']}", "org_a")
    assert removed.status_code == 200
    body = conforms(removed, f"{url}/{item['id']}", "delete")
    assert body["removed"]["id"] == item["id"] and body["removed"]["filename"] == "Job plan.pdf"
    assert files_in(app) == [] and stored(world) == [("C1.1", "link", "https://example.nhs.uk/job-plan.pdf")]
    assert api.delete(f"{url}/{item['id']}", "org_a").status_code == 404  # gone
    assert api.get(item["download"], "org_a").status_code == 404
    assert api.delete(f"{url}/{link['id']}", "org_a").status_code == 200 and stored(world) == []

    with db.session_scope(world.url) as session:
        token_id = session.exec(select(ApiToken.id).where(ApiToken.name == "org_a system")).one()
    events = evidence_events(world)
    assert [(e.action, e.entity_id) for e in events] == [
        ("evidence.added", link["id"]),
        ("evidence.added", item["id"]),
        ("evidence.removed", item["id"]),
        ("evidence.removed", link["id"]),
    ]
    assert {e.actor for e in events} == {f"api-token:{token_id} (org_a system)"}
    assert events[1].after["filename"] == "Job plan.pdf" and events[2].before["sha256"] == item["sha256"]


def test_a_file_gone_from_the_upload_store_is_a_404_that_says_so(app, api, world):
    url = f"/api/v1/assessments/{world.assessments['a']}/evidence"
    item = upload(api, url, "org_a").get_json()
    [on_disk] = files_in(app)
    on_disk.unlink()
    gone = api.get(item["download"], "org_a")
    assert gone.status_code == 404
    assert (
        conforms(gone, item["download"])["error"]
        == f"the file of evidence {item['id']} is no longer in the upload store"
    )


def test_evidence_lets_a_draft_be_submitted_through_the_api(api, world):
    a = world.assessments["a"]
    answers = f"/api/v1/assessments/{a}/answers"
    refused = api.post(answers, {"answers": COMPLETE_ANSWERS, "submit": True, "attestation": API_ATTESTATION}, "org_a")
    assert (
        refused.status_code == 422
        and {"criterion": "C1.1", "standard": "C1", "reason": "evidence required"} in refused.get_json()["missing"]
    )
    assert upload(api, f"/api/v1/assessments/{a}/evidence", "org_a").status_code == 201
    submitted = api.post(answers, {"submit": True, "attestation": API_ATTESTATION}, "org_a")
    assert submitted.status_code == 200 and conforms(submitted, answers, "post")["status"] == "submitted"


# -- refusals ------------------------------------------------------------------------------------------------

LINK_REFUSALS = [
    (
        {"criterion": "Z9.9", "url": "https://example.nhs.uk/"},
        "criterion",
        "Z9.9: no such criterion applies to this membership",
    ),
    (
        {"criterion": "C3.1", "url": "https://example.nhs.uk/"},
        "criterion",  # a specialty standard, full member
        "C3.1: no such criterion applies to this membership",
    ),
    ({"criterion": "C1.1", "url": "ftp://example.nhs.uk/plan"}, "url", "C1.1: a link must start with https://"),
    ({"criterion": "C1.1", "url": "https://example.nhs.uk/a plan"}, "url", "C1.1: a link must start with https://"),
    ({"criterion": "C1.1", "url": "https://example.nhs.uk/" + "x" * 2000}, "url", "at most 2000 characters"),
    ({"criterion": "C1.1", "url": "https://example.nhs.uk/\x00"}, "url", "url: cannot contain NUL characters"),
    (
        {"criterion": "C1.1", "url": "https://example.nhs.uk/", "note": "n" * 2001},
        "note",
        "C1.1: a note is at most 2000 characters",
    ),
    ({"criterion": "C1.1"}, "url", "url: required"),
    ({"url": "https://example.nhs.uk/"}, "criterion", "criterion: required"),
    ({"criterion": 11, "url": "https://example.nhs.uk/"}, "criterion", "criterion: expected text"),
    (
        {"criterion": "C1.1", "url": "https://example.nhs.uk/", "kind": "link"},
        "kind",
        "kind: not a field of this request (criterion, url, note)",
    ),
]


@pytest.mark.parametrize("body, field, message", LINK_REFUSALS)
def test_each_refused_link_is_named_by_its_field(app, api, world, body, field, message):
    url = f"/api/v1/assessments/{world.assessments['a']}/evidence"
    response = api.post(url, body, "org_a")
    assert response.status_code == 422, response.get_json()
    refused = conforms(response, url, "post")
    assert [e["field"] for e in refused["errors"]] == [field]
    assert message in refused["errors"][0]["message"] and message in refused["error"]
    assert refused["criterion"] == (body.get("criterion") if isinstance(body.get("criterion"), str) else None)
    assert stored(world) == [] and evidence_events(world) == []


FILE_REFUSALS = [
    (b"MZ\x90\x00", "tool.exe", "application/octet-stream", "tool.exe: files of this type cannot be uploaded"),
    (b"just some text", "report.pdf", "application/pdf", "report.pdf: the content is not a PDF"),
    (PDF, "report.pdf", "image/png", "report.pdf: the file says it is image/png, which does not match a .pdf file"),
    (b"", "empty.txt", "text/plain", "empty.txt: the file is empty"),
    (b"%PDF-" + b"x" * (64 * 1024), "big.pdf", "application/pdf", "big.pdf: larger than the 64 KB limit"),
]


@pytest.mark.parametrize("data, filename, content_type, message", FILE_REFUSALS)
def test_files_outside_the_type_and_size_limits_are_refused(app, api, world, data, filename, content_type, message):
    url = f"/api/v1/assessments/{world.assessments['a']}/evidence"
    response = upload(api, url, "org_a", data, filename, content_type)
    assert response.status_code == 422, response.get_json()
    refused = conforms(response, url, "post")
    [error] = refused["errors"]
    assert error["field"] == "file" and error["message"].startswith(message) and refused["criterion"] == "C1.1"
    assert stored(world) == [] and files_in(app) == [] and evidence_events(world) == []


def test_badly_shaped_file_requests_are_refused(app, api, world):
    url = f"/api/v1/assessments/{world.assessments['a']}/evidence"
    client = api.app.test_client()
    no_file = client.post(
        url, data={"criterion": "C1.1"}, headers=bearer(api, "org_a"), content_type="multipart/form-data"
    )
    assert no_file.status_code == 422
    assert [e["field"] for e in conforms(no_file, url, "post")["errors"]] == ["file"]
    wrong_criterion = upload(api, url, "org_a", criterion="C3.1")
    assert wrong_criterion.status_code == 422 and files_in(app) == []  # checked before the file is stored
    assert conforms(wrong_criterion, url, "post")["errors"][0]["field"] == "criterion"
    with_url = upload(api, url, "org_a", url="https://example.nhs.uk/")
    assert with_url.status_code == 422 and with_url.get_json()["errors"][0]["field"] == "url"
    not_json = client.post(
        url, data="criterion=C1.1", headers={**bearer(api, "org_a"), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and "JSON object" in conforms(not_json, url, "post")["error"]
    assert api.post(url, ["C1.1", "https://example.nhs.uk/"], "org_a").status_code == 400
    too_large = upload(api, url, "org_a", b"%PDF-" + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1))
    assert too_large.status_code == 413 and conforms(too_large, url, "post")["status"] == 413
    assert stored(world) == [] and files_in(app) == []


def test_a_submitted_assessment_refuses_evidence_changes(app, api, world):
    a = world.assessments["a"]
    url = f"/api/v1/assessments/{a}/evidence"
    with db.session_scope(world.url) as session:
        save_answers(session, CLI, a, COMPLETE_ANSWERS)
        link = add_evidence(session, CLI, a, "C1.1", kind="link", url="https://example.nhs.uk/p").id
        submit(session, CLI, a, attested())
    for response, method in (
        (api.post(url, {"criterion": "C1.1", "url": "https://example.nhs.uk/late"}, "org_a"), "post"),
        (upload(api, url, "org_a"), "post"),
        (api.post(url, {"nonsense": True}, "org_a"), "post"),  # the state first
        (api.delete(f"{url}/{link}", "org_a"), "delete"),
    ):
        assert response.status_code == 409
        path = url if method == "post" else f"{url}/{link}"
        assert "only a draft can be changed" in conforms(response, path, method)["error"]
    assert stored(world) == [("C1.1", "link", "https://example.nhs.uk/p")] and files_in(app) == []
    assert [e["id"] for e in api.read(url, "org_a")["evidence"]] == [link]


# -- scope ---------------------------------------------------------------------------------------------------


def test_evidence_stays_within_the_tokens_scope(app, api, world):
    a, peer = world.assessments["a"], world.assessments["p1"]
    mine, theirs = f"/api/v1/assessments/{a}/evidence", f"/api/v1/assessments/{peer}/evidence"
    item = conforms(upload(api, mine, "org_a"), mine, "post")
    with db.session_scope(world.url) as session:
        [peer_link] = [e.id for e in evidence_of(session, peer)]
    # Another organisation: everything of A's is not found, as if it did not exist.
    for response, path, method in (
        (api.get(mine, "org_b"), mine, "get"),
        (api.get(f"{mine}/{item['id']}/file", "org_b"), f"{mine}/{item['id']}/file", "get"),
        (api.post(mine, {"criterion": "C1.1", "url": "https://example.nhs.uk/"}, "org_b"), mine, "post"),
        (upload(api, mine, "org_b"), mine, "post"),
        (api.delete(f"{mine}/{item['id']}", "org_b"), f"{mine}/{item['id']}", "delete"),
        (api.get(theirs, "org_a"), theirs, "get"),
        # the peer's evidence reached through A's own assessment is not found either
        (api.get(f"{mine}/{peer_link}/file", "org_a"), f"{mine}/{peer_link}/file", "get"),
        (api.delete(f"{mine}/{peer_link}", "org_a"), f"{mine}/{peer_link}", "delete"),
    ):
        assert response.status_code == 404, (path, method, response.get_json())
        assert conforms(response, path, method)["error"] == "not found"
    # The alliance's lead reads submitted assessments only, and never writes.
    assert api.get(mine, "alliance").status_code == 404  # A's draft is A's own
    assert [e["id"] for e in api.read(theirs, "alliance")["evidence"]] == [peer_link]
    for who in ("alliance", "other_alliance"):
        for response, path, method in (
            (api.post(theirs, {"criterion": "C1.1", "url": "https://example.nhs.uk/"}, who), theirs, "post"),
            (upload(api, mine, who), mine, "post"),
            (api.delete(f"{theirs}/{peer_link}", who), f"{theirs}/{peer_link}", "delete"),
        ):
            assert response.status_code == 403, (who, path)
            assert "only a member organisation's token" in conforms(response, path, method)["error"]
    assert api.get(theirs, "other_alliance").status_code == 404
    # Unauthenticated and revoked: 401, nothing changes.
    assert api.post(mine, {"criterion": "C1.1", "url": "https://example.nhs.uk/"}).status_code == 401
    assert api.delete(f"{mine}/{item['id']}", "revoked").status_code == 401
    assert [x[1] for x in stored(world)] == ["file"] and len(stored(world, "p1")) == 1
    assert len(files_in(app)) == 1 and [e.action for e in evidence_events(world)] == ["evidence.added"]


def test_the_lead_downloads_a_file_of_a_submitted_assessment(app, api, world):
    a = world.assessments["a"]
    url = f"/api/v1/assessments/{a}/evidence"
    item = conforms(upload(api, url, "org_a"), url, "post")
    assert api.get(item["download"], "alliance").status_code == 404  # a draft: the member's own
    assert (
        api.post(
            f"/api/v1/assessments/{a}/answers",
            {"answers": COMPLETE_ANSWERS, "submit": True, "attestation": API_ATTESTATION},
            "org_a",
        ).status_code
        == 200
    )
    download = api.get(item["download"], "alliance")
    assert download.status_code == 200 and download.data == PDF
    assert api.get(item["download"], "other_alliance").status_code == 404


# -- the rate limit ------------------------------------------------------------------------------------------


def test_the_rate_limit_refuses_a_token_over_it_and_no_other(app, api, world):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert api.get("/api/v1/assessments", "org_a").status_code == 200
    refused = api.get("/api/v1/assessments", "org_a")
    assert refused.status_code == 429
    body = conforms(refused, "/api/v1/assessments")
    assert body["status"] == 429 and "too many requests: at most 3 per 1 minute" in body["error"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Writes count too, and are refused before anything is done.
    posted = api.post(
        f"/api/v1/assessments/{world.assessments['a']}/evidence",
        {"criterion": "C1.1", "url": "https://example.nhs.uk/"},
        "org_a",
    )
    assert posted.status_code == 429 and stored(world) == []
    # Other tokens have their own allowance; the OpenAPI document is not limited.
    assert api.get("/api/v1/assessments", "org_b").status_code == 200
    assert api.get("/api/v1/token", "alliance").status_code == 200
    for _ in range(5):
        assert api.get("/api/v1/openapi.json").status_code == 200


def test_requests_without_a_valid_token_are_limited_by_address(app, api, world):
    app.config["API_RATE_LIMIT"] = "2 per minute"
    here, elsewhere = {"REMOTE_ADDR": "192.0.2.10"}, {"REMOTE_ADDR": "192.0.2.20"}
    client = api.app.test_client()
    for _ in range(2):
        assert client.get("/api/v1/token", environ_base=here).status_code == 401
    refused = client.get("/api/v1/token", environ_base=here)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    conforms(refused, "/api/v1/token")
    # A made-up token for each request gets no fresh allowance from the same address.
    made_up = client.get("/api/v1/token", environ_base=here, headers={"Authorization": "Bearer aat_" + "y" * 43})
    assert made_up.status_code == 429
    # Another address is unaffected, and so is a valid token from there.
    assert client.get("/api/v1/token", environ_base=elsewhere).status_code == 401
    assert client.get("/api/v1/token", environ_base=elsewhere, headers=bearer(api, "org_a")).status_code == 200


def test_the_api_rate_limit_comes_from_the_environment():
    from app import config

    assert config.load({"APP_ENV": "testing"}, environ={})["API_RATE_LIMIT"] == "300 per minute"
    assert config.load({"APP_ENV": "testing"}, environ={"API_RATE_LIMIT": "20/second"})["API_RATE_LIMIT"] == "20/second"
    with pytest.raises(config.ConfigError, match="API_RATE_LIMIT: expected a rate like '300 per minute'"):
        config.load({"APP_ENV": "testing"}, environ={"API_RATE_LIMIT": "plenty"})

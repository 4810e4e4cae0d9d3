"""A lead's draft standards version: it names its uploader, the uploader (or an operator) can delete it, an
alliance holds a bounded number of them, and an operator publishing the same version number learns who holds
it and how to free it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select

import cli
from app import db
from app.models import AuditEvent, StandardsVersion
from app.services import CLI, create_user
from app.services import impact as preview

from .conftest import PASSWORD, password_hash, signed_in, text
from .reviewing import build_review_world
from .test_impact_preview import draft_text, upload


@pytest.fixture
def rw(app, world):
    return build_review_world(world, app.extensions["upload_store"])


def version_row(url: str, version: str) -> StandardsVersion | None:
    with db.session_scope(url) as session:
        return session.exec(select(StandardsVersion).where(StandardsVersion.version == version)).first()


def publish(path: Path):
    return CliRunner().invoke(cli.main, ["standards", "publish", str(path)])


def test_a_leads_draft_names_its_uploader_to_the_operator_and_deleting_it_frees_the_version(app, world, rw, tmp_path):
    lead = signed_in(app, world, "lead")
    assert upload(lead, draft_text(target=65)).status_code == 302
    real = tmp_path / "web-test-2026.2.yaml"
    real.write_text(draft_text(target=80), encoding="utf-8")
    refused = publish(real)
    assert refused.exit_code == 1
    assert (
        "web-test 2026.2 is held by a draft with different content, uploaded by Alliance Lead "
        "(lead@alliance.test) on " in refused.output
    )
    assert "`python cli.py standards delete-draft web-test 2026.2`" in refused.output
    assert "Standards versions page" in refused.output
    draft = version_row(world.url, "2026.2")
    assert draft.state == "draft" and draft.created_by == world.user_ids["lead"]

    listing = text(lead.get("/review/standards"))
    assert "Alliance Lead (lead@alliance.test)" in listing
    delete_url = f"/review/standards/{draft.id}/delete"
    assert f'href="{delete_url}"' in listing
    confirm = lead.get(delete_url)  # a page that asks first; nothing is deleted yet
    assert confirm.status_code == 200 and "Delete draft web-test 2026.2?" in text(confirm)
    assert version_row(world.url, "2026.2") is not None
    assert lead.post(delete_url, csrf=False).status_code == 400  # a form of this service only
    assert version_row(world.url, "2026.2") is not None
    done = lead.post(delete_url)
    assert done.status_code == 302 and done.headers["Location"] == "/review/standards"
    assert "Draft web-test 2026.2 deleted" in text(lead.get("/review/standards"))
    assert version_row(world.url, "2026.2") is None
    with db.session_scope(world.url) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "standards.draft_deleted")).one()
        assert event.actor == world.emails["lead"] and event.entity_id == draft.id
        assert event.before["version"] == "2026.2" and event.before["created_by"] == world.user_ids["lead"]

    published = publish(real)
    assert published.exit_code == 0, published.output
    assert version_row(world.url, "2026.2").state == "published"


def test_only_the_uploader_deletes_a_draft_and_never_a_published_version(app, world, rw):
    lead = signed_in(app, world, "lead")
    draft_id = int(upload(lead, draft_text()).headers["Location"].split("/")[-2])
    with db.session_scope(world.url) as session:
        create_user(
            session,
            CLI,
            email="second.lead@alliance.test",
            name="Second Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=world.alliance_id,
            password_hash=password_hash(PASSWORD),
        )
    world.emails["second_lead"] = "second.lead@alliance.test"
    second = signed_in(app, world, "second_lead")
    assert f"/review/standards/{draft_id}/delete" not in text(second.get("/review/standards"))
    assert second.get(f"/review/standards/{draft_id}/delete").status_code == 404  # not theirs to be asked about
    refused = second.post(f"/review/standards/{draft_id}/delete")
    assert refused.status_code == 302
    assert "was uploaded by Alliance Lead (lead@alliance.test): only they, or an administrator, can delete it" in text(
        second.get("/review/standards")
    )
    assert version_row(world.url, "2026.2") is not None
    other = signed_in(app, world, "lead_y")  # another alliance (on the same set): not theirs to see or delete
    assert other.post(f"/review/standards/{draft_id}/delete").status_code == 302
    assert version_row(world.url, "2026.2") is not None
    published = world.version_id
    assert lead.get(f"/review/standards/{published}/delete").status_code == 404
    lead.post(f"/review/standards/{published}/delete")
    assert "web-test 2026.1 is published; only a draft can be deleted" in text(lead.get("/review/standards"))
    assert version_row(world.url, "2026.1").state == "published"


def test_an_operator_deletes_any_draft_from_the_command_line(app, world, rw):
    lead = signed_in(app, world, "lead")
    upload(lead, draft_text())
    deleted = CliRunner().invoke(cli.main, ["standards", "delete-draft", "web-test", "2026.2"])
    assert deleted.exit_code == 0, deleted.output
    assert "deleted the draft web-test 2026.2 uploaded by Alliance Lead (lead@alliance.test)" in deleted.output
    assert version_row(world.url, "2026.2") is None
    published = CliRunner().invoke(cli.main, ["standards", "delete-draft", "web-test", "2026.1"])
    assert published.exit_code == 1 and "web-test 2026.1 is published; only a draft can be deleted" in published.output
    missing = CliRunner().invoke(cli.main, ["standards", "delete-draft", "web-test", "9.9"])
    assert missing.exit_code == 1 and "web-test 9.9 is not registered" in missing.output


def test_an_alliance_holds_a_bounded_number_of_drafts(app, world, rw):
    lead = signed_in(app, world, "lead")
    for n in range(preview.MAX_DRAFTS):
        assert upload(lead, draft_text(version=f"2027.{n}")).status_code == 302
    page = text(lead.get("/review/standards"))
    assert f"This alliance holds {preview.MAX_DRAFTS} of at most {preview.MAX_DRAFTS} draft versions" in page
    refused = upload(lead, draft_text(version="2028.1"))
    assert refused.status_code == 400
    assert (
        f"Web Test Alliance already has {preview.MAX_DRAFTS} draft versions, the most it can hold: delete a draft "
        "you no longer need, then upload this file again"
    ) in text(refused)
    assert version_row(world.url, "2028.1") is None
    assert upload(lead, draft_text(version="2027.0")).status_code == 302  # the same file again finds its draft
    other = signed_in(app, world, "lead_y")  # another alliance on the same set has its own allowance
    assert upload(other, draft_text(version="2028.1")).status_code == 302


def test_uploading_a_version_number_held_by_other_content_says_who_holds_it(app, world, rw):
    lead = signed_in(app, world, "lead")
    upload(lead, draft_text(target=65))
    other = signed_in(app, world, "lead_y")
    refused = upload(other, draft_text(target=60))
    assert refused.status_code == 400  # the upload form with the reason, not an error page
    body = text(refused)
    assert "web-test 2026.2 is held by a draft with different content, uploaded by Alliance Lead" in body
    published = upload(other, draft_text(version="2026.1", target=60))
    assert published.status_code == 400
    assert "web-test 2026.1 is already registered with different content (published" in text(published)

"""A lead's journey in a real browser with a real worker process beside the web app, as in production: upload
a draft of the standards, see its impact preview waiting, then appear once the worker has worked it out (the page
refreshes itself, with no script)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app import create_app
from app.jobs import queue
from tests.workers import queue_name, running_worker, sqlite_queue

from .conftest import build_world, served
from .reviewing import build_review_world
from .test_browser import shot, unlabelled_controls
from .test_impact_preview import draft_text
from .test_review_browser import sign_in


@pytest.fixture
def live_with_worker(database_url, tmp_path):
    world = build_world(database_url)
    jobs_url, name = sqlite_queue(tmp_path), queue_name()
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "browser-test",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "EXPORT_DIR": str(tmp_path / "exports"),
            "JOBS_URL": jobs_url,
            "JOBS_NAME": name,
        }
    )
    rw = build_review_world(world, app.extensions["upload_store"])
    try:
        with served(app) as base:
            yield base, rw, jobs_url, name
    finally:
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def test_a_lead_uploads_a_draft_and_its_preview_appears_from_the_worker(live_with_worker, page, tmp_path):
    base, rw, jobs_url, name = live_with_worker
    draft = tmp_path / "web-test-2026.2.yaml"
    draft.write_text(draft_text(), encoding="utf-8")
    sign_in(page, base, rw.world.emails["lead"])
    page.wait_for_url(re.compile(r".*/review/$"))
    page.goto(f"{base}/review/standards")
    page.locator("input[type=file][name=standards_file]").set_input_files(str(draft))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url(re.compile(r".*/review/standards/\d+/impact$"))
    # No worker yet: the preview waits, and says so.
    expect(page.locator("#preview-state")).to_have_attribute("data-state", "queued")
    expect(page.locator("#preview-state")).to_contain_text("waiting to start")
    assert unlabelled_controls(page) == []
    shot(page, "jobs-01-preview-waiting")
    with running_worker(tmp_path, rw.world.url, jobs_url, extra_env={"JOBS_NAME": name}):
        # The page refreshes itself until the worker's result is there.
        expect(page.locator("h1")).to_have_text("Impact of web-test 2026.2", timeout=60_000)
        expect(page.locator("main")).to_contain_text("This is a dry run", timeout=60_000)
    expect(page.locator("main")).to_contain_text("Breach Trust")
    expect(page.locator("main")).not_to_contain_text("Other Trust")
    expect(page.locator("#preview-state")).to_have_count(0)
    shot(page, "jobs-02-preview-done")
    assert page.problems == []

"""The impact preview and a whole-cycle export, asked for on the lead's pages and done by a real worker process
(``cli.py worker``) on the embedded queue (an SQLite file) and on Redis; and a task that raises, recorded."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
from sqlmodel import select

from app import create_app, db
from app.jobs import queue
from app.models import CycleExport, ImpactPreview, JobFailure
from tests.web.conftest import signed_in, text
from tests.web.reviewing import build_review_world
from tests.web.test_impact_preview import draft_text
from tests.workers import (
    REDIS_URL,
    ROOT,
    drop_redis_queue,
    queue_name,
    redis_available,
    running_worker,
    sqlite_queue,
    worker_env,
)


def wait_for(check: Callable[[], bool], what: str, worker, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not done in {seconds} s; the worker printed:\n{worker.log()}")
        time.sleep(0.1)


def status_of(url: str, model, row_id: int) -> str:
    with db.session_scope(url) as session:
        row = session.get(model, row_id)
        return row.status if row is not None else "gone"


def app_on(database_url: str, jobs_url: str, name: str, exports: Path):
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(exports.parent / "uploads"),
            "EXPORT_DIR": str(exports),
            "JOBS_URL": jobs_url,
            "JOBS_NAME": name,
        }
    )


def preview_and_export(app, world, tmp_path: Path, jobs_url: str, name: str, exports: Path) -> None:
    lead = signed_in(app, world, "lead")
    uploaded = lead.post(
        "/review/standards",
        {"standards_file": (io.BytesIO(draft_text().encode()), "web-test-2026.2.yaml")},
        content_type="multipart/form-data",
    )
    version_id = int(uploaded.headers["Location"].split("/")[-2])
    env = {"EXPORT_DIR": str(exports), "JOBS_NAME": name}
    with running_worker(tmp_path, world.url, jobs_url, extra_env=env) as worker:
        first = text(lead.get(f"/review/standards/{version_id}/impact"))
        assert 'data-state="queued"' in first or 'data-state="running"' in first or "This is a dry run" in first
        with db.session_scope(world.url) as session:
            preview_id = session.exec(select(ImpactPreview.id).where(ImpactPreview.version_id == version_id)).one()
        wait_for(lambda: status_of(world.url, ImpactPreview, preview_id) == "done", "the preview", worker)
        page = text(lead.get(f"/review/standards/{version_id}/impact"))
        assert "This is a dry run" in page and "Breach Trust" in page and "Other Trust" not in page
        asked = lead.post("/review/exports", {"cycle_id": str(world.cycle_id), "kind": "all", "fmt": "zip"})
        assert asked.status_code == 302
        with db.session_scope(world.url) as session:
            export_id = session.exec(select(CycleExport.id).order_by(CycleExport.id.desc())).first()
        wait_for(lambda: status_of(world.url, CycleExport, export_id) == "done", "the export", worker)
    download = lead.get(f"/review/exports/{export_id}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.get_data()[:2] == b"PK" and any(exports.rglob("*.zip"))


def test_a_worker_on_the_sqlite_queue_previews_and_exports(database_url, tmp_path):
    from tests.web.conftest import build_world

    world = build_world(database_url)
    jobs_url, name, exports = sqlite_queue(tmp_path), queue_name(), tmp_path / "exports"
    app = app_on(database_url, jobs_url, name, exports)
    build_review_world(world, app.extensions["upload_store"])
    try:
        preview_and_export(app, world, tmp_path, jobs_url, name, exports)
    finally:
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def test_a_worker_on_redis_previews_and_exports(database_url, tmp_path):
    if not redis_available():
        pytest.skip(f"Redis at {REDIS_URL} cannot be reached")
    from tests.web.conftest import build_world

    world = build_world(database_url)
    name, exports = queue_name(), tmp_path / "exports"
    app = app_on(database_url, REDIS_URL, name, exports)
    build_review_world(world, app.extensions["upload_store"])
    try:
        preview_and_export(app, world, tmp_path, REDIS_URL, name, exports)
    finally:
        drop_redis_queue(REDIS_URL, name)
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def test_a_task_that_raises_in_a_worker_is_recorded_and_listed(database_url, tmp_path):
    from tests.web.conftest import build_world

    world = build_world(database_url)
    jobs_url, name = sqlite_queue(tmp_path), queue_name()
    blocked = tmp_path / "exports-is-a-file"
    blocked.write_text("not a directory")
    app = app_on(database_url, jobs_url, name, blocked)
    build_review_world(world, app.extensions["upload_store"])
    lead = signed_in(app, world, "lead")
    try:
        with running_worker(
            tmp_path, world.url, jobs_url, extra_env={"EXPORT_DIR": str(blocked), "JOBS_NAME": name}
        ) as worker:
            lead.post("/review/exports", {"cycle_id": str(world.cycle_id), "kind": "results", "fmt": "csv"})
            with db.session_scope(world.url) as session:
                export_id = session.exec(select(CycleExport.id)).one()
            wait_for(lambda: status_of(world.url, CycleExport, export_id) == "failed", "the failed export", worker)
            wait_for(lambda: _failures(world.url) == 1, "the failure record", worker)
    finally:
        queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})
    with db.session_scope(world.url) as session:
        failure = session.exec(select(JobFailure)).one()
    assert failure.task_name.endswith("write_export") and failure.subject == f"ids {export_id}"
    assert failure.error_type in ("NotADirectoryError", "FileExistsError") and failure.retries_left == 0
    assert "Traceback" in worker.log()  # the traceback is in the worker's log, not in the record
    assert "Traceback" not in failure.message and str(failure.task_id) in worker.log()
    page = text(lead.get("/review/exports"))
    assert "The export could not be written" in page and str(blocked) not in page
    admin = signed_in(app, world, "admin")
    listed = text(admin.get("/admin/jobs"))
    assert "write_export" in listed and failure.error_type in listed and "last attempt" in listed
    printed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "jobs", "failures"],
        env=worker_env(world.url, jobs_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert (
        "write_export" in printed.stdout
        and f"ids {export_id}" in printed.stdout
        and failure.error_type in printed.stdout
    )


def _failures(url: str) -> int:
    with db.session_scope(url) as session:
        return len(session.exec(select(JobFailure)).all())

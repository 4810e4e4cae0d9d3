"""The queue with a real worker process: on the embedded default (an SQLite file) and on Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import config as app_config
from app.jobs import queue, tasks
from tests.workers import REDIS_URL, flush_redis_queue, redis_available, running_worker, sqlite_queue


def _queues(tmp_path: Path) -> list[str]:
    return [sqlite_queue(tmp_path)] + ([REDIS_URL] if redis_available() else [])


def test_a_worker_runs_a_task_enqueued_by_another_process(database_url: str, tmp_path: Path) -> None:
    for jobs_url in _queues(tmp_path):
        queue.configure(app_config.load({"APP_ENV": "testing", "DATABASE_URL": database_url, "JOBS_URL": jobs_url}))
        try:
            with running_worker(tmp_path, database_url, jobs_url):
                result = tasks.ping("hello from the test")
                assert result.get(blocking=True, timeout=20) == "hello from the test", jobs_url
        finally:
            if jobs_url.startswith("redis"):
                flush_redis_queue(jobs_url)
            queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})


def test_immediate_runs_the_task_in_the_caller(database_url: str) -> None:
    queue.configure({"JOBS_URL": queue.IMMEDIATE, "DATABASE_URL": database_url})
    assert tasks.ping("now")() == "now"


def test_a_bad_jobs_url_is_named() -> None:
    with pytest.raises(app_config.ConfigError, match="JOBS_URL: expected 'immediate', sqlite:///PATH or a Redis URL"):
        app_config.load({}, environ={"APP_ENV": "testing", "JOBS_URL": "amqp://guest@localhost"})


def test_the_worker_refuses_an_immediate_queue(database_url: str) -> None:
    import subprocess
    import sys

    from tests.workers import ROOT, worker_env

    done = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "worker"],
        env=worker_env(database_url, "immediate"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "JOBS_URL is 'immediate'" in done.stderr

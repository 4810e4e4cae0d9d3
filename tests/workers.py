"""A real queue worker for the tests: ``cli.py worker`` started as its own process on the test's database and
queue, stopped (or killed) by the test. Queues are an SQLite file in the test's directory or a Redis database
(``TEST_REDIS_URL``, default redis://127.0.0.1:6379/15) under a name of the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
STARTED = "Huey consumer started"


def sqlite_queue(directory: Path) -> str:
    return f"sqlite:///{directory / f'jobs-{uuid.uuid4().hex[:8]}.db'}"


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def worker_env(database_url: str, jobs_url: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "JOBS_URL": jobs_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


class Worker:
    """A running ``cli.py worker``; ``log()`` is what it has printed so far."""

    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the consumer and its worker processes at once: nothing is finished or cleaned up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGINT: the consumer finishes the tasks in hand, then exits."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running_worker(
    directory: Path,
    database_url: str,
    jobs_url: str,
    workers: int = 1,
    extra_env: Optional[Mapping[str, str]] = None,
    args: tuple[str, ...] = (),
) -> Iterator[Worker]:
    log_path = directory / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "worker", "--workers", str(workers), *args],
            cwd=ROOT,
            env=worker_env(database_url, jobs_url, extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(process, log_path)
    try:
        deadline = time.monotonic() + 30
        while STARTED not in worker.log():
            if process.poll() is not None:
                raise AssertionError(f"the worker exited with {process.returncode}:\n{worker.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker did not start in 30 s:\n{worker.log()}")
            time.sleep(0.05)
        yield worker
    finally:
        worker.stop()


def flush_redis_queue(jobs_url: str) -> None:
    """Empty the Redis database a test's queue used."""
    import redis

    redis.Redis.from_url(jobs_url).flushdb()


def queue_name() -> str:
    """A queue name of the test's own (``JOBS_NAME``): its tasks are not taken by another test's worker on the
    same Redis database."""
    return f"alliance-test-{uuid.uuid4().hex[:8]}"


def drop_redis_queue(jobs_url: str, name: str) -> None:
    """Delete the keys of one named queue (not the whole database, which other runs may be using)."""
    import redis

    client = redis.Redis.from_url(jobs_url)
    keys = list(client.scan_iter(match=f"huey.*.{name}*"))
    if keys:
        client.delete(*keys)

"""gunicorn's settings for serving ``wsgi:app`` (gunicorn reads this file from the working directory).

Every setting comes from the environment, with defaults for a 2-core server
behind a TLS reverse proxy; the application's own settings are in
app/config.py. The request log (app/web/request_log.py) replaces gunicorn's
access log: one JSON line per request on stderr.
"""

from __future__ import annotations

import os
import sys


def _number(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        sys.exit(f"error: {name}: expected a whole number, got {value!r}")
    if number < 0:
        sys.exit(f"error: {name}: must not be negative, got {number}")
    return number


_cores = os.cpu_count() or 2

# Only the proxy should reach gunicorn: listen on the loopback unless told otherwise.
bind = [address.strip() for address in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if address.strip()]
# Processes for the CPU-bound part (templates, the rules engine, password hashing), threads to overlap
# database waits: 2 cores -> 4 workers x 4 threads.
workers = _number("GUNICORN_WORKERS", max(2, _cores * 2))
threads = _number("GUNICORN_THREADS", 4)
worker_class = "gthread"
# A request that takes longer than this is killed (its worker restarted); exports and scoring take seconds.
timeout = _number("GUNICORN_TIMEOUT", 60)
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _number("GUNICORN_KEEPALIVE", 5)
# Workers are replaced now and then, so a slow leak cannot grow for ever.
max_requests = _number("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _number("GUNICORN_MAX_REQUESTS_JITTER", 200)
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# Each worker builds its own application, so no database connection is shared across a fork.
preload_app = False
# The heartbeat file in memory: a slow or full disk must not get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn 25.1+ runtime control socket (gunicornc): off unless a path is given, so two instances on one
# host never fight over the default path.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control_socket:
    control_socket = _control_socket
control_socket_disable = not _control_socket
# The proxy's X-Forwarded-Proto is trusted from these addresses (gunicorn reads FORWARDED_ALLOW_IPS itself).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


def on_starting(server) -> None:  # noqa: ANN001
    """Check settings and schema once, before any worker starts: a worker that cannot start would
    otherwise be restarted for ever, each time printing the same error. Production refuses more than one
    worker with rate limits counted in memory (each worker would count on its own)."""
    from app import StartupError, create_app, db
    from app.web.limits import unshared_limits

    try:
        problem = unshared_limits(create_app().config, server.cfg.workers)
    except StartupError as exc:
        problem = str(exc)
    finally:
        db.dispose_engines()
    if problem:
        print(f"error: cannot start the web application: {problem}", file=sys.stderr)
        sys.exit(1)

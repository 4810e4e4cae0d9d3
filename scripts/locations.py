"""Where the application keeps what a backup holds, for scripts/backup.sh and scripts/restore.sh.

Prints four lines, from the same settings the application reads: the kind of database (postgresql or
sqlite), its location (a PostgreSQL URL without the password, or the SQLite file's path), the uploads
directory, and the database password (empty if none; the scripts pass it on in the environment only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.engine import make_url  # noqa: E402

from app.config import DEFAULT_UPLOAD_DIR  # noqa: E402
from app.db import database_url  # noqa: E402

url = make_url(database_url())
kind = (
    "postgresql" if url.drivername.startswith("postgres") else "sqlite" if url.drivername.startswith("sqlite") else "?"
)
print(kind)
print(
    url.set(drivername="postgresql", password=None).render_as_string()
    if kind == "postgresql"
    else os.path.abspath(url.database or "")
)
print(os.path.abspath(os.environ.get("UPLOAD_DIR") or DEFAULT_UPLOAD_DIR))
print(url.password or "")

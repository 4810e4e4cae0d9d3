#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh: scripts/restore.sh BACKUP_DIR --replace
#
# Stop the application first. Restores into the database of DATABASE_URL and into UPLOAD_DIR (as the
# application reads them), replacing what is there (hence --replace): the database first, then the files.
# The files there before are kept beside UPLOAD_DIR as UPLOAD_DIR.before-restore-<UTC time> until you
# remove them. Then checks the restore: the schema revision, and every evidence file the database names
# is present with the size and SHA-256 recorded for it. Exit 1 on any problem.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3 )}"
umask 077

usage() { echo "usage: scripts/restore.sh BACKUP_DIR --replace" >&2; exit 2; }
[ $# -eq 2 ] && [ "$2" = "--replace" ] || usage
backup="$(cd "$1" && pwd)" || usage

(cd "$backup" && sha256sum --check --quiet SHA256SUMS) || {
  echo "error: $backup does not match its SHA256SUMS: the backup is damaged or incomplete" >&2; exit 1; }

settings="$(cd "$ROOT" && "$PYTHON" scripts/locations.py)"
{ read -r kind; read -r target; read -r uploads; read -r password || true; } <<<"$settings"
if [ -n "$password" ]; then export PGPASSWORD="$password"; fi

case "$kind" in
  postgresql)
    [ -f "$backup/database.pgdump" ] || { echo "error: $backup holds no PostgreSQL dump" >&2; exit 1; }
    # One transaction: a restore that fails leaves the database as it was.
    pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
      --dbname "$target" "$backup/database.pgdump"
    # A dump holds no planner statistics: gather them now rather than wait for autovacuum.
    psql --dbname "$target" --quiet --no-psqlrc --command ANALYZE
    ;;
  sqlite)
    [ -f "$backup/database.sqlite" ] || { echo "error: $backup holds no SQLite database" >&2; exit 1; }
    mkdir -p "$(dirname "$target")"
    "$PYTHON" - "$backup/database.sqlite" "$target.restoring" <<'EOF'
import os, sqlite3, sys
source, partial = sys.argv[1], sys.argv[2]
if os.path.exists(partial):
    os.remove(partial)
copy = sqlite3.connect(partial)
with copy:
    sqlite3.connect(source).backup(copy)
problem = copy.execute("PRAGMA integrity_check").fetchone()[0]
copy.close()
if problem != "ok":
    sys.exit(f"error: the backup's database fails its integrity check: {problem}")
EOF
    # The old write-ahead log belongs to the old database: it must not be replayed onto the restored one.
    rm -f "$target-wal" "$target-shm"
    mv -f "$target.restoring" "$target"
    ;;
  *)
    echo "error: DATABASE_URL is neither PostgreSQL nor SQLite" >&2; exit 1 ;;
esac

restoring="$uploads.restoring"
rm -rf "$restoring"
mkdir -p "$restoring"
tar -C "$restoring" -xzf "$backup/uploads.tar.gz"
if [ -e "$uploads" ]; then
  mv "$uploads" "$uploads.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
fi
mv "$restoring" "$uploads"
echo "restored $backup"

cd "$ROOT"
"$PYTHON" cli.py db status || echo "see above: an older schema needs \`python cli.py db upgrade\` before starting"
UPLOAD_DIR="$uploads" "$PYTHON" - <<'EOF'
import hashlib, os, sys
from sqlalchemy import func
from sqlmodel import select
from app import db
from app.models import Assessment, Evidence, Organisation, User
from app.uploads import UploadStore

store = UploadStore(os.environ["UPLOAD_DIR"])
problems, files = [], 0
with db.session_scope() as session:
    counts = {model.__name__.lower(): session.exec(select(func.count()).select_from(model)).one()
              for model in (Organisation, User, Assessment, Evidence)}
    for evidence in session.exec(select(Evidence).where(Evidence.storage_key.is_not(None))):
        files += 1
        path = store.path(evidence.storage_key)
        if not path.is_file():
            problems.append(f"evidence {evidence.id} ({evidence.filename}): file {evidence.storage_key} is missing")
            continue
        data = path.read_bytes()
        if len(data) != evidence.size or (evidence.sha256 and hashlib.sha256(data).hexdigest() != evidence.sha256):
            problems.append(f"evidence {evidence.id} ({evidence.filename}): file {evidence.storage_key} differs "
                            "from its recorded size or SHA-256")
print("restored rows: " + ", ".join(f"{count} {name}" for name, count in counts.items()))
if problems:
    print("\n".join(f"problem: {p}" for p in problems), file=sys.stderr)
    sys.exit(1)
print(f"checked: all {files} evidence files present and intact")
EOF

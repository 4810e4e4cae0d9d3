#!/usr/bin/env bash
# Back up the database and the evidence files: scripts/backup.sh [DESTINATION]   (default: backups/)
#
# Reads DATABASE_URL and UPLOAD_DIR as the application does (defaults: instance/alliance.db and
# instance/uploads). Writes DESTINATION/alliance-<UTC time>/ with
#   database.pgdump (PostgreSQL, pg_dump custom format) or database.sqlite (SQLite, online backup),
#   uploads.tar.gz, schema-revision and SHA256SUMS,
# readable by its owner only: it holds personal data and password hashes.
# The database first, then the files: a file is stored before its evidence row commits and deleted only
# after its removal commits, so every file the database copy names is still there when the files are copied.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3 )}"
umask 077

settings="$(cd "$ROOT" && "$PYTHON" scripts/locations.py)"
{ read -r kind; read -r target; read -r uploads; read -r password || true; } <<<"$settings"
# The password goes to pg_dump through its environment, not its command line (which anyone can list).
if [ -n "$password" ]; then export PGPASSWORD="$password"; fi

destination="${1:-$ROOT/backups}"
out="$destination/alliance-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
echo "backing up to $out"

case "$kind" in
  postgresql)
    pg_dump --format=custom --no-owner --no-privileges --file "$out/database.pgdump" --dbname "$target"
    ;;
  sqlite)
    [ -f "$target" ] || { echo "error: no SQLite database at $target" >&2; exit 1; }
    # The online backup API: a consistent copy even while the application writes.
    "$PYTHON" - "$target" "$out/database.sqlite" <<'EOF'
import sqlite3, sys
source, copy = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
with copy:
    source.backup(copy)
problem = copy.execute("PRAGMA integrity_check").fetchone()[0]
copy.close(); source.close()
if problem != "ok":
    sys.exit(f"error: the copy fails its integrity check: {problem}")
EOF
    ;;
  *)
    echo "error: DATABASE_URL is neither PostgreSQL nor SQLite" >&2; exit 1 ;;
esac

(cd "$ROOT" && "$PYTHON" cli.py db status) > "$out/schema-revision" 2>&1 || true

if [ -d "$uploads" ]; then
  tar -C "$uploads" -czf "$out/uploads.tar.gz" .
else
  tar -czf "$out/uploads.tar.gz" -T /dev/null
fi

(cd "$out" && sha256sum database.* uploads.tar.gz > SHA256SUMS)
echo "done: $(du -sh "$out" | cut -f1) in $out"

#!/usr/bin/env bash
# Install (scripts/setup.sh), validate the bundled standards packs, score the example self-assessments (one line
# each), then load the demo world and start the web application on http://127.0.0.1:5000 with a job worker beside
# it (python cli.py worker, on an SQLite queue file). The last lines before the server starts are the demo users
# with their passwords and the URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
# One line per scored example: outcome, overall score and rating, breaches, unanswered questions, flags.
summary=$(cat <<'PY'
import json, sys
from collections import Counter
result = json.load(sys.stdin)
breaches = Counter(breach["severity"] for breach in result["breaches"])
flags = Counter(flag["severity"] for flag in result["flags"])
name, outcome = sys.argv[1].removesuffix(".json"), result["outcome"].replace("_", " ")
line = (f"  {name:<38}{outcome:<28}{str(result['overall']):>5} {str(result['rating']):<13}"
        f"{len(result['breaches']):>2} breaches ({breaches['major']} major)")
if result["unanswered"]:
    line += f", {len(result['unanswered'])} unanswered"
if flags:
    line += ", flags: " + ", ".join(f"{n} {severity}" for severity, n in sorted(flags.items()))
print(line)
PY
)
$py cli.py standards validate standards/*.yaml
echo
echo "== the example self-assessments in examples/answers/, scored against their alliance's standards"
echo "   (python cli.py score --standards FILE --answers FILE prints the whole result as JSON)"
# An example's prefix names its standards set (noa- or ha-); a version after the prefix names the edition
# (noa-2026.2-full-accredited.json is scored against noa-orthopaedics-2026.2.yaml), else it is 2026.1.
for answers in examples/answers/*.json; do
    name=$(basename "$answers")
    case "$name" in
        noa-*) set_id=noa-orthopaedics ;;
        *) set_id=healthcare-alliance ;;
    esac
    version=2026.1
    if [[ "$name" =~ ^[a-z]+-([0-9]{4}\.[0-9]+)- ]]; then version=${BASH_REMATCH[1]}; fi
    set_file=standards/$set_id-$version.yaml
    $py cli.py score --standards "$set_file" --answers "$answers" | $py -c "$summary" "$name"
done

# The web application on SQLite with the demo world loaded; `demo load` ends with the demo users.
export DATABASE_URL="${DEMO_DATABASE_URL:-sqlite:///$PWD/instance/alliance.db}"
echo
$py cli.py db upgrade
$py cli.py demo load
export APP_ENV=development SECRET_KEY="${SECRET_KEY:-demo-only-development-secret}"
# A job worker beside the web application, as in production: email, reminders, impact previews, whole-cycle exports
# and rescoring run in it.
# The queue is an SQLite file (no server); the worker stops with the demo.
export JOBS_URL="${JOBS_URL:-sqlite:///$PWD/instance/jobs.db}" EXPORT_DIR="${EXPORT_DIR:-$PWD/instance/exports}"
$py cli.py worker --workers 1 >instance/worker.log 2>&1 &
worker=$!
trap 'kill -INT "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT
echo
echo "== a job worker (python cli.py worker, pid $worker) runs email, reminders, impact previews, exports and rescoring; its log: instance/worker.log"
echo "== the web application: http://127.0.0.1:${PORT:-5000}"
echo "   sign in with a demo user above, e.g. lead.noa@demo.example / demo-lead-noa-pass; Ctrl-C stops both"
$py -m flask --app wsgi:app run --host 127.0.0.1 --port "${PORT:-5000}"

#!/usr/bin/env bash
# Install, validate the bundled standards packs, score the example self-assessments (one line each), then
# load the demo world and start the web application on http://127.0.0.1:5000; the last lines printed before
# the server starts are the demo users with their passwords and the address to open.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
summary='import json, sys
r = json.load(sys.stdin)
print("  overall %s, %s, %s; benchmark breaches %d, support needs %d"
      % (r["overall"], r["rating"], r["outcome"], len(r["breaches"]), len(r["support_needs"])))'
echo "== the bundled standards packs"
$py cli.py standards validate standards/*.yaml
echo
echo "== the example self-assessments in examples/answers/, scored (the whole result: .venv/bin/python cli.py score --standards FILE --answers FILE)"
for answers in examples/answers/*.json; do
    case "$(basename "$answers")" in
        noa-*) set_file=standards/noa-orthopaedics-2026.1.yaml ;;
        *) set_file=standards/healthcare-alliance-2026.1.yaml ;;
    esac
    echo "$answers against $set_file:"
    $py cli.py score --standards "$set_file" --answers "$answers" | $py -c "$summary"
done

# The web application on SQLite with the demo world loaded.
export DATABASE_URL="${DEMO_DATABASE_URL:-sqlite:///$PWD/instance/alliance.db}"
echo
echo "== the demo world in ${DATABASE_URL}"
$py cli.py db upgrade
$py cli.py demo load
echo
echo "== the web application: http://127.0.0.1:${PORT:-5000}"
echo "   sign in with a demo user above, e.g. lead.noa@demo.example / demo-lead-noa-pass; Ctrl-C stops it"
export APP_ENV=development SECRET_KEY="${SECRET_KEY:-demo-only-development-secret}"
exec $py -m flask --app wsgi:app run --host 127.0.0.1 --port "${PORT:-5000}"

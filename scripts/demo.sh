#!/usr/bin/env bash
# Install, validate the bundled standards packs, score the example self-assessments, then load the demo
# world and start the web application on http://127.0.0.1:5000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
summary='import json, sys
result = json.load(sys.stdin)
keys = ("overall", "rating", "outcome", "domains", "breaches", "unanswered", "support_needs", "core_proposition",
        "flags", "mapped")
print(json.dumps({key: result[key] for key in keys if key in result}, indent=2))'
$py cli.py standards validate standards/*.yaml
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
    echo; echo "== $answers against $set_file"
    $py cli.py score --standards "$set_file" --answers "$answers" | $py -c "$summary"
done

# The web application on SQLite with the demo world loaded (the users and passwords are listed above).
export DATABASE_URL="${DEMO_DATABASE_URL:-sqlite:///$PWD/instance/alliance.db}"
$py cli.py db upgrade
$py cli.py demo load
echo
echo "== the web application: http://127.0.0.1:${PORT:-5000} (sign in with a demo user above; Ctrl-C stops it)"
export APP_ENV=development SECRET_KEY="${SECRET_KEY:-demo-only-development-secret}"
exec $py -m flask --app wsgi:app run --host 127.0.0.1 --port "${PORT:-5000}"

#!/usr/bin/env bash
# Install, validate the bundled standards packs, and score the example self-assessments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
py=.venv/bin/python
summary='import json, sys
result = json.load(sys.stdin)
keys = ("overall", "rating", "outcome", "domains", "breaches", "unanswered", "support_needs", "core_proposition", "flags")
print(json.dumps({key: result[key] for key in keys}, indent=2))'
$py cli.py standards validate standards/*.yaml
for answers in examples/answers/*.json; do
    case "$(basename "$answers")" in
        noa-*) set_file=standards/noa-orthopaedics-2026.1.yaml ;;
        *) set_file=standards/healthcare-alliance-2026.1.yaml ;;
    esac
    echo; echo "== $answers against $set_file"
    $py cli.py score --standards "$set_file" --answers "$answers" | $py -c "$summary"
done

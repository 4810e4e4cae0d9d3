#!/usr/bin/env bash
# Install the NHS.UK frontend (CSS, JavaScript, images) from npm into node_modules/, where the web app serves
# it from. The version is pinned in package.json to the one nhsuk-frontend-jinja's macros are written for.
# Does nothing when that version is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
pinned=$(sed -n 's/.*"nhsuk-frontend": *"\([^"]*\)".*/\1/p' package.json)
installed=""
if [ -f node_modules/nhsuk-frontend/package.json ]; then
    installed=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' node_modules/nhsuk-frontend/package.json)
fi
if [ -n "$pinned" ] && [ "$installed" = "$pinned" ] && [ -f node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "assets.sh: npm is needed to install nhsuk-frontend $pinned (install Node.js 18 or later)" >&2
    exit 1
fi
echo "assets.sh: installing the NHS.UK frontend $pinned from npm into node_modules/ (the pages' styles and scripts)"
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi
test -f node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css

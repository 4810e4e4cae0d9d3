#!/usr/bin/env bash
# Install from npm into node_modules/ what package.json pins: the NHS.UK frontend (CSS, JavaScript, images), which
# the web app serves from there (the version nhsuk-frontend-jinja's macros are written for), and the OpenID Connect
# provider the single sign-on tests start (oidc-provider, a devDependency; tests/oidc_provider.mjs).
# Does nothing when every pinned version is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
installed_version() {
    if [ -f "node_modules/$1/package.json" ]; then
        sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "node_modules/$1/package.json"
    fi
}
missing=""
for package in nhsuk-frontend oidc-provider; do
    pinned=$(sed -n "s/.*\"$package\": *\"\\([^\"]*\\)\".*/\\1/p" package.json)
    if [ -n "$pinned" ] && [ "$(installed_version "$package")" != "$pinned" ]; then
        missing="$missing $package@$pinned"
    fi
done
if [ -z "$missing" ] && [ -f node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "assets.sh: npm is needed to install${missing:- nhsuk-frontend} (install Node.js 20 or later)" >&2
    exit 1
fi
echo "assets.sh: installing${missing:- the NHS.UK frontend} from npm into node_modules/ (the pages' styles and scripts, the sign-in tests' OpenID provider)"
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
fi
test -f node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.css
test -f node_modules/oidc-provider/package.json

#!/usr/bin/env bash
# Install everything the tests need (the browser tests' Chromium too), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/browser.sh
exec .venv/bin/python -m pytest "$@"

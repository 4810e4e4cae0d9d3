#!/usr/bin/env bash
# Install what the tests need, then run the whole test suite in parallel: one pytest-xdist worker per CPU
# core, each with its own databases. Extra arguments go to pytest.
#
#   bash scripts/test.sh                  everything, on SQLite, the browser journeys too (installs Chromium)
#   bash scripts/test.sh --fast           the inner loop: no browser tests, no Chromium, SQLite only, and no
#                                         install when .venv exists
#   bash scripts/test.sh tests/web -k result
#   TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test bash scripts/test.sh -m db
#   TEST_WORKERS=1 bash scripts/test.sh   one process, no workers (e.g. to use pdb)
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
args=()
for arg in "$@"; do
    if [ "$arg" = "--fast" ]; then
        fast=1
    else
        args+=("$arg")
    fi
done
if [ "$fast" = 1 ] && [ -x .venv/bin/python ]; then
    echo "test.sh --fast: using the installed .venv as it is (bash scripts/setup.sh brings it up to date)"
else
    bash scripts/setup.sh
fi
if [ "$fast" = 1 ]; then
    unset TEST_DATABASE_URL DATABASE_URL
    args=(--no-browser ${args[@]+"${args[@]}"})
else
    bash scripts/browser.sh
fi
workers=${TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}
if [ "$workers" -gt 1 ]; then
    args=(-n "$workers" --dist worksteal ${args[@]+"${args[@]}"})
fi
echo "test.sh: running the tests with ${workers} worker(s)${TEST_DATABASE_URL:+, database tests on PostgreSQL}"
exec .venv/bin/python -m pytest ${args[@]+"${args[@]}"}

#!/usr/bin/env bash
# Create the project's virtual environment in .venv, install the project into it, and install the web
# front-end assets (NHS.UK frontend from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup.sh: creating the virtual environment .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
echo "setup.sh: installing the project and its test tools (pytest, pytest-xdist, hypothesis, playwright, ruff...) into .venv with pip"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
bash scripts/assets.sh

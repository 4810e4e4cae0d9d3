#!/usr/bin/env bash
# Install the headless browser the browser tests drive (Debian's chromium), only when it is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser.sh: /usr/bin/chromium is missing and apt-get is not available; install chromium to run the browser tests" >&2
    echo "browser.sh: or leave the browser tests out: bash scripts/test.sh --fast" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "browser.sh: installing Chromium from Debian's packages with apt-get (for the browser tests)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
test -x /usr/bin/chromium

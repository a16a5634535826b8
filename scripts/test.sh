#!/usr/bin/env bash
# Set up and run the whole test suite: installs Debian's Chromium for the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
bash scripts/setup.sh "test"
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up and run the whole test suite: installs Debian's Chromium for the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser) and JupyterHub's
# configurable-http-proxy (npm), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
# JupyterHub's proxy, for the JupyterHub test.
if ! command -v configurable-http-proxy >/dev/null; then
    npm install --global --silent configurable-http-proxy
fi
bash scripts/setup.sh "test"
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Set up and run the whole test suite: installs Debian's Chromium for the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser), the ffmpeg binary (a
# test reads a file through a signed URL the way other clients do; the package itself uses
# PyAV), JupyterHub's configurable-http-proxy (npm) and Azurite, Azure Blob Storage's emulator
# (npm, pinned by tests/tools/package-lock.json), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || ! command -v ffmpeg >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium ffmpeg >/dev/null
fi
# JupyterHub's proxy, for the JupyterHub test.
if ! command -v configurable-http-proxy >/dev/null; then
    npm install --global --silent configurable-http-proxy
fi
# Azurite for the az:// tests, as pinned in tests/tools (again only when the lockfile changed).
if ! cmp -s tests/tools/package-lock.json tests/tools/node_modules/.installed-lock.json; then
    (cd tests/tools && npm ci --no-audit --no-fund --silent)
    cp tests/tools/package-lock.json tests/tools/node_modules/.installed-lock.json
fi
bash scripts/setup.sh "test"
export VIRTUAL_ENV="$PWD/.venv"  # not another venv that happens to be active
exec .venv/bin/python -m pytest "$@"

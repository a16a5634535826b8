#!/usr/bin/env bash
# Set up and run the demo: JupyterLab on notebooks/, with a generated sample video.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "sample,demo"
if [ ! -f notebooks/earth.mp4 ]; then
    .venv/bin/python -m jupyter_rangevideo.sample notebooks/earth.mp4 --duration 60 --size 1280x720
fi
args=(--notebook-dir=notebooks)
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"

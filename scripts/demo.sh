#!/usr/bin/env bash
# Set up and run the demo: JupyterLab on notebooks/, with a generated sample video.
# RANGEVIDEO_DEMO_DIR picks another notebook directory (benchmarks/demo_start.py uses a scratch copy).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "sample,demo"
echo "demo: installs done" >&2
dir="${RANGEVIDEO_DEMO_DIR:-notebooks}"
if [ ! -f "$dir/earth.mp4" ]; then
    # 60 s of 720p H.264 (ultrafast, a keyframe every second): a few seconds' work, with a progress bar.
    .venv/bin/python -m jupyter_rangevideo.sample "$dir/earth.mp4" --duration 60 --size 1280x720
fi
args=(--notebook-dir="$dir")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"

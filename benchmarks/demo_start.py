"""How long the demo takes to start: sample generation, then JupyterLab ready.

    python benchmarks/demo_start.py [--rounds N]

Runs ``scripts/demo.sh`` as a user would (its installs included, which are quick once
.venv exists) on a scratch copy of notebooks/ without the sample, so the sample is made
every round, and prints for each round:

- installs: from start until demo.sh says its installs are done;
- sample: generating the 60 s 1280x720 sample (the generator's own step, as demo.sh runs it);
- ready: from the end of the installs until JupyterLab answers ``/api/status`` and serves
  the ``/lab`` page (and the page's main script) with 200.

Then the median of each. Every wait is bounded; the server is stopped after each round.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "demo-bench"
READY_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except (urllib.error.URLError, OSError):
        return 0, b""


def lab_ready(base: str) -> bool:
    status, _ = get(f"{base}/api/status?token={TOKEN}")
    if status != 200:
        return False
    status, page = get(f"{base}/lab?token={TOKEN}")
    if status != 200:
        return False
    # The page is only usable once its bundle loads: fetch the main script it names.
    script = re.search(rb'src="([^"]*static/lab/main\.[^"]+\.js[^"]*)"', page)
    if script:
        src = script.group(1).decode()
        status, _ = get(src if src.startswith("http") else base + src)
    return status == 200


def one_round() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="demo-start-") as scratch:
        notebooks = Path(scratch) / "notebooks"
        shutil.copytree(
            ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns("*.mp4", ".ipynb_checkpoints")
        )
        port = free_port()
        env = {**os.environ, "RANGEVIDEO_DEMO_DIR": str(notebooks)}
        cmd = [
            "bash",
            str(ROOT / "scripts" / "demo.sh"),
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
        ]
        marks: dict[str, float] = {}
        start = time.monotonic()
        process = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )

        def watch() -> None:  # stderr lines mark the steps
            assert process.stderr is not None
            for raw in process.stderr:
                line = raw.decode(errors="replace")
                if "demo: installs done" in line:
                    marks.setdefault("installs", time.monotonic())
                elif line.startswith("wrote ") and "earth.mp4" in line:
                    marks.setdefault("sample", time.monotonic())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = start + READY_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None:
                if "installs" in marks and lab_ready(base):
                    marks["ready"] = time.monotonic()
                    break
                time.sleep(0.1)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            watcher.join(timeout=5)
        if "ready" not in marks or "sample" not in marks:
            raise SystemExit(f"demo did not become ready (marks: {sorted(marks)}, exit {process.returncode})")
        return {
            "installs": marks["installs"] - start,
            "sample": marks["sample"] - marks["installs"],
            "ready": marks["ready"] - marks["installs"],
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for number in range(1, max(args.rounds, 1) + 1):
        row = one_round()
        rows.append(row)
        print(
            f"round {number}: installs {row['installs']:.1f} s, sample {row['sample']:.1f} s, "
            f"JupyterLab ready {row['ready']:.1f} s after the installs",
            flush=True,
        )
    print(
        f"median of {len(rows)}: sample generation {statistics.median(r['sample'] for r in rows):.1f} s; "
        f"JupyterLab ready {statistics.median(r['ready'] for r in rows):.1f} s after the installs "
        f"(installs {statistics.median(r['installs'] for r in rows):.1f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())

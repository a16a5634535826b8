"""CPU time in the kernel from `import jupyter_rangevideo` to the display of the player, with the
import and show() in one cell: this checkout against another (e.g. main, unpacked with
`git archive main | tar -x -C DIR`), in interleaved pairs of fresh interpreters that have IPython
and ipykernel loaded as a kernel has. CPU time, unlike wall time, holds on a busy machine.

    python benchmarks/first_message_cpu.py --other DIR [--pairs N]

Writes benchmarks/results/first_message_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
# Run in the fresh interpreter: CPU of the main thread and of the process until display().
CELL = """
import sys, time
import IPython, ipykernel.ipkernel  # noqa: F401 - what a kernel has loaded
import IPython.display
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.instance().display_pub.publish = lambda *a, **k: None
stamps = []
real = IPython.display.display
def display(*args, **kwargs):
    stamps.append((time.thread_time(), time.process_time()))
    return real(*args, **kwargs)
IPython.display.display = display
thread, process = time.thread_time(), time.process_time()
import jupyter_rangevideo as rangevideo
rangevideo.show(sys.argv[1])
print((stamps[0][0] - thread) * 1000, (stamps[0][1] - process) * 1000)
"""


def interval(values: list[float], seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    resampled = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(2000))
    return {"median": statistics.median(values), "low": resampled[100], "high": resampled[1899]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", required=True, help="a checkout to compare with (put first on PYTHONPATH)")
    parser.add_argument("--pairs", type=int, default=12)
    args = parser.parse_args()
    from jupyter_rangevideo.sample import write_sample

    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-first-message-"))
    video = write_sample(tmp / "hd.mp4", duration=12, fps=25, size=(1280, 720), noise=True)
    rows = []
    rng = random.Random(1)
    for _ in range(args.pairs):
        row = {}
        for label in rng.sample(["other", "this"], 2):
            env = {**os.environ, **({"PYTHONPATH": args.other} if label == "other" else {})}
            out = subprocess.run(
                [sys.executable, "-c", CELL, str(video)],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            row[label], row[f"{label}_process"] = map(float, out.stdout.split())
        rows.append(row)
        print(row, flush=True)
    summary = {
        "load_average": os.getloadavg()[0],
        "main_thread_ms": {k: statistics.median(r[k] for r in rows) for k in ("other", "this")},
        "process_ms": {k: statistics.median(r[f"{k}_process"] for r in rows) for k in ("other", "this")},
        "main_thread_difference": interval([r["this"] - r["other"] for r in rows]),
        "process_difference": interval([r["this_process"] - r["other_process"] for r in rows]),
        "rows": rows,
    }
    (HERE / "results" / "first_message_cpu.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()

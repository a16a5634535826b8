"""A grid of two players over the comm transport next to the same grid over HTTP: seek time, paired.

    python benchmarks/comm_grid.py [--rounds N] [--seeks K] [--seconds S]

JupyterLab with the server extension; two H.264 MP4s of one recording (640×360 and 320×240,
S seconds). `rangevideo.grid([a, b], delivery="remux")` plays their remuxed segments over HTTP
from the extension, `rangevideo.grid([a, b], transport="comm")` the same segments over each
player's comm. Every segment is made once before measuring (server and kernel share the cache).

Per round, a fresh page opens each grid in turn (order alternating) and seeks its first player
(as a person seeks with its controls or the grid's strip) to the same K random frames; a seek's
time runs from setting `currentTime` to both players showing that exact frame (read from their
pixels: the second follows the first, so the grid's seek is both seeks). Paired differences
per seek. Writes benchmarks/results/comm_grid.json and comm_grid.md; states the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from browser import paired_differences
from conftest import (
    FPS,
    chromium,
    create_notebook,
    new_page,
    open_notebook,
    run_all_cells,
    seek_in_page,
    start_server,
)
from test_overlay_in_browser import frames_of_all, wait_all

from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.segment_plan import EncodeSettings, plan_segments

# Fetch every remuxed segment of every player on the page over HTTP (made once, then cached).
MAKE_SEGMENTS = """async (count) => {
  const config = JSON.parse(document.getElementById("jupyter-config-data").textContent);
  for (const model of globalThis.__jupyterRangevideo.models.values()) {
    if (model.get("_grid")) continue;
    const src = model.get("src").replace("rangevideo/files/", "rangevideo/hls/remux/");
    for (let index = 0; index < count; index++) {
      const name = `seg-${String(index).padStart(5, "0")}.ts`;
      const response = await fetch(`${config.baseUrl}${src}/${name}`);
      if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
      await response.arrayBuffer();
    }
  }
}"""


def grid_seek(page, frame: int, timeout: float = 90) -> float:
    """Seek the grid's first player to ``frame``; ms until both players show it."""
    asked = seek_in_page(page, (frame + 0.5) / FPS, nth=0)
    deadline = time.monotonic() + timeout
    while frames_of_all(page, 2) != [frame, frame]:
        if time.monotonic() > deadline:
            raise AssertionError(f"the grid shows {frames_of_all(page, 2)}, not frame {frame} in both")
        time.sleep(0.01)
    return page.evaluate("() => performance.now()") - asked


def write_results(summary: dict, args) -> None:
    out = HERE / "results"
    (out / "comm_grid.json").write_text(json.dumps(summary, indent=2))
    before, after = summary["load_average_1_5_15_before_after"]
    seek, d = summary["seek_ms_median"], summary["seek_comm_minus_http_ms"]
    rows = [
        "# A grid of two players: the comm transport next to HTTP (JupyterLab, Chromium, same remuxed segments)",
        "",
        (
            f"H.264 MP4s 640×360 and 320×240, {args.seconds} s, all segments made before measuring; "
            f"{args.rounds} rounds × {args.seeks} seeks of the first player, until both show the frame. "
            f"Load average (1/5/15 min) before {before[0]:.1f}/{before[1]:.1f}/{before[2]:.1f}, "
            f"after {after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f}, on 2 cores shared with other work."
        ),
        "",
        "| measure | HTTP (extension) | comm | comm − HTTP, paired median [90 % CI] | comm / HTTP, paired median |",
        "|---|---|---|---|---|",
        (
            f"| grid seek to an exact frame in both players (ms, median) | {seek['http']:.0f} | {seek['comm']:.0f} "
            f"| {d['median']:+.0f} [{d['low']:+.0f}, {d['high']:+.0f}] | ×{summary['comm_over_http_median']:.2f} |"
        ),
    ]
    (out / "comm_grid.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seeks", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-comm-grid-bench-"))
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # one segment cache for the server and its kernels
    videos = [
        write_sample(tmp / "large.mp4", args.seconds, FPS, (640, 360)),
        write_sample(tmp / "small.mp4", args.seconds, FPS, (320, 240)),
    ]
    count = max(plan_segments(probe(video), "remux", EncodeSettings()).count for video in videos)
    server = start_server("lab", tmp)
    show = "import jupyter_rangevideo as rangevideo\ng = rangevideo.grid({paths!r}, columns=2, controls=False, muted=True, {option})"
    notebooks = {"http": "grid-bench-http.ipynb", "comm": "grid-bench-comm.ipynb"}
    options = {"http": "delivery='remux'", "comm": "transport='comm'"}
    for how, name in notebooks.items():
        create_notebook(server, name, [show.format(paths=[str(v) for v in videos], option=options[how])])
    rng = random.Random(20261207)
    frames = args.seconds * FPS
    load_before = os.getloadavg()
    seek_ms: dict[str, list[float]] = {"http": [], "comm": []}
    try:
        with chromium() as browser:
            with new_page(browser, timeout=120) as page:
                open_notebook(page, server, notebooks["http"])
                run_all_cells(page)
                wait_all(page, 2, 0, timeout=90)
                page.evaluate(MAKE_SEGMENTS, count)
            server.shut_down_kernels()
            for number in range(args.rounds):
                targets = [rng.randrange(FPS, frames - FPS) for _ in range(args.seeks)]
                for how in ["http", "comm"] if number % 2 == 0 else ["comm", "http"]:
                    with new_page(browser, timeout=120) as page:
                        open_notebook(page, server, notebooks[how])
                        run_all_cells(page)
                        wait_all(page, 2, 0, timeout=90)
                        seek_ms[how] += [grid_seek(page, frame) for frame in targets]
                        print(how, number, [round(ms) for ms in seek_ms[how][-args.seeks :]], flush=True)
                    server.shut_down_kernels()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = [c / h for c, h in zip(seek_ms["comm"], seek_ms["http"], strict=True)]
    summary = {
        "load_average_1_5_15_before_after": (load_before, os.getloadavg()),
        "seek_ms_median": {how: statistics.median(v) for how, v in seek_ms.items()},
        "seek_comm_minus_http_ms": paired_differences(seek_ms["comm"], seek_ms["http"]),
        "comm_over_http_median": statistics.median(ratios),
        "runs": seek_ms,
    }
    write_results(summary, args)


if __name__ == "__main__":
    main()

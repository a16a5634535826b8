"""The comm transport next to HTTP on the same file: segment throughput and seek time, paired.

    python benchmarks/comm.py [--rounds N] [--seeks K] [--seconds S]

JupyterLab with the server extension; one H.264 MP4 (640×360, S seconds; --noise: a noisy picture,
about 18 MB/s, to load the transport). Both players
play the same remuxed segments through hls.js: `show(path, delivery="remux")` fetches them over
HTTP from the extension, `show(path, transport="comm")` asks the kernel over the widget's comm.
Every segment is made once before measuring, so both read the segment cache.

- Throughput: in the page of a comm player, every segment is fetched whole over HTTP
  (`fetch` of its signed URL) and over the comm (the transport's own "get" messages on the
  live model), alternating segment by segment and which goes first; MB/s of segment bytes.
- Seek: per round, a fresh page opens each player in turn (order alternating) and seeks to the
  same K random frames; the time from setting `currentTime` to that exact frame on screen
  (pixels). Paired differences per seek.

Writes benchmarks/results/comm.json and comm.md; states the load average.
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
    wait_for_frame,
)

from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.segment_plan import EncodeSettings, plan_segments

# The page fetches segment `index` over HTTP or over the comm; resolves with [bytes, ms].
FETCH_SEGMENT = """async ([how, index]) => {
  const root = document.querySelector(".jp-RangeVideo");
  const model = globalThis.__jupyterRangevideo.models.get(root.dataset.playerId);
  const started = performance.now();
  if (how === "http") {
    const config = JSON.parse(document.getElementById("jupyter-config-data").textContent);
    const src = model.get("src").replace("rangevideo/files/", "rangevideo/hls/remux/");
    const name = `seg-${String(index).padStart(5, "0")}.ts`;
    const body = await (await fetch(`${config.baseUrl}${src}/${name}`)).arrayBuffer();
    return [body.byteLength, performance.now() - started];
  }
  const id = `bench:${Math.random()}`;
  return await new Promise((resolve, reject) => {
    let received = 0;
    const listener = (message, buffers) => {
      if (message.id !== id) return;
      if (message.rangevideo === "error") reject(new Error(message.message));
      received += buffers[0].byteLength;
      if (message.last) {
        model.off("msg:custom", listener);
        resolve([received, performance.now() - started]);
      }
    };
    model.on("msg:custom", listener);
    model.send({ rangevideo: "get", id, what: "segment", index });
  });
}"""


def seeks(page, frames: list[int]) -> list[float]:
    times = []
    for frame in frames:
        asked = seek_in_page(page, (frame + 0.5) / FPS)
        times.append(wait_for_frame(page, frame, tolerance=0, timeout=90, interval=0.01) - asked)
    return times


def throughput(page, count: int, rng: random.Random) -> dict[str, list[tuple[int, float]]]:
    runs: dict[str, list[tuple[int, float]]] = {"http": [], "comm": []}
    for index in rng.sample(range(count), count):
        order = ["http", "comm"] if rng.random() < 0.5 else ["comm", "http"]
        for how in order:
            size, ms = page.evaluate(FETCH_SEGMENT, [how, index])
            runs[how].append((size, ms))
    return runs


def summarize(transfer, seek_ms, load) -> dict:
    rates = {
        how: sum(b for b, _ in runs) / 1e6 / (sum(ms for _, ms in runs) / 1000)
        for how, runs in transfer.items()
    }
    ratio = [h_ms / c_ms for (_, h_ms), (_, c_ms) in zip(transfer["http"], transfer["comm"], strict=True)]
    return {
        "load_average_1_5_15_before_after": load,
        "segments": len(transfer["http"]),
        "segment_mb": sum(b for b, _ in transfer["http"]) / 1e6,
        "throughput_mb_per_s": rates,
        "http_ms_over_comm_ms_median": statistics.median(ratio),
        "seek_ms_median": {how: statistics.median(v) for how, v in seek_ms.items()},
        "seek_comm_minus_http_ms": paired_differences(seek_ms["comm"], seek_ms["http"]),
        "runs": {"transfer": transfer, "seek_ms": seek_ms},
    }


def write_results(summary: dict, args) -> None:
    out = HERE / "results"
    (out / f"{args.out}.json").write_text(json.dumps(summary, indent=2))
    (before, after) = summary["load_average_1_5_15_before_after"]
    rates, seek = summary["throughput_mb_per_s"], summary["seek_ms_median"]
    d = summary["seek_comm_minus_http_ms"]
    rows = [
        "# The comm transport next to HTTP (JupyterLab, Chromium, same remuxed segments)",
        "",
        (
            f"H.264 MP4 640×360{' (noisy picture)' if args.noise else ''}, {args.seconds} s; "
            f"{summary['segments']} segment fetches each way, "
            f"{summary['segment_mb']:.1f} MB, all made before measuring. {args.rounds} rounds × {args.seeks} seeks. "
            f"Load average (1/5/15 min) before {before[0]:.1f}/{before[1]:.1f}/{before[2]:.1f}, "
            f"after {after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f}, on 2 cores shared with other work."
        ),
        "",
        "| measure | HTTP (extension) | comm | comm − HTTP, paired median [90 % CI] |",
        "|---|---|---|---|",
        (
            f"| segment throughput (MB/s, whole segments, one at a time) | {rates['http']:.1f} | {rates['comm']:.1f} "
            f"| comm takes ×{1 / summary['http_ms_over_comm_ms_median']:.2f} the time per segment (median) |"
        ),
        (
            f"| seek to an exact frame (ms, median) | {seek['http']:.0f} | {seek['comm']:.0f} "
            f"| {d['median']:+.0f} [{d['low']:+.0f}, {d['high']:+.0f}] |"
        ),
    ]
    (out / f"{args.out}.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeks", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--noise", action="store_true", help="a noisy picture: about 18 MB/s of video")
    parser.add_argument("--out", default="comm", help="results/<out>.json and .md")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-comm-bench-"))
    (tmp / "lab-config").mkdir()
    (tmp / "lab-config" / "jupyter_server_config.json").write_text(
        json.dumps({"RangeVideoApp": {"cache_dir": str(tmp / "segment-cache")}})
    )
    video = write_sample(tmp / "clip.mp4", args.seconds, FPS, (640, 360), noise=args.noise)
    count = plan_segments(probe(video), "remux", EncodeSettings()).count
    server = start_server("lab", tmp)
    show = "import jupyter_rangevideo as rangevideo\np = rangevideo.show({path!r}, controls=False, {option})"
    notebooks = {"http": "comm-bench-http.ipynb", "comm": "comm-bench-comm.ipynb"}
    options = {"http": "delivery='remux'", "comm": "transport='comm'"}
    for how, name in notebooks.items():
        create_notebook(server, name, [show.format(path=str(video), option=options[how])])
    rng = random.Random(20261206)
    frames = args.seconds * FPS
    load_before = os.getloadavg()
    seek_ms: dict[str, list[float]] = {"http": [], "comm": []}
    transfer: dict[str, list[tuple[int, float]]] = {"http": [], "comm": []}
    try:
        with chromium() as browser:
            with new_page(browser, timeout=120) as page:  # every segment made: both read the cache
                open_notebook(page, server, notebooks["comm"])
                run_all_cells(page)
                wait_for_frame(page, 0, tolerance=0, timeout=90)
                for index in range(count):
                    page.evaluate(FETCH_SEGMENT, ["http", index])
            server.shut_down_kernels()
            for number in range(args.rounds):
                targets = [rng.randrange(FPS, frames - FPS) for _ in range(args.seeks)]
                for how in ["http", "comm"] if number % 2 == 0 else ["comm", "http"]:
                    with new_page(browser, timeout=120) as page:
                        open_notebook(page, server, notebooks[how])
                        run_all_cells(page)
                        wait_for_frame(page, 0, tolerance=0, timeout=90)
                        if how == "comm":
                            for key, runs in throughput(page, count, rng).items():
                                transfer[key] += runs
                        seek_ms[how] += seeks(page, targets)
                        print(how, number, seek_ms[how][-args.seeks :], flush=True)
                    server.shut_down_kernels()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    write_results(summarize(transfer, seek_ms, (load_before, os.getloadavg())), args)


if __name__ == "__main__":
    main()

"""Browser-level benchmark of the three deliveries on long 1080p sources: time from running
the cell to the first frame, and from a seek to the right frame, in JupyterLab.

    python benchmarks/browser_formats.py [--rounds N] [--minutes M] [--seeks K]

Sources (made once, cheaply: a 10 s 1080p pattern encoded once, its packets repeated):
H.264 MP4 (direct), H.264 AVI (remux), HEVC MP4 and MJPEG AVI (transcode). Every round
touches the files first, so the server's segment cache (keyed by size, mtime, inode) is
cold, as for a file never watched; formats are interleaved, their order alternating.
Uses the browser tests' harness (Debian's Chromium, frames decoded from canvas pixels) and
writes benchmarks/results/browser_formats.json and browser_formats.md.
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
sys.path.insert(0, str(HERE.parent / "tests"))  # helpers, which the browser tests' conftest imports
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from conftest import (
    FPS,
    chromium,
    create_notebook,
    kernel_eval,
    new_page,
    open_notebook,
    run_all_cells,
    seek_in_page,
    start_server,
    wait_for_frame,
)

from jupyter_rangevideo.sample import make_large, write_sample

PIECE_SECONDS = 10  # the repeated pattern: its frame index restarts every 10 s
PIECE_FRAMES = PIECE_SECONDS * FPS
SOURCES = {  # name: (codec, expected delivery)
    "h264.mp4": ("h264", "direct"),
    "h264.avi": ("h264", "remux"),
    "hevc.mp4": ("hevc", "transcode"),
    "mjpeg.avi": ("mjpeg", "transcode"),
}


def make_sources(folder: Path, minutes: float) -> dict[str, Path]:
    made = {}
    copies = max(1, round(minutes * 60 / PIECE_SECONDS))
    for name, (codec, _) in SOURCES.items():
        piece = write_sample(folder / f"piece-{name}", PIECE_SECONDS, FPS, (1920, 1080), codec=codec)
        made[name] = make_large(piece, folder / name, piece.stat().st_size * copies - 1)
        piece.unlink()
        print(f"made {name}: {made[name].stat().st_size / 2**20:.0f} MiB", flush=True)
    return made


def wait_frame(page, expected: int) -> float:
    return wait_for_frame(page, expected, timeout=60, interval=0.02)


def measure(page, server, name: str, path: Path, number: int, seek_frames: list[int]) -> dict:
    notebook = f"bench-formats-{path.stem}-{path.suffix[1:]}-{number}.ipynb"
    create_notebook(
        server, notebook, [f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(path)!r})"]
    )
    open_notebook(page, server, notebook)
    started = run_all_cells(page)
    first = wait_frame(page, 0) - started
    delivery = kernel_eval(page, "print(p.delivery)").strip()
    seeks = []
    for frame in seek_frames:
        asked = seek_in_page(page, (frame + 0.5) / FPS)
        seeks.append(wait_frame(page, frame % PIECE_FRAMES) - asked)
    server.shut_down_kernels()
    return {"delivery": delivery, "first_frame_ms": first, "seek_ms": seeks}


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seeks", type=int, default=7, help="random seeks per round and format")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-formats-bench-"))
    (tmp / "lab-config").mkdir()
    # A cache of its own: nothing from earlier runs.
    (tmp / "lab-config" / "jupyter_server_config.json").write_text(
        json.dumps({"RangeVideoApp": {"cache_dir": str(tmp / "segment-cache")}})
    )
    (tmp / "videos").mkdir()
    files = make_sources(tmp / "videos", args.minutes)
    frames = int(args.minutes * 60 * FPS)
    rng = random.Random(20261130)
    server = start_server("lab", tmp)
    results: dict[str, list[dict]] = {name: [] for name in files}
    try:
        with chromium() as browser:
            for number in range(args.rounds):
                now = time.time()
                for path in files.values():
                    os.utime(path, (now, now + number))  # a new validator: a cold segment cache
                seek_frames = [rng.randrange(FPS, frames - FPS) for _ in range(args.seeks)]
                order = list(files) if number % 2 == 0 else list(reversed(files))
                for name in order:
                    with new_page(browser, timeout=90) as page:
                        run = measure(page, server, name, files[name], number, seek_frames)
                    results[name].append(run)
                    print(name, run, flush=True)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # its media: a GiB and more

    summary = {}
    for name, runs in results.items():
        seeks = [s for run in runs for s in run["seek_ms"]]
        summary[name] = {
            "delivery": runs[0]["delivery"],
            "first_frame_ms": statistics.median(run["first_frame_ms"] for run in runs),
            "seek_median_ms": statistics.median(seeks),
            "seek_p90_ms": p90(seeks),
            "seeks": len(seeks),
        }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    facts = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "rounds": args.rounds,
        "minutes": args.minutes,
        "size": "1920x1080",
        "fps": FPS,
        "load_average_at_end": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    (out / "browser_formats.json").write_text(
        json.dumps({"machine": facts, "runs": results, "summary": summary}, indent=1)
    )
    direct = summary["h264.mp4"]
    lines = [
        (
            f"Measured {facts['date']}, JupyterLab in Debian's Chromium, {args.minutes:g}-minute 1080p sources, "
            f"{args.rounds} rounds with a cold segment cache; first frame: median of rounds; seeks: "
            f"{args.seeks} random points per round. ×: ratio to the direct H.264 MP4. "
            f"Load average at the end: {facts['load_average_at_end'][0]:.1f} on {facts['cpus']} CPUs "
            f"(the machine is shared: compare ratios, not absolute times)."
        ),
        "",
        "| file | delivery | cell run to first frame (ms) | seek to the right frame, median (ms) | p90 (ms) |",
        "|---|---|---|---|---|",
    ]
    for name, figures in summary.items():
        ratio = "" if name == "h264.mp4" else f" ×{figures['first_frame_ms'] / direct['first_frame_ms']:.2f}"
        seek_ratio = (
            "" if name == "h264.mp4" else f" ×{figures['seek_median_ms'] / direct['seek_median_ms']:.2f}"
        )
        lines.append(
            f"| {name} | {figures['delivery']} | {figures['first_frame_ms']:.0f}{ratio} | "
            f"{figures['seek_median_ms']:.0f}{seek_ratio} | {figures['seek_p90_ms']:.0f} |"
        )
    (out / "browser_formats.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

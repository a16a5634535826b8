"""Browser benchmark of the seek proxy: on a 1080p file with a keyframe every 10 s, random seeks
and one-frame steps back while paused, jupyter-rangevideo (proxy on) against
IPython.display.Video on Jupyter's /files/, and the proxy's CPU cost per minute of source.

    python benchmarks/browser_proxy.py [--rounds N] [--seeks N]

Uses the browser tests' harness (Debian's Chromium, a real JupyterLab). A seek's time runs from
setting currentTime to the first animation frame at which the element on top (the proxy layer
while it is shown, else the video) shows the asked-for frame, read from its pixels in the page.
Writes benchmarks/results/proxy.json and proxy.md.
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

from conftest import FPS, chromium, create_notebook, new_page, open_notebook, run_all_cells, start_server

from jupyter_rangevideo.pattern import FRAME_CODE
from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import make_large, write_sample

SEGMENT_SECONDS = 20  # encoded once, then its packets repeated
COPIES = 6  # two minutes of source
PLAYERS = {
    "rangevideo (proxy)": (
        "import jupyter_rangevideo as rangevideo\np = rangevideo.show({path!r}, controls=False)\np.proxy",
        "video.jp-RangeVideo-video",
    ),
    "IPython.display.Video": (
        "from IPython.display import Video\nVideo({relative!r})",
        ".jp-OutputArea-output video",
    ),
}

# Seek the video to t, then on every animation frame read the frame index off the element on
# top (the code strip of sample.py: guard bits, 20 data bits, guard bits, along the bottom).
SEEK_JS = """async ([selector, t, expected, cells, dataBits]) => {
    const video = document.querySelector(selector);
    const layer = video.parentElement.querySelector('video.jp-RangeVideo-proxy');
    const canvas = document.createElement('canvas');
    canvas.width = 320; canvas.height = 180;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const read = (element) => {
        if (element.readyState < 2) return null;
        ctx.drawImage(element, 0, 0, 320, 180);
        const strip = 18, top = 180 - strip;
        const rows = ctx.getImageData(0, top + strip / 4, 320, strip / 2).data;
        const bits = [];
        for (let c = 0; c < cells; c++) {
            const left = Math.round(c * 320 / cells), right = Math.round((c + 1) * 320 / cells);
            const margin = Math.floor((right - left) / 4);
            let sum = 0, n = 0;
            for (let y = 0; y < strip / 2; y++) for (let x = left + margin; x < right - margin; x++) {
                const i = (y * 320 + x) * 4; sum += (rows[i] + rows[i + 1] + rows[i + 2]) / 3; n++;
            }
            const v = sum / n;
            if (v > 70 && v < 180) return null;
            bits.push(v >= 128 ? 1 : 0);
        }
        if (bits.slice(0, 3).join('') !== '101' || bits.slice(-3).join('') !== '010') return null;
        let index = 0;
        for (const bit of bits.slice(3, 3 + dataBits)) index = index * 2 + bit;
        return index;
    };
    const asked = performance.now();
    video.currentTime = t;
    for (let i = 0; i < 1200; i++) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
        const onTop = layer && layer.dataset.shown !== undefined ? layer : video;
        if (read(onTop) === expected) return [performance.now() - asked, onTop === layer];
    }
    return [null, false];
}"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 900) -> float:
    """Wait until the server's CPU use falls quiet (the warm-up is done); the seconds waited."""
    began = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - began < timeout:
        time.sleep(3)
        now = cpu_seconds(pid)
        if now - last < 0.15:
            return time.monotonic() - began
        last = now
    raise TimeoutError("the server is still busy")


BUFFERED_JS = """([s, duration]) => {
    const layer = document.querySelector(s).parentElement.querySelector('video.jp-RangeVideo-proxy');
    const b = layer.buffered;
    let held = 0;
    for (let i = 0; i < b.length; i++) held += b.end(i) - b.start(i);
    return held >= duration - 1;
}"""


def measure(
    page, server, player: str, path: Path, frames: int, targets: list[int], settle: bool = False
) -> dict:
    template, selector = PLAYERS[player]
    name = f"proxy-bench-{player.split(' ')[0].split('.')[0]}-{time.monotonic_ns()}.ipynb"
    create_notebook(
        server, name, [template.format(path=str(path), relative=str(path.relative_to(server.root)))]
    )
    open_notebook(page, server, name)
    run_all_cells(page)
    page.mouse.move(0, 0)
    page.wait_for_function("(s) => document.querySelector(s)?.readyState >= 2", arg=selector, timeout=60_000)
    if player.startswith("rangevideo"):
        page.wait_for_function(
            "(s) => document.querySelector(s).parentElement.querySelector('video.jp-RangeVideo-proxy')?.readyState >= 2",
            arg=selector,
            timeout=60_000,
        )
    buffered_after = None
    if settle:  # let each player load what it will while the user looks at the first frame
        began = time.monotonic()
        if player.startswith("rangevideo"):
            duration = frames / FPS
            page.wait_for_function(BUFFERED_JS, arg=[selector, duration], timeout=120_000, polling=250)
            buffered_after = time.monotonic() - began
        time.sleep(max(0.0, 3.0 - (time.monotonic() - began)))
    per_copy = SEGMENT_SECONDS * FPS
    args = [FRAME_CODE["CELLS"], FRAME_CODE["DATA_BITS"]]
    seeks, steps, by_proxy = [], [], 0
    for frame in targets:
        for bucket, target in ((seeks, frame), (steps, frame - 1)):  # a seek, then one frame back
            ms, proxied = page.evaluate(SEEK_JS, [selector, (target + 0.5) / FPS, target % per_copy, *args])
            if ms is None:
                raise TimeoutError(f"{player}: frame {target} never appeared")
            bucket.append(ms)
            by_proxy += proxied
            time.sleep(0.3)  # let the main video settle under the proxy before the next seek
    server.shut_down_kernels()
    return {
        "seek_ms": seeks,
        "step_back_ms": steps,
        "shown_by_proxy": by_proxy,
        "asked": 2 * len(targets),
        "proxy_buffered_after_s": buffered_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seeks", type=int, default=12)
    parser.add_argument(
        "--settle",
        action="store_true",
        help="before seeking, wait until the page holds the whole proxy (and at least 3 s for both players)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-proxy-bench-"))
    server = start_server("lab", tmp)
    try:
        videos = server.root / "videos"
        videos.mkdir()
        began = time.monotonic()
        segment = write_sample(tmp / "segment.mp4", SEGMENT_SECONDS, FPS, (1920, 1080), gop=250)
        path = make_large(segment, videos / "far-keyframes-1080p.mp4", segment.stat().st_size * COPIES)
        facts = probe(path)
        frames = facts.video.frame_count
        print(
            f"source: {facts.duration:.0f} s, {frames} frames, made in {time.monotonic() - began:.0f} s",
            flush=True,
        )
        rng = random.Random(12)
        results: dict[str, list[dict]] = {player: [] for player in PLAYERS}
        with chromium() as browser:

            def session(player: str, targets: list[int]) -> dict:
                with new_page(browser, timeout=60) as page:
                    return measure(page, server, player, path, frames, targets, args.settle)

            # Showing the file starts the proxy's warm-up: its CPU cost is the server's while warming.
            cpu_before = cpu_seconds(server.process.pid)
            warm = session("rangevideo (proxy)", [rng.randrange(1, frames) for _ in range(2)])
            waited = wait_idle(server.process.pid)
            warm_cpu = cpu_seconds(server.process.pid) - cpu_before
            print(
                f"warm-up: {warm_cpu:.1f} CPU s, idle after {waited:.0f} s more; first seeks {warm}",
                flush=True,
            )
            for number in range(args.rounds):
                targets = [rng.randrange(1, frames) for _ in range(args.seeks)]
                players = list(PLAYERS) if number % 2 == 0 else list(reversed(PLAYERS))
                for player in players:
                    results[player].append(session(player, targets))
                    print(number, player, {k: v for k, v in results[player][-1].items()}, flush=True)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # its media: a GiB and more

    summary = {
        player: {
            "seek_ms": statistics.median(ms for run in runs for ms in run["seek_ms"]),
            "step_back_ms": statistics.median(ms for run in runs for ms in run["step_back_ms"]),
            "shown_by_proxy": f"{sum(r['shown_by_proxy'] for r in runs)}/{sum(r['asked'] for r in runs)}",
        }
        for player, runs in results.items()
    }
    minutes = facts.duration / 60
    proxy_cpu = {
        "server_cpu_s": warm_cpu,
        "source_minutes": minutes,
        "cpu_s_per_source_minute": warm_cpu / minutes,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    machine = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "rounds": args.rounds,
        "seeks": args.seeks,
        "settle": args.settle,
    }
    name = "proxy-settled" if args.settle else "proxy"
    (out / f"{name}.json").write_text(
        json.dumps(
            {"machine": machine, "runs": results, "summary": summary, "proxy_cpu": proxy_cpu}, indent=1
        )
    )
    base = summary["IPython.display.Video"]
    ours = summary["rangevideo (proxy)"]
    lines = [
        (
            f"Measured {machine['date']}, JupyterLab in Debian's Chromium on a shared 2-core machine. Source: "
            f"1920x1080 H.264 MP4, {facts.duration:.0f} s at {FPS} fps, a keyframe every 10 s. "
            f"{args.rounds} rounds x {args.seeks} random paused seeks, each followed by a one-frame step back; "
            "players interleaved; medians over all seeks. A seek is timed from setting currentTime to the first "
            "animation frame whose element on top shows the asked-for frame (read from its pixels)."
        ),
        "",
        "| player | seek to the right frame (ms) | one frame back (ms) | shown by the proxy |",
        "|---|---|---|---|",
        f"| IPython.display.Video (/files/) | {base['seek_ms']:.0f} | {base['step_back_ms']:.0f} | - |",
        (
            f"| rangevideo, proxy on | {ours['seek_ms']:.0f} (x{ours['seek_ms'] / base['seek_ms']:.2f}) | "
            f"{ours['step_back_ms']:.0f} (x{ours['step_back_ms'] / base['step_back_ms']:.2f}) | {ours['shown_by_proxy']} |"
        ),
        "",
        (
            f"Proxy warm-up (360 lines, libx264 ultrafast, GOP 4, CRF 28, at nice 10): the server process used "
            f"{warm_cpu:.0f} CPU seconds from showing the file until it fell idle, "
            f"{warm_cpu / minutes:.0f} CPU s per minute of source (an upper bound: it includes serving the page)."
        ),
    ]
    if args.settle:
        waits = [r["proxy_buffered_after_s"] for r in results["rangevideo (proxy)"]]
        lines.insert(
            1,
            f"Seeks began once the page held the whole proxy: {max(waits):.1f} s at most after the first frame.",
        )
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Remote sources in a real browser: first frame, seeks and bytes fetched per seek for the same
video local, on an HTTP server with ranges and in S3 (moto on 127.0.0.1); then a second user's
first frame from a block cache that a first user warmed (two servers, two secrets, one
remote_cache_dir); then how PyAV reads a remote object fastest.

    python benchmarks/remote.py [--seeks N] [--size-mib N] [--s3-size-mib N] [--sources LIST]

--sources (default all: local,http,s3,shared,pyav) runs only some parts, e.g. `--sources http`
for the seeks in the 1 GiB HTTP object; a partial run writes remote-{LIST}.json and .md.

The local and HTTP files are the same 1 GiB video (a 12 s, 25 fps segment repeated, a keyframe
every second). moto reads a whole object into memory for every ranged GET (its
FakeKey.value), so its object is smaller (default 128 MiB, the same segment repeated): the S3
figures are moto's, with its own cost per request, not AWS's. Bytes fetched are the growth of
each server's block cache (which nothing evicts here), so they count every byte read from the
store. Writes benchmarks/results/remote.json and remote.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE))

from browser import SEEK, first_frame_of_cell, run_cell, timed, wait_frame
from conftest import FPS, Server, chromium, create_notebook, new_page, open_notebook, wait_for_notebook
from helpers import answers, free_port, jupyter_command, jupyter_env, start_process
from remote_stores import MotoS3, RangeServer

from jupyter_rangevideo.sample import make_large, write_sample

SELECTOR = "video.jp-RangeVideo-video"
SEGMENT_FRAMES = 12 * FPS  # the frame code restarts with every copy of the segment
PARTS = ("local", "http", "s3", "shared", "pyav")  # the sources measured, in order, then the rest


def start_lab(tmp: Path, name: str, cache: Path) -> Server:
    """JupyterLab with its own runtime dir (so its own secret: another user) and block cache."""
    port, token = free_port(), secrets.token_hex(16)
    root = tmp / f"{name}-root"
    root.mkdir()
    base = f"/user/{name}/"
    cmd = jupyter_command(
        "jupyterlab",
        port,
        token,
        base,
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={tmp / (name + '-ws')}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--RangeVideoApp.remote_cache_dir={cache}",
    )
    url = f"http://127.0.0.1:{port}{base}"
    env = {**jupyter_env(tmp, f"{name}-"), "XDG_CACHE_HOME": str(tmp / f"{name}-cache")}
    ready = functools.partial(answers, f"{url}api/status?token={token}")
    process = start_process(cmd, ready, log=tmp / f"{name}.log", env=env, cwd=root, timeout=120)
    return Server("lab", url, token, root, process)


def cache_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.blk")) if folder.exists() else 0


def measure(
    browser, server: Server, source: str, cache: Path, seeks: int, seed: int, duration: float
) -> dict:
    """First frame of ``show(source)`` (the cell run to a frame), then ``seeks`` random seeks,
    each until its frame is presented and checked from the pixels; bytes fetched per seek."""
    name = f"remote-{seed}-{secrets.token_hex(3)}.ipynb"
    create_notebook(server, name, ["import jupyter_rangevideo as rangevideo", f"rangevideo.show({source})"])
    with new_page(browser, timeout=120) as page:
        open_notebook(page, server, name)
        run_cell(page, 0)
        wait_for_notebook(page, name)
        time.sleep(1.0)
        before_show = cache_bytes(cache)
        first = first_frame_of_cell(page, 1, SELECTOR)
        wait_frame(page, SELECTOR, 0)
        after_first = cache_bytes(cache)
        rng = random.Random(seed)
        times, fetched = [], []
        for _ in range(seeks):
            frame = rng.randrange(1, int(duration * FPS) - 1)
            before = cache_bytes(cache)
            seconds = (frame + 0.5) / FPS
            times.append(timed(page.evaluate(SEEK, [SELECTOR, seconds, frame, FPS]), f"seek to {frame}"))
            wait_frame(page, SELECTOR, frame % SEGMENT_FRAMES)
            time.sleep(0.3)  # the element's read-ahead settles: counted with this seek
            fetched.append(cache_bytes(cache) - before)
        server.shut_down_kernels()
    return {
        "first_frame_ms": first,
        "first_frame_fetched": after_first - before_show,
        "seek_ms": times,
        "seek_fetched": fetched,
    }


def pyav_inputs(url: str, storage_options: dict, rounds: int = 3) -> dict:
    """Seconds to probe and decode 25 frames at 4 places through our reader (block cache) and
    through FFmpeg's own HTTP client on the store's URL (what a signed URL would give)."""
    import av

    from jupyter_rangevideo import probe, remote

    def decode(container) -> None:
        stream = container.streams.video[0]
        for at in (3.0, 40.0, 200.0, 500.0):
            container.seek(int(at / stream.time_base), stream=stream)
            for count, _ in enumerate(container.decode(stream)):
                if count >= 25:
                    break

    results: dict[str, list[float]] = {"reader (block cache)": [], "FFmpeg http": []}
    for _ in range(rounds):
        folder = tempfile.mkdtemp(prefix="rangevideo-pyav-")
        remote.configure(folder)
        began = time.perf_counter()
        facts = probe(url, storage_options)
        from jupyter_rangevideo.remote_registry import readable

        with av.open(readable(facts.path), "r", buffer_size=1 << 20) as container:
            decode(container)
        results["reader (block cache)"].append(time.perf_counter() - began)
        shutil.rmtree(folder, ignore_errors=True)
        began = time.perf_counter()
        with av.open(url, "r") as container:
            decode(container)
        results["FFmpeg http"].append(time.perf_counter() - began)
    return {key: statistics.median(values) for key, values in results.items()}


def store_round_trips(sources: dict[str, tuple[str, dict]], count: int = 9) -> dict:
    """Median milliseconds of one 2 MiB ranged GET straight from each store (fsspec): the
    store's own cost, which every block the server fetches pays."""
    import fsspec

    found = {}
    for label, (url, options) in sources.items():
        fs, path = fsspec.core.url_to_fs(url, **options)
        file = fs.open(path, "rb", cache_type="none")
        times = []
        for index in range(count):
            began = time.perf_counter()
            file._fetch_range(index * 2**21 + 7, (index + 1) * 2**21 + 7)
            times.append((time.perf_counter() - began) * 1000)
        found[label] = statistics.median(times)
    return found


def summarise(run: dict) -> dict:
    seeks = sorted(run["seek_ms"])
    p90 = seeks[min(len(seeks) - 1, round(0.9 * (len(seeks) - 1)))]
    return {
        "first_frame_ms": run["first_frame_ms"],
        "first_frame_mib": run["first_frame_fetched"] / 2**20,
        "seek_median_ms": statistics.median(seeks),
        "seek_p90_ms": p90,
        "fetched_per_seek_mib": statistics.mean(run["seek_fetched"]) / 2**20,
        # What eight seeks fetch, as a share of the object (an object of 1 GiB and more).
        "eight_seeks_percent": 100
        * 8
        * statistics.mean(run["seek_fetched"])
        / run.get("object_bytes", 2**30),
    }


def shared_cache(
    browser, tmp: Path, source: str, duration: float, servers: list[Server]
) -> tuple[dict, dict]:
    """A team's servers sharing one block cache: the first user's seeks (cold), then a second
    user's on another server (warm)."""
    shared = tmp / "shared-blocks"
    first_user = start_lab(tmp, "alice", shared)
    servers.append(first_user)
    cold = measure(browser, first_user, source, shared, 2, 100, duration)
    first_user.stop()
    second_user = start_lab(tmp, "bob", shared)
    servers.append(second_user)
    warm = measure(browser, second_user, source, shared, 2, 100, duration)
    second_user.stop()
    print("shared", summarise(cold), summarise(warm), flush=True)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeks", type=int, default=12)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--s3-size-mib", type=int, default=128)
    parser.add_argument("--sources", default=",".join(PARTS), help="comma-separated, of: " + ", ".join(PARTS))
    args = parser.parse_args()
    parts = set(args.sources.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-remote-bench-"))
    s3, http = MotoS3().start(), RangeServer().start()
    servers: list[Server] = []
    try:
        segment = write_sample(tmp / "segment.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
        large = make_large(segment, tmp / "large.mp4", args.size_mib * 2**20)
        small = make_large(segment, tmp / "s3.mp4", args.s3_size_mib * 2**20)
        http.add_file("large.mp4", large)
        client = s3.client()
        client.create_bucket(Bucket="videos")
        client.upload_file(str(small), "videos", "runs/s3.mp4")
        from jupyter_rangevideo import probe

        durations = {"large": probe(large).duration or 0.0, "small": probe(small).duration or 0.0}
        options = s3.options()
        sources = {
            f"local, {args.size_mib} MiB": (repr(str(large)), "large"),
            f"HTTP, {args.size_mib} MiB": (repr(http.url("large.mp4")), "large"),
            f"S3 (moto), {args.s3_size_mib} MiB": (
                f"'s3://videos/runs/s3.mp4', storage_options={options!r}",
                "small",
            ),
        }
        results: dict[str, dict] = {}
        readers: dict = {}
        trips: dict = {}
        with chromium() as browser:
            for number, (label, (source, which)) in enumerate(sources.items()):
                if PARTS[number] not in parts:
                    continue
                cache = tmp / f"blocks-{number}"
                server = start_lab(tmp, f"user{number}", cache)
                servers.append(server)
                results[label] = measure(browser, server, source, cache, args.seeks, number, durations[which])
                results[label]["object_bytes"] = (large if which == "large" else small).stat().st_size
                print(label, summarise(results[label]), flush=True)
                server.stop()
            if "shared" in parts:
                label = f"S3 (moto), {args.s3_size_mib} MiB"
                cold, warm = shared_cache(browser, tmp, sources[label][0], durations["small"], servers)
                results["shared cache: first user (cold)"] = {**cold, "object_bytes": small.stat().st_size}
                results["shared cache: second user (warm)"] = {**warm, "object_bytes": small.stat().st_size}
        if "pyav" in parts:
            readers = pyav_inputs(http.url("large.mp4"), {})
            print("pyav", readers, flush=True)
            trips = store_round_trips(
                {"HTTP": (http.url("large.mp4"), {}), "S3 (moto)": ("s3://videos/runs/s3.mp4", options)}
            )
            print("round trips", trips, flush=True)
    finally:
        for server in servers:
            server.stop()
        http.stop()
        s3.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    write(results, readers, trips, args, "" if parts == set(PARTS) else "-" + "-".join(sorted(parts)))


def write(results: dict, readers: dict, trips: dict, args: argparse.Namespace, suffix: str) -> None:
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    facts = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_average": os.getloadavg()[0]}
    summary = {label: summarise(run) for label, run in results.items()}
    (out / f"remote{suffix}.json").write_text(
        json.dumps(
            {"machine": facts, "runs": results, "summary": summary, "pyav": readers, "round_trips_ms": trips},
            indent=1,
        )
    )
    lines = [
        (
            f"Measured {facts['date']} in JupyterLab and Debian's Chromium, every store on 127.0.0.1, each "
            f"source on a fresh server with an empty block cache (2 MiB blocks). First frame: the cell "
            f"`rangevideo.show(...)` run to the first frame shown. Seeks: {args.seeks} random frames, each "
            "until that frame is presented (requestVideoFrameCallback) and checked from the pixels. Fetched: "
            "bytes the server read from the store (the block cache's growth). Load average at the end: "
            f"{facts['load_average']:.1f} (2 cores shared with other work)."
        ),
        "",
        (
            "| source | first frame (ms) | fetched for it (MiB) | seek median (ms) | seek p90 (ms) "
            "| fetched per seek (MiB) | 8 seeks, % of the object |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for label, s in summary.items():
        lines.append(
            f"| {label} | {s['first_frame_ms']:.0f} | {s['first_frame_mib']:.1f} | {s['seek_median_ms']:.0f} "
            f"| {s['seek_p90_ms']:.0f} | {s['fetched_per_seek_mib']:.2f} | {s['eight_seeks_percent']:.1f} |"
        )
    if readers:
        lines += [
            "",
            "PyAV reading the HTTP object (probe, then 25 frames decoded at 4 places), median of 3, seconds:",
            "",
            "| input | seconds |",
            "|---|---|",
            *[f"| {key} | {value:.2f} |" for key, value in readers.items()],
            "",
            "One 2 MiB ranged GET straight from the store (fsspec), median of 9, ms: "
            + ", ".join(f"{key} {value:.0f}" for key, value in trips.items())
            + ". moto reads the whole object into memory for every GET.",
            "",
        ]
    (out / f"remote{suffix}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()

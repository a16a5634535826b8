"""Remux and transcode deliveries, server side: 1080p ten-minute sources through a real Jupyter server.

    python benchmarks/segments.py [--seeks 20]
    python benchmarks/segments.py --tiny-only 10 --rounds 3 --out /tmp/tiny.json  # just the tiny requests

For H.264 MP4 (direct), H.264 AVI (remux), HEVC MP4 and MJPEG AVI (transcode): time to the
first segment (playlist + segment 0, cold cache), random-seek segment latency (cold
segments, median and p90), transcode speed as a multiple of real time and server CPU
seconds per minute of video (segments asked in order, as a player does, prefetch on),
the tiny-request p99 (/api/status) while 4 transcodes run, libx264 presets side by side,
and the anchor: a full `ffmpeg -c:v libx264 -preset veryfast` re-encode (timed on the first
ANCHOR_SECONDS and scaled to the whole file). Writes benchmarks/results/segments.{json,md}.
Every loop is bounded; the run takes a few minutes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from helpers import accepts, free_port, hls_url, jupyter_command, segment_names, start_process, stop_process
from run import TOKEN
from segment_sources import CLIP_SECONDS, COPIES, source

from jupyter_rangevideo import url_for

RESULTS = Path(__file__).parent / "results"
DELIVERY = {"h264-mp4": "direct", "h264-avi": "remux", "hevc-mp4": "transcode", "mjpeg-avi": "transcode"}
DURATION = CLIP_SECONDS * COPIES
ANCHOR_SECONDS = 20
HEADERS = {"Authorization": f"token {TOKEN}"}


class Server:
    """A jupyter_server process with the extension, its own cache directory and settings."""

    def __init__(self, runtime: Path, cache: Path, **settings: object):
        self.port = free_port()
        self.cache = cache
        args = [f"--RangeVideoApp.{k}={v}" for k, v in settings.items()]
        cmd = jupyter_command(
            "jupyter_server",
            self.port,
            TOKEN,
            "/bench/",
            "--ServerApp.log_level=WARN",
            "--ServerApp.jpserver_extensions=jupyter_rangevideo=True",
            f"--RangeVideoApp.cache_dir={cache}",
            *args,
        )
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
        self.process = start_process(cmd, lambda: accepts(self.port), env=env)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("GET", "/bench/" + path, headers={**HEADERS, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def cpu_seconds(self) -> float:
        return sum(psutil.Process(self.process.pid).cpu_times()[:2])

    def clear_cache(self) -> None:
        for entry in self.cache.glob("*"):
            entry.unlink(missing_ok=True)

    def stop(self) -> None:
        stop_process(self.process, 10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def first_and_seeks(server: Server, path: Path, delivery: str, seeks: int, rng: random.Random) -> dict:
    server.clear_cache()
    began = time.perf_counter()
    if delivery == "direct":
        status, _ = server.get(url_for(path), {"Range": "bytes=0-1048575"})
        assert status == 206, status
        first = time.perf_counter() - began
        size = path.stat().st_size
        latencies = []
        for _ in range(seeks):
            start = rng.randrange(size - 2**20)
            t0 = time.perf_counter()
            status, _ = server.get(url_for(path), {"Range": f"bytes={start}-{start + 2**20 - 1}"})
            assert status == 206, status
            latencies.append(time.perf_counter() - t0)
        return {
            "first_ms": ms(first),
            "seek_median_ms": ms(statistics.median(latencies)),
            "seek_p90_ms": ms(percentile(latencies, 90)),
            "segments": None,
        }
    status, body = server.get(hls_url(path, delivery))
    assert status == 200, body[:300]
    names = segment_names(body.decode())
    status, body = server.get(hls_url(path, delivery, names[0]))
    assert status == 200, body[:300]
    first = time.perf_counter() - began
    latencies = []
    for index in rng.sample(range(5, len(names)), seeks):  # cold segments, far apart
        t0 = time.perf_counter()
        status, body = server.get(hls_url(path, delivery, names[index]))
        assert status == 200, body[:300]
        latencies.append(time.perf_counter() - t0)
        time.sleep(
            0.2
        )  # a glance at the picture; prefetches run meanwhile and are cancelled by the next seek
    return {
        "first_ms": ms(first),
        "seek_median_ms": ms(statistics.median(latencies)),
        "seek_p90_ms": ms(percentile(latencies, 90)),
        "segments": len(names),
    }


def speed(server: Server, path: Path, delivery: str, seconds: float) -> dict:
    """Play-through: segments asked in order as fast as they come (prefetch on)."""
    server.clear_cache()
    status, body = server.get(hls_url(path, delivery))
    lines = body.decode().splitlines()
    durations = [float(line[8:-1]) for line in lines if line.startswith("#EXTINF:")]
    names = [line for line in lines if line and not line.startswith("#")]
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    video = 0.0
    start = len(names) // 3  # mid-file
    for name, duration in zip(names[start:], durations[start:]):
        status, body = server.get(hls_url(path, delivery, name))
        assert status == 200, body[:300]
        video += duration
        if video >= seconds:
            break
    wall, cpu = time.perf_counter() - t0, server.cpu_seconds() - cpu0
    return {
        "video_seconds": round(video, 1),
        "speed_x_realtime": round(video / wall, 2),
        "cpu_seconds_per_video_minute": round(cpu / (video / 60), 1),
    }


def tiny_p99_during(server: Server, path: Path, requests: int) -> dict:
    """p99 of /api/status (one keep-alive connection, back to back), idle then while 4 transcodes run."""

    def statuses(count: int, stop: threading.Event | None = None) -> list[float]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        out = []
        deadline = time.monotonic() + 120
        while len(out) < count and time.monotonic() < deadline and not (stop and stop.is_set()):
            t0 = time.perf_counter()
            connection.request("GET", "/bench/api/status", headers=HEADERS)
            connection.getresponse().read()
            out.append(time.perf_counter() - t0)
            time.sleep(0.01)
        connection.close()
        return out

    idle = statuses(requests)
    server.clear_cache()
    _, body = server.get(hls_url(path, "transcode"))
    names = segment_names(body.decode())
    stop = threading.Event()
    busy: list[float] = []
    with ThreadPoolExecutor(5) as pool:
        prober = pool.submit(statuses, requests * 10, stop)
        # Four players at four places: 4 segments at once, again and again, while we probe.
        picks = iter([names[k] for k in range(10, len(names), 7)])
        transcodes = 0
        for _ in range(3):
            batch = [next(picks) for _ in range(4)]
            list(pool.map(lambda n: server.get(hls_url(path, "transcode", n)), batch))
            transcodes += 4
        stop.set()
        busy = prober.result()
    return {
        "idle_p99_ms": ms(percentile(idle, 99)),
        "idle_median_ms": ms(statistics.median(idle)),
        "busy_p99_ms": ms(percentile(busy, 99)),
        "busy_median_ms": ms(statistics.median(busy)),
        "busy_samples": len(busy),
        "transcodes": transcodes,
    }


def presets(path: Path, rounds: int) -> dict:
    """libx264 presets side by side on the same 1080p HEVC segments (in-process, one at a time)."""
    from jupyter_rangevideo.probe import probe
    from jupyter_rangevideo.segment_jobs import Job, make_segment
    from jupyter_rangevideo.segment_plan import EncodeSettings
    from jupyter_rangevideo.segment_plan import plan_segments as plan

    facts = probe(path)
    segments = plan(facts, "transcode")
    out: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            index = 20 + 37 * r
            start, end = segments.span(index)
            for preset in ("ultrafast", "superfast", "veryfast"):
                job = Job(
                    str(path), "transcode", index, start, end, False, True, EncodeSettings(preset=preset)
                )
                target = os.path.join(tmp, f"{preset}.ts")
                t0, c0 = time.perf_counter(), time.process_time()
                make_segment(job, target, threading.Event())
                entry = out.setdefault(preset, {"seconds": [], "bytes": [], "cpu": []})
                entry["seconds"].append(time.perf_counter() - t0)
                entry["cpu"].append(time.process_time() - c0)
                entry["bytes"].append(os.path.getsize(target))
    return {
        preset: {
            "segment_ms_median": ms(statistics.median(v["seconds"])),
            "speed_x_realtime": round(2.0 / statistics.median(v["seconds"]), 2),
            "cpu_seconds": round(statistics.median(v["cpu"]), 2),
            "segment_kib_median": round(statistics.median(v["bytes"]) / 1024),
        }
        for preset, v in out.items()
    }


def anchor(path: Path) -> dict:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run(
            [
                ffmpeg,
                "-v",
                "error",
                "-y",
                "-t",
                str(ANCHOR_SECONDS),
                "-i",
                str(path),
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-an",
                os.path.join(tmp, "out.mp4"),
            ],
            check=True,
        )
        wall = time.perf_counter() - t0
    return {
        "measured_seconds": round(wall, 1),
        "full_file_seconds": round(wall * DURATION / ANCHOR_SECONDS, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeks", type=int, default=20)
    parser.add_argument("--speed-seconds", type=float, default=20.0)
    parser.add_argument(
        "--keep",
        default="",
        help="comma-separated parts to take from the last results instead: tiny,presets,anchor",
    )
    parser.add_argument(
        "--tiny-only",
        type=int,
        nargs="*",
        help="only the tiny-request p99 while 4 transcodes run, at these worker_nice values (no results/ files)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of --tiny-only")
    parser.add_argument("--out", type=Path, help="where --tiny-only writes its JSON")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the servers on the way out
    if args.tiny_only is not None:
        tiny_only(args.tiny_only or [10], args.rounds, args.out)
        return
    began = time.monotonic()
    paths = {name: source(name) for name in DELIVERY}
    keep = set(filter(None, args.keep.split(",")))
    last = json.loads((RESULTS / "segments.json").read_text()) if keep else {}
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": os.getloadavg()[0],
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp) / "runtime"
        os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
        # Encodes at the server's own priority here, on equal terms with the ffmpeg anchor and
        # with whatever else shares the machine (the default, worker_nice=10, yields to all of it).
        server = Server(runtime, Path(tmp) / "cache", worker_nice=0)
        try:
            rng = random.Random(1)
            for name, delivery in DELIVERY.items():
                row = {
                    "delivery": delivery,
                    **first_and_seeks(server, paths[name], delivery, args.seeks, rng),
                }
                if delivery != "direct":
                    row.update(speed(server, paths[name], delivery, args.speed_seconds))
                results[name] = row
                print(name, row, file=sys.stderr)
        finally:
            server.stop()
        for nice in () if "tiny" in keep else (19, 10, 0):
            busy = Server(runtime, Path(tmp) / f"cache-nice{nice}", transcode_workers=4, worker_nice=nice)
            try:
                results[f"tiny_request_nice{nice}"] = tiny_p99_during(busy, paths["hevc-mp4"], 100)
                print("tiny", nice, results[f"tiny_request_nice{nice}"], file=sys.stderr)
            finally:
                busy.stop()
    if "tiny" in keep:
        results.update({k: v for k, v in last.items() if k.startswith("tiny_request")})
    results["presets"] = last["presets"] if "presets" in keep else presets(paths["hevc-mp4"], 2)
    print("presets", results["presets"], file=sys.stderr)
    for name in DELIVERY:
        results[name]["anchor"] = (
            last[name]["anchor"]
            if last.get(name, {}).get("anchor") and "anchor" in keep
            else anchor(paths[name])
        )
        print("anchor", name, results[name]["anchor"], file=sys.stderr)
    results["run_seconds"] = round(time.monotonic() - began)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "segments.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "segments.md").write_text(report(results))
    print(report(results))


def tiny_only(nices: list[int], rounds: int, out: Path | None) -> None:
    """The tiny-request p99 while 4 transcodes run, ``rounds`` times at each worker_nice, with
    the load and the package measured (another checkout's first on PYTHONPATH, run from
    outside this one, measures that code)."""
    import jupyter_rangevideo

    path = source("hevc-mp4")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp) / "runtime"
        os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
        for number in range(rounds):
            for nice in nices:
                busy = Server(
                    runtime, Path(tmp) / f"cache-{number}-{nice}", transcode_workers=4, worker_nice=nice
                )
                try:
                    row = {"round": number, "worker_nice": nice, "load": os.getloadavg()[0]}
                    row.update(tiny_p99_during(busy, path, 100))
                finally:
                    busy.stop()
                runs.append(row)
                print(row, file=sys.stderr, flush=True)
    result = {"code": str(Path(jupyter_rangevideo.__file__).parent), "runs": runs}
    if out is not None:
        out.write_text(json.dumps(result, indent=1) + "\n")


def report(r: dict) -> str:
    lines = [
        "# Remux and transcode deliveries: server-side figures",
        "",
        (
            f"`python benchmarks/segments.py` on {r['machine']['cpus']} cores shared with other work "
            f"(load {r['machine']['load_before']:.1f} at the start); 1080p, 25 fps, {DURATION // 60}-minute sources made by "
            "repeating a 10 s test-pattern clip (2 s GOP, no audio). Figures are from the client's side of real HTTP "
            "requests to a jupyter_server process with the extension (default settings: 2 workers, prefetch 2, "
            "libx264 ultrafast, CRF 23, transcode segments of 1 s where keyframes are at most 2 s apart (both sources here), else 2 s, 4 s remux segments). Browser-side figures (first frame, "
            "seek to the frame) come from the front-end's benchmark."
        ),
        "",
        (
            "| source | delivery | first segment | seek median | seek p90 | speed (x real time) | CPU s / video min "
            "| full re-encode (ffmpeg veryfast) |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, delivery in DELIVERY.items():
        row = r[name]
        anchor_text = f"{row['anchor'].get('full_file_seconds', '-')} s" if row.get("anchor") else "-"
        lines.append(
            f"| {name} | {delivery} | {row['first_ms']} ms | {row['seek_median_ms']} ms | {row['seek_p90_ms']} ms "
            f"| {row.get('speed_x_realtime', '-')} | {row.get('cpu_seconds_per_video_minute', '-')} | {anchor_text} |"
        )
    lines += [
        "",
        "Direct rows: a 1 MiB range at the start, then at random offsets (what the browser asks for).",
        (
            f"Full re-encode: timed on the first {ANCHOR_SECONDS} s and scaled to the whole file: the wait before a "
            "first frame without on-the-fly segments."
        ),
        (
            "Segments here run at the server's own CPU priority (`worker_nice=0`), on equal terms with the anchor "
            "and with the machine's other load; CPU seconds per video minute do not depend on that load."
        ),
        "",
        "## Tiny requests while 4 transcodes run",
        "",
        (
            f"`/api/status` back to back on one connection while 4 workers make 1080p HEVC segments "
            f"({r['tiny_request_nice0']['transcodes']} segments, 4 at a time)."
        ),
        "",
        "| worker_nice | p99 busy | median busy | requests | p99 idle | median idle |",
        "|---|---|---|---|---|---|",
        *(
            f"| {nice}{' (default)' if nice == 10 else ''} | {t['busy_p99_ms']} ms | {t['busy_median_ms']} ms "
            f"| {t['busy_samples']} | {t['idle_p99_ms']} ms | {t['idle_median_ms']} ms |"
            for nice in (19, 10, 0)
            if (t := r.get(f"tiny_request_nice{nice}"))
        ),
        "",
        "## libx264 presets (one 2 s 1080p segment from HEVC, one job at a time, median of 2)",
        "",
        "| preset | time per segment | speed (x real time) | CPU s per segment | segment size |",
        "|---|---|---|---|---|",
    ]
    for preset, v in r["presets"].items():
        lines.append(
            f"| {preset} | {v['segment_ms_median']} ms | {v['speed_x_realtime']} | {v['cpu_seconds']} "
            f"| {v['segment_kib_median']} KiB |"
        )
    lines += ["", f"Run time: {r['run_seconds']} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

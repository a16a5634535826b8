"""What a paused seek in a remote object costs the store, and what drives it: the <video>'s
preload, whether it has played, the server's read-ahead, TCP buffers.

    python benchmarks/seek_fetch.py [--seeks N] [--size-mib N] [--settle S] [--label NAME]
                                    [--variants LIST] [--baseline DIR]

One JupyterLab server with its own block cache, one HTTP server with ranges on 127.0.0.1
holding a video (a 12 s, 25 fps segment repeated to --size-mib, a keyframe every second),
and a bare page of the server's origin with one <video> of the object's signed URL. Each
variant loads the video afresh (its own object name, so a cold cache), then seeks to the same
random times, each until its frame is presented, and waits --settle seconds. Per seek it
records the bytes the store sent (counted by the HTTP server: every byte fetched), the bytes
the browser received (DevTools protocol), the media requests, and what sits in the TCP queues
between browser and server (`ss`: the browser's unread receive queue, the server's send
queue). Variants:

- metadata: preload="metadata" (the player's), never played;
- auto: preload="auto", never played;
- played: preload="metadata", played 2 s and paused before the seeks;
- played, back to metadata: preload="auto" while playing, "metadata" once paused;
- local file: the same video as a file under the server's root (no store: seek times only).

Writes benchmarks/results/seek_fetch-LABEL.json and prints a line per run. With --baseline
DIR, a second server runs the jupyter_rangevideo package in DIR (another checkout's), and
each variant runs on both servers in turn, so two policies meet the same load and seeks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE))

from conftest import FPS, Server, chromium, new_page
from remote import start_lab
from remote_stores import RangeServer
from seek_requests import Recorder, url_path

from jupyter_rangevideo.sample import make_large, write_sample

PAGE = """<!doctype html><body style="margin:0">
<video id="v" muted playsinline preload="{preload}" style="width:640px;height:360px" src="{src}"></video>
</body>"""
SCRIPT = """
window.seekTo = (t) => new Promise((resolve) => {
  const v = document.getElementById('v');
  const asked = performance.now();
  const check = (now, meta) => {
    if (Math.abs(meta.mediaTime - t) < 0.5 / FPS_VALUE) resolve(performance.now() - asked);
    else v.requestVideoFrameCallback(check);
  };
  v.requestVideoFrameCallback(check);
  v.currentTime = t;
  setTimeout(() => resolve(null), 30000);
});
window.firstFrame = () => new Promise((resolve) => {
  const v = document.getElementById('v');
  if (v.readyState >= 2) resolve(0);
  else v.addEventListener('loadeddata', () => resolve(performance.now()), {once: true});
});
window.waiting = 0;
document.getElementById('v').addEventListener('waiting', () => { window.waiting += 1; });
window.playFor = async (seconds, toggle) => {
  const v = document.getElementById('v');
  const waited = window.waiting;
  const dropped = v.getVideoPlaybackQuality().droppedVideoFrames;
  const from = v.currentTime;
  if (toggle) v.preload = 'auto';
  await v.play();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  v.pause();
  if (toggle) v.preload = 'metadata';
  return {waiting: window.waiting - waited, dropped: v.getVideoPlaybackQuality().droppedVideoFrames - dropped,
          played: v.currentTime - from};
};
""".replace("FPS_VALUE", str(FPS))
# name: (preload, played before the seeks, preload "auto" while playing and "metadata" once paused,
# the local file instead of the remote object)
VARIANTS = {
    "metadata": ("metadata", False, False, False),
    "auto": ("auto", False, False, False),
    "played": ("metadata", True, False, False),
    "played, back to metadata": ("metadata", True, True, False),
    "local file": ("metadata", False, False, True),
}


def tcp_queues(port: int) -> tuple[int, int]:
    """(bytes the browser has not read from its sockets to the server, bytes the server's
    sockets have not had acknowledged)."""
    out = subprocess.run(
        ["ss", "-tnH", "state", "established"], capture_output=True, text=True, check=False
    ).stdout
    unread = unsent = 0
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        recv_q, send_q, local, peer = int(fields[0]), int(fields[1]), fields[2], fields[3]
        if peer.endswith(f":{port}"):
            unread += recv_q
        elif local.endswith(f":{port}"):
            unsent += send_q
    return unread, unsent


def run_variant(browser, server, http, name: str, variant: str, times: list[float], settle: float) -> dict:
    """One fresh page of one variant; the object ``name`` (or the file of that name under the
    server's root) is not in the server's cache yet."""
    from jupyter_rangevideo import url_for
    from jupyter_rangevideo.remote_registry import resolve_source

    preload, play, toggle, local = VARIANTS[variant]
    os.environ["JUPYTER_RUNTIME_DIR"] = str(
        server.root.parent / server.root.name.replace("-root", "-runtime")
    )
    shared = str(server.root / name) if local else resolve_source(http.url(name))
    src = url_path(server) + url_for(shared)
    port = int(server.url.split(":")[2].split("/")[0])
    with new_page(browser, timeout=60, viewport={"width": 800, "height": 600}, bypass_csp=True) as page:
        page.goto(f"{server.url}api/status?token={server.token}")  # the login cookie, same origin
        recorder = Recorder(page.context.new_cdp_session(page))
        page.set_content(PAGE.format(preload=preload, src=src))
        page.add_script_tag(content=SCRIPT)
        page.evaluate("() => window.firstFrame()")
        time.sleep(settle)
        loaded = http.counts.sent[name]
        if play:
            page.evaluate("([s, toggle]) => window.playFor(s, toggle)", [2.0, toggle])
            time.sleep(settle)
        played = http.counts.sent[name] - loaded
        recorder.take()
        seeks = []
        for at in times:
            before = http.counts.sent[name]
            ms = page.evaluate("(t) => window.seekTo(t)", at)
            time.sleep(settle)
            requests = recorder.take()
            unread, unsent = tcp_queues(port)
            seeks.append(
                {
                    "to": at,
                    "ms": ms,
                    "store": http.counts.sent[name] - before,
                    "browser": sum(r["bytes"] for r in requests),
                    "unread": unread,
                    "unsent": unsent,
                    "requests": [(r["range"], r["status"], r["bytes"], r["cancelled"]) for r in requests],
                }
            )
        # Smoothness: 4 s played on from the last paused seek (waiting events, frames dropped).
        smooth = page.evaluate("([s, toggle]) => window.playFor(s, toggle)", [4.0, toggle])
    return {"first_load": loaded, "played": played, "play_after_seek": smooth, "seeks": seeks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeks", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after each seek's frame")
    parser.add_argument("--label", default="now", help="names the results file")
    parser.add_argument(
        "--variants", default="/".join(VARIANTS), help="separated by '/', of: " + " / ".join(VARIANTS)
    )
    parser.add_argument("--video-size", default="640x360", help="the segment's picture (noise): its bitrate")
    parser.add_argument(
        "--baseline",
        default="",
        help="a folder holding another jupyter_rangevideo package (e.g. `git archive main jupyter_rangevideo`"
        " unpacked): a second server runs it, and each variant runs on both, in alternating order",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-seek-fetch-"))
    http = RangeServer().start()
    servers: dict[str, Server] = {}
    try:
        width, height = (int(n) for n in args.video_size.split("x"))
        segment = write_sample(tmp / "segment.mp4", duration=12, fps=FPS, size=(width, height), noise=True)
        large = make_large(segment, tmp / "large.mp4", args.size_mib * 2**20)
        from jupyter_rangevideo import probe

        duration = probe(large).duration or 12.0
        print(
            f"{args.size_mib} MiB, {duration:.0f} s, {8 * args.size_mib * 2**20 / duration / 1e6:.1f} Mbit/s"
        )
        servers["this"] = start_lab(tmp, "this", tmp / "this-blocks")
        if args.baseline:
            os.environ["PYTHONPATH"] = os.path.abspath(args.baseline)
            try:
                servers["baseline"] = start_lab(tmp, "baseline", tmp / "baseline-blocks")
            finally:
                del os.environ["PYTHONPATH"]
        rng = random.Random(8)
        times = [(rng.randrange(FPS, int(duration * FPS) - FPS) + 0.5) / FPS for _ in range(args.seeks)]
        results: dict[str, dict] = {}
        with chromium() as browser:
            for number, variant in enumerate(args.variants.split("/")):
                order = list(servers) if number % 2 == 0 else list(reversed(servers))
                for checkout in order:
                    name = f"large-{number}-{checkout}.mp4"
                    http.add_file(name, large)
                    os.link(large, servers[checkout].root / name)
                    run = run_variant(browser, servers[checkout], http, name, variant, times, args.settle)
                    results[f"{checkout}: {variant}"] = run
                    report(f"{checkout}: {variant}", run)
    finally:
        for server in servers.values():
            server.stop()
        http.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    facts = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_average": os.getloadavg()[0]}
    out = HERE / "results" / f"seek_fetch-{args.label}.json"
    facts["bitrate_mbit_s"] = 8 * args.size_mib * 2**20 / duration / 1e6
    out.write_text(json.dumps({"machine": facts, "size_mib": args.size_mib, "runs": results}, indent=1))
    print(f"load average {facts['load_average']:.1f}; wrote {out}")


def report(variant: str, run: dict) -> None:
    seeks = run["seeks"]
    store = [s["store"] / 2**20 for s in seeks]
    print(
        f"{variant:28s} load {run['first_load'] / 2**20:5.1f} MiB, play {run['played'] / 2**20:5.1f} MiB "
        f"| play after a seek {run['play_after_seek']} | per seek: store {statistics.mean(store):5.2f} MiB "
        f"[{min(store):.1f}-{max(store):.1f}], browser {statistics.mean(s['browser'] for s in seeks) / 2**20:5.2f}"
        f" MiB, tcp unread {statistics.mean(s['unread'] for s in seeks) / 2**20:4.2f} / unsent "
        f"{statistics.mean(s['unsent'] for s in seeks) / 2**20:4.2f} MiB, "
        f"seek median {statistics.median(s['ms'] or 0 for s in seeks):.0f} ms",
        flush=True,
    )
    for s in seeks[:3]:
        print("    ", s["to"], [(r[0], r[2] // 1024, r[3]) for r in s["requests"]])


if __name__ == "__main__":
    main()

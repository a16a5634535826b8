"""What Chromium asks of each server when a <video> seeks: request by request.

    python benchmarks/seek_requests.py [--seeks N] [--size-mb M]

Starts a JupyterLab server (the browser tests' harness), puts one test video under its
root, and plays it in Chromium from two sources side by side in turn: this extension's
signed URL, and Jupyter's /files/ (what IPython.display.Video uses). For each it records,
with the DevTools protocol, every media request: its Range, the status, bytes received,
whether it finished or was cancelled, and how long each seek took to present the right
frame (requestVideoFrameCallback, on the page's clock). Prints a per-source summary and
writes benchmarks/results/seek_requests.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # helpers, which the browser tests' conftest imports
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from conftest import FPS, Server, chromium, new_page, start_server

from jupyter_rangevideo.sample import make_large, write_sample

PAGE = """<!doctype html><body style="margin:0">
<video id="v" muted preload="auto" style="width:640px;height:360px" src="{src}"></video>
</body>"""
SCRIPT = """
window.seekTo = (t) => new Promise((resolve) => {{
  const v = document.getElementById('v');
  const asked = performance.now();
  const want = t;
  const check = (now, meta) => {{
    if (Math.abs(meta.mediaTime - want) < 0.5 / {fps}) resolve(performance.now() - asked);
    else v.requestVideoFrameCallback(check);
  }};
  v.requestVideoFrameCallback(check);
  v.currentTime = t;
}});
window.firstFrame = () => new Promise((resolve) => {{
  const v = document.getElementById('v');
  if (v.readyState >= 2) resolve(0);
  else v.addEventListener('loadeddata', () => resolve(performance.now()), {{once: true}});
}});
"""


def start_with_videos(prefix: str) -> tuple[Path, Server, Path]:
    """A scratch folder, a JupyterLab server (the browser tests' harness) on it with a videos/
    folder under its root, and url_for signing for that server."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    server = start_server("lab", tmp)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(tmp / "lab-runtime")
    videos = server.root / "videos"
    videos.mkdir()
    return tmp, server, videos


def make_video(kind: str, videos: Path, tmp: Path) -> Path:
    """A 12 s noisy test video in ``videos``: "small" 640x360, "hd" 1280x720, or "large", the
    small one's packets repeated to 1 GiB."""
    if kind == "large":
        segment = write_sample(tmp / "segment.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
        return make_large(segment, videos / "large.mp4", 2**30)
    size = (1280, 720) if kind == "hd" else (640, 360)
    return write_sample(videos / f"{kind}.mp4", duration=12, fps=FPS, size=size, noise=True)


def url_path(server: Server) -> str:
    """The server's base URL without scheme and host, as a page of the same origin writes it."""
    return "/" + server.url.split("://", 1)[1].split("/", 1)[1]


class Recorder:
    """Media requests seen through the DevTools protocol, in order."""

    def __init__(self, cdp, marker: str = "files/") -> None:
        self.marker = marker  # only URLs containing it are media requests of interest
        self.requests: dict[str, dict] = {}
        cdp.on("Network.requestWillBeSent", self.sent)
        cdp.on("Network.responseReceived", self.response)
        cdp.on("Network.dataReceived", self.data)
        cdp.on("Network.loadingFinished", self.finished)
        cdp.on("Network.loadingFailed", self.failed)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})

    def sent(self, e: dict) -> None:
        url = e["request"]["url"]
        if self.marker not in url or "/page?" in url:
            return
        headers = {k.lower(): v for k, v in e["request"]["headers"].items()}
        self.requests[e["requestId"]] = {
            "t": e["timestamp"],
            "range": headers.get("range"),
            "status": None,
            "bytes": 0,
            "end": None,
            "cancelled": False,
            "cache": None,
        }

    def response(self, e: dict) -> None:
        if e["requestId"] in self.requests:
            r = self.requests[e["requestId"]]
            r["status"] = e["response"]["status"]
            r["cache"] = e["response"].get("fromDiskCache") or e["response"].get("fromMemoryCache")
            r["connection"] = e["response"].get("connectionId")
            r["reused"] = e["response"].get("connectionReused")

    def data(self, e: dict) -> None:
        if e["requestId"] in self.requests:
            self.requests[e["requestId"]]["bytes"] += e["dataLength"]

    def finished(self, e: dict) -> None:
        if e["requestId"] in self.requests:
            self.requests[e["requestId"]]["end"] = e["timestamp"]

    def failed(self, e: dict) -> None:
        if e["requestId"] in self.requests:
            r = self.requests[e["requestId"]]
            r["end"], r["cancelled"] = (
                e["timestamp"],
                bool(e.get("canceled")) or "ABORTED" in e.get("errorText", ""),
            )

    def take(self) -> list[dict]:
        taken = sorted(self.requests.values(), key=lambda r: r["t"])
        self.requests.clear()
        return taken


def run_source(browser, server, src: str, seek_to: float, settle: float) -> dict:
    """A fresh page: load the video, wait for its first frame, wait ``settle`` seconds, seek."""
    # bypass_csp: api/status, the page that gives the login cookie, sends a CSP.
    with new_page(browser, timeout=60, viewport={"width": 800, "height": 600}, bypass_csp=True) as page:
        page.goto(f"{server.url}api/status?token={server.token}")  # the login cookie, same origin
        recorder = Recorder(page.context.new_cdp_session(page))
        page.set_content(PAGE.format(src=src))
        page.add_script_tag(content=SCRIPT.format(fps=FPS))
        page.evaluate("() => window.firstFrame()")
        if settle:
            time.sleep(settle)
        before = recorder.take()
        ms = page.evaluate("(t) => window.seekTo(t)", seek_to)
        time.sleep(0.5)  # requests still running after the frame showed
        return {"ms": ms, "before": before, "after": recorder.take()}


def describe(trial: dict) -> str:
    def one(r: dict) -> str:
        state = "cancelled" if r["cancelled"] else ("done" if r["end"] else "open")
        return f"{r['range']}->{r['status']} {r['bytes'] / 1e6:.1f}MB {state}"

    return (
        f"seek {trial['ms']:.0f} ms | before: "
        + "; ".join(one(r) for r in trial["before"])
        + " | after: "
        + "; ".join(one(r) for r in trial["after"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seek-to", type=float, default=7.0)
    parser.add_argument("--settle", type=float, default=0.0, help="seconds between first frame and the seek")
    parser.add_argument(
        "--large", action="store_true", help="a 1 GiB file (packets repeated) instead of 10 MB"
    )
    args = parser.parse_args()
    tmp, server, videos = start_with_videos("rangevideo-seek-requests-")
    from jupyter_rangevideo import url_for

    try:
        video = make_video("large" if args.large else "small", videos, tmp)
        base = url_path(server)
        sources = {
            "rangevideo": base + url_for(video),
            "files": f"{base}files/videos/{video.name}",
        }
        results: dict[str, list] = {name: [] for name in sources}
        with chromium() as browser:
            for number in range(args.rounds):
                names = list(sources) if number % 2 == 0 else list(reversed(sources))
                for name in names:
                    trial = run_source(browser, server, sources[name], args.seek_to, args.settle)
                    results[name].append(trial)
                    print(f"{name:10s} {describe(trial)}", flush=True)
        for name, trials in results.items():
            after = [r for t in trials for r in t["after"]]
            print(
                f"{name}: seek median {statistics.median(t['ms'] for t in trials):.0f} ms; "
                f"requests after the seek {len(after) / len(trials):.1f}, "
                f"cancelled {sum(r['cancelled'] for t in trials for r in t['before'] + t['after']) / len(trials):.1f}"
            )
    finally:
        server.stop()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "seek_requests.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

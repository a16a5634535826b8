"""Which response detail makes a <video> seek slower: one candidate at a time.

    python benchmarks/seek_variants.py [--rounds N] [--settle S]

One in-process tornado server (no Jupyter, no auth: only the responses differ) serves a
test page and the same video through several handlers:

- ``ours``: the extension's own RangeFileMixin, as it answers today;
- ``ours-200``: the same, but ``bytes=0-`` is answered 200 with the whole file, as
  tornado's StaticFileHandler (Jupyter's /files/) does;
- ``ours-no-validators``: the same, without ``ETag``, ``Last-Modified`` and ``Cache-Control``;
- ``static``: tornado's StaticFileHandler, which is what /files/ is.

For each round and each handler (interleaved, order rotating), a fresh Chromium page loads
the video, waits for its first frame, waits ``--settle`` seconds and seeks to 7 s; the time
to the right frame is measured on the page's clock (requestVideoFrameCallback), and the
media requests are recorded (DevTools protocol). Prints medians and writes
benchmarks/results/seek_variants.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tornado import web
from tornado.httpserver import HTTPServer

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # helpers, which the browser tests' conftest imports
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE))

from conftest import FPS, chromium, new_page
from seek_requests import PAGE, SCRIPT, Recorder, describe

from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.streaming import RangeFileMixin


class Ours(RangeFileMixin, web.RequestHandler):
    def initialize(self, path: str) -> None:
        self.path_ = path

    async def get(self) -> None:
        await self.serve_file(self.path_, include_body=True)


class Ours200(Ours):
    async def get(self) -> None:
        if self.request.headers.get("Range", "").replace(" ", "") == "bytes=0-":
            del self.request.headers["Range"]
        await super().get()


class OursNoValidators(Ours):
    def set_header(self, name: str, value) -> None:
        if name not in ("ETag", "Last-Modified", "Cache-Control"):
            super().set_header(name, value)


class Page(web.RequestHandler):
    def get(self) -> None:
        self.write(
            PAGE.format(src=self.get_argument("src")).replace(
                "</body>", f"<script>{SCRIPT.format(fps=FPS)}</script></body>"
            )
        )


VARIANTS = {
    "ours": "/ours",
    "ours-200": "/ours200",
    "ours-no-validators": "/novalid",
    "static": "/static/v.mp4",
}


def serve(video: Path) -> tuple[int, asyncio.AbstractEventLoop]:
    pool = ThreadPoolExecutor(4)
    started = threading.Event()
    box: dict = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application(
            [
                ("/page", Page),
                ("/ours", Ours, {"path": str(video)}),
                ("/ours200", Ours200, {"path": str(video)}),
                ("/novalid", OursNoValidators, {"path": str(video)}),
                (r"/static/(.*)", web.StaticFileHandler, {"path": str(video.parent)}),
            ],
            rangevideo_read_pool=pool,
            rangevideo_chunk_size=2**20,
            log_function=lambda handler: None,
        )
        server = HTTPServer(app)
        server.listen(0, address="127.0.0.1")
        box["port"] = next(iter(server._sockets.values())).getsockname()[1]
        box["loop"] = loop
        started.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    started.wait(10)
    return box["port"], box["loop"]


def trial(browser, port: int, src: str, seek_to: float, settle: float) -> dict:
    with new_page(browser, timeout=60, viewport={"width": 800, "height": 600}) as page:
        recorder = Recorder(page.context.new_cdp_session(page), marker="/")
        page.goto(f"http://127.0.0.1:{port}/page?src={src}")
        page.evaluate("() => window.firstFrame()")
        if settle:
            time.sleep(settle)
        before = recorder.take()
        ms = page.evaluate("(t) => window.seekTo(t)", seek_to)
        time.sleep(0.5)
        return {"ms": ms, "before": before, "after": recorder.take()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--settle", type=float, default=0.0)
    parser.add_argument("--seek-to", type=float, default=7.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-seek-variants-"))
    video = write_sample(tmp / "v.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
    port, _ = serve(video)
    results: dict[str, list] = {name: [] for name in VARIANTS}
    with chromium() as browser:
        names = list(VARIANTS)
        for number in range(args.rounds):
            for name in names[number % len(names) :] + names[: number % len(names)]:
                result = trial(browser, port, VARIANTS[name], args.seek_to, args.settle)
                results[name].append(result)
                print(f"{name:20s} {describe(result)}", flush=True)
    summary = {}
    for name, trials in results.items():
        summary[name] = {
            "seek_ms_median": statistics.median(t["ms"] for t in trials),
            "requests_after_seek": sum(len(t["after"]) for t in trials) / len(trials),
        }
        runs = ", ".join(str(round(t["ms"])) for t in trials)
        print(
            f"{name:20s} seek median {summary[name]['seek_ms_median']:.0f} ms (runs: {runs}); "
            f"requests after the seek {summary[name]['requests_after_seek']:.1f}"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "seek_variants.json").write_text(json.dumps({"summary": summary, "runs": results}, indent=1))


if __name__ == "__main__":
    main()

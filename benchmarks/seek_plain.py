"""Seeks in plain <video> elements, none of the player's code: is this extension's answer, as
Chromium loads it, any slower to seek in than Jupyter's /files/?

    python benchmarks/seek_plain.py [--seeks N] [--file small|hd|large]

One page with three <video> elements of the same file: two from /files/ (different query strings,
so that Chromium buffers each on its own) and one from this extension's signed URL. Each seeks in
turn, in random order, to the same random frames and one frame back from each, timed until
requestVideoFrameCallback presents the frame. The two /files/ elements are identical: how far
they measure apart is the noise against which this extension's element is read. Writes
benchmarks/results/seek_plain.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # helpers, which the browser tests' conftest imports
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from browser import INTERLEAVED_PAUSE_S, READY, SEEK, timed
from conftest import FPS, chromium, new_page
from seek_requests import make_video, start_with_videos, url_path

ELEMENT = '<video id="{id}" muted preload="auto" style="width:320px;height:180px" src="{src}"></video>'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeks", type=int, default=30)
    parser.add_argument("--file", choices=("small", "hd", "large"), default="small")
    args = parser.parse_args()
    tmp, server, videos = start_with_videos("rangevideo-seek-plain-")
    from jupyter_rangevideo import url_for

    try:
        video = make_video(args.file, videos, tmp)
        base = url_path(server)
        sources = {
            "files": f"{base}files/videos/{video.name}?a",
            "files, again": f"{base}files/videos/{video.name}?b",
            "rangevideo": base + url_for(video),
        }
        ids = {name: f"v{number}" for number, name in enumerate(sources)}
        page_html = "".join(ELEMENT.format(id=ids[name], src=src) for name, src in sources.items())
        times: dict[str, dict[str, list[float]]] = {name: {"seek": [], "back": []} for name in sources}
        # bypass_csp: api/status, the page that gives the login cookie, sends a CSP.
        with chromium() as browser, new_page(browser, timeout=60, bypass_csp=True) as page:
            page.goto(f"{server.url}api/status?token={server.token}")  # the login cookie, same origin
            page.set_content(f"<!doctype html><body>{page_html}</body>")
            for element in ids.values():
                page.wait_for_function(READY, arg=f"#{element}", timeout=60_000)
            rng = random.Random(0)
            frame = 0
            for _ in range(args.seeks):
                target = rng.choice([n for n in range(1, 11 * FPS) if n not in (frame, frame + 1)])
                for name in rng.sample(list(sources), len(sources)):
                    for key, n in (("seek", target), ("back", target - 1)):
                        arg = [f"#{ids[name]}", (n + 0.5) / FPS, n, FPS]
                        times[name][key].append(timed(page.evaluate(SEEK, arg), f"seek to frame {n}"))
                        time.sleep(INTERLEAVED_PAUSE_S)
                frame = target - 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    medians = {
        name: {key: statistics.median(v) for key, v in by_key.items()} for name, by_key in times.items()
    }
    for name, figures in medians.items():
        ratio = {key: value / medians["files"][key] for key, value in figures.items()}
        print(
            f"{args.file}: {name:13s} seek {figures['seek']:.1f} ms (×{ratio['seek']:.2f}), "
            f"one frame back {figures['back']:.1f} ms (×{ratio['back']:.2f})"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / "seek_plain.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[args.file] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "medians": medians, "times": times}
    path.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()

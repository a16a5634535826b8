"""Shared exports play anywhere: `jupyter rangevideo export` of the demo notebook, of a clip
notebook and of a review notebook (a clip with an overlay, a 2-player grid), copied to a fresh directory on another path (the sources moved away), served by
`python -m http.server` (no Range support) and by a Range-capable static server (tornado's
StaticFileHandler), and opened from file://; in Chromium each player shows the right frame,
seeks to the right frame, plays, and a clip stops on its last frame; an overlay is drawn on
its frame only; a grid's players seek together.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import FPS, VIDEO, frame_index, free_port, record, wait_for_frame, wait_for_screenshot_frame
from helpers import execute_notebook

from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.share import export

DEMO = Path(__file__).parents[2] / "notebooks" / "demo.ipynb"
SIZE = (320, 180)
MAGENTA = "#ff00ff"
CANVAS = "canvas.jp-RangeVideo-overlay"
# Source pixels of the 320x240 review video: a box on frame 50, another elsewhere on frame 52.
BOXES = [
    {"frame": 50, "kind": "box", "x": 40, "y": 40, "w": 100, "h": 80, "color": MAGENTA, "width": 10},
    {"frame": 52, "kind": "box", "x": 180, "y": 100, "w": 100, "h": 80, "color": MAGENTA, "width": 10},
]

TORNADO_STATIC = """
import sys, asyncio, tornado.web
async def main():
    app = tornado.web.Application([(r"/(.*)", tornado.web.StaticFileHandler,
                                    {"path": sys.argv[1], "default_filename": "index.html"})])
    app.listen(int(sys.argv[2]), "127.0.0.1")
    await asyncio.Event().wait()
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """The exports, copied to another path; the videos they came from moved away."""
    work = tmp_path_factory.mktemp("authoring")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime"))}
    # The demo notebook as it is, with a short earth.mp4 (its cells seek to 30 s, clip 10-14 s).
    write_sample(work / "earth.mp4", duration=32, fps=FPS, size=SIZE)
    shutil.copy(DEMO, work / "demo.ipynb")
    execute_notebook(work / "demo.ipynb", env)
    # A clip starting between keyframes (re-encoded), another from a keyframe (copied), and
    # an HEVC file that Chromium cannot play (re-encoded).
    write_sample(work / "left.mp4", duration=6, fps=FPS, size=SIZE, audio="aac")
    write_sample(work / "right.mp4", duration=6, fps=FPS, size=SIZE, codec="hevc")
    clips = nbformat.v4.new_notebook()
    clips.cells = [
        nbformat.v4.new_code_cell(
            "import jupyter_rangevideo as rangevideo\n"
            "a = rangevideo.show('left.mp4', start=1.5, end=3)\n"
            "b = rangevideo.show('left.mp4', start=2, end=5)\n"
            "c = rangevideo.show('right.mp4')"
        )
    ]
    clips.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(clips, work / "clips.ipynb")
    execute_notebook(work / "clips.ipynb", env)
    # A clip with an overlay (its start between keyframes: re-encoded, so the page's timeline is
    # shifted) and a grid of two renditions. noise=False: the pattern is never pure magenta.
    write_sample(work / "review.mp4", duration=4, fps=FPS, size=(320, 240), noise=False)
    write_sample(work / "review-small.mp4", duration=4, fps=FPS, size=(160, 120), noise=False)
    review = nbformat.v4.new_notebook()
    review.cells = [
        nbformat.v4.new_code_cell(
            "import jupyter_rangevideo as rangevideo\n"
            "c = rangevideo.show('review.mp4', start=1.5, end=3.2, controls=False, width=320, height=240)\n"
            f"layer = c.overlay({json.dumps(BOXES)}, name='boxes')"
        ),
        nbformat.v4.new_code_cell("g = rangevideo.grid(['review.mp4', 'review-small.mp4'], controls=False)"),
    ]
    review.metadata["kernelspec"] = clips.metadata["kernelspec"]
    nbformat.write(review, work / "review.ipynb")
    execute_notebook(work / "review.ipynb", env)
    saved = os.environ.get("JUPYTER_RUNTIME_DIR")
    os.environ["JUPYTER_RUNTIME_DIR"] = env["JUPYTER_RUNTIME_DIR"]  # the kernel's secret signed the URLs
    try:
        return _export_all(tmp_path_factory, work)
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_RUNTIME_DIR")
        else:
            os.environ["JUPYTER_RUNTIME_DIR"] = saved


def _export_all(tmp_path_factory, work: Path):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "shared on another path"
    elsewhere.mkdir()
    results = {}
    for name in ("demo", "clips", "review"):
        started = time.monotonic()
        result = export(work / f"{name}.ipynb", work / f"{name}-export", log=None)
        results[name] = result
        shutil.copytree(result.output, elsewhere / name)
        record(f"export {name}: seconds", round(time.monotonic() - started, 2))
        record(f"export {name}: bytes", result.size)
        record(
            f"export {name}: players",
            [p.summary_line().split(": ", 1)[1].split("  ", 1)[1] for p in result.players],
        )
    single = export(work / "clips.ipynb", elsewhere / "clips-single.html", single_file=True, log=None)
    record("export clips --single-file: bytes", single.size)
    (work / "moved").mkdir()
    for video in ("earth.mp4", "left.mp4", "right.mp4", "review.mp4", "review-small.mp4"):
        (work / video).rename(work / "moved" / video)
    return elsewhere, results


def serve(kind: str, root: Path):
    port = free_port()
    if kind == "http.server":
        cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(root)]
    else:
        cmd = [sys.executable, "-c", TORNADO_STATIC, str(root), str(port)]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
            return process, f"http://127.0.0.1:{port}/"
        except urllib.error.HTTPError:  # it answers: a folder without index.html
            return process, f"http://127.0.0.1:{port}/"
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.1)


@pytest.fixture(params=["http.server", "tornado-static"])
def server(request, sites):
    process, url = serve(request.param, sites[0])
    yield request.param, url
    process.terminate()
    process.wait(10)


def ready(page, count: int) -> None:
    page.wait_for_function(
        "n => { const v = document.querySelectorAll('video.jp-RangeVideo-video');"
        " return v.length === n && [...v].every(e => e.readyState >= 2); }",
        arg=count,
    )


def at_frame(page, nth: int, expected: int) -> None:
    """Chromium hands a canvas blank pixels for a video scrolled out of view: look at it first."""
    page.locator(f"{VIDEO} >> nth={nth}").scroll_into_view_if_needed()
    wait_for_frame(page, expected, nth=nth)


def seek(page, nth: int, seconds: float) -> None:
    page.evaluate(
        "([n, t]) => { document.querySelectorAll('video.jp-RangeVideo-video')[n].currentTime = t; }",
        [nth, seconds],
    )


def test_demo_export_plays_and_seeks(page, server):
    kind, url = server
    responses = []
    page.on("response", lambda r: "/clips/" in r.url and responses.append((r.url.split("/")[-1], r.status)))
    page.goto(url + "demo/index.html")
    ready(page, 2)
    at_frame(page, 0, 0)  # the whole file, from its first frame
    at_frame(page, 1, 10 * FPS)  # the clip's first frame: source frame 250
    seek(page, 0, 30)  # as the notebook's p.seek(30)
    at_frame(page, 0, 30 * FPS)
    seek(page, 1, 12.4)  # source time inside the clip
    at_frame(page, 1, 310)
    seek(page, 0, 3)  # backwards
    at_frame(page, 0, 3 * FPS)
    page.evaluate("() => document.querySelectorAll('video.jp-RangeVideo-video')[0].play()")
    page.wait_for_function(
        "() => document.querySelectorAll('video.jp-RangeVideo-video')[0].currentTime > 3.6"
    )
    seen = frame_index(page, nth=0)
    assert seen is not None and seen > 3 * FPS
    record(f"demo export over {kind}: responses", sorted(set(responses)))


def test_clip_export_plays_each_player_and_a_clip_stops_on_its_last_frame(page, server):
    _, url = server
    page.goto(url + "clips/index.html")
    ready(page, 3)
    at_frame(page, 0, 37)  # start=1.5 s is frame 37 (1.48 s); re-encoded from there
    at_frame(page, 1, 50)
    at_frame(page, 2, 0)  # HEVC, re-encoded to H.264: plays in Chromium
    seek(page, 2, 5.2)
    at_frame(page, 2, 130)
    seek(page, 1, 4.0)
    at_frame(page, 1, 100)
    seek(page, 0, 2.6)
    at_frame(page, 0, 65)
    page.evaluate("() => document.querySelectorAll('video.jp-RangeVideo-video')[0].play()")
    page.wait_for_function(
        "() => document.querySelectorAll('video.jp-RangeVideo-video')[0].paused", timeout=15_000
    )
    at_frame(page, 0, 75)  # end=3 s: it stops on frame 75, the clip's last
    assert page.evaluate(
        "() => document.querySelectorAll('video.jp-RangeVideo-video')[0].currentTime"
    ) == pytest.approx(3.0, abs=0.05)


def test_exports_from_file_urls(page, sites):
    """From file:// a video's pixels cannot be read by a canvas: frames come from screenshots."""
    root, _ = sites
    for page_path, nth, start, target, expected in (
        (root / "clips" / "index.html", 1, 50, 4.0, 100),
        (root / "clips-single.html", 1, 50, 4.0, 100),
    ):
        page.goto(page_path.as_uri())
        ready(page, 3)
        selector = f"{VIDEO} >> nth={nth}"
        page.eval_on_selector_all(VIDEO, "videos => videos.forEach(v => { v.controls = false; })")
        wait_for_screenshot_frame(page, selector, start)
        seek(page, nth, target)
        wait_for_screenshot_frame(page, selector, expected)


def test_the_exported_players_point_only_into_their_folder(sites):
    root, results = sites
    html = (root / "clips" / "index.html").read_text()
    specs = [
        json.loads(text)
        for text in re.findall(
            r'<script type="application/vnd\.jupyter\.rangevideo\+json">(.*?)</script>', html, re.DOTALL
        )
    ]
    assert [spec["src"] for spec in specs] == ["clips/01-left.mp4", "clips/02-left.mp4", "clips/03-right.mp4"]
    assert all((root / "clips" / spec["src"]).is_file() for spec in specs)
    assert str(Path(results["clips"].players[0].source).parent) not in html
    assert [p.copied for p in results["clips"].players] == [False, True, False]


@pytest.fixture
def range_server(sites):
    process, url = serve("tornado-static", sites[0])
    yield url
    process.terminate()
    process.wait(10)


def is_magenta(rgb) -> bool:
    r, g, b = (int(v) for v in rgb)
    return r > 225 and g < 40 and b > 225


def pixels(page, nth: int):
    """What a person sees over the video: the picture and the overlay canvas on it."""
    import numpy as np
    from PIL import Image

    png = page.locator(f"{VIDEO} >> nth={nth}").screenshot(animations="disabled")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def both_at(page, expected: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = [frame_index(page, nth=1), frame_index(page, nth=2)]
        if seen == [expected, expected]:
            return
        time.sleep(0.1)
    raise AssertionError(f"expected frame {expected} in both grid players, they show {seen}")


def test_review_export_clip_overlay_and_grid(page, range_server, sites):
    spec_text = (sites[0] / "review" / "index.html").read_text()
    assert spec_text.count("function mountPlayer(") == 1 and "widget-state+json" not in spec_text
    page.goto(range_server + "review/index.html")
    ready(page, 3)  # the clip, and the grid's two players
    assert page.locator(".jp-RangeVideo-grid").count() == 1
    at_frame(page, 0, 37)  # start=1.5 s is frame 37 (1.48 s)

    # The overlay, from the exported spec, in the source's frames: frame 50's box on the left,
    # none on frame 51, frame 52's box on the right.
    for frame, left, right in ((50, True, False), (51, False, False), (52, False, True), (50, True, False)):
        seek(page, 0, (frame + 0.5) / FPS)
        wait_for_frame(page, frame, tolerance=0, nth=0)
        page.wait_for_function(
            "([s, f]) => document.querySelectorAll(s)[0]?.dataset.frame === String(f)", arg=[CANVAS, frame]
        )
        page.wait_for_timeout(200)  # let the canvas reach the screen
        shot = pixels(page, 0)
        assert abs(shot.shape[0] - 240) <= 1 and abs(shot.shape[1] - 320) <= 1, shot.shape
        assert is_magenta(shot[80, 40]) is left, (frame, shot[80, 40])  # frame 50's box: left edge
        assert is_magenta(shot[140, 180]) is right, (frame, shot[140, 180])  # frame 52's box: left edge
        assert not is_magenta(shot[80, 90])  # inside a box: the picture
    page.evaluate("() => document.querySelectorAll('video.jp-RangeVideo-video')[0].play()")
    page.wait_for_function(
        "() => document.querySelectorAll('video.jp-RangeVideo-video')[0].paused", timeout=15_000
    )
    at_frame(page, 0, 80)  # end=3.2 s: it stops on frame 80, the clip's last

    # The grid: its players seek together, the second following the first.
    page.locator(f"{VIDEO} >> nth=1").scroll_into_view_if_needed()
    both_at(page, 0)
    for frame in (60, 20, 95):
        seek(page, 1, (frame + 0.5) / FPS)
        both_at(page, frame)

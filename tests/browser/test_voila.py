"""Pages without this package's server extension: Voilà and a bare page with no Jupyter.

- Standalone Voilà loads no server extensions: the player's first URL fails there (Voilà
  redirects it to /voila/files/, which answers 403, and answers HEAD with 405), so it falls
  back to the range server inside the kernel (another origin), and still shows the right
  frames, follows ``p.seek()`` from Python and reports seeks back to Python.
- Voilà as an extension of a Jupyter server streams from the server extension, same origin.
- A page with no Jupyter server at all (as in VS Code or Colab) plays from the kernel
  server alone; that server grants no CORS and answers 404 to a wrong token.

Frames are decoded from pixels: through a canvas where the video is same-origin, else
from element screenshots (a cross-origin video taints a canvas).
"""

from __future__ import annotations

import functools
import http.server
import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    FPS,
    VIDEO,
    notebook_json,
    read_frame_index_from_png,
    record,
    seek_in_page,
    wait_for_frame,
    wait_for_screenshot_frame,
)
from helpers import accepts, answers, free_port, jupyter_command, jupyter_env, start_process, stop_process
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import jupyter_rangevideo
from jupyter_rangevideo.kernel_server import kernel_server

PLAYER_JS = Path(jupyter_rangevideo.__file__).parent / "static" / "player.js"
LABEL = ".widget-label"


def write_notebook(folder: Path, video: Path) -> Path:
    """A notebook that shows the player, mirrors current_time into a Label, then seeks from Python."""
    cells = [
        (
            "import ipywidgets\nimport jupyter_rangevideo as rangevideo\n"
            # width=640: the element is exactly the picture, no letterboxing in screenshots;
            # controls=False: the native control bar would cover the frame-index strip.
            f"p = rangevideo.show({str(video)!r}, controls=False, width=640)"
        ),
        (
            "label = ipywidgets.Label('python sees t=none')\n"
            "p.observe(lambda change: setattr(label, 'value', f\"python sees t={change['new']:.1f}\"), 'current_time')\n"
            "label"
        ),
        # Runs while Voilà renders: the page must open on frame 125, not 0.
        "p.seek(5.0)",
        # A magenta box on frame 125 only, its left edge at x=20 (source pixels = page pixels).
        "p.overlay([{'frame': 125, 'x': 20, 'y': 20, 'w': 200, 'h': 100, 'color': '#ff00ff', 'width': 4}])",
        # A timeline strip under the video (12 s across its 640 px).
        "strip = p.timeline({'time': [0, 6, 12], 'v': [0, 1, 0]}, name='voila')",
    ]
    path = folder / "voila-player.ipynb"
    path.write_text(json.dumps(notebook_json(cells)))
    return path


def click_strip_seeks(page, wait) -> None:
    """The strip spans the video; a click at x = 400 of 640 px (7.5 s of 12) shows frame 187."""
    page.wait_for_selector(".jp-RangeVideo-strip", timeout=30_000)
    video, strip = page.evaluate(
        """() => [document.querySelector('video.jp-RangeVideo-video'), document.querySelector('.jp-RangeVideo-strip')]
            .map((e) => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })"""
    )
    assert abs(video[0] - strip[0]) <= 0.5 and abs(video[2] - strip[2]) <= 0.5, (video, strip)
    page.mouse.click(strip[0] + 400 * strip[2] / 640, strip[1] + strip[3] / 2)
    wait(187)


def assert_box_drawn(page, timeout: float = 20) -> None:
    """The overlay's magenta box is on screen: its left edge at x=20, halfway down it (y=70)."""
    import io

    from PIL import Image

    deadline = time.monotonic() + timeout
    rgb = None
    while time.monotonic() < deadline:
        png = page.locator(VIDEO).first.screenshot(animations="disabled")
        shot = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        rgb = shot[70, 19:23].max(axis=0), shot[70, 19:23].min(axis=0)
        if any(r > 225 and g < 40 and b > 225 for r, g, b in shot[70, 18:24]):
            return
        time.sleep(0.2)
    raise AssertionError(f"no magenta box edge at x=20, y=70: {rgb}")


def start(cmd: list[str], tmp: Path, cwd: Path, ready) -> subprocess.Popen:
    """A server process with its own Jupyter dirs and its log in ``tmp``, once ``ready()``."""
    return start_process(cmd, ready, log=tmp / "server.log", env=jupyter_env(tmp), cwd=cwd, timeout=120)


def start_voila(notebook: str, folder: Path, tmp: Path) -> tuple[subprocess.Popen, int]:
    """Standalone Voilà on ``notebook`` in ``folder``; the process and its port."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "voila",
        notebook,
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
    ]
    # A TCP probe, not a GET: a GET of "/" would render the notebook and start a kernel.
    return start(cmd, tmp, folder, lambda: accepts(port)), port


def wait_for_label(page, text: str, timeout: float = 60) -> None:
    """The Label that Python updates from p.current_time shows ``text``."""
    page.locator(LABEL, has_text=text).first.wait_for(timeout=timeout * 1000)


def video_src(page, other_origin: bool = False) -> str:
    """The video's URL once set; with other_origin, once it left the page's origin (the
    player's first URL fails there before it falls back to the kernel server)."""
    try:
        page.wait_for_function(
            """([selector, other]) => {
                const src = document.querySelector(selector)?.currentSrc;
                return src && (!other || !src.startsWith(location.origin + "/"));
            }""",
            arg=[VIDEO, other_origin],
            timeout=90_000,
        )
    except PlaywrightTimeout:
        state = page.evaluate(
            "() => [document.querySelector('video')?.currentSrc, document.querySelector('.jp-RangeVideo-message')?.textContent]"
        )
        raise AssertionError(f"video src, player message: {state}") from None
    src = page.eval_on_selector(VIDEO, "video => video.currentSrc")
    print("\nvideo src:", src)
    return src


# --- Voilà on its own ---------------------------------------------------------------


@pytest.fixture
def voila(tmp_path, videos):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    notebook = write_notebook(folder, videos["small"])
    process, port = start_voila(str(notebook), folder, tmp_path)
    yield f"http://127.0.0.1:{port}/", port
    stop_process(process)


def test_standalone_voila_plays_from_the_kernel_server(page, voila):
    url, voila_port = voila
    opened = time.monotonic()
    page.goto(url)
    src = video_src(page, other_origin=True)
    # No server extension in standalone Voilà: the bytes come from the kernel, on another port.
    assert src.startswith("http://127.0.0.1:"), src
    assert int(src.split(":")[2].split("/")[0]) != voila_port, src
    assert "/rangevideo/files/" in src

    # p.seek(5.0) ran during rendering: the page shows frame 125, with its overlay.
    wait_for_screenshot_frame(page, VIDEO, round(5.0 * FPS), timeout=90)
    record("voila standalone: page open to seek target frame (s)", round(time.monotonic() - opened, 2))
    assert_box_drawn(page)
    wait_for_label(page, "python sees t=5.0")  # the Label is live (set by the seek in Python)
    click_strip_seeks(page, lambda frame: wait_for_screenshot_frame(page, VIDEO, frame, tolerance=0))
    wait_for_label(page, "python sees t=7.5", timeout=30)

    # A seek in the page shows that frame, and Python receives the new time.
    asked = time.monotonic()
    seek_in_page(page, 8.0)
    wait_for_screenshot_frame(page, VIDEO, round(8.0 * FPS))
    wait_for_label(page, "python sees t=8.0", timeout=30)
    record("voila standalone: page seek to frame and Python update (s)", round(time.monotonic() - asked, 2))


# --- Voilà inside a Jupyter server --------------------------------------------------


@pytest.fixture
def voila_in_server(tmp_path, videos):
    root = tmp_path / "root"
    root.mkdir()
    notebook = write_notebook(root, videos["small"])
    port, token, base = free_port(), secrets.token_hex(16), "/user/tester-voila/"
    url = f"http://127.0.0.1:{port}{base}"
    cmd = jupyter_command("jupyter_server", port, token, base, f"--ServerApp.root_dir={root}")
    # voila.server_extension and jupyter_rangevideo are enabled by their packages' jupyter-config.
    process = start(cmd, tmp_path, root, lambda: answers(f"{url}api/status?token={token}"))
    yield f"{url}voila/render/{notebook.name}?token={token}", url
    stop_process(process)


def test_voila_in_jupyter_server_streams_from_the_extension(page, voila_in_server):
    page_url, server_url = voila_in_server
    opened = time.monotonic()
    page.goto(page_url)
    src = video_src(page)
    # The server extension answers: same origin, under the server's base_url.
    assert src.startswith(server_url + "rangevideo/files/"), src

    # Same origin, so the canvas helper can read the pixels.
    wait_for_frame(page, round(5.0 * FPS), timeout=90)
    record("voila in jupyter_server: page open to seek target frame (s)", round(time.monotonic() - opened, 2))
    assert_box_drawn(page)
    wait_for_label(page, "python sees t=5.0")
    click_strip_seeks(page, lambda frame: wait_for_frame(page, frame, tolerance=0))
    wait_for_label(page, "python sees t=7.5", timeout=30)

    asked = time.monotonic()
    seek_in_page(page, 8.0)
    wait_for_frame(page, round(8.0 * FPS))
    wait_for_label(page, "python sees t=8.0", timeout=30)
    record(
        "voila in jupyter_server: page seek to frame and Python update (s)",
        round(time.monotonic() - asked, 2),
    )


# --- a page with no Jupyter server ----------------------------------------------------

# A stub of the widget model (what anywidget hands to render): get/set/on/off/save_changes.
PAGE = """<!doctype html>
<html><body><div id="out"></div>
<script type="module">
import { mountPlayer } from "./player.js";
const config = await (await fetch("./config.json")).json();
const state = { ...config.state };
const handlers = new Map();
const model = {
  get: (name) => state[name],
  set(name, value) {
    state[name] = value;
    for (const handler of handlers.get(`change:${name}`) ?? []) handler();
  },
  on(event, handler) { handlers.set(event, [...(handlers.get(event) ?? []), handler]); },
  off(event, handler) { handlers.set(event, (handlers.get(event) ?? []).filter((h) => h !== handler)); },
  save_changes() { window.saved = (window.saved ?? 0) + 1; },
};
window.model = model;
mountPlayer(document.getElementById("out"), config.spec, model);
</script></body></html>
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def bare_page_server(tmp_path, videos):
    """A plain static HTTP server for the page, player.js and its config; and the kernel server."""
    server = kernel_server()  # as the kernel would start it, here in the test process
    src = jupyter_rangevideo.url_for(videos["small"])
    state = {
        "_kernel_server": {"port": server.port, "token": server.token},
        "current_time": 0.0,
        "paused": True,
        "controls": False,
        "width": 640,
        "height": "auto",
        "playback_rate": 1.0,
        "volume": 1.0,
        "muted": False,
        "loop": False,
        "autoplay": False,
        "start": 0.0,
        "end": None,
        "_commands": [],
        "_local_src": "",
    }
    spec = {"src": src, "name": videos["small"].name, "player_id": "bare-page", "options": {}}
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(PLAYER_JS, site / "player.js")
    (site / "index.html").write_text(PAGE)
    (site / "config.json").write_text(json.dumps({"state": state, "spec": spec}))
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", server, src
    httpd.shutdown()
    httpd.server_close()


def test_page_without_jupyter_plays_from_the_kernel_server(page, bare_page_server):
    page_url, server, src = bare_page_server
    opened = time.monotonic()
    page.goto(page_url + "index.html")
    assert video_src(page) == server.base_url + src
    wait_for_screenshot_frame(page, VIDEO, 0)
    record("bare page: open to first frame from the kernel server (s)", round(time.monotonic() - opened, 2))

    # Python's seek() arrives as a numbered command: the page shows that frame.
    page.evaluate("() => window.model.set('_commands', [{ seq: 1, op: 'seek', value: 7.0 }])")
    wait_for_screenshot_frame(page, VIDEO, round(7.0 * FPS))
    # And the browser reports the time back, tagged with the command it applied.
    page.wait_for_function(
        "() => { const r = window.model.get('_report'); return r && r.applied === 1 && Math.abs(r.current_time - 7.0) < 0.1; }"
    )
    assert page.evaluate("() => window.model.get('video_width')") == 640


def test_kernel_server_grants_no_cors_and_needs_its_token(page, bare_page_server):
    page_url, server, src = bare_page_server
    page.goto(page_url + "index.html")
    # Script on another origin (any web page the user visits) cannot read the bytes.
    outcome = page.evaluate(
        """async (url) => {
            try { await fetch(url); return "read"; }  // a simple GET: no preflight
            catch (error) { return "refused: " + error.name; }
        }""",
        server.base_url + src,
    )
    assert outcome.startswith("refused"), outcome

    request = urllib.request.Request(
        server.base_url + src, headers={"Origin": page_url.rstrip("/"), "Range": "bytes=0-15"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206
        assert len(response.read()) == 16
        assert not any(name.lower().startswith("access-control-") for name in response.headers), dict(
            response.headers
        )

    wrong = f"http://127.0.0.1:{server.port}/{secrets.token_hex(16)}/{src}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(wrong, timeout=10)
    refused.value.close()
    assert refused.value.code == 404


# --- the demo notebook under standalone Voilà ---------------------------------------


@pytest.fixture
def voila_demo(tmp_path):
    from jupyter_rangevideo.sample import write_sample

    folder = tmp_path / "demo"
    folder.mkdir()
    shutil.copy(Path(__file__).parents[2] / "notebooks" / "demo.ipynb", folder)
    write_sample(folder / "earth.mp4", duration=40, fps=FPS, size=(640, 360))
    process, port = start_voila("demo.ipynb", folder, tmp_path)
    yield f"http://127.0.0.1:{port}/"
    stop_process(process)


def test_demo_notebook_under_standalone_voila(page, voila_demo):
    """`voila notebooks/demo.ipynb`: both players play what the demo's cells asked for."""
    page.goto(voila_demo)
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 2", arg=VIDEO, timeout=90_000)
    players = page.locator(VIDEO)

    def frame(nth: int) -> int | None:
        # The native control bar covers the frame-index strip; a person sees the picture above it.
        page.eval_on_selector_all(VIDEO, "videos => videos.forEach(v => { v.controls = false; })")
        try:
            return read_frame_index_from_png(players.nth(nth).screenshot(timeout=5000))
        except PlaywrightError:  # the player was re-rendered meanwhile
            return None

    # p.seek(30), then play at 2x and pause: about frame 750. The clip loops within 10-14 s.
    expected = [(30 * FPS - 1, 32 * FPS), (10 * FPS - 1, 14 * FPS + 1)]
    deadline = time.monotonic() + 90
    seen = []
    while time.monotonic() < deadline:
        seen = [frame(0), frame(1)]
        if all(f is not None and low <= f <= high for f, (low, high) in zip(seen, expected)):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"frames shown: {seen}")
    assert "FileNotFoundError" in page.inner_text("body")  # the demo's bad path is a Python error

"""Real JupyterLab and Notebook 7 servers, driven by Debian's Chromium through Playwright.

The videos lie outside the servers' root; frames are checked from canvas pixels with the
frame index that the sample generator draws into every frame.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import os
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers import answers, free_port, jupyter_command, jupyter_env, start_process, stop_process

from jupyter_rangevideo.pattern import read_frame_index
from jupyter_rangevideo.sample import make_large, write_sample

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
FPS = 25
RESULTS = Path(__file__).parent / ".results"


@dataclass
class Server:
    kind: str  # "lab" or "notebook"
    url: str  # http://127.0.0.1:PORT/base/
    token: str
    root: Path
    process: subprocess.Popen

    def api(self, method, path, body=None):
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read()
        return json.loads(data) if data else None

    def notebook_url(self, name: str) -> str:
        # ?reset: JupyterLab must not restore the tabs of an earlier test's workspace.
        path = f"lab/tree/{name}?reset&" if self.kind == "lab" else f"notebooks/{name}?"
        return f"{self.url}{path}token={self.token}"

    def shut_down_kernels(self, notebook: str = "") -> None:
        """End the kernel sessions of notebooks whose path ends with ``notebook`` (all by default)."""
        for session in self.api("GET", "api/sessions"):
            if session["path"].endswith(notebook):
                self.api("DELETE", f"api/sessions/{session['id']}")

    def stop(self) -> None:
        stop_process(self.process)


def start_server(kind: str, tmp: Path) -> Server:
    """JupyterLab ("lab") or Notebook 7 ("notebook") under a base_url, its files in ``tmp``:
    KIND-root (the server's root), KIND-runtime, KIND-config, KIND.log."""
    port, token = free_port(), secrets.token_hex(16)
    root = tmp / f"{kind}-root"
    root.mkdir()
    base = f"/user/tester-{kind}/"
    app = "jupyterlab" if kind == "lab" else "notebook"
    app_class = "LabApp" if kind == "lab" else "JupyterNotebookApp"
    cmd = jupyter_command(
        app,
        port,
        token,
        base,
        f"--ServerApp.root_dir={root}",
        f"--{app_class}.expose_app_in_browser=True",
        "--LabApp.workspaces_dir=" + str(tmp / f"{kind}-ws"),
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    )
    url = f"http://127.0.0.1:{port}{base}"
    ready = functools.partial(answers, f"{url}api/status?token={token}")
    process = start_process(
        cmd, ready, log=tmp / f"{kind}.log", env=jupyter_env(tmp, f"{kind}-"), cwd=root, timeout=90
    )
    return Server(kind, url, token, root, process)


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """Playwright's sync API runs its own event loop: pytest-jupyter's must not be the current one."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    """These tests start servers as processes; there is no in-process ServerApp to clean up."""
    yield


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, driven through Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser, timeout: float = 30, **options):
    """A page in a fresh browser context (no cookies or cache from other pages), closed after;
    ``options`` go to Playwright's ``browser.new_context``."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    try:
        page = context.new_page()
        page.set_default_timeout(timeout * 1000)
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: the test command installs Debian's chromium (apt-get install chromium)"
        )
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("servers")
    started = {}
    try:
        yield lambda kind: started.get(kind) or started.setdefault(kind, start_server(kind, tmp))
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(params=["lab", "notebook"])
def server(request, servers):
    return servers(request.param)


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    """Videos outside every server's root: small (about 10 MB), large (1 GiB), unplayable."""
    folder = tmp_path_factory.mktemp("videos-outside-root")
    small = write_sample(folder / "small.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
    segment = write_sample(folder / "segment.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
    large = make_large(segment, folder / "large.mp4", 2**30)
    unplayable = folder / "mpeg4-part2.mkv"
    _write_unplayable(unplayable)
    return {"small": small, "large": large, "unplayable": unplayable}


def _write_unplayable(path: Path) -> None:
    """MPEG-4 Part 2 video in Matroska: decodable by FFmpeg, refused by Chromium."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for index in range(FPS):
            frame = av.VideoFrame.from_ndarray(
                np.full((240, 320, 3), index * 8, dtype=np.uint8), format="rgb24"
            )
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@pytest.fixture
def page(browser):
    with new_page(browser) as page:
        yield page


# --- driving a notebook -------------------------------------------------------------


def notebook_json(cells: list[str]) -> dict:
    """An nbformat 4 notebook of code cells, not yet run, with the python3 kernel."""
    return {
        "cells": [
            {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
            for source in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def create_notebook(server: Server, name: str, cells: list[str]) -> None:
    content = notebook_json(cells)
    server.api("PUT", f"api/contents/{name}", {"type": "notebook", "format": "json", "content": content})


def open_notebook(page, server: Server, name: str) -> None:
    page.goto(server.notebook_url(name))
    wait_for_notebook(page, name)


def wait_for_notebook(page, name: str, kernel: bool = True) -> None:
    page.wait_for_function(
        """([name, kernel]) => {
            const panel = window.jupyterapp?.shell?.currentWidget;
            if (panel?.context?.path !== name || !(panel?.content?.widgets?.length > 0)) return false;
            const k = panel.sessionContext?.session?.kernel;
            return !kernel || (k?.connectionStatus === 'connected' && k?.status === 'idle');
        }""",
        arg=[name, kernel],
        timeout=60_000,
    )


def run_all_cells(page) -> float:
    """Run every cell; return the page's clock (ms) when the command was issued."""
    return page.evaluate(
        """async () => {
            const started = performance.now();
            await window.jupyterapp.commands.execute('notebook:run-all-cells');
            return started;
        }"""
    )


def kernel_eval(page, code: str) -> str:
    """Run ``code`` in the notebook's kernel (not as a cell) and return what it printed."""
    return page.evaluate(
        """async (code) => {
            const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            const future = kernel.requestExecute({ code, store_history: false });
            let out = '';
            future.onIOPub = (msg) => {
                if (msg.header.msg_type === 'stream') out += msg.content.text;
                if (msg.header.msg_type === 'error') out += `${msg.content.ename}: ${msg.content.evalue}`;
            };
            const late = new Promise((_, reject) =>
                setTimeout(() => reject(new Error(`no reply from the kernel in 60 s to: ${code}`)), 60000));
            await Promise.race([future.done, late]);
            return out;
        }""",
        code,
    )


def kernel_value(page, expr: str):
    return json.loads(kernel_eval(page, f"import json; print(json.dumps({expr}))"))


def wait_for_kernel(page, expr: str, expected, timeout: float = 20):
    """Poll ``expr`` in the kernel until its value equals ``expected`` or, if ``expected`` is
    a function, until ``expected(value)`` holds; return the value."""
    check = expected if callable(expected) else lambda value: value == expected
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = kernel_value(page, expr)
        if check(value):
            return value
        time.sleep(0.2)
    wanted = "" if callable(expected) else f", expected {expected!r}"
    raise AssertionError(f"{expr} is still {value!r}{wanted}")


def save_notebook(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")


VIDEO = "video.jp-RangeVideo-video"


def frame_index(page, selector: str = VIDEO, nth: int = 0) -> int | None:
    """The frame index a person sees in the video now, decoded from canvas pixels."""
    result = page.evaluate(
        """([selector, nth]) => {
            const video = document.querySelectorAll(selector)[nth];
            if (!video || video.readyState < 2) return null;
            const canvas = document.createElement('canvas');
            canvas.width = 320; canvas.height = 180;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
            const bytes = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let binary = '';
            for (let i = 0; i < bytes.length; i += 0x8000) {
                binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
            }
            return btoa(binary);
        }""",
        [selector, nth],
    )
    return None if result is None else read_frame_index_from_rgba(result, 320, 180)


def read_frame_index_from_rgba(pixels: str, width: int, height: int) -> int | None:
    """The frame index in a canvas's RGBA pixels, as the page sends them: base64."""
    rgba = np.frombuffer(base64.b64decode(pixels), dtype=np.uint8).reshape(height, width, 4)
    return read_frame_index(rgba[:, :, :3])


def frame_in_screenshot(page, selector: str) -> int | None:
    """The frame index in a screenshot of the element: what a person sees, also where a
    canvas cannot read the pixels (a video from another origin or from file://)."""
    element = page.locator(selector).first
    if not element.is_visible():
        return None
    return read_frame_index_from_png(element.screenshot(animations="disabled"))


def read_frame_index_from_png(png: bytes) -> int | None:
    import io

    from PIL import Image

    return read_frame_index(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))


def wait_for_screenshot_frame(
    page, selector: str, expected: int, tolerance: int = 1, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = frame_in_screenshot(page, selector)
        if seen is not None and abs(seen - expected) <= tolerance:
            return
        time.sleep(0.1)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "failed-screenshot-frame.png"))
    raise AssertionError(f"expected frame {expected}±{tolerance} in {selector}, the page shows {seen}")


def wait_for_frame(
    page,
    expected: int,
    tolerance: int = 1,
    timeout: float = 30,
    nth: int = 0,
    selector: str = VIDEO,
    interval: float = 0.05,
) -> float:
    """Wait until the video shows frame ``expected`` (±tolerance); return when, on the page's clock."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = frame_index(page, selector, nth)
        if seen is not None and abs(seen - expected) <= tolerance:
            return page.evaluate("() => performance.now()")
        time.sleep(interval)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "failed-frame.png"))
    raise AssertionError(f"expected frame {expected}±{tolerance} in {selector}, the page shows {seen}")


def seek_in_page(page, seconds: float, nth: int = 0, selector: str = VIDEO) -> float:
    """Set the video's currentTime as a person's seek would; return when, on the page's clock."""
    return page.evaluate(
        """([selector, t, nth]) => {
            const video = document.querySelectorAll(selector)[nth];
            video.currentTime = t;
            return performance.now();
        }""",
        [selector, seconds, nth],
    )


def record(name: str, value) -> None:
    """Keep a measured figure in tests/browser/.results/figures.json and print it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "figures.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[name] = value
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))
    print(f"\n{name}: {value}")

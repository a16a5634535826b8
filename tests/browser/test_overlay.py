"""Overlays, timeline markers and synced grids in JupyterLab, checked from pixels."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from conftest import (
    VIDEO,
    create_notebook,
    frame_index,
    kernel_value,
    open_notebook,
    record,
    run_all_cells,
    save_notebook,
    wait_for_frame,
    wait_for_notebook,
)

from jupyter_rangevideo.sample import write_sample

FPS = 25
MAGENTA = "#ff00ff"
CANVAS = "canvas.jp-RangeVideo-overlay"


@pytest.fixture(scope="module")
def lab(servers):
    return servers("lab")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """4 s, 320x240: the test pattern never reaches pure magenta (its channels stay in 20..200)."""
    return write_sample(tmp_path_factory.mktemp("overlay") / "clip.mp4", duration=4, fps=FPS, size=(320, 240),
                        noise=False)


def pixels(page, selector=VIDEO) -> np.ndarray:
    from PIL import Image

    png = page.locator(selector).first.screenshot(animations="disabled")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def is_magenta(rgb) -> bool:
    r, g, b = (int(v) for v in rgb)
    return r > 225 and g < 40 and b > 225


def overlay_frame(page) -> int | None:
    value = page.evaluate("(s) => document.querySelector(s)?.dataset.frame ?? null", CANVAS)
    return None if value is None else int(value)


def show_frame(page, frame: int) -> None:
    """Seek from Python to the middle of ``frame`` and wait until both the video and the overlay show it."""
    kernel_value(page, f"p.seek({(frame + 0.5) / FPS})")
    wait_for_frame(page, frame, tolerance=0)
    deadline = time.monotonic() + 10
    while overlay_frame(page) != frame:
        assert time.monotonic() < deadline, f"overlay shows frame {overlay_frame(page)}, not {frame}"
        time.sleep(0.05)
    time.sleep(0.2)  # let the canvas reach the screen


# A box on frame 50 only, another on frame 52 elsewhere: source-video pixels of a 320x240 video.
BOXES = [
    {"frame": 50, "kind": "box", "x": 40, "y": 40, "w": 100, "h": 80, "color": MAGENTA, "width": 10},
    {"frame": 52, "kind": "box", "x": 180, "y": 100, "w": 100, "h": 80, "color": MAGENTA, "width": 10},
]


def overlay_cells(clip, width, height):
    return [
        (
            "import jupyter_rangevideo as rangevideo\n"
            f"p = rangevideo.show({str(clip)!r}, controls=False, width={width}, height={height})"
        ),
        f"layer = p.overlay({json.dumps(BOXES)}, name='boxes')\np.markers(frames=[75], labels=['three seconds'])",
    ]


def test_overlay_on_its_frame_scaled_and_after_reopening(page, lab, clip):
    name = "overlay.ipynb"
    create_notebook(lab, name, overlay_cells(clip, 640, 480))
    open_notebook(page, lab, name)
    run_all_cells(page)
    wait_for_frame(page, 0)

    # 640x480 element, scale 2: frame 50's box has its left edge at x=80, its middle at y=160.
    show_frame(page, 50)
    shot = pixels(page)
    assert is_magenta(shot[160, 80]), shot[160, 80]
    assert not is_magenta(shot[280, 360])  # where frame 52's box would be
    show_frame(page, 51)
    assert not is_magenta(pixels(page)[160, 80])  # no mark on frame 51
    show_frame(page, 52)
    shot = pixels(page)
    assert is_magenta(shot[280, 360]) and not is_magenta(shot[160, 80])

    # Resized to 640x240: the 4:3 picture is letterboxed to 320x240 at x=160, scale 1.
    kernel_value(page, "setattr(p, 'height', 240)")
    page.wait_for_function("(s) => document.querySelector(s).clientHeight === 240", arg=VIDEO)
    show_frame(page, 50)
    shot = pixels(page)
    assert abs(shot.shape[0] - 240) <= 1 and abs(shot.shape[1] - 640) <= 1, shot.shape
    assert is_magenta(shot[80, 200]), shot[80, 200]  # x = 160 + 40, y = 40 + 80 / 2
    assert not is_magenta(shot[80, 120])  # the letterbox stays clear

    # Hidden, then shown again from Python.
    kernel_value(page, "setattr(layer, 'visible', False)")
    page.wait_for_timeout(500)
    assert not is_magenta(pixels(page)[80, 200])
    kernel_value(page, "setattr(layer, 'visible', True)")
    page.wait_for_timeout(500)
    assert is_magenta(pixels(page)[80, 200])

    # A marker click seeks to its frame; Python follows.
    page.locator(".jp-RangeVideo-tick").first.click()
    wait_for_frame(page, 75, tolerance=0)
    deadline = time.monotonic() + 10
    while abs(kernel_value(page, "p.current_time") - 75.5 / FPS) > 0.02:
        assert time.monotonic() < deadline
        time.sleep(0.2)

    # Saved, kernel gone, reopened: the overlay is drawn from the saved output alone.
    save_notebook(page)
    saved = lab.api("GET", f"api/contents/{name}?type=file&format=text")["content"]
    record("lab: saved notebook with a 2-box overlay and a marker (bytes)", len(saved.encode()))
    for session in lab.api("GET", "api/sessions"):
        if session["path"].endswith(name):
            lab.api("DELETE", f"api/sessions/{session['id']}")
    page.goto(lab.notebook_url(name))
    wait_for_notebook(page, name, kernel=False)
    wait_for_frame(page, 0)
    page.evaluate("([s, t]) => { document.querySelector(s).currentTime = t; }", [VIDEO, 50.5 / FPS])
    wait_for_frame(page, 50, tolerance=0)
    page.wait_for_function("(s) => document.querySelector(s)?.dataset.frame === '50'", arg=CANVAS)
    page.wait_for_timeout(200)
    assert is_magenta(pixels(page)[80, 200])
    assert page.locator(".jp-RangeVideo-tick").count() == 1
    assert frame_index(page) == 50

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
    return write_sample(
        tmp_path_factory.mktemp("overlay") / "clip.mp4", duration=4, fps=FPS, size=(320, 240), noise=False
    )


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


# Counts the reads of an element's size or place made by the player's code (its bundle's URL
# names the extension). Each one forces a layout of the whole page if anything changed since the
# last: on a seek or a presented frame, that delays the frame.
WATCH_LAYOUT_READS = """() => {
    window.layoutReads = [];
    const mine = () => /rangevideo/i.test(new Error().stack);
    const watch = (proto, name) => {
        const native = Object.getOwnPropertyDescriptor(proto, name);
        Object.defineProperty(proto, name, { configurable: true, get() {
            if (mine()) window.layoutReads.push(name);
            return native.get.call(this);
        } });
    };
    for (const name of ["offsetLeft", "offsetTop", "offsetWidth", "offsetHeight"]) watch(HTMLElement.prototype, name);
    for (const name of ["clientWidth", "clientHeight"]) watch(Element.prototype, name);
    const rect = Element.prototype.getBoundingClientRect;
    Element.prototype.getBoundingClientRect = function () {
        if (mine()) window.layoutReads.push("getBoundingClientRect");
        return rect.call(this);
    };
    const style = window.getComputedStyle;
    window.getComputedStyle = function (...args) {
        if (mine()) window.layoutReads.push("getComputedStyle");
        return style.apply(this, args);
    };
}"""


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


@pytest.fixture(params=["lab", "notebook"])
def host(request, servers):
    return servers(request.param)


def test_overlay_on_its_frame_scaled_and_after_reopening(page, host, clip):
    lab = host  # JupyterLab or Notebook 7
    name = "overlay.ipynb"
    create_notebook(lab, name, overlay_cells(clip, 640, 480))
    open_notebook(page, lab, name)
    run_all_cells(page)
    wait_for_frame(page, 0)

    # 640x480 element, scale 2: frame 50's box has its left edge at x=80, its middle at y=160.
    page.evaluate(WATCH_LAYOUT_READS)
    show_frame(page, 50)
    shot = pixels(page)
    assert is_magenta(shot[160, 80]), shot[160, 80]
    assert not is_magenta(shot[280, 360])  # where frame 52's box would be
    show_frame(page, 51)
    assert not is_magenta(pixels(page)[160, 80])  # no mark on frame 51
    show_frame(page, 52)
    shot = pixels(page)
    assert is_magenta(shot[280, 360]) and not is_magenta(shot[160, 80])
    # Seeking and drawing the overlay, the markers' playhead and the frame label read no layout.
    assert page.evaluate("() => window.layoutReads") == []

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

    # Full screen takes the whole player (video, overlay, bar): the box scales with the picture.
    page.locator(".jp-RangeVideo-fullscreen").click()
    page.wait_for_function("() => document.fullscreenElement?.classList.contains('jp-RangeVideo')")
    page.wait_for_function("(s) => document.querySelector(s).clientWidth === window.innerWidth", arg=VIDEO)
    page.wait_for_timeout(500)
    box = page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect(); "
        "return [r.x, r.y, r.width, r.height]; }",
        VIDEO,
    )
    scale = min(box[2] / 320, box[3] / 240)
    left = box[0] + (box[2] - 320 * scale) / 2 + 40 * scale  # frame 50's box: left edge, middle
    middle = box[1] + (box[3] - 240 * scale) / 2 + 80 * scale
    from PIL import Image

    screen = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)
    assert is_magenta(screen[round(middle), round(left)]), (screen[round(middle), round(left)], box)
    assert not is_magenta(screen[round(middle), round(left - 20 * scale)])
    page.evaluate("() => document.exitFullscreen()")
    page.wait_for_function("() => !document.fullscreenElement")

    # A marker click seeks to its frame; Python follows.
    page.locator(".jp-RangeVideo-tick").first.click()
    wait_for_frame(page, 75, tolerance=0)
    deadline = time.monotonic() + 10
    while kernel_value(page, "p.frame") != 75:
        assert time.monotonic() < deadline, (
            f"Python's frame is {kernel_value(page, 'p.frame')}, the page shows 75"
        )
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


def frames_of_all(page, count: int) -> list[int | None]:
    """The frame index each of the first ``count`` videos shows, read in one go (one task).

    Read through wait_for_function, whose timeout Playwright enforces from outside the page:
    a page that stops answering fails the test instead of hanging it."""
    images = page.wait_for_function(
        """([selector, count]) => {
            const canvas = document.createElement('canvas');
            canvas.width = 160; canvas.height = 120;
            const ctx = canvas.getContext('2d', { willReadFrequently: true });
            const videos = [...document.querySelectorAll(selector)].slice(0, count);
            const grabbed = videos.map((video) => {
                if (video.readyState < 2) return null;
                ctx.drawImage(video, 0, 0, 160, 120);
                return ctx.getImageData(0, 0, 160, 120).data.slice();
            });
            return grabbed.map((bytes) => {
                if (!bytes) return null;
                let binary = '';
                for (let i = 0; i < bytes.length; i += 0x8000) {
                    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
                }
                return btoa(binary);
            });
        }""",
        arg=[VIDEO, count],
        timeout=15_000,
    ).json_value()
    import base64

    from jupyter_rangevideo.pattern import read_frame_index

    return [
        None
        if image is None
        else read_frame_index(np.frombuffer(base64.b64decode(image), np.uint8).reshape(120, 160, 4)[:, :, :3])
        for image in images
    ]


def wait_all(page, count: int, expected: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = frames_of_all(page, count)
        if seen == [expected] * count:
            return
        time.sleep(0.1)
    raise AssertionError(f"expected frame {expected} in all {count} players, they show {seen}")


@pytest.fixture(scope="module")
def renditions(tmp_path_factory):
    """Two renditions of one 74 s recording (room for 60 s of playback from 10 s): 160x120 and 320x240, H.264."""
    folder = tmp_path_factory.mktemp("grid")
    small = write_sample(folder / "small.mp4", duration=74, fps=FPS, size=(160, 120), noise=False)
    large = write_sample(folder / "large.mp4", duration=74, fps=FPS, size=(320, 240), noise=False)
    return small, large


def test_grid_moves_together_and_stays_in_step(page, lab, renditions):
    small, large = renditions
    name = "grid.ipynb"
    sources = [str(small), str(large), str(small), str(large)]
    cell = f"import jupyter_rangevideo as rangevideo\ng = rangevideo.grid({sources!r}, columns=2, muted=True, controls=False)"
    create_notebook(lab, name, [cell])
    open_notebook(page, lab, name)
    run_all_cells(page)
    page.locator(VIDEO).nth(3).wait_for()
    wait_all(page, 4, 0)

    kernel_value(page, "setattr(g, 'frame', 50)")
    wait_all(page, 4, 50)
    kernel_value(page, "g.step(3)")
    wait_all(page, 4, 53)
    kernel_value(page, "g.step(-2)")
    wait_all(page, 4, 51)
    kernel_value(page, "g.seek(10.02)")
    wait_all(page, 4, 250)

    # A minute of playback: every half second, the frames the four players show.
    kernel_value(page, "g.play()")
    page.wait_for_function("(s) => [...document.querySelectorAll(s)].every((v) => !v.paused)", arg=VIDEO)
    started = time.monotonic()
    spreads, frames, times = [], [], []
    while time.monotonic() - started < 60:
        seen = frames_of_all(page, 4)
        if None not in seen:
            frames.append(seen)
            spreads.append(max(seen) - min(seen))
            times.append(time.monotonic() - started)
        time.sleep(0.4)
    stats = page.evaluate("() => document.querySelector('.jp-RangeVideo-grid').__rangevideoGrid")
    settled = [spread for spread, at in zip(spreads, times) if at >= 2]  # the followers have joined
    figures = {
        "samples": len(spreads),
        "max spread (frames)": max(spreads),
        "max spread after 2 s (frames)": max(settled),
        "samples within 1 frame after 2 s (%)": round(100 * sum(s <= 1 for s in settled) / len(settled), 1),
        "mean spread after 2 s (frames)": round(sum(settled) / len(settled), 3),
        "played frames": frames[-1][0] - frames[0][0],
        "corrections": stats,
        "spreads": "".join(str(min(s, 9)) for s in spreads),
    }
    record("lab: 4-player grid drift over 60 s of playback", figures)
    assert figures["played frames"] > 50 * FPS  # it really played
    # On this shared 2-core machine a follower's decoder sometimes falls behind for a moment
    # (see README); left uncorrected, the same players sit about 5 frames apart.
    assert figures["samples within 1 frame after 2 s (%)"] >= 70
    assert sorted(settled)[len(settled) // 2] <= 1 and figures["mean spread after 2 s (frames)"] <= 1.5

    kernel_value(page, "g.pause()")
    page.wait_for_function("(s) => [...document.querySelectorAll(s)].every((v) => v.paused)", arg=VIDEO)
    deadline = time.monotonic() + 10
    while len(set(seen := frames_of_all(page, 4))) != 1:
        assert time.monotonic() < deadline, f"paused players show {seen}"
        time.sleep(0.1)


def test_grid_commands_in_notebook7(page, servers, renditions):
    """The grid's frame, step and seek reach every player in Notebook 7 too (playback drift is
    measured in JupyterLab above)."""
    server = servers("notebook")
    small, large = renditions
    cell = (
        "import jupyter_rangevideo as rangevideo\n"
        f"g = rangevideo.grid({[str(small), str(large)]!r}, columns=2, muted=True, controls=False)"
    )
    create_notebook(server, "grid7.ipynb", [cell])
    open_notebook(page, server, "grid7.ipynb")
    run_all_cells(page)
    page.locator(VIDEO).nth(1).wait_for()
    wait_all(page, 2, 0)
    kernel_value(page, "setattr(g, 'frame', 50)")
    wait_all(page, 2, 50)
    kernel_value(page, "g.step(-2)")
    wait_all(page, 2, 48)
    kernel_value(page, "g.seek(10.02)")
    wait_all(page, 2, 250)

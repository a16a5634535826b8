"""Timeline strips in a real browser: placed under the picture across its width, clicks and
drags that seek to the frame under the pointer (read back from the picture's pixels), zoom,
the cursor on the presented frame, ethogram colours, label_events keys, a grid's strip,
and the strips after save and reopen; playback's dropped frames with and without strips."""

from __future__ import annotations

import io
import json

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
    wait_for_kernel,
    wait_for_notebook,
)

from jupyter_rangevideo.sample import write_sample

FPS = 25
SECONDS = 8  # 200 frames
STRIP = ".jp-RangeVideo-strip"
GREEN, BLUE, ORANGE = "#00ff00", "#0000ff", "#ff8000"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_sample(
        tmp_path_factory.mktemp("timeline") / "clip.mp4",
        duration=SECONDS,
        fps=FPS,
        size=(320, 240),
        noise=False,
    )


@pytest.fixture(params=["lab", "notebook"])
def host(request, servers):
    return servers(request.param)


def strip_cells(clip):
    return [
        (
            "import numpy as np, pandas as pd\n"
            "import jupyter_rangevideo as rangevideo\n"
            f"p = rangevideo.show({str(clip)!r}, controls=False, width=640)"
        ),
        (
            "t = np.linspace(0, 8, 2001)\n"
            "speed = p.timeline(pd.DataFrame({'time': t, 'speed': np.abs(np.sin(t))}), name='speed')\n"
            "etho = pd.DataFrame({'start': [1.0, 4.0], 'end': [3.0, 6.0], 'label': ['grooming', 'rearing']})\n"
            f"ethogram = p.timeline(etho, kind='events', name='ethogram', colors={{'grooming': {GREEN!r}, 'rearing': {BLUE!r}}})\n"
            f"p.label_events({{'g': 'grooming', 'r': 'rearing'}}, colors=[{ORANGE!r}, {BLUE!r}])"
        ),
    ]


def rect(page, selector, nth=0):
    return page.evaluate(
        "([s, n]) => { const r = document.querySelectorAll(s)[n].getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; }",
        [selector, nth],
    )


def strip_rect(page, name):
    return rect(page, f'{STRIP}[data-name="{name}"]')


def screenshot(page, selector) -> np.ndarray:
    from PIL import Image

    png = page.locator(selector).first.screenshot(animations="disabled")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def near(rgb, hex_color, tolerance=40) -> bool:
    want = [int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]
    return all(abs(int(a) - b) <= tolerance for a, b in zip(rgb, want))


def expected_frame(x, width, view=(0, SECONDS)):
    seconds = view[0] + x / width * (view[1] - view[0])
    return int(seconds * FPS + 1e-4)


def click_strip(page, name, x):
    box = strip_rect(page, name)
    page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)


def wait_frame_everywhere(page, frame):
    """The picture shows ``frame`` and the kernel says so too."""
    wait_for_frame(page, frame, tolerance=0)
    wait_for_kernel(page, "p.frame", frame)


def test_strips_seek_zoom_cursor_colours_labels_and_reopen(page, host, clip):
    name = "timeline.ipynb"
    create_notebook(host, name, strip_cells(clip))
    open_notebook(page, host, name)
    run_all_cells(page)
    wait_for_frame(page, 0)
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 3", arg=STRIP)

    # Under the video, across its displayed width: the DOM's boxes and a screenshot agree.
    video = rect(page, VIDEO)
    for strip in ("speed", "ethogram", "events"):
        box = strip_rect(page, strip)
        assert abs(box["x"] - video["x"]) <= 0.5 and abs(box["width"] - video["width"]) <= 0.5, (
            strip,
            box,
            video,
        )
        assert box["y"] >= video["y"] + video["height"] - 0.5
    assert abs(video["width"] - 640) <= 0.5
    width = strip_rect(page, "speed")["width"]
    shot = screenshot(page, f'{STRIP}[data-name="ethogram"]')
    assert abs(shot.shape[1] - width) <= 1
    # The ethogram's bars: grooming 1-3 s green, rearing 4-6 s blue, nothing at 0.5 s and 7 s.
    row = shot[shot.shape[0] // 2 + 6]
    for seconds, color in ((2.0, GREEN), (1.1, GREEN), (2.9, GREEN), (5.0, BLUE), (4.1, BLUE)):
        x = round(seconds / SECONDS * (shot.shape[1]))
        assert near(row[x], color), (seconds, row[x])
    for seconds in (0.5, 3.2, 6.5):
        x = round(seconds / SECONDS * shot.shape[1])
        assert not near(row[x], GREEN) and not near(row[x], BLUE), (seconds, row[x])
    # The first colored column is where 1 s is: the bar starts at the right x.
    columns = [x for x in range(shot.shape[1]) if near(row[x], GREEN)]
    assert abs(columns[0] - 1.0 / SECONDS * shot.shape[1]) <= 1.5, columns[:3]
    assert abs(columns[-1] - 3.0 / SECONDS * shot.shape[1]) <= 1.5, columns[-3:]

    # Clicks at known x seek to the frame there, as the picture shows and the kernel says.
    errors = []
    for strip, x in (("speed", 200.0), ("ethogram", 456.0), ("events", 33.0), ("speed", 637.5)):
        frame = expected_frame(x, width)
        click_strip(page, strip, x)
        wait_frame_everywhere(page, frame)
        errors.append(abs(frame_index(page) - frame))
    record("timeline: click-to-frame error, frames (4 clicks)", max(errors))

    # A drag seeks on the way and ends on the frame under the pointer.
    box = strip_rect(page, "speed")
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 100, y)
    page.mouse.down()
    for x in (150, 250, 350):
        page.mouse.move(box["x"] + x, y, steps=3)
    page.mouse.up()
    wait_frame_everywhere(page, expected_frame(350, width))

    # The cursor sits at the presented frame's time, in every strip.
    for frame in (25, 137):
        kernel_value(page, f"setattr(p, 'frame', {frame})")
        wait_for_frame(page, frame, tolerance=0)
        want = frame / FPS / SECONDS * width
        page.wait_for_function(
            "([s, want]) => [...document.querySelectorAll(s)].every((strip) => {"
            " const c = strip.querySelector('.jp-RangeVideo-cursor').getBoundingClientRect();"
            " const r = strip.getBoundingClientRect();"
            " return Math.abs(c.x + c.width / 2 - r.x - want) <= 1.5; })",
            arg=[f"{STRIP}", want],
            timeout=5000,
        )

    # Wheel zooms about the pointer; a click then seeks within the zoomed view; double-click resets.
    box = strip_rect(page, "speed")
    page.mouse.move(box["x"] + 320, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        "(s) => Number(document.querySelector(s).dataset.viewEnd) < 8", arg=f"{STRIP}[data-name='speed']"
    )
    view = page.evaluate(
        "(s) => { const d = document.querySelector(s).dataset; return [Number(d.viewStart), Number(d.viewEnd)]; }",
        f"{STRIP}[data-name='speed']",
    )
    assert view[0] < 4 < view[1] and view[1] - view[0] < 8
    assert abs((view[0] + view[1]) / 2 - 4) < 0.01  # zoomed about the middle, where the pointer is
    # every strip shares the zoomed view
    ends = page.evaluate(
        "(s) => [...document.querySelectorAll(s)].map((e) => Number(e.dataset.viewEnd))", STRIP
    )
    assert ends == [view[1]] * 3
    x = 100.0
    click_strip(page, "speed", x)
    zoomed = int((view[0] + x / width * (view[1] - view[0])) * FPS + 1e-4)
    wait_frame_everywhere(page, zoomed)
    page.mouse.dblclick(box["x"] + 10, box["y"] + 5)
    page.wait_for_function(
        "(s) => document.querySelector(s).dataset.viewStart === '0' && document.querySelector(s).dataset.viewEnd === '8'",
        arg=f"{STRIP}[data-name='speed']",
    )
    # Shift-drag zooms to the dragged range.
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + 160, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 320, box["y"] + 5, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    view = page.evaluate(
        "(s) => { const d = document.querySelector(s).dataset; return [Number(d.viewStart), Number(d.viewEnd)]; }",
        f"{STRIP}[data-name='speed']",
    )
    assert view == pytest.approx([2.0, 4.0], abs=0.02)
    page.mouse.dblclick(box["x"] + 10, box["y"] + 5)

    # label_events: g at frame 50 starts grooming, g at 80 ends it; r at 120 leaves rearing open.
    player = page.locator(".jp-RangeVideo").first
    for frame, key in ((50, "g"), (80, "g"), (120, "r")):
        kernel_value(page, f"setattr(p, 'frame', {frame})")
        wait_for_frame(page, frame, tolerance=0)
        wait_for_kernel(page, "p.frame", frame)
        player.focus()
        page.keyboard.press(key)
    rows = wait_for_kernel(
        page,
        "[[int(a), None if pd.isna(b) else int(b), c] for a, b, c in p.events.itertuples(index=False)]",
        [[50, 80, "grooming"], [120, None, "rearing"]],
    )
    assert rows
    # The player's own keys still work: '.' steps one frame, not a label.
    page.keyboard.press(".")
    wait_for_frame(page, 121, tolerance=0)
    page.keyboard.press("r")
    wait_for_kernel(page, "p.events['end_frame'].tolist()[-1]", 121)
    # Drawn on the events strip: orange over grooming's frames.
    page.wait_for_timeout(300)
    shot = screenshot(page, f'{STRIP}[data-name="events"]')
    row = shot[shot.shape[0] // 2 + 6]
    assert near(row[round(65 / FPS / SECONDS * shot.shape[1])], ORANGE), row[
        round(65 / FPS / SECONDS * shot.shape[1])
    ]
    assert not near(row[round(40 / FPS / SECONDS * shot.shape[1])], ORANGE)

    # Letterboxed (640x240 element, the 4:3 picture 320 px wide in its middle): the strips
    # span the picture, and a click still seeks to the frame under the pointer.
    kernel_value(page, "setattr(p, 'height', 240)")
    page.wait_for_function("(s) => document.querySelector(s).clientHeight === 240", arg=VIDEO)
    video = rect(page, VIDEO)
    page.wait_for_function(
        "([s, x]) => Math.abs(document.querySelector(s).getBoundingClientRect().x - x) <= 0.5",
        arg=[f'{STRIP}[data-name="speed"]', video["x"] + 160],
    )
    box = strip_rect(page, "speed")
    assert abs(box["width"] - 320) <= 0.5, box
    click_strip(page, "speed", 100.0)
    wait_frame_everywhere(page, expected_frame(100.0, 320))
    kernel_value(page, "setattr(p, 'height', 'auto')")
    page.wait_for_function("(s) => document.querySelector(s).clientHeight === 480", arg=VIDEO)

    # Saved, kernel gone, reopened: the strips and the labelled events come back, and seek.
    page.wait_for_timeout(500)  # the kernel's update of the saved output
    save_notebook(page)
    saved = json.loads(host.api("GET", f"api/contents/{name}?type=file&format=text")["content"])
    host.shut_down_kernels(name)
    page.goto(host.notebook_url(name))
    wait_for_notebook(page, name, kernel=False)
    wait_for_frame(page, 0)
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 3", arg=STRIP)
    shot = screenshot(page, f'{STRIP}[data-name="events"]')
    row = shot[shot.shape[0] // 2 + 6]
    assert near(row[round(65 / FPS / SECONDS * shot.shape[1])], ORANGE), (
        row[round(65 / FPS / SECONDS * shot.shape[1])],
        saved["cells"][0]["outputs"][0]["data"].keys(),
    )
    width = strip_rect(page, "speed")["width"]
    click_strip(page, "ethogram", 300.0)
    wait_for_frame(page, expected_frame(300.0, width), tolerance=0)


def test_one_strip_under_a_grid_drives_every_player(page, servers, clip, tmp_path):
    lab = servers("lab")
    other = tmp_path / "other.mp4"
    write_sample(other, duration=SECONDS, fps=FPS, size=(160, 120), noise=False)
    name = "grid-timeline.ipynb"
    create_notebook(
        lab,
        name,
        [
            (
                "import jupyter_rangevideo as rangevideo\n"
                f"g = rangevideo.grid([{str(clip)!r}, {str(other)!r}], columns=2, controls=False)\n"
                "strip = g.timeline({'time': [0, 4, 8], 'v': [0, 1, 0]}, name='grid')"
            ),
        ],
    )
    open_notebook(page, lab, name)
    run_all_cells(page)
    wait_for_frame(page, 0, nth=0)
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 1", arg=STRIP)
    grid = rect(page, ".jp-RangeVideo-grid")
    box = strip_rect(page, "grid")
    assert abs(box["width"] - grid["width"]) <= 0.5 and abs(box["x"] - grid["x"]) <= 0.5
    for x in (0.3 * box["width"], 0.71 * box["width"]):
        frame = expected_frame(x, box["width"])
        page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
        wait_for_frame(page, frame, tolerance=0, nth=0)
        wait_for_frame(page, frame, tolerance=0, nth=1)
    frames = wait_for_kernel(page, "[q.frame for q in g.players]", lambda v: v[0] == v[1] == frame)
    assert frames


def playback_quality(page, seconds: float) -> dict:
    """Play the first video for ``seconds`` from 0.5 s; frames presented (requestVideoFrameCallback)
    and dropped (getVideoPlaybackQuality) meanwhile."""
    return page.evaluate(
        """async ([selector, seconds]) => {
            const video = document.querySelector(selector);
            video.currentTime = 0.5;
            await new Promise((r) => video.addEventListener('seeked', r, { once: true }));
            const before = video.getVideoPlaybackQuality();
            let first = null, last = null, callbacks = 0;
            const onFrame = (now, m) => { callbacks++; first ??= m.presentedFrames; last = m.presentedFrames;
                video.requestVideoFrameCallback(onFrame); };
            video.requestVideoFrameCallback(onFrame);
            await video.play();
            await new Promise((r) => setTimeout(r, seconds * 1000));
            video.pause();
            const after = video.getVideoPlaybackQuality();
            return { presented: last - first, callbacks, dropped: after.droppedVideoFrames - before.droppedVideoFrames,
                     total: after.totalVideoFrames - before.totalVideoFrames };
        }""",
        [VIDEO, seconds],
    )


def test_playback_drops_no_more_frames_with_three_strips(page, servers, clip):
    lab = servers("lab")
    name = "timeline-playback.ipynb"
    create_notebook(
        lab,
        name,
        [
            (
                "import numpy as np, jupyter_rangevideo as rangevideo\n"
                f"p = rangevideo.show({str(clip)!r}, controls=False, width=640)"
            ),
        ],
    )
    open_notebook(page, lab, name)
    run_all_cells(page)
    wait_for_frame(page, 0)
    page.locator(VIDEO).first.scroll_into_view_if_needed()
    without = playback_quality(page, 6)
    kernel_value(
        page,
        "(t := np.linspace(0, 8, 1_000_000), "
        "p.timeline({'time': t, 'a': np.sin(t * 50) + np.random.default_rng(0).normal(0, .1, t.size)}, name='million'), "
        "p.timeline({'time': t[::100], 'b': np.cos(t[::100])}, name='b'), "
        "p.timeline({'start': [1, 4], 'end': [3, 6], 'label': ['x', 'y']}, kind='events', name='c')) and None",
    )
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 3", arg=STRIP, timeout=60_000)
    draw_ms = page.evaluate(
        "(s) => Number(document.querySelector(s).dataset.drawMs)", f"{STRIP}[data-name='million']"
    )
    # A redraw of the million samples as a zoom does it, timed in the page.
    zoom_ms = page.evaluate(
        """(s) => { const strip = document.querySelector(s); const r = strip.getBoundingClientRect();
            strip.dispatchEvent(new WheelEvent('wheel', {deltaY: -100, clientX: r.x + r.width / 2, clientY: r.y + 5, bubbles: true, cancelable: true}));
            strip.dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));
            return Number(strip.dataset.drawMs); }""",
        f"{STRIP}[data-name='million']",
    )
    page.locator(VIDEO).first.scroll_into_view_if_needed()
    with_strips = playback_quality(page, 6)
    record("timeline: draw of 10^6 samples (ms)", draw_ms)
    record("timeline: redraw of 10^6 samples after zoom (ms)", zoom_ms)
    record("timeline: 6 s playback without strips", without)
    record("timeline: 6 s playback with three strips (one of 10^6 samples)", with_strips)
    assert draw_ms <= 100 and zoom_ms <= 100, (draw_ms, zoom_ms)
    assert with_strips["dropped"] <= without["dropped"] + 2, (without, with_strips)
    assert with_strips["presented"] >= without["presented"] - 3, (without, with_strips)

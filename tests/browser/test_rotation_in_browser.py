"""Phone recordings upright in JupyterLab: clips stored turned, with a display matrix, at 0°,
90°, 180° and 270°, played direct (H.264 MP4: the browser turns them) and transcoded (HEVC,
and H.264 with PCM sound that would otherwise be remuxed: the server turns them). The frame
code strip reads only from an upright picture (a quarter turn puts it up a side, a half turn
reverses its guards), so the frame a person sees, read from a screenshot, proves both the
orientation and that ``p.frame = n`` lands on frame n. (Chromium shows a direct file turned
by its display matrix, reports videoWidth/videoHeight as shown and draws it turned on a
canvas: checked against screenshots of bare video elements.)"""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from conftest import FPS, create_notebook, kernel_value, new_page, open_notebook, record, run_all_cells

from jupyter_rangevideo.sample import read_frame_index, write_sample

DURATION = 4  # seconds: 100 frames
LANDSCAPE = (320, 180)
TURNS = (0, 90, 180, 270)
# name: (codec, audio, rotation, delivery)
CLIPS = {
    **{f"h264-{turn}.mp4": ("h264", "aac", turn, "direct") for turn in TURNS},
    **{f"hevc-{turn}.mp4": ("hevc", "aac", turn, "transcode") for turn in TURNS},
    "h264-pcm-90.mov": ("h264", "pcm_s16le", 90, "transcode"),
}
FRAMES = (0, 61, 17, 88)
NOTEBOOK = "rotation.ipynb"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rotation-outside-root")
    for name, (codec, audio, turn, _) in CLIPS.items():
        size = LANDSCAPE[::-1] if turn in (90, 270) else LANDSCAPE
        write_sample(
            folder / name, duration=DURATION, fps=FPS, size=size, codec=codec, audio=audio, rotation=turn
        )
    return folder


@pytest.fixture(scope="module")
def notebook(browser, servers, media):
    server = servers("lab")
    cell = (
        "import jupyter_rangevideo as rangevideo\n"
        "ps = {}\n"
        f"for name in {list(CLIPS)!r}:\n"
        f"    ps[name] = rangevideo.show({str(media)!r} + '/' + name, width=200)"
    )
    create_notebook(server, NOTEBOOK, [cell])
    with new_page(browser, timeout=60) as page:
        page.set_viewport_size({"width": 1280, "height": 1400})
        page.on(
            "console",
            lambda m: print("console:", m.type, m.text[:300]) if m.type in ("error", "warning") else None,
        )
        open_notebook(page, server, NOTEBOOK)
        run_all_cells(page)
        page.wait_for_function(
            f"() => document.querySelectorAll('.jp-RangeVideo video').length >= {len(CLIPS)}", timeout=120_000
        )
        ids = kernel_value(page, "{name: p.player_id for name, p in ps.items()}")
        yield page, ids


def seen(page, selector: str) -> tuple[int | None, tuple[int, int]]:
    """The frame index in the picture (None unless upright) and the picture's shape (h, w):
    the video drawn on a canvas at its own size, which Chromium draws as it shows it (turned
    by the display matrix; the same as a screenshot of a bare video element shows)."""
    from PIL import Image

    data = page.evaluate(
        """(s) => {
            const v = document.querySelector(s);
            if (!v || v.readyState < 2 || !v.videoWidth) return null;
            const c = document.createElement('canvas');
            c.width = v.videoWidth; c.height = v.videoHeight;
            c.getContext('2d').drawImage(v, 0, 0, c.width, c.height);
            return c.toDataURL('image/png');
        }""",
        selector,
    )
    if data is None:
        return None, (0, 0)
    rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB"))
    return read_frame_index(rgb), rgb.shape[:2]


def test_every_rotation_plays_upright_and_frame_exact(notebook):
    page, ids = notebook
    deliveries = kernel_value(page, "{n: p.delivery for n, p in ps.items()}")
    sizes = kernel_value(page, "{n: [p.video_width, p.video_height] for n, p in ps.items()}")
    assert deliveries == {name: clip[3] for name, clip in CLIPS.items()}
    failures, waits = [], {}
    for name, (_, _, turn, delivery) in CLIPS.items():
        portrait = turn in (90, 270)
        assert sizes[name] == ([180, 320] if portrait else [320, 180]), (name, sizes[name])
        selector = f'video[data-player-id="{ids[name]}"]'
        page.locator(selector).scroll_into_view_if_needed()
        for frame in FRAMES:
            kernel_value(page, f"setattr(ps[{name!r}], 'frame', {frame})")
            started, shown, shape = time.monotonic(), None, (0, 0)
            while time.monotonic() - started < 45:
                shown, shape = seen(page, selector)
                if shown == frame:
                    break
                time.sleep(0.1)
            if shown != frame:
                error = kernel_value(page, f"ps[{name!r}].error")
                failures.append(
                    f"{name}: frame {frame} asked, {shown} seen (picture {shape[1]}x{shape[0]}) {error}"
                )
                break
            waits.setdefault(delivery, []).append(time.monotonic() - started)
            # Upright and as tall as it should be: portrait pictures are taller than wide (the
            # canvas has the video's videoWidth x videoHeight, read with the frame it shows).
            assert (shape[0] > shape[1]) == portrait, (name, shape)
    for delivery, times in waits.items():
        record(
            f"rotation: seek to the right frame, upright, {delivery} (median ms)",
            round(1000 * sorted(times)[len(times) // 2]),
        )
    assert not failures, failures
    assert kernel_value(page, "{n: p.error for n, p in ps.items() if p.error}") == {}

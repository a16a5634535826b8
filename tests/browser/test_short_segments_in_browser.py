"""A heavy source's quarter-second segments in JupyterLab: every source counts as heavy here
(``heavy_pixels_per_second=1``), so a small portrait HEVC clip with sound is cut as a 4K60
phone clip is, and each playback segment's job continues the decoder the one before it left.
``p.frame = n`` lands on frame n (read from the picture), and playback runs on through many
segments to the frame the kernel reports once paused."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import (
    create_notebook,
    frame_index,
    kernel_eval,
    kernel_value,
    new_page,
    open_notebook,
    run_all_cells,
    start_server,
    wait_for_frame,
    wait_for_kernel,
)

from jupyter_rangevideo.sample import write_sample

FRAMES = (61, 17, 88, 40)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("short-segments")
    (tmp / "lab-config").mkdir()
    (tmp / "lab-config" / "jupyter_server_config.json").write_text(
        json.dumps({"RangeVideoApp": {"heavy_pixels_per_second": 1, "cache_dir": str(tmp / "cache")}})
    )
    server = start_server("lab", tmp)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp / "cache", ignore_errors=True)


def test_quarter_second_segments_seek_exactly_and_play_on(lab, browser):
    clip = write_sample(
        lab.root / "phone.mov", duration=5, fps=25, size=(180, 320), codec="hevc", audio="aac", rotation=90
    )
    cell = f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clip)!r}, width=180)"
    create_notebook(lab, "short.ipynb", [cell])
    # The session's browser: a second sync Playwright in the same thread is refused.
    with new_page(browser, timeout=60) as page:
        open_notebook(page, lab, "short.ipynb")
        run_all_cells(page)
        wait_for_frame(page, 0, tolerance=0, timeout=60)
        assert kernel_value(page, "p.delivery") == "transcode"
        for frame in FRAMES:
            kernel_eval(page, f"p.frame = {frame}")
            wait_for_frame(page, frame, tolerance=0, timeout=60)
        # Play from frame 0 through a couple of dozen quarter-second segments, then pause.
        kernel_eval(page, "p.frame = 0")
        wait_for_frame(page, 0, tolerance=0, timeout=60)
        kernel_eval(page, "p.play()")
        wait_for_kernel(page, "p.frame >= 75", True, timeout=60)
        kernel_eval(page, "p.pause()")
        wait_for_kernel(page, "p.paused", True)
        shown = None
        for _ in range(50):
            shown = frame_index(page)
            if shown == kernel_value(page, "p.frame"):
                break
            page.wait_for_timeout(100)
        assert shown is not None and shown >= 75 and shown == kernel_value(page, "p.frame")
        assert kernel_value(page, "p.error") == ""

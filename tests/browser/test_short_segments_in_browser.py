"""A heavy source's eighth-second segments in JupyterLab: every source counts as heavy here
(``heavy_pixels_per_second=1``), so a small portrait HEVC clip with sound is cut as a 4K60
phone clip is, and each playback segment's job continues the decoder the one before it left.
``p.frame = n`` lands on frame n (read from the picture), playback runs on through many
segments to the frame the kernel reports once paused, and a seek near a segment's end, to its
very last frame too, needs no later segment (its sound runs on past its pictures, and its last
picture is held to its end)."""

from __future__ import annotations

import contextlib
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
from playwright.sync_api import Error as PlaywrightError

from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.segment_plan import EncodeSettings, plan_segments, segment_name

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


def test_eighth_second_segments_seek_exactly_and_play_on(lab, browser):
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
        # Play from frame 0 through a couple of dozen eighth-second segments, then pause.
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


@pytest.mark.parametrize("frame", [64, 67])
def test_a_seek_near_a_segments_end_is_shown_from_that_segment_alone(lab, browser, frame):
    # Chromium completes a paused seek (readyState, "seeked", what a canvas draws) only once it
    # holds 0.2 s of sound and a few decoded frames from the target on. A seek's segment has its
    # sound run on past its pictures (segment_jobs.AUDIO_LEAD) and its last picture held to its
    # end (HELD_COPIES), so frame 64 of this 60 fps clip, 4 frames before the end of its
    # eighth-second segment (frames 60-67), and frame 67, its last, show with no later segment:
    # those are held back.
    clip = write_sample(
        lab.root / f"sixty-{frame}.mov",
        duration=3,
        fps=60,
        size=(180, 320),
        codec="hevc",
        audio="aac",
        rotation=90,
    )
    segments = plan_segments(probe(clip), "transcode", EncodeSettings(heavy_pixels_per_second=1))
    wanted = {segment_name(0), segment_name(segments.index_at((frame + 0.5) / 60))}
    assert segments.span(segments.index_at((frame + 0.5) / 60)) == (1.0, round(68 / 60, 6))  # frames 60-67
    held = []

    def only_wanted(route):
        if route.request.url.split("?")[0].rsplit("/", 1)[-1] in wanted:
            route.continue_()
        else:
            held.append(route)

    cell = f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clip)!r}, width=180)"
    create_notebook(lab, f"sixty-{frame}.ipynb", [cell])
    with new_page(browser, timeout=60) as page:
        page.route("**/rangevideo/hls/transcode/**/seg-*.ts", only_wanted)
        open_notebook(page, lab, f"sixty-{frame}.ipynb")
        run_all_cells(page)
        wait_for_frame(page, 0, tolerance=0, timeout=60)
        kernel_eval(page, f"p.frame = {frame}")
        wait_for_frame(page, frame, tolerance=0, timeout=60)
        assert held  # hls.js did ask for the segments after it
        assert kernel_value(page, "p.error") == ""
        for route in held:
            with contextlib.suppress(PlaywrightError):  # hls.js may have given up on it
                route.abort()

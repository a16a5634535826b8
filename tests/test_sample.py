"""The sample generator: every frame carries its index, readable at any scale."""

import os
import subprocess
import sys

import av
import numpy as np
import pytest

from jupyter_rangevideo.pattern import draw_frame, read_frame_index
from jupyter_rangevideo.sample import make_large, write_sample


def decoded(path):
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


@pytest.mark.parametrize("name", ["clip.mp4", "clip.webm"])
def test_every_frame_reads_back_its_index(tmp_path, name):
    path = write_sample(tmp_path / name, duration=2, fps=10, size=(320, 180))
    frames = list(decoded(path))
    assert len(frames) == 20
    assert [read_frame_index(f) for f in frames] == list(range(20))
    with av.open(str(path)) as container:
        assert container.duration / 1e6 == pytest.approx(2.0, abs=0.15)


@pytest.mark.parametrize("scale", [0.5, 2.0, 0.37])
def test_index_survives_rescaling(scale):
    frame = draw_frame(123456, 25, (640, 360))
    height, width = int(360 * scale), int(640 * scale)
    rows = (np.arange(height) / scale).astype(int)
    cols = (np.arange(width) / scale).astype(int)
    assert read_frame_index(frame[rows][:, cols]) == 123456


def test_no_code_no_index():
    assert read_frame_index(np.zeros((360, 640, 3), dtype=np.uint8)) is None
    noise = np.random.default_rng(1).integers(0, 256, (360, 640, 3), dtype=np.uint8)
    assert read_frame_index(noise) is None


def test_make_large_copies_without_reencoding(tmp_path):
    segment = write_sample(tmp_path / "seg.mp4", duration=1, fps=10, size=(160, 96), noise=True)
    big = make_large(segment, tmp_path / "big.mp4", 5 * segment.stat().st_size)
    assert big.stat().st_size >= 5 * segment.stat().st_size
    frames = list(decoded(big))
    copies = len(frames) // 10
    assert copies >= 5
    assert [read_frame_index(f) for f in frames] == list(range(10)) * copies
    with av.open(str(big)) as container:
        assert container.duration / 1e6 == pytest.approx(copies, abs=0.3)


def write_with_command_line(out, fps):
    """``python -m jupyter_rangevideo.sample``: a 1 s 96x64 clip; the finished process."""
    options = ["--duration", "1", "--fps", str(fps), "--size", "96x64"]
    cmd = [sys.executable, "-m", "jupyter_rangevideo.sample", str(out), *options]
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def test_command_line(tmp_path):
    out = tmp_path / "cli.mp4"
    write_with_command_line(out, 5)
    assert [read_frame_index(f) for f in decoded(out)] == list(range(5))


def test_frames_drawn_in_yuv_look_like_the_rgb_drawing():
    from jupyter_rangevideo.pattern import YuvPainter as _YuvPainter

    painter = _YuvPainter(av, (320, 180))
    for index in (0, 37, 99):  # the hue pattern, the bar and the timecode move
        planes = painter.frame(index, 25)
        rgb = av.VideoFrame.from_ndarray(planes, format="yuv420p").to_ndarray(format="rgb24")
        assert read_frame_index(rgb) == index
        assert np.abs(rgb.astype(int) - draw_frame(index, 25, (320, 180)).astype(int)).mean() < 4


def test_command_line_shows_progress(tmp_path):
    result = write_with_command_line(tmp_path / "progress.mp4", 10)
    lines = [line for line in result.stderr.splitlines() if "frames" in line]
    assert lines[-1].endswith("100% 10/10 frames") and len(lines) > 2


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")
def test_writing_av1_leaves_the_scheduling_policy_as_it_was(tmp_path):
    """libsvtav1, run as root (as CI runs), switches its caller to real-time scheduling; every
    server and browser a test starts afterwards would inherit it and could starve the machine."""
    before = os.sched_getscheduler(0), os.sched_getparam(0)
    write_sample(tmp_path / "a.mp4", duration=0.4, fps=10, size=(64, 48), codec="av1")
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == before

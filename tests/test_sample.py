"""The sample generator: every frame carries its index, readable at any scale."""

import subprocess
import sys

import av
import numpy as np
import pytest

from jupyter_rangevideo.sample import draw_frame, make_large, read_frame_index, write_sample


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


def test_command_line(tmp_path):
    out = tmp_path / "cli.mp4"
    cmd = [sys.executable, "-m", "jupyter_rangevideo.sample", str(out), "--duration", "1", "--fps", "5", "--size", "96x64"]
    subprocess.run(cmd, check=True, capture_output=True)
    assert [read_frame_index(f) for f in decoded(out)] == list(range(5))

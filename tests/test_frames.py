"""Exact frames decoded kernel-side: constant and variable frame rate, far from keyframes."""

import numpy as np
import pytest

from jupyter_rangevideo import probe
from jupyter_rangevideo.frames import decode_frame
from jupyter_rangevideo.pattern import read_frame_index
from jupyter_rangevideo.sample import write_sample, write_vfr

VFR_MS = [33, 33, 50, 17, 40, 66, 33, 20, 80, 33] * 8


@pytest.fixture(scope="module")
def cfr(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("f") / "cfr.mp4", duration=4, fps=25, size=(160, 120), gop=50)


@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    path = tmp_path_factory.mktemp("f") / "vfr.mp4"
    write_vfr(path, VFR_MS, gop=30)
    return path


def test_every_frame_of_a_constant_rate_file(cfr):
    clock = probe(cfr).clock
    for n in [0, 1, 24, 49, 50, 51, 77, 99]:
        image = decode_frame(cfr, clock, n)
        assert image.shape == (120, 160, 3) and image.dtype == np.uint8
        assert read_frame_index(image) == n


def test_every_frame_of_a_variable_rate_file(vfr):
    clock = probe(vfr).clock
    assert clock.frame_count == len(VFR_MS)
    assert [read_frame_index(decode_frame(vfr, clock, n)) for n in range(len(VFR_MS))] == list(
        range(len(VFR_MS))
    )


def test_outside_the_file_is_a_clear_error(cfr):
    clock = probe(cfr).clock
    for n in (-1, 100):
        with pytest.raises(IndexError, match="outside the video"):
            decode_frame(cfr, clock, n)

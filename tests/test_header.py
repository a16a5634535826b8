"""The pure-Python header reader (containers.read_header) says what PyAV's probe says about the
codecs, the picture, the audio, the duration and the frame rate, for the files a browser plays
as they are; it says nothing (None) where it is unsure."""

import os

import av
import pytest

from jupyter_rangevideo import delivery, probe
from jupyter_rangevideo.containers import header_of
from jupyter_rangevideo.sample import write_sample

SIZE = (96, 64)


def remux(source, target, **options):
    """``source`` copied into ``target`` (no re-encoding), with the muxer's ``options``."""
    with av.open(str(source)) as src, av.open(str(target), "w", options=options) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return target


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("header")
    mp4 = write_sample(tmp / "h264-aac.mp4", duration=2, fps=25, size=SIZE, audio="aac")
    return {
        "mp4 h264/aac": mp4,
        "mov h264/aac": write_sample(tmp / "clip.mov", duration=2, fps=30, size=SIZE, audio="aac"),
        "webm vp9/opus": write_sample(tmp / "clip.webm", duration=2, fps=25, size=SIZE, audio="opus"),
        "mkv av1": write_sample(tmp / "av1.mkv", duration=1, fps=24, size=SIZE, codec="av1"),
        "mp4 av1/opus": write_sample(
            tmp / "av1.mp4", duration=1, fps=25, size=SIZE, codec="av1", audio="opus"
        ),
        "mp4 mp3": write_sample(tmp / "mp3.mp4", duration=2, fps=25, size=SIZE, audio="mp3"),
        "fragmented mp4": remux(
            mp4, tmp / "fragmented.mp4", movflags="frag_keyframe+empty_moov+default_base_moof"
        ),
        "mp4, moov at the end": remux(mp4, tmp / "moov-last.mp4"),
    }


CASES = [
    "mp4 h264/aac",
    "mov h264/aac",
    "webm vp9/opus",
    "mkv av1",
    "mp4 av1/opus",
    "mp4 mp3",
    "fragmented mp4",
    "mp4, moov at the end",
]


@pytest.mark.parametrize("case", CASES)
def test_the_header_says_what_the_probe_says(files, case):
    path = files[case]
    header = header_of(str(path), os.path.getsize(path))
    facts = probe(path)
    assert header is not None
    assert header.container == facts.container
    assert (header.video.codec, header.video.width, header.video.height) == (
        facts.video.codec,
        facts.video.width,
        facts.video.height,
    )
    if facts.audio is None:
        assert header.audio is None
    else:
        assert (header.audio.codec, header.audio.sample_rate, header.audio.channels) == (
            facts.audio.codec,
            facts.audio.sample_rate,
            facts.audio.channels,
        )
    step = 1 / facts.video.fps
    assert header.duration == pytest.approx(facts.duration, abs=1.5 * step)
    if header.video.fps is not None:  # a WebM without DefaultDuration: FFmpeg reads packets for it
        assert header.video.fps == pytest.approx(facts.video.fps, rel=1e-3)
        assert abs(header.video.frame_count - facts.video.frame_count) <= 1
    else:
        assert case in ("webm vp9/opus", "mkv av1")


def test_its_delivery_is_the_probes(files):
    from jupyter_rangevideo.probe import from_header

    for case in CASES:
        path = files[case]
        header = header_of(str(path), os.path.getsize(path))
        assert delivery.choose(from_header(str(path), header, os.stat(path))) == delivery.choose(
            probe(path)
        ), case


@pytest.mark.parametrize(
    "name, content",
    [
        ("text.mp4", b"just some text, not a video\n" * 20),
        ("noise.mp4", os.urandom(4096)),
        ("moov-only-start.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x10\x00moov"),
    ],
)
def test_no_verdict_on_what_is_not_a_whole_header(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert header_of(str(path), len(content)) is None


def test_no_verdict_on_a_codec_it_does_not_know(tmp_path):
    path = write_sample(tmp_path / "clip.mkv", duration=1, fps=25, size=SIZE, codec="ffv1")
    assert header_of(str(path), os.path.getsize(path)) is None

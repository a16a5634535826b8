"""A file cut off part-way (an interrupted copy or download) is refused with the reason; a whole
one, in every container, never is."""

import io
import struct

import av
import numpy as np
import pytest

from jupyter_rangevideo import MediaError, probe
from jupyter_rangevideo.containers import (
    CLUSTER,
    human_size,
    iter_boxes,
    iter_elements,
    read_element,
    read_layout,
)
from jupyter_rangevideo.sample import write_sample

SIZE = (64, 48)


class Pipe(io.RawIOBase):
    """A write-only stream that cannot seek back: what a muxer writing to a pipe sees."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, chunk):
        self.data += chunk
        return len(chunk)


def encode(target, container, codec="libx264", options=None, seconds=2, gop=25):
    """A small video written by PyAV with the muxer's ``options`` (a path or a Pipe)."""
    with av.open(target, "w", format=container, options=options or {}) as output:
        stream = output.add_stream(codec, rate=25, options={"g": str(gop)})
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        rng = np.random.default_rng(1)
        for _ in range(25 * seconds):
            picture = rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return target


def cut(source, length, name="cut"):
    """A copy of ``source`` holding its first ``length`` bytes: an interrupted copy."""
    target = source.with_name(f"{name}-{source.name}")
    target.write_bytes(source.read_bytes()[:length])
    return target


def assert_cut_off(path, expected, at_least=False):
    """probe() refuses ``path``, naming it, the ``expected`` size and how much is missing."""
    with pytest.raises(MediaError) as raised:
        probe(path)
    message = str(raised.value)
    missing = expected - path.stat().st_size
    assert repr(str(path)) in message and "cut off" in message, message
    if at_least:
        assert f"expects at least {human_size(expected)} " in message, message
        assert f"(at least {human_size(missing)} missing)" in message, message
    else:
        assert f"expects {human_size(expected)} " in message, message
        assert f"({human_size(missing)}, " in message and "% missing" in message, message
    return message


# name, video codec, audio codec; .mp4/.mov are written with the index at the front (faststart)
CONTAINERS = [
    ("h264.mp4", "h264", "aac"),
    ("h264.mov", "h264", None),
    ("h264.mkv", "h264", "opus"),
    ("vp9.webm", "vp9", "opus"),
    ("mpeg4.avi", "mpeg4", "mp3"),
]


@pytest.mark.parametrize(("name", "video", "audio"), CONTAINERS)
def test_a_file_cut_in_half_is_refused_with_what_is_missing(tmp_path, name, video, audio):
    whole = write_sample(tmp_path / name, duration=2, size=SIZE, codec=video, audio=audio, noise=True)
    probe(whole)  # whole: no false alarm
    half = cut(whole, whole.stat().st_size // 2)
    message = assert_cut_off(half, whole.stat().st_size)
    assert "50 % missing" in message


def test_a_faststart_mp4_cut_at_its_media_data_box_is_refused_from_its_sample_tables(tmp_path):
    whole = write_sample(tmp_path / "v.mp4", duration=2, size=SIZE, audio="aac", noise=True)
    with open(whole, "rb") as file:
        boxes = {box.kind: box for box in iter_boxes(file, 0, whole.stat().st_size)}
    assert boxes["moov"].start < boxes["mdat"].start  # the index is at the front
    # No box is cut: the file ends exactly where 'mdat' would start.
    message = assert_cut_off(cut(whole, boxes["mdat"].start), whole.stat().st_size)
    assert "its index (the sample tables)" in message
    # Cut inside the last samples: 'mdat' says so, and so do the sample tables.
    assert_cut_off(cut(whole, whole.stat().st_size - 100, "tail"), whole.stat().st_size)


def test_an_mp4_with_its_index_at_the_end_cut_off_says_so(tmp_path):
    encode(str(tmp_path / "end.mp4"), "mp4")  # no faststart: moov after mdat
    whole = tmp_path / "end.mp4"
    probe(whole)
    with open(whole, "rb") as file:
        boxes = {box.kind: box for box in iter_boxes(file, 0, whole.stat().st_size)}
    assert boxes["mdat"].end == boxes["moov"].start
    # The index went with the tail; the media data's box still says how long it was (FFmpeg
    # alone says "moov atom not found").
    assert_cut_off(cut(whole, whole.stat().st_size // 2), boxes["mdat"].end, at_least=True)


@pytest.mark.parametrize("flags", ["frag_keyframe+empty_moov", "frag_keyframe+empty_moov+default_base_moof"])
def test_fragmented_mp4(tmp_path, flags):
    encode(str(tmp_path / "frag.mp4"), "mp4", options={"movflags": flags}, seconds=4)
    whole = tmp_path / "frag.mp4"
    size = whole.stat().st_size
    with open(whole, "rb") as file:
        boxes = list(iter_boxes(file, 0, size))
    assert [box.kind for box in boxes].count("moof") >= 2, boxes
    probe(whole)
    # Cut in the middle of a fragment's data: how long the fragments after it were is unknown.
    middle = next(box for box in boxes if box.start < size // 2 < box.end)
    assert middle.kind == "mdat", boxes
    assert_cut_off(cut(whole, size // 2), middle.end, at_least=True)
    # Cut exactly after a fragment's header.
    last_moof = [box for box in boxes if box.kind == "moof"][-1]
    with pytest.raises(MediaError, match="cut off: its last fragment's header"):
        probe(cut(whole, last_moof.end, "moof"))
    # Cut at a fragment's boundary: only the fragment index at the end is missing.
    with pytest.raises(MediaError, match="'mfra' box"):
        probe(cut(whole, boxes[-1].start + 8, "mfra"))


def test_matroska_with_its_cues_at_the_front_and_no_segment_size(tmp_path):
    """A Segment of unknown size declares no length: the cues' last cluster still does."""
    encode(str(tmp_path / "front.mkv"), "matroska", options={"reserve_index_space": "2048"}, seconds=4)
    whole = tmp_path / "front.mkv"
    data = bytearray(whole.read_bytes())
    with open(whole, "rb") as file:
        segment = read_element(file, read_element(file, 0).end)
    assert segment.header == 12  # a 4-byte ID, an 8-byte size: make it "unknown"
    data[segment.start + 4 : segment.start + 12] = b"\x01" + b"\xff" * 7
    unknown = tmp_path / "unknown.mkv"
    unknown.write_bytes(bytes(data))
    with open(unknown, "rb") as file:
        layout = read_layout(file, len(data))
    assert layout.expected == len(data) and "cues" in layout.declared_by, layout
    probe(unknown)
    clusters = [
        element
        for element in iter_elements(io.BytesIO(data), segment.data, len(data))
        if element.id == CLUSTER
    ]
    assert len(clusters) >= 2 and clusters[-1].start > len(data) // 2, clusters
    message = assert_cut_off(cut(unknown, len(data) // 2), clusters[-1].start + 1, at_least=True)
    assert "its index (the cues)" in message


def test_an_mpeg_ts_declares_no_size_and_a_cut_one_is_not_refused(tmp_path):
    whole = write_sample(tmp_path / "v.ts", duration=2, size=SIZE, audio="aac", noise=True)
    with open(whole, "rb") as file:
        assert read_layout(file, whole.stat().st_size) is None
    facts = probe(cut(whole, whole.stat().st_size // 2))  # nothing to compare it with
    assert facts.video is not None


@pytest.mark.parametrize(
    ("container", "codec"), [("matroska", "libx264"), ("webm", "libvpx-vp9"), ("avi", "libx264")]
)
def test_files_written_to_a_pipe_are_whole(tmp_path, container, codec):
    """Muxers that cannot seek back leave sizes unknown (Matroska) or unset (AVI) and write
    no cues: nothing to compare, so never a false alarm."""
    pipe = Pipe()
    encode(pipe, container, codec)
    path = tmp_path / f"pipe.{'mkv' if container == 'matroska' else container}"
    path.write_bytes(bytes(pipe.data))
    assert probe(path).video is not None
    probe(cut(path, len(pipe.data) // 2))  # a live recording cut short is just shorter


def test_webm_live_is_whole(tmp_path):
    encode(str(tmp_path / "live.webm"), "webm", "libvpx-vp9", options={"live": "1"})
    assert probe(tmp_path / "live.webm").video is not None


def test_avi_opendml_super_index_beyond_the_end():
    """An OpenDML AVI (over 1 GB) indexes its data by a super index in its header; made by
    hand here, since PyAV writes one only past 1 GB."""
    entry = struct.pack("<QII", 5_000_000, 4_000, 25)
    indx = (
        b"indx" + struct.pack("<I", 24 + 16) + struct.pack("<HBBI4s", 4, 0, 0, 1, b"00dc") + bytes(12) + entry
    )
    strl = b"LIST" + struct.pack("<I", 4 + len(indx)) + b"strl" + indx
    hdrl = b"LIST" + struct.pack("<I", 4 + len(strl)) + b"hdrl" + strl
    movi = b"LIST" + struct.pack("<I", 4 + 8) + b"movi" + b"00dc" + struct.pack("<I", 0)
    body = b"AVI " + hdrl + movi
    riff = b"RIFF" + struct.pack("<I", len(body)) + body
    layout = read_layout(io.BytesIO(riff), len(riff))
    assert (layout.expected, layout.missing) == (5_004_000, 5_004_000 - len(riff)), layout
    assert "OpenDML" in layout.declared_by


def test_a_file_missing_almost_nothing_or_almost_everything(tmp_path):
    whole = write_sample(tmp_path / "v.mkv", duration=2, size=SIZE, noise=True)
    size = whole.stat().st_size
    assert "1 % missing" in assert_cut_off(cut(whole, size - size // 100, "tail"), size)
    assert "0.01 % missing" in assert_cut_off(cut(whole, size - size // 10000, "end"), size)
    assert "100 % missing" in assert_cut_off(cut(whole, 300, "head"), size)


def test_human_sizes():
    assert [human_size(n) for n in (0, 999, 1000, 604_000_000, 1_210_000_000, 12_345_678_901_234)] == [
        "0 bytes",
        "999 bytes",
        "1 KB",
        "604 MB",
        "1.21 GB",
        "12.3 TB",
    ]


def box(kind, payload):
    return struct.pack(">I4s", 8 + len(payload), kind.encode()) + payload


def full_box(kind, values, fmt):
    return box(kind, bytes(4) + struct.pack(f">{fmt}", *values))


@pytest.mark.parametrize(
    ("offsets", "end"),
    [
        ((100, 300, 500), 500 + 50),  # in file order: the last chunk holds the last sample
        ((100, 500, 300), 500 + 30 + 40),  # the second chunk lies furthest
    ],
)
def test_the_sample_tables_furthest_byte(offsets, end):
    """Three chunks: (1, 2 samples), (2, 2 samples), (3, 1 sample) of 10, 20, 30, 40, 50 bytes."""
    stco = full_box("stco", (3, *offsets), "4I")
    stsc = full_box("stsc", (2, 1, 2, 1, 3, 1, 1), "7I")
    stsz = full_box("stsz", (0, 5, 10, 20, 30, 40, 50), "7I")
    stbl = box("stbl", stco + stsc + stsz)
    moov = box("moov", box("trak", box("mdia", box("minf", stbl))))
    data = box("ftyp", b"isom") + moov
    layout = read_layout(io.BytesIO(data), len(data))
    assert (layout.expected, layout.declared_by) == (end, "its index (the sample tables)")
    # A 'co64' table and a fixed sample size say the same.
    co64 = full_box("co64", (3, *offsets), "I3Q")
    fixed = full_box("stsz", (25, 5), "2I")
    moov = box("moov", box("trak", box("mdia", box("minf", box("stbl", co64 + stsc + fixed)))))
    data = box("ftyp", b"isom") + moov
    assert read_layout(io.BytesIO(data), len(data)).expected == max(offsets) + 25 * (
        1 if max(offsets) == offsets[-1] else 2
    )

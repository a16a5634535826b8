"""Phone recordings shown upright: the display rotation read by the probe, and every place that
makes pixels (transcoded and proxy segments, p.frame_at, the poster, exported clips) turns
them. The clips are made here with PyAV: the upright test pattern, stored turned back, with a
display matrix (as a phone writes a portrait clip); the frame code strip reads only upright."""

from __future__ import annotations

import base64
import io
import subprocess
import threading

import av
import numpy as np
import pytest

from jupyter_rangevideo import delivery, rotation
from jupyter_rangevideo.clip import plan_clip, write_clip
from jupyter_rangevideo.frames import decode_frame
from jupyter_rangevideo.poster import poster_data_url
from jupyter_rangevideo.probe import header_probe, probe
from jupyter_rangevideo.sample import draw_frame, read_frame_index, write_sample
from jupyter_rangevideo.segment_jobs import Job, make_segment
from jupyter_rangevideo.segment_plan import EncodeSettings, plan_segments
from jupyter_rangevideo.widget import Player

LANDSCAPE = (320, 180)
PORTRAIT = (180, 320)
FPS = 25


def shown(turn: int) -> tuple[int, int]:
    return PORTRAIT if turn in (90, 270) else LANDSCAPE


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rotated")
    made = {}
    for turn in rotation.ROTATIONS:
        made["h264", turn] = write_sample(
            folder / f"h264-{turn}.mp4", duration=2, fps=FPS, size=shown(turn), audio="aac", rotation=turn
        )
        made["hevc", turn] = write_sample(
            folder / f"hevc-{turn}.mov", duration=2, fps=FPS, size=shown(turn), codec="hevc", rotation=turn
        )
    # H.264 with PCM sound in MOV: the one rotated file that would otherwise be remuxed.
    made["pcm", 90] = write_sample(
        folder / "h264-pcm-90.mov", duration=2, fps=FPS, size=PORTRAIT, audio="pcm_s16le", rotation=90
    )
    return made


@pytest.mark.parametrize("turn", rotation.ROTATIONS)
@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_the_probe_reads_the_rotation_and_the_size_as_shown(clips, codec, turn):
    facts = probe(clips[codec, turn]).video
    assert facts is not None
    assert (facts.rotation, facts.width, facts.height) == (turn, *shown(turn))
    # FFmpeg reads the same matrix: counter-clockwise, so a portrait clip is "-90" as an iPhone's.
    printed = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream_side_data=rotation", "-of", "csv=p=0",
         str(clips[codec, turn])],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert [int(v) % 360 for v in printed] == ([(-turn) % 360] if turn else [])


def test_matrices_and_legacy_tags():
    one = 0x10000
    assert rotation.from_matrix(one, 0, 0, one) == 0
    assert rotation.from_matrix(0, one, -one, 0) == 90  # an iPhone's portrait clip
    assert rotation.from_matrix(-one, 0, 0, -one) == 180
    assert rotation.from_matrix(0, -one, one, 0) == 270
    assert rotation.from_matrix(0, 0, 0, 0) == 0
    assert [rotation.from_tag(v) for v in ("90", "-90", "180", "270", "", None, "up")] == [
        90,
        270,
        180,
        270,
        0,
        0,
        0,
    ]


def test_a_rotated_remuxable_file_is_transcoded(clips):
    facts = probe(clips["pcm", 90])
    assert facts.video is not None and facts.video.rotation == 90
    assert delivery.choose(facts) == "transcode"
    assert delivery.choose(probe(clips["h264", 90])) == "direct"  # the browser turns it
    with pytest.raises(ValueError, match="rotation"):
        delivery.check("remux", facts)


def test_a_legacy_rotate_tag_is_read_and_turned_by_a_transcode(tmp_path):
    # An old tool's ROTATE tag in Matroska (clockwise, as FFmpeg up to 4.x read it): browsers
    # ignore it, so the file is transcoded, turned by the tag.
    path = tmp_path / "tagged.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.metadata["rotate"] = "90"
        for index in range(FPS):
            upright_picture = draw_frame(index, FPS, PORTRAIT)
            frame = av.VideoFrame.from_ndarray(rotation.upright(upright_picture, 270), format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    facts = probe(path)
    assert facts.video is not None and (facts.video.rotation, facts.video.width, facts.video.height) == (
        90,
        180,
        320,
    )
    assert delivery.choose(facts) == "transcode"
    frames = segment_frames(path, "transcode")
    assert frames[0].shape[:2] == (320, 180) and read_frame_index(frames[0]) == 0


def segment_frames(path, kind: str, index: int = 0) -> list[np.ndarray]:
    facts = probe(path)
    plan = plan_segments(facts, kind)
    start, end = plan.span(index)
    out = path.with_suffix(f".{kind}{index}.ts")
    job = Job(str(path), kind, index, start, end, index == plan.count - 1, plan.exact, EncodeSettings())
    make_segment(job, str(out), threading.Event())
    with av.open(str(out)) as segment:
        return [f.to_ndarray(format="rgb24") for f in segment.decode(video=0)]


@pytest.mark.parametrize("turn", rotation.ROTATIONS)
def test_transcoded_segments_are_upright(clips, turn):
    frames = segment_frames(clips["hevc", turn], "transcode", 1)
    assert frames and frames[0].shape[:2] == shown(turn)[::-1]
    first = probe(clips["hevc", turn]).clock.frame_at(
        plan_segments(probe(clips["hevc", turn]), "transcode").span(1)[0]
    )
    assert [read_frame_index(f) for f in frames] == list(range(first, first + len(frames)))


def test_the_rotated_remuxable_file_and_its_proxy_are_upright(clips):
    frames = segment_frames(clips["pcm", 90], "transcode")
    assert frames[0].shape[:2] == (320, 180) and read_frame_index(frames[0]) == 0
    proxy = segment_frames(clips["hevc", 270], "proxy")
    assert proxy[0].shape[:2] == (320, 180) and read_frame_index(proxy[0]) == 0


def test_max_height_bounds_the_picture_as_shown(clips, tmp_path):
    path = clips["hevc", 90]
    facts = probe(path)
    plan = plan_segments(facts, "transcode")
    job = Job(str(path), "transcode", 0, *plan.span(0), False, True, EncodeSettings(max_height=160))
    make_segment(job, str(tmp_path / "small.ts"), threading.Event())
    with av.open(str(tmp_path / "small.ts")) as segment:
        frame = next(segment.decode(video=0))
    assert (frame.width, frame.height) == (90, 160)


@pytest.mark.parametrize("turn", rotation.ROTATIONS)
def test_frame_at_and_the_poster_are_upright(clips, turn):
    path = clips["hevc", turn]
    facts = probe(path)
    picture = decode_frame(path, facts.clock, 37)
    assert picture.shape[:2] == shown(turn)[::-1] and read_frame_index(picture) == 37
    from PIL import Image

    url = poster_data_url(str(path))
    assert url is not None
    poster = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    width, height = shown(turn)
    assert poster.size == (160, round(height * 160 / width / 2) * 2)
    assert read_frame_index(np.asarray(poster.convert("RGB"))) == 0


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_exported_clips_keep_the_rotation(clips, codec, tmp_path):
    path = clips[codec, 90]
    plan = plan_clip(probe(path), start_frame=25, end_frame=40)  # from a keyframe: H.264 is copied
    out = tmp_path / "clip.mp4"
    result = write_clip(str(path), str(out), plan)
    assert result.copied == (codec == "h264")
    facts = probe(out)
    assert facts.video is not None and (facts.video.rotation, facts.video.width, facts.video.height) == (
        90,
        180,
        320,
    )
    assert read_frame_index(decode_frame(out, facts.clock, 0)) == 25


def test_transcoded_sound_starts_with_the_picture(clips, tmp_path):
    # hls.js starts the timeline at a segment's first sample: AAC priming before the picture
    # would show every frame 21 ms late, one frame off after `p.frame = n` at 60 fps.
    path = clips["h264", 0]
    facts = probe(path)
    plan = plan_segments(facts, "transcode")
    for index in range(plan.count):
        start, end = plan.span(index)
        job = Job(
            str(path), "transcode", index, start, end, index == plan.count - 1, plan.exact, EncodeSettings()
        )
        out = tmp_path / f"{index}.ts"
        make_segment(job, str(out), threading.Event())
        with av.open(str(out)) as segment:
            firsts = {}
            for packet in segment.demux():
                if packet.pts is not None and packet.stream.type not in firsts:
                    firsts[packet.stream.type] = float(packet.pts * packet.stream.time_base)
        assert firsts["audio"] >= firsts["video"] - 1e-3 and abs(firsts["video"] - start) < 1e-3, (
            index,
            firsts,
        )


@pytest.mark.parametrize("turn", rotation.ROTATIONS)
def test_show_gives_the_size_as_shown_before_any_background_probe(clips, turn):
    # The header reader sends direct MP4s before PyAV probes them; a turned clip is left to
    # PyAV's probe, so the player's first size is already the one shown.
    facts = header_probe(str(clips["h264", turn]))
    assert (facts is None) == (turn != 0)
    p = Player(clips["h264", turn])
    try:
        assert (p.video_width, p.video_height) == shown(turn)
    finally:
        p.close()

"""probe() and the delivery choice, on files made here in every container and codec that recordings use."""

import av
import pytest

from jupyter_rangevideo import MediaError, probe
from jupyter_rangevideo.delivery import check, choose
from jupyter_rangevideo.probe import FrameClock
from jupyter_rangevideo.sample import write_sample, write_vfr

# name, video codec, audio codec, the delivery a browser needs
FORMATS = [
    ("h264.mp4", "h264", "aac", "direct"),
    ("h264.mov", "h264", None, "direct"),
    ("h264.mkv", "h264", "opus", "direct"),
    ("vp9.webm", "vp9", "opus", "direct"),
    ("av1.mp4", "av1", None, "direct"),
    ("h264-mp3.mp4", "h264", "mp3", "direct"),
    ("h264.avi", "h264", "mp3", "remux"),
    ("h264.ts", "h264", "aac", "remux"),
    ("h264-ac3.mkv", "h264", "ac3", "remux"),
    ("mpeg2.ts", "mpeg2video", "mp2", "transcode"),
    ("mjpeg.avi", "mjpeg", "pcm_s16le", "transcode"),
    ("mpeg4.avi", "mpeg4", None, "transcode"),
    ("hevc.mp4", "hevc", "aac", "transcode"),
    ("hevc.mkv", "hevc", None, "transcode"),
    ("hevc.mov", "hevc", None, "transcode"),
    ("prores.mov", "prores", "pcm_s16le", "transcode"),
    ("ffv1.mkv", "ffv1", "flac", "transcode"),
]
AUDIO = [
    ("tone.m4a", "aac", "direct"),
    ("tone.mp3", "mp3", "direct"),
    ("tone.wav", "pcm_s16le", "direct"),
    ("tone.ogg", "opus", "direct"),
    ("tone.flac", "flac", "direct"),
    ("tone-ac3.mkv", "ac3", "transcode"),
]


@pytest.mark.parametrize(("name", "video", "audio", "delivery"), FORMATS)
def test_video_formats(tmp_path, name, video, audio, delivery):
    path = write_sample(tmp_path / name, duration=2, fps=25, size=(160, 120), codec=video, audio=audio)
    facts = probe(path)
    assert facts.video is not None and facts.video.codec == video
    assert (facts.video.width, facts.video.height, facts.fps, facts.frame_count) == (160, 120, 25.0, 50)
    assert facts.duration == pytest.approx(2.0, abs=0.1)
    assert (facts.audio.codec if facts.audio else None) == audio
    # Times count from the stream's start: the first frame may come later (B-frames in AVI).
    first = facts.clock.time_of(0)
    assert facts.keyframes and facts.keyframes[0] == pytest.approx(first) and first < 0.1
    assert choose(facts) == delivery
    assert facts.clock.exact and facts.clock.time_of(49) - first == pytest.approx(1.96)
    with av.open(str(path)) as container:  # the clock agrees with the decoder
        decoded = [
            float(f.pts * f.time_base) - float(container.streams.video[0].start_time * f.time_base)
            for f in container.decode(video=0)
        ]
    assert [round(facts.clock.time_of(n), 3) for n in range(50)] == [round(t, 3) for t in decoded]


@pytest.mark.parametrize(("name", "audio", "delivery"), AUDIO)
def test_audio_only_formats(tmp_path, name, audio, delivery):
    facts = probe(write_sample(tmp_path / name, duration=1, codec="none", audio=audio))
    assert facts.video is None and facts.audio.codec == audio and facts.clock is None
    assert facts.duration == pytest.approx(1.0, abs=0.1)
    assert choose(facts) == delivery


def test_keyframes_come_from_the_index(tmp_path):
    facts = probe(write_sample(tmp_path / "g.mp4", duration=6, fps=25, size=(64, 48), gop=50))
    assert facts.keyframes == (0.0, 2.0, 4.0)


def test_variable_frame_rate_maps_frames_to_their_own_timestamps(tmp_path):
    durations = [33, 33, 50, 17, 40, 66, 33, 20, 80, 33] * 6
    times = write_vfr(tmp_path / "vfr.mp4", durations, size=(64, 48))
    facts = probe(tmp_path / "vfr.mp4")
    assert facts.frame_count == len(times) and facts.clock.exact
    decoded = []
    with av.open(str(tmp_path / "vfr.mp4")) as container:
        for frame in container.decode(video=0):
            decoded.append(float(frame.time))
    assert [round(facts.clock.time_of(n), 3) for n in range(len(times))] == [round(t, 3) for t in decoded]
    # What mapping frame n to n / average fps would have shown instead:
    wrong_by_average_rate = sum(facts.clock.frame_at(n / facts.fps) != n for n in range(len(decoded)))
    assert wrong_by_average_rate > len(decoded) // 2
    for n, t in enumerate(decoded):
        assert facts.clock.frame_at(t) == n
        assert facts.clock.frame_at(t + 0.005) == n


def test_frame_clock_runs():
    clock = FrameClock.from_times([0.0, 0.04, 0.08, 0.12, 0.2, 0.28, 0.3])
    assert clock.runs == ((0, 0.0, 0.04), (3, 0.12, 0.08), (5, 0.28, 0.02))
    assert [clock.time_of(n) for n in range(7)] == pytest.approx([0, 0.04, 0.08, 0.12, 0.2, 0.28, 0.3])
    assert [clock.frame_at(t) for t in (0, 0.039, 0.04, 0.19, 0.2, 0.29, 0.3, 9)] == [0, 0, 1, 3, 4, 5, 6, 6]
    assert clock.time_of(-5) == 0 and clock.time_of(99) == pytest.approx(0.3)
    assert FrameClock.constant(25, 1500).time_of(1499) == pytest.approx(59.96)


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "empty"), (b"hello, this is text", "not a video or audio file"), (b"\0" * 5000, "not a video")],
)
def test_bad_media_is_a_clear_error(tmp_path, content, match):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError, match=match):
        probe(path)


def test_truncated_file_is_a_clear_error(tmp_path):
    good = write_sample(tmp_path / "good.mp4", duration=1, size=(64, 48))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[:2000])  # faststart: the index survives, the frames do not
    with pytest.raises(MediaError):
        facts = probe(cut)
        if facts.frame_count:  # an index pointing past the end is still a readable header
            raise MediaError("truncated")


def test_forced_delivery_is_checked(tmp_path):
    facts = probe(write_sample(tmp_path / "hevc.mkv", duration=1, size=(64, 48), codec="hevc"))
    assert check(None, facts) == "transcode"
    assert check("transcode", facts) == "transcode"
    with pytest.raises(ValueError, match="cannot decode hevc"):
        check("remux", facts)

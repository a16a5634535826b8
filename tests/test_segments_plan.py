"""Playlist maths and the segment cache: pure logic and plain files, no server."""

import math
import os
import time
from pathlib import Path

import pytest

from jupyter_rangevideo.cache import SegmentCache, default_directory, make_key
from jupyter_rangevideo.probe import FrameClock, MediaError, Probe, VideoInfo
from jupyter_rangevideo.segment_jobs import output_size
from jupyter_rangevideo.segment_plan import EncodeSettings, playlist
from jupyter_rangevideo.segment_plan import plan_segments as plan


def facts(duration, fps=25.0, keyframes=(), clock=None, video=True):
    frames = round(duration * fps)
    return Probe(
        path="/v.avi",
        container="avi",
        duration=duration,
        video=VideoInfo("hevc", 1920, 1080, fps, frames) if video else None,
        audio=None,
        keyframes=tuple(keyframes),
        clock=(clock or FrameClock.constant(fps, frames)) if video else None,
    )


def test_transcode_segments_are_fixed_length_and_start_on_frames():
    p = plan(facts(9.0), "transcode")
    assert p.starts == (0.0, 2.0, 4.0, 6.0, 8.0) and p.end == 9.0 and p.exact
    # 30000/1001 fps: each boundary is the first frame at or after n * 2 s.
    p = plan(facts(5.0, fps=30000 / 1001), "transcode")
    step = 1001 / 30000
    assert [round(t / step, 6) for t in p.starts] == [0, 60, 120]
    # A nominal start past the last frame makes no segment of its own.
    p = plan(facts(4.04, fps=25), "transcode")  # 101 frames: the last at 4.0 s
    assert p.starts == (0.0, 2.0, 4.0)
    p = plan(facts(4.04, fps=25, clock=FrameClock.constant(25, 100)), "transcode")  # the last at 3.96 s
    assert p.starts == (0.0, 2.0)


def test_transcode_segments_are_short_where_keyframes_are_close():
    every_second = [float(t) for t in range(10)]
    assert plan(facts(10.0, keyframes=every_second), "transcode").starts == tuple(every_second)
    every_two = [0.0, 2.0, 4.0, 6.0, 8.0]
    assert plan(facts(10.0, keyframes=every_two), "transcode").starts == tuple(every_second)
    # Keyframes 3 s apart, or known only for the first seconds (a bounded scan), or not at
    # all: 2 s segments, so that no segment repeats a long decode from far before its start.
    assert plan(facts(12.0, keyframes=[0.0, 3.0, 6.0, 9.0]), "transcode").starts[1] == 2.0
    assert plan(facts(10.0, keyframes=[0.0, 1.0]), "transcode").starts[1] == 2.0
    assert plan(facts(10.0), "transcode").starts[1] == 2.0
    # One gap of 4 s in an otherwise dense file is enough to keep 2 s segments.
    gappy = [0.0, 1.0, 2.0, 6.0, 7.0, 8.0, 9.0]
    assert plan(facts(10.0, keyframes=gappy), "transcode").starts[1] == 2.0
    # Rounded timestamps (29.97 fps, a keyframe every 60 frames) still count as every 2 s.
    ntsc = [round(n * 60 * 1001 / 30000, 3) for n in range(5)]
    assert plan(facts(10.0, fps=30000 / 1001, keyframes=ntsc), "transcode").starts[1] < 1.1
    # The proxy keeps its own length.
    assert plan(facts(10.0, keyframes=every_second), "proxy").starts[1] == 2.0


def test_remux_cuts_at_the_first_keyframe_at_or_after_each_step():
    keys = [0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0]
    p = plan(facts(10.0, keyframes=keys), "remux")
    assert p.starts == (0.0, 4.5, 9.0) and p.exact
    assert p.span(1) == (4.5, 9.0) and p.span(2) == (9.0, 10.0)
    # Keyframes further apart than the step: one segment per keyframe, none empty.
    p = plan(facts(30.0, keyframes=[0.0, 10.0, 20.0]), "remux")
    assert p.starts == (0.0, 10.0, 20.0)
    # No keyframes known (a long unindexed file): nominal starts, cut at run time.
    p = plan(facts(10.0), "remux")
    assert p.starts == (0.0, 4.0, 8.0) and not p.exact


def test_audio_only_and_bad_inputs():
    p = plan(facts(10.0, video=False), "transcode")
    assert p.starts == (0.0, 4.0, 8.0)
    with pytest.raises(MediaError, match="duration"):
        plan(facts(0.0), "transcode")
    with pytest.raises(ValueError):
        plan(facts(5.0), "direct")


def test_playlist_is_hls_vod():
    text = playlist(plan(facts(9.0), "transcode"))
    lines = text.splitlines()
    assert lines[:5] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    assert lines[5:7] == ["#EXTINF:2.000000,", "seg-00000.ts"]
    assert lines[-3:] == ["#EXTINF:1.000000,", "seg-00004.ts", "#EXT-X-ENDLIST"]
    text = playlist(plan(facts(30.0, keyframes=[0.0, 10.5, 20.0]), "remux"))
    assert "#EXT-X-TARGETDURATION:11" in text


def test_output_size_caps_the_height_and_keeps_sides_even():
    assert output_size(1920, 1080, 1080) == (1920, 1080)
    assert output_size(3840, 2160, 1080) == (1920, 1080)
    assert output_size(1440, 1080, 720) == (960, 720)
    assert output_size(321, 241, 1080) == (320, 240)
    assert output_size(4096, 2161, 1080) == (2046, 1080)


def test_cache_evicts_least_recently_used(tmp_path):
    cache = SegmentCache(tmp_path / "c", max_bytes=250)
    for name in "abc":
        cache.store(name, lambda temp: Path(temp).write_bytes(b"x" * 100))
        time.sleep(0.02)
    # Three of 100 bytes do not fit in 250: the oldest went, the newest stays.
    assert cache.lookup("a") is None and cache.lookup("c") is not None
    time.sleep(0.02)
    cache.lookup("b")  # used: now newer than c
    time.sleep(0.02)
    cache.store("d", lambda temp: Path(temp).write_bytes(b"x" * 100))
    assert cache.lookup("c") is None and cache.lookup("b") and cache.lookup("d")
    assert cache.size() == 200
    assert sorted(os.listdir(cache.directory)) == ["b.ts", "d.ts"]  # no temporary file left


def test_cache_write_is_atomic(tmp_path):
    cache = SegmentCache(tmp_path / "c", max_bytes=10**6)

    def failing(temp):
        Path(temp).write_bytes(b"half")
        raise RuntimeError("encoder died")

    with pytest.raises(RuntimeError):
        cache.store("k", failing)
    assert cache.lookup("k") is None and os.listdir(cache.directory) == []


def test_cache_location_and_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "jupyter-rangevideo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert str(default_directory()).endswith(os.path.join(".cache", "jupyter-rangevideo"))
    settings = EncodeSettings()
    key = make_key(1, "/v.avi", (10, 20, 30), "transcode", settings, 0)
    assert key == make_key(1, "/v.avi", (10, 20, 30), "transcode", settings, 0)
    for other in (
        make_key(1, "/v.avi", (10, 21, 30), "transcode", settings, 0),  # changed mtime
        make_key(1, "/v.avi", (10, 20, 30), "remux", settings, 0),
        make_key(1, "/v.avi", (10, 20, 30), "transcode", EncodeSettings(crf=30), 0),
        make_key(1, "/v.avi", (10, 20, 30), "transcode", settings, 1),
    ):
        assert other != key
    assert (os.stat(SegmentCache(tmp_path / "new", 1).directory).st_mode & 0o777) == 0o700


def test_heavy_sources_get_short_transcode_segments_and_a_shorter_first():
    # A phone's 4K at 60 fps, shown portrait: eighth-second segments (a first one of its own
    # length where the settings ask for one).
    phone = Probe(
        path="/phone.mov",
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration=3.0,
        video=VideoInfo("hevc", 2160, 3840, 60.0, 180, rotation=90),
        audio=None,
        keyframes=(0.0, 1.0, 2.0),
        clock=FrameClock.constant(60, 180),
    )
    # The first a quarter second, then each starting with the frame shown at n / 8 s (7.5 frames
    # apart: on frames 15, 23, 30, ...).
    eighths = tuple(round(math.ceil(n * 7.5) / 60, 6) for n in range(2, 24))
    assert plan(phone, "transcode").starts == (0.0, *eighths)
    halves = EncodeSettings(heavy_seconds=0.5, heavy_first_seconds=0.25)
    assert plan(phone, "transcode", halves).starts == (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5)
    assert plan(phone, "proxy").starts == (0.0, 2.0)  # the proxy keeps its length
    # 1080p at 60 fps is not heavy.
    assert plan(facts(3.0, fps=60.0), "transcode").starts == (0.0, 2.0)
    # As before: keyframes a second apart, one-second segments.
    assert plan(phone, "transcode", EncodeSettings(heavy_pixels_per_second=float("inf"))).starts == (
        0.0,
        1.0,
        2.0,
    )

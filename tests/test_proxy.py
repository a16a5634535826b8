"""The seek proxy through a real in-process server: its playlist and segments carry the source's
frames at the source's times, small and with a keyframe every few frames; it is warmed in the
background from where the player looks, cached, and made again when the file changes."""

import asyncio
import io

import av
import pytest
from helpers import decode, hls_url, segment_names, server_config, wait_for

from jupyter_rangevideo import proxy
from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.segment_plan import plan_segments as plan


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(cache_dir=str(tmp_path / "cache"), transcode_workers=1, preset="ultrafast")


async def warmed(service):
    """Wait until the warm-up of every file has finished and no job runs."""
    warmer = proxy.warmer(service)
    assert await wait_for(lambda: not warmer.active(), 120)
    await service.idle()


def started(service):
    return [i for e, _, d, i in service.history if e == "started" and d == "proxy"]


def test_wanted_where_keyframes_are_far_apart(tmp_path):
    far = probe(write_sample(tmp_path / "far.mp4", 6, 25, (160, 120), gop=250))
    near = probe(write_sample(tmp_path / "near.mp4", 6, 25, (160, 120), gop=25))
    sound = probe(write_sample(tmp_path / "a.m4a", 3, 25, (160, 120), codec="none", audio="aac"))
    assert proxy.keyframe_spacing(far) == pytest.approx(6.0) and proxy.wanted(far, "direct")
    assert proxy.keyframe_spacing(near) == pytest.approx(1.0) and not proxy.wanted(near, "direct")
    assert not proxy.wanted(far, "transcode")  # a keyframe every segment already
    assert not proxy.wanted(sound, "direct")


def test_warm_up_order_starts_at_the_playhead():
    assert [proxy.order(5, 2, set(range(n))) for n in range(0)] == []
    done: set[int] = set()
    seen = []
    while (n := proxy.order(5, 2, done)) is not None:
        done.add(n)
        seen.append(n)
    assert seen == [2, 1, 3, 0, 4]


async def test_proxy_segments_hold_the_source_frames_small_and_short_gop(fetch, tmp_path):
    source = write_sample(tmp_path / "far.mp4", 5, 25, (640, 480), gop=250, audio="aac")
    facts = probe(source)
    r = await fetch(hls_url(source, "proxy"))
    assert r.code == 200 and r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    names = segment_names(r.body.decode())
    starts = plan(facts, "proxy").starts
    assert len(names) == len(starts) == 3
    seen = []
    for n, name in enumerate(names):
        r = await fetch(hls_url(source, "proxy", name))
        assert r.code == 200 and r.headers["Content-Type"] == "video/mp2t"
        frames, sound = decode(r.body, tmp_path)
        assert not sound  # no audio in a proxy
        assert frames[0][0] == pytest.approx(starts[n], abs=1e-3)
        assert all(index == facts.clock.frame_at(t) for t, index in frames), frames[:3]
        with av.open(io.BytesIO(r.body)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (480, 360)
            keys = [p.is_keyframe for p in container.demux(stream) if p.size]
        gaps = [i for i, key in enumerate(keys) if key]
        assert gaps[0] == 0 and max(b - a for a, b in zip(gaps, [*gaps[1:], len(keys)])) <= 4, keys
        seen += frames
    assert [index for _, index in seen] == list(range(facts.frame_count))


async def test_warmed_from_the_playhead_cached_and_renewed_when_the_file_changes(fetch, service, tmp_path):
    source = tmp_path / "warm.mp4"
    write_sample(source, 9, 25, (160, 120), gop=250)
    r = await fetch(hls_url(source, "proxy") + "?at=4.5")
    assert r.code == 200 and len(segment_names(r.body.decode())) == 5
    await warmed(service)
    assert started(service) == [2, 1, 3, 0, 4]  # around the playhead first, then the rest
    # Cached: a player asking now (or in another session: the cache is on disk) waits for no job.
    service.history.clear()
    r = await fetch(hls_url(source, "proxy", "seg-00004.ts"))
    await warmed(service)
    assert r.code == 200 and started(service) == []
    frames, _ = decode(r.body, tmp_path)
    assert frames[0][1] == 200
    # The file changes: its validator, so its cache keys, change too; nothing stale is served.
    write_sample(source, 9, 25, (192, 144), gop=250)
    r = await fetch(hls_url(source, "proxy", "seg-00004.ts"))
    assert r.code == 200
    with av.open(io.BytesIO(r.body)) as container:
        assert container.streams.video[0].codec_context.width == 192
    await warmed(service)
    assert sorted(started(service)) == [0, 1, 2, 3, 4]


async def test_a_segment_asked_for_goes_before_the_warm_up(fetch, service, tmp_path):
    source = write_sample(tmp_path / "first.mp4", 20, 25, (160, 120), gop=250)
    other = write_sample(tmp_path / "other.mkv", 4, 25, (160, 120), codec="hevc")
    assert (await fetch(hls_url(source, "proxy"))).code == 200
    assert await wait_for(lambda: started(service), 20)
    # While the warm-up runs, playback of another file: its segment is the next job started.
    r = await fetch(hls_url(other, "transcode", "seg-00001.ts"))
    assert r.code == 200
    events = [(e, d, i) for e, _, d, i in service.history]
    queued, begun = events.index(("queued", "transcode", 1)), events.index(("started", "transcode", 1))
    # Between being asked for and starting, at most the warm-up job already running finished.
    assert not [e for e in events[queued:begun] if e[0] == "started"], events[queued:begun]
    await warmed(service)
    assert sorted(started(service)) == list(range(10))


async def test_no_proxy_for_a_file_without_video(fetch, tmp_path):
    source = write_sample(tmp_path / "a.m4a", 3, 25, (160, 120), codec="none", audio="aac")
    r = await fetch(hls_url(source, "proxy"))
    assert r.code == 415
    await asyncio.sleep(0)

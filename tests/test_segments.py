"""Remux and transcode deliveries as HLS, through a real in-process server: playlists, segments
that decode to the right frames, job sharing, prefetch and cancellation, the cache, errors."""

import asyncio
import os
import shutil
import threading
import time
from dataclasses import replace

import av
import pytest
from helpers import decode, hls_url, http_get, segment_names, server_config, wait_for, without_held
from tornado.simple_httpclient import HTTPTimeoutError

import jupyter_rangevideo.segment_jobs as segments_module
from jupyter_rangevideo import url_for
from jupyter_rangevideo.kernel_server import KernelServer
from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.segment_jobs import HELD_COPIES, Cancelled, Job, make_segment
from jupyter_rangevideo.segment_plan import EncodeSettings
from jupyter_rangevideo.segment_plan import plan_segments as plan
from jupyter_rangevideo.signing import load_secret, sign

SIZE = (160, 120)


@pytest.fixture
def workers():
    return 1  # one job at a time: the order of jobs is then the test's to check


@pytest.fixture
def jp_server_config(tmp_path, workers):
    return server_config(cache_dir=str(tmp_path / "cache"), transcode_workers=workers, preset="ultrafast")


@pytest.mark.parametrize(
    "name,codec,audio,delivery",
    [
        ("h264.ts", "h264", "aac", "remux"),
        ("h264.mp4", "h264", "aac", "remux"),  # a browser plays it directly, but a remux is asked
        ("h264.avi", "h264", "mp3", "remux"),
        ("hevc.mkv", "hevc", "ac3", "transcode"),
        ("mjpeg.avi", "mjpeg", None, "transcode"),
    ],
)
async def test_every_segment_holds_the_frames_of_its_span(fetch, tmp_path, name, codec, audio, delivery):
    source = write_sample(tmp_path / name, 7, 25, SIZE, codec=codec, audio=audio, gop=25)
    facts = probe(source)
    r = await fetch(hls_url(source, delivery))
    assert r.code == 200 and r.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    text = r.body.decode()
    assert (
        text.startswith("#EXTM3U\n")
        and "#EXT-X-PLAYLIST-TYPE:VOD" in text
        and text.endswith("#EXT-X-ENDLIST\n")
    )
    extinf = [float(line[8:-1]) for line in text.splitlines() if line.startswith("#EXTINF:")]
    assert abs(sum(extinf) - facts.duration) < 1e-3
    assert max(extinf) <= int(text.split("#EXT-X-TARGETDURATION:")[1].split()[0])
    names = segment_names(text)
    assert names == [f"seg-{n:05d}.ts" for n in range(len(extinf))] and len(names) >= 2
    starts = plan(facts, delivery).starts
    seen = []
    for n, segment in enumerate(names):
        r = await fetch(hls_url(source, delivery, segment))
        assert r.code == 200 and r.headers["Content-Type"] == "video/mp2t", r.body[:200]
        frames, sound = decode(r.body, tmp_path)
        # A segment a player waited for ends with copies of its last picture (HELD_COPIES).
        frames, held = without_held(frames)
        assert held in (0, HELD_COPIES) and (held == 0 or delivery != "remux"), (n, held)
        # Each segment starts at its playlist time, with the frame shown then in the source.
        first_time, first_index = frames[0]
        if name != "h264.avi":  # (this sample's first frame is presented 2 frames late: see below)
            assert abs(first_time - starts[n]) < 1e-3, (n, first_time, starts[n])
            assert first_index == facts.clock.frame_at(first_time), (n, frames[:2])
        seen += frames
        if audio:
            assert sound and sound[0] <= first_time + 0.1 and sound[-1] >= frames[-1][0] - 0.1
    # Together, every frame once, in order, on a continuous timeline.
    assert [index for _, index in seen] == list(range(facts.frame_count))
    times = [t for t, _ in seen]
    steps = {round(b - a, 4) for a, b in zip(times, times[1:])}
    assert steps == {0.04}, steps
    if name == "h264.avi":
        # The source's own presentation times (its first frame at 0.08 s) are kept.
        with av.open(str(source)) as container:
            stream = container.streams.video[0]
            firsts = [
                float((f.pts - (stream.start_time or 0)) * stream.time_base)
                for _, f in zip(range(2), container.decode(stream))
            ]
        assert times[:2] == pytest.approx(firsts)


async def test_a_far_seek_costs_one_segment(fetch, service, tmp_path):
    source = write_sample(tmp_path / "far.mkv", 12, 25, SIZE, codec="hevc", gop=100)  # 2 s segments
    names = segment_names((await fetch(hls_url(source, "transcode"))).body.decode())
    assert len(names) == 6
    r = await fetch(hls_url(source, "transcode", names[-1]))
    assert r.code == 200
    frames, _ = decode(r.body, tmp_path)
    assert frames[0][1] == 250 and frames[-1][1] == 299
    await service.idle()
    assert [(e, i) for e, *_, i in service.history if e == "started"] == [("started", 5)]
    # Back to the middle: that segment, then the prefetch of the two after it.
    r = await fetch(hls_url(source, "transcode", names[2]))
    await service.idle()
    started = [i for e, *_, i in service.history if e == "started"]
    assert started == [5, 2, 3, 4]


async def test_the_playlist_asked_with_a_start_begins_that_segment(fetch, service, tmp_path):
    """The player asks for the playlist with ``?at=`` before hls.js has loaded: the segment
    there is under way by the time hls.js asks for it, and its request joins that job."""
    source = write_sample(tmp_path / "start.mkv", 6, 25, SIZE, codec="hevc")
    r = await fetch(hls_url(source, "transcode") + "?at=3.5")
    assert r.code == 200 and r.body.startswith(b"#EXTM3U")
    assert await wait_for(lambda: ("started", 3) in [(e, i) for e, *_, i in service.history], 20)
    r = await fetch(hls_url(source, "transcode", "seg-00003.ts"))
    assert r.code == 200
    await service.idle()
    assert [e for e, *_, i in service.history if i == 3] == ["queued", "started", "made"]
    # Without ?at= (hls.js's own request) nothing starts; a bad value is no error.
    service.history.clear()
    for query in ("", "?at=nonsense"):
        assert (await fetch(hls_url(source, "transcode") + query)).code == 200
    await service.idle()
    assert not service.history


async def test_a_segment_asked_while_playing_on_is_made_as_playbacks(fetch, tmp_path):
    """A segment a player waits for to complete a seek (or a still frame) ends with held copies of
    its last picture; one it waits for while playing on (hls-route.js's ?play=1) does not."""
    source = write_sample(tmp_path / "play.mkv", 6, 25, (160, 120), codec="hevc", gop=25)
    names = segment_names((await fetch(hls_url(source, "transcode"))).body.decode())
    assert len(names) >= 5
    seek = await fetch(hls_url(source, "transcode", names[4]))
    playing = await fetch(hls_url(source, "transcode", names[1]) + "?play=1")  # from its keyframe too
    assert seek.code == playing.code == 200
    held = [without_held(decode(answer.body, tmp_path)[0])[1] for answer in (seek, playing)]
    assert held == [HELD_COPIES, 0]


async def test_two_requests_for_one_segment_share_one_job(fetch, service, tmp_path):
    source = write_sample(tmp_path / "two.mkv", 6, 25, SIZE, codec="hevc")
    url = hls_url(source, "transcode", "seg-00001.ts")
    first, second = await asyncio.gather(fetch(url), fetch(url))
    assert first.code == second.code == 200 and first.body == second.body
    await service.idle()
    assert [e for e, *_, i in service.history if i == 1] == ["queued", "started", "made"]


async def test_a_rapid_seek_cancels_what_nobody_waits_for(fetch, service, tmp_path):
    source = write_sample(tmp_path / "seek.avi", 30, 25, (320, 240), codec="mjpeg")
    # Jobs long enough to be caught running: a slow preset, and 2 s segments where MJPEG (every
    # frame a keyframe) would get 1 s ones.
    service.settings = replace(service.settings, preset="slower", transcode_short_seconds=2.0)
    playlist = (await fetch(hls_url(source, "transcode"))).body.decode()
    assert len(segment_names(playlist)) == 15
    r = await fetch(hls_url(source, "transcode", "seg-00000.ts"))
    assert r.code == 200
    # Segment 0 asked; 1 and 2 prefetched on the one worker. Now a seek far away:
    assert await wait_for(lambda: ("started", 1) in [(e, i) for e, *_, i in service.history], 20)
    r = await fetch(hls_url(source, "transcode", "seg-00012.ts"))
    assert r.code == 200
    await service.idle()
    assert [i for e, *_, i in service.history if e == "started"][:2] == [0, 1]  # asked, then ahead
    events = {(e, i) for e, *_, i in service.history}
    assert ("cancelled", 2) in events and ("started", 2) not in events  # dropped while queued
    assert ("cancelled", 1) in events and ("made", 1) not in events  # stopped between frames
    assert {("made", 12), ("made", 13), ("made", 14)} <= events
    cached = {
        n
        for n in range(15)
        if os.path.exists(service.cache.path(service._key(probe(source), "transcode", n)))
    }
    assert cached == {0, 12, 13, 14}


async def test_a_changed_file_is_never_served_stale(fetch, service, tmp_path):
    source = tmp_path / "changes.mkv"
    write_sample(source, 4, 25, (160, 120), codec="hevc")
    url = hls_url(source, "transcode", "seg-00000.ts")
    r = await fetch(url)
    with av.open(__import__("io").BytesIO(r.body)) as c:
        assert c.streams.video[0].codec_context.width == 160
    write_sample(source, 4, 25, (192, 144), codec="hevc")
    r = await fetch(url)
    assert r.code == 200
    with av.open(__import__("io").BytesIO(r.body)) as c:
        assert c.streams.video[0].codec_context.width == 192
    assert ("made", 0) in [(e, i) for e, *_, i in service.history][3:]


async def test_the_cache_keeps_to_its_bound(fetch, service, tmp_path):
    source = write_sample(tmp_path / "bound.mkv", 16, 25, SIZE, codec="hevc")
    names = segment_names((await fetch(hls_url(source, "transcode"))).body.decode())
    sizes = []
    for name in names[:2]:
        r = await fetch(hls_url(source, "transcode", name))
        sizes.append(len(r.body))
    await service.idle()
    service.cache.max_bytes = int(max(sizes) * 3.5)
    for name in names[2:]:
        assert (await fetch(hls_url(source, "transcode", name))).code == 200
    await service.idle()
    assert service.cache.size() <= service.cache.max_bytes
    assert 2 <= len(service.cache.entries()) <= 4
    # The most recently used are kept: the last segment asked is there.
    assert os.path.exists(service.cache.path(service._key(probe(source), "transcode", len(names) - 1)))


async def test_bad_media_and_bad_requests_get_plain_errors(fetch, service, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    good = write_sample(tmp_path / "ok.mkv", 4, 25, SIZE, codec="hevc")
    truncated = tmp_path / "cut.mkv"
    truncated.write_bytes(good.read_bytes()[:3000])
    for path in (text, empty):
        r = await fetch(hls_url(path, "transcode"))
        assert r.code == 415 and r.headers["Content-Type"].startswith("text/plain")
        assert b"not a video" in r.body or b"empty" in r.body, r.body
    r = await fetch(hls_url(truncated, "transcode", "seg-00000.ts"))
    assert r.code in (415, 500) and r.body.strip(), r.body
    # Cut off mid-way, its index whole (an interrupted copy): refused by name, never a 5xx.
    whole = write_sample(tmp_path / "whole.mkv", 2, 25, SIZE)
    half = tmp_path / "half.mkv"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for name in ("index.m3u8", "seg-00000.ts"):
        r = await fetch(hls_url(half, "remux", name))
        assert r.code == 415 and b"cut off" in r.body and b"half.mkv" in r.body, (r.code, r.body)
    r = await fetch(hls_url(good, "remux"))  # HEVC cannot be remuxed for a browser
    assert r.code == 400 and b"transcode" in r.body
    r = await fetch(hls_url(good, "transcode", "seg-00004.ts"))  # 4 segments only
    assert r.code == 404
    r = await fetch(hls_url(good, "transcode").replace("/index.m3u8", "/seg-1.mp4"))
    assert r.code == 404
    await service.idle()


async def test_auth_and_signature_as_for_the_file_route(fetch, tmp_path):
    source = write_sample(tmp_path / "private.mkv", 4, 25, SIZE, codec="hevc")
    sibling = write_sample(tmp_path / "sibling.mkv", 4, 25, SIZE, codec="hevc")
    url = hls_url(source, "transcode")
    for name in ("index.m3u8", "seg-00000.ts"):
        r = await fetch(url.replace("index.m3u8", name), auth=False)
        assert r.code in (302, 403) and b"EXTM3U" not in r.body
    signature = url.split("/")[3]
    assert (await fetch(url.replace(signature, "0" * 32))).code == 404
    assert (await fetch(url.replace("private.mkv", sibling.name))).code == 404
    assert (await fetch(url.replace(signature, "0" * 32).replace("index.m3u8", "seg-00000.ts"))).code == 404
    for method in ("POST", "PUT"):
        assert (await fetch(url, method=method, body=b"")).code == 405
    r = await fetch(url, method="HEAD")
    assert r.code == 200 and r.body == b""
    # A path that now resolves elsewhere (swapped for a symlink) serves nothing, as for files.
    link_target = tmp_path / "elsewhere.mkv"
    source.rename(link_target)
    source.symlink_to(link_target)
    assert (await fetch(url)).code == 404
    fifo = tmp_path / "fifo.mkv"
    os.mkfifo(fifo)  # url_for refuses it; a URL signed for it anyway must not hang the server
    fifo_url = f"rangevideo/hls/transcode/{sign(str(fifo), load_secret())}/{str(fifo).lstrip('/')}/index.m3u8"
    assert (await fetch(fifo_url)).code == 404


@pytest.mark.parametrize("workers", [4])
async def test_the_event_loop_answers_while_four_transcodes_run(jp_serverapp, fetch, service, tmp_path):
    """Tiny requests keep being answered between frames of four encodes (no wall-clock bound here:
    benchmarks/segments.py measures the p99)."""
    assert service.workers == 4
    service.settings = replace(service.settings, preset="medium")
    first = write_sample(tmp_path / "busy0.avi", 4, 25, (640, 360), codec="mjpeg")
    sources = [first] + [shutil.copy(first, tmp_path / f"busy{k}.avi") for k in range(1, 4)]

    async def status_latencies(stop):
        latencies = []
        while not stop.is_set():
            began = time.perf_counter()
            r = await fetch("api/status")
            assert r.code == 200
            latencies.append(time.perf_counter() - began)
            await asyncio.sleep(0.005)
        return latencies

    stop = asyncio.Event()
    probe_task = asyncio.ensure_future(status_latencies(stop))
    began = time.perf_counter()
    results = await asyncio.gather(*(fetch(hls_url(s, "transcode", "seg-00001.ts")) for s in sources))
    encode_time = time.perf_counter() - began
    stop.set()
    latencies = sorted(await probe_task)
    assert all(r.code == 200 for r in results)
    assert sum(e[0] == "started" for e in service.history) >= 4
    # Many tiny requests were answered while the encodes ran, each in a small part of their time.
    assert len(latencies) >= 10, (len(latencies), encode_time)
    assert latencies[len(latencies) // 2] < encode_time / 10, (latencies, encode_time)
    await service.idle()


def test_the_kernel_server_serves_the_same_routes(tmp_path, runtime_dir):
    source = write_sample(tmp_path / "kernel.mkv", 4, 25, SIZE, codec="hevc", audio="ac3")
    server = KernelServer(cache_dir=str(tmp_path / "kcache")).start()
    try:
        base = server.base_url

        def get(url):
            return http_get(url, timeout=30)

        status, headers, body = get(base + hls_url(source, "transcode"))
        assert (
            status == 200
            and body.startswith(b"#EXTM3U")
            and headers["Content-Type"] == "application/vnd.apple.mpegurl"
        )
        assert headers["Access-Control-Allow-Origin"] == "*"  # hls.js reads it from the notebook's origin
        status, headers, body = get(base + hls_url(source, "transcode", "seg-00001.ts"))
        assert status == 200 and headers["Content-Type"] == "video/mp2t"
        frames, sound = decode(body, tmp_path)
        assert frames[0] == (1.0, 25) and sound  # a keyframe every second: 1 s segments
        assert get(base.replace(server.token, "0" * 32) + hls_url(source, "transcode"))[0] == 404
        assert (
            get(base + hls_url(source, "transcode").replace(url_for(source).split("/")[2], "f" * 32))[0]
            == 404
        )
        assert get(base + hls_url(source, "transcode", "seg-00009.ts"))[0] == 404
    finally:
        server.stop()


@pytest.mark.parametrize("name,audio", [("ac3.m4a", "ac3"), ("tone.mp3", "mp3")])
async def test_audio_only_files_get_aac_or_copied_audio_segments(fetch, tmp_path, name, audio):
    source = write_sample(tmp_path / name, 9, 25, SIZE, codec="none", audio=audio)
    delivery = "transcode" if audio == "ac3" else "remux"
    names = segment_names((await fetch(hls_url(source, delivery))).body.decode())
    assert len(names) == 3  # 4 s audio segments
    previous_end = None
    for n, segment in enumerate(names):
        r = await fetch(hls_url(source, delivery, segment))
        assert r.code == 200
        path = tmp_path / f"a{n}.ts"
        path.write_bytes(r.body)
        with av.open(str(path)) as container:
            assert not container.streams.video
            stream = container.streams.audio[0]
            assert stream.codec_context.codec.canonical_name == ("aac" if audio == "ac3" else "mp3")
            frames = list(container.decode(stream))
        first = float(frames[0].pts * frames[0].time_base)
        last = float(frames[-1].pts * frames[-1].time_base) + frames[-1].samples / frames[-1].sample_rate
        # Contiguous within an audio frame or two (AAC's encoder delay), from n * 4 s.
        assert abs(first - 4 * n) < 0.07, (n, first)
        if previous_end is not None:
            assert abs(first - previous_end) < 0.07, (n, first, previous_end)
        previous_end = last
    assert abs(previous_end - 9.0) < 0.1


async def test_a_reader_that_goes_away_cancels_its_job(fetch, service, tmp_path, monkeypatch):
    source = write_sample(tmp_path / "gone.avi", 12, 25, (320, 240), codec="mjpeg")
    service.prefetch = 0  # only the job asked for
    real = segments_module.make_segment
    reader_gone = threading.Event()

    def slow_make_segment(job, out_path, cancel, cursors=None, **options):
        # Hold the job until its reader has gone, however fast this machine encodes: then the
        # real encoder must see the flag and stop at its first look.
        reader_gone.wait(20)
        return real(job, out_path, cancel, cursors, **options)

    monkeypatch.setattr(segments_module, "make_segment", slow_make_segment)
    assert (await fetch(hls_url(source, "transcode"))).code == 200  # probed: the next request starts a job
    with pytest.raises(HTTPTimeoutError):  # the client gives up and closes the connection
        await fetch(hls_url(source, "transcode", "seg-00003.ts"), request_timeout=0.5)
    assert ("started", 3) in [(e, i) for e, *_, i in service.history]
    reader_gone.set()
    assert await wait_for(lambda: ("cancelled", 3) in [(e, i) for e, *_, i in service.history], 20)
    await service.idle()


async def test_a_reader_gone_after_a_seek_keeps_the_seeks_prefetch(fetch, service, tmp_path, monkeypatch):
    # hls.js gives up on the segment it was loading when the player seeks away, and the server
    # may hear of it after the seek's own request: the seek's prefetch must stay queued.
    source = write_sample(tmp_path / "away.avi", 12, 25, (320, 240), codec="mjpeg")
    service.prefetch = 1
    real = segments_module.make_segment
    reader_gone = threading.Event()

    def held_make_segment(job, out_path, cancel, cursors=None, **options):
        if job.index == 1:  # the segment the reader leaves
            reader_gone.wait(20)
        return real(job, out_path, cancel, cursors, **options)

    monkeypatch.setattr(segments_module, "make_segment", held_make_segment)
    assert (await fetch(hls_url(source, "transcode"))).code == 200
    leaving = asyncio.ensure_future(fetch(hls_url(source, "transcode", "seg-00001.ts"), request_timeout=1.0))
    assert await wait_for(lambda: ("started", 1) in [(e, i) for e, *_, i in service.history], 20)
    seek = asyncio.ensure_future(fetch(hls_url(source, "transcode", "seg-00004.ts")))
    assert await wait_for(lambda: ("queued", 5) in [(e, i) for e, *_, i in service.history], 20)
    with pytest.raises(HTTPTimeoutError):  # the reader of segment 1 goes away after the seek
        await leaving
    reader_gone.set()
    assert (await seek).code == 200
    await service.idle()
    events = [(e, i) for e, *_, i in service.history]
    assert ("cancelled", 1) in events and ("made", 5) in events and ("cancelled", 5) not in events, events


class CancelAfter(threading.Event):
    """A cancel flag that is raised after ``checks`` looks at it: a reader gone mid-encode."""

    def __init__(self, checks):
        super().__init__()
        self.checks = checks

    def is_set(self):
        self.checks -= 1
        return self.checks < 0


@pytest.mark.parametrize("delivery", ["transcode", "remux"])
def test_a_running_job_stops_between_frames(tmp_path, delivery):
    source = write_sample(tmp_path / "stop.mkv", 6, 25, SIZE, codec="h264", audio="aac")
    facts = probe(source)
    segments = plan(facts, delivery)
    start, end = segments.span(0)
    job = Job(str(source), delivery, 0, start, end, False, True, EncodeSettings())
    cancel = CancelAfter(1)
    with pytest.raises(Cancelled):
        make_segment(job, str(tmp_path / "out.ts"), cancel)
    assert -3 <= cancel.checks < 0  # it stopped at the first look after the flag went up
    make_segment(job, str(tmp_path / "out.ts"), threading.Event())  # and runs through when nobody cancels


@pytest.mark.parametrize("workers", [2])
async def test_prefetches_wait_while_a_player_waits(fetch, service, tmp_path):
    source = write_sample(tmp_path / "first.mkv", 8, 25, SIZE, codec="hevc")
    assert (await fetch(hls_url(source, "transcode", "seg-00000.ts"))).code == 200
    await service.idle()
    events = [(e, i) for e, *_, i in service.history]
    # Segment 0 had both cores to itself: the prefetches of 1 and 2 started once it was made.
    assert events.index(("made", 0)) < events.index(("started", 1))
    assert events.index(("made", 0)) < events.index(("started", 2))
    assert ("made", 1) in events and ("made", 2) in events

"""CPU priority of segment work, through a real in-process server: the segment a player waits for
and the one right after it run at the server's own priority, prefetches and warm-ups lower, and
a decoder continued from an urgent job into a prefetch decodes at the prefetch's priority."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import pytest
from helpers import hls_url, segment_names, server_config, wait_for

from jupyter_rangevideo.continuing import CursorPark
from jupyter_rangevideo.priority import lower_thread_priority, thread_nice
from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.segment_jobs import Job, cursor_key, make_segment
from jupyter_rangevideo.segment_plan import EncodeSettings
from jupyter_rangevideo.segment_plan import plan_segments as plan

SIZE = (160, 120)
NICE = 10

pytestmark = pytest.mark.skipif(thread_nice() is None, reason="per-thread nice values are Linux's")


@pytest.fixture
def workers():
    return 1  # one job at a time: they run in the order the test checks


@pytest.fixture
def jp_server_config(tmp_path, workers):
    return server_config(
        cache_dir=str(tmp_path / "cache"), transcode_workers=workers, preset="ultrafast", worker_nice=NICE
    )


def ran_at(service) -> dict[int, int | None]:
    """Each segment's nice value when its job ran."""
    return {index: nice for _, index, nice in service.priorities}


async def test_a_seeks_segment_and_the_next_run_at_the_servers_priority(fetch, service, tmp_path):
    base = thread_nice()
    source = write_sample(tmp_path / "seek.mkv", 8, 25, SIZE, codec="hevc", gop=25)  # 1 s segments
    names = segment_names((await fetch(hls_url(source, "transcode"))).body.decode())
    assert len(names) == 8
    # A seek to segment 3: the player waits for it; 4 and 5 are prefetched after it.
    assert (await fetch(hls_url(source, "transcode", names[3]))).code == 200
    await service.idle()
    assert ran_at(service) == {3: base, 4: base, 5: min(19, base + NICE)}
    # 4 continued 3's decoder, and 5 continued 4's: the decoder's threads, started by 3's job at
    # the server's priority, decoded 5 at the prefetch's (and stay there while parked).
    assert service.cursors.continued == 2
    (cursor,) = service.cursors._parked.values()
    alive = [nice for nice in map(thread_nice, cursor.threads) if nice is not None]
    assert alive and set(alive) == {min(19, base + NICE)}


@pytest.mark.parametrize("workers", [2])
async def test_a_seek_away_from_a_running_urgent_job_is_urgent_itself(fetch, service, tmp_path):
    """The segment after a seek's runs on the urgent thread; a seek elsewhere cancels it, and
    the new seek's segment runs at the server's priority while the cancelled job stops."""
    base = thread_nice()
    source = write_sample(tmp_path / "seeks.avi", 30, 25, (320, 240), codec="mjpeg")
    service.settings = replace(service.settings, preset="slower", transcode_short_seconds=2.0)
    names = segment_names((await fetch(hls_url(source, "transcode"))).body.decode())
    assert (await fetch(hls_url(source, "transcode", names[3]))).code == 200
    assert (await fetch(hls_url(source, "transcode", names[10]))).code == 200
    await service.idle()
    events = [(e, i) for e, *_, i in service.history]
    assert ("started", 4) in events and ("cancelled", 4) in events and ("made", 4) not in events
    assert ran_at(service)[3] == base and ran_at(service)[10] == base


@pytest.mark.parametrize("workers", [2])
async def test_a_seek_away_from_an_urgent_job_its_reader_still_waits_for_is_urgent(fetch, service, tmp_path):
    """hls.js asks for a seek's segment before it drops its request for the one it was loading:
    the new seek's segment runs at the server's priority all the same."""
    base = thread_nice()
    source = write_sample(tmp_path / "reader.avi", 30, 25, (320, 240), codec="mjpeg")
    service.settings = replace(service.settings, preset="slower", transcode_short_seconds=2.0)
    names = segment_names((await fetch(hls_url(source, "transcode"))).body.decode())
    assert (await fetch(hls_url(source, "transcode", names[3]))).code == 200
    reader = asyncio.ensure_future(fetch(hls_url(source, "transcode", names[4])))  # still waiting

    def reader_waits():  # for segment 4's job, running
        return any(t.job.index == 4 and t.started and t.waiters for t in service._tasks.values())

    assert await wait_for(reader_waits, 20)
    assert (await fetch(hls_url(source, "transcode", names[10]))).code == 200
    assert (await reader).code == 200
    await service.idle()
    assert ran_at(service)[4] == base and ran_at(service)[10] == base


async def test_playback_that_keeps_up_stays_at_the_lower_priority(fetch, service, tmp_path):
    base = thread_nice()
    source = write_sample(tmp_path / "play.mkv", 6, 25, SIZE, codec="hevc", gop=25)
    names = segment_names((await fetch(hls_url(source, "transcode"))).body.decode())
    assert (await fetch(hls_url(source, "transcode", names[0]))).code == 200
    await service.idle()
    # Segments 1 and 2 were made ahead: asking for them waits for nothing, and what is
    # prefetched then (3, 4) is nobody's wait.
    for name in names[1:3]:
        assert (await fetch(hls_url(source, "transcode", name))).code == 200
        await service.idle()
    assert ran_at(service) == {0: base, 1: base, 2: base + NICE, 3: base + NICE, 4: base + NICE}


async def test_the_first_segment_asked_with_the_playlist_is_urgent(fetch, service, tmp_path):
    base = thread_nice()
    source = write_sample(tmp_path / "start.mkv", 6, 25, SIZE, codec="hevc", gop=25)
    assert (await fetch(hls_url(source, "transcode") + "?at=2.5")).code == 200
    assert await wait_for(lambda: 2 in ran_at(service), 20)
    await service.idle()
    assert ran_at(service) == {2: base}


def test_a_continued_decoder_runs_at_the_priority_of_the_job_that_takes_it(tmp_path):
    """The unit under the service: a decoder opened on an urgent thread, continued by a
    lowered one, has its threads lowered; continued the other way it is left as it is."""
    source = write_sample(tmp_path / "clip.mkv", 3, 25, SIZE, codec="hevc", gop=25)
    segments = plan(probe(source), "transcode")
    settings = EncodeSettings(preset="ultrafast")
    park = CursorPark()
    seen: dict[int, object] = {}

    def job(index: int, nice: int) -> None:
        lower_thread_priority(nice)
        start, end = segments.span(index)
        made = Job(str(source), "transcode", index, start, end, False, True, settings)
        make_segment(made, str(tmp_path / f"{index}.ts"), threading.Event(), park)
        seen[index] = [thread_nice(t) for t in park._parked[cursor_key(made)].threads]

    base = thread_nice()
    assert base is not None
    for index, nice in ((0, 0), (1, NICE)):
        worker = threading.Thread(target=job, args=(index, nice))
        worker.start()
        worker.join()
    assert park.continued == 1
    assert seen[0] and set(seen[0]) == {base}
    assert set(seen[1]) == {min(19, base + NICE)}

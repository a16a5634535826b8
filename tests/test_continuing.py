"""Decoders that continue from one transcoded segment to the next (continuing.py): the same
frames as a fresh job's, taken up only where they stopped, bounded, closed when cancelled."""

from __future__ import annotations

import hashlib
import threading

import av
import pytest
from helpers import hls_url, segment_names, without_held
from test_segments import CancelAfter

from jupyter_rangevideo.continuing import Cursor, CursorPark
from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import read_frame_index, write_sample
from jupyter_rangevideo.segment_jobs import AUDIO_LEAD, HELD_COPIES, Cancelled, Job, cursor_key, make_segment
from jupyter_rangevideo.segment_plan import EncodeSettings, plan_segments

# Every source is "heavy": short segments, as a 4K60 phone clip gets.
SHORT = EncodeSettings(heavy_pixels_per_second=0)


@pytest.fixture(scope="module")
def phone_like(tmp_path_factory):
    """HEVC with B-frames and AAC, turned 90°, a keyframe a second: a phone's clip in small."""
    folder = tmp_path_factory.mktemp("continuing")
    return write_sample(
        folder / "phone.mov",
        duration=3,
        fps=25,
        size=(180, 320),
        codec="hevc",
        audio="aac",
        rotation=90,
        gop=25,
    )


def jobs(path, settings=SHORT, delivery="transcode"):
    facts = probe(path)
    plan = plan_segments(facts, delivery, settings)
    return [
        Job(str(path), delivery, n, *plan.span(n), n == plan.count - 1, plan.exact, settings, facts.validator)
        for n in range(plan.count)
    ]


def pictures(path):
    """(time, frame index, hash of the pixels) of every picture of a segment, and its sound's times."""
    with av.open(str(path)) as segment:
        frames = [
            (round(float(f.pts * f.time_base), 4), read_frame_index(a := f.to_ndarray(format="rgb24")))
            + (hashlib.sha1(a.tobytes()).hexdigest(),)
            for f in segment.decode(video=0)
        ]
    with av.open(str(path)) as segment:
        sound = [round(float(p.pts * p.time_base), 4) for p in segment.demux(audio=0) if p.pts is not None]
    return frames, sound


def make_all(todo, folder, park=None):
    made = []
    for job in todo:
        out = folder / f"{'continued' if park else 'fresh'}-{job.index}.ts"
        make_segment(job, str(out), threading.Event(), park)
        made.append(pictures(out))
    return made


def test_a_continued_decoder_makes_the_frames_of_a_fresh_one(phone_like, tmp_path):
    todo = jobs(phone_like)
    assert len(todo) >= 6
    park = CursorPark()
    continued = make_all(todo, tmp_path, park)
    assert park.continued == len(todo) - 1  # every job after the first took its predecessor's up
    assert len(park) == 0  # the last segment's job closes it: nothing follows
    fresh = make_all(todo, tmp_path)
    for n, ((frames, sound), (fresh_frames, fresh_sound)) in enumerate(zip(continued, fresh)):
        # A fresh job's segment (a seek's) ends with copies of its last picture, up to then the same
        # pictures; the last one's quality may differ a little (x264 weighs a frame by how long it
        # is shown until the next, a copy), not which frame it is.
        fresh_frames, held = without_held(fresh_frames)
        frames = without_held(frames)[0] if n == 0 else frames  # (the first job is fresh too)
        assert frames[:-1] == fresh_frames[:-1] and frames[-1][:2] == fresh_frames[-1][:2], n
        assert held == (0 if n == len(todo) - 1 else HELD_COPIES), n
        # A fresh job's sound runs on past its pictures (a seek's: AUDIO_LEAD); up to there, the same.
        assert sound == fresh_sound[: len(sound)] and (
            n in (0, len(todo) - 1) or len(fresh_sound) > len(sound)
        ), n
    indices = [index for frames, _ in continued for _, index, _ in without_held(frames)[0]]
    assert indices == list(range(75))  # every frame once, in order


def sound_span(path):
    """From the first sample of a file's sound to the end of its last."""
    with av.open(str(path)) as media:
        packets = [p for p in media.demux(audio=0) if p.pts is not None]
    first, last = packets[0], packets[-1]
    return float(first.pts * first.time_base), float((last.pts + last.duration) * last.time_base)


def test_a_seeks_segment_has_sound_past_its_pictures_and_playbacks_do_not(phone_like, tmp_path):
    # Chromium completes a paused seek once it holds 0.2 s of sound from the target on: a
    # segment whose job decodes from the keyframe (a seek's) holds sound from its first picture
    # to AUDIO_LEAD past its end, so that a seek anywhere in it needs no later segment. A job
    # that continues the decoder (playback in order) ends its sound with its pictures: sound
    # held past the pictures would play on at a stall, and the pictures missed be dropped.
    todo = jobs(phone_like)
    park = CursorPark()
    sound_end = sound_span(phone_like)[1]
    assert AUDIO_LEAD >= 0.25  # 0.2 s past a target at a segment's last instant, and some room
    for job in todo:
        for name, cursors in (("continued", park), ("fresh", None)):
            out = tmp_path / f"{name}-{job.index}.ts"
            make_segment(job, str(out), threading.Event(), cursors)
            frames, _ = pictures(out)
            start, end = sound_span(out)
            assert start <= frames[0][0] + 0.022, (name, job.index, start)  # within an AAC frame
            if job.last:
                assert end == pytest.approx(sound_end, abs=0.022), (name, end)
            elif name == "fresh" or job.index == 0:  # (the first job has no decoder to continue)
                assert end >= min(job.end + AUDIO_LEAD, sound_end) - 0.001, (name, job.index, end)
            else:
                assert job.end - 0.001 <= end <= job.end + 0.022, (name, job.index, end)
    assert park.continued == len(todo) - 1


def test_a_seeks_segment_holds_its_last_picture_to_its_end_and_playbacks_do_not(phone_like, tmp_path):
    # Chromium completes a paused seek once it has decoded a few frames from the target on, and
    # its decoder holds back the last frames it was given: a segment whose job decodes from the
    # keyframe (a seek's) ends with HELD_COPIES copies of its last picture, shown in the time
    # that picture is shown anyway, so that a seek to its last frames needs no later segment.
    # A job that continues the decoder (playback in order) adds none.
    todo = jobs(phone_like)
    park = CursorPark()
    assert HELD_COPIES >= 5  # the 4 frames Chromium buffers, and its decoder's delay
    for job in todo:
        for name, cursors in (("continued", park), ("fresh", None)):
            out = tmp_path / f"{name}-{job.index}.ts"
            make_segment(job, str(out), threading.Event(), cursors)
            frames, held = without_held(pictures(out)[0])
            want = [round(job.start * 25 + k) for k in range(round((job.end - job.start) * 25))]
            assert [i for _, i, _ in frames] == want, (name, job.index)
            copies = pictures(out)[0][len(frames) :]
            fresh = name == "fresh" or job.index == 0  # (the first job has no decoder to continue)
            assert held == (HELD_COPIES if fresh and not job.last else 0), (name, job.index, held)
            times = [t for t, *_ in frames[-1:] + copies]
            assert times == sorted(set(times)) and times[-1] < job.end, (name, job.index, times)


def test_a_decoder_is_taken_up_only_where_it_stopped(phone_like, tmp_path):
    todo = jobs(phone_like)
    park = CursorPark()
    make_segment(todo[3], str(tmp_path / "3.ts"), threading.Event(), park)
    assert len(park) == 1
    make_segment(todo[6], str(tmp_path / "6.ts"), threading.Event(), park)  # a seek: opened afresh
    assert park.continued == 0 and len(park) == 1  # it replaced the one left at segment 4
    frames, _ = pictures(tmp_path / "6.ts")
    assert frames[0][1] == round(todo[6].start * 25)
    make_segment(todo[7], str(tmp_path / "7.ts"), threading.Event(), park)
    assert park.continued == 1
    # Another version of the file, or other settings, never continue this one.
    other = Job(
        *[getattr(todo[8], f) for f in ("path", "delivery", "index", "start", "end", "last", "exact")],
        SHORT,
        ("another version",),
    )
    assert cursor_key(other) != cursor_key(todo[8])
    assert park.take(cursor_key(other), other.start) is None and len(park) == 1


def test_a_cancelled_job_closes_its_decoder_and_the_next_opens_afresh(phone_like, tmp_path):
    todo = jobs(phone_like)
    park = CursorPark()
    make_segment(todo[0], str(tmp_path / "0.ts"), threading.Event(), park)
    left = park._parked[cursor_key(todo[0])]
    with pytest.raises(Cancelled):
        make_segment(todo[1], str(tmp_path / "1.ts"), CancelAfter(3), park)
    assert park.continued == 1 and len(park) == 0 and left.packets is None  # taken up, then closed
    make_segment(todo[1], str(tmp_path / "1.ts"), threading.Event(), park)
    assert park.continued == 1  # nothing to continue: a fresh decoder, the same frames
    frames, _ = pictures(tmp_path / "1.ts")
    frames, held = without_held(frames)
    assert [i for _, i, _ in frames] == list(range(round(todo[1].start * 25), round(todo[1].end * 25)))
    assert held == HELD_COPIES


class Closing:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


def parked(position):
    return Cursor(Closing(), None, None, position=position)


def test_the_park_keeps_to_its_bound_and_closes_what_idles():
    now = [0.0]
    park = CursorPark(capacity=2, idle=10, clock=lambda: now[0])
    a, b, c = parked(1.0), parked(2.0), parked(3.0)
    park.park("a", a)
    now[0] = 1
    park.park("b", b)
    park.park("c", c)  # over the capacity: the least recently parked goes
    assert len(park) == 2 and a.container.closed and not b.container.closed
    again = parked(1.5)
    park.park("b", again)  # one a key: the one before is closed
    assert b.container.closed and len(park) == 2
    assert park.take("c", 2.0) is None and park.take("c", 3.0) is c and len(park) == 1
    now[0] = 11.5
    park.sweep()  # unused for 10 s: closed
    assert again.container.closed and len(park) == 0
    d, late = parked(4.0), parked(5.0)
    park.park("d", d)
    park.close_all()  # the service shuts down: what is parked, and what a running job parks later
    park.park("e", late)
    assert len(park) == 0 and d.container.closed and late.container.closed


@pytest.fixture
def jp_server_config(tmp_path):
    from helpers import server_config

    return server_config(cache_dir=str(tmp_path / "cache"), transcode_workers=2, preset="ultrafast")


async def test_the_service_continues_a_timeline_one_job_at_a_time(fetch, service, phone_like):
    service.settings = SHORT
    names = segment_names((await fetch(hls_url(phone_like, "transcode"))).body.decode())
    for name in names[:4]:  # a player's playback, in order
        assert (await fetch(hls_url(phone_like, "transcode", name))).code == 200
    await service.idle()
    assert service.cursors.continued >= 3
    started = [i for e, *_, i in service.history if e == "started"]
    made = [i for e, *_, i in service.history if e == "made"]
    assert started == made  # one job of a timeline at a time, each after the one it continues
    assert len(service.cursors) <= 1


async def test_the_service_gives_sound_past_the_pictures_to_a_seeks_segment_only(
    fetch, service, phone_like, tmp_path
):
    # A seek's segment (a player waits for it, its job decodes from the keyframe) carries sound
    # AUDIO_LEAD past its pictures; the next ones, prefetched continuing its decoder, do not.
    service.settings = SHORT
    todo = jobs(phone_like)
    names = segment_names((await fetch(hls_url(phone_like, "transcode"))).body.decode())
    spans = {}
    for index in (6, 7, 8):  # 6 asked first (a seek); 7 and 8 made meanwhile as its prefetches
        r = await fetch(hls_url(phone_like, "transcode", names[index]))
        assert r.code == 200
        (tmp_path / names[index]).write_bytes(r.body)
        spans[index] = sound_span(tmp_path / names[index])
        await service.idle()
    assert spans[6][1] >= todo[6].end + AUDIO_LEAD - 0.001, spans
    for index in (7, 8):
        assert todo[index].end - 0.001 <= spans[index][1] <= todo[index].end + 0.022, (index, spans)
    assert service.cursors.continued >= 2

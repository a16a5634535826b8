"""Remuxed and transcoded deliveries as HLS: the playlist, the segment jobs, and their runner.

- The playlist (HLS VOD) is computed from the probe before any segment is made, so the page
  knows the whole timeline at once and a seek anywhere asks for one segment.
- Segments are MPEG-TS holding H.264 (+ AAC). Their timestamps are the source's presentation
  times minus the stream's start, so time t in the player is time t in the source and the
  probe's frame clock maps frames on every delivery.
- remux copies the video packets, cutting at source keyframes; transcode decodes each
  fixed-length segment from the keyframe before it and re-encodes it with libx264, starting
  with an IDR frame exactly at the boundary.
- :class:`SegmentService` runs the jobs: two requests for one segment wait on one job, a
  couple of segments ahead of the last one asked are prefetched, work nobody waits for any
  more is cancelled (queued jobs are dropped, a running one stops between frames), and a
  bounded pool of low-priority threads does the CPU work, away from the event loop.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import math
import os
import stat
import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .cache import SegmentCache, make_key
from .delivery import REMUX_AUDIO
from .probe import MediaError, Probe

DELIVERIES = ("remux", "transcode", "proxy")
# Remux segments cost a copy, so they can be long (fewer requests); transcode segments cost
# an encode, and a seek waits for one: 1 s segments halve what a seek waits for. Each segment
# decodes from the source keyframe before its start, though, so short segments repeat that
# decode: with keyframes up to 2 s apart that is at most 1 s of extra decoding per segment
# (playback stays above 2x real time at 1080p on two cores); where keyframes are further
# apart, segments are 2 s long so that the repeated decoding does not slow playback down.
REMUX_SECONDS = 4.0
TRANSCODE_SECONDS = 2.0
TRANSCODE_SHORT_SECONDS = 1.0
AUDIO_SECONDS = 4.0
# The proxy (proxy.py): a small, short-GOP, silent rendition to show frames at once while the
# source's own seek decodes from a far keyframe. Two seconds per segment: a seek that finds
# none ready waits for one short job, and hls.js buffers a few around the playhead.
PROXY_SECONDS = 2.0
MPEG_TS_CLOCK = 90_000
# A frame this close to a boundary is on it (timestamps are rounded in every container).
EPSILON = 1e-3
# Bumped whenever the bytes a job writes change, so old cache entries are never reused.
FORMAT_VERSION = 1


class Cancelled(Exception):
    """Nobody waits for the segment any more."""


class SegmentError(RuntimeError):
    """A segment could not be made (the file is damaged there, or an encoder failed)."""


@dataclass(frozen=True)
class EncodeSettings:
    max_height: int = 1080
    crf: int = 23
    preset: str = "ultrafast"
    remux_seconds: float = REMUX_SECONDS
    transcode_seconds: float = TRANSCODE_SECONDS
    transcode_short_seconds: float = TRANSCODE_SHORT_SECONDS  # where keyframes are 2x this close
    proxy_height: int = 360
    proxy_gop: int = 4  # a step back decodes at most this many small frames
    proxy_crf: int = 28
    proxy_seconds: float = PROXY_SECONDS


# ---------------------------------------------------------------- playlist maths (pure)


@dataclass(frozen=True)
class Plan:
    """Segment boundaries in seconds: segment n spans [starts[n], starts[n+1]), the last one
    ends at ``end``. ``exact`` is False for a remux of a file whose keyframes are unknown:
    each segment then really starts at the first keyframe at or after its nominal start."""

    delivery: str
    starts: tuple[float, ...]
    end: float
    exact: bool = True

    @property
    def count(self) -> int:
        return len(self.starts)

    def span(self, index: int) -> tuple[float, float]:
        stop = self.starts[index + 1] if index + 1 < self.count else self.end
        return self.starts[index], stop

    def index_at(self, seconds: float) -> int:
        """The segment that shows time ``seconds`` (the first or last one outside the timeline)."""
        if math.isnan(seconds):
            return 0
        return max(0, bisect.bisect_right(self.starts, seconds + EPSILON) - 1)


def plan(facts: Probe, delivery: str, settings: EncodeSettings = EncodeSettings()) -> Plan:
    """Where the segments of ``facts`` start for ``delivery`` ("remux", "transcode" or "proxy")."""
    if delivery not in DELIVERIES:
        raise ValueError(f"segmented delivery must be one of {DELIVERIES}, not {delivery!r}")
    duration = facts.duration
    if not duration or duration <= 0:
        raise MediaError(f"{facts.path!r}: its duration is unknown, so it cannot be cut into segments")
    if facts.video is None:
        if delivery == "proxy":
            raise MediaError(f"{facts.path!r} has no video, so it has no proxy")
        return Plan(delivery, _nominal(duration, AUDIO_SECONDS), duration)
    if delivery == "remux":
        nominal = _nominal(duration, settings.remux_seconds)
        if not facts.keyframes:
            return Plan(delivery, nominal, duration, exact=False)
        return Plan(delivery, _first_at_or_after(facts.keyframes, nominal), duration)
    if delivery == "proxy":
        seconds = settings.proxy_seconds
    elif _keyframes_within(facts.keyframes, 2 * settings.transcode_short_seconds, duration):
        seconds = settings.transcode_short_seconds
    else:
        seconds = settings.transcode_seconds
    nominal = _nominal(duration, seconds)
    clock = facts.clock
    if clock is None or not clock.runs or not clock.exact:
        return Plan(delivery, nominal, duration)
    frame_times = []
    for t in nominal:  # snap to frame times: segment n starts with the frame shown at its start
        frame = clock.frame_at(t)
        if clock.time_of(frame) < t - EPSILON:
            if frame + 1 >= clock.frame_count:
                break  # no frame at or after t: the previous segment runs to the end
            frame += 1
        frame_times.append(round(clock.time_of(frame), 6))
    return Plan(delivery, _dedupe(frame_times), duration)


def _keyframes_within(keyframes: tuple[float, ...], seconds: float, duration: float) -> bool:
    """Whether keyframes known for the whole file are never more than ``seconds`` apart (a
    bounded packet scan may list only the first ones: those say nothing of the rest)."""
    if not keyframes or duration - keyframes[-1] > 2 * seconds:
        return False
    allowed = seconds * 1.05 + EPSILON  # timestamps are rounded in every container
    return all(b - a <= allowed for a, b in zip((0.0, *keyframes), keyframes))


def _nominal(duration: float, seconds: float) -> tuple[float, ...]:
    count = max(1, math.ceil(duration / seconds - EPSILON))
    return tuple(round(n * seconds, 6) for n in range(count))


def _first_at_or_after(keyframes: tuple[float, ...], nominal: tuple[float, ...]) -> tuple[float, ...]:
    keys = sorted(keyframes)
    chosen = [0.0]  # the first segment starts at the file's start (its first frame is a keyframe)
    for t in nominal[1:]:
        i = bisect.bisect_left(keys, t - EPSILON)
        if i < len(keys):
            chosen.append(keys[i])
    return _dedupe(chosen)


def _dedupe(times: list[float]) -> tuple[float, ...]:
    out: list[float] = []
    for t in times:
        if not out or t > out[-1] + EPSILON:
            out.append(t)
    return tuple(out)


def playlist(segments: Plan) -> str:
    """The HLS VOD media playlist; segment URIs are relative (``seg-00012.ts``)."""
    durations = [segments.span(n)[1] - segments.span(n)[0] for n in range(segments.count)]
    target = max(1, math.ceil(max(durations) - EPSILON))
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    for n, seconds in enumerate(durations):
        lines += [f"#EXTINF:{seconds:.6f},", segment_name(n)]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def segment_name(index: int) -> str:
    return f"seg-{index:05d}.ts"


# ---------------------------------------------------------------- segment jobs (PyAV, blocking)


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to make one segment."""

    path: str
    delivery: str
    index: int
    start: float
    end: float  # the next segment's (nominal) start; the file's end for the last segment
    last: bool
    exact: bool
    settings: EncodeSettings


def make_segment(job: Job, out_path: str, cancel: threading.Event) -> None:
    """Write segment ``job`` as MPEG-TS to ``out_path``; raises Cancelled, SegmentError."""
    import av

    try:
        with av.open(job.path, metadata_errors="ignore") as source:
            video = next((s for s in source.streams.video if not _cover_art(s)), None)
            audio = source.streams.audio[0] if source.streams.audio else None
            if job.delivery == "proxy":
                if video is None:
                    raise SegmentError(f"{job.path!r} has no video, so it has no proxy")
                audio = None  # shown only while paused: no sound to carry
            with av.open(out_path, "w", format="mpegts", options=_TS_OPTIONS) as out:
                if video is not None and job.delivery == "remux":
                    _remux(job, source, video, audio, out, cancel)
                else:
                    _transcode(job, source, video, audio, out, cancel)
    except (Cancelled, SegmentError):
        raise
    except (av.FFmpegError, ValueError, OSError) as e:
        raise SegmentError(f"segment {job.index} of {job.path!r} failed: {e}") from None


# Keep the given timestamps (the muxer otherwise adds 1.4 s), negative ones included.
_TS_OPTIONS = {"mpegts_copyts": "1", "avoid_negative_ts": "disabled"}


def _cover_art(stream: Any) -> bool:
    return bool(stream.disposition & 0x400)


def _origin(stream: Any) -> int:
    return int(stream.start_time or 0)


def _seconds(stream: Any, pts: int | None, origin: int) -> float | None:
    return None if pts is None else float((pts - origin) * stream.time_base)


def _seek(source: Any, stream: Any, target: float) -> None:
    """Position the demuxer at the keyframe at or before ``target`` seconds, where the index allows."""
    if target <= 0:
        source.seek(0, backward=True, any_frame=False, stream=stream)
        return
    source.seek(
        _origin(stream) + round(target / stream.time_base), backward=True, any_frame=False, stream=stream
    )


# How far before a segment's start to seek when the container's seek lands past it (no index).
_SEEK_BACK = (0.0, 1.0, 6.0, 30.0, math.inf)
# Packets read after a seek while looking for the anchor stream's first keyframe.
_MAX_LOOKAHEAD = 4096


def _packets_from(job: Job, source: Any, streams: list[Any], anchor: Any, start: float) -> Iterator[Any]:
    """Packets of ``streams`` from a keyframe of ``anchor`` at or before ``start``.

    Indexed containers land there at the first try. Unindexed ones (MPEG-TS) may land
    past it, or between keyframes: then seek further back, a bounded number of times,
    and finally read from the very start.
    """
    origin = _origin(anchor)
    for back in _SEEK_BACK:
        target = start - back
        _seek(source, anchor, target)
        packets = source.demux(*streams)
        read: list[Any] = []
        key = None
        for packet in packets:
            read.append(packet)
            if packet.stream is anchor and packet.pts is not None and packet.is_keyframe:
                key = packet
                break
            if len(read) > _MAX_LOOKAHEAD:
                break
        at = None if key is None else _seconds(anchor, key.pts, origin)
        if target <= 0 or (at is not None and at <= start + EPSILON):
            yield from read
            yield from packets
            return
    raise SegmentError(f"cannot seek to {start:.3f} s in {job.path!r}")  # pragma: no cover


def _remux(job: Job, source: Any, video: Any, audio: Any, out: Any, cancel: threading.Event) -> None:
    out_video = out.add_stream_from_template(video)
    out_video.time_base = Fraction(1, MPEG_TS_CLOCK)
    origin = _origin(video)
    sound = _AudioOut(audio, out, True, float(origin * video.time_base)) if audio is not None else None
    streams = [video] + ([audio] if audio is not None else [])
    begin: float | None = None  # where this segment really starts: its first keyframe
    floor = 0.0  # audio from here on is this segment's: from its first keyframe
    finish: float | None = None  # where the next one starts: the first keyframe at or after job.end
    held: list[tuple[float, Any]] = []  # audio read before we know which segment it belongs to
    video_origin = float(origin * video.time_base)

    def place(upto: float | None) -> None:
        """Write the held audio in [begin, upto); keep what may belong to the next segment."""
        assert sound is not None and begin is not None
        keep = []
        for t, packet in held:
            if upto is None or t < upto - EPSILON:
                if t >= floor - EPSILON:
                    sound.add(packet)
            elif finish is None:
                keep.append((t, packet))
        held[:] = keep

    for count, packet in enumerate(_packets_from(job, source, streams, video, job.start)):
        if count % 64 == 0 and cancel.is_set():
            raise Cancelled()
        if packet.dts is None and packet.pts is None:
            continue
        if packet.stream is video:
            t = _seconds(video, packet.pts if packet.pts is not None else packet.dts, origin)
            assert t is not None
            if begin is None:
                if not (packet.is_keyframe and t >= job.start - EPSILON):
                    continue
                begin = t
                # Audio before the first keyframe is dropped, also in the first segment:
                # hls.js starts its timeline at the first sample, which must be a picture.
                floor = begin
                if sound is not None:
                    place(None if job.last else job.end)
            elif finish is None and not job.last and packet.is_keyframe and t >= job.end - EPSILON:
                finish = t
                if sound is not None:
                    place(finish)
            if finish is not None:
                # Audio is interleaved within a second or two of its video in any sane file.
                if sound is None or t >= finish + 3.0:
                    break
                continue
            _shift(packet, origin)
            packet.stream = out_video
            out.mux(packet)
        elif sound is not None and packet.pts is not None:
            t = float(packet.pts * audio.time_base) - video_origin
            if finish is not None:
                if t >= finish - EPSILON:
                    break
                if t >= floor - EPSILON:
                    sound.add(packet)
            elif begin is None or (not job.last and t >= job.end - EPSILON):
                held.append((t, packet))
                del held[:-1024]  # bounded: audio far ahead of its video is not this segment's
            elif t >= floor - EPSILON:
                sound.add(packet)
    if begin is None:
        raise SegmentError(f"no keyframe at or after {job.start:.3f} s in {job.path!r}")
    if sound is not None:
        place(finish)
        sound.close()


def _shift(packet: Any, origin: int) -> None:
    if packet.pts is not None:
        packet.pts -= origin
    if packet.dts is not None:
        packet.dts -= origin


class _AudioOut:
    """Audio for one segment, copied (AAC, MP3) or re-encoded to AAC, timestamps shifted by
    ``origin`` seconds. The caller decides which packets belong to the segment."""

    def __init__(self, stream: Any, out: Any, copy: bool, origin: float):
        self.stream = stream
        self.out = out
        self.origin = origin
        self.copy = copy and stream.codec_context.codec.canonical_name in REMUX_AUDIO
        if self.copy:
            self.target = out.add_stream_from_template(stream)
            self.shift = round(origin / stream.time_base)
        else:
            context = stream.codec_context
            self.rate = context.sample_rate or 48000
            layout = "mono" if (context.channels or 2) == 1 else "stereo"
            self.target = out.add_stream("aac", rate=self.rate, layout=layout)
            self.target.time_base = Fraction(1, self.rate)

    def add(self, packet: Any, lo: float = -math.inf, hi: float = math.inf) -> None:
        """Write one source packet; re-encoded audio keeps only the frames in [lo, hi)."""
        if self.copy:
            if packet.pts is not None:
                packet.pts -= self.shift
                if packet.dts is not None:
                    packet.dts -= self.shift
                packet.stream = self.target
                self.out.mux(packet)
            return
        for frame in packet.decode():
            if frame.pts is None:
                continue
            t = float(frame.pts * frame.time_base) - self.origin
            if t < lo - EPSILON or t >= hi - EPSILON:
                continue
            frame.pts = round(t * self.rate)
            frame.time_base = Fraction(1, self.rate)
            self.out.mux(self.target.encode(frame))

    def close(self) -> None:
        if not self.copy:
            self.out.mux(self.target.encode(None))


def output_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    """The encoded picture size: the source's, no taller than ``max_height``, even sides."""
    out_height = min(height, max_height)
    out_width = round(width * out_height / height)
    return max(2, out_width - out_width % 2), max(2, out_height - out_height % 2)


def _transcode(job: Job, source: Any, video: Any, audio: Any, out: Any, cancel: threading.Event) -> None:
    anchor = video if video is not None else audio
    origin = float(_origin(anchor) * anchor.time_base)
    encoder = None
    if video is not None:
        video.thread_type = "AUTO"
        context = video.codec_context
        proxy = job.delivery == "proxy"
        max_height = job.settings.proxy_height if proxy else job.settings.max_height
        width, height = output_size(context.width, context.height, max_height)
        encoder = out.add_stream("libx264", rate=_rate(video))
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        encoder.time_base = Fraction(1, MPEG_TS_CLOCK)
        encoder.options = {
            "preset": job.settings.preset,
            "crf": str(job.settings.proxy_crf if proxy else job.settings.crf),
            "bf": "0",  # no B-frames: decode order is presentation order, no negative dts
            # One IDR at the segment's first frame; the proxy has one every few frames, so
            # a browser seeking in it decodes a handful of small frames, never a long run.
            "g": str(job.settings.proxy_gop) if proxy else "100000",
        }
        if proxy:
            encoder.options = {**encoder.options, "keyint_min": "1", "sc_threshold": "0"}
    sound = _AudioOut(audio, out, job.delivery == "remux", origin) if audio is not None else None
    finish = None if job.last else job.end
    streams = [s for s in (video, audio) if s is not None]
    video_done = video is None
    audio_done = sound is None

    def take(frame: Any) -> bool:
        """Encode one decoded frame; True once past the segment's end."""
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:
            return False
        t = float(pts * video.time_base) - origin
        if t < job.start - EPSILON:
            return False
        if finish is not None and t >= finish - EPSILON:
            return True
        assert encoder is not None
        picture = frame.reformat(encoder.width, encoder.height, "yuv420p")
        picture.pts = round(t * MPEG_TS_CLOCK)
        picture.time_base = encoder.time_base
        out.mux(encoder.encode(picture))
        return False

    for packet in _packets_from(job, source, streams, anchor, job.start):
        if cancel.is_set():
            raise Cancelled()
        if packet.stream is video:
            if video_done:
                continue
            for frame in packet.decode():
                if cancel.is_set():
                    raise Cancelled()
                if take(frame):
                    video_done = True
                    break
        elif sound is not None and not audio_done:
            t = None if packet.pts is None else float(packet.pts * audio.time_base) - origin
            if t is not None and finish is not None and t >= finish - EPSILON:
                audio_done = True
            elif t is None or sound.copy is False or t >= job.start - EPSILON:
                sound.add(packet, job.start, math.inf if finish is None else finish)
        if video_done and audio_done:
            break
    if cancel.is_set():  # before the flush, which cannot stop midway (slow presets hold frames)
        raise Cancelled()
    if encoder is not None:
        # (At the end of the file demux() ends with an empty packet that flushed the decoder.)
        out.mux(encoder.encode(None))
    if sound is not None:
        sound.close()


def _rate(stream: Any) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < rate < 1000:
            return Fraction(rate)
    return Fraction(25)


# ---------------------------------------------------------------- the job runner (event loop side)


def _lower_priority(nice: int) -> None:
    """Run this pool thread (and the codec threads it starts) ``nice`` steps lower in CPU priority.

    On Linux a thread's nice value is its own and new threads inherit it, so encodes
    yield the CPU to the event loop's thread, which keeps serving bytes and websockets.
    """
    if nice <= 0:
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, current + nice))
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the normal priority
        pass


@dataclass(eq=False)
class _Task:
    key: str
    stream: tuple[str, str]  # (path, delivery): the jobs of one player's timeline
    job: Job
    future: asyncio.Future[str]
    cancel: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0
    started: bool = False
    order: int = 0
    # Made ahead of need for nobody in particular (the proxy's warm-up): runs last, on at most
    # background_slots workers, never cancelled by a player's seek elsewhere.
    background: bool = False
    ran_background: bool = False


@dataclass
class _Source:
    facts: Probe
    plans: dict[str, Plan] = field(default_factory=dict)


class SegmentService:
    """Playlists and segments for signed paths: probes cached, jobs deduplicated and bounded.

    Methods are coroutines for one event loop; the blocking work (stat, probe, cache I/O,
    encoding) runs in ``io_pool`` and in this service's own pool of ``workers`` threads.
    """

    def __init__(
        self,
        cache: SegmentCache,
        io_pool: Executor,
        workers: int = 2,
        settings: EncodeSettings = EncodeSettings(),
        prefetch: int = 2,
        probe_cache_size: int = 64,
        nice: int = 10,
    ):
        self.cache = cache
        self.io_pool = io_pool
        self.workers = max(1, workers)
        self.settings = settings
        self.prefetch = max(0, prefetch)
        self.pool = ThreadPoolExecutor(
            self.workers, "rangevideo-segment", initializer=_lower_priority, initargs=(nice,)
        )
        self.stats: Counter[str] = Counter()  # jobs "queued", "started", "made", "cancelled", "failed"
        self.history: deque[tuple[str, str, str, int]] = deque(maxlen=4096)  # (event, path, delivery, index)
        self._tasks: dict[str, _Task] = {}
        self._running = 0
        self._running_background = 0
        # Background work leaves a worker free for playback (when there are two or more).
        self.background_slots = max(1, self.workers - 1)
        self._order = 0
        self._probes: OrderedDict[tuple[str, tuple[int, int, int]], asyncio.Future[_Source]] = OrderedDict()
        self._probe_cache_size = probe_cache_size
        self._failures: OrderedDict[str, str] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()

    def shutdown(self) -> None:
        warmer = getattr(self, "proxy_warmer", None)  # proxy.py's, when a proxy was asked for
        if warmer is not None:
            warmer.shutdown()
        for task in self._tasks.values():
            task.cancel.set()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- probe facts, once per (path, validator)

    async def source(self, path: str) -> _Source:
        loop = asyncio.get_running_loop()
        info = await loop.run_in_executor(self.io_pool, _shareable_stat, path)
        key = (path, (info.st_size, info.st_mtime_ns, info.st_ino))
        pending = self._probes.get(key)
        if pending is None:
            from .probe import probe

            pending = asyncio.ensure_future(self._probe(loop, probe, path))
            self._probes[key] = pending
            while len(self._probes) > self._probe_cache_size:
                self._probes.popitem(last=False)
        else:
            self._probes.move_to_end(key)
        return await asyncio.shield(pending)

    async def _probe(self, loop: asyncio.AbstractEventLoop, probe: Any, path: str) -> _Source:
        return _Source(await loop.run_in_executor(self.io_pool, probe, path))

    def plan_for(self, source: _Source, delivery: str) -> Plan:
        if delivery not in source.plans:
            source.plans[delivery] = plan(source.facts, delivery, self.settings)
        return source.plans[delivery]

    async def playlist(self, path: str, delivery: str) -> str:
        return playlist(self.plan_for(await self.source(path), delivery))

    # -- segments

    async def segment(self, path: str, delivery: str, index: int) -> str:
        """The path of finished segment ``index``; raises IndexError past the playlist,
        MediaError, SegmentError."""
        source = await self.source(path)
        segments = self.plan_for(source, delivery)
        if not 0 <= index < segments.count:
            raise IndexError(f"segment {index} is past the end ({segments.count} segments)")
        stream = (path, delivery)
        self._forget_far(stream, index)
        key = self._key(source.facts, delivery, index)
        if key in self._failures:
            raise SegmentError(self._failures[key])
        task = self._tasks.get(key)
        if task is None:
            made = await asyncio.get_running_loop().run_in_executor(self.io_pool, self.cache.lookup, key)
            if made is not None:
                self._spawn(self._prefetch(source, segments, stream, index))
                return made
            task = self._tasks.get(key) or self._queue(key, stream, source.facts, segments, index)
        # Prefetches are queued after the segment asked for, so they never start before it.
        self._spawn(self._prefetch(source, segments, stream, index))
        task.background = False  # someone waits for it now
        task.waiters += 1
        self._dispatch()
        try:
            return await asyncio.shield(task.future)
        finally:
            task.waiters -= 1
            if task.waiters == 0 and not task.future.done():
                self._forget_far(stream, index + 1)  # left behind by its only reader (a seek away)

    def start(self, path: str, delivery: str, at: float) -> None:
        """Begin making the segment that shows ``at`` seconds (where a player about to start will
        ask first) unless it is made or under way: asked for with the playlist, it is ready
        sooner than if it waited for the player's own request. Nobody waits for it until the
        player asks, so a seek elsewhere first drops it as it drops any prefetch."""
        self._spawn(self._start(path, delivery, at))

    async def _start(self, path: str, delivery: str, at: float) -> None:
        source = await self.source(path)
        segments = self.plan_for(source, delivery)
        await self._queue_unless_made(source, segments, (path, delivery), segments.index_at(at))
        self._dispatch()

    async def warm(self, path: str, delivery: str, index: int) -> str | None:
        """Make segment ``index`` at background priority unless it is cached; its path, or
        None when it cannot be made (a failure is remembered as for a segment asked for)."""
        source = await self.source(path)
        segments = self.plan_for(source, delivery)
        if not 0 <= index < segments.count:
            return None
        key = self._key(source.facts, delivery, index)
        if key in self._failures:
            return None
        task = self._tasks.get(key)
        if task is None:
            made = await asyncio.get_running_loop().run_in_executor(self.io_pool, self.cache.lookup, key)
            if made is not None:
                return made
            task = self._tasks.get(key) or self._queue(
                key, (path, delivery), source.facts, segments, index, True
            )
        self._dispatch()
        try:
            return await asyncio.shield(task.future)
        except (SegmentError, Cancelled):
            return None
        except asyncio.CancelledError:
            if task.background and not task.waiters and not task.future.done():
                self._drop(task)  # the warm-up stopped: its job goes too
            raise

    def _drop(self, task: _Task) -> None:
        task.cancel.set()
        self._note("cancelled", task)
        if not task.started:
            del self._tasks[task.key]
            task.future.set_exception(Cancelled())

    def _key(self, facts: Probe, delivery: str, index: int) -> str:
        return make_key(FORMAT_VERSION, facts.path, facts.validator, delivery, self.settings, index)

    async def _prefetch(self, source: _Source, segments: Plan, stream: tuple[str, str], index: int) -> None:
        for ahead in range(index + 1, min(index + 1 + self.prefetch, segments.count)):
            await self._queue_unless_made(source, segments, stream, ahead)
        self._dispatch()

    async def _queue_unless_made(
        self, source: _Source, segments: Plan, stream: tuple[str, str], index: int
    ) -> None:
        """Queue segment ``index`` unless it is queued, running, failed or in the cache."""
        key = self._key(source.facts, stream[1], index)
        if key in self._tasks or key in self._failures:
            return
        loop = asyncio.get_running_loop()
        exists = await loop.run_in_executor(self.io_pool, os.path.exists, self.cache.path(key))
        if not exists and key not in self._tasks:
            self._queue(key, stream, source.facts, segments, index)

    def _queue(
        self,
        key: str,
        stream: tuple[str, str],
        facts: Probe,
        segments: Plan,
        index: int,
        background: bool = False,
    ) -> _Task:
        start, end = segments.span(index)
        job = Job(
            facts.path,
            stream[1],
            index,
            start,
            end,
            index == segments.count - 1,
            segments.exact,
            self.settings,
        )
        self._order += 1
        task = _Task(
            key,
            stream,
            job,
            asyncio.get_running_loop().create_future(),
            order=self._order,
            background=background,
        )
        task.future.add_done_callback(_retrieve)
        self._tasks[key] = task
        self._note("queued", task)
        return task

    def _forget_far(self, stream: tuple[str, str], index: int) -> None:
        """Cancel the jobs of ``stream`` nobody waits for, outside [index, index + prefetch]."""
        for task in list(self._tasks.values()):
            if task.stream != stream or task.waiters or task.background or task.future.done():
                continue
            if index <= task.job.index <= index + self.prefetch:
                continue
            self._drop(task)

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running < self.workers:
            background_free = self._running_background < self.background_slots
            waiting = [
                t
                for t in self._tasks.values()
                if not t.started and not t.cancel.is_set() and (background_free or not t.background)
            ]
            if not waiting:
                return
            # Segments someone waits for go first, then prefetches, oldest first, then warm-ups;
            # the seek proxy's (shown only while paused) after the playback deliveries'.
            task = min(
                waiting, key=lambda t: (t.background, t.job.delivery == "proxy", t.waiters == 0, t.order)
            )
            if task.waiters == 0 and any(t.started and t.waiters for t in self._tasks.values()):
                # Each encode already uses every core: a prefetch (or a warm-up) now would halve
                # the speed of the segment a player is waiting for (its first one, or a seek).
                return
            task.started = True
            task.ran_background = task.background
            self._running += 1
            self._running_background += task.ran_background
            self._note("started", task)
            work = loop.run_in_executor(self.pool, self._run, task.key, task.job, task.cancel)
            work.add_done_callback(functools.partial(self._finished, task))

    def _run(self, key: str, job: Job, cancel: threading.Event) -> str:
        if cancel.is_set():
            raise Cancelled()
        made = self.cache.lookup(key)  # another process may have made it meanwhile
        if made is not None:
            return made
        return self.cache.store(key, lambda temp: make_segment(job, temp, cancel))

    def _finished(self, task: _Task, done: asyncio.Future[str]) -> None:
        self._running -= 1
        self._running_background -= task.ran_background
        self._tasks.pop(task.key, None)
        if done.cancelled():
            error: BaseException | None = Cancelled()
        else:
            error = done.exception()
        if error is None:
            self._note("made", task)
            if not task.future.done():
                task.future.set_result(done.result())
        else:
            if isinstance(error, SegmentError):
                self._note("failed", task)
                self._failures[task.key] = str(error)
                while len(self._failures) > 256:
                    self._failures.popitem(last=False)
            elif not isinstance(error, Cancelled):
                self._note("failed", task)
                error = SegmentError(f"segment {task.job.index} of {task.job.path!r} failed: {error!r}")
            if not task.future.done():
                task.future.set_exception(error)
        try:
            self._dispatch()
        except RuntimeError:  # the loop or the pool is closing
            pass

    def _note(self, event: str, task: _Task) -> None:
        self.stats[event] += 1
        self.history.append((event, task.job.path, task.job.delivery, task.job.index))

    def _spawn(self, coroutine: Any) -> None:
        background = asyncio.ensure_future(coroutine)
        self._background.add(background)
        background.add_done_callback(self._background.discard)

    async def idle(self) -> None:
        """Wait until no job is queued or running (for tests and benchmarks)."""
        for _ in range(10_000):
            if not self._tasks and not self._background and self._running == 0:
                return
            await asyncio.sleep(0.01)


def _shareable_stat(path: str) -> os.stat_result:
    """The file's stat if it is still the regular file that was signed, else FileNotFoundError.

    As for the file route: a FIFO would hang the demuxer, and a path that now resolves
    elsewhere (a directory swapped for a symlink) names a file nobody shared.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise FileNotFoundError(f"{path!r} is not a regular file")
    if os.path.realpath(path) != path:
        raise FileNotFoundError(f"{path!r} now resolves to {os.path.realpath(path)!r}")
    return info


def _retrieve(future: asyncio.Future[str]) -> None:
    # A prefetch nobody ends up waiting for may fail or be cancelled: not an unhandled error.
    if not future.cancelled():
        future.exception()


def segment_service(
    cache_dir: str,
    cache_size: int,
    io_pool: Executor,
    workers: int = 2,
    prefetch: int = 2,
    settings: EncodeSettings = EncodeSettings(),
    nice: int = 10,
) -> SegmentService:
    """A SegmentService with its cache in ``cache_dir`` (empty: the user's cache directory)."""
    from .cache import default_directory

    directory = cache_dir or str(default_directory() / "segments")
    return SegmentService(
        SegmentCache(directory, cache_size), io_pool, workers, settings, prefetch, nice=nice
    )

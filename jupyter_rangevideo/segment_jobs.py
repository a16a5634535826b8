"""The jobs that make one HLS segment each with PyAV: blocking, run on the segment service's threads.

Segments are MPEG-TS holding H.264 (+ AAC). Their timestamps are the source's presentation
times minus the stream's start, so time t in the player is time t in the source and the
probe's frame clock maps frames on every delivery.

- remux copies the video packets, cutting at source keyframes;
- transcode (and the seek proxy) decodes each fixed-length segment from the keyframe before
  it and re-encodes it with libx264, starting with an IDR frame exactly at the boundary.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .continuing import MAX_CARRIED, Cursor, CursorPark
from .priority import threads_started
from .rotation import Upright, displayed_size, stream_rotation
from .segment_audio import AudioOut
from .segment_plan import EPSILON, EncodeSettings

MPEG_TS_CLOCK = 90_000
# Bumped whenever the bytes a job writes change, so old cache entries are never reused. 2: rotated
# videos turned upright; 3: no AAC priming before a segment; 4: AUDIO_LEAD; 5: HELD_COPIES.
FORMAT_VERSION = 5
# A segment made for a seek (a player waits for it) by a job that decodes from the keyframe has
# its sound run this far past its pictures' end (the next segment's sound starts at its own
# start again: the two overlap, and the later append replaces the earlier). Chromium completes
# a paused seek (readyState, "seeked", what a canvas draws) only once its audio renderer holds
# 200 ms of sound from the target on (media's AudioRendererAlgorithm, kStartingCapacity), so
# without it a seek to the last 0.2 s of a heavy source's short segment waited for the next
# segment's job as well. Other segments (playback in order, prefetches, the first one made with
# the playlist) add none: where playback stalls, Chromium plays the sound it holds past the
# pictures on and then drops the pictures it missed (0.3 s at a stall of a transcode slower
# than real time).
AUDIO_LEAD = 0.3
# Its pictures end with this many copies of its last picture, spread over the time that picture
# is shown anyway (before the next segment's first frame): Chromium completes a paused seek only
# with a few decoded frames from the target on, and its decoder holds the last frames it was
# given until more come, so a target among a segment's last frames waited for the next
# segment's job too. The copies show the same picture at the same times (frame-exact), and
# cost about 2 KiB each at 1080p; video past a segment's end cannot do it (hls.js moves
# overlapping video). Playback segments have none.
HELD_COPIES = 8


class Cancelled(Exception):
    """Nobody waits for the segment any more."""


class SegmentError(RuntimeError):
    """A segment could not be made (the file is damaged there, or an encoder failed)."""


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
    version: Hashable = None  # the file's validator: a decoder left for a changed file is not continued


def make_segment(
    job: Job, out_path: str, cancel: threading.Event, cursors: CursorPark | None = None, seek: bool = True
) -> bool:
    """Write segment ``job`` as MPEG-TS to ``out_path``; raises Cancelled, SegmentError.

    With ``cursors``, a transcode continues the decoder a job for the segment before it left
    there, and leaves its own for the segment after it (continuing.py). Returns whether it
    continued one. A transcode for a ``seek`` (a player waits for it) that decodes from the
    keyframe carries its sound AUDIO_LEAD past its pictures.
    """
    import av

    key = cursor_key(job)
    continuing = cursors is not None and job.delivery != "remux"
    cursor = cursors.take(key, job.start) if cursors is not None and continuing else None
    continued, parked = cursor is not None, False
    try:
        if cursor is None:
            cursor = _open(job)
        with av.open(out_path, "w", format="mpegts", options=_TS_OPTIONS) as out:
            if cursor.video is not None and job.delivery == "remux":
                _remux(job, cursor.container, cursor.video, cursor.audio, out, cancel)
            else:
                _transcode(job, cursor, out, cancel, AUDIO_LEAD if seek and not continued else 0.0)
        if cursors is not None and continuing and _continues(job, cursor):
            cursors.park(key, cursor)
            parked = True
    except (Cancelled, SegmentError):
        raise
    except (av.FFmpegError, ValueError, OSError) as e:
        raise SegmentError(f"segment {job.index} of {job.path!r} failed: {e}") from None
    finally:
        if cursor is not None and not parked:
            cursor.close()
    return continued


def cursor_key(job: Job) -> tuple[Any, ...]:
    """Which parked decoder a job may continue: the same file (and version), delivery, settings."""
    return (job.path, job.version, job.delivery, job.settings)


def _continues(job: Job, cursor: Cursor) -> bool:
    """Whether the next segment's job can take ``cursor`` up where ``job`` left it."""
    return (
        not job.last
        and cursor.video is not None
        and cursor.position is not None
        and len(cursor.carried) <= MAX_CARRIED
    )


def _open(job: Job) -> Cursor:
    """The job's source opened, its streams chosen, not yet positioned."""
    import av

    from .remote_registry import readable

    source = av.open(readable(job.path), "r", metadata_errors="ignore", buffer_size=_BUFFER)
    try:
        video = next((s for s in source.streams.video if not _cover_art(s)), None)
        audio = source.streams.audio[0] if source.streams.audio else None
        if job.delivery == "proxy":
            if video is None:
                raise SegmentError(f"{job.path!r} has no video, so it has no proxy")
            audio = None  # shown only while paused: no sound to carry
        rotation, threads = 0, list[int]()
        if video is not None and job.delivery != "remux":
            video.thread_type = "AUTO"
            rotation = stream_rotation(job.path, source, video)
            with threads_started() as threads:  # its frame threads, at this thread's priority
                video.codec_context.open(strict=False)
    except BaseException:
        source.close()
        raise
    return Cursor(source, video, audio, rotation, threads=tuple(threads))


# Bytes PyAV asks of a file object at a time (a remote object's reader; PyAV #512).
_BUFFER = 1024 * 1024

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
    sound = AudioOut(audio, out, True, float(origin * video.time_base)) if audio is not None else None
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


def output_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    """The encoded picture size: the source's, no taller than ``max_height``, even sides."""
    out_height = min(height, max_height)
    out_width = round(width * out_height / height)
    return max(2, out_width - out_width % 2), max(2, out_height - out_height % 2)


def _encoder(job: Job, cursor: Cursor, out: Any) -> tuple[Any, Upright]:
    """The segment's H.264 stream in ``out`` and the filter that scales and turns its pictures."""
    import av

    video = cursor.video
    context = video.codec_context
    proxy = job.delivery == "proxy"
    max_height = job.settings.proxy_height if proxy else job.settings.max_height
    # max_height bounds the picture as shown: a portrait phone clip is at most that tall.
    rotation = cursor.rotation
    width, height = output_size(*displayed_size(context.width, context.height, rotation), max_height)
    turn = Upright(av, displayed_size(width, height, rotation), rotation)  # scaled as stored, then turned
    encoder = out.add_stream("libx264", rate=_rate(video))
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = encoder.codec_context.time_base = Fraction(1, MPEG_TS_CLOCK)
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
    return encoder, turn


def _transcode(job: Job, cursor: Cursor, out: Any, cancel: threading.Event, lead: float = 0.0) -> None:
    """Decode the segment's span (from where ``cursor`` stands, else from the keyframe before
    it), encode its pictures; leave ``cursor`` at the segment's end with what was read past it."""
    import av

    video, audio = cursor.video, cursor.audio
    anchor = video if video is not None else audio
    origin = float(_origin(anchor) * anchor.time_base)
    encoder, turn = _encoder(job, cursor, out) if video is not None else (None, None)
    sound = AudioOut(audio, out, job.delivery == "remux", origin, job.start) if audio is not None else None
    finish = None if job.last else job.end
    # Sound to ``lead`` past the pictures' end; what is decoded of it goes on to the next job.
    sound_end = math.inf if finish is None else finish if video is None else finish + lead
    if cursor.packets is None:
        streams = [s for s in (video, audio) if s is not None]
        cursor.packets = _packets_from(job, cursor.container, streams, anchor, job.start)
    cursor.position = None  # until this segment is whole
    video_done = video is None
    audio_done = sound is None
    past: deque[Any] = deque()  # read past the segment's end: the next segment's
    last: list[Any] = []  # the last picture encoded (a seek's segment holds it: HELD_COPIES)

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
        assert encoder is not None and turn is not None
        picture = turn(frame)
        picture.pts = round(t * MPEG_TS_CLOCK)
        picture.time_base = encoder.time_base
        out.mux(encoder.encode(picture))
        last[:] = [picture, t]
        return False

    while not (video_done and audio_done):
        if cancel.is_set():
            raise Cancelled()
        item = cursor.next()
        if item is None:
            # The file's end (demux() ended with empty packets that flushed the decoders): its
            # sound may end within ``lead`` of the pictures'.
            audio_done = audio_done or video_done
            break
        if isinstance(item, av.VideoFrame) or (not isinstance(item, av.AudioFrame) and item.stream is video):
            if video_done:
                past.append(item)
                continue
            if isinstance(item, av.VideoFrame):
                frames = [item]
            else:
                _skip_unshown(video, item, origin, job.start)
                frames = item.decode()
            for n, frame in enumerate(frames):
                if cancel.is_set():
                    raise Cancelled()
                if take(frame):
                    video_done = True
                    past.extend(frames[n:])
                    break
        elif audio_done or sound is None:
            past.append(item)
        else:
            audio_done = _add_sound(item, sound, job, origin, sound_end, past)
    if cancel.is_set():  # before the flush, which cannot stop midway (slow presets hold frames)
        raise Cancelled()
    if encoder is not None:
        if lead and last and finish is not None and video_done:
            _hold(out, encoder, last[0], last[1], finish)
        out.mux(encoder.encode(None))
    if sound is not None:
        sound.close()
    if video_done and audio_done and finish is not None:
        cursor.carried = past + cursor.carried
        cursor.position = finish


def _hold(out: Any, encoder: Any, picture: Any, shown: float, finish: float) -> None:
    """Encode HELD_COPIES copies of ``picture``, shown from ``shown`` seconds, before ``finish``."""
    at, end = round(shown * MPEG_TS_CLOCK), round(finish * MPEG_TS_CLOCK)
    step = (end - at) // (HELD_COPIES + 1)
    for k in range(1, HELD_COPIES + 1) if step > 0 else ():
        picture.pts, picture.time_base = at + k * step, encoder.time_base
        out.mux(encoder.encode(picture))


def _add_sound(item: Any, sound: AudioOut, job: Job, origin: float, until: float, past: deque[Any]) -> bool:
    """Add a packet of the source's sound, or a frame of it that the job before decoded, to the
    segment up to ``until`` seconds; what the next segment's job needs of it goes to ``past``.
    True once past ``until``."""
    import av

    keep = math.inf if job.last else job.end  # from here on, the next segment's sound too
    if isinstance(item, av.AudioFrame):
        at = sound.add_frame(item, job.start, until)
        if at >= keep - EPSILON:
            past.append(item)
        return at >= until - EPSILON
    t = None if item.pts is None else float(item.pts * item.stream.time_base) - origin
    if t is not None and t >= until - EPSILON:
        past.append(item)
        return True
    if t is None or not sound.copy or t >= job.start - EPSILON:
        past.extend(sound.add(item, job.start, until, keep))
    return False


def _skip_unshown(video: Any, packet: Any, origin: float, start: float) -> None:
    """Frames before the segment's start are decoded only as references for the frames after
    them: a frame that nothing refers to (a non-reference B-frame) is not decoded at all. A
    seek into the second half of a 4K HEVC phone clip's second-long GOP decodes about a quarter
    fewer frames, and the frames it shows are the same."""
    t = None if packet.pts is None else float(packet.pts * video.time_base) - origin
    before = t is not None and t < start - EPSILON
    video.codec_context.skip_frame = "NONREF" if before else "DEFAULT"


def _rate(stream: Any) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < rate < 1000:
            return Fraction(rate)
    return Fraction(25)

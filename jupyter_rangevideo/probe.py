"""What a media file holds, read from its header and index in bounded time (PyAV).

``probe(path)`` never decodes a frame. It opens the container (FFmpeg reads the header and,
for files without one, a few MB to find the streams), reads the index where the container
keeps one (MP4/MOV sample tables, AVI idx1, Matroska cues) and returns a small frozen
dataclass: the streams, their codecs, the duration, the frame rate, the keyframes, and a
compact map between frame numbers and presentation times (:class:`FrameClock`).

Frame times come from the stream's own timestamps, never from ``n / fps``: a
variable-frame-rate file (phones, screen recorders, webcams) is frame-exact too.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import stat
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .containers import Header, cut_off, header_of
from .containers.header import MP4_DEMUXER
from .priority import lower_thread_priority
from .rotation import displayed_size, is_turned_mp4, stream_rotation

# How long probe() may spend reading packet timestamps where the index cannot give them
# (no index, or B-frames with a variable frame rate). Past it, frames are mapped at the
# average rate and FrameClock.exact is False.
PACKET_SCAN_SECONDS = 1.5
# Bytes PyAV asks of a file object (a remote object's reader) at a time: large pieces cut the
# calls (PyAV #512). Paths are read by FFmpeg itself.
_BUFFER = 1024 * 1024
# A FrameClock with more runs than this is merged into coarser ones: the page receives it.
MAX_RUNS = 20_000


class MediaError(ValueError):
    """The file is not media that FFmpeg can read (corrupt, truncated, empty, not a video)."""


@dataclass(frozen=True)
class FrameClock:
    """Frame number <-> presentation time, as runs of equally spaced frames.

    ``runs`` holds ``(first_frame, first_time, frame_duration)``, seconds from the start of
    the presentation; a constant-rate file is one run. ``exact`` is False when the times are
    an estimate at the average rate (an unindexed container too long to scan).
    """

    runs: tuple[tuple[int, float, float], ...]
    frame_count: int
    exact: bool = True

    @classmethod
    def constant(cls, fps: float, frame_count: int, exact: bool = True) -> FrameClock:
        return cls(((0, 0.0, 1.0 / fps),), frame_count, exact)

    @classmethod
    def from_times(cls, times: list[float], exact: bool = True) -> FrameClock:
        """Runs from sorted presentation times (seconds, the first frame at 0)."""
        if not times:
            return cls((), 0, exact)
        runs: list[tuple[int, float, float]] = []
        for index, (now, later) in enumerate(zip(times, times[1:])):
            step = round(later - now, 9)
            if (
                runs
                and abs(runs[-1][1] + (index - runs[-1][0]) * runs[-1][2] - now) < 1e-6
                and abs(runs[-1][2] - step) < 1e-6
            ):
                continue
            runs.append((index, now, step))
        if not runs:  # a single frame
            runs.append((0, times[0], 0.04))
        elif abs(runs[-1][1] + (len(times) - 1 - runs[-1][0]) * runs[-1][2] - times[-1]) > 1e-6:
            runs.append((len(times) - 1, times[-1], runs[-1][2]))
        while len(runs) > MAX_RUNS:  # merge pairs: bounded size, approximate times
            runs = runs[::2]
            exact = False
        return cls(tuple(runs), len(times), exact)

    def time_of(self, frame: int) -> float:
        """When ``frame`` (0-based, clamped to the file) is presented, in seconds."""
        if not self.runs:
            return 0.0
        frame = max(0, min(frame, self.frame_count - 1))
        first, start, step = self.runs[bisect.bisect_right(self.runs, (frame, float("inf"), 0.0)) - 1]
        return start + (frame - first) * step

    def middle_of(self, frame: int) -> float:
        """The middle of ``frame``'s display interval (clamped to the file), in seconds: a seek
        there shows exactly that frame, whichever way the time is rounded on the page."""
        if not self.runs:
            return 0.0
        frame = max(0, min(frame, self.frame_count - 1))
        start = self.time_of(frame)
        following = self.time_of(frame + 1) if frame + 1 < self.frame_count else start + self.runs[-1][2]
        return round(start + (following - start) / 2, 6)

    def frame_at(self, seconds: float) -> int:
        """The frame on screen at ``seconds``: the last one presented at or before it."""
        if not self.runs:
            return 0
        starts = [run[1] for run in self.runs]
        first, start, step = self.runs[max(0, bisect.bisect_right(starts, seconds + 1e-6) - 1)]
        offset = int((seconds - start) / step + 1e-6) if step > 0 else 0
        return max(0, min(first + max(offset, 0), self.frame_count - 1))

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [list(run) for run in self.runs],
            "frame_count": self.frame_count,
            "exact": self.exact,
        }


@dataclass(frozen=True)
class VideoInfo:
    """The video stream. ``width`` and ``height`` are the picture as shown: a phone's portrait
    clip, stored 3840x2160 with a 90° display rotation, is 2160 wide and 3840 high.
    ``rotation`` is the clockwise turn from the stored picture to that one (rotation.py)."""

    codec: str
    width: int
    height: int
    fps: float
    frame_count: int
    pix_fmt: str | None = None
    profile: str | None = None
    rotation: int = 0


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Probe:
    """A media file's facts. ``print(rangevideo.probe("clip.avi"))`` shows them."""

    path: str
    container: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "avi", "mpegts"
    duration: float | None  # seconds
    video: VideoInfo | None
    audio: AudioInfo | None
    keyframes: tuple[float, ...] = field(repr=False)  # seconds, from the index; () if it has none
    clock: FrameClock | None = field(repr=False)  # None for audio-only files
    size: int = field(repr=False, default=0)
    mtime_ns: int = field(repr=False, default=0)
    inode: int = field(repr=False, default=0)
    version: str = field(repr=False, default="")  # a remote object's ETag, version or generation
    read_bytes: int = field(repr=False, default=0)  # bytes a remote probe read (header and index)

    @property
    def validator(self) -> tuple[int, int, int, str]:
        """(size, mtime_ns, inode, version): a different file, or a changed one, has another."""
        return (self.size, self.mtime_ns, self.inode, self.version)

    @property
    def fps(self) -> float | None:
        return self.video.fps if self.video else None

    @property
    def frame_count(self) -> int | None:
        return self.video.frame_count if self.video else None

    def facts(self) -> dict[str, Any]:
        """What the page needs, as JSON: duration, size, frame clock, keyframes."""
        return {
            "container": self.container,
            "duration": self.duration,
            "video": None if self.video is None else vars(self.video),
            "audio": None if self.audio is None else vars(self.audio),
            "clock": None if self.clock is None else self.clock.to_json(),
        }


def probe(path: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> Probe:
    """Read a media file's streams, duration, frame rate and keyframes without decoding it.

    ``path`` may be a URL (``s3://``, ``gs://``, ``az://``, ``http(s)://``: anything fsspec
    reads, with ``storage_options``): then only the header and index are fetched, in ranges,
    and ``Probe.read_bytes`` says how many bytes that took.

    Raises FileNotFoundError, IsADirectoryError, PermissionError, or :class:`MediaError`
    (a ValueError) for a file FFmpeg cannot read, that holds neither video nor audio, or
    that is cut off (its header or index declares more data than the file holds); for a
    remote object, remote.RemoteError for a store that fails or a server without ranges.
    """
    import av

    from .remote_registry import resolve_source

    path = resolve_source(path, storage_options)
    where = _locate(path)
    source, label = where.source, where.label
    try:
        container = av.open(source, "r", metadata_errors="ignore", buffer_size=_BUFFER)
    except av.FFmpegError as e:
        raise MediaError(
            f"{label} is not a video or audio file that FFmpeg can read ({_reason(e)})"
        ) from None
    with container:
        video_stream = next((s for s in container.streams.video if not _is_cover_art(s)), None)
        audio_stream = container.streams.audio[0] if container.streams.audio else None
        if video_stream is None and audio_stream is None:
            raise MediaError(f"{label} holds neither a video nor an audio stream")
        if video_stream is not None and not video_stream.codec_context.width:
            raise MediaError(f"{label}: FFmpeg cannot read the video stream's size (truncated or corrupt?)")
        duration = _duration(container, video_stream or audio_stream)
        video: VideoInfo | None = None
        keyframes: tuple[float, ...] = ()
        clock: FrameClock | None = None
        if video_stream is not None:
            keyframes, clock = _frames(container, video_stream, duration)
            context = video_stream.codec_context
            rotation = stream_rotation(path, container, video_stream)
            width, height = displayed_size(context.width, context.height, rotation)
            video = VideoInfo(
                codec=context.codec.canonical_name,
                width=width,
                height=height,
                fps=round(float(_rate(video_stream) or 0), 6),
                frame_count=clock.frame_count,
                pix_fmt=context.pix_fmt,
                profile=context.profile,
                rotation=rotation,
            )
            if clock.exact and clock.frame_count > 1:
                last = clock.time_of(clock.frame_count - 1)
                duration = max(duration or 0.0, round(last + clock.runs[-1][2], 6))
        audio: AudioInfo | None = None
        if audio_stream is not None:
            sound = audio_stream.codec_context
            audio = AudioInfo(
                codec=sound.codec.canonical_name,
                sample_rate=sound.sample_rate or 0,
                channels=sound.channels or 0,
            )
        return Probe(
            path=path,
            container=container.format.name,
            duration=duration,
            video=video,
            audio=audio,
            keyframes=keyframes,
            clock=clock,
            size=where.size,
            mtime_ns=where.mtime_ns,
            inode=where.inode,
            version=where.version,
            read_bytes=getattr(source, "bytes_read", 0),
        )


def from_header(path: str, header: Header, info: os.stat_result) -> Probe:
    """The facts a container's header gives (containers.read_header, no PyAV): codecs, sizes,
    duration and frame rate; no keyframes and no frame clock, which :func:`probe` reads."""
    video = header.video
    audio = header.audio
    return Probe(
        path=path,
        container=header.container,
        duration=header.duration,
        video=None
        if video is None
        else VideoInfo(video.codec, video.width, video.height, video.fps or 0.0, video.frame_count),
        audio=None if audio is None else AudioInfo(audio.codec, audio.sample_rate, audio.channels),
        keyframes=(),
        clock=None,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        inode=info.st_ino,
    )


def check_file(path: str) -> os.stat_result:
    """The file's ``os.stat``, after the checks that need no PyAV: raises IsADirectoryError, or
    :class:`MediaError` for an empty file or one cut off (containers.cut_off)."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{path!r} is a directory, not a video file")
    if info.st_size == 0:
        raise MediaError(f"{path!r} is empty (0 bytes): not a video or audio file")
    if stat.S_ISREG(info.st_mode) and (cut := cut_off(path, info.st_size)):
        raise MediaError(cut)  # its index is whole, its media data stops part-way (containers/)
    return info


def header_probe(path: str) -> Probe | None:
    """The facts of a file from its container's header alone (MP4/MOV, Matroska/WebM: no PyAV),
    after :func:`check_file`'s checks; None where the header reader is unsure."""
    info = check_file(path)
    if not stat.S_ISREG(info.st_mode):
        return None
    header = header_of(path, info.st_size)
    turned = header is not None and header.container == MP4_DEMUXER and is_turned_mp4(path)
    if header is None or turned:
        return None  # a phone's turned clip: PyAV's probe gives the size as shown
    return from_header(path, header, info)


_background: ThreadPoolExecutor | None = None
_background_lock = threading.Lock()


def probe_later(path: str) -> Future[Probe]:
    """:func:`probe` in a background thread (two at a time, at background priority)."""
    global _background
    with _background_lock:
        if _background is None:
            _background = ThreadPoolExecutor(
                2, thread_name_prefix="rangevideo-probe", initializer=lower_thread_priority
            )
    return _background.submit(probe, path)


@dataclass(frozen=True)
class _Located:
    source: Any  # what PyAV opens: the path, or a remote object's reader
    label: str  # how messages name it
    size: int
    mtime_ns: int = 0
    inode: int = 0
    version: str = ""


def _locate(path: str) -> _Located:
    """Stat a local file or a remote object, and refuse what cannot be media (empty, cut off)."""
    from .remote_registry import resolve

    remote = resolve(path)
    if remote is None:
        info = check_file(path)
        return _Located(path, repr(path), info.st_size, info.st_mtime_ns, info.st_ino)
    facts = remote.stat()
    where = _Located(remote.open(), remote.label, facts.size, version=facts.validator)
    if where.size == 0:
        raise MediaError(f"{where.label} is empty (0 bytes): not a video or audio file")
    if cut := cut_off(path, where.size, where.source):
        raise MediaError(cut)  # its index is whole, its media data stops part-way (containers/)
    return where


def _reason(error: Exception) -> str:
    return str(getattr(error, "strerror", None) or error or type(error).__name__)


def _is_cover_art(stream: Any) -> bool:
    # An MP3's or M4A's embedded picture is a one-frame "video" stream.
    return (
        bool(stream.disposition & 0x400) or stream.codec_context.name in ("png", "bmp") and not stream.frames
    )


def _rate(stream: Any) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < rate < 1000:
            return Fraction(rate)
    return None


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base), 6)
    if container.duration:
        return round(float(container.duration) / 1_000_000, 6)
    return None


def _frames(container: Any, stream: Any, duration: float | None) -> tuple[tuple[float, ...], FrameClock]:
    """Keyframe times and the frame clock, in seconds after the stream's start time (what a
    browser's currentTime reads, and what segments keep): from the index where it lists every
    frame and agrees with the first packets' presentation timestamps, else from reading the
    packets (no decoding) within a time budget, else at the average rate."""
    time_base = stream.time_base
    origin = stream.start_time or 0
    rate = _rate(stream)
    entries = stream.index_entries or []

    numerator: int = time_base.numerator
    denominator: int = time_base.denominator

    def seconds(stamp: int) -> float:
        # An int divided by an int rounds correctly, as float(Fraction) does: the same
        # float, without a Fraction per frame (a third of probing a file of 14,000 frames).
        return round((stamp - origin) * numerator / denominator, 9)

    first_packets = _first_presentations(container, stream)
    lead = seconds(min(first_packets)) if first_packets else None
    keyframes: tuple[float, ...] = ()
    if entries and lead is not None:
        # Index timestamps are decode times; the first frame is presented at `lead`.
        first = entries[0].timestamp
        keyframes = tuple(
            round(seconds(origin + e.timestamp - first) + lead, 6) for e in entries if e.is_keyframe
        )
    expected = stream.frames or (round(duration * rate) if duration and rate else 0)
    if lead is not None and len(entries) >= max(expected, 2):
        # The index lists every frame (MP4, MOV, AVI). With no reordering, or at a constant
        # step, presentation times are the decode times, shifted; check that against the
        # first packets (AVI's index can hold gaps that its timestamps do not).
        stamps = sorted(entry.timestamp for entry in entries)
        steps = {b - a for a, b in zip(stamps, stamps[1:])}
        if len(steps) == 1 or not stream.codec_context.has_b_frames:
            times = [seconds(origin + t - stamps[0]) + lead for t in stamps]
            head = sorted(seconds(p) for p in first_packets)
            if all(abs(x - y) < 1e-6 for x, y in zip(times, head[: max(len(head) - 4, 1)])):
                return keyframes, FrameClock.from_times(times)
    scanned = _scan_packets(container, stream)
    if scanned is not None and scanned[0]:
        pts, key_pts = scanned
        return (
            tuple(round(seconds(k), 6) for k in sorted(key_pts)),
            FrameClock.from_times([seconds(p) for p in sorted(pts)]),
        )
    if rate is None:
        return keyframes, FrameClock((), 0, exact=False)
    count = stream.frames or (round(duration * rate) if duration else 0)
    return keyframes, FrameClock(((0, lead or 0.0, 1.0 / float(rate)),), count, exact=False)


def _first_presentations(container: Any, stream: Any) -> list[int]:
    """The presentation timestamps of the first few packets (no decoding)."""
    import av

    stamps: list[int] = []
    with contextlib.suppress(av.FFmpegError):
        container.seek(0)
        for packet in container.demux(stream):
            if packet.pts is not None:
                stamps.append(packet.pts)
            if len(stamps) >= 16:
                break
    return stamps


def _scan_packets(container: Any, stream: Any) -> tuple[list[int], list[int]] | None:
    """Every video packet's pts and the keyframes' (no decoding), or None past the time budget."""
    import av

    deadline = time.monotonic() + PACKET_SCAN_SECONDS
    pts: list[int] = []
    keys: list[int] = []
    with contextlib.suppress(av.FFmpegError):  # unseekable: read on from where the header left it
        container.seek(0)
    # A truncated tail ends the scan: what was read is what plays.
    with contextlib.suppress(av.FFmpegError):
        for count, packet in enumerate(container.demux(stream)):
            if packet.pts is None:
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
            if count % 256 == 0 and time.monotonic() > deadline:
                return None
    return pts, keys

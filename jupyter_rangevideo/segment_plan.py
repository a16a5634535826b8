"""Where the segments of an HLS delivery start, and its playlist: pure maths on the probe's facts.

- The playlist (HLS VOD) is computed from the probe before any segment is made, so the page
  knows the whole timeline at once and a seek anywhere asks for one segment.
- Segments start at source keyframes for a remux (they copy packets), at frame times every
  second or two for a transcode and the seek proxy (they start with an IDR they encode).
- :func:`segment_name` and :func:`segment_index` are the one spelling of a segment's URI.

No I/O: the jobs that make segments are in segment_jobs.py, the service that runs them in
segments.py.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

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
# A phone's 4K at 60 fps (HEVC) costs ~20-27 ms of CPU a frame to decode: a 1 s segment is 1.6
# CPU-seconds before its first frame. Sources of at least this many pixels a second get
# eighth-second segments, so that the first frame and a seek wait for fewer decoded and
# encoded frames past the target (seeks in a 4K60 phone clip: median 715 ms against 828 with
# quarter seconds); playback does not decode again from the keyframe for each of them, because
# a segment's job continues the decoder the one before it left (continuing.py), and costs the
# same (+4 % wall time for 2 s). (1920x1080 at 60 fps and 3840x2160 at 30 are below it.)
HEAVY_PIXELS_PER_SECOND = 300e6
HEAVY_SECONDS = 0.125
# The first one a quarter second: Chromium shows a first frame only with 0.2 s of sound, and
# the first segment (made with the playlist, its sound ending with its pictures) has it alone.
HEAVY_FIRST_SECONDS = 0.25
# The proxy (proxy.py): a small, short-GOP, silent rendition to show frames at once while the
# source's own seek decodes from a far keyframe. Two seconds per segment: a seek that finds
# none ready waits for one short job, and hls.js buffers a few around the playhead.
PROXY_SECONDS = 2.0
# A frame this close to a boundary is on it (timestamps are rounded in every container).
EPSILON = 1e-3


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
    heavy_pixels_per_second: float = HEAVY_PIXELS_PER_SECOND
    heavy_seconds: float = HEAVY_SECONDS  # transcode segments of heavy sources
    heavy_first_seconds: float = HEAVY_FIRST_SECONDS


@dataclass(frozen=True)
class SegmentPlan:
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


def plan_segments(facts: Probe, delivery: str, settings: EncodeSettings = EncodeSettings()) -> SegmentPlan:
    """Where the segments of ``facts`` start for ``delivery`` ("remux", "transcode" or "proxy")."""
    if delivery not in DELIVERIES:
        raise ValueError(f"segmented delivery must be one of {DELIVERIES}, not {delivery!r}")
    duration = facts.duration
    if not duration or duration <= 0:
        raise MediaError(f"{facts.path!r}: its duration is unknown, so it cannot be cut into segments")
    if facts.video is None:
        if delivery == "proxy":
            raise MediaError(f"{facts.path!r} has no video, so it has no proxy")
        return SegmentPlan(delivery, _nominal(duration, AUDIO_SECONDS), duration)
    if delivery == "remux":
        nominal = _nominal(duration, settings.remux_seconds)
        if not facts.keyframes:
            return SegmentPlan(delivery, nominal, duration, exact=False)
        return SegmentPlan(delivery, _first_at_or_after(facts.keyframes, nominal), duration)
    first = None
    heavy = (
        facts.video.width * facts.video.height * (facts.video.fps or 0) >= settings.heavy_pixels_per_second
    )
    if delivery == "proxy":
        seconds = settings.proxy_seconds
    elif heavy:
        seconds, first = settings.heavy_seconds, settings.heavy_first_seconds
    elif _keyframes_within(facts.keyframes, 2 * settings.transcode_short_seconds, duration):
        seconds = settings.transcode_short_seconds
    else:
        seconds = settings.transcode_seconds
    nominal = _nominal(duration, seconds)
    if first is not None and duration > seconds:
        nominal = (0.0, first, *nominal[1:])
    clock = facts.clock
    if clock is None or not clock.runs or not clock.exact:
        return SegmentPlan(delivery, nominal, duration)
    frame_times = []
    for t in nominal:  # snap to frame times: segment n starts with the frame shown at its start
        frame = clock.frame_at(t)
        if clock.time_of(frame) < t - EPSILON:
            if frame + 1 >= clock.frame_count:
                break  # no frame at or after t: the previous segment runs to the end
            frame += 1
        frame_times.append(round(clock.time_of(frame), 6))
    return SegmentPlan(delivery, _dedupe(frame_times), duration)


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


def playlist(segments: SegmentPlan) -> str:
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


# A segment's URI in the playlist, relative to it; HLS routes match it with SEGMENT_NAME.
SEGMENT_NAME = r"seg-\d+\.ts"


def segment_name(index: int) -> str:
    return f"seg-{index:05d}.ts"


def segment_index(name: str) -> int:
    """The index :func:`segment_name` wrote into ``name`` (a name that matches SEGMENT_NAME)."""
    return int(name.removeprefix("seg-").removesuffix(".ts"))

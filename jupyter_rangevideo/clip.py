"""Write the part of a video that a player shows as a web-playable MP4 (H.264 + AAC, faststart).

``plan_clip`` is pure: from the probe's facts and the player's span it decides which source
frames the clip holds and whether packets can be copied as they are (a browser-playable
H.264/AAC source whose cut falls on keyframes) or must be re-encoded (libx264 + AAC).
``write_clip`` does it with PyAV, seeking to the span in the container: a source bigger than
the clip is never read whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from .probe import Probe
from .rotation import displayed_size, stream_rotation

# Containers whose H.264 packets (length-prefixed, with avcC) go into MP4 unchanged.
_COPY_CONTAINERS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"})
# H.264 that every browser decodes: 8-bit 4:2:0.
_COPY_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})
_COPY_PROFILES = frozenset({"Baseline", "Constrained Baseline", "Main", "High"})

Progress = Callable[[float], None]  # fraction done, 0 to 1


@dataclass(frozen=True)
class ClipPlan:
    """Which source frames the clip holds (``first`` to ``last``, inclusive) and how it is made."""

    first: int
    last: int
    start: float  # seconds of the first frame in the source's timeline
    end: float  # seconds of the last frame in the source's timeline
    copy: bool
    reason: str  # why it is re-encoded, or "" when copied
    max_height: int | None = None
    to_the_end: bool = True  # the clip holds the file's last frame
    next_time: float = 0.0  # seconds of the frame after the last one
    keyframes_after: tuple[float, ...] = ()  # the first keyframe after the clip, if any

    @property
    def frames(self) -> int:
        return self.last - self.first + 1


def span_of(spec: dict[str, Any]) -> tuple[float, float | None, int | None, int | None]:
    """(start, end, start_frame, end_frame) of a saved player spec; frames win where present."""
    options = spec.get("options") or {}

    def pick(name: str) -> Any:
        return options.get(name, spec.get(name))

    start = float(pick("start") or 0.0)
    end = pick("end")
    start_frame, end_frame = pick("start_frame"), pick("end_frame")
    return (
        start,
        None if end is None else float(end),
        None if start_frame is None else int(start_frame),
        None if end_frame is None else int(end_frame),
    )


def plan_clip(
    facts: Probe,
    start: float = 0.0,
    end: float | None = None,
    *,
    start_frame: int | None = None,
    end_frame: int | None = None,
    max_height: int | None = None,
) -> ClipPlan:
    """The frames a player with this span shows, and whether they can be stream-copied.

    The player stops on the frame at ``end`` (it seeks there when the clip ends), so the
    last frame is the one on screen at ``end``, or ``end_frame``: both ends are inclusive.
    """
    clock = facts.clock
    if facts.video is None or clock is None or clock.frame_count == 0:
        return _audio_plan(facts, start, end)
    count = clock.frame_count
    first = start_frame if start_frame is not None else clock.frame_at(start)
    last = end_frame if end_frame is not None else (count - 1 if end is None else clock.frame_at(end))
    first = max(0, min(first, count - 1))
    last = max(first, min(last, count - 1))
    t0, t1 = clock.time_of(first), clock.time_of(last)
    reason = _why_not_copy(facts, t0, max_height)
    next_time = clock.time_of(last + 1)
    after = tuple(k for k in facts.keyframes if k > t1 + 1e-3)[:1]
    return ClipPlan(
        first,
        last,
        t0,
        t1,
        copy=not reason,
        reason=reason,
        max_height=max_height,
        to_the_end=last == count - 1,
        next_time=next_time,
        keyframes_after=after,
    )


def _audio_plan(facts: Probe, start: float, end: float | None) -> ClipPlan:
    duration = facts.duration or 0.0
    t1 = duration if end is None else min(end, duration)
    audio = facts.audio
    copy = audio is not None and audio.codec == "aac" and facts.container in _COPY_CONTAINERS
    return ClipPlan(0, 0, start, t1, copy=copy, reason="" if copy else "audio is not AAC in MP4")


def _why_not_copy(facts: Probe, t0: float, max_height: int | None) -> str:
    video, audio = facts.video, facts.audio
    assert video is not None
    if facts.container not in _COPY_CONTAINERS:
        return f"container {facts.container.split(',')[0]} is not copied into MP4"
    if video.codec != "h264":
        return f"video is {video.codec}, not H.264"
    if video.pix_fmt not in _COPY_PIX_FMTS or (video.profile and video.profile not in _COPY_PROFILES):
        return f"H.264 {video.profile or ''} {video.pix_fmt or ''} is not playable in every browser".replace(
            "  ", " "
        )
    if audio is not None and audio.codec != "aac":
        return f"audio is {audio.codec}, not AAC"
    if max_height and video.height > max_height:
        return f"downscaled from {video.height} to {max_height} lines"
    if not any(abs(k - t0) < 1e-3 for k in facts.keyframes) and t0 > 1e-3:
        return f"the clip starts at {t0:.3f} s, between keyframes"
    return ""


@dataclass(frozen=True)
class ClipResult:
    path: str
    size: int
    copied: bool
    frames: int  # video frames written (0 for audio only)
    reason: str = ""  # why it was re-encoded


def write_clip(
    source: str, out: str, plan: ClipPlan, *, crf: int = 23, progress: Progress | None = None
) -> ClipResult:
    """Write the planned clip of ``source`` to ``out`` (MP4, faststart)."""
    import av

    progress = progress or (lambda done: None)
    from .remote_registry import readable

    with av.open(readable(source), "r", metadata_errors="ignore", buffer_size=1024 * 1024) as container:
        video, _ = _streams(container)
        # With B-frames, frames shown before the cut may be decoded from ones after it: a copy
        # ends only before a keyframe; re-encode rather than show a broken last frame.
        b_frames = video is not None and video.codec_context.has_b_frames
        ends_on_keyframe = any(abs(k - plan.next_time) < 1e-3 for k in plan.keyframes_after)
        if plan.copy and b_frames and not plan.to_the_end and not ends_on_keyframe:
            plan = replace(plan, copy=False, reason="the clip ends inside a group of B-frames")
        # The clip keeps the source's display rotation: a browser plays it upright.
        rotation = 0 if video is None else stream_rotation(source, container, video)
        with av.open(out, "w", format="mp4", options={"movflags": "+faststart"}) as output:
            if plan.copy:
                frames = _copy(container, output, plan, progress, rotation)
            else:
                frames = _encode(container, output, plan, crf, progress, rotation)
    if video is not None and frames < plan.frames:
        # A file cut short after it was shared, or damaged: say so rather than export less.
        raise ValueError(
            f"the file ends at frame {plan.first + frames - 1}, before the clip's last frame {plan.last}"
        )
    progress(1.0)
    return ClipResult(out, os.path.getsize(out), plan.copy, frames, plan.reason)


def _streams(container: Any) -> tuple[Any, Any]:
    video = next((s for s in container.streams.video if not s.disposition & 0x400), None)
    audio = container.streams.audio[0] if container.streams.audio else None
    return video, audio


def _seek(container: Any, stream: Any, seconds: float) -> int:
    """Seek to the keyframe at or before ``seconds`` (in the timeline starting at the first
    frame); return the stream's start timestamp, the timeline's zero."""
    zero = stream.start_time or 0
    if seconds > 0:
        container.seek(zero + int(Fraction(seconds) / stream.time_base), stream=stream, backward=True)
    return zero


def _to_ticks(seconds: float, stream: Any) -> int:
    return round(Fraction(seconds) / Fraction(stream.time_base))


def _copy(container: Any, output: Any, plan: ClipPlan, progress: Progress, rotation: int = 0) -> int:
    """Copy packets from the keyframe at ``plan.start`` to the last frame."""
    video, audio = _streams(container)
    main = video or audio
    zero = _seek(container, main, plan.start)
    half_frame = 0.5 / (video.average_rate or 25) if video is not None else 0.0
    outs: dict[int, Any] = {}
    firsts: dict[int, int] = {}
    chosen = [s for s in (video, audio) if s is not None]
    for stream in chosen:
        outs[stream.index] = output.add_stream_from_template(stream)
    if video is not None and rotation:
        outs[video.index].set_display_rotation(-rotation)  # PyAV counts counter-clockwise
    frames = 0
    last_ticks = zero + _to_ticks(plan.end + half_frame, main)
    video_done, audio_done = video is None, audio is None
    for packet in container.demux(chosen):
        if video_done and audio_done:
            break  # never read on past the clip
        if packet.pts is None or packet.dts is None:
            continue
        stream = packet.stream
        seconds = float((packet.pts - (stream.start_time or 0)) * stream.time_base)
        if stream is video:
            if packet.pts > last_ticks:
                video_done = True
                continue
            if seconds < plan.start - half_frame:
                continue
            frames += 1
            progress(min(0.99, (seconds - plan.start) / max(plan.end - plan.start, 1e-6)))
        else:
            if seconds > plan.end + 2 * half_frame:
                audio_done = True
                continue
            if seconds < plan.start - 1e-3:
                continue
        offset = firsts.setdefault(stream.index, zero + _to_ticks(plan.start, stream))
        packet.pts -= offset
        packet.dts -= offset
        packet.stream = outs[stream.index]
        output.mux(packet)
    return frames


def _scaled_size(width: int, height: int, max_height: int | None, rotation: int = 0) -> tuple[int, int]:
    """The stored size to encode: no taller than ``max_height`` as shown (turned by ``rotation``)."""
    width, height = displayed_size(width, height, rotation)
    if not max_height or height <= max_height:
        return displayed_size(width - width % 2, height - height % 2, rotation)
    new_height = max_height - max_height % 2
    new_width = round(width * new_height / height / 2) * 2
    return displayed_size(new_width, new_height, rotation)


def _encode(
    container: Any, output: Any, plan: ClipPlan, crf: int, progress: Progress, rotation: int = 0
) -> int:
    """Decode from the keyframe before the clip; encode its frames with libx264 (and AAC)."""
    import av

    video, audio = _streams(container)
    main = video or audio
    if video is not None:
        video.thread_type = "AUTO"
    _seek(container, main, plan.start)
    out_video: Any = None
    out_audio: Any = None
    if video is not None:
        context = video.codec_context
        width, height = _scaled_size(context.width, context.height, plan.max_height, rotation)
        out_video = output.add_stream("libx264", rate=video.average_rate or 25)
        if rotation:
            out_video.set_display_rotation(-rotation)
        out_video.width, out_video.height, out_video.pix_fmt = width, height, "yuv420p"
        out_video.time_base = video.time_base
        out_video.options = {"preset": "veryfast", "crf": str(crf)}
        out_video.codec_context.time_base = video.time_base
    resampler: Any = None
    if audio is not None:
        out_audio = output.add_stream("aac", rate=audio.codec_context.sample_rate or 48000)
        out_audio.bit_rate = 128_000
        resampler = av.AudioResampler(format="fltp", layout=out_audio.layout, rate=out_audio.rate)
    half_frame = 0.5 / float(video.average_rate or 25) if video is not None else 0.0
    frames = 0
    first_pts: int | None = None
    audio_samples = 0
    video_done = video is None
    audio_done = audio is None
    chosen = [s for s in (video, audio) if s is not None]
    for packet in container.demux(chosen):
        for frame in packet.decode():
            if frame.pts is None:
                continue
            seconds = float((frame.pts - (packet.stream.start_time or 0)) * packet.stream.time_base)
            if packet.stream is video:
                if video_done or seconds < plan.start - half_frame:
                    continue
                if seconds > plan.end + half_frame:
                    video_done = True
                    continue
                if first_pts is None:
                    first_pts = frame.pts
                scaled = frame.reformat(width=out_video.width, height=out_video.height, format="yuv420p")
                scaled.pts = frame.pts - first_pts
                scaled.time_base = video.time_base
                output.mux(out_video.encode(scaled))
                frames += 1
                progress(min(0.99, frames / plan.frames))
            else:
                if audio_done or seconds < plan.start - 1e-3:
                    continue
                if seconds > plan.end + 2 * half_frame:
                    audio_done = True
                    continue
                for chunk in resampler.resample(frame):
                    chunk.pts = audio_samples
                    chunk.time_base = Fraction(1, out_audio.rate)
                    audio_samples += chunk.samples
                    output.mux(out_audio.encode(chunk))
        if video_done and audio_done:
            break
    if out_video is not None:
        output.mux(out_video.encode(None))
    if out_audio is not None:
        for chunk in resampler.resample(None):
            chunk.pts = audio_samples
            audio_samples += chunk.samples
            output.mux(out_audio.encode(chunk))
        output.mux(out_audio.encode(None))
    return frames

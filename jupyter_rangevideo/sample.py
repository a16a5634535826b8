"""Test-pattern videos: a moving pattern, a visible timecode, and a frame index readable by machines.

    python -m jupyter_rangevideo.sample OUT.mp4 [--duration S] [--fps N] [--size WxH]

The frames are pattern.py's: each shows its timecode and carries its frame index in a strip of cells that a test
reads back from a player's pixels (pattern.read_frame_index). Also variable frame rate files
(:func:`write_vfr`) and large files made by repeating a short one (:func:`make_large`). Needs
PyAV: pip install "jupyter-rangevideo[sample]".
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

# The pattern's frames and their frame code are public here too (this module's users read
# frame indices back, in tests and notebooks): pattern.py is where they live.
from .pattern import FRAME_CODE, YuvPainter, draw_frame, read_frame_index
from .progress import ProgressBar
from .rotation import Upright, displayed_size, upright


def _require_av() -> Any:  # PyAV's module, imported only when a sample is made
    try:
        import av
    except ImportError:
        raise SystemExit(
            "Making sample videos needs PyAV: pip install 'jupyter-rangevideo[sample]'"
        ) from None
    return av


__all__ = [
    "AUDIO_ENCODERS",
    "ENCODERS",
    "FRAME_CODE",
    "draw_frame",
    "make_large",
    "read_frame_index",
    "write_sample",
    "write_vfr",
]

# Encoders by codec name, and the pixel format each needs.
ENCODERS = {
    "h264": ("libx264", "yuv420p"),
    "hevc": ("libx265", "yuv420p"),
    "vp9": ("libvpx-vp9", "yuv420p"),
    "av1": ("libsvtav1", "yuv420p"),
    "mpeg4": ("mpeg4", "yuv420p"),
    "mpeg2video": ("mpeg2video", "yuv420p"),
    "mjpeg": ("mjpeg", "yuvj420p"),
    "prores": ("prores_ks", "yuv422p10le"),
    "ffv1": ("ffv1", "yuv420p"),
}
AUDIO_ENCODERS = {
    "aac": "aac",
    "opus": "libopus",
    "mp3": "libmp3lame",
    "mp2": "mp2",
    "ac3": "ac3",
    "pcm_s16le": "pcm_s16le",
    "flac": "flac",
    "vorbis": "vorbis",
}
_CODEC_BY_SUFFIX = {
    ".mp4": "h264",
    ".m4v": "h264",
    ".mov": "h264",
    ".mkv": "h264",
    ".webm": "vp9",
    ".avi": "mpeg4",
    ".ts": "h264",
}
_FORMATS = {".ts": "mpegts", ".m4a": "mp4", ".mp3": "mp3", ".wav": "wav", ".ogg": "ogg", ".flac": "flac"}


def _video_options(codec: str, noise: bool, gop: int) -> dict[str, str]:
    if codec == "h264":
        return {"preset": "ultrafast", "g": str(gop), "crf": "18" if noise else "23"}
    if codec == "hevc":
        return {"preset": "ultrafast", "x265-params": f"keyint={gop}:log-level=error"}
    if codec == "vp9":
        return {"deadline": "realtime", "cpu-used": "8", "g": str(gop), "row-mt": "1", "b": "1M"}
    if codec == "av1":
        return {"preset": "12", "g": str(gop)}
    if codec in ("mpeg4", "mpeg2video"):
        return {"g": str(gop), "qscale": "4"}
    return {}


def write_sample(
    path: str | Path,
    duration: float = 10.0,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    noise: bool = False,
    *,
    codec: str | None = None,
    audio: str | None = None,
    gop: int | None = None,
    rotation: int = 0,
) -> Path:
    """Write a test-pattern video. The codec follows the suffix (H.264 for .mp4, .mov, .mkv
    and .ts, VP9 for .webm, MPEG-4 Part 2 for .avi) unless ``codec`` names one of ENCODERS;
    ``audio`` adds a tone in one of AUDIO_ENCODERS; ``gop`` is frames between keyframes
    (default: one a second). ``codec="none"`` writes audio only (.m4a, .mp3, .wav, .ogg, .flac).
    ``rotation`` (clockwise degrees, as a phone records portrait: 90) stores the pictures
    turned back and writes a display matrix (MP4, MOV) that turns them upright: ``size`` is
    the picture as shown."""
    return _write(path, duration, fps, size, noise, codec=codec, audio=audio, gop=gop, rotation=rotation)


@contextmanager
def _same_scheduling() -> Iterator[None]:
    """Keep the calling thread's CPU scheduling as it was. SVT-AV1 (libsvtav1), run as root,
    switches the thread that opens it to real-time scheduling (SCHED_FIFO, priority 99) and
    leaves it so: every process started from that thread afterwards (a Jupyter server,
    Chromium) would inherit it, and busy real-time processes starve the whole machine."""
    if not hasattr(os, "sched_getscheduler"):  # not Linux
        yield
        return
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if os.sched_getscheduler(0) != policy or os.sched_getparam(0) != param:
            os.sched_setscheduler(0, policy, param)


@_same_scheduling()
def _write(
    path: str | Path,
    duration: float,
    fps: int,
    size: tuple[int, int],
    noise: bool,
    *,
    codec: str | None,
    audio: str | None,
    gop: int | None,
    rotation: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """:func:`write_sample`, calling ``progress(done, total)`` as frames are written."""
    av = _require_av()
    path = Path(path)
    suffix = path.suffix.lower()
    codec = codec or _CODEC_BY_SUFFIX.get(suffix)
    if codec is None:
        raise ValueError(f"unsupported suffix {path.suffix!r}; use one of {', '.join(_CODEC_BY_SUFFIX)}")
    if codec != "none" and codec not in ENCODERS:
        raise ValueError(f"unknown codec {codec!r}; use one of {', '.join(ENCODERS)}")
    shown = size
    width, height = size = displayed_size(*size, rotation)  # as stored
    options = {"movflags": "+faststart"} if suffix in (".mp4", ".m4v", ".mov", ".m4a") else {}
    rng = np.random.default_rng(0) if noise else None
    frames = round(duration * fps)
    with av.open(str(path), "w", format=_FORMATS.get(suffix), options=options) as container:
        stream = None
        if codec != "none":
            encoder, pix_fmt = ENCODERS[codec]
            stream = container.add_stream(encoder, rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            stream.time_base = Fraction(1, fps)
            stream.options = _video_options(codec, noise, gop or fps)
            if rotation:
                stream.set_display_rotation(-rotation)  # PyAV counts counter-clockwise
        tone = _add_audio(container, audio) if audio else None
        # Without noise, 4:2:0 output of even size is drawn in YUV directly (no conversion per frame).
        painter = None
        if (
            stream is not None
            and rng is None
            and stream.pix_fmt == "yuv420p"
            and width % 2 == height % 2 == 0
        ):
            painter = YuvPainter(av, shown)
        back = (360 - rotation) % 360  # the upright pattern, turned as the camera stored it
        turn = Upright(av, shown, back)
        for index in range(frames):
            if stream is not None:
                if painter is not None:
                    frame = av.VideoFrame.from_ndarray(painter.frame(index, fps), format="yuv420p")
                    frame = turn(frame)
                else:
                    picture = upright(draw_frame(index, fps, shown, rng), back)
                    frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(frame))
            if tone is not None:
                tone.write_until((index + 1) / fps)
            if progress is not None:
                progress(index + 1, frames)
        if stream is not None:
            container.mux(stream.encode(None))
        if tone is not None:
            tone.flush()
    return path


def write_vfr(
    path: str | Path, durations_ms: list[int], size: tuple[int, int] = (160, 120), *, gop: int = 25
) -> list[float]:
    """Write a variable-frame-rate H.264 video (B-frames, millisecond timestamps) whose frame
    ``i`` lasts ``durations_ms[i]`` and carries its index in the code strip, as phones and
    screen recorders write them. Returns every frame's presentation time in seconds."""
    av = _require_av()
    path = Path(path)
    options = {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".m4v", ".mov") else {}
    times, now = [], 0
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"preset": "veryfast", "bf": "2", "g": str(gop), "keyint_min": str(gop)}
        for index, duration in enumerate(durations_ms):
            frame = av.VideoFrame.from_ndarray(draw_frame(index, 25, size), format="rgb24")
            frame.pts, frame.time_base = now, Fraction(1, 1000)
            times.append(now / 1000)
            now += duration
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return times


class _Tone:
    """A 440 Hz tone written in step with the video, so the streams interleave."""

    def __init__(self, container: Any, stream: Any, rate: int) -> None:
        self.container, self.stream, self.rate, self.written = container, stream, rate, 0

    def write_until(self, seconds: float) -> None:
        av = _require_av()
        frame_size = self.stream.codec_context.frame_size or 1024
        while self.written + frame_size <= seconds * self.rate:
            t = (np.arange(frame_size) + self.written) / self.rate
            samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            frame.sample_rate, frame.pts = self.rate, self.written
            frame.time_base = Fraction(1, self.rate)
            self.container.mux(self.stream.encode(frame))
            self.written += frame_size

    def flush(self) -> None:
        self.container.mux(self.stream.encode(None))


def _add_audio(container: Any, codec: str) -> _Tone:
    if codec not in AUDIO_ENCODERS:
        raise ValueError(f"unknown audio codec {codec!r}; use one of {', '.join(AUDIO_ENCODERS)}")
    rate = 48000
    stream = container.add_stream(AUDIO_ENCODERS[codec], rate=rate, layout="mono")
    stream.time_base = Fraction(1, rate)
    return _Tone(container, stream, rate)


def make_large(segment_path: str | Path, out_path: str | Path, target_bytes: int) -> Path:
    """Repeat a video's packets (stream copy, no re-encoding) until the file holds target_bytes.

    Timestamps continue from one copy to the next, so the result plays straight through;
    the frame index drawn in the picture restarts with every copy of the segment.
    """
    av = _require_av()
    segment_path, out_path = Path(segment_path), Path(out_path)
    options = {"movflags": "+faststart"} if out_path.suffix.lower() in (".mp4", ".m4v", ".mov") else {}
    with av.open(str(segment_path)) as source, av.open(str(out_path), "w", options=options) as output:
        in_stream = source.streams.video[0]
        out_stream = output.add_stream_from_template(in_stream)
        packets = [p for p in source.demux(in_stream) if p.dts is not None]
        payload = sum(p.size for p in packets)
        copies = max(1, -(-target_bytes // max(payload, 1)))
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.pts for p in packets)
        for copy in range(copies):
            offset = copy * span
            for packet in packets:
                packet.stream = out_stream
                packet.pts += offset if copy else 0
                packet.dts += offset if copy else 0
                output.mux(packet)
                packet.pts -= offset if copy else 0
                packet.dts -= offset if copy else 0
    return out_path


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m jupyter_rangevideo.sample", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out", type=Path, help="output file: .mp4 (H.264) or .webm (VP9)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--fps", type=int, default=25, help="frames per second (default 25)")
    parser.add_argument("--size", type=_size, default=(640, 360), help="WIDTHxHEIGHT (default 640x360)")
    parser.add_argument("--noise", action="store_true", help="add noise: a high bitrate, for big files")
    parser.add_argument(
        "--repeat-to-bytes",
        type=int,
        metavar="N",
        help="stream-copy the generated video until the file holds N bytes (frame indices repeat)",
    )
    args = parser.parse_args(argv)
    progress = ProgressBar(sys.stderr, f"writing {args.out.name}", log_step=10, unit="frames")
    target = args.out.with_name(f".segment-{args.out.name}") if args.repeat_to_bytes else args.out
    try:
        _write(
            target, args.duration, args.fps, args.size, args.noise,
            codec=None, audio=None, gop=None, progress=progress,
        )  # fmt: skip
        if args.repeat_to_bytes:
            make_large(target, args.out, args.repeat_to_bytes)
    finally:
        if args.repeat_to_bytes:
            target.unlink(missing_ok=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)


if __name__ == "__main__":
    main()

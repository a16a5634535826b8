"""Test-pattern videos: a moving pattern, a visible timecode, and a frame index readable by machines.

    python -m jupyter_rangevideo.sample OUT.mp4 [--duration S] [--fps N] [--size WxH]

The frame index is a strip of black and white cells along the bottom of every frame,
big enough to survive compression and scaling, so a test can read which frame a player
shows from its pixels (see FRAME_CODE). Needs PyAV: pip install "jupyter-rangevideo[sample]".
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, TypedDict

import numpy as np


# The code strip: GUARD_START, then DATA_BITS bits of the frame index (most significant
# first), then GUARD_END; CELLS cells of equal width across the frame, STRIP_HEIGHT of its
# height at the bottom. White is 1, black is 0; a reader samples each cell's middle.
class FrameCode(TypedDict):
    GUARD_START: tuple[int, ...]
    DATA_BITS: int
    GUARD_END: tuple[int, ...]
    CELLS: int
    STRIP_HEIGHT: float


FRAME_CODE: FrameCode = {
    "GUARD_START": (1, 0, 1),
    "DATA_BITS": 20,
    "GUARD_END": (0, 1, 0),
    "CELLS": 26,
    "STRIP_HEIGHT": 0.1,
}
_GUARD_START = FRAME_CODE["GUARD_START"]
_GUARD_END = FRAME_CODE["GUARD_END"]
_BITS = FRAME_CODE["DATA_BITS"]
_CELLS = FRAME_CODE["CELLS"]
assert _CELLS == len(_GUARD_START) + _BITS + len(_GUARD_END)

# A 3x5 pixel font for the timecode: digits, ':', '.', ' ' and the letters of "frame".
_GLYPHS = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ":": "000010000010000",
    ".": "000000000000010",
    " ": "000000000000000",
    "f": "011100110100100",
    "r": "000110101100100",
    "a": "000011101101011",
    "m": "000111111101101",
    "e": "000111111100011",
}


def _require_av() -> Any:  # PyAV's module, imported only when a sample is made
    try:
        import av
    except ImportError:
        raise SystemExit(
            "Making sample videos needs PyAV: pip install 'jupyter-rangevideo[sample]'"
        ) from None
    return av


def _cell_edges(width: int) -> np.ndarray:
    return np.linspace(0, width, _CELLS + 1).round().astype(int)


@functools.lru_cache(maxsize=64)
def _glyph_block(char: str, scale: int) -> np.ndarray:
    glyph = np.array([c == "1" for c in _GLYPHS[char]]).reshape(5, 3)
    return np.kron(glyph, np.ones((scale, scale), dtype=bool))


def _draw_text(frame: np.ndarray, text: str, x: int, y: int, scale: int, value: int = 255) -> None:
    for k, char in enumerate(text):
        block = _glyph_block(char, scale)
        left = x + k * 4 * scale
        region = frame[y : y + 5 * scale, left : left + 3 * scale]
        region[block[: region.shape[0], : region.shape[1]]] = value


def _label(index: int, fps: int) -> str:
    t = index / fps
    frames = round(t * fps) % fps
    seconds = int(t)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{frames:02d} frame {index}"


def _code_row(index: int, width: int, white: int, black: int) -> np.ndarray:
    """One row of the code strip: each cell's value repeated over its width."""
    bits = np.array([*_GUARD_START, *((index >> (_BITS - 1 - b)) & 1 for b in range(_BITS)), *_GUARD_END])
    return np.repeat(np.where(bits == 1, white, black).astype(np.uint8), np.diff(_cell_edges(width)))


def _strip_height(height: int) -> int:
    return max(int(height * FRAME_CODE["STRIP_HEIGHT"]), 8)


@functools.lru_cache(maxsize=4)
def _gradient(width: int, height: int) -> np.ndarray:
    """The hue pattern over two periods side by side: the hue drifts with time, which is the
    same as sliding a window along x, so a frame copies a slice instead of computing sines."""
    rows = height - _strip_height(height)
    step = 1 / max(width - 1, 1)
    x = (np.arange(2 * width) * step)[None, :]
    y = np.linspace(0, 1, rows)[:, None]
    phase = 2 * np.pi * (x + y / 2)
    pattern = np.empty((rows, 2 * width, 3), dtype=np.uint8)
    for channel, shift in enumerate((0, 2.094, 4.189)):
        pattern[:, :, channel] = (110 + 90 * np.sin(phase + shift)).astype(np.uint8)
    pattern.flags.writeable = False
    return pattern


def draw_frame(
    index: int, fps: int, size: tuple[int, int], noise: np.random.Generator | None = None
) -> np.ndarray:
    """One RGB frame: a hue that drifts with time, a moving bar, the timecode, the code strip."""
    width, height = size
    t = index / fps
    strip = _strip_height(height)
    frame = np.empty((height, width, 3), dtype=np.uint8)
    # One period of the pattern is width - 1 columns (x runs 0..1 over the frame's width).
    offset = round((t / 8) % 1 * max(width - 1, 1)) % max(width - 1, 1)
    frame[: height - strip] = _gradient(width, height)[:, offset : offset + width]
    bar = int((t % 4) / 4 * width)
    frame[: height - strip, bar : bar + max(width // 40, 2)] = 255
    if noise is not None:
        frame[: height - strip] ^= noise.integers(0, 48, (height - strip, width, 3), dtype=np.uint8)

    label = _label(index, fps)
    scale = max(height // 90, 2)
    box_height = 7 * scale
    frame[scale : scale + box_height, scale : scale + (len(label) * 4 + 2) * scale] = 0
    _draw_text(frame, label, 2 * scale, 2 * scale, scale)

    frame[height - strip :] = _code_row(index, width, 235, 16)[None, :, None]
    return frame


def _yuv420_planes(planes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of Y, U and V in PyAV's yuv420p array layout: (height * 3 // 2, width)."""
    flat = planes.reshape(-1)
    luma, quarter = width * height, width * height // 4
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + quarter].reshape(height // 2, width // 2),
        flat[luma + quarter :].reshape(height // 2, width // 2),
    )


class _YuvPainter:
    """Draws the frames of :func:`draw_frame` straight into yuv420p planes, so the encoder
    gets no per-frame colour conversion: the hue pattern is converted once (two periods wide,
    sliced like the RGB one); the bar, timecode and code strip are grey: drawn in luma, with
    neutral chroma. Needs an even width and height."""

    def __init__(self, av: Any, size: tuple[int, int]) -> None:
        width, height = size
        self.width, self.height = width, height
        self.strip = _strip_height(height)
        pattern = np.zeros((height, 2 * width, 3), dtype=np.uint8)
        pattern[: height - self.strip] = _gradient(width, height)
        planes = av.VideoFrame.from_ndarray(pattern, format="rgb24").reformat(format="yuv420p").to_ndarray()
        self.planes = _yuv420_planes(planes, 2 * width, height)
        greys = np.array([[[255] * 3, [235] * 3, [16] * 3, [0] * 3]] * 2, dtype=np.uint8)
        levels = av.VideoFrame.from_ndarray(greys, format="rgb24").reformat(format="yuv420p").to_ndarray()[0]
        self.white, self.code_white, self.code_black, self.black = (int(v) for v in levels)

    def frame(self, index: int, fps: int) -> np.ndarray:
        width, height, strip = self.width, self.height, self.strip
        rows = height - strip
        planes = np.empty((height * 3 // 2, width), dtype=np.uint8)
        luma, cb, cr = _yuv420_planes(planes, width, height)
        t = index / fps
        period = max(width - 1, 1)
        offset = round((t / 8) % 1 * period) % period // 2 * 2  # even: chroma stays aligned
        for plane, source, scale in (
            (luma, self.planes[0], 1),
            (cb, self.planes[1], 2),
            (cr, self.planes[2], 2),
        ):
            plane[:] = source[:, offset // scale : offset // scale + width // scale]
        bar = int((t % 4) / 4 * width)
        bar_end = bar + max(width // 40, 2)
        luma[:rows, bar:bar_end] = self.white
        label = _label(index, fps)
        scale = max(height // 90, 2)
        top, bottom, left, right = scale, 8 * scale, scale, scale + (len(label) * 4 + 2) * scale
        luma[top:bottom, left:right] = self.black
        _draw_text(luma, label, 2 * scale, 2 * scale, scale, self.white)
        luma[rows:] = _code_row(index, width, self.code_white, self.code_black)[None, :]
        for chroma in (cb, cr):  # grey parts: neutral chroma
            chroma[: (rows + 1) // 2, bar // 2 : (bar_end + 1) // 2] = 128
            chroma[top // 2 : (bottom + 1) // 2, left // 2 : (right + 1) // 2] = 128
            chroma[rows // 2 :] = 128
        return planes


def read_frame_index(rgb: np.ndarray) -> int | None:
    """The frame index drawn by :func:`draw_frame`, from an RGB frame of any size; None if absent."""
    height, width = rgb.shape[:2]
    strip = max(int(height * FRAME_CODE["STRIP_HEIGHT"]), 2)
    top = height - strip
    rows = slice(top + strip // 4, height - strip // 4 or height)
    luma = rgb[rows, :, :3].astype(np.float32).mean(axis=(0, 2))
    edges = _cell_edges(width)
    bits = []
    for left, right in zip(edges[:-1], edges[1:]):
        margin = (right - left) // 4
        cell = luma[left + margin : right - margin] if right - left > 3 else luma[left:right]
        value = float(cell.mean())
        if 70 < value < 180:
            return None  # neither black nor white: not a code cell
        bits.append(1 if value >= 128 else 0)
    if tuple(bits[: len(_GUARD_START)]) != _GUARD_START or tuple(bits[-len(_GUARD_END) :]) != _GUARD_END:
        return None
    index = 0
    for bit in bits[len(_GUARD_START) : len(_GUARD_START) + _BITS]:
        index = index << 1 | bit
    return index


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
) -> Path:
    """Write a test-pattern video. The codec follows the suffix (H.264 for .mp4, .mov, .mkv
    and .ts, VP9 for .webm, MPEG-4 Part 2 for .avi) unless ``codec`` names one of ENCODERS;
    ``audio`` adds a tone in one of AUDIO_ENCODERS; ``gop`` is frames between keyframes
    (default: one a second). ``codec="none"`` writes audio only (.m4a, .mp3, .wav, .ogg, .flac)."""
    return _write(path, duration, fps, size, noise, codec=codec, audio=audio, gop=gop)


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
    width, height = size
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
        tone = _add_audio(container, audio) if audio else None
        # Without noise, 4:2:0 output of even size is drawn in YUV directly (no conversion per frame).
        painter = None
        if (
            stream is not None
            and rng is None
            and stream.pix_fmt == "yuv420p"
            and width % 2 == height % 2 == 0
        ):
            painter = _YuvPainter(av, size)
        for index in range(frames):
            if stream is not None:
                if painter is not None:
                    frame = av.VideoFrame.from_ndarray(painter.frame(index, fps), format="yuv420p")
                else:
                    frame = av.VideoFrame.from_ndarray(draw_frame(index, fps, size, rng), format="rgb24")
                frame.pts = index
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


class _ProgressBar:
    """A one-line bar on stderr, redrawn when the percentage changes."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label, self.stream, self.shown = label, stream or sys.stderr, -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        # Redrawn in place on a terminal; in a log, one line every 10%.
        step = 1 if self.stream.isatty() else 10
        if percent // step == self.shown // step and done < total:
            return
        if percent == self.shown:
            return
        self.shown = percent
        filled = percent * 30 // 100
        bar = f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% {done}/{total} frames"
        if self.stream.isatty():
            self.stream.write(f"\r{bar}" + ("\n" if done >= total else ""))
        else:
            self.stream.write(bar + "\n")
        self.stream.flush()


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
    progress = _ProgressBar(f"writing {args.out.name}")
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

"""Test-pattern videos: a moving pattern, a visible timecode, and a frame index readable by machines.

    python -m jupyter_rangevideo.sample OUT.mp4 [--duration S] [--fps N] [--size WxH]

The frame index is a strip of black and white cells along the bottom of every frame,
big enough to survive compression and scaling, so a test can read which frame a player
shows from its pixels (see FRAME_CODE). Needs PyAV: pip install "jupyter-rangevideo[sample]".
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

# The code strip: GUARD_START, then DATA_BITS bits of the frame index (most significant
# first), then GUARD_END; CELLS cells of equal width across the frame, STRIP_HEIGHT of its
# height at the bottom. White is 1, black is 0; a reader samples each cell's middle.
FRAME_CODE = {
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

CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}

# A 3x5 pixel font for the timecode: digits, ':', '.', ' ' and the letters of "frame".
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", ":": "000010000010000", ".": "000000000000010",
    " ": "000000000000000", "f": "011100110100100", "r": "000110101100100", "a": "000011101101011",
    "m": "000111111101101", "e": "000111111100011",
}


def _require_av():
    try:
        import av
    except ImportError:
        raise SystemExit(
            "Making sample videos needs PyAV: pip install 'jupyter-rangevideo[sample]'"
        ) from None
    return av


def _cell_edges(width: int) -> np.ndarray:
    return np.linspace(0, width, _CELLS + 1).round().astype(int)


def _draw_text(frame: np.ndarray, text: str, x: int, y: int, scale: int) -> None:
    for k, char in enumerate(text):
        glyph = np.array([c == "1" for c in _GLYPHS[char]]).reshape(5, 3)
        block = np.kron(glyph, np.ones((scale, scale), dtype=bool))
        left = x + k * 4 * scale
        region = frame[y : y + 5 * scale, left : left + 3 * scale]
        region[block[: region.shape[0], : region.shape[1]]] = 255


def draw_frame(index: int, fps: int, size: tuple[int, int], noise: np.random.Generator | None = None) -> np.ndarray:
    """One RGB frame: a hue that drifts with time, a moving bar, the timecode, the code strip."""
    width, height = size
    t = index / fps
    strip = max(int(height * FRAME_CODE["STRIP_HEIGHT"]), 8)
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height - strip)[:, None]
    phase = 2 * np.pi * (x + y / 2 + t / 8)
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    for channel, shift in enumerate((0, 2.094, 4.189)):
        frame[: height - strip, :, channel] = (110 + 90 * np.sin(phase + shift)).astype(np.uint8)
    bar = int((t % 4) / 4 * width)
    frame[: height - strip, bar : bar + max(width // 40, 2)] = 255
    if noise is not None:
        frame[: height - strip] ^= noise.integers(0, 48, (height - strip, width, 3), dtype=np.uint8)

    frames = int(round(t * fps)) % fps
    seconds = int(t)
    label = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{frames:02d} frame {index}"
    scale = max(height // 90, 2)
    box_height = 7 * scale
    frame[scale : scale + box_height, scale : scale + (len(label) * 4 + 2) * scale] = 0
    _draw_text(frame, label, 2 * scale, 2 * scale, scale)

    bits = [*_GUARD_START, *((index >> (_BITS - 1 - b)) & 1 for b in range(_BITS)), *_GUARD_END]
    edges = _cell_edges(width)
    for bit, left, right in zip(bits, edges[:-1], edges[1:]):
        frame[height - strip :, left:right] = 235 if bit else 16
    return frame


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


def write_sample(
    path: str | Path,
    duration: float = 10.0,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    noise: bool = False,
) -> Path:
    """Write a test-pattern video; the codec follows the suffix (H.264 for .mp4, VP9 for .webm)."""
    av = _require_av()
    path = Path(path)
    codec = CODECS.get(path.suffix.lower())
    if codec is None:
        raise ValueError(f"unsupported suffix {path.suffix!r}; use one of {', '.join(CODECS)}")
    width, height = size
    options = {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".m4v", ".mov") else {}
    rng = np.random.default_rng(0) if noise else None
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        # A keyframe every second keeps seeking quick in a browser.
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "g": str(fps), "crf": "18" if noise else "23"}
        else:
            stream.options = {"deadline": "realtime", "cpu-used": "8", "g": str(fps), "row-mt": "1", "b": "1M"}
        for index in range(int(round(duration * fps))):
            frame = av.VideoFrame.from_ndarray(draw_frame(index, fps, size, rng), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


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
    parser = argparse.ArgumentParser(prog="python -m jupyter_rangevideo.sample", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="output file: .mp4 (H.264) or .webm (VP9)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--fps", type=int, default=25, help="frames per second (default 25)")
    parser.add_argument("--size", type=_size, default=(640, 360), help="WIDTHxHEIGHT (default 640x360)")
    parser.add_argument("--noise", action="store_true", help="add noise: a high bitrate, for big files")
    parser.add_argument(
        "--repeat-to-bytes", type=int, metavar="N",
        help="stream-copy the generated video until the file holds N bytes (frame indices repeat)",
    )
    args = parser.parse_args(argv)
    if args.repeat_to_bytes:
        segment = args.out.with_name(f".segment-{args.out.name}")
        try:
            write_sample(segment, args.duration, args.fps, args.size, args.noise)
            make_large(segment, args.out, args.repeat_to_bytes)
        finally:
            segment.unlink(missing_ok=True)
    else:
        write_sample(args.out, args.duration, args.fps, args.size, args.noise)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)


if __name__ == "__main__":
    main()

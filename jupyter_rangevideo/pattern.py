"""The test pattern: frames drawn with numpy, and the frame index read back from their pixels.

Every frame shows a hue that drifts with time, a moving bar, a timecode and, along the
bottom, a strip of black and white cells holding the frame index (:data:`FRAME_CODE`), big
enough to survive compression and scaling, so a test can read which frame a player shows
from its pixels (:func:`read_frame_index`). sample.py encodes these frames into files.
"""

from __future__ import annotations

import functools
from typing import Any, TypedDict

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


class YuvPainter:
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

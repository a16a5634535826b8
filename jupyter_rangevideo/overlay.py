"""Per-frame marks drawn over the video: packed once into compact columns for the page.

``pack(rows, clock)`` turns a list of dicts or a pandas DataFrame (one row a mark) into a
:class:`Packed` layer: the marks sorted by frame, as columns of fixed-size numbers (frame,
kind, x, y, w or x2, h or y2, color index, label index, line width), each column
byte-shuffled (the high bytes of neighbouring numbers sit together and compress well)
and the whole deflated with zlib. The same bytes go to the page as a binary buffer of the
widget's state and, base64-encoded, into the saved output, so a reopened notebook draws
them with no kernel. The page inflates them with the browser's DecompressionStream.

Frames are the unit: a ``time`` column is mapped to the frame on screen at that time by
the probe's :class:`~jupyter_rangevideo.probe.FrameClock` (the stream's own timestamps,
never ``time * fps``).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .probe import FrameClock
    from .widget import Player

KINDS = ("box", "point", "line", "text")
# The coordinates each kind needs, in source-video pixels.
REQUIRED = {
    "box": ("x", "y", "w", "h"),
    "point": ("x", "y"),
    "line": ("x", "y", "x2", "y2"),
    "text": ("x", "y"),
}
# Column order and types of the packed layer; the page reads them in this order.
COLUMNS = (
    ("frame", "<u4"),
    ("kind", "u1"),
    ("x", "<f4"),
    ("y", "<f4"),
    ("a", "<f4"),
    ("b", "<f4"),
    ("color", "<u2"),
    ("label", "<u4"),
    ("width", "<f4"),
)
FORMAT = 1
MAX_COLORS = 65_535


@dataclass(frozen=True)
class Packed:
    """One layer of marks, ready for the page: ``data`` is the deflated, shuffled columns."""

    count: int
    palette: tuple[str, ...]  # color index i + 1 -> CSS color; 0 is the layer's default color
    labels: tuple[str, ...]  # label index i + 1 -> text; 0 is no label
    data: bytes

    def state(self) -> dict[str, Any]:
        """For the widget's synced state: ``data`` travels as a binary buffer."""
        return {
            "format": FORMAT,
            "count": self.count,
            "palette": list(self.palette),
            "labels": list(self.labels),
            "data": self.data,
        }


def _columns(rows: Any) -> dict[str, list[Any]]:
    """Column name -> values from a DataFrame (without importing pandas) or a list of dicts."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        return {str(name): list(values) for name, values in rows.to_dict(orient="list").items()}
    if isinstance(rows, Mapping):
        raise TypeError("overlay data is a list of dicts or a DataFrame, one row a mark, not a single dict")
    rows = list(rows)
    names: dict[str, None] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"overlay row {index} is a {type(row).__name__}, not a dict")
        names.update(dict.fromkeys(row))
    return {str(name): [row.get(name) for row in rows] for name in names}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _numbers(name: str, values: list[Any]) -> np.ndarray:
    try:
        return np.array([math.nan if _missing(v) else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"overlay column {name!r} must hold numbers") from None


def frames_at(clock: FrameClock, seconds: np.ndarray) -> np.ndarray:
    """FrameClock.frame_at for many times at once: the frame on screen at each time."""
    if not clock.runs:
        return np.zeros(len(seconds), dtype=np.int64)
    runs = np.array(clock.runs, dtype=np.float64)
    which = np.maximum(np.searchsorted(runs[:, 1], seconds + 1e-6, side="right") - 1, 0)
    first, start, step = runs[which, 0], runs[which, 1], runs[which, 2]
    safe_step = np.where(step > 0, step, 1.0)
    offset = np.where(step > 0, np.floor((seconds - start) / safe_step + 1e-6), 0.0)
    frames: np.ndarray = np.clip(first + np.maximum(offset, 0), 0, clock.frame_count - 1).astype(np.int64)
    return frames


def _indexed(values: list[Any], limit: int, what: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Strings -> (index + 1 per row, the distinct strings); 0 for a missing value."""
    table: dict[str, int] = {}
    indices = np.zeros(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        if _missing(value) or value == "":
            continue
        indices[row] = table.setdefault(str(value), len(table) + 1)
    if len(table) > limit:
        raise ValueError(f"an overlay layer holds at most {limit} distinct {what}s, not {len(table)}")
    return indices, tuple(table)


def pack(rows: Any, clock: FrameClock | None) -> Packed:
    """Validate and pack marks (see the module's docstring). Raises ValueError for bad data."""
    columns = _columns(rows)
    count = len(next(iter(columns.values()), []))
    if "frame" in columns:
        frames = _numbers("frame", columns["frame"])
        if np.isnan(frames).any() or (frames != np.round(frames)).any() or (frames < 0).any():
            raise ValueError("overlay 'frame' values must be whole numbers >= 0")
    elif "time" in columns:
        times = _numbers("time", columns["time"])
        if np.isnan(times).any() or (times < 0).any():
            raise ValueError("overlay 'time' values must be seconds >= 0")
        if clock is None:
            raise ValueError("this file has no video frames to place marks on")
        frames = frames_at(clock, times).astype(np.float64)
    elif count:
        raise ValueError("each overlay mark needs a 'frame' (or 'time' in seconds)")
    else:
        frames = np.zeros(0)
    if count and frames.max() >= 2**32:
        raise ValueError("overlay 'frame' values must be below 2**32")

    kinds_in = columns.get("kind") or ["box"] * count
    kind_index = {kind: index for index, kind in enumerate(KINDS)}
    kinds = np.zeros(count, dtype=np.uint8)
    for row, kind in enumerate(kinds_in):
        kind = "box" if _missing(kind) else kind
        if kind not in kind_index:
            raise ValueError(f"overlay row {row}: kind {kind!r} is not one of {', '.join(KINDS)}")
        kinds[row] = kind_index[kind]

    numbers = {
        name: _numbers(name, columns[name]) if name in columns else np.full(count, math.nan)
        for name in ("x", "y", "w", "h", "x2", "y2", "width")
    }
    for kind, needed in REQUIRED.items():
        rows_of_kind = kinds == kind_index[kind]
        for name in needed:
            bad = np.flatnonzero(rows_of_kind & ~np.isfinite(numbers[name]))
            if len(bad):
                raise ValueError(
                    f"overlay row {bad[0]}: a {kind} needs {', '.join(needed)} ({name} is missing)"
                )
    labels, label_table = _indexed(columns.get("label") or [None] * count, 2**32 - 1, "label")
    text_rows = np.flatnonzero((kinds == kind_index["text"]) & (labels == 0))
    if len(text_rows):
        raise ValueError(f"overlay row {text_rows[0]}: a text mark needs a 'label'")
    colors, palette = _indexed(columns.get("color") or [None] * count, MAX_COLORS, "color")

    is_line = kinds == kind_index["line"]
    a = np.where(is_line, numbers["x2"], numbers["w"])
    b = np.where(is_line, numbers["y2"], numbers["h"])
    values = {
        "frame": frames,
        "kind": kinds,
        "x": numbers["x"],
        "y": numbers["y"],
        "a": a,
        "b": b,
        "color": colors,
        "label": labels,
        "width": numbers["width"],
    }
    order = np.argsort(frames, kind="stable")
    parts = []
    for name, dtype in COLUMNS:
        column = np.nan_to_num(np.asarray(values[name], dtype=np.float64)[order], nan=0.0).astype(dtype)
        parts.append(shuffle(column))
    return Packed(count, palette, label_table, zlib.compress(b"".join(parts), 6))


def shuffle(column: np.ndarray) -> bytes:
    """Byte k of every number together, for k = 0, 1, ...: a column of similar numbers
    becomes long runs of equal bytes, which deflate well (the idea of Blosc's shuffle)."""
    size = column.dtype.itemsize
    return np.ascontiguousarray(column).view(np.uint8).reshape(-1, size).T.tobytes()


def unpack(packed: Packed) -> dict[str, np.ndarray]:
    """The columns back from a packed layer (tests, and anyone reading a saved output)."""
    raw = zlib.decompress(packed.data)
    columns, offset = {}, 0
    for name, dtype in COLUMNS:
        size = np.dtype(dtype).itemsize
        chunk = np.frombuffer(raw, np.uint8, packed.count * size, offset).reshape(size, -1).T
        columns[name] = np.ascontiguousarray(chunk).view(dtype).reshape(-1)
        offset += packed.count * size
    if offset != len(raw):
        raise ValueError("packed overlay has the wrong length")
    return columns


class Overlay:
    """A layer of marks on a player: ``.visible`` shows or hides it, ``.remove()`` drops it."""

    def __init__(self, player: Player, name: str, count: int):
        self._player = player
        self.name = name
        self.count = count

    @property
    def visible(self) -> bool:
        return self.name in self._player._overlays and self.name not in self._player._overlays_hidden

    @visible.setter
    def visible(self, value: bool) -> None:
        hidden = [name for name in self._player._overlays_hidden if name != self.name]
        self._player._overlays_hidden = hidden if value else [*hidden, self.name]
        self._player._update_saved_output()

    def remove(self) -> None:
        self._player._remove_overlay(self.name)

    def __repr__(self) -> str:
        state = "visible" if self.visible else "hidden" if self.name in self._player._overlays else "removed"
        return f"<Overlay {self.name!r}: {self.count} marks, {state}>"


def layer_names(existing: Iterable[str], name: str | None) -> str:
    """The name of a new layer: the one given, else the first free 'overlay', 'overlay 2', ..."""
    if name is not None:
        if not isinstance(name, str) or not name:
            raise ValueError("an overlay's name is a non-empty string")
        return name
    taken = set(existing)
    candidates = ("overlay" if k == 1 else f"overlay {k}" for k in range(1, len(taken) + 2))
    return next(candidate for candidate in candidates if candidate not in taken)

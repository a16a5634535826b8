"""Per-frame marks drawn over the video: packed once into compact columns for the page.

``pack(rows, clock)`` turns a pandas DataFrame or a list of dicts (one row a mark) into a
:class:`Packed` layer, column by column with numpy (a 5-million-row pose table packs in
seconds): the marks sorted by frame; text columns (kind, color, label, track, keypoint) as
small integers into a table of names; coordinates as float32 kept to 1/32 of a source pixel;
scores as whole thousandths. A column whose value is the same on every row is sent as that
value alone. Each column is byte-shuffled (the high bytes of neighbouring numbers sit
together and compress well) and deflated on its own (in threads), so the page inflates and
rebuilds them one after another without a long task. The same bytes go to the page as a
binary buffer of the widget's state and, base64-encoded, into the saved output, so a
reopened notebook draws them with no kernel.

How a layer is drawn (a colour, the per-track palette, the skeleton, the lowest score shown)
is its *style*: a few names and numbers, kept apart from the marks so that changing it never
sends them again (:func:`style`).

Frames are the unit: a ``time`` column is mapped to the frame on screen at that time by
the probe's :class:`~jupyter_rangevideo.probe.FrameClock` (the stream's own timestamps,
never ``time * fps``).
"""

from __future__ import annotations

import math
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .layers import Layers
    from .probe import FrameClock

KINDS = ("box", "point", "line", "text")
# The coordinates each kind needs, in source-video pixels.
REQUIRED = {
    "box": ("x", "y", "w", "h"),
    "point": ("x", "y"),
    "line": ("x", "y", "x2", "y2"),
    "text": ("x", "y"),
}
# The page's columns, in this order: name -> how a value is stored ("tN": an index + 1 into a
# table of names, 0 for none, in the smallest unsigned type that holds the table).
COLUMNS = {
    "frame": "<u4",
    "kind": "u1",
    "x": "<f4",
    "y": "<f4",
    "a": "<f4",  # a box's w, a line's x2
    "b": "<f4",  # a box's h, a line's y2
    "color": "t",
    "label": "t",
    "track": "t",
    "keypoint": "t",
    "width": "<f4",
    "score": "<i4",  # whole thousandths, rounded down; NO_SCORE where a mark has none
}
TEXT = ("color", "label", "track", "keypoint")
FORMAT = 2
COORDINATE_STEPS = 32  # coordinates are kept to 1/32 of a source pixel
NO_SCORE = -(2**31)
MAX_NAMES = 2**32 - 1


@dataclass(frozen=True)
class Packed:
    """One layer of marks, ready for the page: ``data`` is each stored column, shuffled and
    deflated, one after another (``columns`` gives each one's name, type and length)."""

    count: int
    palette: tuple[str, ...]  # color index i + 1 -> CSS color; 0 is the layer's default color
    labels: tuple[str, ...]  # label index i + 1 -> text; 0 is no label
    data: bytes
    tracks: tuple[str, ...] = ()
    keypoints: tuple[str, ...] = ()
    columns: tuple[tuple[str, str, int], ...] = ()
    constants: Mapping[str, float] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def state(self) -> dict[str, Any]:
        """For the widget's synced state: ``data`` travels as a binary buffer."""
        return {
            "format": FORMAT,
            "id": self.id,  # the page keeps a layer it has unpacked by this
            "count": self.count,
            "columns": [list(column) for column in self.columns],
            "constants": dict(self.constants),
            "palette": list(self.palette),
            "labels": list(self.labels),
            "tracks": list(self.tracks),
            "keypoints": list(self.keypoints),
            "data": self.data,
        }


def _columns(rows: Any) -> dict[str, Any]:
    """Column name -> values: a DataFrame's own Series (without importing pandas), or object
    arrays from a list of dicts."""
    if hasattr(rows, "columns") and hasattr(rows, "to_dict"):
        return {str(name): rows[name] for name in rows.columns}
    if isinstance(rows, Mapping):
        raise TypeError("overlay data is a list of dicts or a DataFrame, one row a mark, not a single dict")
    rows = list(rows)
    names: dict[str, None] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"overlay row {index} is a {type(row).__name__}, not a dict")
        names.update(dict.fromkeys(row))
    columns = {}
    for name in names:
        values = np.empty(len(rows), dtype=object)
        values[:] = [row.get(name) for row in rows]
        columns[str(name)] = values
    return columns


def _numbers(name: str, values: Any) -> np.ndarray:
    """float64, NaN where missing; ValueError naming the column for text."""
    try:
        if hasattr(values, "to_numpy"):  # a Series, nullable types too
            return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
        return np.asarray(values, dtype=np.float64)  # None -> NaN
    except (TypeError, ValueError):
        raise ValueError(f"overlay column {name!r} must hold numbers") from None


def codes_of(values: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """Text (or any values) -> (an index a row into the distinct names, -1 where missing or
    empty; the names as strings, in order of first appearance or a categorical's order)."""
    if hasattr(values, "cat"):  # a categorical Series: its codes as they are
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        uniques: Sequence[Any] = list(values.cat.categories)
    elif hasattr(values, "to_numpy"):
        import pandas as pd  # a Series: pandas is loaded

        found, index = pd.factorize(values, use_na_sentinel=True)
        codes, uniques = np.asarray(found, dtype=np.int64), list(index)
    else:
        table: dict[Any, int] = {}
        codes = np.full(len(values), -1, dtype=np.int64)
        for row, value in enumerate(values):
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                codes[row] = table.setdefault(value, len(table))
        uniques = list(table)
    # Distinct values with one text (1 and "1") share a name; "" is no name.
    names: dict[str, int] = {}
    remap = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last slot: code -1 stays -1
    for index, value in enumerate(uniques):
        text = str(value)
        if text:
            remap[index] = names.setdefault(text, len(names))
    return remap[codes], tuple(names)


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


def _frames(columns: dict[str, Any], count: int, clock: FrameClock | None) -> np.ndarray:
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
        return frames_at(clock, times)
    elif count:
        raise ValueError("each overlay mark needs a 'frame' (or 'time' in seconds)")
    else:
        frames = np.zeros(0)
    if count and frames.max() >= 2**32:
        raise ValueError("overlay 'frame' values must be below 2**32")
    return frames.astype(np.int64)


def _kinds(columns: dict[str, Any], count: int) -> np.ndarray:
    if "kind" not in columns:
        return np.zeros(count, dtype=np.uint8)
    codes, names = codes_of(columns["kind"])
    remap = np.zeros(len(names) + 1, dtype=np.uint8)  # missing (-1, the last slot): a box
    for index, name in enumerate(names):
        if name not in KINDS:
            row = int(np.flatnonzero(codes == index)[0])
            raise ValueError(f"overlay row {row}: kind {name!r} is not one of {', '.join(KINDS)}")
        remap[index] = KINDS.index(name)
    kinds: np.ndarray = remap[codes]
    return kinds


def score_codes(scores: np.ndarray) -> np.ndarray:
    """Scores as whole thousandths rounded down (NO_SCORE where missing): a point is shown
    when its code >= ceil(min_score * 1000), exactly ``score >= min_score`` for any
    ``min_score`` of up to three decimals."""
    finite = np.isfinite(scores)
    codes = np.floor(np.where(finite, scores, 0) * 1000 + 1e-6)
    codes = np.clip(codes, NO_SCORE + 1, 2**31 - 1).astype(np.int32)
    codes[~finite] = NO_SCORE
    return codes


def _validate(kinds: np.ndarray, numbers: dict[str, np.ndarray], labels: np.ndarray) -> None:
    for kind, needed in REQUIRED.items():
        rows_of_kind = kinds == KINDS.index(kind)
        if not rows_of_kind.any():
            continue
        for name in needed:
            bad = np.flatnonzero(rows_of_kind & ~np.isfinite(numbers[name]))
            if len(bad):
                raise ValueError(
                    f"overlay row {bad[0]}: a {kind} needs {', '.join(needed)} ({name} is missing)"
                )
    text_rows = np.flatnonzero((kinds == KINDS.index("text")) & (labels < 0))
    if len(text_rows):
        raise ValueError(f"overlay row {text_rows[0]}: a text mark needs a 'label'")


def pack(rows: Any, clock: FrameClock | None) -> Packed:
    """Validate and pack marks (see the module's docstring). Raises ValueError for bad data."""
    columns = _columns(rows)
    count = len(next(iter(columns.values()), []))
    frames = _frames(columns, count, clock)
    kinds = _kinds(columns, count)
    absent = np.full(count, math.nan)
    numbers = {
        name: _numbers(name, columns[name]) if name in columns else absent
        for name in ("x", "y", "w", "h", "x2", "y2", "width", "score")
    }
    texts = {name: codes_of(columns[name]) if name in columns else None for name in TEXT}
    label_codes = texts["label"][0] if texts["label"] else np.full(count, -1)
    _validate(kinds, numbers, label_codes)
    for name, found in texts.items():
        if found and len(found[1]) > MAX_NAMES:
            raise ValueError(
                f"an overlay layer holds at most {MAX_NAMES} distinct {name}s, not {len(found[1])}"
            )
    is_line = kinds == KINDS.index("line")
    lines = bool(is_line.any())
    values: dict[str, np.ndarray | float] = {
        "frame": frames,
        "kind": kinds,
        "x": numbers["x"],
        "y": numbers["y"],
        "a": np.where(is_line, numbers["x2"], numbers["w"]) if lines else numbers["w"],
        "b": np.where(is_line, numbers["y2"], numbers["h"]) if lines else numbers["h"],
        **{name: found[0] + 1 if found else 0 for name, found in texts.items()},
        "width": numbers["width"] if "width" in columns else 0.0,
        "score": score_codes(numbers["score"]) if "score" in columns else NO_SCORE,
    }
    if count and (np.diff(frames) < 0).any():
        order = np.argsort(frames, kind="stable")
        values = {name: v[order] if isinstance(v, np.ndarray) else v for name, v in values.items()}
    names = {name: found[1] if found else () for name, found in texts.items()}
    stored, constants = _stored(values, {name: len(table) for name, table in names.items()})
    return Packed(
        count,
        palette=names["color"],
        labels=names["label"],
        tracks=names["track"],
        keypoints=names["keypoint"],
        data=b"".join(data for _, _, data in stored),
        columns=tuple((name, kind, len(data)) for name, kind, data in stored),
        constants=constants,
    )


def _stored(
    values: dict[str, np.ndarray | float], table_sizes: dict[str, int]
) -> tuple[list[tuple[str, str, bytes]], dict[str, float]]:
    """The columns to send, deflated, and the values of those left out (the same on every row)."""
    typed: list[tuple[str, str, np.ndarray]] = []
    constants: dict[str, float] = {}
    for name, kind in COLUMNS.items():
        column = values[name]
        if not isinstance(column, np.ndarray):
            constants[name] = column
            continue
        if kind == "t":
            size = table_sizes[name]
            kind = "u1" if size < 2**8 else "<u2" if size < 2**16 else "<u4"
        elif kind == "<f4":
            column = np.nan_to_num(column, nan=0.0)
            if name != "width":
                column = np.round(column * COORDINATE_STEPS) / COORDINATE_STEPS
        column = column.astype(kind)
        if len(column) and (column == column[0]).all():
            constants[name] = column[0].item()
            continue
        if not len(column):
            constants[name] = 0
            continue
        typed.append((name, kind.lstrip("<"), column))
    with ThreadPoolExecutor(max_workers=2) as pool:  # zlib lets go of the GIL
        deflated = list(pool.map(lambda item: zlib.compress(shuffle(item[2]), 6), typed))
    return [(name, kind, data) for (name, kind, _), data in zip(typed, deflated)], constants


def shuffle(column: np.ndarray) -> bytes:
    """Byte k of every number together, for k = 0, 1, ...: a column of similar numbers
    becomes long runs of equal bytes, which deflate well (the idea of Blosc's shuffle)."""
    size = column.dtype.itemsize
    if size == 1:
        return column.tobytes()
    return np.ascontiguousarray(column).view(np.uint8).reshape(-1, size).T.tobytes()


def unpack(packed: Packed) -> dict[str, np.ndarray]:
    """Every column back from a packed layer (tests, and anyone reading a saved output)."""
    columns: dict[str, np.ndarray] = {}
    offset = 0
    for name, kind, length in packed.columns:
        raw = zlib.decompress(packed.data[offset : offset + length])
        offset += length
        size = np.dtype(kind).itemsize
        if len(raw) != packed.count * size:
            raise ValueError(f"packed overlay column {name!r} has the wrong length")
        planes = np.frombuffer(raw, np.uint8).reshape(size, -1).T
        columns[name] = np.ascontiguousarray(planes).view("<" + kind if size > 1 else kind).reshape(-1)
    if offset != len(packed.data):
        raise ValueError("packed overlay has the wrong length")
    for name, value in packed.constants.items():
        kind = COLUMNS[name] if COLUMNS[name] != "t" else "<u4"
        columns[name] = np.full(packed.count, value, dtype=kind)
    return {name: columns[name] for name in COLUMNS}


# --- the style: how a layer is drawn ------------------------------------------------------

# Tableau's 10 colours, then hues a golden angle apart.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip


def track_palette(count: int) -> list[str]:
    """A distinct colour for each of ``count`` tracks."""
    return [
        PALETTE[i] if i < len(PALETTE) else f"hsl({(i * 137.508) % 360:.1f}, 75%, 60%)" for i in range(count)
    ]


def skeleton_edges(keypoints: Sequence[str], skeleton: Iterable[Sequence[str]] | None) -> list[list[int]]:
    """Pairs of keypoint names -> pairs of the layer's keypoint numbers (index + 1, as the
    packed column holds them). A name the layer does not hold is a ValueError naming it."""
    if skeleton is None:
        return []
    number = {name: index + 1 for index, name in enumerate(keypoints)}
    edges = []
    for edge in skeleton:
        if isinstance(edge, str) or len(edge) != 2:
            raise ValueError(f"a skeleton edge is a pair of keypoint names, not {edge!r}")
        missing = [str(name) for name in edge if str(name) not in number]
        if missing:
            known = ", ".join(keypoints) if keypoints else "none: the data has no 'keypoint' column"
            raise ValueError(f"skeleton keypoint {missing[0]!r} is not in the data (keypoints: {known})")
        edges.append([number[str(edge[0])], number[str(edge[1])]])
    return edges


def style(
    packed: Packed,
    color: str | Mapping[Any, str] | None = None,
    skeleton: Iterable[Sequence[str]] | None = None,
    min_score: float | None = None,
) -> dict[str, Any]:
    """How the page draws a layer: ``color`` a CSS colour for every mark (a row's own
    ``color`` wins), or a mapping of track -> colour (other tracks from the palette); with
    no ``color``, a colour per track from :func:`track_palette`."""
    track_colors = None
    if isinstance(color, Mapping):
        given = {str(track): css for track, css in color.items()}
        track_colors = [
            given.get(track, auto) for track, auto in zip(packed.tracks, track_palette(len(packed.tracks)))
        ]
        color = None
    elif color is None and packed.tracks:
        track_colors = track_palette(len(packed.tracks))
    elif color is not None and not isinstance(color, str):
        raise TypeError(f"color is a CSS colour or a mapping of track -> colour, not {type(color).__name__}")
    if min_score is not None and not math.isfinite(float(min_score)):
        raise ValueError(f"min_score must be a number, not {min_score!r}")
    return {
        "color": color,
        "track_colors": track_colors,
        "skeleton": skeleton_edges(packed.keypoints, skeleton),
        "min_score": None if min_score is None else float(min_score),
    }


# Packed bytes of one player's layers that its saved output keeps by default. JupyterLab 4
# holds outputs in its shared document model, where a 30 MB output stalls the page for
# seconds each time it is rewritten; a larger layer is saved only with ``save=True``.
SAVED_MAX_BYTES = 8 * 2**20


def saved_layers(
    layers: Mapping[str, Mapping[str, Any]], styles: Mapping[str, Mapping[str, Any]]
) -> set[str]:
    """The names of the layers a saved output keeps: those with ``save`` True, then the others
    in order while the total stays under SAVED_MAX_BYTES (never those with ``save`` False)."""
    wanted = {name: styles.get(name, {}).get("save") for name in layers}
    kept = {name for name, save in wanted.items() if save}
    total = sum(len(layers[name]["data"]) for name in kept)
    for name, save in wanted.items():
        size = len(layers[name]["data"])
        if save is None and total + size <= SAVED_MAX_BYTES:
            kept.add(name)
            total += size
    return kept


class Overlay:
    """A layer of marks on a player: ``.visible`` shows or hides it, ``.min_score`` hides the
    marks scored below it (the page applies it: the marks are not sent again), ``.remove()``
    drops it."""

    def __init__(self, player: Layers, name: str, count: int):
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

    @property
    def min_score(self) -> float | None:
        value: float | None = self._player._overlay_styles.get(self.name, {}).get("min_score")
        return value

    @min_score.setter
    def min_score(self, value: float | None) -> None:
        if value is not None and not math.isfinite(float(value)):
            raise ValueError(f"min_score must be a number, not {value!r}")
        styles = dict(self._player._overlay_styles)
        styles[self.name] = {
            **styles.get(self.name, {}),
            "min_score": None if value is None else float(value),
        }
        self._player._overlay_styles = styles
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

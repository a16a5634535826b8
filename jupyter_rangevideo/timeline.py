"""Timeline strips under the video: signals as lines, events as coloured bars, and events
labelled from the keyboard.

``pack_lines`` turns a table of samples (a ``time`` column in seconds, or a ``frame``
column mapped to each frame's presentation time by the probe's
:class:`~jupyter_rangevideo.probe.FrameClock`) into a strip's state: the times as float64
and each signal as float32, raw little-endian bytes sent once as binary buffers of the
widget's state (base64 in the saved output, as overlays are). The page decimates them to a
min/max per pixel column (js/src/timeline-draw.js). ``pack_events`` turns ``start``, ``end``,
``label`` rows (an ethogram) into bars, a colour per label.

``label_events`` keys: in the focused player a key starts an interval at the presented
frame and the same key ends it (js/src/timeline.js); the page keeps the rows in the
player's ``_events`` trait, which ``events_frame`` turns into a DataFrame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from .probe import FrameClock

FORMAT = 1
KINDS = ("line", "events")
DEFAULT_HEIGHT = {"line": 60, "events": 24}
MAX_SAMPLES = 50_000_000
MAX_EVENTS = 100_000
# Matplotlib's tab10: lines in column order, events in label order.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# The player's own keys (js/src/keyboard.js), and Backspace (undo of click labelling).
PLAYER_KEYS = {
    ",": "one frame back",
    ".": "one frame forward",
    " ": "play/pause",
    "k": "play/pause",
    "j": "10 s back",
    "l": "10 s forward",
    "ArrowLeft": "5 s back",
    "ArrowRight": "5 s forward",
    "Backspace": "undo of a click label",
}
EVENTS_STRIP = "events"  # the name of the strip that label_events draws


def _columns(data: Any) -> dict[str, Any]:
    """Column name -> values from a DataFrame, a dict of columns or a list of dicts."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return {str(name): data[name].to_numpy() for name in data.columns}
    if isinstance(data, Mapping):
        return {str(name): values for name, values in data.items()}
    rows = list(data)
    names: dict[str, None] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"timeline row {index} is a {type(row).__name__}, not a dict")
        names.update(dict.fromkeys(row))
    return {str(name): [row.get(name) for row in rows] for name in names}


def _floats(name: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        try:
            array = np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"timeline column {name!r} must hold numbers") from None
    return array


def times_of(clock: FrameClock, frames: np.ndarray) -> np.ndarray:
    """FrameClock.time_of for many frames at once: when each frame is presented (seconds)."""
    if not clock.runs:
        return np.zeros(len(frames))
    runs = np.array(clock.runs, dtype=np.float64)
    clamped = np.clip(frames, 0, max(clock.frame_count - 1, 0))
    which = np.maximum(np.searchsorted(runs[:, 0], clamped, side="right") - 1, 0)
    times: np.ndarray = runs[which, 1] + (clamped - runs[which, 0]) * runs[which, 2]
    return times


def _axis(
    columns: dict[str, Any], time: str | None, frame: str | None, clock: FrameClock | None
) -> tuple[str, np.ndarray]:
    """The axis column's name and its values in seconds."""
    if time is not None and frame is not None:
        raise ValueError("give the axis as time= (seconds) or frame=, not both")
    if frame is None and time is None:
        time = "time" if "time" in columns or "frame" not in columns else None
        frame = None if time else "frame"
    name = frame if frame is not None else time
    assert name is not None
    if name not in columns:
        raise ValueError(
            f"the timeline data has no {name!r} column (columns: {', '.join(columns) or 'none'})"
        )
    values = _floats(name, columns[name])
    if np.isnan(values).any() or (values < 0).any():
        raise ValueError(f"timeline {name!r} values must be numbers >= 0")
    if frame is not None:
        if clock is None:
            raise ValueError("this file has no video frames to place samples on")
        if (values != np.round(values)).any():
            raise ValueError(f"timeline {name!r} values must be whole frame numbers")
        values = times_of(clock, values)
    return name, values


def _colors(names: Sequence[str], colors: Any) -> list[str]:
    if colors is None:
        return [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    if isinstance(colors, str):
        return [colors] * len(names)
    if isinstance(colors, Mapping):
        return [str(colors.get(name, PALETTE[i % len(PALETTE)])) for i, name in enumerate(names)]
    listed = [str(c) for c in colors]
    if len(listed) < len(names):
        raise ValueError(f"{len(listed)} colors for {len(names)} {'columns' if names else 'labels'}")
    return listed[: len(names)]


def pack_lines(
    data: Any,
    clock: FrameClock | None,
    *,
    time: str | None = None,
    frame: str | None = None,
    columns: Sequence[str] | None = None,
    colors: Any = None,
    height: int | None = None,
) -> dict[str, Any]:
    """A line strip's state: ``t`` (float64 seconds, sorted) and ``values`` (float32, the
    columns one after another), as bytes."""
    table = _columns(data)
    axis, seconds = _axis(table, time, frame, clock)
    if columns is None:
        names = [name for name in table if name not in (axis, "time", "frame") and _numeric(table[name])]
    else:
        names = [str(name) for name in ([columns] if isinstance(columns, str) else columns)]
        missing = [name for name in names if name not in table]
        if missing:
            raise ValueError(f"the timeline data has no column {missing[0]!r}")
    if not names:
        raise ValueError("the timeline data has no numeric column to draw beside its axis")
    if len(seconds) > MAX_SAMPLES:
        raise ValueError(f"a strip holds at most {MAX_SAMPLES} samples, not {len(seconds)}")
    order = np.argsort(seconds, kind="stable")
    signals = (
        np.stack([_floats(name, table[name])[order] for name in names])
        if len(seconds)
        else np.zeros((len(names), 0))
    )
    finite = signals[np.isfinite(signals)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return {
        "format": FORMAT,
        "kind": "line",
        "height": _height(height, "line"),
        "count": len(seconds),
        "columns": names,
        "colors": _colors(names, colors),
        "range": [low, high],
        "t": np.ascontiguousarray(seconds[order], dtype="<f8").tobytes(),
        "values": np.ascontiguousarray(signals, dtype="<f4").tobytes(),
    }


def _numeric(values: Any) -> bool:
    array = np.asarray(values)
    return array.dtype.kind in "iufb"


def _height(height: int | None, kind: str) -> int:
    if height is None:
        return DEFAULT_HEIGHT[kind]
    if int(height) != height or not 8 <= height <= 1000:
        raise ValueError(f"a strip's height is a whole number of pixels from 8 to 1000, not {height!r}")
    return int(height)


def pack_events(
    data: Any,
    clock: FrameClock | None,
    *,
    time: str | None = None,
    frame: str | None = None,
    colors: Any = None,
    height: int | None = None,
) -> dict[str, Any]:
    """An events strip's state: ``events`` as [start, end, label index] in seconds (a frame's
    interval ends when the next frame is presented), ``labels`` and their ``colors``."""
    table = _columns(data)
    in_frames = frame is not None or ("start_frame" in table and "start" not in table)
    start_name, end_name = (
        ("start_frame", "end_frame") if "start_frame" in table and "start" not in table else ("start", "end")
    )
    for name in (start_name, end_name, "label"):
        if name not in table:
            raise ValueError(
                f"an events strip needs columns start, end and label (or start_frame, end_frame, label); no {name!r}"
            )
    starts = _floats(start_name, table[start_name])
    ends = _floats(end_name, table[end_name])
    labels = [str(label) for label in table["label"]]
    if len(starts) > MAX_EVENTS:
        raise ValueError(f"an events strip holds at most {MAX_EVENTS} events")
    if np.isnan(starts).any() or (starts < 0).any():
        raise ValueError(f"events {start_name!r} values must be numbers >= 0")
    ends = np.where(np.isnan(ends), starts, ends)
    if (ends < starts).any():
        row = int(np.flatnonzero(ends < starts)[0])
        raise ValueError(f"event row {row} ({labels[row]!r}) ends before it starts")
    if in_frames:
        if clock is None:
            raise ValueError("this file has no video frames to place events on")
        step = clock.runs[-1][2] if clock.runs else 0.04
        last = clock.frame_count - 1
        ends = np.where(
            ends >= last, times_of(clock, np.minimum(ends, last)) + step, times_of(clock, ends + 1)
        )
        starts = times_of(clock, starts)
    names = list(dict.fromkeys(sorted(set(labels))))
    index = {name: i for i, name in enumerate(names)}
    return {
        "format": FORMAT,
        "kind": "events",
        "height": _height(height, "events"),
        "count": len(starts),
        "labels": names,
        "colors": _colors(names, colors),
        "events": [[float(s), float(e), index[label]] for s, e, label in zip(starts, ends, labels)],
    }


def pack(data: Any, clock: FrameClock | None, *, kind: str, **options: Any) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"a strip's kind is one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "line":
        return pack_lines(data, clock, **options)
    options.pop("columns", None)
    return pack_events(data, clock, **options)


def labelled_strip(keys: Mapping[str, str], colors: Any = None, height: int | None = None) -> dict[str, Any]:
    """The strip that shows the player's labelled events (its ``_events`` trait), live."""
    names = list(dict.fromkeys(keys.values()))
    return {
        "format": FORMAT,
        "kind": "events",
        "source": "labels",
        "height": _height(height, "events"),
        "labels": names,
        "colors": _colors(names, colors),
    }


def check_keys(keys: Mapping[str, str]) -> dict[str, str]:
    """{key: label}, refused where a key is not one character or is one of the player's own."""
    if not isinstance(keys, Mapping):
        raise TypeError('label_events takes a dict of key -> label, e.g. {"g": "grooming"}')
    checked: dict[str, str] = {}
    for key, label in keys.items():
        if not isinstance(key, str) or len(key) != 1 or not key.isprintable():
            raise ValueError(f"a labelling key is one printable character, not {key!r}")
        taken = PLAYER_KEYS.get(key) or PLAYER_KEYS.get(key.lower())
        if taken:
            own = ", ".join(repr(k) for k in PLAYER_KEYS if len(k) == 1) + ", the arrows and Backspace"
            raise ValueError(
                f"key {key!r} is the player's own ({taken}); label with other keys (the player uses {own})"
            )
        if not isinstance(label, str) or not label:
            raise ValueError(f"the label of key {key!r} is a non-empty string, not {label!r}")
        checked[key] = label
    return checked


def events_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """The labelled events as a DataFrame: start_frame, end_frame (<NA> while open), label."""
    import pandas as pd

    return pd.DataFrame(
        {
            "start_frame": pd.array([int(row[0]) for row in rows], dtype="Int64"),
            "end_frame": pd.array([None if row[1] is None else int(row[1]) for row in rows], dtype="Int64"),
            "label": pd.array([str(row[2]) for row in rows], dtype="string"),
        }
    )


def event_rows(rows: Any) -> list[list[Any]]:
    """[start, end or None, label] rows from a DataFrame like ``p.events`` or (start, end, label) tuples."""
    if hasattr(rows, "itertuples"):
        rows = rows[["start_frame", "end_frame", "label"]].itertuples(index=False)
    cleaned = []
    for start, end, label in rows:
        missing = end is None or (isinstance(end, float) and math.isnan(end)) or str(end) == "<NA>"
        cleaned.append([int(start), None if missing else int(end), str(label)])
    return cleaned


def label_events(player: Any, keys: Mapping[str, str] | None, colors: Any = None) -> None:
    """Player.label_events: the keys, and the strip that shows the labelled events."""
    if keys is None:
        player._label_keys = {}
        return
    checked = check_keys(keys)
    strip = labelled_strip(checked, colors)
    with player.hold_sync():
        player._label_keys = checked
        player._timelines = {
            **{k: v for k, v in player._timelines.items() if k != EVENTS_STRIP},
            EVENTS_STRIP: strip,
        }
    player._update_saved_output()


def saved_state(player: Any) -> dict[str, Any]:
    """What a saved output keeps of a player's strips and labelled events."""
    return {
        "timelines": saved(player._timelines),
        "label_keys": dict(player._label_keys),
        "events": [list(row) for row in player._events],
    }


def strip_name(existing: Sequence[str], name: str | None) -> str:
    if name is not None:
        if not isinstance(name, str) or not name:
            raise ValueError("a strip's name is a non-empty string")
        return name
    taken = set(existing)
    return next(f"strip {k}" for k in range(1, len(taken) + 2) if f"strip {k}" not in taken)


def saved(strips: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The strips for a saved output: the bytes as base64."""
    import base64

    return {
        name: {
            k: base64.b64encode(v).decode("ascii") if isinstance(v, (bytes, bytearray, memoryview)) else v
            for k, v in state.items()
        }
        for name, state in strips.items()
    }


class Timeline:
    """A strip under a player or grid: ``.remove()`` drops it."""

    def __init__(self, owner: Any, name: str, kind: str, count: int):
        self._owner = owner
        self.name = name
        self.kind = kind
        self.count = count

    def remove(self) -> None:
        self._owner._timelines = {k: v for k, v in self._owner._timelines.items() if k != self.name}
        self._owner._update_saved_output()

    def __repr__(self) -> str:
        state = "shown" if self.name in self._owner._timelines else "removed"
        return f"<Timeline {self.name!r}: {self.kind}, {self.count} {'samples' if self.kind == 'line' else 'events'}, {state}>"


def add(
    owner: Any, data: Any, clock: FrameClock | None, *, name: str | None, kind: str, **options: Any
) -> Timeline:
    """Pack ``data`` and add it to ``owner``'s strips (a Player or a Grid); returns its handle.

    ``kind="line"``: ``data`` (a DataFrame, dict of columns or list of dicts) has a ``time``
    column in seconds, or ``frame=`` names a column of frame numbers; ``columns`` the signals
    (default: every other numeric column), drawn against one y range. ``kind="events"``:
    ``start``, ``end`` (seconds; frames with ``frame=``, or ``start_frame``/``end_frame``
    columns) and ``label``. ``colors``: a dict by column or label, a list, or one CSS colour;
    ``height`` in CSS pixels. A strip of the same ``name`` is replaced."""
    strip = strip_name(list(owner._timelines), name)
    state = pack(data, clock, kind=kind, **options)
    owner._timelines = {**{k: v for k, v in owner._timelines.items() if k != strip}, strip: state}
    owner._update_saved_output()
    return Timeline(owner, strip, kind, state["count"])

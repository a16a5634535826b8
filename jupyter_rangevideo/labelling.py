"""Labelling by click: ``p.annotate(kind, label)`` turns clicks (points) or drags (boxes) on
the video into rows of ``p.annotations``, in source pixels on the presented frame.

The page does the clicking (js/src/annotate.js): it maps the pointer through the picture's
letterboxing to source pixels, takes the frame from the presented-frame loop, and sets the
whole list of rows, ``_annotations``, each time (Backspace drops the last); the kernel's
copy is the table. Rows are small lists, ``[frame, x, y, w, h, label, kind]`` (``w`` and
``h`` None on a point), drawn by the page as a layer of their own and kept in the saved
output, which is rewritten once the clicks pause (each rewrite republishes every layer).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import traitlets as t

if TYPE_CHECKING:
    import anywidget
    import pandas as pd

    _WidgetBase = anywidget.AnyWidget
else:
    # A HasTraits, so that its traits are set up in its own class; the Player's MRO places
    # it before anywidget.AnyWidget (a HasTraits too).
    _WidgetBase = t.HasTraits

KINDS = ("point", "box")
ROW = ("frame", "x", "y", "w", "h", "label", "kind")
# Seconds without a click before the saved output is rewritten.
SAVE_AFTER = 1.0


def annotating_state(kind: str | None, label: Any) -> dict[str, Any]:
    """The ``_annotating`` trait for ``annotate(kind, label)``: {} stops."""
    if kind is None:
        return {}
    if kind not in KINDS:
        raise ValueError(f"annotate kind is 'point', 'box' or None, not {kind!r}")
    if label is not None and not isinstance(label, str):
        raise TypeError(f"an annotation's label is a string or None, not {type(label).__name__}")
    return {"kind": kind, "label": label}


def valid_rows(rows: Any) -> list[list[Any]]:
    """The page's rows, checked: a bad one (a page of another version, a hand-made trait) is
    a ValueError naming it, never a half-read table."""
    checked = []
    for index, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) != len(ROW):
            raise ValueError(f"annotation row {index} is not [{', '.join(ROW)}]: {row!r}")
        frame, _, _, w, h, _, kind = row
        if kind not in KINDS or not isinstance(frame, int) or frame < 0:
            raise ValueError(f"annotation row {index} has a bad kind or frame: {row!r}")
        if kind == "box" and (w is None or h is None):
            raise ValueError(f"annotation row {index} is a box without w, h: {row!r}")
        checked.append(list(row))
    return checked


def table(rows: list[list[Any]]) -> pd.DataFrame:
    """The rows as a DataFrame: frame (int64), x, y, w, h (float64, NaN on points), label and
    kind (categoricals, as ``read_annotations`` returns them)."""
    import numpy as np
    import pandas as pd

    columns = list(zip(*rows)) if rows else [()] * len(ROW)
    data = dict(zip(ROW, columns))
    frame = pd.DataFrame(
        {
            "frame": np.asarray(data["frame"], dtype=np.int64),
            **{name: np.array(data[name], dtype=np.float64) for name in ("x", "y", "w", "h")},
            "label": pd.Categorical(list(data["label"])),
            "kind": pd.Categorical(list(data["kind"]), categories=[k for k in KINDS if k in data["kind"]]),
        }
    )
    return frame


class Labelling(_WidgetBase):
    """Mixed into the Player, before ``anywidget.AnyWidget``."""

    # {"kind": "point" | "box", "label": str | None} while clicks label; {} otherwise.
    _annotating = t.Dict({}).tag(sync=True)
    # The rows made by clicking, [frame, x, y, w, h, label, kind] each (the page sets them).
    _annotations: t.List[list[Any]] = t.List([]).tag(sync=True)
    _save_handle: asyncio.TimerHandle | None = None

    def annotate(self, kind: str | None = "point", label: str | None = None) -> None:
        """Label by clicking on the video: with ``kind="point"`` a click adds a point, with
        ``kind="box"`` a drag adds a box, both in source pixels on the frame presented, with
        ``label``; Backspace in the player takes the last one back; ``annotate(None)`` stops.
        The click never plays, pauses or seeks (step with ``,`` and ``.``, or from Python).
        The rows are ``p.annotations``."""
        self._annotating = annotating_state(kind, label)
        if kind is None:
            self._save_now()

    @property
    def annotations(self) -> pd.DataFrame:
        """The points and boxes labelled by clicking: a DataFrame of frame, x, y, w, h, label,
        kind, in the order they were made (``write_annotations`` writes it)."""
        return table(valid_rows(self._annotations))

    def clear_annotations(self) -> None:
        """Drop every row made by clicking."""
        self._annotations = []

    @t.observe("_annotations")
    def _annotations_changed(self, change: dict[str, Any]) -> None:
        """Rewrite the saved output once the clicks pause (at once outside an event loop)."""
        if self._save_handle is not None:
            self._save_handle.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._save_now()
            return
        self._save_handle = loop.call_later(SAVE_AFTER, self._save_now)

    def _save_now(self) -> None:
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        self._update_saved_output()

"""The one table every reader returns: its columns, their order and types, and the error."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Every reader returns these columns in this order, those the format has:
#   frame     int64, 0-based index of the video frame
#   track     identity: int64 where the format numbers its tracks (MOT, COCO, CVAT),
#             text where it names them (DeepLabCut individuals, SLEAP tracks)
#   keypoint  text, the body part (pose formats)
#   label     text, the class
#   kind      text, "box" or "point"
# Text is a pandas Categorical whose categories are the distinct values, sorted: a 1-hour
# 4-animal pose file is 5 million rows, where a string a row costs seconds and a gigabyte.
#   x, y      float64, a box's top-left corner or a keypoint, source pixels
#   w, h      float64, a box's size (NaN on points)
#   score     float64, the confidence (NaN where a row has none)
COLUMNS = ("frame", "track", "keypoint", "label", "kind", "x", "y", "w", "h", "score")
TEXT = ("keypoint", "label", "kind")
NUMBERS = ("x", "y", "w", "h", "score")


class AnnotationFormatError(ValueError):
    """The file is not what its format says: names the file and the format expected."""

    def __init__(self, path: str | os.PathLike[str], format: str, why: str):
        self.path = os.fspath(path)
        self.format = format
        super().__init__(f"{self.path!r} is not in {format} format: {why}")


def table(columns: Mapping[str, Any]) -> pd.DataFrame:
    """A tidy DataFrame from column arrays, in the order and types of COLUMNS.

    Text columns come from object arrays (None or NaN for missing) or :class:`Codes`; they
    become categoricals of sorted categories, so that a table read from any file equals the
    table written and read back."""
    import pandas as pd

    unknown = set(columns) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown annotation columns: {sorted(unknown)}")
    data: dict[str, Any] = {}
    for name in COLUMNS:
        if name not in columns:
            continue
        values = columns[name]
        if name == "frame":
            data[name] = np.asarray(values, dtype=np.int64)
        elif name in NUMBERS:
            data[name] = np.asarray(values, dtype=np.float64)
        elif name == "track":
            data[name] = _track(values)
        else:
            data[name] = text(values)
    frame = pd.DataFrame(data)
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Codes:
    """A text column given as an index a row into ``names`` (-1: missing), for long tables."""

    codes: np.ndarray
    names: Sequence[str]


def text(values: Any) -> pd.Series:
    """A categorical of sorted categories, NaN for missing."""
    import pandas as pd

    if isinstance(values, Codes):
        names = np.asarray(values.names, dtype=object)
        order = np.argsort(names, kind="stable")
        rank = np.empty(len(names) + 1, dtype=np.int64)
        rank[order] = np.arange(len(names))
        rank[-1] = -1  # code -1 indexes the last slot: missing stays missing
        codes = rank[np.asarray(values.codes, dtype=np.int64)]
        return pd.Series(
            pd.Categorical.from_codes(codes, categories=pd.Index([str(n) for n in names[order]]))
        )
    objects = np.array(values, dtype=object).reshape(-1)
    objects[pd.isna(objects)] = np.nan
    return pd.Series(pd.Categorical(objects))


def _track(values: Any) -> Any:
    """Whole numbers stay int64; names (or numbers with gaps) become text."""
    if isinstance(values, Codes):
        return text(values)
    array = np.asarray(values)
    if array.dtype.kind == "O" and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in array
    ):
        array = array.astype(np.float64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        return array.astype(np.int64)
    objects = np.array(values, dtype=object).reshape(-1)
    return text([v if isinstance(v, str) or _missing(v) else str(v) for v in objects])


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def trailing_number(name: str) -> int | None:
    """The number at the end of a file name's stem: "clip_000123.txt" -> 123."""
    stem = os.path.splitext(os.path.basename(name))[0]
    match = re.search(r"(\d+)$", stem)
    return int(match.group(1)) if match else None


def names_list(names: Sequence[str] | Mapping[Any, str] | None) -> dict[int, str]:
    """Class names as index -> name, from a list or a dict (keys ints or numeric strings)."""
    if names is None:
        return {}
    if isinstance(names, Mapping):
        return {int(key): str(value) for key, value in names.items()}
    return dict(enumerate(str(name) for name in names))

"""Writers (COCO video JSON, MOT txt, CSV) and the reader of this package's own CSV.

Each writes the table ``read_annotations`` returns so that reading the file back gives an
equal table (``pandas.testing.assert_frame_equal``): same columns in the order of
``COLUMNS``, same types. What a format cannot hold is an error, never dropped: points and
labels in MOT, points in COCO, track names (not numbers) in either.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ._tidy import COLUMNS, TEXT, AnnotationFormatError, table

if TYPE_CHECKING:
    import pandas as pd

CSV = "annotations CSV"


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A CSV with a header naming the tidy columns (frame, x, y at least), as written by
    ``write_annotations(df, path, format="csv")``; other columns follow, as pandas reads them."""
    import pandas as pd

    try:
        # Text as text ("0" stays a keypoint named 0), floats back to the same floats.
        raw = pd.read_csv(path, dtype=dict.fromkeys(TEXT, str), float_precision="round_trip")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise AnnotationFormatError(path, CSV, f"pandas cannot read it ({error})") from None
    missing = [name for name in ("frame", "x", "y") if name not in raw.columns]
    if missing:
        raise AnnotationFormatError(path, CSV, f"its header has no {', '.join(missing)} column")
    known = table({name: raw[name].to_numpy() for name in COLUMNS if name in raw.columns})
    others = [name for name in raw.columns if name not in COLUMNS]
    return pd.concat([known, raw[others]], axis=1) if others else known


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    ordered = [name for name in COLUMNS if name in frame.columns]
    ordered += [name for name in frame.columns if name not in COLUMNS]
    frame[ordered].to_csv(path, index=False)


def _boxes_only(frame: pd.DataFrame, format: str, forbidden: tuple[str, ...]) -> None:
    if "kind" in frame.columns and (frame["kind"] != "box").any():
        raise ValueError(f"{format} holds boxes only: this table has {sorted(set(frame['kind']) - {'box'})}")
    for name in forbidden:
        if name in frame.columns and frame[name].notna().any():
            raise ValueError(f"{format} has no place for the {name!r} column: drop it first")
    for name in ("frame", "x", "y", "w", "h"):
        if name not in frame.columns:
            raise ValueError(f"{format} needs a {name!r} column")
    if "track" in frame.columns and frame["track"].dtype.kind not in "iu":
        raise ValueError(f"{format} numbers its tracks: map the names in 'track' to whole numbers first")


def _number(value: float) -> str:
    """A float as text that reads back to the same float; whole numbers without '.0'."""
    return str(int(value)) if value.is_integer() else repr(value)


def write_mot(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """``frame+1,id,left,top,width,height,conf,-1,-1,-1``: id -1 without a track, conf -1
    without a score."""
    _boxes_only(frame, "MOT", ("label", "keypoint"))
    count = len(frame)
    tracks = frame["track"].to_numpy() if "track" in frame.columns else np.full(count, -1)
    scores = frame["score"].to_numpy(np.float64) if "score" in frame.columns else np.full(count, np.nan)
    frames = frame["frame"].to_numpy(np.int64)
    columns = [frame[name].to_numpy(np.float64) for name in ("x", "y", "w", "h")]
    with open(path, "w", encoding="utf-8") as file:
        for row in range(count):
            score = "-1" if np.isnan(scores[row]) else _number(float(scores[row]))
            box = ",".join(_number(float(column[row])) for column in columns)
            file.write(f"{frames[row] + 1},{int(tracks[row])},{box},{score},-1,-1,-1\n")


def write_coco(
    frame: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    video: str = "video",
    width: int | None = None,
    height: int | None = None,
) -> None:
    """COCO video JSON: one video, an image per annotated frame (``frame_id`` 0-based), a
    category per label in order of first use, ``instance_id`` from ``track``."""
    _boxes_only(frame, "COCO", ("keypoint",))
    labels: dict[str, int] = {}
    if "label" in frame.columns:
        for label in frame["label"].dropna():
            labels.setdefault(str(label), len(labels) + 1)
    frames = sorted({int(f) for f in frame["frame"]})
    size = {} if width is None or height is None else {"width": int(width), "height": int(height)}
    images = [
        {"id": f + 1, "video_id": 1, "frame_id": f, "file_name": f"{video}/{f:06d}", **size} for f in frames
    ]
    annotations = []
    records = frame.to_dict(orient="records")
    for number, record in enumerate(records, 1):
        box = [float(record[name]) for name in ("x", "y", "w", "h")]
        annotation: dict[str, Any] = {"id": number, "image_id": int(record["frame"]) + 1, "bbox": box}
        annotation.update(area=box[2] * box[3], iscrowd=0)
        if "label" in record and isinstance(record["label"], str):
            annotation["category_id"] = labels[record["label"]]
        if "track" in record:
            annotation["instance_id"] = int(record["track"])
        if "score" in record and not np.isnan(record["score"]):
            annotation["score"] = float(record["score"])
        annotations.append(annotation)
    document = {
        "info": {"description": "written by jupyter-rangevideo"},
        "videos": [{"id": 1, "name": video, **size}],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name} for name, i in labels.items()],
    }
    with open(path, "w", encoding="utf-8") as file:
        json.dump(document, file)

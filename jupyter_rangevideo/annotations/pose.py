"""Pose files: DeepLabCut's CSV and H5, SLEAP's .slp (through sleap-io) and analysis .h5 (h5py).

Each reader returns one row a keypoint a frame (``kind`` "point", ``keypoint`` the body part,
``track`` the animal where the file tells animals apart, ``score`` the confidence where the
file has one). A keypoint the tool did not find (NaN in DeepLabCut, missing in SLEAP) is no
row at all, never a row of NaN.
"""

from __future__ import annotations

import csv
import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ._tidy import AnnotationFormatError, Codes, table, trailing_number

if TYPE_CHECKING:
    import pandas as pd

DLC = "DeepLabCut"
SLEAP = "SLEAP"
SLEAP_ANALYSIS = "SLEAP analysis HDF5"
LEVELS = ("individuals", "bodyparts", "coords")


def dlc_csv_header(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(header rows, index columns) of a DeepLabCut CSV, or None if it is not one: the first
    column of its header rows reads scorer, [individuals,] bodyparts, coords."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = [row for _, row in zip(range(4), csv.reader(file))]
    except (UnicodeDecodeError, csv.Error):
        return None
    if not rows or not rows[0] or rows[0][0] != "scorer":
        return None
    depth = 1
    for row in rows[1:]:
        if not row or row[0] not in LEVELS:
            break
        depth += 1
    if depth < 3 or rows[depth - 1][0] != "coords":
        return None
    # Labelled-data files index each row by (folder, video, image): empty header cells.
    index_columns = 1
    while index_columns < len(rows[0]) and rows[0][index_columns] == "":
        index_columns += 1
    return depth, index_columns


def read_dlc_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A DeepLabCut CSV (single- or multi-animal, predictions or labelled data)."""
    import pandas as pd

    header = dlc_csv_header(path)
    if header is None:
        raise AnnotationFormatError(
            path, f"{DLC} CSV", "its first column does not read scorer, [individuals,] bodyparts, coords"
        )
    depth, index_columns = header
    frame = pd.read_csv(path, header=list(range(depth)), index_col=list(range(index_columns)))
    return dlc_table(frame, path)


def read_dlc_h5(path: str | os.PathLike[str], key: str | None = None) -> pd.DataFrame:
    """A DeepLabCut H5: pandas ``to_hdf`` under the key "df_with_missing"."""
    import pandas as pd

    try:
        with pd.HDFStore(os.fspath(path), mode="r") as store:
            keys = [k.lstrip("/") for k in store]
            if key is None:
                key = "df_with_missing" if "df_with_missing" in keys else keys[0] if len(keys) == 1 else None
            if key is None or key not in keys:
                raise AnnotationFormatError(
                    path, f"{DLC} H5", f"it holds no table 'df_with_missing' ({keys})"
                )
            frame = store[key]
            if not isinstance(frame, pd.DataFrame):
                raise AnnotationFormatError(path, f"{DLC} H5", f"its {key!r} is not a table")
    except (OSError, TypeError, ValueError) as error:
        if isinstance(error, AnnotationFormatError):
            raise
        raise AnnotationFormatError(path, f"{DLC} H5", f"pandas cannot read it ({error})") from error
    return dlc_table(frame, path)


def dlc_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> pd.DataFrame:
    """DeepLabCut's wide table (one row a frame, columns scorer/[individuals/]bodyparts/coords)
    to the tidy one."""
    columns = frame.columns
    if getattr(columns, "nlevels", 1) not in (3, 4):
        raise AnnotationFormatError(path, DLC, "its columns are not scorer/[individuals/]bodyparts/coords")
    multi = columns.nlevels == 4
    coords = [str(c) for c in columns.get_level_values(-1)]
    if "x" not in coords or "y" not in coords:
        raise AnnotationFormatError(path, DLC, "its coords level has no x and y")
    # Each (individual, bodypart) in column order, with the positions of x, y and likelihood.
    points: dict[tuple[str, str], dict[str, int]] = {}
    for position, key in enumerate(columns):
        individual, bodypart = (str(key[1]), str(key[2])) if multi else ("", str(key[1]))
        points.setdefault((individual, bodypart), {})[str(key[-1])] = position
    for (individual, bodypart), where in points.items():
        if "x" not in where or "y" not in where:
            raise AnnotationFormatError(path, DLC, f"{individual} {bodypart} lacks x or y")
    values = frame.to_numpy(dtype=np.float64)
    frames = _frame_numbers(frame.index, path)
    count = len(points)
    xs = values[:, [where["x"] for where in points.values()]].reshape(-1)
    ys = values[:, [where["y"] for where in points.values()]].reshape(-1)
    keep = np.isfinite(xs) & np.isfinite(ys)
    out: dict[str, Any] = {"frame": np.repeat(frames, count)[keep]}
    if multi:
        out["track"] = _tiled([i for i, _ in points], len(frames), keep)
    out["keypoint"] = _tiled([b for _, b in points], len(frames), keep)
    out["kind"] = Codes(np.zeros(int(keep.sum()), dtype=np.int64), ["point"])
    out["x"], out["y"] = xs[keep], ys[keep]
    if all("likelihood" in where for where in points.values()):
        scores = values[:, [where["likelihood"] for where in points.values()]].reshape(-1)
        out["score"] = scores[keep]
    return table(out)


def _tiled(names: list[str], times: int, keep: np.ndarray) -> Codes:
    """``names`` repeated ``times`` over, less the rows not kept, as codes."""
    distinct, codes = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    return Codes(np.tile(codes, times)[keep], [str(name) for name in distinct])


def _frame_numbers(index: Any, path: str | os.PathLike[str]) -> np.ndarray:
    """Frame numbers from DeepLabCut's index: 0..n-1 for a video's predictions, image paths
    (img0042.png, or (folder, video, image)) for labelled data."""
    last = index.get_level_values(-1) if getattr(index, "nlevels", 1) > 1 else index
    if last.dtype.kind in "iu":
        return np.asarray(last, dtype=np.int64)
    numbers = [trailing_number(str(name)) for name in last]
    if any(n is None for n in numbers):
        raise AnnotationFormatError(path, DLC, "a row's index is neither a frame number nor an image name")
    return np.asarray(numbers, dtype=np.int64)


def read_slp(path: str | os.PathLike[str], video: int | str | None = None) -> pd.DataFrame:
    """A SLEAP labels file (.slp), through sleap-io: in each frame the user's instances and
    the predictions no user instance replaces (sleap-io's ``unused_predictions``, what SLEAP
    shows). ``score`` is the point's confidence, NaN on a user's points, which have none;
    ``track`` the track's name, missing on an untracked instance."""
    import sleap_io

    try:
        labels = sleap_io.load_slp(os.fspath(path), open_videos=False)
    except Exception as error:
        raise AnnotationFormatError(path, f"{SLEAP} .slp", f"sleap-io cannot read it ({error})") from error
    chosen = _pick_video([v.filename for v in labels.videos], video, path)
    nodes: dict[str, int] = {}
    tracks: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("frame", "track", "keypoint", "xy", "score")}
    for labeled in labels.labeled_frames:
        if labels.videos.index(labeled.video) != chosen:
            continue
        for instance in [*labeled.user_instances, *labeled.unused_predictions]:
            xy = np.asarray(instance.numpy(), dtype=np.float64)
            keep = np.isfinite(xy).all(axis=1)
            count = int(keep.sum())
            names = instance.skeleton.node_names
            codes = np.array([nodes.setdefault(name, len(nodes)) for name in names], dtype=np.int64)
            fields = instance.points.dtype.names or ()
            scores = instance.points["score"] if "score" in fields else np.full(len(xy), np.nan)
            track = -1 if instance.track is None else tracks.setdefault(instance.track.name, len(tracks))
            parts["frame"].append(np.full(count, labeled.frame_idx, dtype=np.int64))
            parts["track"].append(np.full(count, track, dtype=np.int64))
            parts["keypoint"].append(codes[keep])
            parts["xy"].append(xy[keep])
            parts["score"].append(np.asarray(scores, dtype=np.float64)[keep])
    joined = {k: np.concatenate(v) if v else np.zeros((0, 2) if k == "xy" else 0) for k, v in parts.items()}
    order = np.argsort(joined["frame"], kind="stable")  # labelled frames come in the order labelled
    joined = {k: v[order] for k, v in joined.items()}
    out: dict[str, Any] = {"frame": joined["frame"]}
    if tracks:
        out["track"] = Codes(joined["track"], list(tracks))
    out["keypoint"] = Codes(joined["keypoint"], list(nodes))
    out["kind"] = Codes(np.zeros(len(joined["frame"]), dtype=np.int64), ["point"])
    out.update(x=joined["xy"][:, 0], y=joined["xy"][:, 1], score=joined["score"])
    return table(out)


def _pick_video(names: list[Any], video: int | str | None, path: str | os.PathLike[str]) -> int:
    if video is None:
        if len(names) > 1:
            raise ValueError(f"{os.fspath(path)!r} holds {len(names)} videos: pass video= one of {names}")
        return 0
    if isinstance(video, int):
        return video
    matches = [
        i for i, name in enumerate(names) if str(name) == video or os.path.basename(str(name)) == video
    ]
    if not matches:
        raise ValueError(f"{os.fspath(path)!r} has no video {video!r}: it has {names}")
    return matches[0]


def read_sleap_analysis(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A SLEAP analysis HDF5 file. SLEAP writes ``tracks`` transposed for MATLAB, as (track,
    xy, node, frame), ``point_scores`` as (track, node, frame); sleap-io names each dataset's
    axes in a ``dims`` attribute, which wins where present. Frame index i is video frame i
    (SLEAP exports all frames from 0)."""
    import h5py

    try:
        file = h5py.File(os.fspath(path), "r")
    except OSError as error:
        raise AnnotationFormatError(path, SLEAP_ANALYSIS, f"h5py cannot open it ({error})") from None
    with file:
        missing = [name for name in ("tracks", "node_names") if name not in file]
        if missing:
            raise AnnotationFormatError(path, SLEAP_ANALYSIS, f"it has no {' or '.join(missing)} dataset")
        tracks = _canonical(file["tracks"], ("frame", "track", "node", "xy"), file.attrs)
        scores = (
            _canonical(file["point_scores"], ("frame", "track", "node"), file.attrs)
            if "point_scores" in file
            else None
        )
        nodes = [_text(n) for n in file["node_names"][()]]
        names = [_text(n) for n in file["track_names"][()]] if "track_names" in file else []
    frames, count, node_count, _ = tracks.shape
    if node_count != len(nodes):
        raise AnnotationFormatError(path, SLEAP_ANALYSIS, f"{node_count} nodes in tracks, {len(nodes)} names")
    xs, ys = tracks[..., 0].reshape(-1), tracks[..., 1].reshape(-1)
    keep = np.isfinite(xs) & np.isfinite(ys)
    out: dict[str, Any] = {"frame": np.repeat(np.arange(frames), count * node_count)[keep]}
    if names or count > 1:
        labels = names if len(names) == count else [str(i) for i in range(count)]
        out["track"] = _tiled(list(np.repeat(np.array(labels, dtype=object), node_count)), frames, keep)
    out["keypoint"] = _tiled(nodes, frames * count, keep)
    out["kind"] = Codes(np.zeros(int(keep.sum()), dtype=np.int64), ["point"])
    out["x"], out["y"] = xs[keep], ys[keep]
    if scores is not None:
        out["score"] = scores.reshape(-1)[keep]
    return table(out)


# How SLEAP stores its arrays: transposed for MATLAB (its default), or, in old files written
# with transpose=False, as (frame, node, xy, track).
MATLAB_AXES = {4: ("track", "xy", "node", "frame"), 3: ("track", "node", "frame")}
UNTRANSPOSED_AXES = {4: ("frame", "node", "xy", "track"), 3: ("frame", "node", "track")}


def _canonical(dataset: Any, order: tuple[str, ...], attrs: Any) -> np.ndarray:
    """A dataset's array with its axes in ``order``: as its ``dims`` attribute names them
    (sleap-io writes one), else as SLEAP lays them out."""
    data = np.asarray(dataset[()], dtype=np.float64)
    if "dims" in dataset.attrs:
        stored = tuple(json.loads(_text(dataset.attrs["dims"])))
    elif attrs.get("transpose", True):
        stored = MATLAB_AXES[data.ndim]
    else:
        stored = UNTRANSPOSED_AXES[data.ndim]
    return data.transpose([stored.index(axis) for axis in order])


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)

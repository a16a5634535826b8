"""Box files: MOT Challenge txt, COCO-style video JSON and a YOLO folder of per-frame txt."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._tidy import AnnotationFormatError, names_list, table, trailing_number

if TYPE_CHECKING:
    import pandas as pd

MOT = "MOT Challenge txt"
COCO = "COCO video JSON"
YOLO = "YOLO folder"


def looks_like_mot(path: str | os.PathLike[str]) -> bool:
    """The first line is 6 or more comma-separated numbers."""
    try:
        with open(path, encoding="utf-8") as file:
            line = file.readline()
    except (UnicodeDecodeError, OSError):
        return False
    fields = [f.strip() for f in line.split(",")]
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return len(fields) >= 6


def read_mot(path: str | os.PathLike[str]) -> pd.DataFrame:
    """MOT Challenge: ``frame,id,bb_left,bb_top,bb_width,bb_height,conf,x,y,z``, frames from 1.

    Frames become 0-based. ``track`` is the id, left out when every id is -1 (a detections
    file); ``score`` is conf, NaN where conf is -1 and left out when all are. Columns after
    conf (world x, y, z; class and visibility in MOT17/20 ground truth) are not read."""
    import pandas as pd

    try:
        raw = pd.read_csv(path, header=None, skipinitialspace=True, dtype=np.float64, comment="#")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise AnnotationFormatError(
            path, MOT, f"its rows are not comma-separated numbers ({error})"
        ) from None
    values = raw.to_numpy()
    if values.ndim != 2 or values.shape[1] < 6:
        raise AnnotationFormatError(path, MOT, "its rows have fewer than 6 values (frame,id,left,top,w,h)")
    frames = values[:, 0]
    if len(frames) and ((frames != np.round(frames)).any() or frames.min() < 1):
        raise AnnotationFormatError(path, MOT, "its frame numbers are not whole numbers from 1")
    out: dict[str, Any] = {"frame": frames.astype(np.int64) - 1}
    ids = values[:, 1]
    if not (ids == -1).all():
        out["track"] = ids
    out["kind"] = np.full(len(values), "box", dtype=object)
    out.update(x=values[:, 2], y=values[:, 3], w=values[:, 4], h=values[:, 5])
    if values.shape[1] > 6:
        conf = np.where(values[:, 6] == -1, np.nan, values[:, 6])
        if not np.isnan(conf).all():
            out["score"] = conf
    return table(out)


def read_coco(path: str | os.PathLike[str], video: int | str | None = None) -> pd.DataFrame:
    """COCO-style video JSON (CocoVID, as mmtracking, TAO and BDD100K write it): ``images``
    with ``video_id`` and ``frame_id`` (else ``frame_index``, else the number ending
    ``file_name``), ``annotations`` with ``bbox`` [x, y, w, h], ``category_id`` (to
    ``label`` by ``categories``), ``instance_id`` or ``track_id``, ``score``; COCO keypoints
    [x, y, v, ...] become points named by their category's ``keypoints`` (v = 0: not there).
    With several videos, ``video=`` (an id or a name) picks one."""
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AnnotationFormatError(path, COCO, f"it is not JSON ({error})") from None
    if not isinstance(document, dict) or not {"images", "annotations"} <= set(document):
        raise AnnotationFormatError(path, COCO, "it has no 'images' and 'annotations' lists")
    images = {image["id"]: image for image in document["images"]}
    chosen = _coco_video(document, images, video, path)
    categories = {c["id"]: c for c in document.get("categories", [])}
    rows: dict[str, list[Any]] = {k: [] for k in ("frame", "track", "keypoint", "label", "kind")}
    rows.update({k: [] for k in ("x", "y", "w", "h", "score")})

    def add(**row: Any) -> None:
        for name, values in rows.items():
            values.append(row.get(name, np.nan if name in ("w", "h") else None))

    for annotation in document["annotations"]:
        image = images.get(annotation.get("image_id"))
        if image is None:
            raise AnnotationFormatError(path, COCO, f"annotation {annotation.get('id')} has no image")
        if chosen is not None and image.get("video_id") != chosen:
            continue
        frame = _coco_frame(image, path)
        track = annotation.get("instance_id", annotation.get("track_id"))
        category = categories.get(annotation.get("category_id"), {})
        label = category.get("name", annotation.get("category_id"))
        label = None if label is None else str(label)
        score = annotation.get("score", np.nan)
        if annotation.get("bbox"):
            x, y, w, h = annotation["bbox"]
            add(frame=frame, track=track, label=label, score=score, kind="box", x=x, y=y, w=w, h=h)
        keypoints = annotation.get("keypoints") or []
        names = category.get("keypoints") or [str(i) for i in range(len(keypoints) // 3)]
        for index in range(len(keypoints) // 3):
            x, y, v = keypoints[3 * index : 3 * index + 3]
            if v > 0:
                add(
                    frame=frame,
                    track=track,
                    label=label,
                    score=score,
                    kind="point",
                    keypoint=names[index],
                    x=x,
                    y=y,
                )
    present = {
        "track": any(t is not None for t in rows["track"]),
        "keypoint": any(k is not None for k in rows["keypoint"]),
        "label": any(lab is not None for lab in rows["label"]),
        "w": "box" in rows["kind"],
        "h": "box" in rows["kind"],
        "score": not np.isnan(np.asarray(rows["score"], dtype=np.float64)).all(),
    }
    return table({name: values for name, values in rows.items() if present.get(name, True)})


def _coco_video(
    document: Mapping[str, Any], images: Mapping[Any, Any], video: int | str | None, path: Any
) -> Any:
    videos = document.get("videos") or []
    used = {image.get("video_id") for image in images.values()}
    if video is None:
        if len(used) > 1:
            names = [v.get("name", v.get("file_name", v.get("id"))) for v in videos]
            raise ValueError(f"{os.fspath(path)!r} holds {len(used)} videos: pass video= one of {names}")
        return None
    for entry in videos:
        if video in (entry.get("id"), entry.get("name"), entry.get("file_name")):
            return entry.get("id")
    raise ValueError(f"{os.fspath(path)!r} has no video {video!r}")


def _coco_frame(image: Mapping[str, Any], path: Any) -> int:
    for key in ("frame_id", "frame_index"):
        if key in image:
            return int(image[key])
    number = trailing_number(str(image.get("file_name", "")))
    if number is None:
        raise AnnotationFormatError(path, COCO, f"image {image.get('id')} has no frame_id")
    return number


def read_yolo(
    folder: str | os.PathLike[str],
    *,
    width: float | None = None,
    height: float | None = None,
    video: str | os.PathLike[str] | None = None,
    names: Sequence[str] | Mapping[Any, str] | None = None,
    first_frame: int = 0,
) -> pd.DataFrame:
    """A folder of YOLO txt files, one a frame: ``class cx cy w h [conf]`` normalised to the
    image. The frame is the number ending each file name, less ``first_frame`` (Ultralytics'
    ``predict`` numbers a video's frames from 1: pass 1). The pixel size comes from
    ``width=`` and ``height=``, or from ``video=`` (probed). Labels come from ``names=`` (a
    list or dict), else a data.yaml (``names``) or classes.txt in the folder or its parent,
    else the class number."""
    if video is not None and (width is None or height is None):
        from ..probe import probe

        facts = probe(video).video
        if facts is None:
            raise ValueError(f"{os.fspath(video)!r} has no video stream to take a size from")
        width, height = facts.width, facts.height
    if width is None or height is None:
        raise ValueError("a YOLO folder holds normalised boxes: pass width= and height=, or video=")
    classes = names_list(names) if names is not None else _yolo_names(folder)
    files = sorted(
        (number, entry.path)
        for entry in os.scandir(folder)
        if entry.name.endswith(".txt") and (number := trailing_number(entry.name)) is not None
    )
    if not files:
        raise AnnotationFormatError(folder, YOLO, "it holds no txt files whose names end with a frame number")
    frames, values = [], []
    for number, file_path in files:
        with open(file_path, encoding="utf-8") as file:
            for line_number, line in enumerate(file, 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) not in (5, 6):
                    why = f"line {line_number} of {file_path} has {len(fields)} values, not class cx cy w h [conf]"
                    raise AnnotationFormatError(folder, YOLO, why)
                try:
                    values.append([float(f) for f in fields] + [np.nan] * (6 - len(fields)))
                except ValueError:
                    raise AnnotationFormatError(folder, YOLO, f"line {line_number} of {file_path}") from None
                frames.append(number - first_frame)
    array = np.asarray(values, dtype=np.float64).reshape(-1, 6)
    w, h = array[:, 3] * width, array[:, 4] * height
    out: dict[str, Any] = {
        "frame": frames,
        "label": [classes.get(int(c), str(int(c))) for c in array[:, 0]],
        "kind": ["box"] * len(frames),
        "x": array[:, 1] * width - w / 2,
        "y": array[:, 2] * height - h / 2,
        "w": w,
        "h": h,
    }
    if not np.isnan(array[:, 5]).all():
        out["score"] = array[:, 5]
    return table(out)


def _yolo_names(folder: str | os.PathLike[str]) -> dict[int, str]:
    for where in (os.fspath(folder), os.path.dirname(os.path.abspath(folder))):
        for name in ("data.yaml", "dataset.yaml"):
            candidate = os.path.join(where, name)
            if os.path.isfile(candidate):
                import yaml

                with open(candidate, encoding="utf-8") as file:
                    found = (yaml.safe_load(file) or {}).get("names")
                if found is not None:
                    return names_list(found)
        classes = os.path.join(where, "classes.txt")
        if os.path.isfile(classes):
            with open(classes, encoding="utf-8") as file:
                return dict(enumerate(line.strip() for line in file if line.strip()))
    return {}

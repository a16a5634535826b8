"""CVAT for video 1.1 XML: tracks of boxes and points, interpolated between keyframes as CVAT
does (cvat/apps/dataset_manager/annotation.py, ``TrackManager.get_interpolated_shapes``):

- only keyframes count (``keyframe="1"``); CVAT's own importer drops the other shapes too;
- a box moves linearly from one keyframe to the next, also towards an ``outside`` keyframe;
- a points shape moves linearly when both keyframes hold one point, else it stays as it was;
- ``outside="1"`` ends the shape: no rows from that keyframe to the next one that is inside;
- the last keyframe, unless outside, lasts to the task's ``stop_frame``.

Frames are the file's, the video's own frame numbers; with a frame step (``frame_filter``
"step=K") a track has rows only on every K-th frame from ``start_frame``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import numpy as np

from ._tidy import AnnotationFormatError, table

if TYPE_CHECKING:
    import pandas as pd

CVAT = "CVAT for video 1.1 XML"


@dataclass
class _Keyframe:
    frame: int
    outside: bool
    points: np.ndarray  # box: xtl, ytl, xbr, ybr; points: x0, y0, x1, y1, ...


def read_cvat(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Boxes (``kind`` "box"), points (one row a point, ``keypoint`` its index in the shape)
    and skeletons (one row a point, ``keypoint`` the element's label, each element a track of
    its own keyframes, as CVAT interpolates them) of every track. Other shapes (polygons,
    polylines, ellipses, cuboids, masks) and shapes outside tracks (``<image>``) are not read."""
    try:
        root = ElementTree.parse(os.fspath(path)).getroot()
    except ElementTree.ParseError as error:
        raise AnnotationFormatError(path, CVAT, f"it is not XML ({error})") from None
    if root.tag != "annotations":
        raise AnnotationFormatError(path, CVAT, f"its root element is <{root.tag}>, not <annotations>")
    start, stop, step = _task_frames(root)
    names = ("frame", "track", "keypoint", "label", "kind", "x", "y", "w", "h")
    rows: dict[str, list[Any]] = {name: [] for name in names}
    for track in root.iter("track"):
        track_id, label = int(track.get("id", "0")), track.get("label")
        for kind, element, keyframes in _series(track, path):
            for frame, points in _interpolate(keyframes, kind, stop, start, step):
                values: list[tuple[str | None, float, float, float, float]]
                if kind == "box":
                    values = [(None, points[0], points[1], points[2] - points[0], points[3] - points[1])]
                else:
                    values = [
                        (str(i) if element is None else element, x, y, np.nan, np.nan)
                        for i, (x, y) in enumerate(points.reshape(-1, 2))
                    ]
                for keypoint, x, y, w, h in values:
                    kind_name = "box" if kind == "box" else "point"
                    for name, value in zip(names, (frame, track_id, keypoint, label, kind_name, x, y, w, h)):
                        rows[name].append(value)
    if not any(k is not None for k in rows["keypoint"]):
        del rows["keypoint"]
    if "box" not in rows["kind"]:
        del rows["w"], rows["h"]
    order = np.lexsort((np.asarray(rows["track"]), np.asarray(rows["frame"]))).astype(np.int64)
    return table({name: np.asarray(values, dtype=object)[order] for name, values in rows.items()})


def _series(track: ElementTree.Element, path: Any) -> list[tuple[str, str | None, list[_Keyframe]]]:
    """(kind, skeleton element's label or None, keyframes in frame order) for each series of
    shapes in a track: its boxes, its points, and each element of its skeletons."""
    series: list[tuple[str, str | None, list[_Keyframe]]] = []
    for kind in ("box", "points"):
        shapes = [
            _keyframe(shape, shape.get("frame"), path) for shape in track.findall(kind) if _is_key(shape)
        ]
        series.append((kind, None, sorted(shapes, key=lambda k: k.frame)))
    elements: dict[str, list[_Keyframe]] = {}
    for skeleton in track.findall("skeleton"):
        for element in skeleton.findall("points"):
            if _is_key(element):
                elements.setdefault(element.get("label", ""), []).append(
                    _keyframe(element, skeleton.get("frame"), path)
                )
    series.extend(("points", name, sorted(keys, key=lambda k: k.frame)) for name, keys in elements.items())
    return series


def _is_key(shape: ElementTree.Element) -> bool:
    return shape.get("keyframe", "1") == "1"


def _task_frames(root: ElementTree.Element) -> tuple[int, int | None, int]:
    """(start_frame, stop_frame or None, frame step) from the file's meta."""
    start = root.findtext(".//meta//start_frame")
    stop = root.findtext(".//meta//stop_frame")
    step = re.search(r"step\s*=\s*(\d+)", root.findtext(".//meta//frame_filter") or "")
    return (
        int(start) if start else 0,
        int(stop) if stop else None,
        int(step.group(1)) if step else 1,
    )


def _keyframe(shape: ElementTree.Element, frame: str | None, path: Any) -> _Keyframe:
    try:
        if frame is None:
            raise KeyError("frame")
        if shape.tag == "box":
            points = [float(shape.attrib[k]) for k in ("xtl", "ytl", "xbr", "ybr")]
        else:
            points = [float(v) for pair in shape.attrib["points"].split(";") for v in pair.split(",")]
        return _Keyframe(int(frame), shape.get("outside", "0") == "1", np.asarray(points))
    except (KeyError, ValueError) as error:
        raise AnnotationFormatError(path, CVAT, f"a <{shape.tag}> lacks or garbles {error}") from None


def _interpolate(
    keyframes: list[_Keyframe], kind: str, stop: int | None, start: int, step: int
) -> list[tuple[int, np.ndarray]]:
    """(frame, points) for every frame on which the track is inside."""
    shapes: list[tuple[int, np.ndarray]] = []
    for here, after in zip(keyframes, keyframes[1:]):
        if here.outside:
            continue
        linear = kind == "box" or (len(here.points) == 2 and len(after.points) == 2)
        for frame in range(here.frame, after.frame):
            if (frame - start) % step:
                continue
            offset = (frame - here.frame) / (after.frame - here.frame)
            shapes.append(
                (frame, here.points + (after.points - here.points) * offset if linear else here.points)
            )
    if keyframes and not keyframes[-1].outside:
        last = keyframes[-1]
        end = last.frame + 1 if stop is None else max(stop + 1, last.frame + 1)
        shapes.extend((frame, last.points) for frame in range(last.frame, end) if not (frame - start) % step)
    return shapes

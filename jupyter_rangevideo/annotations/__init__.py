"""Annotation files of other tools as one tidy DataFrame, and three formats written back.

``read_annotations(path)`` returns one row a mark, in the columns of :data:`COLUMNS` that the
format has (see ``_tidy.py`` for their types), ready for ``p.overlay(df)``. One function per
format, each using the format's own library where a well-kept one exists: pandas for
DeepLabCut (its CSV and H5 are pandas' own ``to_csv`` and ``to_hdf``) and MOT, sleap-io for
SLEAP's .slp, h5py for SLEAP's analysis HDF5; the standard library for COCO JSON and CVAT
XML, PyYAML for YOLO's data.yaml.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._tidy import COLUMNS, AnnotationFormatError
from .boxes import looks_like_mot, read_coco, read_mot, read_yolo
from .cvat import read_cvat
from .pose import dlc_csv_header, read_dlc_csv, read_dlc_h5, read_sleap_analysis, read_slp
from .write import read_csv, write_coco, write_csv, write_mot

if TYPE_CHECKING:
    import pandas as pd

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _read_dlc(path: str, **options: Any) -> pd.DataFrame:
    return read_dlc_h5(path, **options) if _is_hdf5(path) else read_dlc_csv(path)


READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "dlc": _read_dlc,
    "sleap": read_slp,
    "sleap-analysis": read_sleap_analysis,
    "mot": read_mot,
    "coco": read_coco,
    "cvat": read_cvat,
    "yolo": read_yolo,
    "csv": read_csv,
}
WRITERS: dict[str, Callable[..., None]] = {"coco": write_coco, "mot": write_mot, "csv": write_csv}


def read_annotations(path: str | os.PathLike[str], format: str | None = None, **options: Any) -> pd.DataFrame:
    """Read a tracker's or a labelling tool's file into one tidy DataFrame.

    ``format`` is found from the file (its extension and its first bytes) unless given: one
    of "dlc" (DeepLabCut CSV or H5), "sleap" (.slp), "sleap-analysis" (SLEAP's analysis
    .h5), "mot", "coco" (video JSON), "cvat" (CVAT for video 1.1 XML), "yolo" (a folder of
    per-frame txt files) and "csv" (this package's own). ``options`` go to the format's
    reader: ``video=`` picks one video from a SLEAP or COCO file with several; for YOLO,
    ``width=`` and ``height=`` or ``video=`` (a video file) give the pixel size, ``names=``
    the class names and ``first_frame=`` the number of the first frame's file.

    Raises :class:`AnnotationFormatError` (a ValueError) naming the file and the format when
    the file is not one; FileNotFoundError when there is no file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no annotation file {path!r}")
    format = detect(path) if format is None else format.lower()
    if format not in READERS:
        raise ValueError(f"unknown annotation format {format!r}: one of {', '.join(READERS)}")
    if format == "yolo" and not os.path.isdir(path):
        raise AnnotationFormatError(path, "YOLO folder", "it is a file, not a folder of per-frame txt files")
    if format != "yolo" and os.path.isdir(path):
        raise AnnotationFormatError(path, format, "it is a folder")
    with _extra_hint():
        return READERS[format](path, **options)


def write_annotations(
    df: pd.DataFrame, path: str | os.PathLike[str], format: str = "csv", **options: Any
) -> None:
    """Write a tidy table (as :func:`read_annotations` returns, or ``p.annotations``) as
    "coco" (video JSON; ``video=``, ``width=``, ``height=`` describe the video), "mot" or
    "csv". ``read_annotations`` reads the file back into an equal table. A table that the
    format cannot hold (points in COCO or MOT, labels in MOT, named tracks) raises ValueError."""
    if format not in WRITERS:
        raise ValueError(f"write_annotations writes {', '.join(WRITERS)}, not {format!r}")
    with _extra_hint():
        WRITERS[format](df, os.fspath(path), **options)


@contextlib.contextmanager
def _extra_hint() -> Iterator[None]:
    """pandas, PyTables, h5py, sleap-io and PyYAML come with the "annotations" extra: say so."""
    try:
        yield
    except ImportError as error:
        hint = 'pip install "jupyter-rangevideo[annotations]"'
        raise ImportError(f"{error} (annotation files need the annotations extra: {hint})") from error


def _is_hdf5(path: str) -> bool:
    with open(path, "rb") as file:
        return file.read(8) == HDF5_SIGNATURE


def detect(path: str) -> str:
    """The format of a file, from its extension and content."""
    if os.path.isdir(path):
        return "yolo"
    extension = os.path.splitext(path)[1].lower()
    if _is_hdf5(path):
        import h5py

        with h5py.File(path, "r") as file:
            keys = set(file.keys())
        if {"tracks", "node_names"} <= keys:
            return "sleap-analysis"
        if {"frames", "instances"} <= keys or extension == ".slp":
            return "sleap"
        return "dlc"
    with open(path, "rb") as file:
        start = file.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"<") or extension == ".xml":
        return "cvat"
    if start.startswith(b"{") or extension == ".json":
        return "coco"
    if dlc_csv_header(path) is not None:
        return "dlc"
    if looks_like_mot(path):
        return "mot"
    if extension == ".csv":
        return "csv"
    raise AnnotationFormatError(
        path, "a known annotation", f"its format cannot be told; pass format= one of {', '.join(READERS)}"
    )


__all__ = ["COLUMNS", "AnnotationFormatError", "detect", "read_annotations", "write_annotations"]

"""Media containers read in pure Python: their headers and indexes, never their media data.

One module a container family, each with a generic walker for reading headers elsewhere too:

- :mod:`.mp4` (MP4/MOV boxes, :func:`iter_boxes`), :mod:`.matroska` (Matroska/WebM EBML
  elements, :func:`read_element`, :func:`iter_elements`), :mod:`.avi` (RIFF chunks,
  :func:`iter_chunks`).

Here, whether a file is cut off: an interrupted copy or download leaves a file whose header
and index are whole but whose media data stops part-way; FFmpeg opens it and a player plays
up to the cut, then goes silent. The container says how long the file should be: box,
element and chunk sizes, and the offsets in its index. :func:`read_layout` compares them
with the file's size, reading headers and indexes only (a few small reads at the front, one
per top-level box or chunk, and the index where it is cheap to read), whatever the file's
size. MPEG-TS, MPEG-PS, raw streams and anything else declare neither a size nor an index:
there is nothing to compare, so no verdict (never a false alarm).
"""

from __future__ import annotations

import contextlib
import struct
from typing import BinaryIO, cast

from .avi import Chunk, avi_layout, iter_chunks
from .base import Layout, read_at
from .header import Header, StreamHeader
from .matroska import CLUSTER, EBML_MAGIC, Element, iter_elements, matroska_layout, read_element
from .matroska_header import matroska_header
from .mp4 import FIRST_BOXES, Box, iter_boxes, mp4_layout
from .mp4_header import mp4_header


def read_layout(file: BinaryIO, size: int) -> Layout | None:
    """The furthest byte that ``file``'s container declares, or None for a container that
    declares none (or one not recognised)."""
    head = read_at(file, 0, 12)
    if len(head) >= 8 and head[4:8] in FIRST_BOXES:
        return mp4_layout(file, size)
    if head[:4] == EBML_MAGIC:
        return matroska_layout(file, size)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return avi_layout(file, size)
    return None  # MPEG-TS/PS, raw streams, ...: no declared size or index


def cut_off(path: str, size: int, source: object = None) -> str | None:
    """A plain-words explanation if the file at ``path`` (a regular file of ``size`` bytes,
    or ``source``: a seekable binary file, a remote object's reader) is cut off, else None."""
    # Unbuffered: each read of a local file is one small pread.
    with contextlib.nullcontext(source) if source else open(path, "rb", buffering=0) as opened:
        file = cast(BinaryIO, opened)
        start = file.tell()
        try:
            layout = read_layout(file, size)
        except (struct.error, ValueError, IndexError):
            return None  # a header this module misreads is FFmpeg's to judge, never a false alarm
        finally:
            file.seek(start)  # a source handed in is read next from where it was (by PyAV)
    if layout is None or not layout.missing:
        return None
    if layout.at_least:
        expects = f"at least {human_size(layout.expected)}"
        missing = f"at least {human_size(layout.missing)} missing"
    else:
        expects = human_size(layout.expected)
        percent = 100 * layout.missing / layout.expected
        missing = (
            f"{human_size(layout.missing)}, {percent:.0f} % missing"
            if percent >= 1
            else (f"{human_size(layout.missing)}, {percent:.1g} % missing")
        )
    return (
        f"{path!r} is cut off: {layout.declared_by} expects {expects} of data but the file holds"
        f" {human_size(layout.size)} ({missing}), as from an interrupted copy or download. Copy or"
        " download it again; to watch the part that arrived, remux it into a new file, e.g."
        " `ffmpeg -i IN -c copy OUT`"
    )


def read_header(file: BinaryIO, size: int) -> Header | None:
    """The facts in ``file``'s header (a file of ``size`` bytes), or None when unsure."""
    file.seek(0)
    head = file.read(12)
    try:
        if len(head) >= 8 and head[4:8] in FIRST_BOXES:
            return mp4_header(file, size)
        if head[:4] == EBML_MAGIC:
            return matroska_header(file, size)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError):
        return None  # a header misread here is PyAV's to judge
    return None


def header_of(path: str, size: int) -> Header | None:
    """:func:`read_header` of the file at ``path``."""
    with open(path, "rb", buffering=0) as file:  # unbuffered: each read is one small pread
        return read_header(file, size)


def human_size(count: int) -> str:
    """Bytes in decimal units, three significant digits: '604 MB', '1.21 GB'."""
    if count < 1000:
        return f"{count} bytes"
    value = float(count)
    for unit in ("KB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if value < 999.5 or unit == "PB":
            break
    return f"{value:.3g} {unit}"


__all__ = [
    "CLUSTER",
    "Box",
    "Chunk",
    "Element",
    "Header",
    "Layout",
    "StreamHeader",
    "cut_off",
    "header_of",
    "human_size",
    "iter_boxes",
    "iter_chunks",
    "iter_elements",
    "read_element",
    "read_header",
    "read_layout",
]

"""MP4 / MOV (ISO base media file format, QuickTime): the box walker and the declared layout.

The top-level boxes' sizes (``size``, 64-bit ``largesize``, 0 = to the end) and the sample
tables' furthest byte (``stco``/``co64`` with ``stsc``/``stsz``), which catches a cut exactly at
a box boundary; fragmented MP4 by its ``moof``/``mdat`` boxes.
"""

from __future__ import annotations

import io
import struct
import sys
import time
from array import array
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from .base import MAX_INDEX_BYTES, MAX_TOP_LEVEL, WALK_SECONDS, Furthest, Layout, read_at

# The first box of an MP4/MOV file is one of these.
FIRST_BOXES = {
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp", b"sidx", b"uuid", b"junk",
}  # fmt: skip
# Boxes found at the top level of MP4/MOV files. Another type (or bytes that are not a box:
# padding, junk a camera appended) ends the walk without a verdict.
TOP_LEVEL = {
    "ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "uuid", "moof", "mfra", "styp", "sidx",
    "ssix", "prft", "emsg", "meta", "udta", "pdin", "junk", "meco", "PICT", "Xtra",
}  # fmt: skip


class Box(NamedTuple):
    kind: str  # the four-character type, e.g. "moov"
    start: int  # offset of the box's header
    header: int  # header length: 8, or 16 with a 64-bit largesize
    end: int  # declared end (start + size); a size of 0 extends to the end of the parent


def iter_boxes(file: BinaryIO, start: int, end: int, limit: int = MAX_TOP_LEVEL) -> Iterator[Box]:
    """The boxes from ``start`` until ``end`` (the parent's end, or the file's size), as
    declared. A box whose declared end lies past ``end`` is yielded, and ends the walk; so
    do a header that is not a box's (a type that is not four printable characters, a size
    smaller than its header) and the ``limit``-th box."""
    position = start
    for _ in range(limit):
        if position + 8 > end:
            return
        header = read_at(file, position, 16)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header[:8])
        length = 8
        if size == 1:
            if len(header) < 16:
                return
            size = struct.unpack(">Q", header[8:16])[0]
            length = 16
        elif size == 0:
            size = end - position
        if size < length or not all(32 <= c < 127 for c in kind):
            return
        yield Box(kind.decode("latin-1"), position, length, position + size)
        position += size


def mp4_layout(file: BinaryIO, size: int) -> Layout | None:
    furthest = Furthest()
    moov: Box | None = None
    last: Box | None = None
    ends_whole = _ends_with_mfra(file, size)
    fragments = 0
    deadline = time.monotonic() + WALK_SECONDS
    for count, box in enumerate(iter_boxes(file, 0, size)):
        if box.kind not in TOP_LEVEL or box.kind == "moof" and ends_whole:
            break  # a fragmented file whose last box is whole: no need to walk its fragments
        if count % 256 == 255 and time.monotonic() > deadline:
            break
        # A fragment cut (more may follow), or media data cut before the index: the index and
        # whatever followed are missing too, their lengths unknown.
        more = box.kind == "moof" or box.kind == "mdat" and (moov is None or fragments > 0)
        furthest.see(box.end, f"its header (the size of its '{box.kind}' box)", more)
        if box.kind == "moov" and moov is None:
            moov = box
        fragments += box.kind == "moof"
        last = box
    if last is not None and last.kind == "moof" and last.end == size:
        # The file ends with a fragment's header, none of its data: cut at a box boundary.
        furthest.see(last.end + 8, "its last fragment's header (a 'moof' box with no 'mdat' after it)", True)
    if moov is not None and moov.end <= size and moov.end - moov.start <= MAX_INDEX_BYTES:
        data = read_at(file, moov.start, moov.end - moov.start)
        end = _samples_end(io.BytesIO(data), len(data))
        if end is not None:
            furthest.see(end, "its index (the sample tables)")
    if not furthest.end:
        return None
    return Layout("mp4", furthest.end, size, furthest.by, furthest.at_least)


def _ends_with_mfra(file: BinaryIO, size: int) -> bool:
    """A fragmented MP4 ends with a fragment index ('mfra') whose last box ('mfro') gives its
    size: if it is there, the file ends where its writer ended it."""
    if size < 24:
        return False
    tail = read_at(file, size - 16, 16)
    if tail[4:8] != b"mfro":
        return False
    length = struct.unpack(">I", tail[12:16])[0]
    return length <= size and read_at(file, size - length + 4, 4) == b"mfra"


def children(moov: BinaryIO, box: Box) -> Iterator[Box]:
    return iter_boxes(moov, box.start + box.header, box.end, limit=1000)


def _samples_end(moov: BinaryIO, length: int) -> int | None:
    """The furthest byte that any track's samples occupy, from ``moov``'s sample tables."""
    furthest: int | None = None
    for top in iter_boxes(moov, 0, length, limit=1):
        for trak in children(moov, top):
            if trak.kind != "trak":
                continue
            tables = find(moov, trak, ("mdia", "minf", "stbl"))
            if tables is None:
                continue
            boxes = {box.kind: box for box in children(moov, tables)}
            try:
                end = _track_end(moov, boxes)
            except (struct.error, ValueError, IndexError):
                end = None  # malformed tables: no verdict from this track
            if end is not None:
                furthest = max(furthest or 0, end)
    return furthest


def find(moov: BinaryIO, box: Box, path: tuple[str, ...]) -> Box | None:
    for kind in path:
        found = next((child for child in children(moov, box) if child.kind == kind), None)
        if found is None:
            return None
        box = found
    return box


def payload(moov: BinaryIO, box: Box) -> bytes:
    return read_at(moov, box.start + box.header, box.end - box.start - box.header)


def uints(data: bytes, count: int, wide: bool = False) -> array[int]:
    """``count`` big-endian unsigned 32-bit (or 64-bit) integers."""
    values = array("Q" if wide else "I")  # 8 and 4 bytes on every platform CPython builds for
    values.frombytes(data[: count * values.itemsize])
    if len(values) != count:
        raise ValueError("table shorter than its count")
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _track_end(moov: BinaryIO, boxes: dict[str, Box]) -> int | None:
    """The end of the chunk that lies furthest into the file. Chunks do not overlap, so the
    one that starts last ends last: only its samples' sizes are needed."""
    offsets_box = boxes.get("co64") or boxes.get("stco")
    if offsets_box is None or "stsc" not in boxes or "stsz" not in boxes:
        return None
    data = payload(moov, offsets_box)
    count = struct.unpack(">I", data[4:8])[0]
    if not count:
        return None
    offsets = uints(data[8:], count, wide=offsets_box.kind == "co64")
    furthest = max(offsets)
    last_chunk = count - 1 if offsets[-1] == furthest else offsets.index(furthest)  # 0-based
    # stsc: runs of (first chunk, samples per chunk, description).
    stsc = payload(moov, boxes["stsc"])
    runs = uints(stsc[8:], 3 * struct.unpack(">I", stsc[4:8])[0])
    stsz = payload(moov, boxes["stsz"])
    fixed: int
    samples: int
    fixed, samples = struct.unpack(">II", stsz[4:12])
    if not runs:
        return None
    if last_chunk == count - 1:  # the usual case: its samples are the last ones
        per_chunk = runs[-2]
        first_sample = samples - per_chunk
    else:  # count the samples before it
        first_sample = per_chunk = 0
        for index in range(0, len(runs), 3):
            first = runs[index] - 1
            if first > last_chunk:
                break
            following = runs[index + 3] - 1 if index + 3 < len(runs) else count
            per_chunk = runs[index + 1]
            first_sample += per_chunk * (min(following, last_chunk) - first)
    if fixed:
        chunk_size = fixed * per_chunk
    else:
        if first_sample < 0 or first_sample + per_chunk > samples:
            return None
        start = 12 + 4 * first_sample
        chunk_size = sum(uints(stsz[start : start + 4 * per_chunk], per_chunk))
    return int(offsets[last_chunk]) + chunk_size

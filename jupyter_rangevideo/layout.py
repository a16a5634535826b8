"""Is a media file cut off? Its container's declared layout against the file's size.

An interrupted copy or download leaves a file whose header and index are whole but whose
media data stops part-way; FFmpeg opens it and a player plays up to the cut, then goes
silent. The container says how long the file should be: box, element and chunk sizes, and
the offsets in its index. :func:`read_layout` compares them with the file's size, reading
headers and indexes only (a few small reads at the front, one per top-level box or chunk,
and the index where it is cheap to read), never the media data, whatever the file's size.

- MP4/MOV: the top-level boxes' sizes (``size``, 64-bit ``largesize``, 0 = to the end) and
  the sample tables' furthest byte (``stco``/``co64`` with ``stsc``/``stsz``), which catches a
  cut exactly at a box boundary; fragmented MP4 by its ``moof``/``mdat`` boxes.
- Matroska/WebM: the Segment's size (unless written as unknown, as by live recorders), the
  SeekHead's entries and the Cues' cluster positions.
- AVI: the ``RIFF`` chunks' sizes (OpenDML ``AVIX`` too), ``LIST movi`` and the OpenDML super
  index (``indx``). The ``idx1`` index comes after ``movi``: if it is there, so is the data.
- MPEG-TS, MPEG-PS, raw streams and anything else declare neither a size nor an index:
  there is nothing to compare, so no verdict (never a false alarm).

The walkers (:func:`iter_boxes`, :func:`read_element`, :func:`iter_chunks`) are generic, for
reading headers in pure Python elsewhere too. Everything here is pure parsing of a readable
binary file object.
"""

from __future__ import annotations

import io
import struct
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

# Bounds on the work done on a file: top-level boxes or chunks walked (a fragmented MP4 has
# two a fragment, each one small read), the time spent walking them (a fragmented MP4 of
# an hour in 2-second fragments, its pages not in memory, takes ~0.2 s), and the size of an
# index read into memory. Past a bound, what follows gets no verdict.
MAX_TOP_LEVEL = 20_000
WALK_SECONDS = 0.25
MAX_INDEX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Layout:
    """What the container declares against what the file holds."""

    container: str  # "mp4", "matroska", "avi"
    expected: int  # bytes the file must hold for everything its header and index declare
    size: int  # bytes it holds
    declared_by: str  # what declares ``expected``, e.g. "its index (the sample tables)"
    # More is declared to follow that the file no longer says the length of (the fragments
    # after a fragmented MP4's cut one, a cluster the cues place past the end): ``expected``
    # is a lower bound.
    at_least: bool = False

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.size)


def read_layout(file: BinaryIO, size: int) -> Layout | None:
    """The furthest byte that ``file``'s container declares, or None for a container that
    declares none (or one not recognised)."""
    head = _read_at(file, 0, 12)
    if len(head) >= 8 and head[4:8] in _MP4_FIRST_BOXES:
        return mp4_layout(file, size)
    if head[:4] == _EBML:
        return matroska_layout(file, size)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return avi_layout(file, size)
    return None  # MPEG-TS/PS, raw streams, ...: no declared size or index


def cut_off(path: str, size: int) -> str | None:
    """A plain-words explanation if the file at ``path`` (a regular file of ``size`` bytes)
    is cut off, else None."""
    with open(path, "rb", buffering=0) as file:  # unbuffered: each read is one small pread
        try:
            layout = read_layout(file, size)
        except (struct.error, ValueError, IndexError):
            return None  # a header this module misreads is FFmpeg's to judge, never a false alarm
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


def _read_at(file: BinaryIO, offset: int, count: int) -> bytes:
    file.seek(offset)
    data = file.read(count)
    return data or b""


class _Furthest:
    """The furthest declared byte so far and what declared it."""

    def __init__(self) -> None:
        self.end = 0
        self.by = ""
        self.at_least = False

    def see(self, end: int, by: str, at_least: bool = False) -> None:
        if end > self.end:
            self.end, self.by, self.at_least = end, by, at_least


# --- MP4 / MOV (ISO base media file format, QuickTime) -----------------------------------

_MP4_FIRST_BOXES = {
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp", b"sidx", b"uuid", b"junk",
}  # fmt: skip
# Boxes found at the top level of MP4/MOV files. Another type (or bytes that are not a box:
# padding, junk a camera appended) ends the walk without a verdict.
_MP4_TOP_LEVEL = {
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
        header = _read_at(file, position, 16)
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
    furthest = _Furthest()
    moov: Box | None = None
    last: Box | None = None
    ends_whole = _ends_with_mfra(file, size)
    fragments = 0
    deadline = time.monotonic() + WALK_SECONDS
    for count, box in enumerate(iter_boxes(file, 0, size)):
        if box.kind not in _MP4_TOP_LEVEL or box.kind == "moof" and ends_whole:
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
        data = _read_at(file, moov.start, moov.end - moov.start)
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
    tail = _read_at(file, size - 16, 16)
    if tail[4:8] != b"mfro":
        return False
    length = struct.unpack(">I", tail[12:16])[0]
    return length <= size and _read_at(file, size - length + 4, 4) == b"mfra"


def _children(moov: BinaryIO, box: Box) -> Iterator[Box]:
    return iter_boxes(moov, box.start + box.header, box.end, limit=1000)


def _samples_end(moov: BinaryIO, length: int) -> int | None:
    """The furthest byte that any track's samples occupy, from ``moov``'s sample tables."""
    furthest: int | None = None
    for top in iter_boxes(moov, 0, length, limit=1):
        for trak in _children(moov, top):
            if trak.kind != "trak":
                continue
            tables = _find(moov, trak, ("mdia", "minf", "stbl"))
            if tables is None:
                continue
            boxes = {box.kind: box for box in _children(moov, tables)}
            try:
                end = _track_end(moov, boxes)
            except (struct.error, ValueError, IndexError):
                end = None  # malformed tables: no verdict from this track
            if end is not None:
                furthest = max(furthest or 0, end)
    return furthest


def _find(moov: BinaryIO, box: Box, path: tuple[str, ...]) -> Box | None:
    for kind in path:
        found = next((child for child in _children(moov, box) if child.kind == kind), None)
        if found is None:
            return None
        box = found
    return box


def _payload(moov: BinaryIO, box: Box) -> bytes:
    return _read_at(moov, box.start + box.header, box.end - box.start - box.header)


def _uints(data: bytes, count: int, wide: bool = False) -> array[int]:
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
    data = _payload(moov, offsets_box)
    count = struct.unpack(">I", data[4:8])[0]
    if not count:
        return None
    offsets = _uints(data[8:], count, wide=offsets_box.kind == "co64")
    furthest = max(offsets)
    last_chunk = count - 1 if offsets[-1] == furthest else offsets.index(furthest)  # 0-based
    # stsc: runs of (first chunk, samples per chunk, description).
    stsc = _payload(moov, boxes["stsc"])
    runs = _uints(stsc[8:], 3 * struct.unpack(">I", stsc[4:8])[0])
    stsz = _payload(moov, boxes["stsz"])
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
        chunk_size = sum(_uints(stsz[start : start + 4 * per_chunk], per_chunk))
    return int(offsets[last_chunk]) + chunk_size


# --- Matroska / WebM (EBML) ---------------------------------------------------------------

_EBML = b"\x1a\x45\xdf\xa3"
SEGMENT = 0x18538067
SEEK_HEAD, SEEK, SEEK_ID, SEEK_POSITION = 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
CUES, CUE_POINT, CUE_TRACK_POSITIONS, CUE_CLUSTER_POSITION = 0x1C53BB6B, 0xBB, 0xB7, 0xF1
CLUSTER = 0x1F43B675


class Element(NamedTuple):
    id: int  # with its length marker, as the specification writes IDs: 0x18538067
    start: int  # offset of the element's ID
    header: int  # length of ID and size
    size: int | None  # data size; None for "unknown" (all ones)

    @property
    def data(self) -> int:
        return self.start + self.header

    @property
    def end(self) -> int | None:
        return None if self.size is None else self.data + self.size


def _vint(data: bytes, at: int, max_length: int) -> tuple[int, int, bool]:
    """(value with the marker removed, length, all value bits set) of a variable-length
    integer at ``at``; raises ValueError for none."""
    first = data[at]
    length = 1
    while length <= max_length and not first & (0x80 >> (length - 1)):
        length += 1
    if length > max_length or at + length > len(data):
        raise ValueError("not a variable-length integer")
    value = first & (0xFF >> length)
    for byte in data[at + 1 : at + length]:
        value = value << 8 | byte
    return value, length, value == (1 << (7 * length)) - 1


def read_element(file: BinaryIO, position: int) -> Element | None:
    """The EBML element header at ``position``, or None if there is none there."""
    data = _read_at(file, position, 12)
    try:
        _, id_length, _ = _vint(data, 0, 4)
        size, size_length, unknown = _vint(data, id_length, 8)
    except (ValueError, IndexError):
        return None
    element_id = int.from_bytes(data[:id_length], "big")
    return Element(element_id, position, id_length + size_length, None if unknown else size)


def iter_elements(file: BinaryIO, start: int, end: int, limit: int = 1000) -> Iterator[Element]:
    """The elements from ``start`` until ``end``; ends at one of unknown size (yielded)."""
    position = start
    for _ in range(limit):
        if position >= end:
            return
        element = read_element(file, position)
        if element is None:
            return
        yield element
        if element.end is None:
            return
        position = element.end


def _uint(file: BinaryIO, element: Element) -> int:
    size = element.size or 0
    return int.from_bytes(_read_at(file, element.data, size), "big") if size <= 8 else -1


def matroska_layout(file: BinaryIO, size: int) -> Layout | None:
    header = read_element(file, 0)
    if header is None or header.end is None:
        return None
    segment = read_element(file, header.end)
    if segment is None or segment.id != SEGMENT:
        return None
    furthest = _Furthest()
    if segment.end is not None:
        furthest.see(segment.end, "its header (the size of its Segment)")
    segment_end = min(segment.end or size, size)
    seen: dict[int, Element] = {}
    for element in iter_elements(file, segment.data, segment_end, limit=64):
        if element.id == CLUSTER:
            break
        seen.setdefault(element.id, element)
        if element.id == SEEK_HEAD and element.end is not None and element.end <= size:
            for target_id, position in _seeks(file, element):
                at = segment.data + position
                if at >= size:
                    furthest.see(at + 1, "its index (the SeekHead)", at_least=True)
                    continue
                target = read_element(file, at)
                if target is not None and target.id == target_id and target.end is not None:
                    furthest.see(target.end, "its index (the SeekHead)")
                    if target.id == CUES:
                        seen.setdefault(CUES, target)
    cues = seen.get(CUES)
    if (
        cues is not None
        and cues.size is not None
        and cues.data + cues.size <= size
        and cues.size <= MAX_INDEX_BYTES
    ):
        last_cluster = _last_cue(io.BytesIO(_read_at(file, cues.data, cues.size)), cues.size)
        if last_cluster is not None:
            at = segment.data + last_cluster
            cluster = read_element(file, at) if at < size else None
            cluster_end = cluster.end if cluster is not None and cluster.id == CLUSTER else None
            furthest.see(cluster_end or at + 1, "its index (the cues)", at_least=cluster_end is None)
    if not furthest.end:
        return None  # unknown size and no index: a live recording
    return Layout("matroska", furthest.end, size, furthest.by, furthest.at_least)


def _seeks(file: BinaryIO, seek_head: Element) -> Iterator[tuple[int, int]]:
    """(element ID, position in the segment) of each SeekHead entry."""
    for seek in iter_elements(file, seek_head.data, seek_head.end or 0):
        if seek.id != SEEK or seek.end is None:
            continue
        target_id = position = None
        for field in iter_elements(file, seek.data, seek.end):
            if field.id == SEEK_ID:
                target_id = _uint(file, field)
            elif field.id == SEEK_POSITION:
                position = _uint(file, field)
        if target_id is not None and position is not None and position >= 0:
            yield target_id, position


def _last_cue(cues: BinaryIO, length: int) -> int | None:
    """The furthest cluster position (in the segment) that the cues point to."""
    furthest: int | None = None
    for point in iter_elements(cues, 0, length, limit=10_000_000):
        if point.id != CUE_POINT or point.end is None:
            continue
        for positions in iter_elements(cues, point.data, point.end):
            if positions.id != CUE_TRACK_POSITIONS or positions.end is None:
                continue
            for field in iter_elements(cues, positions.data, positions.end):
                if field.id == CUE_CLUSTER_POSITION:
                    furthest = max(furthest or 0, _uint(cues, field))
    return furthest


# --- AVI (RIFF) ---------------------------------------------------------------------------


class Chunk(NamedTuple):
    id: str  # four characters, e.g. "RIFF", "LIST", "idx1"
    form: str  # a RIFF's or LIST's type, e.g. "AVI ", "movi"; "" for other chunks
    start: int  # offset of the chunk's ID
    size: int  # declared data size; 0 or 0xFFFFFFFF when a writer to a pipe could not fill it in

    @property
    def end(self) -> int:
        """The declared end, with the pad byte of an odd size."""
        return self.start + 8 + self.size + (self.size & 1)


def iter_chunks(file: BinaryIO, start: int, end: int, limit: int = MAX_TOP_LEVEL) -> Iterator[Chunk]:
    """The RIFF chunks from ``start`` until ``end`` as declared; like :func:`iter_boxes`,
    a chunk that ends past ``end`` is yielded and ends the walk."""
    position = start
    for _ in range(limit):
        if position + 8 > end:
            return
        header = _read_at(file, position, 12)
        if len(header) < 8 or not all(32 <= c < 127 for c in header[:4]):
            return
        kind, size = header[:4].decode("latin-1"), struct.unpack("<I", header[4:8])[0]
        form = header[8:12].decode("latin-1") if kind in ("RIFF", "LIST") and len(header) == 12 else ""
        chunk = Chunk(kind, form, position, size)
        yield chunk
        position = chunk.end


_UNSET = (0, 4, 0xFFFFFFFF)  # 4: a LIST with its type and nothing in it


def avi_layout(file: BinaryIO, size: int) -> Layout | None:
    furthest = _Furthest()
    for riff in iter_chunks(file, 0, size):
        if riff.id != "RIFF" or riff.size in _UNSET:
            break  # not RIFF, or a size never filled in (written to a pipe)
        furthest.see(riff.end, f"its header (the size of its 'RIFF {riff.form.strip()}' chunk)")
        for chunk in iter_chunks(file, riff.start + 12, min(riff.end, size), limit=1000):
            if chunk.id == "LIST" and chunk.form == "movi" and chunk.size not in _UNSET:
                furthest.see(chunk.end, "its header (the size of its 'movi' list)")
            if chunk.id == "LIST" and chunk.form == "hdrl" and chunk.end <= size:
                for end in _super_index_ends(file, chunk):
                    furthest.see(end, "its index (the OpenDML super index)")
    if not furthest.end:
        return None
    return Layout("avi", furthest.end, size, furthest.by)


def _super_index_ends(file: BinaryIO, hdrl: Chunk) -> Iterator[int]:
    """The ends of the index chunks that each stream's OpenDML super index points to."""
    for strl in iter_chunks(file, hdrl.start + 12, hdrl.end, limit=100):
        if strl.id != "LIST" or strl.form != "strl":
            continue
        for chunk in iter_chunks(file, strl.start + 12, strl.end, limit=100):
            if chunk.id != "indx" or chunk.size > MAX_INDEX_BYTES:
                continue
            data = _read_at(file, chunk.start + 8, chunk.size)
            if len(data) < 24:
                continue
            per_entry, _sub_type, index_type, used = struct.unpack("<HBBI", data[:8])
            if index_type != 0 or per_entry != 4:  # AVI_INDEX_OF_INDEXES, 16-byte entries
                continue
            for n in range(min(used, (len(data) - 24) // 16)):
                offset, length, _duration = struct.unpack_from("<QII", data, 24 + 16 * n)
                if offset and length:
                    yield offset + length


__all__ = [
    "Box",
    "Chunk",
    "Element",
    "Layout",
    "cut_off",
    "human_size",
    "iter_boxes",
    "iter_chunks",
    "iter_elements",
    "read_element",
    "read_layout",
]

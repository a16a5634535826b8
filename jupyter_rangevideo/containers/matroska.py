"""Matroska / WebM (EBML): the element reader and the declared layout.

The Segment's size (unless written as unknown, as by live recorders), the SeekHead's entries
and the Cues' cluster positions.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from .base import MAX_INDEX_BYTES, Furthest, Layout, read_at

EBML_MAGIC = b"\x1a\x45\xdf\xa3"
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
    data = read_at(file, position, 12)
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


def uint(file: BinaryIO, element: Element) -> int:
    size = element.size or 0
    return int.from_bytes(read_at(file, element.data, size), "big") if size <= 8 else -1


def matroska_layout(file: BinaryIO, size: int) -> Layout | None:
    header = read_element(file, 0)
    if header is None or header.end is None:
        return None
    segment = read_element(file, header.end)
    if segment is None or segment.id != SEGMENT:
        return None
    furthest = Furthest()
    if segment.end is not None:
        furthest.see(segment.end, "its header (the size of its Segment)")
    segment_end = min(segment.end or size, size)
    seen: dict[int, Element] = {}
    for element in iter_elements(file, segment.data, segment_end, limit=64):
        if element.id == CLUSTER:
            break
        seen.setdefault(element.id, element)
        if element.id == SEEK_HEAD and element.end is not None and element.end <= size:
            for target_id, position in seeks(file, element):
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
        last_cluster = _last_cue(io.BytesIO(read_at(file, cues.data, cues.size)), cues.size)
        if last_cluster is not None:
            at = segment.data + last_cluster
            cluster = read_element(file, at) if at < size else None
            cluster_end = cluster.end if cluster is not None and cluster.id == CLUSTER else None
            furthest.see(cluster_end or at + 1, "its index (the cues)", at_least=cluster_end is None)
    if not furthest.end:
        return None  # unknown size and no index: a live recording
    return Layout("matroska", furthest.end, size, furthest.by, furthest.at_least)


def seeks(file: BinaryIO, seek_head: Element) -> Iterator[tuple[int, int]]:
    """(element ID, position in the segment) of each SeekHead entry."""
    for seek in iter_elements(file, seek_head.data, seek_head.end or 0):
        if seek.id != SEEK or seek.end is None:
            continue
        target_id = position = None
        for field in iter_elements(file, seek.data, seek.end):
            if field.id == SEEK_ID:
                target_id = uint(file, field)
            elif field.id == SEEK_POSITION:
                position = uint(file, field)
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
                    furthest = max(furthest or 0, uint(cues, field))
    return furthest

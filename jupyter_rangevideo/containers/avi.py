"""AVI (RIFF): the chunk walker and the declared layout.

The ``RIFF`` chunks' sizes (OpenDML ``AVIX`` too), ``LIST movi`` and the OpenDML super index
(``indx``). The ``idx1`` index comes after ``movi``: if it is there, so is the data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from .base import MAX_INDEX_BYTES, MAX_TOP_LEVEL, Furthest, Layout, read_at


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
        header = read_at(file, position, 12)
        if len(header) < 8 or not all(32 <= c < 127 for c in header[:4]):
            return
        kind, size = header[:4].decode("latin-1"), struct.unpack("<I", header[4:8])[0]
        form = header[8:12].decode("latin-1") if kind in ("RIFF", "LIST") and len(header) == 12 else ""
        chunk = Chunk(kind, form, position, size)
        yield chunk
        position = chunk.end


_UNSET = (0, 4, 0xFFFFFFFF)  # 4: a LIST with its type and nothing in it


def avi_layout(file: BinaryIO, size: int) -> Layout | None:
    furthest = Furthest()
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
            data = read_at(file, chunk.start + 8, chunk.size)
            if len(data) < 24:
                continue
            per_entry, _sub_type, index_type, used = struct.unpack("<HBBI", data[:8])
            if index_type != 0 or per_entry != 4:  # AVI_INDEX_OF_INDEXES, 16-byte entries
                continue
            for n in range(min(used, (len(data) - 24) // 16)):
                offset, length, _duration = struct.unpack_from("<QII", data, 24 + 16 * n)
                if offset and length:
                    yield offset + length

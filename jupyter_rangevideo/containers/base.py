"""What the container walkers share: their bounds, the verdict (:class:`Layout`) and a read at an
offset. Pure parsing of a readable binary file object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

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


def read_at(file: BinaryIO, offset: int, count: int) -> bytes:
    file.seek(offset)
    data = file.read(count)
    return data or b""


class Furthest:
    """The furthest declared byte so far and what declared it."""

    def __init__(self) -> None:
        self.end = 0
        self.by = ""
        self.at_least = False

    def see(self, end: int, by: str, at_least: bool = False) -> None:
        if end > self.end:
            self.end, self.by, self.at_least = end, by, at_least

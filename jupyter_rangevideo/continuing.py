"""Decoders that continue from one transcoded segment to the next of the same file.

A transcode job decodes from the source keyframe at or before its segment's start. Playback
asks for segments in order (and the service prefetches segment k+1 once k is made), so a
fresh job for k+1 would decode again the frames from that keyframe up to its start, which
the job for k has just decoded: with 4K HEVC at 60 fps, up to a second of pictures at ~20 ms
of CPU each. Instead the job for k leaves its open container, demuxer and decoders here,
positioned where it stopped (with the frames and packets it read past its end), and the job
for k+1 takes them up and decodes only its own frames. The frames are the same as a fresh
job's: decoding from a keyframe gives the same pictures as decoding through it.

A decoder's threads keep the CPU priority of the job that opened it: a job that takes a cursor
up lowers them to its own (priority.py), so that a decoder a seek opened at the server's
priority does not decode playback's prefetches at that priority too.

Bounded: one cursor per key (a file and delivery), at most ``capacity`` in all (the least
recently parked is closed first), each closed after ``idle`` seconds unused. A job that is
cancelled or fails closes its cursor instead of parking it; a cursor is taken by one job at
a time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .priority import lower_threads, thread_nice
from .segment_plan import EPSILON

# What a cursor may hold past its position (frames of one packet, packets read for the other
# stream); a job that read more than this does not park its cursor.
MAX_CARRIED = 4096


@dataclass(eq=False)
class Cursor:
    """An open source: its container, the streams a job reads, and where reading stands.

    ``packets`` is the demuxer's iterator (None until a job positions it), ``carried`` what
    was read past ``position`` (decoded frames, packets), in the order read.
    """

    container: Any
    video: Any
    audio: Any
    rotation: int = 0
    packets: Iterator[Any] | None = None
    position: float | None = None  # where the next segment starts, once a job ended there
    carried: deque[Any] = field(default_factory=deque)
    parked_at: float = 0.0
    threads: tuple[int, ...] = ()  # native ids of the threads its video decoder started

    def next(self) -> Any | None:
        """The next frame or packet: what was carried first, then the demuxer's; None at the end."""
        if self.carried:
            return self.carried.popleft()
        assert self.packets is not None
        return next(self.packets, None)

    def close(self) -> None:
        import av

        self.packets = None
        self.carried.clear()
        with contextlib.suppress(av.FFmpegError, OSError):  # a damaged file may complain; it goes anyway
            self.container.close()


class CursorPark:
    """Cursors left between jobs, by key: taken by the job that starts where one stopped."""

    def __init__(self, capacity: int = 4, idle: float = 20.0, clock: Callable[[], float] = time.monotonic):
        self.capacity = max(0, capacity)
        self.idle = idle
        self._clock = clock
        self._lock = threading.Lock()
        self._parked: OrderedDict[Hashable, Cursor] = OrderedDict()
        self.continued = 0  # jobs that took a cursor up
        self._closed = False

    def __len__(self) -> int:
        return len(self._parked)

    def take(self, key: Hashable, start: float) -> Cursor | None:
        """The cursor parked under ``key`` if it stopped at ``start`` seconds (it is then no
        longer parked, and its decoder's threads run no higher in priority than the calling
        thread), else None."""
        with self._lock:
            stale = self._expired()
            cursor = self._parked.get(key)
            if cursor is not None and cursor.position is not None and abs(cursor.position - start) <= EPSILON:
                del self._parked[key]
                self.continued += 1
            else:
                cursor = None
        _close(stale)
        if cursor is not None:
            lower_threads(cursor.threads, thread_nice())
        return cursor

    def park(self, key: Hashable, cursor: Cursor) -> None:
        """Leave ``cursor`` under ``key`` (closing the one there before, and the least recently
        parked beyond the capacity); once the park is closed, close it instead."""
        with self._lock:
            closing = self._expired()
            previous = self._parked.pop(key, None)
            if previous is not None:
                closing.append(previous)
            if self._closed:  # the service has shut down
                closing.append(cursor)
            else:
                cursor.parked_at = self._clock()
                self._parked[key] = cursor
            while len(self._parked) > self.capacity:
                closing.append(self._parked.popitem(last=False)[1])
        _close(closing)

    def sweep(self) -> None:
        """Close the cursors unused for ``idle`` seconds."""
        with self._lock:
            stale = self._expired()
        _close(stale)

    def close_all(self) -> None:
        """Close every parked cursor, and from now on each one a job would park."""
        with self._lock:
            self._closed = True
            closing = list(self._parked.values())
            self._parked.clear()
        _close(closing)

    def _expired(self) -> list[Cursor]:
        now = self._clock()
        stale = [key for key, cursor in self._parked.items() if now - cursor.parked_at >= self.idle]
        return [self._parked.pop(key) for key in stale]


def _close(cursors: list[Cursor]) -> None:
    for cursor in cursors:
        cursor.close()

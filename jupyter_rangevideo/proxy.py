"""The seek proxy: a small, short-GOP rendition of a file whose keyframes are far apart.

A browser seeking in such a file decodes from the keyframe before the target, which costs
a third of a second or more per seek or step at 1080p whatever the server does. The proxy
(delivery ``proxy`` of segment_jobs.py: the source's timestamps, at most 360 lines, an IDR every
few frames, no audio) is made in the background from the moment the file is shown, around
the playhead first, and cached like any segment; the page shows its frame at once while the
source's own seek finishes underneath.

- :func:`wanted` decides from the probe whether a file needs one.
- :class:`Warmer` makes every segment of a file at background priority, nearest to the
  last place a player looked first, a bounded number of files at a time; :func:`look` tells
  it where a player looks (the HTTP routes, hls.py, and the comm transport alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from .probe import Probe

if TYPE_CHECKING:
    from .segments import SegmentService, Source

DELIVERY = "proxy"
# Keyframes further apart than this make a seek visibly slow at HD sizes.
FAR_APART_SECONDS = 2.0
# Files warmed at once; the least recently looked at one stops when another starts.
MAX_FILES = 2
# A warm-up nobody has looked at for this long stops (a page left open, or closed); the next
# look starts it again where it left off, the segments made so far being cached.
IDLE_SECONDS = 600.0


def keyframe_spacing(facts: Probe) -> float | None:
    """The longest gap between keyframes (the end counts as one), or None when unknown."""
    keys = sorted(k for k in facts.keyframes if k >= 0)
    if not keys or not facts.duration:
        return None
    edges = [*keys, max(facts.duration, keys[-1])]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False)) if len(edges) > 1 else facts.duration


def wanted(facts: Probe, delivery: str) -> bool:
    """Whether a player of this file should use a proxy by default.

    A transcoded delivery has a keyframe every segment already. Without keyframes in the
    index (an MPEG-TS, a long unindexed file) a long file is taken to have far ones: DVR and
    camera files, the usual unindexed ones, do.
    """
    if facts.video is None or delivery == "transcode" or not facts.duration:
        return False
    if facts.duration <= FAR_APART_SECONDS:
        return False
    spacing = keyframe_spacing(facts)
    if spacing is None:
        return True
    return spacing > FAR_APART_SECONDS


def order(count: int, focus: int, done: set[int]) -> int | None:
    """The next segment to make: the nearest to ``focus`` not done, ahead before behind."""
    for distance in range(count):
        for index in (focus + distance, focus - distance - 1):
            if 0 <= index < count and index not in done:
                return index
    return None


class Warmer:
    """Background proxy making for a SegmentService: one job at a time per file."""

    def __init__(
        self, service: SegmentService, max_files: int = MAX_FILES, idle_seconds: float = IDLE_SECONDS
    ):
        self.service = service
        self.max_files = max_files
        self.idle_seconds = idle_seconds
        self._files: OrderedDict[str, tuple[asyncio.Task[None], list[int]]] = OrderedDict()
        self._looked: dict[str, float] = {}

    def look(self, path: str, index: int) -> None:
        """A player looks at segment ``index`` of ``path``'s proxy: warm from there."""
        self._looked[path] = time.monotonic()
        running = self._files.get(path)
        if running is not None and not running[0].done():
            running[1][0] = index
            self._files.move_to_end(path)
            return
        focus = [max(0, index)]
        task = asyncio.ensure_future(self._warm(path, focus))
        self._files[path] = (task, focus)
        self._files.move_to_end(path)
        while len(self._files) > self.max_files:
            gone, (oldest, _) = self._files.popitem(last=False)
            self._looked.pop(gone, None)
            oldest.cancel()

    def active(self) -> list[str]:
        return [path for path, (task, _) in self._files.items() if not task.done()]

    async def _warm(self, path: str, focus: list[int]) -> None:
        try:
            source = await self.service.source(path)
            count = self.service.segment_plan(source, DELIVERY).count
        except (OSError, ValueError):
            return  # the page's own request says why
        done: set[int] = set()
        for _ in range(count):
            index = order(count, focus[0], done)
            if index is None:
                return
            done.add(index)
            if time.monotonic() - self._looked.get(path, 0.0) > self.idle_seconds:
                return
            try:
                await self.service.warm(path, DELIVERY, index)
            except (OSError, ValueError):
                return  # the file changed or went away: a new look starts again

    def shutdown(self) -> None:
        for task, _ in self._files.values():
            with contextlib.suppress(RuntimeError):  # its loop has closed (a kernel's server stopping)
                task.cancel()
        self._files.clear()


def look(
    service: SegmentService, source: Source, path: str, index: int | None = None, at: float | None = None
) -> None:
    """A player asks for the proxy of ``path``: segment ``index``, or (None) its playlist, with
    where playback will start (``at`` seconds); warm the proxy from there."""
    if index is None:
        index = service.segment_plan(source, DELIVERY).index_at(at or 0.0)
    warmer(service).look(path, index)


def warmer(service: SegmentService) -> Warmer:
    """The service's warmer, made on first use."""
    found: Warmer | None = getattr(service, "proxy_warmer", None)
    if found is None:
        found = Warmer(service)
        service.proxy_warmer = found  # type: ignore[attr-defined]
    return found

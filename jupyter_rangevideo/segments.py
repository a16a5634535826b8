"""The segment service: playlists and segments made on demand, for the HTTP handlers.

- Probes are cached per (path, validator); segment plans per probe.
- Two requests for one segment wait on one job; a couple of segments ahead of the last one
  asked are prefetched; work nobody waits for any more is cancelled (queued jobs are dropped,
  a running one stops between frames); a bounded pool of low-priority threads does the CPU
  work (segment_jobs.py), away from the event loop, except for the segment a player waits for
  and the one after it, at the server's own priority on URGENT_WORKERS threads (priority.py).
- Finished segments live in an on-disk cache (cache.py) shared by processes.

The maths of where segments start is segment_plan.py's; how one is made, segment_jobs.py's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from collections import Counter, OrderedDict, deque
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import segment_jobs
from .cache import SegmentCache, make_key
from .continuing import CursorPark
from .priority import lower_thread_priority, thread_nice
from .probe import Probe
from .segment_jobs import FORMAT_VERSION, Cancelled, Job, SegmentError
from .segment_plan import EncodeSettings, SegmentPlan, plan_segments, playlist
from .validators import Validator, Validators

# One line per job at DEBUG: when it was queued, started and done (seconds since the epoch, to
# line up with a page's clock), its wall and CPU seconds, whether it continued a decoder.
log = logging.getLogger("jupyter_rangevideo.segments")
# A decoder left for the next segment's job is closed after this long unused.
CURSOR_IDLE_SECONDS = 20.0
# The server extension's settings unless configured (frozen: one instance serves every service).
DEFAULT_SETTINGS = EncodeSettings()
# Jobs at the server's own priority at once: a segment a player waits for (its first one, a
# seek's) and the one right after it, which a paused seek in its last frames needs as well.
# Each uses both cores; more at once would only take the CPU from the event loop (the
# tiny-request p99 with 4 transcodes), while the rest run ``nice`` steps lower.
URGENT_WORKERS = 1


@dataclass(eq=False)
class _Task:
    key: str
    stream: tuple[str, str]  # (path, delivery): the jobs of one player's timeline
    job: Job
    future: asyncio.Future[str]
    cancel: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0
    started: bool = False
    order: int = 0
    # Made ahead of need for nobody in particular (the proxy's warm-up): runs last, on at most
    # background_slots workers, never cancelled by a player's seek elsewhere.
    background: bool = False
    ran_background: bool = False
    queued_at: float = field(default_factory=time.time)
    asked_at_start: bool = False  # a player waited for it when it started (not a prefetch)
    seekers: int = 0  # its waiters that are not playing on: seeking, or showing a still frame
    for_seek: bool = False  # a seeker waited for it when it started: made as a seek's (AUDIO_LEAD)
    # A player waits for it or is about to: the segment right after one it waited for (a seek
    # in that one's last frames needs both), the first one asked with the playlist.
    urgent: bool = False
    ran_urgent: bool = False  # started on the urgent pool


@dataclass
class Source:
    """A file's probe facts and, per delivery, its segment plan (made on first use)."""

    facts: Probe
    plans: dict[str, SegmentPlan] = field(default_factory=dict)


class SegmentService:
    """Playlists and segments for signed paths: probes cached, jobs deduplicated and bounded.

    Methods are coroutines for one event loop; the blocking work (stat, probe, cache I/O,
    encoding) runs in ``io_pool`` and in this service's own pool of ``workers`` threads.
    """

    def __init__(
        self,
        cache: SegmentCache,
        io_pool: Executor,
        workers: int = 2,
        settings: EncodeSettings = DEFAULT_SETTINGS,
        prefetch: int = 2,
        probe_cache_size: int = 64,
        nice: int = 10,
        urgent_workers: int = URGENT_WORKERS,
    ):
        self.cache = cache
        self.io_pool = io_pool
        self.workers = max(1, workers)
        self.settings = settings
        self.prefetch = max(0, prefetch)
        self.pool = ThreadPoolExecutor(
            self.workers, "rangevideo-segment", initializer=lower_thread_priority, initargs=(nice,)
        )
        # Where segment work is lowered, the urgent jobs' own threads at the server's priority:
        # urgent_slots of them at work, more while a cancelled one stops (a seek away).
        self.urgent_slots = min(self.workers, max(0, urgent_workers)) if nice > 0 else 0
        self.urgent_pool = (
            ThreadPoolExecutor(self.workers, "rangevideo-segment-urgent") if self.urgent_slots else None
        )
        # (delivery, index, nice value) of the jobs run, newest last: which priority each got.
        self.priorities: deque[tuple[str, int, int | None]] = deque(maxlen=4096)
        self.stats: Counter[str] = Counter()  # jobs "queued", "started", "made", "cancelled", "failed"
        self.history: deque[tuple[str, str, str, int]] = deque(maxlen=4096)  # (event, path, delivery, index)
        self._tasks: dict[str, _Task] = {}
        self._running = 0
        self._running_background = 0
        # Background work leaves a worker free for playback (when there are two or more).
        self.background_slots = max(1, self.workers - 1)
        self._order = 0
        self._probes: OrderedDict[tuple[str, Validator], asyncio.Future[Source]] = OrderedDict()
        self._probe_cache_size = probe_cache_size
        self._validators = Validators(io_pool, probe_cache_size)
        self._failures: OrderedDict[str, str] = OrderedDict()
        # The segment each timeline was last asked for (bounded like the probes).
        self._latest: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()
        # Decoders left by one job for the next segment's (continuing.py), one per worker: a
        # parked 4K HEVC decoder holds about 170 MiB (its frame pool and threads).
        self.cursors = CursorPark(capacity=max(2, self.workers), idle=CURSOR_IDLE_SECONDS)
        self._sweep: asyncio.TimerHandle | None = None

    def shutdown(self) -> None:
        warmer = getattr(self, "proxy_warmer", None)  # proxy.py's, when a proxy was asked for
        if warmer is not None:
            warmer.shutdown()
        for task in self._tasks.values():
            task.cancel.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.urgent_pool is not None:
            self.urgent_pool.shutdown(wait=False, cancel_futures=True)
        if self._sweep is not None:
            self._sweep.cancel()
        self.cursors.close_all()

    # -- probe facts, once per (path, validator)

    async def source(self, path: str) -> Source:
        loop = asyncio.get_running_loop()
        key = (path, await self._validators.current(path))
        pending = self._probes.get(key)
        if pending is None:
            from .probe import probe

            pending = asyncio.ensure_future(self._probe(loop, probe, path))
            self._probes[key] = pending
            while len(self._probes) > self._probe_cache_size:
                self._probes.popitem(last=False)
        else:
            self._probes.move_to_end(key)
        return await asyncio.shield(pending)

    async def _probe(self, loop: asyncio.AbstractEventLoop, probe: Any, path: str) -> Source:
        return Source(await loop.run_in_executor(self.io_pool, probe, path))

    def segment_plan(self, source: Source, delivery: str) -> SegmentPlan:
        if delivery not in source.plans:
            source.plans[delivery] = plan_segments(source.facts, delivery, self.settings)
        return source.plans[delivery]

    async def playlist(self, path: str, delivery: str) -> str:
        return playlist(self.segment_plan(await self.source(path), delivery))

    # -- segments

    async def segment(self, path: str, delivery: str, index: int, playing: bool = False) -> str:
        """The path of finished segment ``index``, asked by a player ``playing`` on (else seeking or
        still); raises IndexError past the playlist, MediaError, SegmentError."""
        source, key = await self._locate(path, delivery, index)
        stream = (path, delivery)
        self._forget_far(stream, index)
        self._latest[stream] = index
        self._latest.move_to_end(stream)
        while len(self._latest) > self._probe_cache_size:
            self._latest.popitem(last=False)
        if key in self._failures:
            raise SegmentError(self._failures[key])
        found = await self._made_or_queued(key, stream, source, index, background=False)
        # Prefetches are queued after the segment asked for, so they never start before it; the
        # one right after a segment the player waits for is urgent too.
        self._spawn(self._prefetch(source, stream, index, urgent=not isinstance(found, str)))
        if isinstance(found, str):
            return found
        task = found
        task.background = False  # someone waits for it now
        task.waiters += 1
        task.seekers += not playing
        self._dispatch()
        try:
            return await asyncio.shield(task.future)
        finally:
            task.waiters -= 1
            task.seekers -= not playing
            if task.waiters == 0 and not task.future.done():
                # Left behind by its only reader (a seek away): keep what the timeline was
                # asked for since, and its prefetches (the reader's abort may come after them).
                latest = self._latest.get(stream, index)
                self._forget_far(stream, latest if latest != index else index + 1)

    def start(self, path: str, delivery: str, at: float) -> None:
        """Begin making the segment that shows ``at`` seconds (where a player about to start will
        ask first) unless it is made or under way: asked for with the playlist, it is ready
        sooner than if it waited for the player's own request. Nobody waits for it until the
        player asks, so a seek elsewhere first drops it as it drops any prefetch."""
        self._spawn(self._start(path, delivery, at))

    async def _start(self, path: str, delivery: str, at: float) -> None:
        source = await self.source(path)
        segments = self.segment_plan(source, delivery)
        task = await self._queue_unless_made(source, (path, delivery), segments.index_at(at))
        if task is not None:
            task.urgent = True  # the player asks for it next
        self._dispatch()

    async def warm(self, path: str, delivery: str, index: int) -> str | None:
        """Make segment ``index`` at background priority unless it is cached; its path, or
        None when it cannot be made (a failure is remembered as for a segment asked for)."""
        try:
            source, key = await self._locate(path, delivery, index)
        except IndexError:
            return None
        if key in self._failures:
            return None
        found = await self._made_or_queued(key, (path, delivery), source, index, background=True)
        if isinstance(found, str):
            return found
        task = found
        self._dispatch()
        try:
            return await asyncio.shield(task.future)
        except (SegmentError, Cancelled):
            return None
        except asyncio.CancelledError:
            if task.background and not task.waiters and not task.future.done():
                self._drop(task)  # the warm-up stopped: its job goes too
            raise

    async def _locate(self, path: str, delivery: str, index: int) -> tuple[Source, str]:
        """The file's source (facts and segment plans) and segment ``index``'s cache key;
        raises IndexError past the playlist."""
        source = await self.source(path)
        segments = self.segment_plan(source, delivery)
        if not 0 <= index < segments.count:
            raise IndexError(f"segment {index} is past the end ({segments.count} segments)")
        return source, self._key(source.facts, delivery, index)

    async def _made_or_queued(
        self, key: str, stream: tuple[str, str], source: Source, index: int, background: bool
    ) -> str | _Task:
        """The cached segment's path, or the task that makes it (queued now if none is)."""
        task = self._tasks.get(key)
        if task is not None:
            return task
        if self.cache.local:  # a utime, on the loop as a local file's stat (source())
            made = self.cache.lookup(key)
        else:
            made = await asyncio.get_running_loop().run_in_executor(self.io_pool, self.cache.lookup, key)
        if made is not None:
            return made
        return self._tasks.get(key) or self._queue(key, stream, source, index, background)

    def _drop(self, task: _Task) -> None:
        task.cancel.set()
        self._note("cancelled", task)
        if not task.started:
            del self._tasks[task.key]
            task.future.set_exception(Cancelled())

    def _key(self, facts: Probe, delivery: str, index: int) -> str:
        return make_key(FORMAT_VERSION, facts.path, facts.validator, delivery, self.settings, index)

    async def _prefetch(self, source: Source, stream: tuple[str, str], index: int, urgent: bool) -> None:
        count = self.segment_plan(source, stream[1]).count
        for ahead in range(index + 1, min(index + 1 + self.prefetch, count)):
            task = await self._queue_unless_made(source, stream, ahead)
            if task is not None and urgent and ahead == index + 1 and not task.background:
                task.urgent = True
        self._dispatch()

    async def _queue_unless_made(self, source: Source, stream: tuple[str, str], index: int) -> _Task | None:
        """Queue segment ``index`` unless it is queued, running, failed or in the cache; its
        task (queued now or before), if it is to be made."""
        key = self._key(source.facts, stream[1], index)
        if key in self._failures:
            return None
        if key in self._tasks:
            return self._tasks[key]
        loop = asyncio.get_running_loop()
        exists = await loop.run_in_executor(self.io_pool, os.path.exists, self.cache.path(key))
        if not exists and key not in self._tasks:
            return self._queue(key, stream, source, index)
        return self._tasks.get(key)

    def _queue(
        self, key: str, stream: tuple[str, str], source: Source, index: int, background: bool = False
    ) -> _Task:
        segments = self.segment_plan(source, stream[1])
        start, end = segments.span(index)
        job = Job(
            source.facts.path,
            stream[1],
            index,
            start,
            end,
            index == segments.count - 1,
            segments.exact,
            self.settings,
            source.facts.validator,
        )
        self._order += 1
        task = _Task(
            key,
            stream,
            job,
            asyncio.get_running_loop().create_future(),
            order=self._order,
            background=background,
        )
        task.future.add_done_callback(_retrieve)
        self._tasks[key] = task
        self._note("queued", task)
        return task

    def _forget_far(self, stream: tuple[str, str], index: int) -> None:
        """Cancel the jobs of ``stream`` nobody waits for, outside [index, index + prefetch]."""
        for task in list(self._tasks.values()):
            if task.stream != stream or task.waiters or task.background or task.future.done():
                continue
            if index <= task.job.index <= index + self.prefetch:
                continue
            self._drop(task)

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running < self.workers:
            background_free = self._running_background < self.background_slots
            # One job of a timeline at a time unless a player waits for it: the next segment's
            # prefetch then continues the decoder that job leaves (continuing.py).
            busy = {t.stream for t in self._tasks.values() if t.started}
            waiting = [
                t
                for t in self._tasks.values()
                if not t.started
                and not t.cancel.is_set()
                and (background_free or not t.background)
                and (t.waiters or t.stream not in busy)
            ]
            if not waiting:
                return
            # Segments someone waits for go first, then prefetches, oldest first, then warm-ups;
            # the seek proxy's (shown only while paused) after the playback deliveries'.
            task = min(
                waiting, key=lambda t: (t.background, t.job.delivery == "proxy", t.waiters == 0, t.order)
            )
            if task.waiters == 0 and any(t.started and t.waiters for t in self._tasks.values()):
                # Each encode already uses every core: a prefetch (or a warm-up) now would halve
                # the speed of the segment a player is waiting for (its first one, or a seek).
                return
            task.started = True
            task.asked_at_start, task.for_seek = task.waiters > 0, task.seekers > 0
            task.ran_background = task.background
            task.ran_urgent = (
                (task.waiters > 0 or task.urgent)
                and not task.background
                and self._urgent_at_work() < self.urgent_slots
            )
            self._running += 1
            self._running_background += task.ran_background
            self._note("started", task)
            pool = self.urgent_pool if task.ran_urgent and self.urgent_pool is not None else self.pool
            work = loop.run_in_executor(pool, self._run, task, task.cancel)
            work.add_done_callback(functools.partial(self._finished, task))

    def _urgent_at_work(self) -> int:
        """Urgent jobs running that nobody has cancelled (a cancelled one stops between frames)
        nor left behind: a player seeking away asks for its new segment before its reader of
        the old one leaves, and that segment must not wait for the slot (at worker_nice)."""
        running = (t for t in self._tasks.values() if t.started and t.ran_urgent)
        return sum(not t.cancel.is_set() and not self._left_behind(t) for t in running)

    def _left_behind(self, task: _Task) -> bool:
        """Whether ``task``'s timeline was last asked for elsewhere than it and its prefetches."""
        latest = self._latest.get(task.stream)
        return latest is not None and not latest <= task.job.index <= latest + self.prefetch

    def _run(self, task: _Task, cancel: threading.Event) -> str:
        if cancel.is_set():
            raise Cancelled()
        made = self.cache.lookup(task.key)  # another process may have made it meanwhile
        if made is not None:
            return made
        job, began, cpu = task.job, time.time(), time.process_time()
        nice = thread_nice()
        self.priorities.append((job.delivery, job.index, nice))
        continued: list[bool] = []
        make = functools.partial(segment_jobs.make_segment, job, cancel=cancel, cursors=self.cursors)
        made = self.cache.store(task.key, lambda temp: continued.append(make(temp, seek=task.for_seek)))
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "segment %s %d of %s: queued %.3f started %.3f done %.3f, %.3f s CPU (process), %s%s, nice %s",
                job.delivery, job.index, job.path, task.queued_at, began, time.time(),
                time.process_time() - cpu, "continued" if continued[0] else "from its keyframe",
                "" if task.asked_at_start else ", prefetched", nice,
            )  # fmt: skip
        return made

    def _finished(self, task: _Task, done: asyncio.Future[str]) -> None:
        self._running -= 1
        self._running_background -= task.ran_background
        self._tasks.pop(task.key, None)
        if done.cancelled():
            error: BaseException | None = Cancelled()
        else:
            error = done.exception()
        if error is None:
            self._note("made", task)
            if not task.future.done():
                task.future.set_result(done.result())
        else:
            if isinstance(error, SegmentError):
                self._note("failed", task)
                self._failures[task.key] = str(error)
                while len(self._failures) > 256:
                    self._failures.popitem(last=False)
            elif not isinstance(error, Cancelled):
                self._note("failed", task)
                error = SegmentError(f"segment {task.job.index} of {task.job.path!r} failed: {error!r}")
            if not task.future.done():
                task.future.set_exception(error)
        try:
            self._dispatch()
            if self._sweep is None:  # close the decoders left unused (continuing.py)
                self._sweep = asyncio.get_running_loop().call_later(CURSOR_IDLE_SECONDS + 1, self._swept)
        except RuntimeError:  # the loop or the pool is closing
            pass

    def _swept(self) -> None:
        self._sweep = None
        try:
            self.io_pool.submit(self.cursors.sweep)
        except RuntimeError:  # the pool is closing
            return
        if len(self.cursors):
            self._sweep = asyncio.get_running_loop().call_later(CURSOR_IDLE_SECONDS + 1, self._swept)

    def _note(self, event: str, task: _Task) -> None:
        self.stats[event] += 1
        self.history.append((event, task.job.path, task.job.delivery, task.job.index))

    def _spawn(self, coroutine: Any) -> None:
        background = asyncio.ensure_future(coroutine)
        self._background.add(background)
        background.add_done_callback(self._background.discard)

    async def idle(self) -> None:
        """Wait until no job is queued or running (for tests and benchmarks)."""
        for _ in range(10_000):
            if not self._tasks and not self._background and self._running == 0:
                return
            await asyncio.sleep(0.01)


def _retrieve(future: asyncio.Future[str]) -> None:
    # A prefetch nobody ends up waiting for may fail or be cancelled: not an unhandled error.
    if not future.cancelled():
        future.exception()


def segment_service(
    cache_dir: str,
    cache_size: int,
    io_pool: Executor,
    workers: int = 2,
    prefetch: int = 2,
    settings: EncodeSettings = DEFAULT_SETTINGS,
    nice: int = 10,
) -> SegmentService:
    """A SegmentService with its cache in ``cache_dir`` (empty: the user's cache directory)."""
    from .cache import default_directory

    directory = cache_dir or str(default_directory() / "segments")
    return SegmentService(
        SegmentCache(directory, cache_size), io_pool, workers, settings, prefetch, nice=nice
    )

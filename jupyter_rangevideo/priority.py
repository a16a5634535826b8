"""CPU priority: background work yields the CPU to what a person is waiting for.

On Linux a thread's nice value is its own, and the threads it starts (a codec's) inherit it:

- A pool whose threads raise theirs leaves the CPU to the server's event loop, which serves bytes
  and websockets, and in a kernel to the page drawing a video's first frame on the same cores
  (the kernel's probe and still frame at normal priority held it back by about 30 ms on 2 cores).
  Segment jobs run ``worker_nice`` steps lower.
- The segment job a player waits for (and the segment it needs right after) runs on a small pool
  of threads at the server's own priority (segments.py): an unprivileged thread can lower its
  priority but never raise it again, so the two priorities are two sets of threads.
- A decoder opened by such a job and continued by a lower one (continuing.py) still has the
  threads it started with: :func:`lower_threads` gives them the continuing job's nice value.

Elsewhere than Linux (or where it is not allowed) everything runs at the normal priority.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator

# How far background pools lower their threads: ahead of nothing else the user runs, yet not
# starved (19 is the lowest).
BACKGROUND_NICE = 10
_TASKS = "/proc/self/task"


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> None:
    """Run the calling thread (and the threads it starts from now on) ``nice`` steps lower in CPU
    priority (a pool's initializer). An unprivileged thread cannot raise it again."""
    if nice <= 0:
        return
    current = thread_nice()
    if current is not None:
        with contextlib.suppress(OSError):  # not allowed: run at the normal priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, current + nice))


def thread_nice(thread: int | None = None) -> int | None:
    """The nice value of ``thread`` (a native thread id; the calling thread's by default), or
    None where it cannot be known."""
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id() if thread is None else thread)
    except (AttributeError, OSError):  # not Linux, or the thread has ended
        return None


@contextlib.contextmanager
def threads_started() -> Iterator[list[int]]:
    """The native ids of the threads this process started during the block (a codec's, when it
    opens in the block), filled in as the block ends. Threads another thread started meanwhile
    are among them: they are only ever lowered to a job's own priority."""
    started: list[int] = []
    before = _threads()
    try:
        yield started
    finally:
        if before is not None:
            started.extend(sorted((_threads() or set()) - before))


def lower_threads(threads: Iterable[int], nice: int | None) -> None:
    """Give each of ``threads`` the nice value ``nice`` where theirs is lower (a higher
    priority); threads that have ended are skipped. Never raises a thread's priority."""
    if nice is None:
        return
    for thread in threads:
        current = thread_nice(thread)
        if current is not None and current < nice:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, thread, nice)


def _threads() -> set[int] | None:
    try:
        return {int(name) for name in os.listdir(_TASKS)}
    except OSError:  # not Linux
        return None

"""Background work that yields the CPU to what a person is waiting for.

On Linux a thread's nice value is its own, and the threads it starts (a codec's) inherit it: a pool
whose threads raise theirs leaves the CPU to the server's event loop, which serves bytes and
websockets, and in a kernel to the page drawing a video's first frame on the same cores (the
kernel's probe and still frame at normal priority held it back by about 30 ms on 2 cores).
"""

from __future__ import annotations

import os
import threading

# How far background pools lower their threads: ahead of nothing else the user runs, yet not
# starved (19 is the lowest).
BACKGROUND_NICE = 10


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> None:
    """Run the calling thread ``nice`` steps lower in CPU priority (a pool's initializer). An
    unprivileged thread cannot raise it again."""
    if nice <= 0:
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, current + nice))
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the normal priority
        pass

"""Whether a file's bytes are in the page cache, asked with Linux's cachestat(2) (6.5+).

Bytes the page cache holds can be sent from the event loop: ``os.sendfile`` then only
hands memory to the socket, cheaper than the two thread switches of a trip to the read
pool. Bytes that are not there would block the loop on the disk, so they go to the pool.
Where the call is missing (older kernels, other systems) every answer is "not known".
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable

# Numbered after the architectures' tables were unified: the same everywhere.
_NR_CACHESTAT = 451
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64)
        for name in ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")
    ]


def _load_syscall() -> Callable[..., int] | None:
    """libc's syscall(2) if the kernel has cachestat, else None."""
    if sys.platform != "linux":
        return None
    try:
        syscall = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
    # A bad descriptor tells the call exists (EBADF) from not (ENOSYS, or EPERM under seccomp).
    if syscall(_NR_CACHESTAT, -1, None, None, 0) == -1 and ctypes.get_errno() == errno.EBADF:
        return syscall
    return None


_syscall = _load_syscall()


def available() -> bool:
    return _syscall is not None


def resident(fd: int, start: int, stop: int) -> bool:
    """True if every page holding bytes [start, stop) of ``fd`` is in the page cache.

    False when some are not, or when it cannot be known. About a microsecond and a half.
    """
    if _syscall is None or stop <= start:
        return False
    span = _Range(start, stop - start)
    found = _Stat()
    if _syscall(_NR_CACHESTAT, fd, ctypes.byref(span), ctypes.byref(found), 0) != 0:
        return False
    pages = (stop - 1) // PAGE_SIZE - start // PAGE_SIZE + 1
    return bool(found.nr_cache >= pages)

"""A small cache of open files, so a burst of range requests opens a file once.

A browser seeking in a video sends many small range requests for one file. Opening it
for each (open, fstat, the /proc/self/fd check, close) costs system calls and a trip to
the read pool; a cached descriptor costs one ``lstat`` of the path and one ``readlink``
of the descriptor, which together prove what a fresh open would:

- ``lstat(path)`` matches the (device, inode, size, mtime, ctime) the descriptor was
  opened with: the path still names the same inode, not a symlink swapped in for it,
  with the same content (mtime, size) and the same permissions (chmod changes ctime);
- ``/proc/self/fd/N`` still reads ``path``: no directory on the way was renamed (and
  perhaps replaced by a symlink), which would change the descriptor's path.

Anything else and the entry is dropped and the file opened afresh with every check.
Entries are bounded in number and closed after a short idle time, so a deleted file's
space is not held for long. Thread-safe: acquire runs in the read pool.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_ENTRIES = 32
IDLE_SECONDS = 10.0

_Key = tuple[int, int, int, int, int]


def _key(info: os.stat_result) -> _Key:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass(eq=False)
class OpenFile:
    """A descriptor lent to requests; closed once retired and no request holds it."""

    path: str
    fd: int
    info: os.stat_result
    local: bool = False  # on a local filesystem: may be re-checked on the event loop
    users: int = 0
    retired: bool = False
    last_used: float = field(default_factory=time.monotonic)


class DescriptorCache:
    def __init__(
        self,
        opener: Callable[[str], tuple[int, os.stat_result]],
        max_entries: int = MAX_ENTRIES,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._opener = opener  # raises for anything that must not be served
        self._max = max_entries
        self._idle = idle_seconds
        self._entries: OrderedDict[str, OpenFile] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False
        self.sweep_timer: asyncio.TimerHandle | None = None  # the event loop's pending sweep

    def acquire(self, path: str) -> OpenFile:
        """An open, checked descriptor for ``path``; the caller must :meth:`release` it."""
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None:
                entry.users += 1
        if entry is not None:
            if _still_valid(entry):
                return entry
            self.release(entry, discard=True)
        fd, info = self._opener(path)
        entry = OpenFile(path, fd, info, local=is_local(info.st_dev), users=1)
        with self._lock:
            if self._closed:
                entry.retired = True  # served once, then closed by release()
                return entry
            old = self._entries.pop(path, None)
            if old is not None:
                self._retire(old)
            self._entries[path] = entry
            while len(self._entries) > self._max:
                self._retire(self._entries.popitem(last=False)[1])
        return entry

    def acquire_local(self, path: str) -> OpenFile | None:
        """A cached descriptor for a file on a local filesystem that is still valid, or None.

        Cheap enough for the event loop: a dictionary look-up, then ``lstat`` and ``readlink``
        answered from the kernel's caches for a local file just used (a network filesystem
        may ask its server, so its files are only checked in the read pool).
        """
        with self._lock:
            entry = self._entries.get(path)
            if entry is None or not entry.local:
                return None
            entry.users += 1
        if _still_valid(entry):
            return entry
        self.release(entry, discard=True)
        return None

    def release(self, entry: OpenFile, discard: bool = False) -> None:
        """Give ``entry`` back; ``discard`` drops it from the cache (say, after a read error)."""
        with self._lock:
            entry.users -= 1
            entry.last_used = time.monotonic()
            if discard and self._entries.get(entry.path) is entry:
                del self._entries[entry.path]
                entry.retired = True
            elif not entry.retired:
                self._entries.move_to_end(entry.path)
            if entry.retired and entry.users == 0:
                os.close(entry.fd)

    def sweep(self) -> float | None:
        """Close entries idle too long; seconds until the next may expire, or None if empty."""
        now = time.monotonic()
        with self._lock:
            for entry in [
                e for e in self._entries.values() if e.users == 0 and now - e.last_used >= self._idle
            ]:
                del self._entries[entry.path]
                self._retire(entry)
            if not self._entries:
                return None
            oldest = min(e.last_used for e in self._entries.values())
            return max(0.05, oldest + self._idle - now)

    def close(self) -> None:
        """Close every idle descriptor now and cache nothing more (server shutdown)."""
        if self.sweep_timer is not None:
            self.sweep_timer.cancel()
            self.sweep_timer = None
        with self._lock:
            self._closed = True
            for entry in self._entries.values():
                self._retire(entry)
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _retire(self, entry: OpenFile) -> None:  # with the lock held
        entry.retired = True
        if entry.users == 0:
            os.close(entry.fd)


# Filesystems whose metadata a stat of a file just opened reads from memory.
LOCAL_FILESYSTEMS = frozenset(
    {
        "ext2",
        "ext3",
        "ext4",
        "xfs",
        "btrfs",
        "f2fs",
        "zfs",
        "tmpfs",
        "overlay",
        "ramfs",
        "jfs",
        "reiserfs",
        "bcachefs",
        "apfs",
        "hfsplus",
        "vfat",
        "exfat",
        "ntfs3",
    }
)


def is_local(device: int) -> bool:
    """Whether the filesystem holding ``device`` is local (Linux: from /proc/self/mountinfo)."""
    if sys.platform != "linux":
        return False
    wanted = f"{os.major(device)}:{os.minor(device)}"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 3 and fields[2] == wanted and "-" in fields:
                    return fields[fields.index("-") + 1] in LOCAL_FILESYSTEMS
    except OSError:
        pass
    return False


def _still_valid(entry: OpenFile) -> bool:
    try:
        if _key(os.lstat(entry.path)) != _key(entry.info):
            return False
        return sys.platform != "linux" or os.readlink(f"/proc/self/fd/{entry.fd}") == entry.path
    except OSError:
        return False

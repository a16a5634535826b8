"""An on-disk cache of finished segments: bounded in bytes, least recently used out first.

Entries are whole files named by a key that the caller derives from everything that
decides their bytes (the source's path and validator, the delivery, the encoding
settings, the segment number), so a changed source can never be served stale: it has
another key. Writes go to a temporary file renamed into place, so a reader never sees half a
segment, and two server processes (Jupyter and a kernel's fallback server) may share one
directory: the worst a race costs is a segment made twice or evicted early.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .fdcache import is_local

SUFFIX = ".ts"
# Temporary files older than this belong to a process that died mid-write.
STALE_TEMP_SECONDS = 3600


def default_directory() -> Path:
    """``$XDG_CACHE_HOME/jupyter-rangevideo`` (``~/.cache/jupyter-rangevideo`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jupyter-rangevideo"


def make_key(*parts: object) -> str:
    """A file-name-safe key from the parts that decide an entry's bytes."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()[:40]


class SegmentCache:
    """Files under ``directory``, at most about ``max_bytes`` in all. Thread-safe; blocking I/O,
    so callers on an event loop run these methods in a pool (``lookup`` excepted where ``local``)."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int):
        path = Path(directory).expanduser()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)  # segments show private files
        # Resolved: the file server checks that the descriptor it opened is this exact path.
        self.directory = Path(os.path.realpath(path))
        # On a local filesystem a lookup (a utime) is cheap enough for an event loop.
        self.local = is_local(os.stat(self.directory).st_dev)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def lookup(self, key: str) -> str | None:
        """The entry's path, marked as just used, or None."""
        path = self.path(key)
        try:
            os.utime(path)  # the LRU clock is the file's mtime, shared by all processes
        except FileNotFoundError:
            return None
        return str(path)

    def store(self, key: str, write: Callable[[str], None]) -> str:
        """Run ``write(temp_path)`` and move the result into place atomically; evict to the bound."""
        final = self.path(key)
        temp = self.directory / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            write(str(temp))
            os.replace(temp, final)
        finally:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
        self.evict(keep=final)
        return str(final)

    def entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every finished entry; cleans up abandoned temporary files."""
        return lru_entries(self.directory, SUFFIX)

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used entries until the total fits; returns how many went."""
        with self._lock:
            return evict_lru(self.entries(), self.max_bytes, keep)[0]


def lru_entries(directory: Path, suffix: str) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of the files named ``*suffix`` in ``directory`` (mtime is the LRU
    clock, shared by processes); removes temporary files that dead writers left."""
    found = []
    now = time.time()
    with os.scandir(directory) as listing:
        for entry in listing:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if entry.name.endswith(suffix) and not entry.name.startswith("."):
                found.append((info.st_mtime, info.st_size, Path(entry.path)))
            elif entry.name.endswith(".tmp") and now - info.st_mtime > STALE_TEMP_SECONDS:
                unlink(Path(entry.path))
    return found


def evict_lru(entries: list[tuple[float, int, Path]], max_bytes: int, keep: Path | None) -> tuple[int, int]:
    """Remove the least recently used of ``entries`` until they fit in ``max_bytes``, never
    ``keep`` (the entry being served: over the bound only if it alone is); (removed, bytes left)."""
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        if path == keep:
            continue
        if unlink(path):
            removed += 1
        total -= size
    return removed, total


def unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:  # another process got there first
        return False

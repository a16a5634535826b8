"""An on-disk cache of fixed-size blocks of remote objects: bounded in bytes, least recently used
out first, shared by threads and by processes.

A block is named by its object's key and its number. The caller derives the key from the
object's identity (its URL) and its validator (ETag or version), so a changed object has
other keys and is never served from the old one's blocks; those age out. Each block is
fetched once however many readers want it at the same time (the others wait for that
fetch), and written to a temporary file renamed into place, so a reader never sees half a
block and several servers may share one directory: the worst a race costs is a block
fetched twice or evicted early. The LRU clock is the file's mtime, as in cache.py.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from .cache import evict_lru, lru_entries, make_key, unlink

SUFFIX = ".blk"
# Stores between two scans of the directory (other processes write there too).
RESCAN_EVERY = 64


def object_key(identity: str, validator: str, block_size: int) -> str:
    """The key of one version of an object, cut in blocks of ``block_size`` bytes."""
    return make_key("block-v1", identity, validator, block_size)


class BlockCache:
    """Blocks of ``block_size`` bytes under ``directory``, at most about ``max_bytes`` in all.

    Thread-safe; blocking I/O, so callers on an event loop run its methods in a pool.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int, block_size: int):
        if block_size <= 0:
            raise ValueError(f"block_size must be positive, not {block_size}")
        path = Path(directory).expanduser()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)  # blocks are private data
        self.directory = path
        self.max_bytes = max(block_size, max_bytes)
        self.block_size = block_size
        # "hits", "misses", "fetched" (bytes from the store), "evicted" (blocks).
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[bytes]] = {}
        self._approximate = self._scan_total()
        self._stores = 0

    def path(self, key: str, index: int) -> Path:
        return self.directory / f"{key}-{index:09d}{SUFFIX}"

    def block(self, key: str, index: int, length: int, fetch: Callable[[], bytes]) -> bytes:
        """Block ``index`` of object ``key``, which holds ``length`` bytes: from disk, else from
        ``fetch()``, called once however many threads ask at the same time. ``fetch``'s
        exceptions reach every waiter; nothing is stored then."""
        found = self._read(key, index, length)
        if found is not None:
            self.stats["hits"] += 1
            return found
        name = f"{key}-{index}"
        with self._lock:
            pending = self._inflight.get(name)
            owner = pending is None
            if pending is None:
                pending = self._inflight[name] = Future()
        if not owner:
            return pending.result()
        try:
            data = self._read(key, index, length)  # another process may have stored it meanwhile
            if data is None:
                self.stats["misses"] += 1
                data = fetch()
                self.stats["fetched"] += len(data)
                if len(data) != length:
                    raise OSError(f"the store returned {len(data)} bytes for a block of {length}")
                self._store(key, index, data)
            pending.set_result(data)
            return data
        except BaseException as e:
            pending.set_exception(e)
            raise
        finally:
            with self._lock:
                del self._inflight[name]

    def cached(self, key: str, index: int) -> bool:
        return self.path(key, index).exists()

    def _read(self, key: str, index: int, length: int) -> bytes | None:
        path = self.path(key, index)
        try:
            with open(path, "rb") as file:
                data = file.read(length + 1)
            os.utime(path)  # just used: last out
        except FileNotFoundError:
            return None
        return data if len(data) == length else None

    def _store(self, key: str, index: int, data: bytes) -> None:
        final = self.path(key, index)
        temp = self.directory / f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(temp, "wb") as file:
                file.write(data)
            os.replace(temp, final)
        except OSError:
            # A full or read-only disk costs the cache, not the read.
            unlink(temp)
            return
        with self._lock:
            self._approximate += len(data)
            self._stores += 1
            due = self._approximate > self.max_bytes or self._stores % RESCAN_EVERY == 0
        if due:
            self.evict(keep=final)

    def entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every block; removes temporary files abandoned by dead writers."""
        return lru_entries(self.directory, SUFFIX)

    def size(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def _scan_total(self) -> int:
        return self.size()

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used blocks until the total fits; returns how many went."""
        with self._lock:
            removed, self._approximate = evict_lru(self.entries(), self.max_bytes, keep)
            self.stats["evicted"] += removed
            return removed

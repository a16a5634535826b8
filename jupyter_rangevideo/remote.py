"""Videos in object storage and on HTTP servers, read in ranges through the block cache.

A :class:`RemoteObject` is one fsspec URL (``s3://``, ``gs://``, ``az://``/``abfs://``,
``http(s)://``) with its ``storage_options``: :meth:`~RemoteObject.stat` gives its size and a
validator (ETag, version or generation), :meth:`~RemoteObject.read` any range, and
:meth:`~RemoteObject.open` a seekable file object for PyAV. Every byte comes from the store
in blocks (blockcache.py) with ranged reads, so a seek in a 1 GB object fetches a block or
two, never the object. Transient failures (timeouts, resets, 5xx) are retried a bounded
number of times with backoff; the rest become the built-in exceptions a local file raises
(FileNotFoundError, PermissionError) or :class:`RemoteError` in plain words.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .blockcache import BlockCache, object_key
from .cache import default_directory
from .runtime_files import publish_cache_config, published_cache_config
from .store_reads import attempts, bounded_options, pinned_read, status_of, tune_filesystem

# Block size: a seek costs one block (two at a block's edge); 2 MiB keeps eight random seeks in
# a 1 GB object under 5 % of it, and is one round trip of a few ms to S3 in the same region.
BLOCK_SIZE = 2 * 1024 * 1024
CACHE_BYTES = 4 * 1024**3
# A stat this recent is reused (a player's burst of requests asks once); a change to the object
# is seen after at most this long, and a block fetched under the old validator is refused.
STAT_SECONDS = 1.0
# Attempts of a read that failed in a way that may pass (timeout, reset, 5xx), and the first
# pause between them (doubled each time).
ATTEMPTS = 3
BACKOFF_SECONDS = 0.25
# Seconds to connect, and to wait for bytes, before a read counts as failed.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30

_T = TypeVar("_T")
# A URL's query string, or the user and password before its host, inside an error's text.
_SECRETS_IN_TEXT = re.compile(r"\?[^\s'\")\]]*|//[^/@\s'\"]*@")


class RemoteError(OSError):
    """A remote object cannot be read, said in plain words (a 5xx, a timeout, a reset)."""


class RangeNotSupported(RemoteError):
    """The HTTP server sends whole files only: a video there cannot be streamed."""


class ObjectChanged(RemoteError):
    """The object changed while it was read: read again from its new version."""


class _Unsignable(RemoteError):
    """The store's filesystem has no presigned URLs (fsspec's ``sign`` is not implemented)."""


@dataclass(frozen=True)
class ObjectStat:
    size: int
    validator: str  # ETag, version or generation: another version of the object has another


_cache: BlockCache | None = None
_cache_lock = threading.Lock()
_cache_config: dict[str, Any] = {}


def configure(
    directory: str = "", max_bytes: int = CACHE_BYTES, block_size: int = BLOCK_SIZE, publish: bool = False
) -> None:
    """Where and how large this process's block cache is (the server extension's settings).
    Empty ``directory``: ``blocks`` in the user's cache directory. ``publish``: write them to the
    Jupyter runtime directory too, so that kernels of this server read through the same blocks
    (what a kernel's probe fetched, the server then serves without asking the store)."""
    global _cache
    config = {"directory": directory, "max_bytes": max_bytes, "block_size": block_size}
    with _cache_lock:
        _cache_config.clear()
        _cache_config.update(config)
        _cache = None
    if publish:
        publish_cache_config(config)


def block_cache() -> BlockCache:
    """This process's block cache, made on first use: as configured, else as the server of this
    runtime directory published it, else the defaults."""
    global _cache
    with _cache_lock:
        if _cache is None:
            if not _cache_config:
                _cache_config.update(published_cache_config())
            directory = _cache_config.get("directory") or str(default_directory() / "blocks")
            _cache = BlockCache(
                directory,
                int(_cache_config.get("max_bytes", CACHE_BYTES)),
                int(_cache_config.get("block_size", BLOCK_SIZE)),
            )
        return _cache


class RemoteObject:
    """One remote object: its stat, its bytes by range, a seekable file of it. Thread-safe."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None, redirect_seconds: int = 0):
        self.url = url
        self.label = _redacted(url)  # what messages say: no query string, no user or password
        self.options = dict(storage_options or {})
        # delivery="redirect": the server answers the browser with a presigned URL lasting this long.
        self.redirect_seconds = redirect_seconds
        self._presigned: tuple[str, float] | None = None  # (URL, when it was minted: time.time())
        self.name = Path(url.split("?", 1)[0].rstrip("/")).name or url
        self.fetched = 0  # bytes this object read from the store (not from the cache)
        self._lock = threading.Lock()
        self._stat: ObjectStat | None = None
        self._stat_time = 0.0
        self._file: Any = None  # the fsspec file of the version _stat describes
        self._fs: Any = None
        self._path = ""

    def __repr__(self) -> str:
        return f"RemoteObject({self.label!r})"

    def stat(self, max_age: float | None = None) -> ObjectStat:
        """Size and validator, asked of the store unless known from the last ``max_age``
        seconds (default :data:`STAT_SECONDS`)."""
        max_age = STAT_SECONDS if max_age is None else max_age
        with self._lock:
            if self._stat is not None and time.monotonic() - self._stat_time < max_age:
                return self._stat
        file = _retried(self.label, self._open_file)
        found = _stat_of(file)
        with self._lock:
            self._stat, self._file, self._stat_time = found, file, time.monotonic()
        return found

    def read(self, offset: int, length: int, stat: ObjectStat | None = None) -> bytes:
        """Bytes [offset, offset + length) (fewer past the end) of the version ``stat`` (default:
        the current one). Raises ObjectChanged if the object changed from ``stat``."""
        stat = stat or self.stat()
        cache = block_cache()
        size = cache.block_size
        stop = min(offset + length, stat.size)
        pieces = []
        position = offset
        while position < stop:
            index = position // size
            block = self.block(index, stat, cache)
            pieces.append(block[position - index * size : stop - index * size])
            position = (index + 1) * size
        return b"".join(pieces)

    def block(self, index: int, stat: ObjectStat, cache: BlockCache | None = None) -> bytes:
        """Block ``index`` of version ``stat``, from the cache or fetched once."""
        cache = cache or block_cache()
        start = index * cache.block_size
        length = max(0, min(cache.block_size, stat.size - start))
        key = object_key(self.url, stat.validator, cache.block_size)
        return cache.block(key, index, length, lambda: self._fetch(stat, start, start + length))

    def open(self) -> RemoteReader:
        """A seekable, read-only binary file of the object's current version."""
        return RemoteReader(self, self.stat())

    def presigned_url(self, seconds: int) -> str:
        """A URL at which anyone may GET the object for ``seconds`` (fsspec's ``sign``: S3, GCS
        with a service account, Azure with an account key), the same one until half its life
        has passed: one handed out has at least ``seconds / 2`` left. Raises ValueError where
        the store's filesystem cannot presign, the usual errors where its credentials fail."""
        now = _now()
        with self._lock:
            # X-Amz-Date counts whole seconds: a URL minted at .9 s has 0.9 s less than asked.
            if self._presigned is not None and now - self._presigned[1] < seconds / 2 - 1:
                return self._presigned[0]
        fs, path = self._filesystem()

        def sign() -> str:
            try:
                return str(fs.sign(path, expiration=int(seconds)))
            except NotImplementedError as e:
                raise _Unsignable(str(e)) from e

        try:
            url = _retried(self.label, sign)
        except _Unsignable:
            raise ValueError(
                f"delivery='redirect' needs a URL the browser may fetch without credentials, and "
                f"{type(fs).__name__} cannot presign one for {self.label}: leave out delivery='redirect' "
                "so that the Jupyter server streams it"
            ) from None
        with self._lock:
            self._presigned = (url, now)
        return url

    def _filesystem(self) -> tuple[Any, str]:
        """The fsspec filesystem of the URL (made once) and the object's path in it."""
        import fsspec

        if self._fs is None:
            options = bounded_options(self.url, self.options, CONNECT_TIMEOUT, READ_TIMEOUT)
            fs, path = fsspec.core.url_to_fs(self.url, **options)
            tune_filesystem(fs)
            self._fs, self._path = fs, path
        return self._fs, self._path

    def _open_file(self) -> Any:
        self._filesystem()
        self._fs.invalidate_cache(self._path)  # a fresh HEAD: never a listing's old answer
        if _is_http(self.url):
            # fsspec's HTTP file keeps no headers: ask for them (ETag, Last-Modified) here.
            details = self._fs.info(self._path)
            if details.get("size") is None:
                raise RangeNotSupported(
                    f"{self.label} has no known size (the server sends no Content-Length), so it "
                    "cannot be read in ranges"
                )
            file = self._fs.open(
                self._path, "rb", block_size=BLOCK_SIZE, cache_type="none", size=details["size"]
            )
            file.details = {**file.details, **details}
            if self._stat is None and int(file.size) > 1:
                file._fetch_range(1, 2)  # a server that ignores Range says so now, not mid-video
        else:
            file = self._fs.open(self._path, "rb", block_size=BLOCK_SIZE, cache_type="none")
        return file

    def _fetch(self, stat: ObjectStat, start: int, stop: int) -> bytes:
        with self._lock:
            file, current = self._file, self._stat
        if file is None or current != stat:
            file = _retried(self.label, self._open_file)
            if _stat_of(file) != stat:
                raise ObjectChanged(f"{self.label} changed while it was read")
        try:
            data = _retried(self.label, lambda: pinned_read(file, start, stop, CONNECT_TIMEOUT, READ_TIMEOUT))
        except FileNotFoundError:
            # A read pinned to a version that is gone (a GCS generation): changed, or gone.
            if _stat_of(_retried(self.label, self._open_file)) != stat:
                raise ObjectChanged(f"{self.label} changed while it was read") from None
            raise
        with self._lock:
            self.fetched += len(data)
        return data


class RemoteReader(io.RawIOBase):
    """A seekable file of one version of a remote object, reading through the block cache.

    Keeps the last block read in memory: PyAV reads in small pieces.
    """

    def __init__(self, remote: RemoteObject, stat: ObjectStat):
        super().__init__()
        self.remote = remote
        self.stat = stat
        self.name = remote.name
        self.bytes_read = 0  # bytes handed to the reader's caller
        self._position = 0
        self._block: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self.stat.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if position < 0:
            raise OSError(f"cannot seek to {position}")
        self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._position >= self.stat.size or not len(view):
            return 0
        size = block_cache().block_size
        index = self._position // size
        if self._block is None or self._block[0] != index:
            self._block = (index, self.remote.block(index, self.stat))
        block = self._block[1]
        at = self._position - index * size
        count = min(len(view), len(block) - at)
        view[:count] = block[at : at + count]
        self._position += count
        self.bytes_read += count
        return count


def _now() -> float:
    """The wall clock, as a presigned URL's expiry counts it."""
    return time.time()


def _redacted(url: str) -> str:
    """``url`` without its query (a presigned URL's signature) or its user and password."""
    scheme, _, rest = url.partition("://")
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _stat_of(file: Any) -> ObjectStat:
    """Size and validator of the version an fsspec file was opened on."""
    return ObjectStat(int(file.size), _validator(file.details, int(file.size)))


def _validator(details: dict[str, Any], size: int) -> str:
    """What tells one version of an object from another, from its metadata."""
    parts = [f"size={size}"]
    for field in ("VersionId", "version_id", "generation", "ETag", "etag", "md5Hash", "Last-Modified"):
        value = details.get(field)
        if value:
            parts.append(f"{field}={value}")
    if len(parts) == 1:
        for field in ("LastModified", "last_modified", "mtime", "updated"):
            if details.get(field):
                parts.append(f"{field}={details[field]}")
    return ";".join(parts)


def _retried(url: str, attempt: Callable[[], _T]) -> _T:
    """``attempt()``, again after a pause when it failed in a way that may pass; its failure
    as FileNotFoundError, PermissionError or RemoteError otherwise."""
    pause = BACKOFF_SECONDS
    ours = attempts(url, ATTEMPTS)[0]
    for number in range(ours):
        try:
            return attempt()
        except Exception as e:  # each backend raises its own: sorted below
            error = _plain_error(url, e)
            if not _transient(e) or number == ours - 1:
                raise error from e
        time.sleep(pause)
        pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _transient(error: BaseException) -> bool:
    status = status_of(error)
    if status is not None:
        return status >= 500 or status in (408, 429)
    if isinstance(error, (FileNotFoundError, PermissionError, RangeNotSupported, ObjectChanged)):
        return False
    name = type(error).__name__
    return isinstance(error, (TimeoutError, ConnectionError)) or any(
        word in name
        for word in (
            "Timeout",
            "Connection",
            "Disconnect",
            "Payload",
            "Incomplete",
            "ServiceRequest",
            "ServiceResponse",
        )
    )


def _plain_error(url: str, error: BaseException) -> OSError:
    """The failure as the exception a local file would raise, in plain words."""
    status = status_of(error)
    if status is None and isinstance(error, RemoteError):
        return error
    if status == 412:  # a read pinned to a version (If-Match) that is no longer the object's
        return ObjectChanged(f"{url} changed while it was read")
    missing = status == 404 or (status is None and isinstance(error, FileNotFoundError))
    if missing:
        return FileNotFoundError(f"{url} does not exist (no such object, bucket or container)")
    if status in (401, 403) or (status is None and isinstance(error, PermissionError)):
        return PermissionError(
            f"access to {url} was refused ({_short(error)}): check the credentials (expired?) "
            "and the object's permissions"
        )
    text = _short(error)
    if "range requests" in text:
        return RangeNotSupported(
            f"{url}: the server ignores HTTP Range requests and sends the whole file, so the video "
            "cannot be streamed from it; serve it from a server that answers ranges, or download it"
        )
    if status is not None:
        text = f"HTTP {status}: {text}"
    if _transient(error):
        return RemoteError(f"{url} could not be read after {attempts(url, ATTEMPTS)[1]} attempts: {text}")
    return RemoteError(f"{url} could not be read: {text}")


def _short(error: BaseException) -> str:
    """The error's words on one line, with no URL's query (a signature) or password in them,
    nor the Azure SDK's request id and time."""
    text = _SECRETS_IN_TEXT.sub(lambda m: "//" if m.group(0).startswith("//") else "", str(error))
    lines = [line.strip() for line in text.splitlines()]
    text = "; ".join(line for line in lines if line and not line.startswith(("RequestId:", "Time:")))
    text = text or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."

"""Range streaming: a local file served with RFC 9110 range semantics, read off the event loop.

:class:`RangeFileMixin` is mixed into the extension's handlers (handlers.py) and the
kernel's fallback server (kernel_server.py), so both stream the same way. Its
:meth:`~RangeFileMixin.serve_file` is three steps, as tornado's ``StaticFileHandler.get``:
open and check the file (and read a small answer in the same trip to the read pool), set
the headers that ranges.py's plan gives, stream the body (zero-copy ``os.sendfile`` where
the socket allows, else chunked copies). Who may read what is the handler's business.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import os
import socket
import stat
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from tornado import web
from tornado.http1connection import HTTP1Connection
from tornado.iostream import IOStream, StreamClosedError

from . import pagecache, ranges
from .fdcache import DescriptorCache, OpenFile
from .remote_registry import is_remote_name
from .remote_streaming import resolve_remote, serve_remote, write_remote_error
from .signing import REMOTE_DOMAIN, verify

# Most bytes one os.sendfile call may move. It holds no memory of ours (the kernel copies
# from the page cache to the socket) and the socket's buffer ends a call sooner anyway;
# a large count lets one call fill that buffer instead of taking several thread hops.
SENDFILE_COUNT = 8 * 1024 * 1024

# Spans up to this size whose bytes the page cache holds are sent from the event loop, which
# saves two thread switches per call. Longer ones (streams) go from the read pool: on the
# loop, eight streams' copies left a small request waiting 30-140 ms (p50/p99), and with
# 4 MiB spans allowed there, eight clients' 4 MiB ranges left it 38 ms at p99 (8-13 ms at 2 MiB).
LOOP_SENDFILE_SPAN = 2 * 1024 * 1024

# Most bytes one sendfile call on the event loop may move; between calls the loop answers
# other requests. Sent in one call, 2 MiB ranges from 8 clients waited 18.5 ms for their
# first byte (p99), against 10.9 ms in calls of 512 KiB.
LOOP_SENDFILE_COUNT = 512 * 1024

# Bodies up to this size are read in the same pool trip that opens the file and leave in
# one write with the headers; larger ones go by sendfile (or chunked copies). Above it the
# copies cost more than a second write: at 256 KiB, a fresh buffer is a new mapping (glibc)
# that faults in page by page, and the body is copied three times on its way to the socket.
SMALL_BODY = 64 * 1024

# preadv flag: read only what the page cache holds, never wait for the disk (Linux >= 4.14).
_RWF_NOWAIT = getattr(os, "RWF_NOWAIT", 0) if hasattr(os, "preadv") else 0

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def open_regular_file(path: str) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading and return (fd, stat), or raise ``web.HTTPError``.

    Runs in the read pool: opening and stat-ing can block on slow or network disks.
    O_NONBLOCK keeps a FIFO from hanging the open; only regular files pass.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise web.HTTPError(404, log_message=f"rangevideo: no such file {path!r}") from None
    except PermissionError:
        raise web.HTTPError(403, log_message=f"rangevideo: permission denied for {path!r}") from None
    except (OSError, ValueError) as e:
        raise web.HTTPError(404, log_message=f"rangevideo: cannot open {path!r}: {e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise web.HTTPError(404, log_message=f"rangevideo: {path!r} is not a regular file")
        if sys.platform == "linux":
            # The signature names a resolved path: if a directory or the file was swapped
            # for a symlink since it was shared, the descriptor points elsewhere.
            opened = os.readlink(f"/proc/self/fd/{fd}")
            if opened != path:
                raise web.HTTPError(
                    404, log_message=f"rangevideo: {path!r} now resolves to {opened!r}; not serving it"
                )
        return fd, info
    except BaseException:
        os.close(fd)
        raise


Span = tuple[int, int]
Peek = tuple[Span, bytes]


def _open_and_peek(
    cache: DescriptorCache, path: str, range_header: str | None, limit: int
) -> tuple[OpenFile, Peek | None]:
    """In the read pool: a checked descriptor for ``path`` and, for a small answer, its bytes."""
    entry = cache.acquire(path)
    span = _small_span(entry, range_header, limit)
    data = _read_span(entry.fd, span, nowait=False) if span is not None else None
    return entry, (span, data) if span is not None and data is not None else None


def _small_span(entry: OpenFile, range_header: str | None, limit: int) -> Span | None:
    """The one span the request asks for (or the whole file) if it holds at most ``limit``
    bytes, else None. A guess from the Range header alone: the handler uses its bytes only
    if its full plan (preconditions, If-Range) sends exactly that span."""
    if limit < 0:
        return None
    size = entry.info.st_size
    spans = ranges.parse_range(range_header, size) if range_header is not None else None
    if spans is None:
        spans = [(0, size)]
    if len(spans) != 1 or spans[0][1] - spans[0][0] > limit:
        return None
    return spans[0]


def _read_span(fd: int, span: Span, nowait: bool) -> bytes | None:
    """The bytes of ``span``, or None: a short read (the file shrank; the streaming path
    then ends the response short), a read error (the streaming path reports it) or, with
    ``nowait``, bytes not all in the page cache (which makes the read safe on the event loop)."""
    start, stop = span
    if stop == start:
        return b""
    try:
        if nowait:
            buffer = bytearray(stop - start)
            count = os.preadv(fd, [buffer], start, _RWF_NOWAIT)
            return bytes(buffer) if count == len(buffer) else None
        data = os.pread(fd, stop - start, start)
    except OSError:
        return None
    return data if len(data) == stop - start else None


def descriptor_cache(settings: dict[str, Any]) -> DescriptorCache:
    """The application's cache of open files (made on first use)."""
    cache: DescriptorCache | None = settings.get("rangevideo_fd_cache")
    if cache is None:
        cache = DescriptorCache(open_regular_file)
        settings["rangevideo_fd_cache"] = cache
    return cache


def _schedule_sweep(cache: DescriptorCache, loop: asyncio.AbstractEventLoop) -> None:
    """Close idle descriptors a little after their last use, from the event loop."""
    if cache.sweep_timer is not None:
        return

    def sweep() -> None:
        cache.sweep_timer = None
        _schedule_sweep(cache, loop)

    delay = cache.sweep()
    cache.sweep_timer = loop.call_later(delay, sweep) if delay is not None else None


if TYPE_CHECKING:
    # The mixins are only ever mixed into a RequestHandler: type them as one.
    _HandlerBase = web.RequestHandler
else:
    _HandlerBase = object


class RangeFileMixin(_HandlerBase):
    """Serve a local file with RFC 9110 range semantics, reading in the shared pool.

    Mixed into a tornado RequestHandler whose application settings hold
    ``rangevideo_read_pool`` and ``rangevideo_chunk_size``. Who may read what is the
    handler's business: it checks before calling :meth:`serve_file`.
    """

    if TYPE_CHECKING:
        # JupyterHandler's property, or a class attribute on plain RequestHandlers.
        @property
        def log(self) -> logging.Logger: ...

    async def prepare(self, **kwargs: Any) -> None:
        # Media is sent as it is on disk: a gzip transform would break byte ranges.
        self._transforms = []
        # kwargs: JupyterHandler.prepare's keyword-only options, passed on as they are.
        result = super().prepare(**kwargs)
        if result is not None:
            await result

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if not write_remote_error(self, kwargs.get("exc_info")):
            super().write_error(status_code, **kwargs)

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        # File names are bytes on POSIX; keep undecodable ones rather than refusing them.
        return os.fsdecode(value)

    async def serve_file(self, path: str, include_body: bool) -> None:
        """Answer a GET (``include_body``) or HEAD of ``path``: open, headers, body."""
        remote = resolve_remote(self, path)
        if remote is not None:
            await serve_remote(self, path, remote, include_body)
            return
        cache = descriptor_cache(self.settings)
        headers = range_headers(self.request.headers)
        entry, peek = await self._open(cache, path, include_body, headers.get("Range"))
        # Media responses under way per client address: its first ones are answered in full.
        media_element = ranges.is_media_element(headers)
        client = (self.request.remote_ip or "") if media_element else None
        failed = False
        try:
            plan = self._plan(path, entry.info, headers, client)
            self._set_headers(path, plan, media_element)
            if include_body and plan.status in (200, 206):
                if peek is not None and plan.boundary is None and plan.spans == [peek[0]]:
                    # Headers and body leave in one write when the handler finishes.
                    self.write(peek[1])
                else:
                    failed = not await self._stream(path, entry, plan, client)
        finally:
            # A descriptor that failed a read is not lent again.
            cache.release(entry, discard=failed)
            _schedule_sweep(cache, asyncio.get_running_loop())

    async def _open(
        self, cache: DescriptorCache, path: str, include_body: bool, range_header: str | None
    ) -> tuple[OpenFile, Peek | None]:
        """A checked descriptor of ``path`` and, for a small single-span answer, its bytes.

        At most one trip to the read pool before the headers: open (or re-check a cached
        descriptor) and, when the answer is a small single span, read it too, so that it
        leaves in one write with the headers.
        """
        loop = asyncio.get_running_loop()
        pool = self.settings["rangevideo_read_pool"]
        peek_limit = SMALL_BODY if include_body else -1
        # No trip at all when the file is open already on a local disk and the bytes are in
        # the page cache: re-checking and reading then cost no more than a blocked loop would.
        entry = cache.acquire_local(path) if _RWF_NOWAIT else None
        peek: Peek | None = None
        try:
            if entry is None:
                entry, peek = await loop.run_in_executor(
                    pool, _open_and_peek, cache, path, range_header, peek_limit
                )
            elif (span := _small_span(entry, range_header, peek_limit)) is not None:
                data = _read_span(entry.fd, span, nowait=True)
                if data is None:
                    data = await loop.run_in_executor(pool, _read_span, entry.fd, span, False)
                peek = (span, data) if data is not None else None
        except BaseException as e:
            if entry is not None:
                cache.release(entry)
            if isinstance(e, RuntimeError):  # the read pool is shut down: the server is stopping
                raise web.HTTPError(503, log_message="rangevideo: server is stopping") from None
            raise
        assert entry is not None  # set by either branch above
        return entry, peek

    def _media_streams(self) -> collections.Counter[str]:
        """Media responses under way, per client address (the application's, made on first use)."""
        streams: collections.Counter[str] = self.settings.setdefault(
            "rangevideo_media_streams", collections.Counter()
        )
        return streams

    def _plan(
        self, path: str, info: os.stat_result, headers: Mapping[str, str], client: str | None
    ) -> ranges.ResponsePlan:
        """What to answer (ranges.py decides): a media element's first streams get it all."""
        return ranges.plan_response(
            self.request.method,
            headers,
            info.st_size,
            ranges.Validators(
                etag=ranges.strong_etag(info.st_size, info.st_mtime_ns, info.st_ino),
                last_modified=int(info.st_mtime),
                now=int(time.time()),
            ),
            ranges.content_type(path),
            ranges.media_element_limit(self._media_streams()[client]) if client is not None else None,
        )

    def _set_headers(self, path: str, plan: ranges.ResponsePlan, media_element: bool) -> None:
        self.set_status(plan.status)
        for name, value in plan.headers.items():
            self.set_header(name, value)
        # A browser's cache would keep a media element's partial answers and revalidate
        # each piece (a 304 round trip) on a later seek; the element buffers them itself.
        self.set_header("Cache-Control", "no-store" if media_element else "private, no-cache")
        self.set_header("Content-Disposition", _inline_disposition(path))
        if not plan.headers.get("Content-Type", "").startswith(("video/", "audio/", "multipart/")):
            # A shared HTML or SVG file must not run script in the server's origin.
            self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")

    async def _stream(
        self, path: str, entry: OpenFile, plan: ranges.ResponsePlan, client: str | None
    ) -> bool:
        """Stream the plan's body; False when a read failed (the connection is then closed)."""
        streams = self._media_streams()
        if client is not None:
            streams[client] += 1
        try:
            await self.stream_body(entry.fd, plan, local=entry.local)
            return True
        except (OSError, RuntimeError) as e:
            # A read failed, or the server is stopping (the pool refuses new reads).
            # Headers are gone already: end the connection short of Content-Length
            # so the client knows the body is incomplete.
            self.log.error("rangevideo: reading %r failed: %s; closing the connection", path, e)
            self._close_connection()
            return False
        finally:
            if client is not None:
                streams[client] -= 1
                if not streams[client]:
                    del streams[client]

    async def stream_body(self, fd: int, plan: ranges.ResponsePlan, local: bool = False) -> None:
        """Send the plan's body. ``local``: ``fd`` is on a local disk, so bytes the page
        cache holds may be sent from the event loop."""
        if plan.boundary is None:
            pieces = [(b"", start, stop) for start, stop in plan.spans]
            epilogue = b""
        else:
            pieces, epilogue = plan.parts, plan.epilogue
        try:
            for head, start, stop in pieces:
                if head:
                    self.write(head)
                if not await self.send_span(fd, start, stop, local=local):
                    return
            if epilogue:
                self.write(epilogue)
                await self.flush()
        except StreamClosedError:
            self.log.debug("rangevideo: client closed the connection")

    async def send_span(self, fd: int, start: int, stop: int, local: bool = False) -> bool:
        """Send bytes [start, stop) of ``fd``; False when the file shrank under us.

        The connection is then closed, so the client sees a short response rather
        than wrong bytes.
        """
        await self.flush()  # what is buffered (headers, a multipart head) goes first
        client = self._sendfile_socket()
        if client is None:
            return await self._copy_span(fd, start, stop)
        with client:
            return await self._sendfile_span(client.fileno(), fd, start, stop, local=local)

    def _end_short(self) -> bool:
        self.log.warning("rangevideo: file shrank during a response; closing the connection")
        self._close_connection()
        return False

    def _close_connection(self) -> None:
        # tornado's HTTP/1 server is the only one that runs these handlers.
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection):
            connection.close()

    def _sendfile_socket(self) -> socket.socket | None:
        """A duplicate of the client's socket, if the kernel can copy the file to it.

        Zero-copy needs a plain TCP socket (not TLS) and tornado's HTTP/1 connection,
        whose Content-Length accounting :meth:`_sendfile_span` keeps. The duplicate
        stays valid even if tornado closes its own descriptor meanwhile, so a send in
        a thread can never write into a later connection that reuses the number.
        """
        connection = self.request.connection
        stream = getattr(connection, "stream", None)
        if (
            not hasattr(os, "sendfile")
            or type(stream) is not IOStream
            or not hasattr(connection, "_expected_content_remaining")
            or stream.closed()
        ):
            return None
        return socket.socket(fileno=os.dup(stream.socket.fileno()))

    async def _sendfile_span(
        self, socket_fd: int, fd: int, start: int, stop: int, local: bool = False
    ) -> bool:
        # The kernel copies from the page cache (or the disk) straight into the socket: on
        # the event loop for a short span cached from a local disk (no disk wait, and no
        # thread switches), else in the read pool. The socket is non-blocking, so a call
        # returns once the socket's buffer is full; the loop then waits until it drains.
        loop = asyncio.get_running_loop()
        pool = self.settings["rangevideo_read_pool"]
        # _sendfile_socket() checked that this is tornado's HTTP/1 connection.
        connection = cast(HTTP1Connection, self.request.connection)
        short = local and stop - start <= LOOP_SENDFILE_SPAN
        position = start
        while position < stop:
            on_loop = short and pagecache.resident(fd, position, stop)
            wanted = min(LOOP_SENDFILE_COUNT if on_loop else SENDFILE_COUNT, stop - position)
            try:
                if on_loop:
                    sent = os.sendfile(socket_fd, fd, position, wanted)
                else:
                    sent = await loop.run_in_executor(pool, os.sendfile, socket_fd, fd, position, wanted)
            except BlockingIOError:
                sent = None
            except (BrokenPipeError, ConnectionResetError):
                raise StreamClosedError() from None
            if sent == 0:
                return self._end_short()
            if sent:
                position += sent
                assert connection._expected_content_remaining is not None  # bodies always have a length
                connection._expected_content_remaining -= sent
            if position < stop:
                if sent is None or sent < wanted:
                    await _writable(loop, socket_fd)
                elif on_loop:
                    await asyncio.sleep(0)  # other requests' turn before the next call
        return True

    async def _copy_span(self, fd: int, start: int, stop: int) -> bool:
        """Send bytes through tornado's stream, reading the next chunk while one is written."""
        loop = asyncio.get_running_loop()
        pool = self.settings["rangevideo_read_pool"]
        chunk_size = self.settings["rangevideo_chunk_size"]

        def read_at(position: int) -> asyncio.Future[bytes]:
            return loop.run_in_executor(pool, os.pread, fd, min(chunk_size, stop - position), position)

        position = start
        pending: asyncio.Future[bytes] | None = read_at(position)
        try:
            while position < stop:
                assert pending is not None  # a read is in flight whenever bytes remain
                data = await pending
                pending = None
                if not data:
                    return self._end_short()
                position += len(data)
                if position < stop:
                    pending = read_at(position)
                self.write(data)
                del data
                await self.flush()
        finally:
            if pending is not None:
                # Never let the caller close the descriptor under a read still in a thread.
                await asyncio.wait([pending])
        return True


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Wait until ``fd`` can take more bytes (or has failed, which the next send reports)."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        await ready
    finally:
        loop.remove_writer(fd)


def range_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers that ranges.py reads, in a plain dict. Asked for a header the
    request lacks, tornado's HTTPHeaders raises and catches a KeyError (about 1.5 µs), and a
    range request lacks most of the seven; a tornado header name is already in their form."""
    return {name: headers[name] for name in headers if name in ranges.REQUEST_HEADERS}


def check_signature(signature: str, url_path: str, secret: bytes) -> str:
    """The file path (or registered remote name) a signed URL names, or a 404."""
    if is_remote_name(url_path) and verify(url_path, signature, secret, REMOTE_DOMAIN):
        return url_path
    path = "/" + url_path if os.sep == "/" else url_path
    if "\0" in path or not verify(path, signature, secret):
        raise web.HTTPError(404, log_message=f"rangevideo: bad signature for {path!r}")
    return path


@functools.lru_cache(maxsize=256)  # asked on every range request of the same few files
def _inline_disposition(path: str) -> str:
    # RFC 6266 / 8187: an ASCII fallback plus the exact name, percent-encoded, so no
    # quote, CR or LF from a file name ever reaches a header.
    name = os.path.basename(path)
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\%' else "_" for c in name)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(os.fsencode(name), safe='')}"

"""Range responses for remote objects: each browser range read from the store through the
block cache, off the event loop, with a bounded read-ahead.

:func:`serve_remote` is what ``RangeFileMixin.serve_file`` (streaming.py) does for a name that
stands for a remote object (remote_registry.py): the same plan (ranges.py) and headers as for
a file, the object's validator as its ETag, and a body sent block by block; or, for an object
shown with delivery="redirect", a 307 to a presigned URL of it in its store. The next block is
fetched once half of the current one has left, so a reader that goes on never waits for the
store, and one that stops (a seek elsewhere) costs at most a block more than it read.

A browser's <video> is answered in short pieces (ReadChains): what it was sent is no sign of
what it read, since a paused element stops reading while the TCP buffers between it and the
server (megabytes) still take whatever is written. So each of its open ranges is answered to
the end of a block, and only a range that goes on where the last answer ended (the element
asked for more: it is playing, or its seek needs the next block) gets more blocks and a block
fetched ahead.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tornado import web
from tornado.iostream import StreamClosedError

from . import ranges
from .remote import ObjectStat, RangeNotSupported, RemoteError, RemoteObject, block_cache
from .remote_registry import resolve

if TYPE_CHECKING:
    from .streaming import RangeFileMixin

# Bytes written between two flushes: the socket's drain paces the reads.
CHUNK = 256 * 1024
# Blocks fetched ahead of the one being sent: one at first (a reader that stops after a seek
# costs at most a block more than it read), one more for every two blocks a response has sent,
# up to this many (a reader that goes on, playing, gets the store's throughput, not one block's
# round trip at a time).
MAX_READ_AHEAD = 4
# Threads reading remote objects (their waits are the network's, not the CPU's).
REMOTE_THREADS = 8
# Blocks in the answer to a media element's first, second, third... open range of a chain (see
# ReadChains), then the last figure: a seek costs the block it lands in (and the next one if
# its frames run on), a played stream grows to a few blocks an answer.
ANSWER_BLOCKS = (1, 1, 2, 4)
# From this link of a chain on, the block after an answer is fetched while its end is sent, so
# the element's next range is in the cache when it comes (a playing element never waits for
# the store); never for a seek and the one piece after it.
PREFETCH_FROM_LINK = 2
# Chains remembered (their ends): the oldest are forgotten, which only restarts them.
CHAINS_KEPT = 512


def remote_pool(settings: dict[str, Any]) -> ThreadPoolExecutor:
    """The application's pool of remote reads (made on first use): apart from the disk
    reads' pool, so a slow store never holds up local files."""
    pool: ThreadPoolExecutor | None = settings.get("rangevideo_remote_pool")
    if pool is None:
        pool = ThreadPoolExecutor(REMOTE_THREADS, thread_name_prefix="rangevideo-remote")
        settings["rangevideo_remote_pool"] = pool
    return pool


class ReadChains:
    """A media element's reads of a remote object, as chains of open ranges: a range that
    starts where an answer to the same client for the same object ended goes on with that
    answer's chain; any other range (a seek, a first load) starts a chain. Bounded; on the
    event loop only."""

    def __init__(self, kept: int = CHAINS_KEPT) -> None:
        self._ends: OrderedDict[tuple[str, str, int], int] = OrderedDict()
        self._kept = kept

    def links(self, client: str, name: str, start: int) -> int:
        """How many answers came before this range's in its chain (0: it starts one)."""
        return self._ends.pop((client, name, start), -1) + 1

    def answered(self, client: str, name: str, stop: int, links: int) -> None:
        """The answer to the ``links``-th range of a chain ends at ``stop``."""
        self._ends[(client, name, stop)] = links
        self._ends.move_to_end((client, name, stop))
        while len(self._ends) > self._kept:
            self._ends.popitem(last=False)


def answer_stop(start: int, links: int, block_size: int) -> int:
    """Where the answer to a media element's open range from ``start``, the ``links``-th of
    its chain, ends: a block boundary (ANSWER_BLOCKS)."""
    blocks = ANSWER_BLOCKS[min(links, len(ANSWER_BLOCKS) - 1)]
    return (start // block_size + blocks) * block_size


def read_chains(settings: dict[str, Any]) -> ReadChains:
    chains: ReadChains = settings.setdefault("rangevideo_remote_chains", ReadChains())
    return chains


class RemoteHTTPError(web.HTTPError):
    """A remote read's failure, answered in plain words (see write_remote_error)."""


def http_error(error: BaseException, remote: RemoteObject) -> web.HTTPError | None:
    """The HTTP answer to a remote read's failure, or None for an unexpected one."""
    message = f"rangevideo: {error}"
    if isinstance(error, FileNotFoundError):
        return RemoteHTTPError(404, log_message=message)
    if isinstance(error, PermissionError):
        return RemoteHTTPError(403, log_message=message)
    if isinstance(error, RangeNotSupported):
        return RemoteHTTPError(502, log_message=message)
    if isinstance(error, RemoteError):
        return RemoteHTTPError(504 if "attempts" in str(error) else 502, log_message=message)
    return None


def write_remote_error(handler: web.RequestHandler, exc_info: Any) -> bool:
    """Answer a remote read's failure as plain words (what the store said, never a key);
    False for any other error, which the handler renders as it always does."""
    error = exc_info[1] if exc_info else None
    if not isinstance(error, RemoteHTTPError):
        return False
    handler.set_header("Content-Type", "text/plain; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    handler.finish((error.log_message or "").removeprefix("rangevideo: ") + "\n")
    return True


def resolve_remote(handler: web.RequestHandler, name: str) -> RemoteObject | None:
    """The remote object a signed name stands for; None for a local path; 404 if unknown."""
    try:
        return resolve(name)
    except (FileNotFoundError, PermissionError, ValueError, KeyError) as e:
        raise web.HTTPError(404, log_message=f"rangevideo: {e}") from None


def etag_of(stat: ObjectStat) -> str:
    return '"r' + hashlib.sha256(stat.validator.encode()).hexdigest()[:24] + '"'


async def serve_remote(handler: RangeFileMixin, name: str, remote: RemoteObject, include_body: bool) -> None:
    """Answer a GET (``include_body``) or HEAD of the remote object ``remote``, shared as ``name``."""
    loop = asyncio.get_running_loop()
    pool = remote_pool(handler.settings)
    if remote.redirect_seconds:
        await _redirect(handler, remote, pool)
        return
    try:
        stat = await loop.run_in_executor(pool, remote.stat)
    except Exception as e:
        error = http_error(e, remote)
        if error is None:
            raise
        raise error from None
    media_element = ranges.is_media_element(handler.request.headers)
    client = (handler.request.remote_ip or "") if media_element else None
    plan, prefetch = _plan(handler, name, stat, client, include_body)
    if not (include_body and plan.status in (200, 206) and plan.spans):
        handler._set_headers(name, plan, media_element)
        return
    # The first block before the headers: a failure then is still an HTTP error, not a short body.
    first = plan.spans[0][0] // block_cache().block_size
    try:
        await loop.run_in_executor(pool, remote.block, first, stat)
    except Exception as e:
        error = http_error(e, remote)
        if error is None:
            raise
        raise error from None
    handler._set_headers(name, plan, media_element)
    streams = handler._media_streams()
    if client is not None:
        streams[client] += 1
    try:
        await _send_plan(handler, remote, stat, plan, pool, prefetch)
    finally:
        if client is not None:
            streams[client] -= 1
            if not streams[client]:
                del streams[client]


def _plan(
    handler: RangeFileMixin, name: str, stat: ObjectStat, client: str | None, include_body: bool
) -> tuple[ranges.ResponsePlan, int]:
    """What to answer (ranges.py decides), and how many blocks past its end to fetch too. A
    media element's (``client``'s) open range ends at a block's end (ReadChains, ANSWER_BLOCKS),
    and at 512 KiB when its client has other media responses under way (ranges.py)."""
    limit = ranges.media_element_limit(handler._media_streams()[client]) if client is not None else None
    start = ranges.media_element_start(handler.request.headers) if include_body else None
    chains, links = read_chains(handler.settings), 0
    if client is not None and start is not None:
        links = chains.links(client, name, start)
        bound = answer_stop(start, links, block_cache().block_size) - start
        limit = bound if limit is None else min(limit, bound)
    now = int(time.time())
    plan = ranges.plan_response(
        handler.request.method or "GET",
        handler.request.headers,
        stat.size,
        ranges.Validators(etag=etag_of(stat), last_modified=now, now=now),
        ranges.content_type(name),
        limit,
    )
    plan.headers.pop("Last-Modified", None)  # the store's clock is not ours: the ETag validates
    if client is None or start is None or plan.status != 206 or len(plan.spans) != 1:
        return plan, 0
    chains.answered(client, name, plan.spans[0][1], links)
    return plan, 1 if links >= PREFETCH_FROM_LINK else 0


async def _redirect(handler: RangeFileMixin, remote: RemoteObject, pool: Any) -> None:
    """delivery="redirect": send the browser to the store with a presigned URL of the object
    (the same one for half its life, so a burst of requests costs one signature). Not cached
    (each load of the page's URL gets a URL with life left), and no Referer follows it to the store."""
    loop = asyncio.get_running_loop()
    try:
        location = await loop.run_in_executor(pool, remote.presigned_url, remote.redirect_seconds)
    except ValueError as e:  # this server's filesystem for the store cannot presign
        raise RemoteHTTPError(502, log_message=f"rangevideo: {e}") from None
    except Exception as e:
        error = http_error(e, remote)
        if error is None:
            raise
        raise error from None
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("Referrer-Policy", "no-referrer")
    handler.redirect(location, status=307)


async def _send_plan(
    handler: RangeFileMixin,
    remote: RemoteObject,
    stat: ObjectStat,
    plan: ranges.ResponsePlan,
    pool: Any,
    prefetch: int = 0,
) -> None:
    """Send the plan's body; ``prefetch``: blocks after its end fetched into the cache too."""
    if plan.boundary is None:
        pieces = [(b"", start, stop) for start, stop in plan.spans]
    else:
        pieces = plan.parts
    try:
        for head, start, stop in pieces:
            if head:
                handler.write(head)
            await _send_span(handler, remote, stat, start, stop, pool, prefetch)
        if plan.epilogue:
            handler.write(plan.epilogue)
            await handler.flush()
    except StreamClosedError:
        handler.log.debug("rangevideo: client closed the connection")
    except (OSError, RuntimeError) as e:
        # The store failed (or the server is stopping) after the headers left: end the
        # connection short of Content-Length, so the client knows the body is incomplete.
        handler.log.error("rangevideo: reading %s failed: %s; closing the connection", remote.label, e)
        handler._close_connection()


async def _send_span(
    handler: RangeFileMixin,
    remote: RemoteObject,
    stat: ObjectStat,
    start: int,
    stop: int,
    pool: Any,
    prefetch: int = 0,
) -> None:
    """Send bytes [start, stop) of the object, block by block, fetching ahead a bounded amount
    (and ``prefetch`` blocks past ``stop``, left to fill the cache)."""
    loop = asyncio.get_running_loop()
    size = block_cache().block_size
    last = (stop - 1) // size
    furthest = min(last + prefetch, (stat.size - 1) // size)
    pending: dict[int, asyncio.Future[bytes]] = {}

    def want(index: int) -> None:
        if index <= furthest and index not in pending:
            pending[index] = loop.run_in_executor(pool, remote.block, index, stat)

    position = start
    try:
        sent = 0  # blocks this span has sent
        while position < stop:
            index = position // size
            want(index)
            block = await pending.pop(index)
            ahead = min(MAX_READ_AHEAD, 1 + sent // 2)
            piece = memoryview(block)[position - index * size : min(stop, (index + 1) * size) - index * size]
            for offset in range(0, len(piece), CHUNK):
                handler.write(bytes(piece[offset : offset + CHUNK]))
                await handler.flush()
                if offset + CHUNK >= len(piece) // 2:
                    for following in range(index + 1, index + 1 + ahead):
                        want(following)
            position += len(piece)
            sent += 1
    finally:
        for index, future in pending.items():
            if index <= last or position < stop:
                future.cancel()  # queued reads go; one already running fills the cache
            else:  # for the next range, once this one is sent: its failure is that range's
                future.add_done_callback(_retrieved)


def _retrieved(future: asyncio.Future[bytes]) -> None:
    if not future.cancelled():
        future.exception()

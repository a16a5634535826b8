"""The comm transport: a player's bytes as binary buffers over its widget's comm.

Where the page reaches neither the server extension nor the kernel's server (VS Code with a
remote kernel, Colab without its port proxy, kernels behind a gateway), the only channel left
is the widget's own comm. The page then asks its player for bytes with custom messages and
the kernel answers with binary buffers, in chunks, so that a large segment shares the comm
with everything else (state, commands, other requests):

    page → kernel   {"rangevideo": "get", "id": "v1:7", "what": "playlist", "at": 3.2}
                    {"rangevideo": "get", "id": "v1:8", "what": "segment", "index": 4}
                    {"rangevideo": "get", "id": "v1:1", "what": "static", "name": "hls.light.min.mjs"}
                    {"rangevideo": "cancel", "id": "v1:8"}          (a seek elsewhere, a view gone)
    kernel → page   {"rangevideo": "chunk", "id": ..., "offset": o, "size": total, "last": bool} + 1 buffer
                    {"rangevideo": "error", "id": ..., "status": 404, "message": "..."}

Playlists and segments come from the same segment service (segments.py) as the HTTP routes,
in process: the kernel server's service, on its loop thread (kernel_server.py). A file the
browser plays directly over HTTP is played here from its remuxed segments (transcoded when
its video cannot be remuxed), through Media Source Extensions like any segmented file. The
comm is the capability: a request names no file, only a part of its own player's video.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .proxy import look
from .static_files import STATIC_DIR

if TYPE_CHECKING:
    from .kernel_server import KernelServer
    from .probe import Probe

# Each comm message carries at most this many bytes: other messages pass between two of them.
CHUNK_BYTES = 512 * 1024
# Requests served at once by one player (a playlist and a segment, or two segments); the rest
# wait in the queue, which holds at most QUEUE_MAX: beyond it a request is refused (503). The
# seek proxy's requests have a slot of their own: a proxy segment made in the background never
# holds up the video's.
SERVING_MAX = 2
PROXY_SERVING_MAX = 1
QUEUE_MAX = 16
# What the page may ask for besides its video: hls.js itself and its transmux worker.
STATIC_NAMES = frozenset({"hls.light.min.mjs", "hls.worker.js"})
WHATS = ("playlist", "segment", "static")
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


class BadRequest(ValueError):
    """A message that is not a request this transport understands."""


@dataclass(frozen=True)
class Request:
    """One request of the page: a playlist, a segment or a static file."""

    id: str
    what: str
    delivery: str | None = None  # "proxy" for the seek proxy's rendition; None: the player's own
    index: int = 0  # a segment's number
    at: float | None = None  # with a playlist: where playback will start, in seconds
    name: str = ""  # a static file's name


def is_transport_message(content: Any) -> bool:
    """Whether a custom message belongs to this transport (others are left to their owners)."""
    return isinstance(content, dict) and content.get("rangevideo") in ("get", "cancel")


def parse_request(content: dict[str, Any]) -> Request:
    """The request in a "get" message; BadRequest for anything else."""
    request_id = content.get("id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 64:
        raise BadRequest(f"a request needs a short string id, not {request_id!r}")
    what = content.get("what")
    if what not in WHATS:
        raise BadRequest(f"'what' must be one of {', '.join(WHATS)}, not {what!r}")
    delivery = content.get("delivery")
    if delivery not in (None, "proxy"):
        raise BadRequest(f"'delivery' may only be 'proxy', not {delivery!r}")
    index = content.get("index", 0)
    if what == "segment" and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
        raise BadRequest(f"a segment's index is a whole number >= 0, not {index!r}")
    at = content.get("at")
    if at is not None and (not isinstance(at, (int, float)) or isinstance(at, bool) or at < 0):
        at = None  # as ?at= over HTTP: a hint, ignored when it is not a time
    name = content.get("name", "")
    if what == "static" and name not in STATIC_NAMES:
        raise BadRequest(f"no static file {name!r}")
    return Request(request_id, what, delivery, index, None if at is None else float(at), name)


def chunk_spans(size: int, chunk: int = CHUNK_BYTES) -> Iterator[tuple[int, int]]:
    """(offset, length) of each message for ``size`` bytes; one empty message for zero bytes."""
    if size < 0 or chunk <= 0:
        raise ValueError(f"size {size} and chunk {chunk} must be >= 0 and > 0")
    if size == 0:
        yield 0, 0
    for offset in range(0, size, chunk):
        yield offset, min(chunk, size - offset)


def chunk_header(request_id: str, offset: int, size: int, length: int, kind: str = "") -> dict[str, Any]:
    """The JSON part of a chunk message (its bytes travel as the message's one buffer)."""
    header: dict[str, Any] = {
        "rangevideo": "chunk",
        "id": request_id,
        "offset": offset,
        "size": size,
        "last": offset + length >= size,
    }
    if kind:
        header["type"] = kind
    return header


def error_message(request_id: str, status: int, message: str) -> dict[str, Any]:
    return {"rangevideo": "error", "id": request_id, "status": status, "message": message}


def stream_delivery(delivery: str, facts: Probe) -> str:
    """The segmented delivery that carries a player's video over the comm: its own, or for a
    file played directly over HTTP (or fetched from its store, delivery="redirect"), its remux
    (its transcode when the codec cannot be copied)."""
    if delivery not in ("direct", "redirect"):
        return delivery
    from . import delivery as _delivery

    try:
        return _delivery.check("remux", facts)
    except ValueError:
        return "transcode"


Send = Callable[[dict[str, Any], list[bytes]], None]


class CommTransport:
    """Answers one player's requests: bounded, cancellable, chunked.

    ``send(content, buffers)`` sends a custom message to the player's views (any thread);
    ``server`` is the kernel's server, whose loop, segment service and read pool do the work;
    each message carries at most ``chunk_bytes``.
    """

    def __init__(
        self, send: Send, facts: Probe, delivery: str, server: KernelServer, chunk_bytes: int = CHUNK_BYTES
    ):
        self.send = send
        self.chunk_bytes = chunk_bytes
        self.path = str(facts.path)
        self.delivery = stream_delivery(delivery, facts)
        self.server = server
        # Answers sent, by what was asked ("playlist", "segment", "static"), their "bytes", and
        # how many were the seek proxy's ("proxy").
        self.stats: Counter[str] = Counter()
        self._lock = threading.RLock()  # a future cancelled under it calls _forget at once
        self._requests: dict[str, concurrent.futures.Future[None]] = {}
        self._serving: dict[bool, asyncio.Semaphore] = {}  # by "is the proxy's"; made on the loop

    def handle(self, content: dict[str, Any]) -> None:
        """Take a message of the page (from the kernel's main thread)."""
        if content.get("rangevideo") == "cancel":
            self.cancel(str(content.get("id")))
            return
        try:
            request = parse_request(content)
        except BadRequest as e:
            self.send(error_message(str(content.get("id", ""))[:64], 400, str(e)), [])
            return
        with self._lock:
            if len(self._requests) >= QUEUE_MAX:
                busy = True
            else:
                busy = False
                self.cancel(request.id)  # an id used again replaces its request
                future = self.server.submit(self._serve(request))
                self._requests[request.id] = future
                future.add_done_callback(functools.partial(self._forget, request.id))
        if busy:
            self.send(error_message(request.id, 503, "the kernel is busy with this player's requests"), [])

    def cancel(self, request_id: str) -> None:
        """Stop a request: a segment nobody waits for any more is dropped (segments.py)."""
        future = self._requests.get(request_id)
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Cancel every request (the widget is closed)."""
        for future in list(self._requests.values()):
            future.cancel()

    @property
    def pending(self) -> int:
        """Requests queued or being served."""
        return len(self._requests)

    def _forget(self, request_id: str, future: concurrent.futures.Future[None]) -> None:
        """Drop a request once it is answered, failed or cancelled (not one that replaced it)."""
        with self._lock:
            if self._requests.get(request_id) is future:
                del self._requests[request_id]

    async def _serve(self, request: Request) -> None:
        proxy = request.delivery == "proxy"
        serving = self._serving.get(proxy)
        if serving is None:
            serving = self._serving[proxy] = asyncio.Semaphore(PROXY_SERVING_MAX if proxy else SERVING_MAX)
        async with serving:
            try:
                self.stats["bytes"] += await self._answer(request)
                self.stats[request.what] += 1
                self.stats["proxy"] += proxy
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - every failure becomes plain words in the player
                status, message = _status_of(e, self.path)
                self.send(error_message(request.id, status, message), [])

    async def _answer(self, request: Request) -> int:
        """Send the answer to ``request``; the number of bytes sent."""
        service = self.server.segments
        delivery = request.delivery or self.delivery
        if request.what == "static":
            path = os.path.join(STATIC_DIR, "vendor", request.name)
            return await self._send_file(request.id, path, "text/javascript")
        if delivery == "proxy":
            await self._look_at_proxy(request)
        if request.what == "playlist":
            body = (await service.playlist(self.path, delivery)).encode()
            if delivery != "proxy" and request.at is not None:
                service.start(self.path, delivery, request.at)  # as ?at= does over HTTP
            return await self._send_bytes(request.id, body, PLAYLIST_TYPE)
        made = await service.segment(self.path, delivery, request.index)
        return await self._send_file(request.id, made, "video/mp2t")

    async def _look_at_proxy(self, request: Request) -> None:
        """As over HTTP (hls.py): a file without video has no proxy; one with video is warmed
        from where the player looks (the playlist's start, or the segment asked for)."""
        service = self.server.segments
        source = await service.source(self.path)
        if source.facts.video is None:
            raise FileNotFoundError(self.path)
        look(service, source, self.path, request.index if request.what == "segment" else None, request.at)

    async def _send_bytes(self, request_id: str, body: bytes, kind: str) -> int:
        for offset, length in chunk_spans(len(body), self.chunk_bytes):
            self.send(
                chunk_header(request_id, offset, len(body), length, kind), [body[offset : offset + length]]
            )
            await asyncio.sleep(0)
        return len(body)

    async def _send_file(self, request_id: str, path: str, kind: str) -> int:
        """Send a file chunk by chunk, each read in the read pool; a cancel stops between two."""
        loop = asyncio.get_running_loop()
        pool = self.server.read_pool
        fd = os.open(path, os.O_RDONLY)  # a local open: quick, and a cancel cannot lose its descriptor
        try:
            size = os.fstat(fd).st_size
            for offset, length in chunk_spans(size, self.chunk_bytes):
                data = await loop.run_in_executor(pool, os.pread, fd, length, offset)
                if len(data) != length:
                    raise OSError(f"{path!r} changed while it was sent")
                self.send(chunk_header(request_id, offset, size, length, kind), [data])
        finally:
            os.close(fd)
        return size


class PageRequests:
    """A player's handler of custom messages (``widget.on_msg``): the comm transport's requests
    go to a CommTransport made on the first one, on the kernel's server; others are not ours."""

    def __init__(self, player: Any):
        self.player = player
        self.transport: CommTransport | None = None

    def __call__(self, _widget: Any, content: Any, _buffers: list[Any]) -> None:
        if not is_transport_message(content) or self.player is None:
            return
        if self.transport is None:
            from .kernel_server import kernel_server

            player = self.player
            self.transport = CommTransport(
                lambda message, buffers: player.send(message, buffers=buffers),
                player.probe,
                player.delivery,
                kernel_server(),
            )
        self.transport.handle(content)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _status_of(error: Exception, path: str) -> tuple[int, str]:
    """The HTTP-like status and plain words for a failure, as the HLS routes give them."""
    from .hls import http_error

    answer = http_error(error, path)
    if answer is None:
        return 500, f"the kernel could not serve {os.path.basename(path)}: {error!r}"
    return answer.status_code, (answer.log_message or str(answer.status_code)).removeprefix("rangevideo: ")

"""The HLS routes: the playlist and segments of a signed file, made on demand by segments.py.

:class:`SegmentMixin` is mixed into the extension's handler (handlers.py) and the kernel's
fallback server (kernel_server.py). A finished segment is a cached file, served by
RangeFileMixin (streaming.py) like any shared file. Failures become plain-text answers that a
player shows as they are; which status each failure gets is :data:`ERROR_STATUS`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tornado import web

from .delivery import check
from .probe import MediaError
from .proxy import look
from .remote import RemoteError
from .segment_jobs import Cancelled, SegmentError
from .segment_plan import SEGMENT_NAME, segment_index
from .segments import SegmentService, Source
from .streaming import RangeFileMixin, check_signature

# rangevideo/hls/{delivery}/{signature}/{path}/{index.m3u8 | seg-NNNNN.ts}: the signature is the
# file URL's own, so a URL shared for one file grants its playlist and segments, nothing else.
HLS_ROUTE = rf"rangevideo/hls/(remux|transcode|proxy)/([0-9a-f]+)/(.+)/(index\.m3u8|{SEGMENT_NAME})"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"

# What each failure tells the client, the first match of the error's type winning (subclasses
# before their bases): status and message, with the file's {path} and the {error} itself.
ERROR_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (RemoteError, 502, "{error}"),  # a store that failed, or a server without ranges
    (FileNotFoundError, 404, "no such file {path!r}"),
    (PermissionError, 403, "permission denied for {path!r}"),
    (IsADirectoryError, 404, "{path!r} is a directory"),
    (IndexError, 404, "{error}"),  # past the playlist's end
    (MediaError, 415, "{error}"),
    (ValueError, 400, "{error}"),  # a delivery this file cannot have (remux of HEVC)
    (SegmentError, 500, "{error}"),
    (Cancelled, 503, "the segment's job was cancelled"),
)


def http_error(error: Exception, path: str) -> web.HTTPError | None:
    """The HTTP answer to ``error`` from :data:`ERROR_STATUS`, or None for an unexpected one."""
    for kind, status, message in ERROR_STATUS:
        if isinstance(error, kind):
            return web.HTTPError(status, log_message="rangevideo: " + message.format(path=path, error=error))
    return None


if TYPE_CHECKING:
    _SegmentBase = RangeFileMixin
else:
    _SegmentBase = object


class SegmentMixin(_SegmentBase):
    """Serve the HLS playlist and segments of a signed file, made on demand.

    Mixed in before RangeFileMixin into a RequestHandler whose settings hold
    ``rangevideo_segments`` (a segments.SegmentService) and ``rangevideo_secret``;
    the handler authenticates the request first.
    """

    _waiting: asyncio.Future[Any] | None = None

    async def serve_hls(
        self, delivery: str, signature: str, url_path: str, name: str, include_body: bool
    ) -> None:
        path = check_signature(signature, url_path, self.settings["rangevideo_secret"])
        service: SegmentService = self.settings["rangevideo_segments"]
        try:
            source = await self._wait(service.source(path))
            if delivery != "proxy":  # any file with video has a proxy (plan_segments() says when not)
                check(delivery, source.facts)
            if delivery == "proxy" and source.facts.video is not None:
                self._warm_proxy(service, source, path, name)
            if name == "index.m3u8":
                await self._serve_playlist(service, path, delivery, include_body)
            else:
                await self._serve_segment(service, path, delivery, segment_index(name), include_body)
        except asyncio.CancelledError:
            return  # the client went away; the job goes on only if someone else waits for it
        except Exception as e:
            error = http_error(e, path)
            if error is None:
                raise
            raise error from None

    async def _serve_playlist(
        self, service: SegmentService, path: str, delivery: str, include_body: bool
    ) -> None:
        body = (await self._wait(service.playlist(path, delivery))).encode()
        at = self._at_seconds()
        if delivery != "proxy" and at is not None:
            # The player will start there: make that segment while hls.js loads.
            service.start(path, delivery, at)
        self.set_header("Content-Type", PLAYLIST_TYPE)
        self.set_header("Cache-Control", "private, no-cache")
        self.set_header("Content-Length", len(body))
        if include_body:
            self.write(body)

    async def _serve_segment(
        self, service: SegmentService, path: str, delivery: str, index: int, include_body: bool
    ) -> None:
        # ?play=1: asked while the player plays on, not for a seek (hls-route.js).
        playing = self.get_argument("play", None) == "1"
        for attempt in range(2):
            made = await self._wait(service.segment(path, delivery, index, playing))
            try:
                await self.serve_file(made, include_body)
                return
            except web.HTTPError as e:
                # Evicted between being made and being opened (another process's cache
                # bound): make it again, once.
                if e.status_code != 404 or attempt:
                    raise

    def _at_seconds(self) -> float | None:
        """``?at=`` seconds, where the player will start; None when absent or not a number."""
        value = self.get_argument("at", None)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return None

    def _warm_proxy(self, service: SegmentService, source: Source, path: str, name: str) -> None:
        """Warm the proxy from where the player looks: ``?at=`` seconds, or the segment asked for."""
        index = None if name == "index.m3u8" else segment_index(name)
        look(service, source, path, index, self._at_seconds())

    async def _wait(self, work: Any) -> Any:
        # A future the connection's close can cancel: a reader gone is a reader no more.
        self._waiting = asyncio.ensure_future(work)
        try:
            return await self._waiting
        finally:
            self._waiting = None

    def on_connection_close(self) -> None:
        if self._waiting is not None:
            self._waiting.cancel()
        super().on_connection_close()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Plain words, for a player to show as they are.
        error = kwargs.get("exc_info", (None, None))[1]
        message = getattr(error, "log_message", None) or str(status_code)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(message.removeprefix("rangevideo: ") + "\n")

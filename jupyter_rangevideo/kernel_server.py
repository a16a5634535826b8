"""A fallback transport: a small range server inside the kernel process.

The player uses it only when its page has no Jupyter server with this extension
(VS Code's local kernels, Colab, standalone Voilà). It listens on 127.0.0.1 on a free
port, on its own thread so that it keeps streaming while the kernel runs a cell. Every
URL carries an unguessable per-kernel token, responses grant no CORS, only signed paths
are served, and the streaming code is the server extension's own (RangeFileMixin).
It stops with the kernel process.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import hmac
import logging
import secrets
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from tornado import web
from tornado.httpserver import HTTPServer

from .hls import HLS_ROUTE, SegmentMixin
from .segments import segment_service
from .signing import ROUTE, load_secret
from .static_files import STATIC_DIR, STATIC_ROUTE, static_headers
from .streaming import RangeFileMixin, check_signature, descriptor_cache

T = TypeVar("T")


class KernelFileHandler(RangeFileMixin, web.RequestHandler):
    log = logging.getLogger("jupyter_rangevideo.kernel_server")

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.clear_header("Server")

    async def get(self, token: str, signature: str, path: str) -> None:
        await self.serve_signed(token, signature, path, include_body=True)

    async def head(self, token: str, signature: str, path: str) -> None:
        await self.serve_signed(token, signature, path, include_body=False)

    def check_token(self, token: str) -> None:
        if not hmac.compare_digest(token, self.settings["rangevideo_token"]):
            raise web.HTTPError(404, log_message="rangevideo: wrong kernel token")

    async def serve_signed(self, token: str, signature: str, path: str, include_body: bool) -> None:
        self.check_token(token)
        path = check_signature(signature, path, self.settings["rangevideo_secret"])
        await self.serve_file(path, include_body)

    def log_exception(
        self, typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(value, web.HTTPError):
            self.log.info("%s %s: %s", self.request.method, value.status_code, value.log_message)
        else:
            super().log_exception(typ, value, tb)


class KernelSegmentHandler(SegmentMixin, KernelFileHandler):
    """The same HLS playlists and segments as the server extension's, behind the kernel token.

    Unlike a <video src>, hls.js fetches these with XHR from the notebook's page, which is
    another origin (VS Code's webview, Colab's frame): without CORS it could not read them.
    The URL carries the kernel's token and the file's signature; no cookie is involved, so
    allowing any origin grants nothing to a page that does not already hold the URL.
    """

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Access-Control-Allow-Origin", "*")

    async def get(self, token: str, delivery: str, signature: str, path: str, name: str) -> None:  # type: ignore[override]
        self.check_token(token)
        await self.serve_hls(delivery, signature, path, name, include_body=True)

    async def head(self, token: str, delivery: str, signature: str, path: str, name: str) -> None:  # type: ignore[override]
        self.check_token(token)
        await self.serve_hls(delivery, signature, path, name, include_body=False)


class KernelStaticHandler(web.StaticFileHandler):
    """The package's static files (the vendored hls.js), behind the kernel's token too."""

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    def set_extra_headers(self, path: str) -> None:
        static_headers(self, path)

    async def get(self, token: str, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        if not hmac.compare_digest(token, self.settings["rangevideo_token"]):
            raise web.HTTPError(404, log_message="rangevideo: wrong kernel token")
        await super().get(path, include_body)

    async def head(self, token: str, path: str) -> None:  # type: ignore[override]
        await self.get(token, path, include_body=False)


class KernelServer:
    """A range server on 127.0.0.1 running on a daemon thread with its own event loop."""

    def __init__(self, chunk_size: int = 1024 * 1024, read_threads: int = 4, cache_dir: str = ""):
        self.token = secrets.token_hex(16)
        self.read_pool = ThreadPoolExecutor(read_threads, thread_name_prefix="rangevideo-kernel-read")
        # The server extension's defaults; the cache directory is shared with it.
        self.segments = segment_service(cache_dir, 2 * 1024**3, self.read_pool)
        self.app = web.Application(
            [
                (rf"/([0-9a-f]+)/{ROUTE}/([0-9a-f]+)/(.+)", KernelFileHandler),
                (rf"/([0-9a-f]+)/{HLS_ROUTE}", KernelSegmentHandler),
                (rf"/([0-9a-f]+)/{STATIC_ROUTE}/(.+)", KernelStaticHandler, {"path": STATIC_DIR}),
            ],
            rangevideo_segments=self.segments,
            rangevideo_token=self.token,
            rangevideo_secret=load_secret(),
            rangevideo_read_pool=self.read_pool,
            rangevideo_chunk_size=chunk_size,
            log_function=lambda handler: None,
        )
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Prefix for the paths url_for() returns: ``base_url + url_for(path)`` streams it."""
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on this server's loop (from any thread): the comm transport's
        requests use the same segment service and read pool as its HTTP routes."""
        if self._loop is None or self._loop.is_closed():
            raise RuntimeError("the kernel's server is not running")
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def start(self) -> KernelServer:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._server = HTTPServer(self.app)
                self._server.listen(0, address="127.0.0.1")
                self.port = next(iter(self._server._sockets.values())).getsockname()[1]
            except BaseException as e:  # noqa: BLE001 - not swallowed: start() re-raises it in the caller
                failure.append(e)
                started.set()
                return
            started.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="rangevideo-kernel-server", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or loop.is_closed():
            return

        def shutdown() -> None:
            if server is not None:
                server.stop()
            descriptor_cache(self.app.settings).close()
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        if thread is not None:
            thread.join(5)
        self.read_pool.shutdown(wait=False)
        self.segments.shutdown()


_lock = threading.Lock()
_server: KernelServer | None = None


def kernel_server() -> KernelServer:
    """The kernel's range server, started on first use and stopped when the kernel exits."""
    global _server
    with _lock:
        if _server is None:
            _server = KernelServer().start()
            atexit.register(_server.stop)
        return _server

"""Stores for the remote-source tests, all on 127.0.0.1: moto's S3 server and a small HTTP
server of our own that answers ranges (or not, or fails on purpose) and counts what it sends.

Objects of the HTTP server are real bytes made from their offsets, so a 1 GiB object costs
no memory or disk: byte i of a synthetic object is ``synthetic(i, i + 1)``.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError

CHUNK = 256 * 1024


def synthetic(start: int, stop: int) -> bytes:
    """Bytes [start, stop) of the synthetic object: each byte from its offset, no two
    mebibytes alike."""
    offsets = np.arange(start, stop, dtype=np.uint64)
    return ((offsets * 7 + (offsets >> np.uint64(20)) * 13) % np.uint64(251)).astype(np.uint8).tobytes()


@dataclass
class StoredObject:
    size: int
    read: Callable[[int, int], bytes]  # (start, stop) -> bytes
    etag: str = '"v1"'
    fail_with: int = 0  # a status every request gets from now on (0: none)


@dataclass
class Counts:
    sent: collections.Counter = field(default_factory=collections.Counter)  # bytes sent, by name
    requests: collections.Counter = field(default_factory=collections.Counter)  # by (mode, name)


class _ObjectHandler(web.RequestHandler):
    """GET and HEAD of /{mode}/{name}: mode "range" answers ranges; "norange" sends whole
    bodies; "status-NNN" always answers NNN; "flaky-N" answers 503 to the first N requests;
    "reset" ends every body half way; "stall" sends headers and then nothing for a while.
    /control/{status}/{name} makes every later request for the object answer that status (0:
    serve it again), for a kernel to break an object it has shown."""

    def initialize(self, server: RangeServer) -> None:
        self.server = server

    async def head(self, mode: str, name: str) -> None:
        await self.get(mode, name, body=False)

    async def get(self, mode: str, name: str, body: bool = True) -> None:
        counts = self.server.counts
        counts.requests[(mode, name)] += 1
        if mode == "control":
            status, _, name = name.partition("/")
            self.server.objects[name].fail_with = int(status)
            return
        stored = self.server.objects.get(name)
        if stored is None:
            raise web.HTTPError(404)
        if stored.fail_with:
            raise web.HTTPError(stored.fail_with)
        if mode.startswith("status-"):
            raise web.HTTPError(int(mode.removeprefix("status-")))
        if mode.startswith("flaky-") and counts.requests[(mode, name)] <= int(mode.removeprefix("flaky-")):
            raise web.HTTPError(503)
        start, stop = 0, stored.size
        header = self.request.headers.get("Range")
        if header and mode != "norange" and header.startswith("bytes="):
            first, _, last = header.removeprefix("bytes=").partition("-")
            start = int(first)
            stop = min(stored.size, int(last) + 1) if last else stored.size
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{stop - 1}/{stored.size}")
        self.set_header("Content-Length", str(stop - start))
        self.set_header("Content-Type", "video/mp4")
        self.set_header("ETag", stored.etag)
        if mode != "norange":
            self.set_header("Accept-Ranges", "bytes")
        if not body:
            return
        await self._body(mode, name, stored, start, stop)

    async def _body(self, mode: str, name: str, stored: StoredObject, start: int, stop: int) -> None:
        if mode == "stall":
            self.flush()
            await asyncio.sleep(self.server.stall_seconds)
            self.request.connection.close()
            return
        end = start + (stop - start) // 2 if mode == "reset" else stop
        position = start
        try:
            while position < end:
                data = stored.read(position, min(end, position + CHUNK))
                self.write(data)
                await self.flush()
                self.server.counts.sent[name] += len(data)
                position += len(data)
        except StreamClosedError:
            return
        if mode == "reset":
            self.request.connection.close()


class RangeServer:
    """A tornado HTTP server on 127.0.0.1, on a thread of its own."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.counts = Counts()
        self.stall_seconds = 30.0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: HTTPServer | None = None

    def url(self, name: str, mode: str = "range") -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/{name}"

    def add(self, name: str, data: bytes | None = None, size: int = 0, etag: str = '"v1"') -> None:
        if data is not None:
            self.objects[name] = StoredObject(len(data), lambda a, b: data[a:b], etag)
        else:
            self.objects[name] = StoredObject(size, synthetic, etag)

    def add_file(self, name: str, path: str | os.PathLike[str], etag: str = '"v1"') -> None:
        """Serve a local file's bytes (read at each request, never held in memory)."""
        fd = os.open(path, os.O_RDONLY)
        self.objects[name] = StoredObject(os.fstat(fd).st_size, lambda a, b: os.pread(fd, b - a, a), etag)

    def start(self) -> RangeServer:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application([(r"/([a-z0-9-]+)/(.+)", _ObjectHandler, {"server": self})])
            self._server = HTTPServer(app)
            self._server.listen(0, address="127.0.0.1")
            self.port = next(iter(self._server._sockets.values())).getsockname()[1]
            started.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="test-range-server", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        def shutdown() -> None:
            if self._server is not None:
                self._server.stop()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(10)


@dataclass
class PresignedRequest:
    at: float  # time.monotonic()
    method: str
    range: str
    expired: bool
    sent: int = 0  # body bytes the store handed to the server socket


class PresignedRules:
    """WSGI middleware before moto's app: what S3 does with a presigned URL and moto does not
    (past its X-Amz-Date plus X-Amz-Expires, 403 AccessDenied "Request has expired"), and a log
    of the presigned requests, which tests count (a browser's, sent there by a redirect)."""

    EXPIRED = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    )

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.requests: list[PresignedRequest] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Signature" not in query:
            return self.app(environ, start_response)
        signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        expired = datetime.now(timezone.utc) > signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))
        method, span = environ["REQUEST_METHOD"], environ.get("HTTP_RANGE", "")
        request = PresignedRequest(time.monotonic(), method, span, expired)
        self.requests.append(request)
        if not expired:
            return self._counted(self.app(environ, start_response), request)
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(self.EXPIRED)))]
        start_response("403 Forbidden", headers)
        return [self.EXPIRED]

    @staticmethod
    def _counted(body: Any, request: PresignedRequest) -> Any:
        try:
            for chunk in body:
                request.sent += len(chunk)
                yield chunk
        finally:
            getattr(body, "close", lambda: None)()


class MotoS3:
    """moto's S3 API on 127.0.0.1 (in-process, threaded), with its endpoint and test keys, behind
    PresignedRules (``presigned`` lists the requests with presigned URLs)."""

    KEY, SECRET = "testing-key", "testing-secret"

    def __init__(self) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        rules = PresignedRules(DomainDispatcherApplication(create_backend_app))
        self.presigned = rules.requests

        class Server(ThreadedMotoServer):
            def _server_entry(self) -> None:  # moto's own, with the rules before its app
                self._server = make_server(
                    self._ip_address, self._port, rules, True, request_handler=MotoRequestHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = Server(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def start(self) -> MotoS3:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def options(self, **extra: object) -> dict[str, object]:
        """storage_options that reach this server with the test keys."""
        return {"endpoint_url": self.endpoint, "key": self.KEY, "secret": self.SECRET, **extra}

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.KEY,
            aws_secret_access_key=self.SECRET,
            region_name="us-east-1",
        )

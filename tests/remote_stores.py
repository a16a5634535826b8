"""Stores for the remote-source tests, all on 127.0.0.1: moto's S3 server, Azurite (Azure Blob
Storage, the npm package pinned in tests/tools), gcp-storage-emulator (Google Cloud Storage's
JSON API, from PyPI) and a small HTTP server of our own that answers ranges (or not, or fails on
purpose) and counts what it sends.

The three object stores share one face for the tests that run over all of them: ``name``,
``url(key)``, ``options()`` (the storage_options a user passes), ``put(key, data)``,
``secrets`` (what must never reach a page) and ``refused_options()`` (wrong credentials, for a
store that checks them).

Objects of the HTTP server are real bytes made from their offsets, so a 1 GiB object costs
no memory or disk: byte i of a synthetic object is ``synthetic(i, i + 1)``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import numpy as np
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError

# gcsfs (2026.x) asks GCS's Storage Control API, over gRPC, for each bucket's layout before it
# reads; no emulator answers it, and it gives up after 60 s. Set before any gcsfs import, and
# inherited by the servers and kernels the browser tests start.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

CHUNK = 256 * 1024
BUCKET = "videos"
TOOLS = Path(__file__).parent / "tools"
# Seconds a store may take to start on a loaded machine before its fixture fails.
START_SECONDS = 90


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
    bodies; "status-NNN" always answers NNN, for any name
    (with a JSON error body, so it stands for a cloud API that refuses too); "flaky-N" answers 503 to the first N requests;
    "reset" ends every body half way; "stall" sends headers and then nothing for a while.
    /control/{status}/{name} makes every later request for the object answer that status (0:
    serve it again), for a kernel to break an object it has shown."""

    def initialize(self, server: RangeServer) -> None:
        self.server = server

    def write_error(self, status_code: int, **kwargs: object) -> None:
        # As Google's JSON API words a refusal (gcsfs reads "error.message").
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps({"error": {"code": status_code, "message": f"the test server answers {status_code}"}})
        )

    async def head(self, mode: str, name: str) -> None:
        await self.get(mode, name, body=False)

    async def get(self, mode: str, name: str, body: bool = True) -> None:
        counts = self.server.counts
        counts.requests[(mode, name)] += 1
        if mode == "control":
            status, _, name = name.partition("/")
            self.server.objects[name].fail_with = int(status)
            return
        if mode.startswith("status-"):
            raise web.HTTPError(int(mode.removeprefix("status-")))
        stored = self.server.objects.get(name)
        if stored is None:
            raise web.HTTPError(404)
        if stored.fail_with:
            raise web.HTTPError(stored.fail_with)
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

        async def shutdown() -> None:
            if self._server is not None:
                self._server.stop()
                # Connections that clients' pools keep alive are closed here, not left to the
                # garbage collector (an unclosed socket's warning then fails whichever test runs).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._server.close_all_connections(), 5)
            for task in asyncio.all_tasks(loop):
                if task is not asyncio.current_task():
                    task.cancel()
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(shutdown()))
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
    PresignedRules (``presigned`` lists the requests with presigned URLs). moto checks no
    signature: a wrong key is not refused."""

    name = "s3"
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
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.KEY, self.SECRET, self.endpoint)

    def url(self, key: str, bucket: str = BUCKET) -> str:
        return f"s3://{bucket}/{key}"

    def options(self, **extra: object) -> dict[str, object]:
        """storage_options that reach this server with the test keys."""
        return {"endpoint_url": self.endpoint, "key": self.KEY, "secret": self.SECRET, **extra}

    def refused_options(self) -> dict[str, object] | None:
        return None

    def put(self, key: str, data: bytes) -> None:
        self.client().put_object(Bucket=BUCKET, Key=key, Body=data)

    def delete(self, key: str) -> None:
        self.client().delete_object(Bucket=BUCKET, Key=key)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.KEY,
            aws_secret_access_key=self.SECRET,
            region_name="us-east-1",
        )


class Azurite:
    """Azure Blob Storage's emulator, Azurite (npm, pinned in tests/tools/package-lock.json;
    ``npm ci`` there, as scripts/test.sh does), in a process of its own on 127.0.0.1, in
    memory, with its well-known development account. It checks the account key's signature on
    every request, so a wrong key is refused as Azure refuses it."""

    name = "az"
    ACCOUNT = "devstoreaccount1"
    KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    WRONG_KEY = base64.b64encode(b"not the account key of devstoreaccount1, 64 bytes long........").decode()

    def __init__(self) -> None:
        self.endpoint = ""
        self._folder = ""
        self._process: subprocess.Popen | None = None

    def start(self) -> Azurite:
        program = TOOLS / "node_modules" / ".bin" / "azurite-blob"
        if not program.exists():
            raise RuntimeError(f"Azurite is not installed: run `npm ci` in {TOOLS} (scripts/test.sh does)")
        self._folder = tempfile.mkdtemp(prefix="azurite-")
        log = Path(self._folder) / "azurite.log"
        with open(log, "wb") as out:
            self._process = subprocess.Popen(
                [str(program), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                 "--silent", "--skipApiVersionCheck", "--disableTelemetry"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self._folder,
            )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self._process.poll() is None:
            found = re.search(r"listens on (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
            if found:
                self.endpoint = f"{found.group(1)}/{self.ACCOUNT}"
                self.service().create_container(BUCKET)
                return self
            time.sleep(0.05)
        text = log.read_text(errors="replace")
        exited = self._process.poll()
        self.stop()
        how = f"exited ({exited})" if exited is not None else f"did not start in {START_SECONDS} s"
        raise RuntimeError(f"Azurite {how}: {text[-2000:]}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
            self._process = None
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.KEY, self.ACCOUNT, self.endpoint, "AccountKey")

    def connection_string(self, key: str = KEY) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.ACCOUNT};AccountKey={key};"
            f"BlobEndpoint={self.endpoint};"
        )

    def url(self, key: str, bucket: str = BUCKET) -> str:
        return f"az://{bucket}/{key}"

    def options(self, **extra: object) -> dict[str, object]:
        """storage_options that reach Azurite: its connection string (an account name and key
        would name https://ACCOUNT.blob.core.windows.net)."""
        return {"connection_string": self.connection_string(), **extra}

    def refused_options(self) -> dict[str, object] | None:
        return {"connection_string": self.connection_string(self.WRONG_KEY)}

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())

    def put(self, key: str, data: bytes) -> None:
        self.service().get_blob_client(BUCKET, key).upload_blob(data, overwrite=True)

    def delete(self, key: str) -> None:
        self.service().get_blob_client(BUCKET, key).delete_blob()


class GcsEmulator:
    """Google Cloud Storage's JSON API as gcp-storage-emulator (PyPI, pinned in the test extra)
    serves it: in memory, on a thread, on 127.0.0.1; gcsfs reaches it with ``endpoint_url``
    and ``token="anon"``. It answers ranges and gives each upload a new generation, but checks
    no credentials and ignores a download's ``generation=`` (it sends the live object)."""

    name = "gs"
    PROJECT = "test-project"

    def __init__(self) -> None:
        self.endpoint = ""
        self._server = None

    def start(self) -> GcsEmulator:
        from gcp_storage_emulator.server import create_server

        self._server = create_server("127.0.0.1", 0, in_memory=True, default_bucket=BUCKET)
        api = self._server._api  # its thread: started here to bound the wait (start() waits forever)
        api.daemon = True
        api.start()
        if not api.is_running.wait(START_SECONDS):
            raise RuntimeError(f"gcp-storage-emulator did not start in {START_SECONDS} s")
        self.endpoint = f"http://127.0.0.1:{api._httpd.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.endpoint,)

    def url(self, key: str, bucket: str = BUCKET) -> str:
        return f"gs://{bucket}/{key}"

    def options(self, **extra: object) -> dict[str, object]:
        return {"endpoint_url": self.endpoint, "token": "anon", "project": self.PROJECT, **extra}

    def refused_options(self) -> dict[str, object] | None:
        return None

    def _call(self, method: str, path: str, data: bytes | None = None) -> None:
        request = urllib.request.Request(f"{self.endpoint}{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    def put(self, key: str, data: bytes) -> None:
        """A media upload of the JSON API: a new generation of the object."""
        self._call(
            "POST", f"/upload/storage/v1/b/{BUCKET}/o?uploadType=media&name={quote(key, safe='')}", data
        )

    def delete(self, key: str) -> None:
        self._call("DELETE", f"/storage/v1/b/{BUCKET}/o/{quote(key, safe='')}")


STORES = {"s3": MotoS3, "az": Azurite, "gs": GcsEmulator}

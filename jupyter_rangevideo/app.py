"""The jupyter_server extension: its configuration and its one route."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int, Unicode

from .handlers import STATIC_DIR, STATIC_ROUTE, FileStreamHandler, StaticHandler
from .signing import ROUTE, load_secret


class RangeVideoApp(ExtensionApp):
    """Streams shared local files with HTTP Range requests, reading off the event loop."""

    name = "jupyter_rangevideo"

    chunk_size = Int(
        1024 * 1024,
        help="""Bytes read and written at a time when a response is copied through the
        server (over TLS, or where os.sendfile is missing); memory held per connection is
        then about two chunks, whatever the client's speed. Plain HTTP responses are sent
        with zero-copy os.sendfile and hold no buffer.""",
    ).tag(config=True)

    read_threads = Int(
        8,
        help="""Threads that open, read and sendfile files, shared by all connections.
        Disk I/O never runs on the server's event loop; this bounds how much runs at once.""",
    ).tag(config=True)

    secret_file = Unicode(
        "",
        help="""File holding the secret that signs file URLs (created with mode 0600 if
        missing). Empty means jupyter_rangevideo_secret in the Jupyter runtime directory,
        where kernels of the same user find it too.""",
    ).tag(config=True)

    def initialize_settings(self):
        from pathlib import Path

        secret = load_secret(Path(self.secret_file) if self.secret_file else None)
        self.read_pool = ThreadPoolExecutor(self.read_threads, thread_name_prefix="rangevideo-read")
        self.settings.update(
            rangevideo_secret=secret,
            rangevideo_chunk_size=max(self.chunk_size, 4096),
            rangevideo_read_pool=self.read_pool,
        )

    def initialize_handlers(self):
        # ExtensionApp prefixes the server's base_url.
        self.handlers.append((rf"/{ROUTE}/([0-9a-f]+)/(.+)", FileStreamHandler))
        self.handlers.append((rf"/{STATIC_ROUTE}/(.+)", StaticHandler, {"path": STATIC_DIR}))

    async def stop_extension(self):
        # Reads already queued finish (each is one chunk); responses then end at once.
        self.read_pool.shutdown(wait=False)

"""The jupyter_server extension: its configuration and its routes."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Unicode

from . import remote
from .fdcache import DescriptorCache
from .handlers import FileStreamHandler, SegmentHandler, StaticHandler
from .hls import HLS_ROUTE
from .segment_plan import HEAVY_PIXELS_PER_SECOND, EncodeSettings
from .segments import segment_service
from .signing import ROUTE, load_secret
from .static_files import STATIC_DIR, STATIC_ROUTE
from .streaming import open_regular_file

OFFLINE_PREPROCESSOR = "jupyter_rangevideo.nbexporter.OfflinePlayersPreprocessor"


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

    cache_dir = Unicode(
        "",
        help="""Directory of the on-disk cache of remuxed and transcoded segments. Empty means
        jupyter-rangevideo in the user's cache directory ($XDG_CACHE_HOME, else ~/.cache).
        Several servers and kernels may share it.""",
    ).tag(config=True)

    cache_size = Int(
        2 * 1024**3,
        help="""Most bytes the segment cache holds; the least recently used segments are
        removed past it. A 1080p transcoded minute is about 20-60 MB.""",
    ).tag(config=True)

    transcode_workers = Int(
        2,
        help="""Segments made at once (remux or transcode), by threads at a lower CPU priority
        than the server's event loop. Each encode uses several cores already; more workers
        serve more players at once, not one player faster.""",
    ).tag(config=True)

    prefetch_segments = Int(
        2,
        help="""Segments made ahead of the last one a player asked for, so playback goes on
        without waiting. Queued prefetches are dropped when the player seeks elsewhere.""",
    ).tag(config=True)

    worker_nice = Int(
        10,
        help="""How much lower than the server's own the CPU priority of segment work is (a
        nice increment, 0-19, Linux). The event loop then keeps answering while encodes run;
        0 lets encodes compete as equals with everything else, kernels included.""",
    ).tag(config=True)

    max_height = Int(
        1080,
        help="""Tallest picture a transcode makes, in pixels: taller sources are scaled down
        (aspect kept); smaller ones keep their size.""",
    ).tag(config=True)

    crf = Int(
        23,
        help="""Quality of transcoded video: libx264's constant rate factor (0-51; lower is
        better and bigger; 18 looks transparent, 28 is visibly soft).""",
    ).tag(config=True)

    preset = Unicode(
        "ultrafast",
        help="""libx264 preset for transcoding (ultrafast, superfast, veryfast, faster, fast,
        medium ...). ultrafast costs about half the CPU time of veryfast per segment, so a
        seek waits about half as long; its segments are larger, which matters little when
        the browser and the server share a machine or a LAN. Slower presets suit a server
        with cores to spare and a slow link.""",
    ).tag(config=True)

    heavy_pixels_per_second = Float(
        HEAVY_PIXELS_PER_SECOND,
        help="""Sources of at least this many pixels a second (width x height x frame rate;
        the default is 4K at 60 fps) are transcoded in eighth-second segments instead of
        one or two seconds, so that the first frame and a seek wait for fewer decoded
        frames. Lower it on a slow machine, raise it (or set inf) on a fast one.""",
    ).tag(config=True)

    remote_cache_dir = Unicode(
        "",
        help="""Directory of the on-disk cache of remote objects' blocks (s3://, gs://, az://,
        https:// videos). Empty means jupyter-rangevideo/blocks in the user's cache directory.
        Servers of one team may share it on a shared volume: blocks are keyed by the object's
        URL and version, and written to a temporary file renamed into place.""",
    ).tag(config=True)

    remote_cache_size = Int(
        4 * 1024**3,
        help="""Most bytes the remote block cache holds; the least recently used blocks are
        removed past it.""",
    ).tag(config=True)

    remote_block_size = Int(
        2 * 1024 * 1024,
        help="""Bytes fetched from the store at a time (one ranged read). A seek costs about one
        block; larger blocks mean fewer requests for long reads and more bytes per seek.""",
    ).tag(config=True)

    remote_threads = Int(
        8,
        help="""Threads that read remote objects, shared by all connections (apart from the
        local reads' threads, so a slow store never holds up local files).""",
    ).tag(config=True)

    def initialize_settings(self) -> None:
        from pathlib import Path

        secret = load_secret(Path(self.secret_file) if self.secret_file else None)
        self.read_pool = ThreadPoolExecutor(self.read_threads, thread_name_prefix="rangevideo-read")
        self.remote_pool = ThreadPoolExecutor(
            max(1, self.remote_threads), thread_name_prefix="rangevideo-remote"
        )
        remote.configure(
            self.remote_cache_dir, self.remote_cache_size, max(4096, self.remote_block_size), publish=True
        )
        self.fd_cache = DescriptorCache(open_regular_file)
        self.segments = segment_service(
            cache_dir=self.cache_dir,
            cache_size=self.cache_size,
            io_pool=self.read_pool,
            workers=self.transcode_workers,
            prefetch=self.prefetch_segments,
            settings=EncodeSettings(
                max_height=self.max_height,
                crf=self.crf,
                preset=self.preset,
                heavy_pixels_per_second=self.heavy_pixels_per_second,
            ),
            nice=self.worker_nice,
        )
        # PyAV (FFmpeg's libraries) takes a while to import: do it now, off the event loop,
        # rather than inside the first playlist request.
        self.read_pool.submit(importlib.import_module, "av")
        self.settings.update(
            rangevideo_segments=self.segments,
            rangevideo_secret=secret,
            rangevideo_chunk_size=max(self.chunk_size, 4096),
            rangevideo_read_pool=self.read_pool,
            rangevideo_fd_cache=self.fd_cache,
            rangevideo_remote_pool=self.remote_pool,
        )
        # The server's own HTML export (JupyterLab's "Save and Export Notebook As > HTML") makes
        # its exporters from the server's config, which has not read nbconvert's config file:
        # the players' preprocessor goes there too, unless the user has set a list.
        if self.serverapp is not None:
            exporter = self.serverapp.config.HTMLExporter
            if "preprocessors" not in exporter:
                exporter.preprocessors = [OFFLINE_PREPROCESSOR]

    def initialize_handlers(self) -> None:
        # ExtensionApp prefixes the server's base_url.
        self.handlers.append((rf"/{ROUTE}/([0-9a-f]+)/(.+)", FileStreamHandler))
        self.handlers.append((rf"/{HLS_ROUTE}", SegmentHandler))
        self.handlers.append((rf"/{STATIC_ROUTE}/(.+)", StaticHandler, {"path": STATIC_DIR}))

    async def stop_extension(self) -> None:
        # Reads already queued finish (each is one chunk); responses then end at once.
        self.read_pool.shutdown(wait=False)
        self.remote_pool.shutdown(wait=False, cancel_futures=True)
        self.fd_cache.close()
        self.segments.shutdown()

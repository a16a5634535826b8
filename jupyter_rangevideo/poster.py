"""A still frame of a video, for renderers that cannot reach the file (GitHub, nbviewer).

A small JPEG as a data URL: a few KB in the notebook, made at ``show()`` time by decoding
one frame, so it costs the same for a 10 MB and a 10 GB file. PyAV is optional; without
it, or for a file it cannot decode, there is no poster and the file's name stands alone.
"""

from __future__ import annotations

import base64
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction

from .priority import lower_thread_priority
from .rotation import Upright, displayed_size, stream_rotation

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def poster_later(path: str, at: float = 0.0) -> Future[str | None]:
    """:func:`poster_data_url` in a background thread at background priority, one poster at a
    time: PyAV decodes without the GIL, so ``show()`` probes the file while its poster is made."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                1, thread_name_prefix="rangevideo-poster", initializer=lower_thread_priority
            )
    return _pool.submit(poster_data_url, path, at)


def poster_data_url(path: str, at: float = 0.0, width: int = 160) -> str | None:
    """A ``data:image/jpeg`` URL of the frame at ``at`` seconds, ``width`` pixels wide, or None."""
    try:
        import av
    except ImportError:
        return None
    try:
        from .remote_registry import readable

        with av.open(readable(path), "r", buffer_size=1024 * 1024) as container:
            stream = container.streams.video[0]
            rotation = stream_rotation(path, container, stream)
            if at > 0 and stream.time_base:
                container.seek(int(at / stream.time_base), stream=stream)
            frame = next(container.decode(stream))
        shown_width, shown_height = displayed_size(frame.width, frame.height, rotation)
        height = max(2, round(shown_height * width / shown_width / 2) * 2)
        encoder = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
        encoder.time_base = Fraction(1, 25)
        encoder.options = {"qmin": "6", "qmax": "16"}  # about 2-4 KB as base64
        stored = displayed_size(width, height, rotation)  # scaled as stored, then turned upright
        small = Upright(av, stored, rotation)(frame).reformat(format="yuvj420p")
        jpeg = b"".join(bytes(packet) for packet in [*encoder.encode(small), *encoder.encode(None)])
    except Exception:  # noqa: BLE001 - any file PyAV cannot read or decode: a poster is a nicety, never an error
        return None
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")

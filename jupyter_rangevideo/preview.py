"""A short animated preview (WebP) of a clip, for pages that run no script (GitHub, nbviewer).

Made from the exported clip (already short), with PyAV's libwebp_anim: a few seconds at a
low frame rate and size, shrunk until it fits under a size cap.
"""

from __future__ import annotations

import base64
import html
import os
import re
import tempfile
from fractions import Fraction

from .rotation import Upright, displayed_size, stream_rotation

PREVIEW_CAP = 300_000  # bytes of WebP, before base64
_ATTEMPTS = ((320, 8, 3.0), (240, 6, 3.0), (160, 5, 2.0), (120, 4, 2.0))  # width, fps, seconds


def preview_bytes(clip: str, cap: int = PREVIEW_CAP) -> bytes | None:
    """An animated WebP of the clip's first seconds under ``cap`` bytes, or None."""
    for width, fps, seconds in _ATTEMPTS:
        data = _webp(clip, width, fps, seconds)
        if data is not None and len(data) <= cap:
            return data
    return None


def preview_data_url(clip: str, cap: int = PREVIEW_CAP) -> str | None:
    data = preview_bytes(clip, cap)
    return None if data is None else "data:image/webp;base64," + base64.b64encode(data).decode("ascii")


def _webp(clip: str, width: int, fps: int, seconds: float) -> bytes | None:
    import av

    handle, path = tempfile.mkstemp(suffix=".webp")
    os.close(handle)
    try:
        with av.open(clip) as source:
            if not source.streams.video:
                return None
            stream = source.streams.video[0]
            stream.thread_type = "AUTO"
            rotation = stream_rotation(clip, source, stream)
            shown = displayed_size(stream.codec_context.width, stream.codec_context.height, rotation)
            height = max(2, round(shown[1] * width / shown[0] / 2) * 2)
            turn = Upright(av, displayed_size(width, height, rotation), rotation)
            with av.open(path, "w", format="webp") as output:
                encoder = output.add_stream("libwebp_anim", rate=fps)
                encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
                encoder.options = {"loop": "0", "quality": "40", "compression_level": "4"}
                encoder.codec_context.time_base = Fraction(1, fps)
                written = 0
                for frame in source.decode(stream):
                    if frame.time is None or frame.time + 1e-6 < written / fps:
                        continue
                    if written >= seconds * fps:
                        break
                    small = turn(frame)
                    small.pts, small.time_base = written, Fraction(1, fps)
                    output.mux(encoder.encode(small))
                    written += 1
                output.mux(encoder.encode(None))
        with open(path, "rb") as f:
            return f.read()
    except (OSError, ValueError):  # a preview is a nicety: no preview rather than a failed export
        return None
    finally:
        os.unlink(path)


_IMG = re.compile(r'<img src="data:image/[^"]*"[^>]*>')


def preview_html(fallback: str, url: str, name: str) -> str:
    """The player's saved text/html with the animated preview in place of its still frame."""
    img = f'<img src="{html.escape(url, quote=True)}" alt="Preview of {html.escape(name, quote=True)}" style="max-width:100%">'
    if _IMG.search(fallback):
        return _IMG.sub(lambda _: img, fallback, count=1)
    return f'<div class="jp-RangeVideo-fallback">{img}</div>' + fallback

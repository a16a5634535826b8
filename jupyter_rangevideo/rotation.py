"""Which way up a video is shown: the container's display rotation, and pictures turned upright.

Phones store a portrait recording as landscape pictures and a *display matrix* in the
container (MP4/MOV ``tkhd``) saying how to turn them. Browsers honour it for a file they
play as it is; everything else here turns the pixels itself.

A rotation is the **clockwise** turn, in degrees (0, 90, 180 or 270), that makes the stored
picture upright: an iPhone's portrait clip is 90 (ffprobe prints "rotation of -90.00
degrees": FFmpeg counts its display matrices counter-clockwise, as does PyAV's
``VideoFrame.rotation`` and ``VideoStream.set_display_rotation``). Read from:

- the ``tkhd`` matrix of the stream's track (MP4, MOV), in pure Python: the probe decodes
  no frame, and PyAV reads no stream-level side data;
- else the legacy ``rotate`` stream tag, clockwise, as FFmpeg up to 4.x reported the matrix
  (Debian's ffmpeg 5.1 *writes* ``-metadata:s:v rotate=270`` as a 90° clockwise matrix, and
  writes none at all into Matroska, which has no display matrix that FFmpeg reads or writes;
  older tools wrote a ``ROTATE`` tag there, which browsers ignore).

Browsers turn only what the MP4/MOV matrix says: a file rotated by a tag is transcoded.

"Source pixels" everywhere in the package (``p.video_width``, ``p.snapshot()``, overlays and
clicks) mean the upright picture a person sees.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .containers.base import read_at
from .containers.mp4 import Box, children, find, iter_boxes

if TYPE_CHECKING:
    import numpy as np

ROTATIONS = (0, 90, 180, 270)
_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
# A moov box larger than this is not read for its matrices (an index of many hours).
MAX_MOOV_BYTES = 64 * 2**20


def from_matrix(a: float, b: float, c: float, d: float) -> int:
    """The clockwise rotation of a display matrix's 2x2 part (``tkhd``'s a, b, c, d, in any
    fixed-point scale), to the nearest quarter turn; a mirrored matrix keeps its rotation."""
    if a == b == 0:
        return 0
    return round(math.degrees(math.atan2(b, a)) / 90) % 4 * 90


def from_tag(value: str | None) -> int:
    """The legacy ``rotate`` tag (clockwise degrees) as a rotation; 0 for none or nonsense."""
    try:
        return round(float(value or 0) / 90) % 4 * 90
    except ValueError:
        return 0


def stream_rotation(path: str, container: Any, stream: Any) -> int:
    """The clockwise rotation of ``stream`` (a PyAV video stream of ``container``, ``path``)."""
    if container.format.name == _MP4:
        found = _mp4_rotation(path, int(stream.id))
        if found is not None:
            return found
    tags = {key.lower(): value for key, value in (stream.metadata or {}).items()}  # Matroska: ROTATE
    return from_tag(tags.get("rotate"))


def is_turned_mp4(path: str) -> bool:
    """Whether any track of the MP4/MOV file at ``path`` has a display rotation (the header
    reader then leaves the file to PyAV's probe, which knows which track is the video)."""
    return bool(_mp4_rotation(path, None))


def _mp4_rotation(path: str, track_id: int | None) -> int | None:
    """The rotation in the ``tkhd`` of track ``track_id`` (None: the first track that turns), or
    None where it cannot be read."""
    try:
        with open(path, "rb") as file:
            file.seek(0, 2)
            size = file.tell()
            moov = next((box for box in iter_boxes(file, 0, size) if box.kind == "moov"), None)
            if moov is None or moov.end > size or moov.end - moov.start > MAX_MOOV_BYTES:
                return None
            for trak in children(file, moov):
                if trak.kind != "trak":
                    continue
                tkhd = find(file, trak, ("tkhd",))
                if tkhd is not None:
                    found = _tkhd_rotation(file, tkhd, track_id)
                    if found is not None and (track_id is not None or found):
                        return found
    except (OSError, struct.error):
        return None
    return None


def _tkhd_rotation(file: Any, tkhd: Box, track_id: int | None) -> int | None:
    data = read_at(file, tkhd.start + tkhd.header, min(tkhd.end - tkhd.start - tkhd.header, 128))
    wide = data[:1] == b"\x01"  # version 1: 64-bit times and duration
    track = struct.unpack(">I", data[20:24] if wide else data[12:16])[0]
    if track_id is not None and track != track_id:
        return None
    at = 52 if wide else 40  # the matrix: a, b, u, c, d, v, x, y, w
    a, b, _, c, d = struct.unpack(">iiiii", data[at : at + 20])
    return from_matrix(a, b, c, d)


def displayed_size(width: int, height: int, rotation: int) -> tuple[int, int]:
    """A stored picture's size as shown: sides swapped by a quarter turn."""
    return (height, width) if rotation in (90, 270) else (width, height)


def upright(picture: np.ndarray, rotation: int) -> np.ndarray:
    """An H×W(×C) array turned ``rotation`` degrees clockwise (a contiguous copy when turned)."""
    if not rotation:
        return picture
    import numpy as np  # only here: show() of an unrotated video imports no numpy

    return np.ascontiguousarray(np.rot90(picture, k=-(rotation // 90)))


# FFmpeg filters that turn a picture clockwise by a quarter turn, a half, three quarters.
_TURNS = {
    90: [("transpose", "dir=clock")],
    180: [("hflip", ""), ("vflip", "")],
    270: [("transpose", "dir=cclock")],
}


class Upright:
    """Decoded frames scaled to ``size`` (width, height as stored) and turned ``rotation`` degrees
    clockwise, as yuv420p, in one FFmpeg filter graph: about 4 ms for a 4K frame on one core, where
    swscale then numpy's turn of the planes took 11 ms. The graph is made for the first frame's
    size and format, and again should they change. The frame that comes out has the graph's time
    base: the caller sets its pts and time base."""

    def __init__(self, av: Any, size: tuple[int, int], rotation: int) -> None:
        self._av, self._size, self._rotation = av, size, rotation
        self._graph: Any = None
        self._input: tuple[int, int, str] | None = None

    def __call__(self, frame: Any) -> Any:
        shape = (frame.width, frame.height, frame.format.name)
        if not self._rotation and shape == (*self._size, "yuv420p"):
            return frame  # nothing to do
        if shape != self._input:
            self._graph, self._input = self._build(frame), shape
        self._graph.push(frame)
        return self._graph.pull()

    def _build(self, frame: Any) -> Any:
        graph = self._av.filter.Graph()
        width, height = self._size
        chain = [
            graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format,
                time_base=frame.time_base or Fraction(1, 90000),
            ),
            graph.add("scale", f"w={width}:h={height}"),
            graph.add("format", "yuv420p"),
            *(graph.add(name, args) for name, args in _TURNS.get(self._rotation, [])),
            graph.add("buffersink"),
        ]
        for before, after in zip(chain, chain[1:]):
            before.link_to(after)
        graph.configure()
        return graph

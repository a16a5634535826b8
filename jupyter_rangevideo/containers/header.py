"""What an MP4/MOV or Matroska/WebM header says about its streams, in pure Python.

``containers.read_header`` reads the codecs (as FFmpeg names them: ``h264``, ``vp9``, ``aac``, ...),
the duration, the frame rate and the picture's size from the container's header (MP4's
``moov``, wherever it lies, and its fragments' headers; Matroska's ``Info`` and ``Tracks``)
in a few small reads, without PyAV: enough to decide that a browser plays the file as it is
before FFmpeg has been loaded. It returns None for anything it does not recognise or cannot
read whole (another container, a header cut off, a codec tag it does not know): PyAV then
judges the file.
"""

from __future__ import annotations

from dataclasses import dataclass

# FFmpeg's demuxer names, as the probe reports them.
MP4_DEMUXER = "mov,mp4,m4a,3gp,3g2,mj2"
MATROSKA_DEMUXER = "matroska,webm"


@dataclass(frozen=True)
class StreamHeader:
    kind: str  # "video" or "audio"
    codec: str  # FFmpeg's codec name
    width: int = 0
    height: int = 0
    fps: float | None = None  # the average frame rate, where the header gives it
    frame_count: int = 0  # 0 where the header does not count them
    sample_rate: int = 0
    channels: int = 0


@dataclass(frozen=True)
class Header:
    container: str  # FFmpeg's demuxer name
    duration: float | None  # seconds
    video: StreamHeader | None
    audio: StreamHeader | None


__all__ = ["MATROSKA_DEMUXER", "MP4_DEMUXER", "Header", "StreamHeader"]

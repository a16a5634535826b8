"""1080p ten-minute benchmark sources, made cheaply: a 10 s clip encoded once, its packets
repeated 60 times (stream copy, as sample.make_large does), timestamps continuing.

    python benchmarks/segment_sources.py      # writes benchmarks/data/seg-*.{mp4,avi}, once
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import av

from jupyter_rangevideo.sample import write_sample

DATA = Path(__file__).parent / "data"
CLIP_SECONDS, COPIES, FPS, SIZE = 10, 60, 25, (1920, 1080)
SOURCES = {  # name: (codec, suffix)
    "h264-mp4": ("h264", ".mp4"),
    "h264-avi": ("h264", ".avi"),
    "hevc-mp4": ("hevc", ".mp4"),
    "mjpeg-avi": ("mjpeg", ".avi"),
}


def repeat(clip: Path, out: Path, copies: int) -> Path:
    """``copies`` back-to-back copies of ``clip``'s video packets (no re-encoding)."""
    options = {"movflags": "+faststart"} if out.suffix == ".mp4" else {}
    temp = out.with_name(out.name + ".part" + out.suffix)
    with av.open(str(clip)) as source, av.open(str(temp), "w", options=options) as output:
        stream = source.streams.video[0]
        target = output.add_stream_from_template(stream)
        packets = [p for p in source.demux(stream) if p.dts is not None]
        span = round(CLIP_SECONDS / stream.time_base)
        for copy in range(copies):
            for packet in packets:
                packet.stream = target
                packet.pts += span if copy else 0
                packet.dts += span if copy else 0
                output.mux(packet)
    temp.rename(out)
    return out


def source(name: str) -> Path:
    codec, suffix = SOURCES[name]
    out = DATA / f"seg-{name}{suffix}"
    if not out.exists():
        DATA.mkdir(exist_ok=True)
        clip = DATA / f".clip-{name}{suffix}"
        began = time.monotonic()
        write_sample(clip, CLIP_SECONDS, FPS, SIZE, codec=codec, gop=2 * FPS)
        repeat(clip, out, COPIES)
        clip.unlink()
        print(
            f"made {out.name} ({out.stat().st_size / 2**20:.0f} MiB) in {time.monotonic() - began:.0f} s",
            file=sys.stderr,
        )
    return out


if __name__ == "__main__":
    for name in SOURCES:
        source(name)

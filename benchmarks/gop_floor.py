"""The floor of a seek in a browser's <video>: decoding from the keyframe before the frame asked for.

    python benchmarks/gop_floor.py

A browser shows a frame only once it has decoded every frame since the keyframe before it; no
player that hands the file to a <video> can seek faster (the seek proxy goes under it by making
keyframes close together). This times FFmpeg's H.264 decoder, which Chromium's <video> also
uses, through PyAV on the browser benchmark's files: from a keyframe to the middle of its group
of pictures (a random seek, on average) and to its last frame (a step back from the next
keyframe). Frame threading as the decoder's AUTO setting, and slices only. Writes
benchmarks/results/gop_floor.md.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from jupyter_rangevideo.sample import write_sample

FPS = 25
GROUPS = 5  # groups of pictures timed per file


def decode_times(path: Path, thread_type: str) -> list[list[float]]:
    """For GROUPS groups of pictures: ms from the seek to each of their frames being decoded."""
    groups = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = thread_type
        keyframes = [p.pts for p in container.demux(stream) if p.is_keyframe and p.pts is not None]
        # GROUPS groups from the second keyframe on, each ending at the next keyframe (or the end).
        for start, stop in list(zip(keyframes, [*keyframes[1:], None], strict=True))[1 : 1 + GROUPS]:
            container.seek(start, stream=stream)  # flushes the decoder
            began = time.perf_counter()
            elapsed = []
            for frame in container.decode(stream):
                if frame.pts is None or frame.pts < start:
                    continue
                if stop is not None and frame.pts >= stop:
                    break
                elapsed.append((time.perf_counter() - began) * 1000)
            groups.append(elapsed)
    return groups


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-gop-floor-"))
    try:
        files = {
            "360p, a keyframe every second": write_sample(tmp / "small.mp4", 12, FPS, (640, 360), noise=True),
            "720p at 66 Mbit/s, every second": write_sample(tmp / "hd.mp4", 12, FPS, (1280, 720), noise=True),
            "1080p, every 10 s": write_sample(tmp / "far.mp4", 40, FPS, (1920, 1080), gop=250),
        }
        lines = [
            (
                f"Measured {time.strftime('%Y-%m-%d %H:%M:%S %Z')}: PyAV {av.__version__}, median of {GROUPS} "
                "groups of pictures, ms from the seek to the frame decoded."
            ),
            "",
            "| file | frames per group | to the middle frame, AUTO / SLICE | to the last frame, AUTO / SLICE |",
            "|---|---|---|---|",
        ]
        for label, path in files.items():
            figures = {}
            for thread_type in ("AUTO", "SLICE"):
                groups = decode_times(path, thread_type)
                figures[thread_type] = (
                    statistics.median(g[len(g) // 2] for g in groups),
                    statistics.median(g[-1] for g in groups),
                )
                length = statistics.median(len(g) for g in groups)
            auto, slice_ = figures["AUTO"], figures["SLICE"]
            lines.append(
                f"| {label} | {length:.0f} | {auto[0]:.0f} / {slice_[0]:.0f} | {auto[1]:.0f} / {slice_[1]:.0f} |"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "gop_floor.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""One exact frame of a video file as an RGB array, decoded with PyAV.

Frame ``n`` is the one that the probe's :class:`~jupyter_rangevideo.probe.FrameClock`
presents at ``clock.time_of(n)``: the decoder seeks to the keyframe at or before it and
decodes forward until the frame whose own timestamp is that time. Never ``n / fps``, so
variable-frame-rate files are exact too. Bounded: at most :data:`MAX_DECODED_FRAMES`
frames are decoded for one call.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .probe import FrameClock, MediaError
from .rotation import stream_rotation, upright

# A keyframe interval longer than this (frames) is not decoded through for one still.
MAX_DECODED_FRAMES = 3000


def decode_frame(path: str | os.PathLike[str], clock: FrameClock, n: int) -> np.ndarray:
    """Frame ``n`` (0-based) of ``path``'s first video stream as an H×W×3 uint8 array,
    upright (turned by the stream's display rotation, as a person sees it).

    Raises IndexError for a frame outside the file, MediaError when the frame cannot be
    decoded within the bound.
    """
    import av

    if not 0 <= n < clock.frame_count:
        raise IndexError(f"frame {n} is outside the video (frames 0 to {clock.frame_count - 1})")
    target = clock.time_of(n)
    # Half the gap to the neighbours: a frame whose time is within it is frame n.
    tolerance = _half_gap(clock, n)
    from .remote_registry import readable

    with av.open(readable(os.fspath(path)), "r", buffer_size=1024 * 1024) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rotation = stream_rotation(os.fspath(path), container, stream)
        time_base = stream.time_base
        if time_base is None:
            raise MediaError(f"{os.fspath(path)!r}: the video stream has no time base")
        origin = _first_pts(container, stream)
        # The index holds decode times: with B-frames, the keyframe found for a time can be
        # presented after it. Then seek again from further back.
        for margin in (0.0, 0.25, 1.0, 4.0, 16.0):
            start = max(0.0, target - margin)
            container.seek(origin + int(start / time_base), stream=stream, backward=True, any_frame=False)
            best = _decode_until(container, stream, origin, target, tolerance)
            if best is not None or start == 0.0:
                break
        if best is None:
            raise MediaError(f"could not decode frame {n} of {os.fspath(path)!r}")
        return np.ascontiguousarray(upright(best.to_ndarray(format="rgb24"), rotation))


def _decode_until(container: Any, stream: Any, origin: int, target: float, tolerance: float) -> Any:
    """The frame presented at ``target``, decoding from where the container was sought;
    None when the first frame decoded is already later."""
    best: Any = None
    time_base = stream.time_base
    for count, frame in enumerate(container.decode(stream)):
        if frame.pts is None:
            continue
        seconds = float((frame.pts - origin) * time_base)
        if seconds > target + tolerance:
            break
        best = frame
        if abs(seconds - target) <= tolerance:
            break
        if count >= MAX_DECODED_FRAMES:
            raise MediaError(
                f"the frame at {target:.3f} s lies more than {MAX_DECODED_FRAMES} frames after a keyframe"
            )
    return best


def _half_gap(clock: FrameClock, n: int) -> float:
    here = clock.time_of(n)
    gaps = [abs(clock.time_of(m) - here) for m in (n - 1, n + 1) if 0 <= m < clock.frame_count]
    gaps = [g for g in gaps if g > 0]
    return min(gaps) / 2 if gaps else 0.02


def _first_pts(container: Any, stream: Any) -> int:
    """The presentation timestamp of the first frame: frame times count from it."""
    if stream.start_time is not None:
        return int(stream.start_time)
    container.seek(0, stream=stream)
    for frame in container.decode(stream):
        if frame.pts is not None:
            return int(frame.pts)
    return 0

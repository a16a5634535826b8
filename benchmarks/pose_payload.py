"""The payload of a long pose file: pack time in the kernel and bytes sent and saved.

    .venv/bin/python benchmarks/pose_payload.py [--hours 1] [--out pose.bin]

A synthetic 1-hour, 30 fps recording of 4 animals with 12 keypoints each (108,000 frames x 48
points, 5.2 M rows), as ``read_annotations`` returns a DeepLabCut or SLEAP file: each animal a
smooth random walk over a 1920x1080 arena, its keypoints around it turning with its heading,
tracker noise of about 1 px, a score from 0 to 1 a point, and about 3 % of points missing
(not found: no row). The browser half of the measurement (unpack and draw, longest task) is
tests/browser/test_pose_in_browser.py.
"""

from __future__ import annotations

import argparse
import base64
import time

import numpy as np

KEYPOINTS = (
    "nose", "left_ear", "right_ear", "neck", "left_shoulder", "right_shoulder",
    "spine", "left_hip", "right_hip", "tail_base", "tail_mid", "tail_tip",
)  # fmt: skip
# Where each keypoint sits in the animal's own frame (px; x forward).
OFFSETS = np.array(
    [(40, 0), (28, -10), (28, 10), (18, 0), (8, -14), (8, 14), (-5, 0), (-18, -12), (-18, 12), (-30, 0),
     (-50, 0), (-70, 0)],
    dtype=np.float64,
)  # fmt: skip
SKELETON = [
    ("nose", "left_ear"), ("nose", "right_ear"), ("nose", "neck"), ("neck", "spine"),
    ("neck", "left_shoulder"), ("neck", "right_shoulder"), ("spine", "tail_base"),
    ("tail_base", "left_hip"), ("tail_base", "right_hip"), ("tail_base", "tail_mid"),
    ("tail_mid", "tail_tip"),
]  # fmt: skip


def pose_table(frames: int = 108_000, animals: int = 4, seed: int = 0, size=(1920, 1080)):
    """A tidy pose table (columns of ``read_annotations``) of ``frames`` frames."""
    from jupyter_rangevideo.annotations._tidy import Codes, table

    rng = np.random.default_rng(seed)
    width, height = size
    k = len(KEYPOINTS)
    # Each animal: a velocity that drifts, a position that integrates it (reflected at the walls).
    velocity = np.cumsum(rng.normal(0, 0.15, (frames, animals, 2)), axis=0)
    velocity = np.clip(velocity - np.mean(velocity, axis=0), -6, 6)
    position = np.cumsum(velocity, axis=0) + rng.uniform(200, 800, (1, animals, 2))
    span = np.array([width - 200, height - 200], dtype=np.float64)
    position = 100 + np.abs((position - 100) % (2 * span) - span)
    heading = np.arctan2(velocity[..., 1], velocity[..., 0])
    cos, sin = np.cos(heading)[..., None], np.sin(heading)[..., None]
    xs = (
        position[..., 0:1]
        + OFFSETS[:, 0] * cos
        - OFFSETS[:, 1] * sin
        + rng.normal(0, 1, (frames, animals, k))
    )
    ys = (
        position[..., 1:2]
        + OFFSETS[:, 0] * sin
        + OFFSETS[:, 1] * cos
        + rng.normal(0, 1, (frames, animals, k))
    )
    scores = rng.beta(5, 1.2, (frames, animals, k))
    keep = rng.random((frames, animals, k)) > 0.03
    frame_of = np.broadcast_to(np.arange(frames)[:, None, None], keep.shape)[keep]
    track_of = np.broadcast_to(np.arange(animals)[None, :, None], keep.shape)[keep]
    keypoint_of = np.broadcast_to(np.arange(k)[None, None, :], keep.shape)[keep]
    return table(
        {
            "frame": frame_of,
            "track": Codes(track_of, [f"animal{i}" for i in range(animals)]),
            "keypoint": Codes(keypoint_of, list(KEYPOINTS)),
            "kind": Codes(np.zeros(len(frame_of), dtype=np.int64), ["point"]),
            "x": xs[keep],
            "y": ys[keep],
            "score": scores[keep],
        }
    )


def main() -> None:
    from jupyter_rangevideo import overlay
    from jupyter_rangevideo.probe import FrameClock

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--out", help="write the packed bytes here (the browser test reads them)")
    options = parser.parse_args()
    frames = round(options.hours * 3600 * options.fps)
    started = time.perf_counter()
    df = pose_table(frames)
    made = time.perf_counter() - started
    clock = FrameClock.constant(options.fps, frames)
    cpu, wall = time.process_time(), time.perf_counter()
    packed = overlay.pack(df, clock)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{len(df):,} rows made in {made:.1f} s")
    print(f"pack: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"payload: {len(packed.data):,} bytes ({len(packed.data) / 2**20:.1f} MiB), "
          f"{len(packed.data) / len(df):.2f} bytes a point; base64 in the saved output: "
          f"{len(base64.b64encode(packed.data)) / 2**20:.1f} MiB")  # fmt: skip
    if options.out:
        with open(options.out, "wb") as file:
            file.write(packed.data)


if __name__ == "__main__":
    main()

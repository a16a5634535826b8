"""A segment's sound: the source's packets copied (AAC, MP3) or re-encoded to AAC, on the
segment's timeline (segment_jobs.py decides which of them belong to the segment)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .delivery import REMUX_AUDIO
from .segment_plan import EPSILON


class AudioOut:
    """Audio for one segment, copied (AAC, MP3) or re-encoded to AAC, timestamps shifted by
    ``origin`` seconds. The caller decides which packets belong to the segment."""

    def __init__(self, stream: Any, out: Any, copy: bool, origin: float, floor: float = -math.inf):
        self.stream = stream
        self.out = out
        self.origin = origin
        self.copy = copy and stream.codec_context.codec.canonical_name in REMUX_AUDIO
        if self.copy:
            self.target = out.add_stream_from_template(stream)
            self.shift = round(origin / stream.time_base)
        else:
            context = stream.codec_context
            self.rate = context.sample_rate or 48000
            self.floor = round(floor * self.rate) if math.isfinite(floor) else -(2**62)
            layout = "mono" if (context.channels or 2) == 1 else "stereo"
            self.target = out.add_stream("aac", rate=self.rate, layout=layout)
            self.target.time_base = Fraction(1, self.rate)

    def add(
        self, packet: Any, lo: float = -math.inf, hi: float = math.inf, keep: float = math.inf
    ) -> list[Any]:
        """Write one source packet; re-encoded audio keeps only the frames in [lo, hi), and
        returns those decoded at or after ``keep`` seconds (for the next segment's job)."""
        if self.copy:
            if packet.pts is not None:
                packet.pts -= self.shift
                if packet.dts is not None:
                    packet.dts -= self.shift
                packet.stream = self.target
                self.out.mux(packet)
            return []
        kept = []
        for frame in packet.decode():
            if self.add_frame(frame, lo, hi) >= keep - EPSILON:
                kept.append(frame)
        return kept

    def add_frame(self, frame: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
        """Encode one decoded frame if it starts in [lo, hi) (it keeps its own timestamps);
        returns where it starts (-inf without a timestamp)."""
        if frame.pts is None:
            return -math.inf
        pts, time_base = frame.pts, frame.time_base
        t = float(pts * time_base) - self.origin
        if lo - EPSILON <= t < hi - EPSILON:
            frame.pts = round(t * self.rate)
            frame.time_base = Fraction(1, self.rate)
            self._mux(self.target.encode(frame))
            frame.pts, frame.time_base = pts, time_base
        return t

    def _mux(self, packets: list[Any]) -> None:
        # The AAC encoder's first packet starts a frame (1024 samples, 21 ms at 48 kHz) early:
        # its priming. MPEG-TS cannot say to skip it, and hls.js starts the timeline at the
        # first sample, so every picture would be shown 21 ms late (a frame at 60 fps).
        self.out.mux([p for p in packets if p.pts is None or p.pts >= self.floor])

    def close(self) -> None:
        if not self.copy:
            self._mux(self.target.encode(None))

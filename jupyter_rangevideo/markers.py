"""Timeline markers and chapters: ticks on a bar under the video, clicked to seek."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .probe import FrameClock

MAX_MARKERS = 10_000  # each one is an element on the page
_TIMESTAMP = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$")


def parse_timestamp(text: str) -> float:
    """WebVTT's ``hh:mm:ss.ttt`` or ``mm:ss.ttt`` -> seconds."""
    match = _TIMESTAMP.match(text.strip())
    if not match:
        raise ValueError(f"not a WebVTT timestamp: {text!r}")
    hours, minutes, seconds, fraction = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction.ljust(3, "0")) / 1000


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """The cues of a WebVTT file as (start, end, text); settings after the times are ignored."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not lines[0].startswith("WEBVTT"):
        raise ValueError("not a WebVTT file: it must start with 'WEBVTT'")
    cues: list[tuple[float, float, str]] = []
    index = 1
    while index < len(lines):
        line = lines[index]
        index += 1
        if "-->" not in line:
            continue
        start_text, _, rest = line.partition("-->")
        start, end = parse_timestamp(start_text), parse_timestamp(rest.split()[0] if rest.split() else "")
        body = []
        while index < len(lines) and lines[index].strip():
            body.append(lines[index].strip())
            index += 1
        cues.append((start, end, re.sub(r"<[^>]*>", "", " ".join(body))))
    return cues


def _seconds(value: Any, what: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number of seconds, not {value!r}") from None
    if not seconds >= 0:  # also NaN
        raise ValueError(f"{what} must be >= 0 seconds, not {value!r}")
    return seconds


def build(
    times: Any = None,
    labels: Sequence[Any] | None = None,
    *,
    frames: Sequence[int] | None = None,
    chapters: Any = None,
    clock: FrameClock | None = None,
) -> dict[str, list[list[Any]]]:
    """The markers' state for the page: ``ticks`` as [seconds, label] and ``chapters`` as
    [start, end, label]. ``times`` may also be a WebVTT path or a list of (start, end, label)."""
    if isinstance(times, (str, os.PathLike)) or (
        isinstance(times, Sequence) and times and all(isinstance(item, (tuple, list)) for item in times)
    ):
        if chapters is not None:
            raise ValueError("give chapters once: as the first argument or as chapters=")
        times, chapters = None, times
    if times is not None and frames is not None:
        raise ValueError("give markers as times (seconds) or as frames=, not both")
    ticks: list[list[Any]] = []
    if frames is not None:
        if clock is None:
            raise ValueError("this file has no video frames")
        for frame in frames:
            if int(frame) != frame or frame < 0:
                raise ValueError(f"a marker frame must be a whole number >= 0, not {frame!r}")
            ticks.append([clock.middle_of(int(frame)), None])
    elif times is not None:
        ticks = [[_seconds(time, "a marker time"), None] for time in times]
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(ticks):
            raise ValueError(f"{len(labels)} labels for {len(ticks)} markers")
        for tick, label in zip(ticks, labels):
            tick[1] = None if label is None else str(label)
    spans: list[list[Any]] = []
    if chapters is not None:
        if isinstance(chapters, (str, os.PathLike)):
            chapters = parse_vtt(Path(chapters).read_text(encoding="utf-8"))
        for item in chapters:
            if len(item) != 3:
                raise ValueError(f"a chapter is (start, end, label), not {item!r}")
            start, end = _seconds(item[0], "a chapter start"), _seconds(item[1], "a chapter end")
            if end < start:
                raise ValueError(f"chapter {item[2]!r} ends before it starts")
            spans.append([start, end, str(item[2])])
    if len(ticks) + len(spans) > MAX_MARKERS:
        raise ValueError(f"at most {MAX_MARKERS} markers")
    return {"ticks": ticks, "chapters": spans}

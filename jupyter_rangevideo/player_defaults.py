"""A player's options where show() is not told otherwise, and which of its traits a saved output
keeps: read by the Player's traits (widget.py) and by the first output that show() sends before
the widget exists (early.py), so that the two can never disagree."""

from __future__ import annotations

from typing import TypedDict


class Options(TypedDict):
    start: float
    end: float | None
    loop: bool
    autoplay: bool
    controls: bool
    muted: bool
    volume: float
    playback_rate: float
    width: int | str
    height: int | str
    show_frame_number: bool


DEFAULTS: Options = {
    "start": 0.0,
    "end": None,
    "loop": False,
    "autoplay": False,
    "controls": True,
    "muted": False,
    "volume": 1.0,
    "playback_rate": 1.0,
    "width": "100%",
    "height": "auto",
    "show_frame_number": True,
}

SAVED_OPTIONS = (
    *DEFAULTS,
    # How the page gets the file (a remuxed or transcoded one plays from segments) and the
    # probe's facts it trusts over the stream's.
    "delivery",
    "redirect_seconds",  # delivery="redirect": the page renews its presigned URL before then
    "duration",
    "video_width",
    "video_height",
)

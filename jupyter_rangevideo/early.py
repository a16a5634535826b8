"""show(): the player's output first, the widget after it.

Importing the widget stack (ipywidgets, anywidget) costs a fresh kernel about 140 ms, and
`import jupyter_rangevideo as rangevideo; rangevideo.show(...)` in one cell paid it before the
page saw anything: IPython.display.Video's output leaves the kernel within about 10 ms. So,
for a file the browser plays as it is (its container's header says so, read in pure Python),
show() displays the saved output at once: the package's renderer draws the player from it and
starts loading the video. Then the widget is made, and its output replaces the first one under
the same display id; the renderer keeps the <video> it made and binds it to the live model.
Anything the first output cannot be sure of (options to validate, a remote object, a file to
probe with PyAV first) goes the widget's way alone, as before.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .embed import MIMETYPE
from .player_defaults import DEFAULTS, SAVED_OPTIONS

if TYPE_CHECKING:
    from .probe import Probe
    from .widget import Player

# Options whose every value of the right type is valid: the first output can take them as
# given. Any other option (volume, a clip, a delivery, a transport...) is the widget's to check.
_TAKEN_AS_GIVEN = {
    "loop": (bool,),
    "autoplay": (bool,),
    "muted": (bool,),
    "controls": (bool,),
    "show_frame_number": (bool,),
    "width": (int, str),
    "height": (int, str),
}


@dataclass(frozen=True)
class EarlyOutput:
    """What the first output was drawn from: the widget starts from the same facts and id."""

    player_id: str
    src: str
    path: str
    name: str
    facts: Probe


def show(source: str | os.PathLike[str], **options: Any) -> Player:
    """Display a player for ``source`` (a file, or a URL fsspec reads with ``storage_options=``:
    s3://, gs://, az://, https://) and return it. Raises FileNotFoundError, IsADirectoryError,
    PermissionError, ValueError (not a regular file; probe.MediaError: not media FFmpeg reads),
    remote.RemoteError before anything is displayed. Reads the header and index only, in
    bounded time whatever the size. Options set the Player's traits: start, end, loop, autoplay,
    muted, volume, playback_rate, controls, width, height; ``transport="comm"`` sends the bytes
    over the widget's comm (by default only where no server reaches the page);
    ``delivery="redirect"`` (an object in S3, GCS or Azure that the browser plays as it is) has the
    browser fetch it from the store with presigned URLs lasting ``redirect_seconds`` (default
    3600), which the page renews; ``proxy=False``
    never shows frames from the seek proxy (on by default for files whose keyframes are more
    than 2 s apart, see proxy.py); ``delivery`` forces 'direct', 'remux' or 'transcode'
    (default: the cheapest that the browser plays); ``poster=False`` leaves out the still frame
    (a few KB) that renderers without access to the file show.
    """
    early = display_early(source, options)
    from .widget import Player

    player = Player(source, _later=True, _early=early, **options)
    if early is not None:
        # Displayed already; the live widget follows once the probe has settled (settling.py).
        player._skip_next_displayhook = True
    else:
        player._quick_display = not player.settled
        try:
            player._show()
        finally:
            player._quick_display = False
    player._probe_in_background()  # after the first message: PyAV is off the way to it
    player._changes_release = True  # from now on, Python's own changes
    return player


def display_early(source: str | os.PathLike[str], options: dict[str, Any]) -> EarlyOutput | None:
    """Display the saved output of a player of ``source`` now, where its header decides it;
    None where the widget must decide first (nothing is displayed then). Raises for a missing,
    unreadable, empty or cut-off file, as show() does."""
    if not _in_kernel() or not _taken_as_given(options):
        return None
    from .delivery import first_facts
    from .signing import is_url, share_local

    if is_url(os.fspath(source)):
        return None
    src, path, name = share_local(source)
    facts, from_header = first_facts(path, None, False)
    if facts is None or not from_header or facts.clock is not None:
        return None
    early = EarlyOutput(uuid.uuid4().hex, src, path, name, facts)
    from IPython.display import display

    bundle = {MIMETYPE: early_spec(early, options), "text/plain": f"Video: {name}"}
    display(bundle, raw=True, display_id=early.player_id)
    return early


def early_spec(early: EarlyOutput, options: dict[str, Any]) -> dict[str, Any]:
    """The saved spec that the widget's output would carry at its start (output.py, widget.py):
    tests/test_early_output.py holds the two equal."""
    video = early.facts.video
    values = {
        **DEFAULTS,
        **options,
        "delivery": "direct",
        "redirect_seconds": 0,
        "duration": early.facts.duration,
        "video_width": video.width if video is not None else 0,
        "video_height": video.height if video is not None else 0,
    }
    return {
        "version": 1,
        "src": early.src,
        "name": early.name,
        "player_id": early.player_id,
        "options": {**{name: values[name] for name in SAVED_OPTIONS}, "audio_only": video is None},
        "overlays": {},
        "overlays_unsaved": [],
        "overlays_hidden": [],
        "overlay_styles": {},
        "markers": {},
        "annotations": [],
    }


def _taken_as_given(options: dict[str, Any]) -> bool:
    return all(
        name in _TAKEN_AS_GIVEN and isinstance(value, _TAKEN_AS_GIVEN[name])
        for name, value in options.items()
    )


def _in_kernel() -> bool:
    """Whether an IPython kernel displays what this process shows (a page may draw it)."""
    import sys

    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"

"""The player: an anywidget whose browser side streams the file from the server extension."""

from __future__ import annotations

import html
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import anywidget
import traitlets as t

from . import delivery as _delivery
from . import proxy as _proxy
from .poster import poster_data_url
from .probe import Probe, probe
from .signing import url_for

MIMETYPE = "application/vnd.jupyter.rangevideo+json"
WIDGET_MIMETYPE = "application/vnd.jupyter.widget-view+json"

# State that draws the player from a saved output alone, when no kernel holds the model.
_SAVED_OPTIONS = (
    "start", "end", "loop", "autoplay", "controls", "muted", "volume", "playback_rate", "width", "height",
    # How the page gets the file (a remuxed or transcoded one plays from segments) and the
    # probe's facts it trusts over the stream's.
    "delivery", "duration", "video_width", "video_height",
)


class Player(anywidget.AnyWidget):
    """A video player for a local file. Its state syncs both ways with the browser."""

    _esm = Path(__file__).parent / "static" / "player.js"

    src = t.Unicode(help="URL of the file relative to the Jupyter server's base_url").tag(sync=True)
    name = t.Unicode(help="the file's name, shown where the video cannot play").tag(sync=True)
    player_id = t.Unicode(help="ties a saved output to this live player").tag(sync=True)

    current_time = t.Float(0.0, help="seconds; follows the browser, and setting it seeks").tag(sync=True)
    paused = t.Bool(True, help="setting it plays or pauses").tag(sync=True)
    playback_rate = t.Float(1.0).tag(sync=True)
    muted = t.Bool(False).tag(sync=True)
    volume = t.Float(1.0, help="0 to 1").tag(sync=True)
    loop = t.Bool(False, help="loop the whole video, or the clip when start/end are set").tag(sync=True)
    autoplay = t.Bool(False).tag(sync=True)
    controls = t.Bool(True).tag(sync=True)
    width = t.Union([t.Int(), t.Unicode()], default_value="100%", help="CSS size; an int is pixels").tag(sync=True)
    height = t.Union([t.Int(), t.Unicode()], default_value="auto", help="CSS size; an int is pixels").tag(sync=True)
    start = t.Float(0.0, help="clip start, seconds").tag(sync=True)
    end = t.Float(None, allow_none=True, help="clip end, seconds; None plays to the end").tag(sync=True)

    # The file's facts, from the probe at show(): known before any browser has seen the video.
    duration = t.Float(None, allow_none=True, read_only=True, help="seconds").tag(sync=True)
    fps = t.Float(None, allow_none=True, read_only=True, help="the video stream's average frame rate").tag(
        sync=True
    )
    frame_count = t.Int(0, read_only=True).tag(sync=True)
    video_width = t.Int(0, read_only=True).tag(sync=True)
    video_height = t.Int(0, read_only=True).tag(sync=True)
    delivery = t.Unicode(
        "direct", read_only=True, help="how the browser gets the file: 'direct', 'remux' or 'transcode'"
    ).tag(sync=True)
    proxy = t.Bool(
        False,
        help="show frames from a small short-GOP rendition while a paused seek or step decodes; "
        "on by default where the file's keyframes are far apart",
    ).tag(sync=True)
    # Probe facts the page needs: the frame clock (frame <-> time), codecs, audio only or not.
    _facts = t.Dict({}).tag(sync=True)
    error = t.Unicode("", read_only=True, help="why the browser cannot play the video").tag(sync=True)

    # seek(t) sends a numbered request, so seeking twice to the same time works.
    _seek_request = t.Dict({"time": 0.0, "n": 0}).tag(sync=True)
    # The front end asks for the in-kernel server when its page has no server extension.
    _kernel_server_requested = t.Bool(False).tag(sync=True)
    _kernel_server = t.Dict({}).tag(sync=True)
    # The file's path relative to the notebook, for pages with no Jupyter server (an HTML
    # export opened beside the file); empty when the file is not under the notebook's folder.
    _local_src = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        source: str | os.PathLike,
        *,
        poster: bool = True,
        delivery: str | None = None,
        proxy: bool | None = None,
        **options,
    ):
        src = url_for(source)  # raises for a missing, unreadable or non-regular file
        path = Path(os.path.realpath(os.fspath(source)))
        facts = probe(path)  # raises MediaError for a file that is not media FFmpeg reads
        chosen = _delivery.check(delivery, facts)
        super().__init__(src=src, name=path.name, player_id=uuid.uuid4().hex, **options)
        self.probe: Probe = facts
        self.set_trait("duration", facts.duration)
        self.set_trait("delivery", chosen)
        self.proxy = _proxy.wanted(facts, chosen) if proxy is None else bool(proxy) and facts.video is not None
        self._facts = facts.facts()
        if facts.video is not None:
            self.set_trait("fps", facts.video.fps or None)
            self.set_trait("frame_count", facts.video.frame_count)
            self.set_trait("video_width", facts.video.width)
            self.set_trait("video_height", facts.video.height)
        self._source = Path(os.path.abspath(os.fspath(source)))
        self._local_src = self._relative_source() or ""
        # A still frame for renderers that cannot reach the file (needs PyAV).
        self._poster = poster_data_url(str(path), at=self.start) if poster and facts.video else None
        self._skip_next_displayhook = False

    @t.validate("volume")
    def _valid_volume(self, proposal):
        if not 0.0 <= proposal["value"] <= 1.0:
            raise t.TraitError(f"volume must be between 0 and 1, not {proposal['value']}")
        return proposal["value"]

    @t.validate("playback_rate")
    def _valid_rate(self, proposal):
        if not 0.0625 <= proposal["value"] <= 16:
            raise t.TraitError(f"playback_rate must be between 0.0625 and 16, not {proposal['value']}")
        return proposal["value"]

    @t.observe("_kernel_server_requested")
    def _start_kernel_server(self, change):
        if change["new"] and not self._kernel_server:
            from .kernel_server import kernel_server

            server = kernel_server()
            self._kernel_server = {"port": server.port, "token": server.token}

    def seek(self, time: float) -> None:
        """Show the frame at ``time`` seconds."""
        with self.hold_sync():
            self.current_time = time
            self._seek_request = {"time": float(time), "n": self._seek_request["n"] + 1}

    def play(self) -> None:
        self.paused = False

    def pause(self) -> None:
        self.paused = True

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        bundle = dict(bundle)
        bundle[MIMETYPE] = {
            "version": 1,
            "src": self.src,
            "name": self.name,
            "player_id": self.player_id,
            "options": {
                **{name: getattr(self, name) for name in _SAVED_OPTIONS},
                "audio_only": self.probe.video is None,
            },
        }
        bundle["text/html"] = self._fallback_html()
        bundle["text/plain"] = f"Video: {self.name}"
        return bundle

    def _fallback_html(self) -> str:
        """What renderers without this package show: a <video> if the file sits beside the
        notebook (an exported HTML opened next to it plays it), else a still frame and the
        file's name; never an empty box."""
        name = html.escape(self.name)
        note = f"<b>Video:</b> {name} <i>(plays in Jupyter with jupyter-rangevideo)</i>"
        poster = html.escape(self._poster, quote=True) if self._poster else ""
        relative = self._relative_source()
        if relative is None:
            still = f'<img src="{poster}" alt="First frame of {name}" style="max-width:100%"><br>' if poster else ""
            return f'<div class="jp-RangeVideo-fallback">{still}<p>{note}</p></div>'
        src = html.escape(relative, quote=True)
        poster_attribute = f' poster="{poster}"' if poster else ""
        return (
            f'<div class="jp-RangeVideo-fallback"><video src="{src}"{poster_attribute} controls '
            f'preload="metadata" style="max-width:100%"><p>{note}</p></video><p><small>{name}</small></p></div>'
        )

    def _relative_source(self) -> str | None:
        """The file's URL path relative to the kernel's working directory (the notebook's
        folder), or None when it lies elsewhere."""
        try:
            relative = self._source.relative_to(Path.cwd())
        except ValueError:
            return None
        return None if ".." in relative.parts else quote(relative.as_posix())

    def _ipython_display_(self):
        from IPython.display import display

        if self._skip_next_displayhook and _called_from_displayhook():
            self._skip_next_displayhook = False  # show() displayed it already
            return
        display(self._repr_mimebundle_(), raw=True)


def _called_from_displayhook() -> bool:
    from IPython.core.displayhook import DisplayHook

    frame = sys._getframe(1)
    for _ in range(20):
        if frame is None:
            return False
        if frame.f_code.co_name == "__call__" and isinstance(frame.f_locals.get("self"), DisplayHook):
            return True
        frame = frame.f_back
    return False


def show(source: str | os.PathLike, **options) -> Player:
    """Display a player for the local video file ``source`` and return it.

    Raises FileNotFoundError, IsADirectoryError, PermissionError, or ValueError (not a
    regular file; :class:`~jupyter_rangevideo.probe.MediaError` for a file that is not
    media FFmpeg can read) before anything is displayed. Reads the file's header and
    index (never decodes it), in bounded time whatever its size. Options set the Player's
    traits: start, end, loop, autoplay, muted, volume, playback_rate, controls, width,
    height; ``proxy=False`` never shows frames from the seek proxy (on by default for files
    whose keyframes are more than 2 s apart, see proxy.py); ``delivery`` forces 'direct', 'remux' or 'transcode' (default: the cheapest
    that the browser plays); ``poster=False`` leaves out the still frame (a few KB) that
    renderers without access to the file show.
    """
    from IPython.display import display

    player = Player(source, **options)
    display(player)
    player._skip_next_displayhook = True
    return player

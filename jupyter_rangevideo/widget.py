"""The player: an anywidget whose browser side streams the file from the server extension."""

from __future__ import annotations

import base64
import html
import os
import uuid
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anywidget
import traitlets as t

from . import delivery as _delivery
from . import markers as _markers
from . import proxy as _proxy
from . import sync as _sync
from .comm_transport import PageRequests
from .embed import spec_html
from .labelling import Labelling
from .layers import Layers
from .output import SavedOutput
from .player_defaults import DEFAULTS, SAVED_OPTIONS
from .poster import poster_later
from .probe import Probe, probe
from .remote_registry import is_remote_name, share
from .settling import Settling
from .strips import Strips

if TYPE_CHECKING:
    # numpy (which the overlays need) costs more to import than the rest of show() in a
    # fresh kernel: only a player that draws overlays or decodes frames loads it.
    import numpy as np

    from .early import EarlyOutput


# A frame clock this small is always saved (a constant-rate file's is one run).
_SAVED_CLOCK_MAX_RUNS = 256

# The player whose text/html output carries the inlined player module (see _fallback_html).
_module_carrier: str | None = None

# Base64 bytes of overlay marks that the text/html copy of an output may repeat.
_OVERLAYS_IN_HTML_MAX = 64 * 1024

# State that draws the player from a saved output alone, when no kernel holds the model.


class Player(Settling, SavedOutput, Layers, Labelling, Strips, anywidget.AnyWidget):
    """A video player for a local file. Its state syncs both ways with the browser."""

    _esm = Path(__file__).parent / "static" / "player.js"

    src = t.Unicode(help="URL of the file relative to the Jupyter server's base_url").tag(sync=True)
    name = t.Unicode(help="the file's name, shown where the video cannot play").tag(sync=True)
    player_id = t.Unicode(help="ties a saved output to this live player").tag(sync=True)

    current_time = t.Float(0.0, help="seconds; follows the browser, and setting it seeks").tag(sync=True)
    paused = t.Bool(True, help="setting it plays or pauses").tag(sync=True)
    playback_rate = t.Float(DEFAULTS["playback_rate"]).tag(sync=True)
    muted = t.Bool(DEFAULTS["muted"]).tag(sync=True)
    volume = t.Float(DEFAULTS["volume"], help="0 to 1").tag(sync=True)
    loop = t.Bool(DEFAULTS["loop"], help="loop the whole video, or the clip when start/end are set").tag(
        sync=True
    )
    autoplay = t.Bool(DEFAULTS["autoplay"]).tag(sync=True)
    controls = t.Bool(DEFAULTS["controls"]).tag(sync=True)
    width = t.Union(
        [t.Int(), t.Unicode()], default_value=DEFAULTS["width"], help="CSS size; an int is pixels"
    ).tag(sync=True)
    height = t.Union(
        [t.Int(), t.Unicode()], default_value=DEFAULTS["height"], help="CSS size; an int is pixels"
    ).tag(sync=True)
    start = t.Float(DEFAULTS["start"], help="clip start, seconds").tag(sync=True)
    end = t.Float(DEFAULTS["end"], allow_none=True, help="clip end, seconds; None plays to the end").tag(
        sync=True
    )

    # The file's facts, from the probe at show(): known before any browser has seen the video.
    duration = t.Float(None, allow_none=True, read_only=True, help="seconds").tag(sync=True)
    fps = t.Float(None, allow_none=True, read_only=True, help="the video stream's average frame rate").tag(
        sync=True
    )
    frame_count = t.Int(0, read_only=True).tag(sync=True)
    video_width = t.Int(0, read_only=True).tag(sync=True)
    video_height = t.Int(0, read_only=True).tag(sync=True)
    delivery = t.Unicode(
        "direct",
        read_only=True,
        help="how the browser gets the file: 'direct', 'remux', 'transcode' or 'redirect' (from its store)",
    ).tag(sync=True)
    redirect_seconds = t.Int(
        0,
        read_only=True,
        help="delivery='redirect': how long each presigned URL that the server hands the browser lasts "
        "(the page loads a new one before it expires); 0 otherwise",
    ).tag(sync=True)
    proxy = t.Bool(
        False,
        help="show frames from a small short-GOP rendition while a paused seek or step decodes; "
        "on by default where the file's keyframes are far apart",
    ).tag(sync=True)
    # Probe facts the page needs: the frame clock (frame <-> time), codecs, audio only or not.
    _facts = t.Dict({}).tag(sync=True)
    error = t.Unicode("", read_only=True, help="why the browser cannot play the video").tag(sync=True)

    # Frames (see sync.py for how Python's commands and the page's reports are ordered).
    frame = t.Int(0, help="the frame presented now (0-based); setting it shows exactly that frame").tag(
        sync=True
    )
    show_frame_number = t.Bool(
        DEFAULTS["show_frame_number"], help="draw the current frame number on the player"
    ).tag(sync=True)
    # Python's numbered commands, newest last; the page applies those it has not applied.
    _commands: t.List[dict[str, Any]] = t.List([]).tag(sync=True)
    # The page's playback state with the last command it had applied (sync.py); whole each
    # time, so a widget front end never sends a part of it.
    _report = t.Dict({}).tag(sync=True, echo_update=False)
    # The front end asks for the in-kernel server when its page has no server extension.
    _kernel_server_requested = t.Bool(False).tag(sync=True)
    _kernel_server = t.Dict({}).tag(sync=True)
    # "auto": the extension, the kernel's server, then the widget's comm (comm_transport.py).
    transport = t.Enum(("auto", "http", "comm"), "auto", help="how the page gets the bytes").tag(sync=True)
    # The file's path relative to the notebook, for pages with no Jupyter server (an HTML
    # export opened beside the file); empty when the file is not under the notebook's folder.
    _local_src = t.Unicode("").tag(sync=True)
    # Timeline markers and chapters (markers.py). Overlays: layers.py; strips: strips.py.
    _markers = t.Dict({}).tag(sync=True)
    _page_requests = PageRequests(None)  # the comm transport's (comm_transport.py); one per player

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        storage_options: dict[str, Any] | None = None,
        poster: bool = True,
        delivery: str | None = None,
        redirect_seconds: int | None = None,
        proxy: bool | None = None,
        start_frame: int | None = None,
        end_frame: int | None = None,
        _later: bool = False,
        _early: EarlyOutput | None = None,
        **options: Any,
    ) -> None:
        lifetime = _delivery.redirect_seconds(delivery, redirect_seconds)
        facts: Probe | None
        if _early is not None:  # show() displayed its output from these already (early.py)
            src, path, name = _early.src, _early.path, _early.name
            facts, self._from_header, self._displayed = _early.facts, True, True
            self._comm_held = True  # the live widget follows once settled (settling.py)
        else:
            # Raises for a missing, unreadable or non-regular file, a missing object, refused credentials
            # (and for delivery="redirect", a local file or a store that cannot presign URLs).
            src, path, name = share(source, storage_options, lifetime)
            frames_asked = (
                start_frame is not None or end_frame is not None or bool(options.get("current_time"))
            )
            # A remote object is probed with PyAV now: its header comes through the block cache anyway.
            facts, self._from_header = (
                (None, False) if is_remote_name(path) else _delivery.first_facts(path, delivery, frames_asked)
            )
        remote = is_remote_name(path)
        start = options.get("start", 0.0)
        poster_job = None
        if not self._from_header:
            # A still frame for renderers that cannot reach the file (needs PyAV), made while
            # the file is probed when where it starts is known already.
            early = poster and start_frame is None and isinstance(start, (int, float))
            poster_job = poster_later(path, float(start)) if early else None
            facts = probe(path)  # raises MediaError for a file that is not media FFmpeg reads
        assert facts is not None
        chosen = _delivery.check(delivery, facts)
        self._asked, self._poster_wanted = (delivery, proxy), poster
        self._log = _sync.CommandLog()
        self._quiet = True  # options are the starting state, not commands
        # A clip in frames: it starts when start_frame is presented and ends on end_frame.
        for key, frame in (("start", start_frame), ("end", end_frame)):
            if frame is not None:
                if facts.clock is None or not 0 <= frame < facts.clock.frame_count:
                    raise ValueError(f"{key}_frame={frame} is not a frame of {name}")
                options[key] = facts.clock.time_of(frame)
        player_id = _early.player_id if _early is not None else uuid.uuid4().hex
        super().__init__(src=src, name=name, player_id=player_id, **options)
        self._probe = facts
        self.frame = self._frame_at(self.current_time) if not self._from_header else 0
        self._quiet = False
        self.set_trait("delivery", chosen)
        self.set_trait("redirect_seconds", lifetime)
        # From the header: chosen once the probe has read the keyframes (settling.py).
        wanted = proxy is None and not self._from_header and _proxy.wanted(facts, chosen)
        self.proxy = wanted or bool(proxy) and facts.video is not None
        self._set_file_traits(facts)
        self._source = None if remote else Path(os.path.abspath(os.fspath(source)))
        self._local_src = self._relative_source() or ""
        if poster and facts.video and poster_job is None and not self._from_header:
            poster_job = poster_later(path, self.start)
        self._poster_job = poster_job if facts.video else None
        self._grids: weakref.WeakSet[Any] = weakref.WeakSet()
        self._page_requests = PageRequests(self)
        self.on_msg(self._page_requests)
        if not _later:
            self._probe_in_background()

    @t.validate("volume")
    def _valid_volume(self, proposal: dict[str, Any]) -> float:
        if not 0.0 <= proposal["value"] <= 1.0:
            raise t.TraitError(f"volume must be between 0 and 1, not {proposal['value']}")
        return float(proposal["value"])  # already a float: the trait is a Float

    @t.validate("playback_rate")
    def _valid_rate(self, proposal: dict[str, Any]) -> float:
        if not 0.0625 <= proposal["value"] <= 16:
            raise t.TraitError(f"playback_rate must be between 0.0625 and 16, not {proposal['value']}")
        return float(proposal["value"])  # already a float: the trait is a Float

    @t.observe("_kernel_server_requested")
    def _start_kernel_server(self, change: dict[str, Any]) -> None:
        if change["new"] and not self._kernel_server:
            from .kernel_server import kernel_server

            server = kernel_server()
            self._kernel_server = {"port": server.port, "token": server.token}

    def close(self) -> None:
        self._page_requests.close()  # the comm transport's requests stop with the widget
        super().close()

    # --- commands (Python's win, in order: see sync.py) -------------------------------

    def seek(self, time: float) -> None:
        """Show the frame at ``time`` seconds."""
        time = max(0.0, float(time))
        self._command("seek", time, current_time=time, frame=self._frame_at(time))

    def play(self) -> None:
        self._command("play", paused=False)

    def pause(self) -> None:
        self._command("pause", paused=True)

    def step(self, n: int = 1) -> None:
        """Pause and move ``n`` frames forward (negative: back) from the frame presented."""
        frame = self._clamp_frame(self.frame + int(n))
        self._command("step", int(n), paused=True, frame=frame, current_time=self._mid_time(frame))

    def snapshot(self) -> np.ndarray:
        """The frame presented now, as an H×W×3 uint8 RGB array at the video's own size
        (decoded here with PyAV, not read back from the page)."""
        return self.frame_at(self.frame)

    def frame_at(self, n: int) -> np.ndarray:
        """Frame ``n`` as an H×W×3 uint8 RGB array, without moving the player."""
        from .frames import decode_frame

        if self.probe.clock is None:
            raise ValueError(f"{self.name} has no video stream")
        return decode_frame(self.probe.path, self.probe.clock, int(n))

    def _command(self, op: str, value: float | None = None, **state: Any) -> None:
        """Set the kernel's state as asked and send the numbered command, in one message."""
        with self.hold_sync():
            self._set_quietly(state)
            self._commands = _sync.CommandLog.add(self._log, op, value)

    def _set_quietly(self, state: dict[str, Any]) -> None:
        quiet, self._quiet = self._quiet, True
        try:
            for name, value in state.items():
                setattr(self, name, value)
        finally:
            self._quiet = quiet

    @t.observe("paused", "current_time", "playback_rate", "frame")
    def _python_set(self, change: dict[str, Any]) -> None:
        # `p.paused = True`, `p.current_time = 9`, `p.frame = 40`, `p.playback_rate = 2`
        # from Python become commands; the page's reports (set quietly) do not.
        if self._quiet:
            return
        name, new = change["name"], change["new"]
        if name == "paused":
            self._command("pause" if new else "play")
        elif name == "current_time":
            self.seek(new)
        elif name == "playback_rate":
            self._command("rate", float(new))
        else:
            frame = self._clamp_frame(new)
            self._command("frame", frame, frame=frame, current_time=self._mid_time(frame))

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """A state update from the page: its playback state counts only if it had applied
        every command sent so far; the file's facts are the probe's."""
        accepted, refused = _sync.filter_report(sync_data, self._log)
        state = {k: accepted.pop(k) for k in _sync.STATE_KEYS if k in accepted}
        super().set_state(accepted)
        # Set as Python would, but quietly (no command): sent back, so the page's copy agrees.
        with self.hold_sync():
            self._set_quietly(state)
        if refused:  # the page keeps no stale copy of the kernel's state
            self.send_state(refused)

    def _frame_at(self, time: float) -> int:
        clock = self.probe.clock
        return clock.frame_at(time) if clock is not None else 0

    def _clamp_frame(self, frame: int) -> int:
        count = self.probe.clock.frame_count if self.probe.clock is not None else 1
        return max(0, min(int(frame), count - 1))

    def _mid_time(self, frame: int) -> float:
        clock = self.probe.clock
        return clock.middle_of(frame) if clock is not None else 0.0

    def markers(
        self, times: Any = None, labels: Any = None, *, frames: Any = None, chapters: Any = None
    ) -> None:
        """Ticks on a bar under the video, at ``times`` (seconds) or ``frames=``, with
        optional ``labels``; clicking one seeks there. Chapters: ``chapters=`` (or the first
        argument) a WebVTT file or a list of ``(start, end, label)``. Replaces the previous
        markers; ``p.markers()`` clears them."""
        self._markers = _markers.build(
            times, labels, frames=frames, chapters=chapters, clock=self.probe.clock
        )
        self._update_saved_output()

    def _saved_visuals(self) -> dict[str, Any]:
        """Overlays and markers for the saved output: JSON, the packed marks as base64."""
        kept: set[str] = set()
        if self._overlays:  # overlay.py needs numpy, which show() alone never loads
            from .overlay import saved_layers

            kept = saved_layers(self._overlays, self._overlay_styles)
        overlays = {
            name: {**state, "data": base64.b64encode(bytes(state["data"])).decode("ascii")}
            for name, state in self._overlays.items()
            if name in kept
        }
        saved: dict[str, Any] = {
            "overlays": overlays,
            "overlays_unsaved": [name for name in self._overlays if name not in kept],
            "overlays_hidden": list(self._overlays_hidden),
            "overlay_styles": self._overlay_styles,
            "markers": self._markers,
            "annotations": self._annotations,
        }
        saved.update(self._saved_strips())
        clock = self._facts.get("clock")
        # What the page needs to place them with no kernel.
        if overlays or self._markers or self._annotations or self._timelines:
            saved.update(
                clock=clock,
                duration=self.duration,
                video_width=self.video_width,
                video_height=self.video_height,
            )
        elif clock is not None and len(clock["runs"]) <= _SAVED_CLOCK_MAX_RUNS:
            saved["clock"] = clock  # frame-exact clips and steps in a reopened notebook
        return saved

    def _update_saved_output(self) -> None:
        """Rewrite this player's displayed outputs (its own and its grids'), so a saved
        notebook keeps what was drawn."""
        super()._update_saved_output()
        for grid in list(self._grids):
            grid._update_saved_output()

    def _saved_spec(self) -> dict[str, Any]:
        """The saved output's state: enough to draw the player with no kernel."""
        return {
            "version": 1,
            "src": self.src,
            "name": self.name,
            "player_id": self.player_id,
            "options": {
                **{name: getattr(self, name) for name in SAVED_OPTIONS},
                "audio_only": self._probe.video is None,
            },
            **self._saved_visuals(),
        }

    def _plain_text(self) -> str:
        return f"Video: {self.name}"

    def _fallback_html(self) -> str:
        """What renderers without this package show: the player itself, drawn by the package's
        module inlined here, if the file sits beside the notebook (an HTML export opened next
        to it plays, seeks and keeps the clip, with no kernel and no CDN), with a plain <video>
        where scripts do not run; else a still frame and the file's name; never an empty box."""
        spec, fallback = self._page_parts()
        if spec is None:
            return fallback
        return spec_html(spec, fallback, with_module=_carries_module(self.player_id))

    def _page_parts(self) -> tuple[dict[str, Any] | None, str]:
        """The spec a page without a server draws the player from (None when the file is not
        beside the notebook) and the HTML shown where scripts do not run."""
        name = html.escape(self.name)
        note = f"<b>Video:</b> {name} <i>(plays in Jupyter with jupyter-rangevideo)</i>"
        # A player shown from its header is displayed at once: its poster, if not made yet,
        # joins the saved output when the probe has settled.
        still = self._poster_if_ready() if self._quick_display else self._poster
        poster = html.escape(still, quote=True) if still else ""
        relative = self._relative_source()
        if relative is None:
            still = (
                f'<img src="{poster}" alt="First frame of {name}" style="max-width:100%"><br>'
                if poster
                else ""
            )
            return None, f'<div class="jp-RangeVideo-fallback">{still}<p>{note}</p></div>'
        src = html.escape(relative, quote=True)
        poster_attribute = f' poster="{poster}"' if poster else ""
        fallback = (
            f'<div class="jp-RangeVideo-fallback"><video src="{src}"{poster_attribute} controls '
            f'preload="metadata" style="max-width:100%"><p>{note}</p></video><p><small>{name}</small></p></div>'
        )
        spec = self._saved_spec()
        spec["options"]["_local_src"] = relative
        if sum(len(layer["data"]) for layer in spec.get("overlays", {}).values()) > _OVERLAYS_IN_HTML_MAX:
            # Large overlays are saved once, in the player's own output; `rangevideo export`
            # carries them into shared pages.
            spec["overlays"] = {}
        for strip in [
            n for n, s in spec.get("timelines", {}).items() if len(s.get("t", "")) > _OVERLAYS_IN_HTML_MAX
        ]:
            del spec["timelines"][strip]  # as large overlays
        return spec, fallback

    def _relative_source(self) -> str | None:
        """The file's URL path relative to the kernel's working directory (the notebook's
        folder), or None when it lies elsewhere (or is remote)."""
        if self._source is None:
            return None
        try:
            relative = self._source.relative_to(Path.cwd())
        except ValueError:
            return None
        return None if ".." in relative.parts else quote(relative.as_posix())


def _carries_module(player_id: str) -> bool:
    """One copy of the player module (about 45 KB) per notebook: it draws every player's
    holder on the page, so only the first player (or grid) shown by this kernel carries it."""
    global _module_carrier
    _module_carrier = _module_carrier or player_id
    return _module_carrier == player_id

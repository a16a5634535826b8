"""Several players in one output that play, pause, seek, step and change rate together.

Why one widget that draws the players' views (rather than an ipywidgets GridBox of
players): the page has to keep the videos within a frame of each other during playback,
which needs all of them in one place on the page (a correction loop reads each video's
presented frame time and nudges the others), and a saved notebook must still show the
grid with no kernel (a GridBox's children are widget models that a reopened notebook no
longer has). The grid's page code mounts each player's own view (``mountPlayer`` in
player.js, bound to the player's live model), so everything a player does on its own
(overlays, markers, Python control) works inside a grid too.

Commands go through each player's own API; the grid's page code only corrects drift: the
first player leads, the others follow its presented ``mediaTime`` (plus their offsets),
by nudging their playback rate for small drift and re-seeking beyond a threshold.
"""

from __future__ import annotations

import math
import os
import sys
import types
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from .embed import spec_html
from .output import SavedOutput
from .widget import Player, _carries_module


class Grid(SavedOutput, anywidget.AnyWidget):
    """Players in a grid that move together. ``g.players[i]`` is each one's :class:`Player`."""

    _esm = Path(__file__).parent / "static" / "player.js"

    _grid = t.Bool(True).tag(sync=True)  # tells player.js to draw a grid for this model
    player_id = t.Unicode(help="ties a saved output to this live grid").tag(sync=True)
    _players = t.List(t.Dict(), help="each player's id and source").tag(sync=True)
    columns = t.Int(1).tag(sync=True)
    offsets = t.List(t.Float(), help="seconds: player i shows t + offsets[i] at grid time t").tag(sync=True)
    # Strips under the whole grid, on the first player's time (timeline.py).
    _timelines = t.Dict({}).tag(sync=True)

    def __init__(
        self, players: Sequence[Player], *, columns: int | None = None, offsets: Sequence[float] | None = None
    ):
        if not players:
            raise ValueError("a grid needs at least one video")
        offsets = [0.0] * len(players) if offsets is None else [float(offset) for offset in offsets]
        if len(offsets) != len(players):
            raise ValueError(f"{len(offsets)} offsets for {len(players)} videos")
        if not all(math.isfinite(offset) for offset in offsets):
            raise ValueError("offsets are finite numbers of seconds")
        columns = math.ceil(math.sqrt(len(players))) if columns is None else int(columns)
        if columns < 1:
            raise ValueError("columns must be >= 1")
        super().__init__(
            player_id=uuid.uuid4().hex,
            _players=[{"player_id": p.player_id, "src": p.src, "name": p.name} for p in players],
            columns=columns,
            offsets=offsets,
        )
        self.players: list[Player] = list(players)
        for player in self.players:
            player._grids.add(self)

    @property
    def leader(self) -> Player:
        return self.players[0]

    # --- commands: each player's own API, so each one's state stays true in Python ----
    def seek(self, time: float) -> None:
        """Show grid time ``time`` seconds in every player (player i at time + offsets[i])."""
        for player, offset in zip(self.players, self.offsets):
            player.seek(max(0.0, float(time) + offset))

    @property
    def frame(self) -> int:
        """The frame the first player presents."""
        return self.leader.frame

    @frame.setter
    def frame(self, frame: int) -> None:
        """Show the first player's ``frame`` and, in the others, the frame at the same grid time."""
        clock = self.leader.probe.clock
        if clock is None:
            raise ValueError("the first video has no frames")
        if int(frame) != frame or frame < 0:
            raise ValueError(f"a frame is a whole number >= 0, not {frame!r}")
        grid_time = clock.time_of(int(frame)) - self.offsets[0]
        for player, offset in zip(self.players, self.offsets):
            own = player.probe.clock
            if own is None:
                player.seek(max(0.0, grid_time + offset))
            else:  # the player's own frame command: exactly that frame
                player.frame = own.frame_at(max(0.0, grid_time + offset) + 1e-6)

    def step(self, n: int = 1) -> None:
        """Pause, then move every player ``n`` frames of the leader (negative: back)."""
        target = max(0, self.frame + int(n))
        self.pause()
        self.frame = target

    def play(self) -> None:
        for player in self.players:
            player.play()

    def pause(self) -> None:
        for player in self.players:
            player.pause()

    @property
    def playback_rate(self) -> float:
        return self.leader.playback_rate

    @playback_rate.setter
    def playback_rate(self, rate: float) -> None:
        for player in self.players:
            player.playback_rate = rate

    @property
    def paused(self) -> bool:
        return self.leader.paused

    def timeline(self, data: Any, **options: Any) -> Any:
        """A strip under the whole grid, on the first player's time: a click or drag seeks
        every player (see Player.timeline for the options)."""
        from . import timeline as _timeline

        name = options.pop("name", None)
        kind = options.pop("kind", "line")
        return _timeline.add(self, data, self.leader.probe.clock, name=name, kind=kind, **options)

    # --- display -----------------------------------------------------------------------
    def _saved_spec(self) -> dict[str, Any]:
        from . import timeline as _timeline

        strips = {"timelines": _timeline.saved(self._timelines)} if self._timelines else {}
        return {
            **strips,
            "version": 1,
            "grid": True,
            "player_id": self.player_id,
            "name": ", ".join(player.name for player in self.players),
            "columns": self.columns,
            "offsets": list(self.offsets),
            "players": [player._saved_spec() for player in self.players],
        }

    def _plain_text(self) -> str:
        return f"Grid of {len(self.players)} videos: {', '.join(player.name for player in self.players)}"

    def _fallback_html(self) -> str:
        """What renderers without this package show (see Player._fallback_html): the grid,
        drawn by the package's module, when every file sits beside the notebook; else each
        player's still frame and name."""
        parts = [player._page_parts() for player in self.players]
        fallback = f'<div class="jp-RangeVideo-grid-fallback">{"".join(html for _, html in parts)}</div>'
        specs = [spec for spec, _ in parts if spec is not None]
        if len(specs) < len(parts):
            return fallback
        spec = {**self._saved_spec(), "players": specs}
        return spec_html(spec, fallback, with_module=_carries_module(self.player_id))

    def __repr__(self) -> str:
        return f"<Grid of {len(self.players)}: {', '.join(player.name for player in self.players)}>"


def grid(
    sources: Sequence[str | os.PathLike[str] | Player],
    columns: int | None = None,
    offsets: Sequence[float] | None = None,
    **show_options: Any,
) -> Grid:
    """Display several videos (paths or existing players) in one grid that plays, pauses,
    seeks, steps and changes rate together, and return it. ``offsets`` in seconds: player
    i shows grid time t + offsets[i] (for sources that start at different moments).
    ``show_options`` (controls, muted, width, ...) apply to the players made from paths."""
    players = [source if isinstance(source, Player) else Player(source, **show_options) for source in sources]
    g = Grid(players, columns=columns, offsets=offsets)
    g._show()
    return g


class _CallableModule(types.ModuleType):
    """``rangevideo.grid(...)`` works even where the package's ``grid`` is this module
    (after ``import jupyter_rangevideo.grid``): the module calls the function."""

    def __call__(self, *args: Any, **kwargs: Any) -> Grid:
        return grid(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

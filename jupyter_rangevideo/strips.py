"""What a Player adds for timeline strips and labelled events (the work is in timeline.py,
imported when first used: it needs numpy, which show() does not load)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import traitlets as t

if TYPE_CHECKING:
    from . import timeline as _timeline
    from .probe import Probe


class Strips(t.HasTraits):
    """Mixed into Player before anywidget.AnyWidget."""

    if TYPE_CHECKING:  # Player's (settling.py: waits for PyAV's probe)

        @property
        def probe(self) -> Probe: ...

    # Strips under the video by name (timeline.py: samples as binary buffers), the labelling
    # keys ({key: label}) and the labelled events, [start, end or None, label] rows that the
    # page appends to as keys are pressed.
    _timelines = t.Dict({}).tag(sync=True)
    _label_keys = t.Dict({}).tag(sync=True)
    _events: t.List[list[Any]] = t.List([]).tag(sync=True)

    def _update_saved_output(self) -> None:
        raise NotImplementedError

    def timeline(
        self, data: Any, *, kind: str = "line", name: str | None = None, **options: Any
    ) -> _timeline.Timeline:
        """A strip under the video, across its displayed width, from time 0 at the left edge
        to the duration at the right; a click or drag seeks to the frame there, the wheel
        (or a shift-drag) zooms, a double-click resets. ``kind="line"``: signals against a
        ``time`` column in seconds (``time=`` names it) or ``frame=`` a column of frame
        numbers; ``columns`` the signals (default: every other numeric column).
        ``kind="events"``: ``start``, ``end`` and ``label`` columns (an ethogram), a colour per
        label. ``height`` in pixels, ``colors`` (a dict by column or label, a list or one CSS
        colour). A strip of the same ``name`` is replaced. Returns the strip: ``.remove()``
        drops it."""
        from . import timeline as _timeline

        return _timeline.add(self, data, self.probe.clock, name=name, kind=kind, **options)

    def label_events(self, keys: dict[str, str] | None, *, colors: Any = None) -> None:
        """Label intervals from the keyboard: ``keys`` maps a key to a label, e.g.
        ``{"g": "grooming", "r": "rearing"}``. In the focused player a key starts an interval
        at the presented frame and the same key ends it; the intervals are ``p.events`` and
        show on an events strip under the video. ``p.label_events(None)`` stops (the events
        stay). Keys the player uses itself are refused with a ValueError."""
        from . import timeline as _timeline

        _timeline.label_events(self, keys, colors)

    @property
    def events(self) -> Any:
        """The labelled events (see label_events): a DataFrame of start_frame, end_frame
        (<NA> while the interval is open) and label."""
        from . import timeline as _timeline

        return _timeline.events_frame(self._events)

    @events.setter
    def events(self, rows: Any) -> None:
        """Replace the labelled events: a DataFrame like ``p.events`` or (start, end, label) rows."""
        from . import timeline as _timeline

        self._events = _timeline.event_rows(rows)

    @t.observe("_events")
    def _events_changed(self, change: dict[str, Any]) -> None:
        if self._timelines:  # the saved notebook keeps them
            self._update_saved_output()

    def _saved_strips(self) -> dict[str, Any]:
        if not self._timelines:
            return {}
        from . import timeline as _timeline

        return _timeline.saved_state(self)

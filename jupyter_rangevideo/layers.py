"""What a Player adds for overlay layers: drawing a table's marks over the video, listing and
removing layers (the packing is in overlay.py, imported when first used: it needs numpy, which
show() does not load)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import traitlets as t

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from . import overlay as _overlay
    from .probe import Probe


class Layers(t.HasTraits):
    """Mixed into Player before anywidget.AnyWidget."""

    if TYPE_CHECKING:  # Player's (settling.py: waits for PyAV's probe)

        @property
        def probe(self) -> Probe: ...

    # Overlay layers by name (overlay.py: packed marks, sent once as binary buffers) and the
    # names of the hidden ones.
    _overlays = t.Dict({}).tag(sync=True)
    _overlays_hidden = t.List(t.Unicode()).tag(sync=True)
    # How each layer is drawn (overlay.style): colours, skeleton, min_score; small, so a
    # change never sends the marks again.
    _overlay_styles = t.Dict({}).tag(sync=True)

    def _update_saved_output(self) -> None:
        raise NotImplementedError

    if TYPE_CHECKING:  # ipywidgets' Widget, which Player also is

        def hold_sync(self) -> AbstractContextManager[None]: ...

    def overlay(
        self,
        data: Any,
        *,
        name: str | None = None,
        color: Any = None,
        skeleton: Any = None,
        min_score: float | None = None,
        save: bool | None = None,
    ) -> _overlay.Overlay:
        """Draw marks over the video, each on its frame: ``data`` is a list of dicts or a
        pandas DataFrame (``read_annotations`` returns one), one row a mark with ``frame`` (or
        ``time`` in seconds), ``kind`` ("box": x, y, w, h; "point": x, y; "line": x, y, x2,
        y2; "text": x, y, label; default "box"), coordinates in source-video pixels, and
        optional ``color`` (CSS), ``label``, ``width`` (line width), ``track``, ``keypoint``
        and ``score``. Each track gets its own colour unless ``color`` (a CSS colour, or a
        mapping of track -> colour) is given; ``skeleton`` (pairs of keypoint names) joins the
        keypoints of one track on one frame; marks scored below ``min_score`` are hidden. A
        layer of the same ``name`` is replaced. The saved notebook keeps the layer (drawn with no
        kernel) when ``save`` is True, or by default when the player's saved layers stay under
        ``overlay.SAVED_MAX_BYTES``. Returns the layer: ``.visible`` shows or hides it,
        ``.min_score`` changes the threshold, ``.remove()`` drops it."""
        from . import overlay as _overlay

        layer = _overlay.layer_names(self._overlays, name)
        packed = _overlay.pack(data, self.probe.clock)
        drawn = {**_overlay.style(packed, color=color, skeleton=skeleton, min_score=min_score), "save": save}
        with self.hold_sync():
            self._overlays = {
                **{k: v for k, v in self._overlays.items() if k != layer},
                layer: packed.state(),
            }
            self._overlay_styles = {**self._overlay_styles, layer: drawn}
            self._overlays_hidden = [n for n in self._overlays_hidden if n != layer]
        self._update_saved_output()
        return _overlay.Overlay(self, layer, packed.count)

    @property
    def overlays(self) -> list[_overlay.Overlay]:
        """The overlay layers on this player, in drawing order."""
        from . import overlay as _overlay

        return [_overlay.Overlay(self, name, state["count"]) for name, state in self._overlays.items()]

    def _remove_overlay(self, name: str) -> None:
        with self.hold_sync():
            self._overlays = {k: v for k, v in self._overlays.items() if k != name}
            self._overlay_styles = {k: v for k, v in self._overlay_styles.items() if k != name}
            self._overlays_hidden = [n for n in self._overlays_hidden if n != name]
        self._update_saved_output()

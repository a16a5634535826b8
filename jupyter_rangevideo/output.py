"""A widget shown as an output of its own that the notebook saves: what Player and Grid share.

Each is displayed under its ``player_id`` as a display id, so that a later change (an
overlay drawn, markers set, a player added to a grid) rewrites the output the notebook
saves. The output carries, beside the widget view, the saved spec (``MIMETYPE``, drawn by the
package's own renderer with no kernel), a text/html fallback and a line of text.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from .embed import MIMETYPE

if TYPE_CHECKING:
    # The Player's mixins are only ever mixed into an anywidget: typed as one.
    import anywidget

    WidgetBase = anywidget.AnyWidget
else:
    WidgetBase = object


class SavedOutput(WidgetBase):
    """Mixed in before ``anywidget.AnyWidget``; the class supplies the three parts of its output."""

    player_id: str
    # An output to rewrite when what it shows changes.
    _displayed = False
    # Shown by show() or grid() already: not again as the value of the cell that called it.
    _skip_next_displayhook = False

    def _saved_spec(self) -> dict[str, Any]:
        """The state that draws this output with no kernel (the MIMETYPE part)."""
        raise NotImplementedError

    def _fallback_html(self) -> str:
        """What renderers without this package show."""
        raise NotImplementedError

    def _plain_text(self) -> str:
        raise NotImplementedError

    # A plain data dict, which IPython takes too (typed as a tuple upstream): display(raw=True) needs one.
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        data: Any = super()._repr_mimebundle_(**kwargs) or {}
        if isinstance(data, tuple):  # (data, metadata)
            data = data[0]
        bundle: dict[str, Any] = dict(data)
        bundle[MIMETYPE] = self._saved_spec()
        bundle["text/html"] = self._fallback_html()
        bundle["text/plain"] = self._plain_text()
        return bundle

    def _ipython_display_(self) -> None:
        """Display under player_id (so that the saved output can be updated), except as the
        value of the cell that show() or grid() displayed it from already."""
        from IPython.display import display

        if self._skip_next_displayhook and _called_from_displayhook():
            self._skip_next_displayhook = False
            return
        self._displayed = True
        display(self._repr_mimebundle_(), raw=True, display_id=self.player_id)

    def _show(self) -> None:
        """Display now, for show() and grid(), and not again as the cell's value. An output that
        show() displayed already under player_id (early.py) is replaced."""
        from IPython.display import display

        if self._displayed:
            self._update_saved_output()
        else:
            display(self)
        self._skip_next_displayhook = True

    def _update_saved_output(self) -> None:
        """Rewrite the displayed output, so a saved notebook keeps what it shows now."""
        if self._displayed:
            from IPython.display import update_display

            update_display(self._repr_mimebundle_(), display_id=self.player_id, raw=True)


def _called_from_displayhook() -> bool:
    from IPython.core.displayhook import DisplayHook

    frame: FrameType | None = sys._getframe(1)
    for _ in range(20):
        if frame is None:
            return False
        if frame.f_code.co_name == "__call__" and isinstance(frame.f_locals.get("self"), DisplayHook):
            return True
        frame = frame.f_back
    return False

"""nbconvert parts: ``jupyter nbconvert --to rangevideo`` and the players of ``--to html``.

``--to rangevideo``: nbconvert's HTML export whose players play anywhere. The clips go
beside the HTML, in nbconvert's ``NAME_files/`` folder (its writer saves them from the
resources), and the page draws each player from its saved spec with the package's player
module, inlined. ``--execute`` runs first, as for ``--to html``.

``OfflinePlayersPreprocessor``: enabled for every HTML export (``--to html``, slides,
webpdf, ``rangevideo``) by the ``jupyter_nbconvert_config.json`` this package installs in
``{sys.prefix}/etc/jupyter``. It makes players draw from their own text/html (the package's
module, no CDN) instead of from the widget state that ``--execute`` stores.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Int

from . import embed, saved
from . import share as _export


class OfflinePlayersPreprocessor(Preprocessor):
    """Players drawn by the package's own module, from their saved text/html, not by the
    widget manager from a CDN: drops the players' widget views and widget state (see
    saved.drop_widget_views) and makes sure one player output carries the module. Other
    outputs and other widgets are untouched."""

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        outputs = saved.player_outputs(nb)
        if outputs:
            saved.drop_widget_views(nb, outputs)
            with_module(outputs)
        return nb, resources


def _html_of(output: Any) -> str:
    text = output.get("data", {}).get("text/html", "")
    return "".join(text) if isinstance(text, list) else str(text)


def with_module(outputs: list[Any]) -> None:
    """The module once among the player outputs' text/html, when a holder needs it: the first
    player's output carries it in the kernel, but that output may have been cleared or
    deleted while later ones were kept."""
    htmls = [_html_of(output) for output in outputs]
    if any(embed.has_module(text) for text in htmls):
        return
    holder = f'class="{embed.SPEC_CLASS}"'
    first = next((i for i, text in enumerate(htmls) if holder in text), None)
    if first is not None:
        outputs[first]["data"]["text/html"] = htmls[first] + embed.module_script()


class RangeVideoPreprocessor(Preprocessor):
    """Writes each player's clip into the resources and points the player at it."""

    max_height = Int(0, help="downscale clips taller than this many lines (0: keep the size)").tag(
        config=True
    )
    crf = Int(23, help="libx264 quality of re-encoded clips (lower is better and bigger)").tag(config=True)
    preview = Bool(False, help="a short animated preview in each player's fallback").tag(config=True)

    def preprocess(self, nb: Any, resources: Any) -> tuple[Any, Any]:
        players = _export.check_players(nb, self.max_height or None)
        if not players:
            return nb, resources
        name = resources.get("metadata", {}).get("name") or "notebook"
        files = resources.get("output_files_dir") or f"{name}_files"
        work = Path(tempfile.mkdtemp(prefix=".rangevideo-"))
        try:
            _export.write_clips(players, work / "clips", crf=self.crf, log=sys.stderr)
            previews = _export.make_previews(players, work) if self.preview else {}
            outputs = resources.setdefault("outputs", {})
            for player in {p.clip: p for p in players}.values():
                outputs[f"{files}/{player.clip}"] = (work / player.clip).read_bytes()
            _export.rewrite(nb, players, lambda p: quote(f"{files}/{p.clip}"), previews)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return nb, resources


class RangeVideoExporter(HTMLExporter):
    """HTML with playable players: ``jupyter nbconvert --to rangevideo NOTEBOOK``."""

    export_from_notebook = "HTML with playable videos"

    @property
    def default_config(self) -> Any:
        config = super().default_config
        config.merge({"HTMLExporter": {"template_name": "lab"}})
        return config

    # nbconvert has no type hints: its calls are untyped, and its stubs declare the HTML
    # exporter's output a NotebookNode where it returns the page's text.
    def _init_preprocessors(self) -> None:
        super()._init_preprocessors()  # type: ignore[no-untyped-call]
        # After the others, so that --execute has made the outputs first.
        self.register_preprocessor(RangeVideoPreprocessor, enabled=True)  # type: ignore[no-untyped-call]

    def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> tuple[str, Any]:  # type: ignore[override]
        body, resources = super().from_notebook_node(nb, resources, **kw)
        return _export.with_player_module(body), resources

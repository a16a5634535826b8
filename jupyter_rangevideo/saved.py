"""Player outputs saved in a notebook: finding them, and making them draw from their own HTML.

A notebook executed with its widget state stored (``jupyter nbconvert --execute``, nbclient,
JupyterLab's "save widget state") holds, for each player, a widget view and the model's
state. nbconvert's HTML templates prefer the widget view and draw it with the widget manager
from a CDN: offline an empty box. ``drop_widget_views`` removes the players' views and
models, so the page shows their text/html, drawn by the package's own module.

Pure functions on a notebook dict (or nbformat's NotebookNode): no I/O, no imports of the
widget or of nbconvert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .embed import MIMETYPE

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

_MODEL_REFERENCE = re.compile(r"IPY_MODEL_([0-9A-Za-z_-]+)")


def player_outputs(nb: Any) -> list[Any]:
    """Every player or grid output of the notebook (the output dicts themselves, in order)."""
    found = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            if MIMETYPE in (output.get("data") or {}):
                found.append(output)
    return found


def player_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The player specs in a saved spec: the grid's players, or the player itself."""
    if spec.get("grid"):
        return [player for player in spec.get("players", []) or [] if isinstance(player, dict)]
    return [spec]


def _references(value: Any) -> set[str]:
    """Model ids a widget's state points at ("IPY_MODEL_<id>" strings, anywhere in it)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.update(_MODEL_REFERENCE.findall(item))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _closure(roots: Iterable[str], state: dict[str, Any]) -> set[str]:
    """``roots`` and every model of ``state`` they reach."""
    seen: set[str] = set()
    stack = [root for root in roots if root in state]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        entry = state.get(model)
        stack.extend(ref for ref in _references(entry) if ref in state and ref not in seen)
    return seen


def drop_widget_views(nb: Any, outputs: Iterable[Any]) -> set[str]:
    """Remove the widget view from each of ``outputs`` (player or grid outputs of ``nb``) and
    their models from the notebook's saved widget state: the players' own models (by the
    view's model id or the spec's ``player_id``, which also finds a grid's players) and the
    models only they use (their layouts). Other widgets and their models stay. The ``widgets``
    metadata goes when nothing is left in it, so nbconvert adds no widget-manager scripts.
    Returns the ids of the models removed."""
    models: set[str] = set()
    player_ids: set[str] = set()
    for output in outputs:
        data = output.get("data") or {}
        view = data.pop(WIDGET_VIEW, None)
        if isinstance(view, dict) and isinstance(view.get("model_id"), str):
            models.add(view["model_id"])
        spec = data.get(MIMETYPE)
        if isinstance(spec, dict):
            player_ids.add(str(spec.get("player_id", "")))
            player_ids.update(str(player.get("player_id", "")) for player in player_specs(spec))
    player_ids.discard("")

    widgets = nb.get("metadata", {}).get("widgets")
    state = widgets.get(WIDGET_STATE, {}).get("state") if isinstance(widgets, dict) else None
    if not isinstance(state, dict):
        return set()
    for model, entry in state.items():
        inner = entry.get("state") if isinstance(entry, dict) else None
        if isinstance(inner, dict) and inner.get("player_id") in player_ids:
            models.add(model)
    # What the players reach goes, unless something that stays reaches it too: the other
    # models, and the widget views left in the outputs.
    candidates = _closure(models, state)
    kept_roots = [model for model in state if model not in candidates]
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            view = (output.get("data") or {}).get(WIDGET_VIEW)
            if isinstance(view, dict) and isinstance(view.get("model_id"), str):
                kept_roots.append(view["model_id"])
    removed = candidates - _closure(kept_roots, state)
    for model in removed:
        del state[model]
    if not state:
        nb["metadata"].pop("widgets", None)
    return removed

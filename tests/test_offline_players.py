"""HTML exports of executed notebooks draw players with the package's own module, not with the
widget manager from a CDN: OfflinePlayersPreprocessor drops the players' widget views and
widget state (and only theirs), keeps one copy of the module, and is enabled for every HTML
exporter by the nbconvert config file the package installs."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import nbformat
import pytest

from jupyter_rangevideo import embed
from jupyter_rangevideo.nbexporter import OfflinePlayersPreprocessor
from jupyter_rangevideo.saved import WIDGET_STATE, WIDGET_VIEW

VIEW = WIDGET_VIEW
HOLDER = f'<div class="{embed.SPEC_CLASS}" data-name="a.mp4">fallback</div>'
MODULE = '<script type="module">globalThis.__jupyterRangevideoPage = true;</script>'


def view(model: str) -> dict:
    return {"version_major": 2, "version_minor": 0, "model_id": model}


def model(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "m", "model_module_version": "1", "state": state}


def notebook() -> dict:
    """Two players (the first carrying the module), a grid of two more, a slider widget that
    shares nothing, a plain HTML output and a stream; the widget state as nbclient stores it."""
    players = [
        {"data": {VIEW: view("P1"), embed.MIMETYPE: {"player_id": "p1"}, "text/html": HOLDER + MODULE}},
        {"data": {VIEW: view("P2"), embed.MIMETYPE: {"player_id": "p2"}, "text/html": HOLDER}},
        {
            "data": {
                VIEW: view("G"),
                embed.MIMETYPE: {
                    "grid": True,
                    "player_id": "g",
                    "players": [{"player_id": "g1"}, {"player_id": "g2"}],
                },
                "text/html": HOLDER,
            }
        },
    ]
    others = [
        {"data": {VIEW: view("S"), "text/plain": "IntSlider(value=3)"}},
        {"data": {"text/html": "<b>a table</b>", "text/plain": "a table"}},
        {"name": "stdout", "output_type": "stream", "text": "hello\n"},
    ]
    for output in players + others[:2]:
        output.update(output_type="display_data", metadata={})
    state = {
        "P1": model("AnyModel", player_id="p1", layout="IPY_MODEL_L1"),
        "L1": model("LayoutModel"),
        "P2": model("AnyModel", player_id="p2", layout="IPY_MODEL_L2"),
        "L2": model("LayoutModel"),
        "G": model("AnyModel", player_id="g", layout="IPY_MODEL_LG"),
        "LG": model("LayoutModel"),
        # The grid's players were never shown alone: no view, only their state.
        "G1": model("AnyModel", player_id="g1", layout="IPY_MODEL_LG1"),
        "LG1": model("LayoutModel"),
        "G2": model("AnyModel", player_id="g2", layout="IPY_MODEL_LG2"),
        "LG2": model("LayoutModel"),
        "S": model("IntSliderModel", value=3, layout="IPY_MODEL_LS", style="IPY_MODEL_SS"),
        "LS": model("LayoutModel"),
        "SS": model("SliderStyleModel"),
    }
    cells = [
        {
            "id": f"c{i}",
            "cell_type": "code",
            "source": "",
            "metadata": {},
            "execution_count": 1,
            "outputs": [o],
        }
        for i, o in enumerate(players + others)
    ]
    return {
        "cells": cells,
        "metadata": {"widgets": {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": state}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def preprocess(nb: dict) -> dict:
    node = nbformat.from_dict(nb)
    node, _ = OfflinePlayersPreprocessor().preprocess(node, {})
    return json.loads(json.dumps(node))


def outputs(nb: dict) -> list[dict]:
    return [cell["outputs"][0] for cell in nb["cells"] if cell["outputs"]]


def players_only() -> dict:
    nb = notebook()
    nb["cells"] = nb["cells"][:3] + nb["cells"][4:]
    state = nb["metadata"]["widgets"][WIDGET_STATE]["state"]
    for name in ("S", "LS", "SS"):
        del state[name]
    return nb


def test_players_lose_their_widget_views_and_state_and_nothing_else_changes():
    before = notebook()
    after = preprocess(copy.deepcopy(before))
    old, new = outputs(before), outputs(after)
    for index in range(3):  # the players and the grid: the same output without its widget view
        assert VIEW not in new[index]["data"]
        assert new[index]["data"] == {k: v for k, v in old[index]["data"].items() if k != VIEW}
    assert new[3:] == old[3:]  # the slider keeps its view; plain outputs are untouched
    # The players' models and the layouts only they used are gone; the slider keeps its own.
    assert sorted(after["metadata"]["widgets"][WIDGET_STATE]["state"]) == ["LS", "S", "SS"]


def test_with_players_only_the_widget_metadata_goes():
    assert "widgets" not in preprocess(players_only())["metadata"]


def test_a_model_another_widget_uses_stays():
    nb = notebook()
    # A box that holds the first player: the player is drawn inside it by the widget manager.
    box = {"data": {VIEW: view("B"), "text/plain": "VBox"}, "output_type": "display_data", "metadata": {}}
    nb["cells"].append(
        {
            "id": "box",
            "cell_type": "code",
            "source": "",
            "metadata": {},
            "execution_count": 2,
            "outputs": [box],
        }
    )
    nb["metadata"]["widgets"][WIDGET_STATE]["state"]["B"] = model("VBoxModel", children=["IPY_MODEL_P1"])
    state = preprocess(nb)["metadata"]["widgets"][WIDGET_STATE]["state"]
    assert {"B", "P1", "L1", "S"} <= set(state) and not {"P2", "G", "G1", "LG"} & set(state)


def html_of(nb: dict) -> list[str]:
    return [output.get("data", {}).get("text/html", "") for output in outputs(nb)]


def test_the_module_is_added_once_when_the_output_that_carried_it_is_gone():
    nb = notebook()
    assert [embed.has_module(html) for html in html_of(preprocess(nb))] == [True] + [False] * 5
    nb["cells"][0]["outputs"] = []  # the carrier's output was cleared
    html = html_of(preprocess(nb))
    assert [embed.has_module(text) for text in html] == [True] + [False] * 4
    assert html[0].startswith(HOLDER) and "function mountPlayer(" in html[0]


def test_no_module_without_a_holder_that_needs_it():
    nb = notebook()
    for output in outputs(nb)[:3]:
        output["data"]["text/html"] = "<img src='still.png'><p>a.mp4</p>"
    assert not any(embed.has_module(html) for html in html_of(preprocess(nb)))


def test_the_installed_nbconvert_config_enables_it_for_every_html_exporter():
    from jupyter_core.paths import jupyter_config_path
    from nbconvert.exporters import HTMLExporter, SlidesExporter, WebPDFExporter
    from nbconvert.nbconvertapp import NbConvertApp

    from jupyter_rangevideo.nbexporter import RangeVideoExporter

    installed = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_nbconvert_config.json"
    assert str(installed.parent) in jupyter_config_path()
    assert json.loads(installed.read_text())["HTMLExporter"]["preprocessors"] == [
        "jupyter_rangevideo.nbexporter.OfflinePlayersPreprocessor"
    ]
    app = NbConvertApp()
    app.load_config_file()
    for exporter in (HTMLExporter, SlidesExporter, WebPDFExporter, RangeVideoExporter):
        enabled = [type(p) for p in exporter(config=app.config)._preprocessors if p.enabled]
        assert OfflinePlayersPreprocessor in enabled, exporter


@pytest.mark.parametrize("template", ["lab", "classic"])
def test_the_html_page_has_the_players_and_no_widget_manager(template):
    from nbconvert.exporters import HTMLExporter

    nb = players_only()
    exporter = HTMLExporter(template_name=template)
    exporter.register_preprocessor(OfflinePlayersPreprocessor, enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.from_dict(nb))
    assert body.count(f'class="{embed.SPEC_CLASS}"') == 3 and body.count("__jupyterRangevideoPage") == 1
    assert WIDGET_STATE not in body and "html-manager" not in body and "unpkg" not in body
    # Without it, nbconvert picks the widget views and loads the widget manager from a CDN.
    plain, _ = HTMLExporter(template_name=template).from_notebook_node(nbformat.from_dict(players_only()))
    assert WIDGET_STATE in plain and ("unpkg" in plain or "jsdelivr" in plain)


async def test_the_servers_html_export_draws_players_offline_too(jp_fetch, jp_root_dir):
    """JupyterLab's "Export Notebook As HTML" (the server's nbconvert handler), which reads the
    server's config rather than nbconvert's config file."""
    nbformat.write(nbformat.from_dict(players_only()), jp_root_dir / "players.ipynb")
    response = await jp_fetch("nbconvert", "html", "players.ipynb", params={"download": "false"})
    body = response.body.decode()
    assert body.count(f'class="{embed.SPEC_CLASS}"') == 3 and WIDGET_STATE not in body

"""Exported notebooks: `jupyter nbconvert --to html` output plays and seeks the video with the
package's own player (inlined in the output, no kernel, no CDN) when opened beside the file,
and shows a still frame and the file's name where it cannot.

The notebook is executed without storing widget state, as JupyterLab saves it by default;
nbconvert then renders the player's text/html output. Frames are read from screenshots:
a page opened from file:// cannot read a video's pixels through a canvas.
"""

import subprocess
import sys

import nbformat
from conftest import FPS, record, wait_for_screenshot_frame
from nbclient import NotebookClient

from jupyter_rangevideo.sample import write_sample

PLAYER_VIDEO = "video.jp-RangeVideo-video"
FALLBACK_STILL = ".jp-RangeVideo-fallback img"


def export_html(folder, video, options: str = "") -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(video)!r}, {options})"
        )
    ]
    NotebookClient(
        notebook, resources={"metadata": {"path": str(folder)}}, store_widget_state=False, timeout=120
    ).execute()
    nbformat.write(notebook, folder / "export.ipynb")
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(folder / "export.ipynb")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (folder / "export.html").as_uri()


def test_exported_html_beside_the_video_plays_and_seeks(page, tmp_path):
    video = write_sample(tmp_path / "clip with spaces.mp4", duration=8, fps=FPS, size=(640, 360))
    page.goto(export_html(tmp_path, video, "start=2, end=7"))
    # The player module replaced the plain <video> with the player; it keeps the clip.
    assert page.locator(".jp-RangeVideo-fallback").count() == 0
    # The native control bar covers the frame-index strip; a person sees the picture above it.
    page.eval_on_selector(PLAYER_VIDEO, "video => { video.controls = false; }")
    page.wait_for_function(f"() => document.querySelector({PLAYER_VIDEO!r}).readyState >= 2")
    wait_for_screenshot_frame(page, PLAYER_VIDEO, 2 * FPS)
    page.eval_on_selector(PLAYER_VIDEO, "video => { video.currentTime = 6; }")
    wait_for_screenshot_frame(page, PLAYER_VIDEO, 6 * FPS)
    page.eval_on_selector(PLAYER_VIDEO, "video => video.play()")
    page.wait_for_function(f"() => document.querySelector({PLAYER_VIDEO!r}).paused")
    wait_for_screenshot_frame(page, PLAYER_VIDEO, 7 * FPS)  # the clip's end


def test_exported_html_away_from_the_video_shows_a_still_and_the_name(page, tmp_path):
    video = write_sample(tmp_path / "recording.mp4", duration=2, fps=FPS, size=(640, 360))
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    page.goto(export_html(notebooks, video))
    assert page.locator("video").count() == 0
    wait_for_screenshot_frame(page, FALLBACK_STILL, 0, tolerance=0)
    assert "recording.mp4" in page.inner_text(".jp-RangeVideo-fallback")


# --- `jupyter nbconvert --execute --to html`: the widget state is stored --------------------

MAGENTA = "#ff00ff"
# Source pixels of a 320x240 video, shown at 320x240: a box on frame 50 only, clear of the
# frame-index strip along the bottom.
BOX = {"frame": 50, "kind": "box", "x": 40, "y": 40, "w": 100, "h": 80, "color": MAGENTA, "width": 10}
OVERLAY_CANVAS = "canvas.jp-RangeVideo-overlay"


def is_magenta(rgb) -> bool:
    r, g, b = (int(v) for v in rgb)
    return r > 225 and g < 40 and b > 225


def element_pixels(page, selector: str):
    import io

    import numpy as np
    from PIL import Image

    png = page.locator(selector).first.screenshot(animations="disabled")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def block_other_hosts(page) -> list[str]:
    """Every request to a host other than 127.0.0.1 fails, as offline; returns the URLs asked for."""
    from urllib.parse import urlsplit

    blocked: list[str] = []

    def handle(route):
        url = route.request.url
        if url.split(":", 1)[0] in ("file", "data", "blob") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", handle)
    return blocked


def test_executed_html_export_plays_offline_with_the_package_module(page, tmp_path):
    import json
    from pathlib import Path

    write_sample(tmp_path / "clip.mp4", duration=4, fps=FPS, size=(320, 240), noise=False)
    notebook = nbformat.v4.new_notebook()
    options = "controls=False, width=320, height=240"
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"import jupyter_rangevideo as rangevideo\na = rangevideo.show('clip.mp4', start=2, {options})"
        ),
        nbformat.v4.new_code_cell(
            f"b = rangevideo.show('clip.mp4', {options})\nlayer = b.overlay({json.dumps([BOX])}, name='boxes')"
        ),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "executed.ipynb")
    jupyter = Path(sys.executable).parent / "jupyter"  # the venv's: its nbconvert reads the venv's config
    subprocess.run(
        [str(jupyter), "nbconvert", "--execute", "--to", "html", "executed.ipynb"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=180,
    )
    html = (tmp_path / "executed.html").read_text()
    # The players' text/html, one copy of the module, and no widget manager or widget state.
    assert html.count('class="jp-RangeVideo-saved"') == 2 and html.count("function mountPlayer(") == 1
    assert "widget-state+json" not in html and "html-manager" not in html

    blocked = block_other_hosts(page)
    page.goto((tmp_path / "executed.html").as_uri())
    page.wait_for_function(
        f"() => [...document.querySelectorAll({PLAYER_VIDEO!r})].length === 2", timeout=30_000
    )
    assert page.locator(".jp-RangeVideo-fallback").count() == 0
    first, second = f"{PLAYER_VIDEO} >> nth=0", f"{PLAYER_VIDEO} >> nth=1"
    for nth, selector in enumerate((first, second)):
        page.locator(selector).scroll_into_view_if_needed()  # the players load once in view
        page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s)[n].readyState >= 2", arg=[PLAYER_VIDEO, nth]
        )
    page.locator(first).scroll_into_view_if_needed()
    wait_for_screenshot_frame(page, first, 2 * FPS)  # the clip starts at 2 s
    page.evaluate("(s) => { document.querySelectorAll(s)[0].currentTime = 3.02; }", PLAYER_VIDEO)
    wait_for_screenshot_frame(page, first, 75)

    # The overlay, from the saved output alone: on frame 50, not on frame 51.
    page.locator(second).scroll_into_view_if_needed()
    for frame, drawn in ((50, True), (51, False), (50, True)):
        page.evaluate(
            "([s, t]) => { document.querySelectorAll(s)[1].currentTime = t; }",
            [PLAYER_VIDEO, (frame + 0.5) / FPS],
        )
        wait_for_screenshot_frame(page, second, frame, tolerance=0)
        page.wait_for_function(
            "([s, f]) => document.querySelectorAll(s)[1]?.dataset.frame === String(f)",
            arg=[OVERLAY_CANVAS, frame],
        )
        page.wait_for_timeout(200)  # let the canvas reach the screen
        shot = element_pixels(page, second)
        assert is_magenta(shot[80, 40]) is drawn, (frame, shot[80, 40])  # the box's left edge
        assert not is_magenta(shot[80, 90])  # inside the box: the picture
    assert not [url for url in blocked if "widget" in url or "unpkg" in url], blocked
    record("nbconvert --execute --to html: bytes", len(html.encode()))
    record("nbconvert --execute --to html: requests blocked (other hosts)", blocked)

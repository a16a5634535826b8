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
from conftest import FPS, wait_for_screenshot_frame
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

"""Where no server reaches the page: JupyterLab with the server extension disabled, and every
request to another port (the kernel's own server) aborted, as in VS Code with a remote kernel or
Colab without its port proxy. The player probes, finds neither, and plays over the widget's
comm: hls.js itself, the playlist and the segments (an MP4 as its remux, an AVI transcoded).
Frames are read from the pixels; seeks and ``p.frame = n`` land on exactly the frame asked for.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from conftest import (
    FPS,
    create_notebook,
    frame_index,
    kernel_eval,
    kernel_value,
    open_notebook,
    run_all_cells,
    seek_in_page,
    start_server,
    wait_for_frame,
)

from jupyter_rangevideo.sample import write_sample


@pytest.fixture(scope="module")
def lab_without_extension(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("no-extension")
    (tmp / "lab-config").mkdir()
    (tmp / "lab-config" / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_rangevideo": False}}})
    )
    server = start_server("lab", tmp)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("comm-clips")
    return {
        "mp4": write_sample(folder / "clip.mp4", 12, FPS, (320, 240)),
        "avi": write_sample(folder / "clip.avi", 8, FPS, (320, 240), codec="mjpeg"),
    }


def block_other_ports(page, server) -> list[str]:
    """Abort every request that leaves the Jupyter server's origin; the aborted URLs."""
    origin = urlsplit(server.url)[:2]
    aborted: list[str] = []

    def handle(route):
        if urlsplit(route.request.url)[:2] == origin or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return aborted


def exact(page, expected: int) -> None:
    wait_for_frame(page, expected, tolerance=0, timeout=60)


@pytest.mark.parametrize("kind", ["mp4", "avi"])
def test_plays_seeks_and_steps_over_the_comm(page, lab_without_extension, clips, kind):
    server = lab_without_extension
    aborted = block_other_ports(page, server)
    notebook = f"comm-{kind}.ipynb"
    show = (
        f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clips[kind])!r}, controls=False)"
    )
    create_notebook(server, notebook, [show])
    open_notebook(page, server, notebook)
    run_all_cells(page)
    exact(page, 0)

    # The extension answered nothing, the kernel's server was tried and cut off, and the
    # bytes (hls.js and its worker included) came over the comm.
    assert kernel_value(page, "p.delivery") == ("direct" if kind == "mp4" else "transcode")
    assert kernel_value(page, "p._kernel_server.get('port') is not None")
    assert any(f":{kernel_value(page, 'p._kernel_server')['port']}/" in url for url in aborted), aborted
    stats = kernel_value(page, "dict(p._page_requests.transport.stats)")
    assert stats["static"] == 2 and stats["playlist"] >= 1 and stats["segment"] >= 1, stats
    assert not page.locator(".jp-RangeVideo-message").is_visible()

    # A seek in the page, then frames set from Python: exactly those frames.
    frames = 12 * FPS if kind == "mp4" else 8 * FPS
    for frame in (frames - 30, 37, frames // 2 + 3):
        seek_in_page(page, (frame + 0.5) / FPS)
        exact(page, frame)
    for frame in (101, 5, frames - 2):
        kernel_eval(page, f"p.frame = {frame}")
        exact(page, frame)
    kernel_eval(page, "p.step(1)")
    exact(page, frames - 1)
    # The keyboard steps as over HTTP.
    page.locator(".jp-RangeVideo").first.focus()
    page.keyboard.press(",")
    exact(page, frames - 2)
    assert kernel_value(page, "p.error") == ""
    assert frame_index(page) == frames - 2
    server.shut_down_kernels(notebook)


def test_transport_comm_plays_without_trying_http(page, lab_without_extension, clips):
    """show(..., transport="comm"): straight to the comm, no request to the extension's routes."""
    server = lab_without_extension
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/rangevideo/" in request.url else None)
    notebook = "comm-forced.ipynb"
    show = (
        "import jupyter_rangevideo as rangevideo\n"
        f"p = rangevideo.show({str(clips['mp4'])!r}, controls=False, transport='comm', start=4)"
    )
    create_notebook(server, notebook, [show])
    open_notebook(page, server, notebook)
    run_all_cells(page)
    exact(page, 4 * FPS)
    assert asked == [], asked
    assert not kernel_value(page, "p._kernel_server")  # never started: nobody asked for it
    server.shut_down_kernels(notebook)

"""Where no server reaches the page: JupyterLab with the server extension disabled, and every
request to another port (the kernel's own server) aborted, as in VS Code with a remote kernel or
Colab without its port proxy. The player probes, finds neither, and plays over the widget's
comm: hls.js itself, the playlist and the segments (an MP4 as its remux, an AVI transcoded).
Frames are read from the pixels; seeks and ``p.frame = n`` land on exactly the frame asked for.
What a person sees beside the video works as over HTTP: an overlay's box on its frame only, a
marker and a timeline strip that seek where clicked, ``p.snapshot()``, a grid of two players on
the frame commanded, keyboard steps, and the seek proxy of a file with far-apart keyframes.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from conftest import (
    FPS,
    VIDEO,
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
from test_overlay_in_browser import BOXES, is_magenta, pixels, show_frame, wait_all
from test_proxy_in_browser import LAYER, paused_seeks_shown_by_proxy, wait_for_top_frame
from test_timeline_in_browser import click_strip, expected_frame, strip_rect, wait_frame_everywhere

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
        "small": write_sample(folder / "small.mp4", 12, FPS, (160, 120)),
        # One keyframe every 10 s: the seek proxy's case.
        "far": write_sample(folder / "far.mp4", 12, FPS, (640, 360), gop=250),
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


def open_over_the_comm(page, server, notebook: str, cells: list[str]) -> list[str]:
    """Run ``cells`` in a new notebook whose page reaches only the Jupyter server; the aborted URLs."""
    aborted = block_other_ports(page, server)
    create_notebook(server, notebook, cells)
    open_notebook(page, server, notebook)
    run_all_cells(page)
    return aborted


def comm_stats(page, player: str = "p") -> dict:
    """What the comm transport of ``player`` has answered, by kind (comm_transport.py)."""
    return kernel_value(page, f"dict({player}._page_requests.transport.stats)")


def exact(page, expected: int) -> None:
    wait_for_frame(page, expected, tolerance=0, timeout=60)


@pytest.mark.parametrize("kind", ["mp4", "avi"])
def test_plays_seeks_and_steps_over_the_comm(page, lab_without_extension, clips, kind):
    server = lab_without_extension
    notebook = f"comm-{kind}.ipynb"
    show = (
        f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clips[kind])!r}, controls=False)"
    )
    aborted = open_over_the_comm(page, server, notebook, [show])
    exact(page, 0)

    # The extension answered nothing, the kernel's server was tried and cut off, and the
    # bytes (hls.js and its worker included) came over the comm.
    assert kernel_value(page, "p.delivery") == ("direct" if kind == "mp4" else "transcode")
    assert kernel_value(page, "p._kernel_server.get('port') is not None")
    assert any(f":{kernel_value(page, 'p._kernel_server')['port']}/" in url for url in aborted), aborted
    stats = comm_stats(page)
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


def test_overlay_markers_strip_and_snapshot_over_the_comm(page, lab_without_extension, clips):
    server = lab_without_extension
    notebook = "comm-layers.ipynb"
    cells = [
        (
            "import jupyter_rangevideo as rangevideo\n"
            f"p = rangevideo.show({str(clips['mp4'])!r}, controls=False, width=640, height=480)"
        ),
        (
            f"layer = p.overlay({BOXES!r}, name='boxes')\n"
            "p.markers(frames=[75], labels=['three seconds'])\n"
            "speed = p.timeline({'time': [i / 10 for i in range(121)], 'speed': [i % 7 for i in range(121)]}, name='speed')"
        ),
    ]
    aborted = open_over_the_comm(page, server, notebook, cells)
    exact(page, 0)
    assert any(f":{kernel_value(page, 'p._kernel_server')['port']}/" in url for url in aborted), aborted

    # The box of frame 50 on frame 50 only (640x480 element, scale 2: its left edge at x=80).
    show_frame(page, 50)
    shot = pixels(page)
    assert is_magenta(shot[160, 80]), shot[160, 80]
    assert not is_magenta(shot[280, 360])  # where frame 52's box would be
    show_frame(page, 51)
    assert not is_magenta(pixels(page)[160, 80])
    show_frame(page, 52)
    shot = pixels(page)
    assert is_magenta(shot[280, 360]) and not is_magenta(shot[160, 80])

    # A marker click and strip clicks seek to their frame; Python follows.
    page.locator(".jp-RangeVideo-tick").first.click()
    wait_frame_everywhere(page, 75)
    width = strip_rect(page, "speed")["width"]
    for x in (200.0, 517.5):
        frame = expected_frame(x, width, view=(0, 12))
        click_strip(page, "speed", x)
        wait_frame_everywhere(page, frame)
        # The kernel's snapshot is the frame presented, decoded there: its pattern says which.
        shown = kernel_eval(
            page,
            "from jupyter_rangevideo.pattern import read_frame_index\nprint(read_frame_index(p.snapshot()))",
        )
        assert int(shown) == frame == frame_index(page)
    stats = comm_stats(page)
    assert stats["segment"] >= 1 and not stats.get("proxy"), stats  # a keyframe a second: no proxy
    assert kernel_value(page, "p.error") == ""
    server.shut_down_kernels(notebook)


def test_grid_of_two_and_the_keyboard_over_the_comm(page, lab_without_extension, clips):
    server = lab_without_extension
    notebook = "comm-grid.ipynb"
    sources = [str(clips["mp4"]), str(clips["small"])]
    cell = f"import jupyter_rangevideo as rangevideo\ng = rangevideo.grid({sources!r}, columns=2, muted=True, controls=False)"
    open_over_the_comm(page, server, notebook, [cell])
    page.locator(VIDEO).nth(1).wait_for()
    wait_all(page, 2, 0, timeout=60)

    kernel_eval(page, "g.frame = 50")
    wait_all(page, 2, 50)
    kernel_eval(page, "g.step(3)")
    wait_all(page, 2, 53)
    kernel_eval(page, "g.seek(10.02)")
    wait_all(page, 2, 250)
    # Keys in the first player step it a frame; the second follows.
    page.locator(".jp-RangeVideo").first.focus()
    page.keyboard.press(".")
    wait_all(page, 2, 251)
    page.keyboard.press(",")
    page.keyboard.press(",")
    wait_all(page, 2, 249)
    # Both players' bytes came over their own comms.
    for player in ("g.players[0]", "g.players[1]"):
        assert comm_stats(page, player)["segment"] >= 1
    assert kernel_value(page, "[q.error for q in g.players]") == ["", ""]
    server.shut_down_kernels(notebook)


def test_seek_proxy_over_the_comm(page, lab_without_extension, clips):
    """A file with a keyframe every 10 s: paused seeks show the proxy's frame first, as over HTTP
    (test_proxy_in_browser.py), the proxy's playlist and segments coming over the comm too."""
    server = lab_without_extension
    notebook = "comm-proxy.ipynb"
    cell = (
        f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clips['far'])!r}, controls=False)"
    )
    open_over_the_comm(page, server, notebook, [cell])
    assert kernel_value(page, "p.proxy") is True
    page.mouse.move(0, 0)
    wait_for_top_frame(page, 0, timeout=60)
    page.wait_for_function("(s) => document.querySelector(s)?.readyState >= 2", arg=LAYER, timeout=60_000)
    # Far from the keyframe at 0 s, where the source's own seek decodes 150 frames and more (near
    # it, the source may present its frame before the proxy does, as over HTTP).
    assert paused_seeks_shown_by_proxy(page, [150, 149, 230, 229]) == [150, 149, 230, 229]
    stats = comm_stats(page)
    assert stats["proxy"] >= 2, stats  # its playlist and a segment at least
    assert kernel_value(page, "p.error") == ""
    server.shut_down_kernels(notebook)

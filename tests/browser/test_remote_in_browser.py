"""Remote videos in a real browser: objects in moto's S3, Azurite (Azure Blob Storage) and
gcp-storage-emulator (Google Cloud Storage) on 127.0.0.1, credentials given in the kernel as
storage_options, and one on an HTTP server with ranges; each streamed through the server
extension and frame-exact from the pixels. The stores start once for the module."""

import collections
import random
import time

import pytest
from conftest import (
    FPS,
    create_notebook,
    frame_index,
    kernel_eval,
    kernel_value,
    open_notebook,
    record,
    run_all_cells,
    wait_for_frame,
)
from remote_stores import Azurite, GcsEmulator, MotoS3, RangeServer

from jupyter_rangevideo.sample import make_large, write_sample

BLOCK = 2**21  # the server's remote_block_size (its default)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The video in each store: name -> (URL, storage_options, what must never reach the page)."""
    video = write_sample(
        tmp_path_factory.mktemp("remote-video") / "remote.mp4", duration=12, fps=FPS, size=(640, 360)
    )
    started = []
    try:
        sources = {}
        for kind in (MotoS3, Azurite, GcsEmulator):
            store = kind().start()
            started.append(store)
            store.put("runs/remote.mp4", video.read_bytes())
            sources[store.name] = (
                store.url("runs/remote.mp4"),
                store.options(),
                (*store.secrets, "runs/remote"),
            )
        http = RangeServer().start()
        started.append(http)
        http.add("remote.mp4", data=video.read_bytes())
        http.add("breaks.mp4", data=video.read_bytes())
        sources["http"] = (http.url("remote.mp4"), None, (str(http.port),))
        yield sources, http
    finally:
        for store in reversed(started):
            store.stop()


@pytest.mark.parametrize("pair", [("s3", "http"), ("az", "gs")])
def test_remote_videos_play_frame_exact(page, servers, stores, pair):
    sources, http = stores
    server = servers("lab")
    cells = ["import jupyter_rangevideo as rangevideo"]
    for name, store in zip("pq", pair):
        url, options, _ = sources[store]
        cells.append(f"{name} = rangevideo.show({url!r}, storage_options={options!r})")
    notebook = f"remote-{'-'.join(pair)}.ipynb"
    create_notebook(server, notebook, ["\n".join(cells[:2]), cells[2]])
    open_notebook(page, server, notebook)
    run_all_cells(page)
    page.wait_for_function("() => document.querySelectorAll('video.jp-RangeVideo-video').length === 2")
    # The cell holds the credentials the user typed; the outputs and the page's requests do not.
    outputs = page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea')].map((e) => e.innerHTML).join()"
        " + [...document.querySelectorAll('video')].map((v) => v.currentSrc).join()"
    )
    for store in pair:
        for secret in sources[store][2]:
            assert secret not in outputs, (store, secret)
    sent_before = sum(http.counts.sent.values())
    for nth, (name, store) in enumerate(zip("pq", pair)):
        wait_for_frame(page, 0, tolerance=0, nth=nth)
        frames = random.Random(nth).sample(range(12 * FPS), 12)
        wrong = []
        for n in frames:
            kernel_eval(page, f"{name}.frame = {n}")
            try:
                wait_for_frame(page, n, tolerance=0, nth=nth, timeout=15)
            except AssertionError:
                wrong.append((n, frame_index(page, nth=nth)))
        record(f"remote {name} ({store}): exact frames of 12 random", 12 - len(wrong))
        assert not wrong, (store, wrong)
        assert kernel_value(page, f"{name}.error") == ""
    fetched = sum(http.counts.sent.values()) - sent_before
    assert fetched < 3 * (12 * FPS * 5000 + 10**6)  # streamed in ranges, not fetched over and over


def test_a_store_that_fails_after_show_is_explained_in_the_player(page, servers, stores):
    _, http = stores
    server = servers("lab")
    create_notebook(
        server,
        "remote-fails.ipynb",
        [
            (
                "import urllib.request, jupyter_rangevideo as rangevideo\n"
                f"r = rangevideo.Player({http.url('breaks.mp4')!r}, poster=False)"
            ),
            f"urllib.request.urlopen({http.url('503/breaks.mp4', mode='control')!r}).status",
            "r",
        ],
    )
    open_notebook(page, server, "remote-fails.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".jp-RangeVideo-message:not([hidden])", timeout=60_000)
    message = page.locator(".jp-RangeVideo-message").inner_text()
    assert "could not be read after 3 attempts" in message and "HTTP 503" in message, message
    assert kernel_value(page, "r.error") == message


def test_a_paused_remote_video_fetches_what_the_browser_reads(page, servers, tmp_path):
    """Seeks while paused, before and after the video has played: Chromium reads from the
    keyframe to some 2 s past the frame (about 7 MiB of this 17 Mbit/s video), and the store is
    asked for that, rounded out to whole blocks, not also for what the server's read-ahead and
    the TCP buffers between server and browser would take (about 7 MiB more a seek before)."""
    segment = write_sample(tmp_path / "segment.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
    video = make_large(segment, tmp_path / "paused.mp4", 96 * 2**20)
    http = RangeServer().start()
    received = collections.Counter()  # bytes the browser received of each request
    remote_requests = set()
    cdp = page.context.new_cdp_session(page)
    cdp.on(
        "Network.requestWillBeSent",
        lambda e: "/~remote/" in e["request"]["url"] and remote_requests.add(e["requestId"]),
    )
    cdp.on("Network.dataReceived", lambda e: received.update({e["requestId"]: e["dataLength"]}))
    cdp.send("Network.enable")
    try:
        http.add_file("paused.mp4", video)
        server = servers("lab")
        create_notebook(
            server,
            "remote-paused.ipynb",
            ["import jupyter_rangevideo as rangevideo", f"p = rangevideo.show({http.url('paused.mp4')!r})"],
        )
        open_notebook(page, server, "remote-paused.ipynb")
        run_all_cells(page)
        wait_for_frame(page, 0, tolerance=0, timeout=60)
        frames = random.Random(5).sample(range(FPS, 3 * 12 * FPS), 10)

        def seeks(chosen):
            """Bytes (from the store, to the browser) for the seeks to frames ``chosen``."""
            time.sleep(1.0)  # what the last step fetched has arrived
            store, browser = http.counts.sent["paused.mp4"], sum(received[r] for r in remote_requests)
            for n in chosen:
                kernel_eval(page, f"p.frame = {n}")
                wait_for_frame(page, n % (12 * FPS), tolerance=0, timeout=30)
            time.sleep(1.0)  # and what the last seek fetched
            browser = sum(received[r] for r in remote_requests) - browser
            return http.counts.sent["paused.mp4"] - store, browser

        never_played = seeks(frames[:5])
        kernel_eval(page, "p.play()")
        page.wait_for_function(
            "(t) => { const v = document.querySelector('video.jp-RangeVideo-video');"
            " return !v.paused && v.currentTime > t; }",
            arg=frames[4] / FPS + 1.5,
            timeout=30_000,
        )
        kernel_eval(page, "p.pause()")
        page.wait_for_function("() => document.querySelector('video.jp-RangeVideo-video').paused")
        played = seeks(frames[5:])
        record(
            "remote paused seeks, MiB a seek from the store and to the browser: never played, after playing",
            [round(b / 5 / 2**20, 2) for b in (*never_played, *played)],
        )
        for store, browser in (never_played, played):
            assert store <= browser + 5 * 2 * BLOCK, (
                never_played,
                played,
            )  # 5 seeks, 2 blocks' rounding each
    finally:
        http.stop()

"""What a person sees: the player in JupyterLab and Notebook 7, checked frame by frame."""

import time

from conftest import (
    FPS,
    VIDEO,
    create_notebook,
    frame_index,
    kernel_value,
    open_notebook,
    record,
    run_all_cells,
    save_notebook,
    seek_in_page,
    wait_for_frame,
    wait_for_kernel,
    wait_for_notebook,
)


def show_cell(path, **options):
    args = "".join(f", {k}={v!r}" for k, v in options.items())
    return f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(path)!r}{args})"


def test_first_frame_seek_and_python_control(page, server, videos):
    name = "control.ipynb"
    create_notebook(server, name, [show_cell(videos["small"])])
    open_notebook(page, server, name)
    started = run_all_cells(page)
    first_frame = wait_for_frame(page, 0)
    assert page.locator(VIDEO).count() == 1  # a bare show() displays one player
    record(f"{server.kind}: cell run to first frame, 10 MB file (ms)", round(first_frame - started))

    # A seek in the page shows the frame at that time, and Python follows.
    asked = seek_in_page(page, 3.0)
    shown = wait_for_frame(page, round(3.0 * FPS))
    record(f"{server.kind}: seek to right frame, 10 MB file (ms)", round(shown - asked))
    wait_for_kernel(page, "p.current_time", lambda t: abs(t - 3.0) < 0.1)
    assert kernel_value(page, "p.duration") > 11.5
    assert kernel_value(page, "[p.video_width, p.video_height]") == [640, 360]

    # Python moves the page.
    kernel_value(page, "p.seek(6.2)")
    wait_for_frame(page, round(6.2 * FPS))
    kernel_value(page, "setattr(p, 'current_time', 9.0)")
    wait_for_frame(page, round(9.0 * FPS))

    kernel_value(page, "setattr(p, 'playback_rate', 2.0)")
    page.wait_for_function("(s) => document.querySelector(s).playbackRate === 2", arg=VIDEO)
    kernel_value(page, "p.seek(1.0) or p.play()")
    page.wait_for_function(
        "(s) => !document.querySelector(s).paused && document.querySelector(s).currentTime > 1.5", arg=VIDEO
    )
    wait_for_kernel(page, "p.paused", lambda paused: paused is False)
    kernel_value(page, "p.pause()")
    page.wait_for_function("(s) => document.querySelector(s).paused", arg=VIDEO)
    time.sleep(0.5)
    at = kernel_value(page, "p.current_time")
    frame = frame_index(page)
    assert abs(frame - at * FPS) <= 2, (frame, at)  # Python and the picture agree after pausing


def test_unplayable_codec_is_explained(page, server, videos):
    # Transcoding would play it: forced to be sent as it is, the browser refuses it.
    name = "codec.ipynb"
    create_notebook(server, name, [show_cell(videos["unplayable"], delivery="direct")])
    open_notebook(page, server, name)
    run_all_cells(page)
    message = page.locator(".jp-RangeVideo-message")
    message.wait_for(state="visible")
    assert "cannot play this video" in message.inner_text()
    wait_for_kernel(page, "p.error", lambda error: "cannot play this video" in error)


def test_missing_file_is_a_python_error_not_a_player(page, server, tmp_path):
    name = "missing.ipynb"
    create_notebook(server, name, [show_cell(tmp_path / "nope.mp4")])
    open_notebook(page, server, name)
    run_all_cells(page)
    page.get_by_text("FileNotFoundError").first.wait_for()
    assert page.locator(".jp-RangeVideo").count() == 0


def test_saved_notebook_is_small_and_plays_after_reopening(page, server, videos):
    name = "reopen.ipynb"
    create_notebook(server, name, [show_cell(videos["large"])])
    open_notebook(page, server, name)
    started = run_all_cells(page)
    first_frame = wait_for_frame(page, 0)
    record(f"{server.kind}: cell run to first frame, 1 GiB file (ms)", round(first_frame - started))
    asked = seek_in_page(page, 7.0)
    shown = wait_for_frame(page, round(7.0 * FPS))
    record(f"{server.kind}: seek to right frame, 1 GiB file (ms)", round(shown - asked))
    save_notebook(page)

    model = server.api("GET", f"api/contents/{name}?type=file&format=text")
    size = len(model["content"].encode())
    record(f"{server.kind}: saved notebook size with a 1 GiB video (bytes)", size)
    assert size < 20_000

    # Shut the kernel down, reload: the cells are not run again.
    server.shut_down_kernels(name)
    page.goto(server.notebook_url(name))
    wait_for_notebook(page, name, kernel=False)
    wait_for_frame(page, 0)
    assert "model not found" not in page.content()
    seek_in_page(page, 4.0)
    wait_for_frame(page, round(4.0 * FPS))
    page.evaluate("(s) => document.querySelector(s).play()", VIDEO)
    page.wait_for_function("(s) => document.querySelector(s).currentTime > 4.5", arg=VIDEO)


# Before the page's own scripts: when each player root and <video> entered the page, and when
# each <video> had its first frame.
MOUNTS = """
window.__mounts = { roots: [], videos: [] };
new MutationObserver((records) => {
    for (const record of records) for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        const roots = node.matches(".jp-RangeVideo") ? [node] : node.querySelectorAll(".jp-RangeVideo");
        for (const root of roots) {
            if (root.__counted) continue;
            root.__counted = true;
            window.__mounts.roots.push(performance.now());
        }
        for (const v of node.tagName === "VIDEO" ? [node] : node.querySelectorAll("video")) {
            if (v.__entry) continue;
            v.__entry = { firstFrame: null };
            window.__mounts.videos.push(v.__entry);
            v.addEventListener("loadeddata", () => { v.__entry.firstFrame ??= performance.now(); });
        }
    }
}).observe(document, { childList: true, subtree: true });
"""


def test_the_first_output_shows_its_frame_before_the_player_binds_to_python(page, server, videos):
    # show()'s first output draws the player and loads the video while the widget is made; the
    # widget's output then binds that same <video> to the live model, after its first frame, so
    # that redrawing the controls does not hold the frame back.
    name = "first-output.ipynb"
    create_notebook(server, name, [show_cell(videos["small"], width=320), "p.frame = 40"])
    page.add_init_script(MOUNTS)
    held = []

    def hold_the_first_answer(route):
        # The first bytes come after the widget (made about 0.2 s after the first output), as
        # they do on a slower disk or link; well within the bound on waiting for them.
        if not held:
            held.append(route.request.url)
            time.sleep(0.4)
        route.continue_()

    page.route("**/rangevideo/files/**", hold_the_first_answer)
    open_notebook(page, server, name)
    run_all_cells(page)
    wait_for_frame(page, 40)  # Python drives the player: it is bound
    mounts = page.evaluate("window.__mounts")
    assert held, "the video was not requested"
    assert len(mounts["videos"]) == 1, mounts  # one <video>, loaded once
    assert len(mounts["roots"]) == 2, mounts  # drawn from the first output, then bound
    first_frame = mounts["videos"][0]["firstFrame"]
    assert first_frame is not None and first_frame <= mounts["roots"][1], mounts

"""Frame-accurate review in a real browser: Python's commands win in order, frames are exact
(constant and variable frame rate), steps, clip ends, keyboard, snapshots."""

import random
import time

import pytest
from conftest import (
    FPS,
    VIDEO,
    create_notebook,
    frame_index,
    kernel_eval,
    kernel_value,
    open_notebook,
    record,
    run_all_cells,
    wait_for_frame,
    wait_for_kernel,
)

from jupyter_rangevideo.sample import write_sample, write_vfr

VFR_MS = [33, 33, 50, 17, 40, 66, 33, 20, 80, 33]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames-outside-root")
    cfr = write_sample(folder / "cfr.mp4", duration=20, fps=FPS, size=(320, 240))
    vfr = folder / "vfr.mp4"
    write_vfr(vfr, VFR_MS * 30, size=(320, 240))  # 300 frames, 12 s, 17 to 80 ms each
    return {"cfr": cfr, "vfr": vfr}


def page_state(page, nth=0):
    return page.evaluate(
        "([s, nth]) => { const v = document.querySelectorAll(s)[nth];"
        " return {paused: v.paused, time: v.currentTime, rate: v.playbackRate}; }",
        [VIDEO, nth],
    )


LABEL = ".jp-RangeVideo-frame"


def label_in_corner(page, nth=0) -> bool:
    """Whether the frame label sits inside the video, against its top right corner."""
    label = page.locator(f"{LABEL} >> nth={nth}").bounding_box()
    video = page.locator(f"{VIDEO} >> nth={nth}").bounding_box()
    right = video["x"] + video["width"]
    return right - 10 <= label["x"] + label["width"] <= right and video["y"] <= label["y"] <= video["y"] + 10


def exact_frame(page, expected, timeout=10.0, nth=0):
    """Whether the page shows exactly ``expected`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if frame_index(page, nth=nth) == expected:
            return True
        time.sleep(0.03)
    return False


@pytest.mark.parametrize("host", ["lab", "notebook"])
def test_python_commands_win_in_one_cell_and_in_consecutive_cells(page, servers, clips, host):
    server = servers(host)
    show = f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clips['cfr'])!r})"
    show2 = f"q = rangevideo.show({str(clips['cfr'])!r})"
    create_notebook(
        server,
        "order.ipynb",
        [
            show,
            "p.play(); p.playback_rate = 2; p.pause(); p.seek(12)",
            show2,
            "q.play()",
            "q.playback_rate = 2",
            "import time; time.sleep(0.3)\nq.pause()",
            "q.seek(12)",
        ],
    )
    open_notebook(page, server, "order.ipynb")
    run_all_cells(page)
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 2", arg=VIDEO)
    wait_for_kernel(page, "q.current_time", 12.0)
    time.sleep(2)  # let every late event of the page arrive
    for nth, name in enumerate("pq"):
        assert exact_frame(page, 300, nth=nth), (name, frame_index(page, nth=nth))
        state = page_state(page, nth)
        assert state["paused"] and state["rate"] == 2 and abs(state["time"] - 12) < 0.04, (name, state)
        kernel = kernel_value(
            page, f"[{name}.paused, {name}.current_time, {name}.playback_rate, {name}.frame]"
        )
        assert kernel[0] is True and abs(kernel[1] - 12) < 0.04 and kernel[2] == 2 and kernel[3] == 300, (
            name,
            kernel,
        )

    # A click in the page (no command pending) still updates the kernel.
    page.evaluate("(s) => document.querySelector(s).play()", VIDEO)
    wait_for_kernel(page, "p.paused", False)
    page.evaluate("(s) => document.querySelector(s).pause()", VIDEO)
    wait_for_kernel(page, "p.paused", True)


@pytest.mark.parametrize("kind", ["cfr", "vfr"])
def test_setting_frame_shows_exactly_that_frame(page, servers, clips, kind):
    server = servers("lab")
    name = f"frames-{kind}.ipynb"
    create_notebook(
        server, name, [f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clips[kind])!r})"]
    )
    open_notebook(page, server, name)
    run_all_cells(page)
    wait_for_frame(page, 0, tolerance=0)
    count = kernel_value(page, "p.frame_count")
    assert count == (500 if kind == "cfr" else 300)
    frames = random.Random(11).sample(range(count), 50)
    exact, kernel_exact, wrong = 0, 0, []
    for n in frames:
        kernel_eval(page, f"p.frame = {n}")
        if exact_frame(page, n):
            exact += 1
        else:
            wrong.append((n, frame_index(page)))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and kernel_value(page, "p.frame") != n:
            time.sleep(0.05)
        kernel_exact += kernel_value(page, "p.frame") == n
    record(
        f"lab: p.frame = n exact over 50 random frames, {kind} file (shown / kernel)",
        f"{exact}/50 / {kernel_exact}/50",
    )
    assert exact == 50 and kernel_exact == 50, wrong


def show_at_frame_300(page, server, video, notebook):
    """``p = rangevideo.show(video)`` in JupyterLab, then ``p.frame = 300``, on screen."""
    create_notebook(
        server, notebook, [f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(video)!r})"]
    )
    open_notebook(page, server, notebook)
    run_all_cells(page)
    wait_for_frame(page, 0, tolerance=0)
    kernel_eval(page, "p.frame = 300")
    assert exact_frame(page, 300)


def test_fast_keyboard_steps_end_on_the_frame_asked_for(page, servers, clips):
    show_at_frame_300(page, servers("lab"), clips["cfr"], "fast.ipynb")
    page.focus(".jp-RangeVideo >> nth=0")
    for key in ".", ".", ".", ",":
        page.keyboard.press(key)  # without waiting for each frame
    assert exact_frame(page, 302), (
        frame_index(page),
        kernel_value(page, "p.frame"),
        page.evaluate(
            "() => { const v = document.querySelector('video.jp-RangeVideo-video');"
            " return [document.activeElement.className, v.readyState, v.seeking, v.currentTime]; }"
        ),
    )


def test_frame_steps_are_reported_to_the_kernel_once_the_player_is_still(page, servers, clips):
    # Each report makes the kernel answer with messages that JupyterLab handles on the page's
    # main thread, delaying the next frame: a paused player reports once it is still.
    show_at_frame_300(page, servers("lab"), clips["cfr"], "reports.ipynb")
    time.sleep(1.5)  # the reports of that seek are in
    kernel_eval(
        page,
        "reports = []\n"
        "_set_state = p.set_state\n"
        "p.set_state = lambda state: (reports.append('_report' in state), _set_state(state))[1]",
    )
    page.focus(".jp-RangeVideo >> nth=0")
    for frame in (301, 302, 303, 304):
        page.keyboard.press(".")
        assert exact_frame(page, frame)
    wait_for_kernel(page, "[p.frame, p.paused]", [304, True])
    time.sleep(1.5)
    assert kernel_value(page, "sum(reports)") <= 2


@pytest.mark.parametrize("host", ["lab", "notebook"])
def test_step_clip_end_keyboard_and_snapshot(page, servers, clips, host):
    server = servers(host)
    cells = [
        f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clips['cfr'])!r})",
        f"c = rangevideo.show({str(clips['cfr'])!r}, start=13, end=14)",
        f"v = rangevideo.show({str(clips['vfr'])!r}, start_frame=100, end_frame=140, show_frame_number=False)",
    ]
    create_notebook(server, "step.ipynb", cells)
    open_notebook(page, server, "step.ipynb")
    run_all_cells(page)
    page.wait_for_function("(s) => document.querySelectorAll(s).length === 3", arg=VIDEO)
    wait_for_frame(page, 0, tolerance=0)

    # step from Python: pauses, exact frames, steps count from the frame asked for
    kernel_eval(page, "p.frame = 100; p.step(); p.step(); p.step(-5)")
    assert exact_frame(page, 97)
    # the label names the frame on screen, in the video's top right corner, also once resized
    page.wait_for_function("(s) => document.querySelector(s).textContent === 'frame 97'", arg=LABEL)
    assert label_in_corner(page)
    kernel_eval(page, "p.width = 200")
    page.wait_for_function("(s) => document.querySelector(s).clientWidth === 200", arg=VIDEO)
    page.wait_for_function(
        "([l, v]) => Math.abs(document.querySelector(l).getBoundingClientRect().right"
        " - (document.querySelector(v).getBoundingClientRect().right - 4)) < 1",
        arg=[LABEL, VIDEO],
    )
    assert label_in_corner(page)
    kernel_eval(page, "p.width = '100%'")
    wait_for_kernel(page, "[p.frame, p.paused]", [97, True])
    kernel_eval(page, "p.play()")
    page.wait_for_function("(s) => document.querySelector(s).currentTime > 4.5", arg=VIDEO)
    kernel_eval(page, "p.step(1)")
    page.wait_for_function("(s) => document.querySelector(s).paused", arg=VIDEO)
    time.sleep(0.5)
    shown = frame_index(page)
    wait_for_kernel(page, "p.frame", shown)
    # what Python reads is the frame on screen, and its snapshot is those pixels at source size
    snap = kernel_value(page, "(lambda a: [list(a.shape), str(a.dtype)])(p.snapshot())")
    assert snap == [[240, 320, 3], "uint8"]
    assert (
        kernel_value(page, "__import__('jupyter_rangevideo.sample').sample.read_frame_index(p.snapshot())")
        == shown
    )
    assert (
        kernel_value(page, "__import__('jupyter_rangevideo.sample').sample.read_frame_index(p.frame_at(321))")
        == 321
    )
    assert kernel_value(page, "p.frame") == shown  # frame_at did not move the player

    # keyboard in the focused player
    kernel_eval(page, "p.frame = 300")
    assert exact_frame(page, 300)
    shown = 300
    page.focus(".jp-RangeVideo >> nth=0")
    page.keyboard.press(".")
    assert exact_frame(page, shown + 1)
    page.keyboard.press(".")
    assert exact_frame(page, shown + 2)
    page.keyboard.press(".")
    assert exact_frame(page, shown + 3)
    page.keyboard.press(",")
    assert exact_frame(page, shown + 2)
    page.keyboard.press("ArrowRight")
    assert exact_frame(page, shown + 2 + 5 * FPS)
    page.keyboard.press("j")
    assert exact_frame(page, shown + 2 - 5 * FPS)
    page.keyboard.press(" ")
    wait_for_kernel(page, "p.paused", False)
    page.keyboard.press("k")
    wait_for_kernel(page, "p.paused", True)
    assert page.locator(".jp-RangeVideo-frame >> nth=0").inner_text().startswith("frame ")
    assert not page.locator(".jp-RangeVideo-frame >> nth=2").is_visible()  # show_frame_number=False

    # clips end on the frame asked for: end=14 s at 25 fps is frame 350; end_frame=140 on the VFR file
    results = {}
    for name, nth, last in (("c", 1, 350), ("v", 2, 140)):
        kernel_eval(page, f"{name}.play()")
        page.wait_for_function(
            "([s, nth]) => { const v = document.querySelectorAll(s)[nth]; return v.paused && v.currentTime > 0.5; }",
            arg=[VIDEO, nth],
            timeout=20_000,
        )
        time.sleep(0.5)
        results[name] = (frame_index(page, nth=nth), kernel_value(page, f"{name}.frame"))
        assert results[name] == (last, last), results
    record("lab: clip end frames (end=14 s -> 350, VFR end_frame=140)", results)

"""Run-all of every notebook in notebooks/ ends, in the page and in the kernel, in the states its
cells asked for, however late the browser's own events arrive."""

import json
import os
import time
from pathlib import Path

from conftest import VIDEO, frame_index, kernel_value, open_notebook, run_all_cells

from jupyter_rangevideo.sample import write_sample

NOTEBOOKS = Path(__file__).parent.parent.parent / "notebooks"


def copy_notebook(server, name):
    content = json.loads((NOTEBOOKS / name).read_text())
    server.api("PUT", f"api/contents/{name}", {"type": "notebook", "format": "json", "content": content})


def wait_until_run(page, timeout=180):
    """Wait until every code cell has run (an execution count) and the kernel is idle."""
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel.sessionContext.session?.kernel;
            const cells = panel.content.widgets.filter((c) => c.model.type === 'code');
            return kernel?.status === 'idle' && cells.every((c) => c.model.executionCount);
        }""",
        timeout=timeout * 1000,
    )


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(0.2)
        value = predicate()
    return value


def videos(page):
    return page.evaluate(
        "(s) => [...document.querySelectorAll(s)].map((v) => ({paused: v.paused, rate: v.playbackRate,"
        " time: v.currentTime, loop: v.loop}))",
        VIDEO,
    )


def test_demo_notebook_run_all_ends_as_asked(page, servers):
    server = servers("lab")
    write_sample(server.root / "earth.mp4", duration=40, fps=25, size=(320, 180))
    copy_notebook(server, "demo.ipynb")
    open_notebook(page, server, "demo.ipynb")
    run_all_cells(page)
    wait_until_run(page)
    # Cells: seek(30); playback_rate = 2; play(); pause(); a looping muted clip 10-14 s, playing.
    assert wait_for(
        lambda: kernel_value(page, "[p.paused, p.playback_rate, clip.paused]") == [True, 2.0, False]
    )
    state = wait_for(
        lambda: (s := videos(page)) and len(s) == 2 and s[0]["paused"] and not s[1]["paused"] and s
    )
    assert state, videos(page)
    assert state[0]["rate"] == 2 and state[0]["time"] >= 30
    time.sleep(1.0)  # late events of the page must not undo the pause
    first, clip = videos(page)
    assert first["paused"] and kernel_value(page, "p.paused") is True
    assert 10 <= clip["time"] <= 14.1 and not clip["paused"]
    page.locator(VIDEO).first.scroll_into_view_if_needed()
    shown = wait_for(lambda: frame_index(page))
    at = kernel_value(page, "p.current_time")
    assert abs(shown - at * 25) <= 2, (shown, at)


def test_review_notebook_run_all_ends_as_asked(page, servers):
    server = servers("lab")
    copy_notebook(server, "review.ipynb")
    open_notebook(page, server, "review.ipynb")
    run_all_cells(page)
    wait_until_run(page, timeout=300)
    # p: frame 118, then step(6) -> 124, paused. The grid: frame 120, step(5), rate 0.5, play, pause.
    assert kernel_value(page, "[p.frame, p.paused]") == [124, True]
    page.locator(VIDEO).first.scroll_into_view_if_needed()  # an off-screen video paints nothing
    assert wait_for(lambda: frame_index(page, nth=0) == 124), frame_index(page, nth=0)
    assert wait_for(lambda: kernel_value(page, "[q.paused for q in g.players]") == [True, True])
    states = wait_for(lambda: (s := videos(page)) and len(s) == 3 and all(v["paused"] for v in s) and s)
    assert states, videos(page)
    assert [v["rate"] for v in states[1:]] == [0.5, 0.5]
    leader, follower = kernel_value(page, "[q.frame for q in g.players]")
    assert leader >= 125 and abs(leader - follower) <= 1


def test_behaviour_notebook_run_all_then_labels_from_keys(page, servers):
    """The behaviour notebook runs top to bottom; keys then label intervals at the presented
    frames; a screenshot of the pose over the video with its strips is kept (docs/behaviour.png
    when RANGEVIDEO_DOCS_SCREENSHOTS is set)."""
    server = servers("lab")
    copy_notebook(server, "behaviour.ipynb")
    open_notebook(page, server, "behaviour.ipynb")
    run_all_cells(page)
    wait_until_run(page)
    assert kernel_value(page, "[p.frame, len(pose), list(p._timelines)]") == [
        60,
        900,
        ["speed", "ethogram", "events"],
    ]
    page.wait_for_function("() => document.querySelectorAll('.jp-RangeVideo-strip').length === 3")
    player = page.locator(".jp-RangeVideo").first
    for frame in (100, 140, 160, 175):
        kernel_value(page, f"setattr(p, 'frame', {frame})")
        page.locator(VIDEO).first.scroll_into_view_if_needed()
        assert wait_for(lambda frame=frame: frame_index(page) == frame), frame_index(page)
        assert wait_for(lambda frame=frame: kernel_value(page, "p.frame") == frame)
        player.focus()
        page.keyboard.press("g" if frame < 150 else "r")
    rows = wait_for(
        lambda: (
            (
                # An interval still open (its end key not handled yet) has no end: NA.
                value := kernel_value(
                    page,
                    "[[int(a), None if __import__('pandas').isna(b) else int(b), c]"
                    " for a, b, c in p.events.itertuples(index=False)]",
                )
            )
            == [[100, 140, "grooming"], [160, 175, "rearing"]]
            and value
        )
    )
    assert rows, kernel_value(page, "str(p.events)")
    kernel_value(page, "setattr(p, 'frame', 120)")
    assert wait_for(lambda: frame_index(page) == 120)
    page.wait_for_function(
        "() => document.querySelector('canvas.jp-RangeVideo-overlay')?.dataset.frame === '120'"
    )
    page.wait_for_timeout(300)
    RESULTS = Path(__file__).parent / ".results"
    RESULTS.mkdir(exist_ok=True)
    # The video and its strips, without the page's notifications or the pointer over the controls.
    page.add_style_tag(content=".Toastify { display: none !important; }")
    page.mouse.move(0, 0)
    page.wait_for_timeout(2500)  # the native controls fade out
    box = page.evaluate(
        """() => {
            const v = document.querySelector('video.jp-RangeVideo-video').getBoundingClientRect();
            const s = document.querySelector('.jp-RangeVideo-strips').getBoundingClientRect();
            return {x: v.x, y: v.y, width: v.width, height: s.bottom - v.y};
        }"""
    )
    shot = page.screenshot(clip=box, animations="disabled")
    (RESULTS / "behaviour.png").write_bytes(shot)
    if os.environ.get("RANGEVIDEO_DOCS_SCREENSHOTS"):
        (NOTEBOOKS.parent / "docs" / "behaviour.png").write_bytes(shot)

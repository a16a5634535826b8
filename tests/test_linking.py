"""Linking a player to the plots users already have, both ways, as the README shows it: a
plotly FigureWidget and a matplotlib figure on ipympl's widget backend, each with a cursor
that follows ``p.frame`` and a click on the plot that seeks. Real figures and a real Player;
the page's side is the message each front end sends (a player's report, plotly's click,
ipympl's button_press)."""

import matplotlib
import numpy as np
import pytest

from jupyter_rangevideo.widget import Player

pytestmark = pytest.mark.usefixtures("runtime_dir")

FPS = 25


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from jupyter_rangevideo.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("media") / "v.mp4", duration=4, fps=FPS, size=(64, 48))


def page_presents(p: Player, frame: int) -> None:
    """What the page sends when the user moves the video to ``frame`` (sync.py's report)."""
    time = p.probe.clock.time_of(frame)
    report = {
        "applied": p._log.seq,
        "frame": frame,
        "current_time": time,
        "paused": True,
        "playback_rate": 1.0,
    }
    p.set_state({"_report": report})


def test_plotly_figurewidget_cursor_follows_and_a_click_seeks(clip):
    import plotly.graph_objects as go  # the test extra carries plotly
    from plotly.callbacks import InputDeviceState, Points

    p = Player(clip)
    t = np.arange(100) / FPS
    fig = go.FigureWidget(go.Scatter(x=t, y=np.sin(t)))
    fig.add_vline(x=0, line_color="red")  # the cursor

    # As in the README.
    def follow(change):
        fig.layout.shapes[0].update(
            x0=p.probe.clock.time_of(change["new"]), x1=p.probe.clock.time_of(change["new"])
        )

    p.observe(follow, names=["frame"])
    fig.data[0].on_click(lambda trace, points, state: points.xs and p.seek(points.xs[0]))

    page_presents(p, 42)
    assert p.frame == 42 and fig.layout.shapes[0].x0 == pytest.approx(42 / FPS)
    # A click on the point at 2.0 s (plotly's front end sends its points; FigureWidget dispatches them).
    points = Points(point_inds=[50], xs=[t[50]], ys=[np.sin(t[50])], trace_name="trace 0", trace_index=0)
    fig.data[0]._dispatch_on_click(points, InputDeviceState(False, False, False, False, 0, 1))
    assert p.frame == 50 and p._commands[-1]["op"] == "seek"
    assert p._commands[-1]["value"] == pytest.approx(2.0)
    assert fig.layout.shapes[0].x0 == pytest.approx(2.0)  # Python's own seek moves the cursor too


def test_ipympl_figure_cursor_follows_and_a_click_seeks(clip):
    import ipympl  # noqa: F401 - the test extra carries it; its backend is named below

    previous = matplotlib.get_backend()
    matplotlib.use("module://ipympl.backend_nbagg")
    try:
        check_ipympl(clip)
    finally:
        matplotlib.use(previous)


def check_ipympl(clip):
    import matplotlib.pyplot as plt
    from ipympl.backend_nbagg import Canvas

    p = Player(clip)
    t = np.arange(100) / FPS
    fig, ax = plt.subplots(figsize=(4, 2), dpi=100)
    assert isinstance(fig.canvas, Canvas)  # ipympl's widget, not a static image
    ax.plot(t, np.sin(t))
    ax.set_xlim(0, 4)
    cursor = ax.axvline(0, color="red")

    # As in the README.
    def follow(change):
        cursor.set_xdata([p.probe.clock.time_of(change["new"])] * 2)
        fig.canvas.draw_idle()

    def seek(event):
        if event.inaxes is ax and event.xdata is not None:
            p.seek(event.xdata)

    p.observe(follow, names=["frame"])
    fig.canvas.mpl_connect("button_press_event", seek)

    page_presents(p, 30)
    assert cursor.get_xdata()[0] == pytest.approx(30 / FPS)
    # ipympl's front end sends a click as a button_press message, in canvas pixels from the top.
    fig.canvas.draw()
    x, y = ax.transData.transform((2.5, 0.0))
    height = fig.canvas.get_renderer().height
    message = {"type": "button_press", "x": x, "y": height - y, "button": 0, "buttons": 1, "modifiers": []}
    fig.canvas._handle_message(fig.canvas, message, [])
    assert p._commands[-1]["op"] == "seek" and p._commands[-1]["value"] == pytest.approx(2.5, abs=0.02)
    assert p.frame == p.probe.clock.frame_at(p._commands[-1]["value"])
    assert cursor.get_xdata()[0] == pytest.approx(p.probe.clock.time_of(p.frame))
    plt.close(fig)

"""Timeline strips and labelled events on the kernel side, and the strips' drawing maths
(js/src/timeline-draw.js, run with Node from the bundle)."""

import base64
import json

import numpy as np
import pytest
from test_player_js import run_js

from jupyter_rangevideo import timeline
from jupyter_rangevideo.embed import MIMETYPE
from jupyter_rangevideo.probe import FrameClock
from jupyter_rangevideo.widget import Player

pytestmark = pytest.mark.usefixtures("runtime_dir")


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory):
    from jupyter_rangevideo.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("media") / "v.mp4", duration=2, fps=25, size=(64, 48))


# --- packing -------------------------------------------------------------------------


def test_line_strip_is_binary_float64_times_and_float32_signals_sorted():
    data = {"time": [0.2, 0.1, 0.3], "speed": [2.0, 1.0, 3.0], "accel": [20, 10, 30], "name": ["a", "b", "c"]}
    state = timeline.pack_lines(data, None, columns=None)
    assert state["columns"] == ["speed", "accel"]  # numeric columns but the axis, in order
    assert isinstance(state["t"], bytes) and isinstance(state["values"], bytes)
    assert np.frombuffer(state["t"], "<f8").tolist() == [0.1, 0.2, 0.3]
    values = np.frombuffer(state["values"], "<f4").reshape(2, 3)
    assert values.tolist() == [[1, 2, 3], [10, 20, 30]]
    assert state["range"] == [1.0, 30.0] and state["count"] == 3
    assert state["colors"] == list(timeline.PALETTE[:2])


def test_frames_become_their_presentation_times_from_the_clock():
    clock = FrameClock.from_times([0.0, 0.04, 0.1, 0.14])  # variable rate
    state = timeline.pack_lines({"frame": [0, 1, 2, 3], "v": [1, 2, 3, 4]}, clock, frame="frame")
    assert np.frombuffer(state["t"], "<f8").tolist() == pytest.approx([0.0, 0.04, 0.1, 0.14])
    with pytest.raises(ValueError, match="whole frame numbers"):
        timeline.pack_lines({"frame": [0.5], "v": [1]}, clock, frame="frame")
    with pytest.raises(ValueError, match="no 'time' column"):
        timeline.pack_lines({"t": [0.5], "v": [1]}, clock, time="time")


def test_events_strip_in_seconds_or_frames_a_colour_per_label():
    clock = FrameClock.constant(25, 100)
    rows = [
        {"start": 1.0, "end": 2.0, "label": "rearing"},
        {"start": 0.0, "end": 0.5, "label": "grooming"},
    ]
    state = timeline.pack_events(rows, clock)
    assert state["labels"] == ["grooming", "rearing"]
    assert state["events"] == [[1.0, 2.0, 1], [0.0, 0.5, 0]]
    framed = timeline.pack_events({"start": [10], "end": [19], "label": ["a"]}, clock, frame="frame")
    assert framed["events"] == [[pytest.approx(0.4), pytest.approx(0.8), 0]]  # frame 19 ends at 20/25 s
    last = timeline.pack_events({"start_frame": [98], "end_frame": [99], "label": ["a"]}, clock)
    assert last["events"][0][1] == pytest.approx(4.0)
    assert timeline.pack_events(rows, clock, colors={"rearing": "red"})["colors"] == [
        timeline.PALETTE[0],
        "red",
    ]
    with pytest.raises(ValueError, match="ends before it starts"):
        timeline.pack_events([{"start": 2, "end": 1, "label": "x"}], clock)
    with pytest.raises(ValueError, match="needs columns start, end and label"):
        timeline.pack_events([{"start": 2, "label": "x"}], clock)


def test_label_keys_refuse_the_players_own_keys():
    assert timeline.check_keys({"g": "grooming", "r": "rearing"}) == {"g": "grooming", "r": "rearing"}
    for key in [",", ".", " ", "k", "j", "l", "K", "ArrowLeft", "Backspace"]:
        with pytest.raises(ValueError, match="player's own|one printable character"):
            timeline.check_keys({key: "x"})
    with pytest.raises(ValueError, match="key 'k' is the player's own \\(play/pause\\)"):
        timeline.check_keys({"k": "x"})
    with pytest.raises(ValueError, match="one printable character"):
        timeline.check_keys({"gg": "x"})
    with pytest.raises(ValueError, match="non-empty string"):
        timeline.check_keys({"g": ""})


# --- the player ------------------------------------------------------------------------


def test_player_strips_handles_and_saved_output(tiny_video):
    p = Player(tiny_video)
    pd = pytest.importorskip("pandas")
    signal = pd.DataFrame({"time": np.linspace(0, 2, 201), "speed": np.sin(np.linspace(0, 6, 201))})
    speed = p.timeline(signal, name="speed")
    ethogram = p.timeline(
        pd.DataFrame({"start": [0.2], "end": [0.6], "label": ["grooming"]}), kind="events", height=30
    )
    assert list(p._timelines) == ["speed", "strip 1"] and ethogram.name == "strip 1"
    assert "201 samples" in repr(speed)
    spec = p._repr_mimebundle_()[MIMETYPE]
    saved = spec["timelines"]["speed"]
    assert np.frombuffer(base64.b64decode(saved["t"]), "<f8")[-1] == 2.0  # base64 in the notebook
    assert spec["timelines"]["strip 1"]["height"] == 30
    assert spec["clock"]["frame_count"] == 50 and spec["duration"] == pytest.approx(2.0)
    json.dumps(spec)
    speed.remove()
    assert list(p._timelines) == ["strip 1"]
    with pytest.raises(ValueError, match="kind is one of"):
        p.timeline(signal, kind="bars")


def test_label_events_rows_from_the_page_are_a_dataframe(tiny_video):
    p = Player(tiny_video)
    with pytest.raises(ValueError, match="player's own"):
        p.label_events({"g": "grooming", " ": "rest"})
    assert p._label_keys == {} and not p._timelines
    p.label_events({"g": "grooming", "r": "rearing"})
    assert p._timelines["events"]["source"] == "labels"
    assert p._timelines["events"]["labels"] == ["grooming", "rearing"]
    assert p.events.empty and list(p.events.columns) == ["start_frame", "end_frame", "label"]
    # The page appends rows as keys are pressed: one closed interval, one still open.
    p.set_state({"_events": [[10, 20, "grooming"], [30, None, "rearing"]]})
    events = p.events
    assert events["start_frame"].tolist() == [10, 30]
    assert events["end_frame"].isna().tolist() == [False, True]
    assert events["label"].tolist() == ["grooming", "rearing"]
    assert p._repr_mimebundle_()[MIMETYPE]["events"] == [[10, 20, "grooming"], [30, None, "rearing"]]
    p.events = events.iloc[:1]
    assert p._events == [[10, 20, "grooming"]]
    p.label_events(None)
    assert p._label_keys == {} and p._events == [[10, 20, "grooming"]]


def test_grid_strip_is_saved_with_the_grid(tiny_video, tmp_path):
    from jupyter_rangevideo.grid import Grid

    other = tmp_path / "w.mp4"
    other.write_bytes(tiny_video.read_bytes())
    g = Grid([Player(tiny_video), Player(other)])
    handle = g.timeline({"frame": [0, 10, 20], "v": [1, 2, 3]}, frame="frame")
    spec = g._saved_spec()
    assert list(spec["timelines"]) == ["strip 1"] and spec["grid"]
    handle.remove()
    assert "timelines" not in g._saved_spec()


# --- the drawing maths (Node) ------------------------------------------------------------


def test_decimation_min_max_per_column_and_at_the_edges(tmp_path):
    got = run_js(
        tmp_path,
        "const t = Float64Array.from([0, 0.5, 0.99, 1.0, 1.5, 2.0, 3.0, 4.0]);"
        "const v = Float32Array.from([5, -1, 7, 3, NaN, 9, 2, 100]);"
        # view [0, 3] in 3 columns: [0,1) [1,2) [2,3]; 4.0 is outside; 3.0 (the view's end) is in the last column
        "const d = p.decimate(t, v, {start: 0, end: 3}, 3);"
        "const z = p.decimate(t, v, {start: 0.5, end: 1.5}, 2);"
        "const none = p.decimate(t, v, {start: 3.1, end: 3.9}, 4);"
        "return {min: [...d.min], max: [...d.max], first: d.first, last: d.last,"
        " zmin: [...z.min], zmax: [...z.max], zfirst: z.first, zlast: z.last, none: [...none.min].map(String)};",
    )
    assert got["min"] == [-1, 3, 2] and got["max"] == [7, 3, 9]
    assert (got["first"], got["last"]) == (0, 7)  # 4.0 is past the view
    # [0.5, 1.0) and [1.0, 1.5]: the NaN at 1.5 is a gap, not a value
    assert got["zmin"] == [-1, 3] and got["zmax"] == [7, 3]
    assert (got["zfirst"], got["zlast"]) == (1, 5)
    assert got["none"] == ["NaN"] * 4


def test_a_million_samples_decimate_quickly_and_exactly(tmp_path):
    got = run_js(
        tmp_path,
        "const n = 1e6; const t = new Float64Array(n); const v = new Float32Array(n);"
        "for (let i = 0; i < n; i++) { t[i] = i / 1000; v[i] = Math.sin(i / 5000) + (i === 123456 ? 10 : 0); }"
        "const started = performance.now(); const d = p.decimate(t, v, {start: 0, end: 1000}, 1280);"
        "const ms = performance.now() - started;"
        "return {ms, peakColumn: d.max.indexOf(Math.max(...d.max)), peak: Math.max(...d.max), filled: d.min.every((x) => !Number.isNaN(x))};",
    )
    assert got["filled"] and got["peakColumn"] == int(123.456 / 1000 * 1280)
    assert got["peak"] == pytest.approx(10 + np.sin(123456 / 5000), abs=1e-5)
    assert got["ms"] < 100


def test_x_time_and_zoom_clamping(tmp_path):
    got = run_js(
        tmp_path,
        "const full = p.fullView(10);"
        "return {x: p.timeToX(2.5, full, 400), t: p.xToTime(100, full, 400), clampedT: [p.xToTime(-5, full, 400), p.xToTime(999, full, 400)],"
        " inAt: p.zoomView(full, 2.5, 0.5, 10, 0.16),"  # 2.5 s stays at x = 100 px
        " tooFar: p.zoomView({start: 0, end: 1}, 0.5, 1e-6, 10, 0.16),"  # no narrower than 4 frames
        " outPast: p.zoomView({start: 8, end: 10}, 9, 100, 10, 0.16),"  # no wider than the file
        " atEnd: p.zoomView({start: 6, end: 10}, 10, 0.5, 10, 0.16),"
        " range: p.rangeView(7, 3, 10, 0.16), tiny: p.rangeView(9.99, 10, 10, 0.16),"
        " clamped: p.clampView({start: -3, end: 1}, 10),"
        " bars: p.eventBars([[1, 2, 0], [9.9, 12, 1], [11, 12, 2], [5, 5, 3]], full, 100)};",
    )
    assert got["x"] == 100 and got["t"] == 2.5 and got["clampedT"] == [0, 10]
    assert got["inAt"]["start"] == pytest.approx(1.25) and got["inAt"]["end"] == pytest.approx(6.25)
    assert got["tooFar"]["end"] - got["tooFar"]["start"] == pytest.approx(0.16)
    assert got["tooFar"]["start"] == pytest.approx(0.42)
    assert got["outPast"] == {"start": 0, "end": 10}
    assert got["atEnd"] == {"start": 8, "end": 10}
    assert got["range"] == {"start": 3, "end": 7}
    assert got["tiny"]["end"] == 10 and got["tiny"]["end"] - got["tiny"]["start"] == pytest.approx(0.16)
    assert got["clamped"] == {"start": 0, "end": 4}
    # clipped to the strip, at least 1 px wide; one outside the view dropped
    assert got["bars"] == [[10, 10, 0], [99, 1, 1], [50, 1, 3]]

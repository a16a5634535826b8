"""Overlay packing, markers and the grid's commands, on the kernel side (pure, no browser)."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell

import jupyter_rangevideo as rangevideo
from jupyter_rangevideo import markers, overlay
from jupyter_rangevideo.embed import MIMETYPE
from jupyter_rangevideo.probe import FrameClock
from jupyter_rangevideo.widget import Player

pytestmark = pytest.mark.usefixtures("runtime_dir")

CLOCK = FrameClock.constant(25, 15_000)  # 10 minutes at 25 fps
# A variable-rate clock: 10 frames at 25 fps, then 10 at 10 fps.
VFR = FrameClock(((0, 0.0, 0.04), (10, 0.4, 0.1)), 20)


def test_pack_round_trip_sorted_by_frame():
    rows = [
        {"frame": 7, "kind": "line", "x": 1, "y": 2, "x2": 3, "y2": 4, "color": "red", "width": 3},
        {"frame": 2, "kind": "box", "x": 10.5, "y": 20, "w": 30, "h": 40, "label": "car"},
        {"frame": 2, "kind": "text", "x": 5, "y": 6, "label": "hello", "color": "rgb(0, 255, 0)"},
        {"frame": 9, "kind": "point", "x": 7, "y": 8, "color": "red", "label": "car"},
    ]
    packed = overlay.pack(rows, CLOCK)
    assert packed.count == 4
    assert packed.palette == ("red", "rgb(0, 255, 0)") and packed.labels == ("car", "hello")
    columns = overlay.unpack(packed)
    assert columns["frame"].tolist() == [2, 2, 7, 9]  # stable: frame 2's rows keep their order
    assert columns["kind"].tolist() == [0, 3, 2, 1]
    assert columns["x"].tolist() == [10.5, 5, 1, 7]
    assert columns["a"].tolist() == [30, 0, 3, 0] and columns["b"].tolist() == [40, 0, 4, 0]
    assert columns["color"].tolist() == [0, 2, 1, 1]  # 0: the layer's default color
    assert columns["label"].tolist() == [1, 2, 0, 1]
    assert columns["width"].tolist() == [0, 0, 3, 0]


def test_shuffled_columns_are_byte_planes():
    column = np.array([1, 2, 3], dtype="<u4")
    assert overlay.shuffle(column) == bytes([1, 2, 3] + [0] * 9)


def test_time_maps_to_frames_by_the_clock_not_by_fps():
    rows = [{"time": t, "x": 0, "y": 0, "w": 1, "h": 1} for t in (0.0, 0.39, 0.4, 0.55, 1.35)]
    frames = overlay.unpack(overlay.pack(rows, VFR))["frame"].tolist()
    assert frames == [VFR.frame_at(t) for t in (0.0, 0.39, 0.4, 0.55, 1.35)] == [0, 9, 10, 11, 19]
    times = np.random.default_rng(1).uniform(0, 2, 500)
    assert overlay.frames_at(VFR, times).tolist() == [VFR.frame_at(t) for t in times]


def test_dataframe_rows():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {
            "frame": [3, 1],
            "x": [1.0, 2.0],
            "y": [3.0, 4.0],
            "w": [5, 6],
            "h": [7, 8],
            "label": ["a", None],
            "color": [None, "blue"],
        }
    )
    columns = overlay.unpack(overlay.pack(frame, CLOCK))
    assert columns["frame"].tolist() == [1, 3] and columns["label"].tolist() == [0, 1]
    assert columns["color"].tolist() == [1, 0]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"x": 1, "y": 1, "w": 1, "h": 1}], "needs a 'frame'"),
        ([{"frame": -1, "x": 1, "y": 1, "w": 1, "h": 1}], "whole numbers >= 0"),
        ([{"frame": 1.5, "x": 1, "y": 1, "w": 1, "h": 1}], "whole numbers >= 0"),
        ([{"frame": 1, "kind": "circle", "x": 1, "y": 1}], "not one of box, point, line, text"),
        ([{"frame": 1, "kind": "box", "x": 1, "y": 1, "w": 1}], "h is missing"),
        ([{"frame": 1, "kind": "line", "x": 1, "y": 1}], "x2 is missing"),
        ([{"frame": 1, "kind": "text", "x": 1, "y": 1}], "needs a 'label'"),
        ([{"frame": 1, "kind": "point", "x": "left", "y": 1}], "must hold numbers"),
        ([{"time": -2, "kind": "point", "x": 1, "y": 1}], "seconds >= 0"),
    ],
)
def test_bad_marks_are_clear_errors(rows, message):
    with pytest.raises(ValueError, match=message):
        overlay.pack(rows, CLOCK)


def test_not_rows_is_a_type_error():
    with pytest.raises(TypeError, match="list of dicts"):
        overlay.pack({"frame": 1}, CLOCK)
    with pytest.raises(TypeError, match="row 0"):
        overlay.pack([(1, 2)], CLOCK)


def hundred_thousand_boxes(whole_pixels: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    n = 100_000
    frames = rng.integers(0, CLOCK.frame_count, n)
    coordinates = [
        rng.uniform(0, 1800, n),
        rng.uniform(0, 1000, n),
        rng.uniform(10, 200, n),
        rng.uniform(10, 200, n),
    ]
    if whole_pixels:
        coordinates = [np.round(values) for values in coordinates]
    x, y, w, h = coordinates
    return [
        {
            "frame": int(frames[i]),
            "x": x[i],
            "y": y[i],
            "w": w[i],
            "h": h[i],
            "color": ("red", "lime", "blue")[i % 3],
            "label": f"track {i % 50}",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(("whole_pixels", "limit"), [(False, 1_500_000), (True, 700_000)])
def test_hundred_thousand_boxes_over_ten_minutes_stay_small(whole_pixels, limit):
    rows = hundred_thousand_boxes(whole_pixels)
    packed = overlay.pack(rows, CLOCK)
    # 22 bytes a mark unpacked (2.2 MB): frame, x, y, w, h (4 bytes each), color and label (1
    # each; kind, track, keypoint, width and score are the same on every row: not sent); the
    # list of dicts as JSON is 11-16 MB.
    sizes = {name: length for name, _, length in packed.columns}
    assert [name for name, _, _ in packed.columns] == ["frame", "x", "y", "a", "b", "color", "label"]
    assert sum(len(zlib.decompress(part)) for part in split(packed)) == 22 * len(rows)
    assert sum(sizes.values()) == len(packed.data)
    assert len(packed.data) < limit, len(packed.data)
    assert overlay.unpack(packed)["frame"].tolist() == sorted(row["frame"] for row in rows)


def split(packed):
    offset = 0
    for _, _, length in packed.columns:
        yield packed.data[offset : offset + length]
        offset += length


def test_layer_names():
    assert overlay.layer_names([], None) == "overlay"
    assert overlay.layer_names(["overlay"], None) == "overlay 2"
    assert overlay.layer_names(["overlay"], "mine") == "mine"
    with pytest.raises(ValueError):
        overlay.layer_names([], "")


# --- markers ---------------------------------------------------------------------

VTT = """WEBVTT

intro
00:00.000 --> 00:04.500 align:start
Getting <b>ready</b>

00:00:04.500 --> 00:01:02.250
The run
and the end
"""


def test_webvtt_chapters(tmp_path):
    assert markers.parse_vtt(VTT) == [(0.0, 4.5, "Getting ready"), (4.5, 62.25, "The run and the end")]
    path = tmp_path / "chapters.vtt"
    path.write_text(VTT)
    assert markers.build(path)["chapters"] == [
        [0.0, 4.5, "Getting ready"],
        [4.5, 62.25, "The run and the end"],
    ]
    with pytest.raises(ValueError, match="WEBVTT"):
        markers.parse_vtt("00:00.000 --> 00:01.000\nx")


def test_marker_ticks_times_frames_and_chapters():
    assert markers.build([1, 2.5], ["a", None]) == {"ticks": [[1.0, "a"], [2.5, None]], "chapters": []}
    # A frame's marker sits in the middle of the frame's display time, by the clock.
    assert markers.build(frames=[9, 10], clock=VFR)["ticks"] == [[0.38, None], [0.45, None]]
    assert markers.build([(0, 5, "one"), (5, 9, "two")])["chapters"] == [[0.0, 5.0, "one"], [5.0, 9.0, "two"]]
    with pytest.raises(ValueError, match="labels for"):
        markers.build([1, 2], ["a"])
    with pytest.raises(ValueError, match=">= 0"):
        markers.build([-1])
    with pytest.raises(ValueError, match="ends before"):
        markers.build(chapters=[(5, 1, "x")])


# --- the player and the grid -------------------------------------------------------------


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from jupyter_rangevideo.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("media") / "v.mp4", duration=2, fps=25, size=(64, 48))


@pytest.fixture
def shell(monkeypatch):
    shell = InteractiveShell.instance()
    published = []
    monkeypatch.setattr(shell.display_pub, "publish", lambda data, *a, **k: published.append((data, k)))
    shell.published = published
    yield shell
    InteractiveShell.clear_instance()


def test_overlay_layers_state_and_saved_output(video, shell):
    player = rangevideo.show(video, poster=False)
    boxes = player.overlay([{"frame": 3, "x": 1, "y": 2, "w": 3, "h": 4}], name="boxes")
    points = player.overlay([{"time": 0.5, "kind": "point", "x": 1, "y": 2}])
    assert [layer.name for layer in player.overlays] == ["boxes", "overlay"] and points.name == "overlay"
    assert isinstance(player._overlays["boxes"]["data"], bytes)  # a binary buffer of the widget's state
    # Every change rewrites the displayed output, so a saved notebook keeps it.
    data, options = shell.published[-1]
    assert options["transient"] == {"display_id": player.player_id} and options["update"] is True
    saved = data[MIMETYPE]
    assert set(saved["overlays"]) == {"boxes", "overlay"}
    assert base64.b64decode(saved["overlays"]["boxes"]["data"]) == player._overlays["boxes"]["data"]
    assert saved["clock"]["runs"][0][2] == pytest.approx(0.04) and saved["video_width"] == 64
    json.dumps(saved)
    boxes.visible = False
    assert shell.published[-1][0][MIMETYPE]["overlays_hidden"] == ["boxes"] and not boxes.visible
    boxes.visible = True
    boxes.remove()
    assert list(player._overlays) == ["overlay"] and "removed" in repr(boxes)
    player.markers([0.5], ["half"])
    assert shell.published[-1][0][MIMETYPE]["markers"]["ticks"] == [[0.5, "half"]]


def test_a_player_never_displayed_publishes_nothing(video, shell):
    Player(video, poster=False).overlay([{"frame": 1, "x": 1, "y": 1, "w": 1, "h": 1}])
    assert shell.published == []


def test_grid_commands_reach_every_player(video, shell):
    g = rangevideo.grid([video, video], offsets=[0, 0.2], poster=False)
    assert len(g.players) == 2 and g.columns == 2
    saved = shell.published[-1][0][MIMETYPE]
    assert saved["grid"] is True and [p["player_id"] for p in saved["players"]] == [
        p.player_id for p in g.players
    ]
    g.frame = 10  # the middle of frame 10 (0.42 s); the second player 0.2 s later: frame 15
    assert [p.current_time for p in g.players] == pytest.approx([0.42, 0.62])
    g.step(2)
    assert [p.current_time for p in g.players] == pytest.approx([0.5, 0.7]) and g.paused
    g.seek(1.0)
    assert [p.current_time for p in g.players] == pytest.approx([1.0, 1.2])
    g.playback_rate = 2
    assert [p.playback_rate for p in g.players] == [2, 2]
    g.play()
    assert not any(p.paused for p in g.players)
    # An overlay on one of its players rewrites the grid's saved output too.
    g.players[1].overlay([{"frame": 1, "x": 1, "y": 1, "w": 1, "h": 1}])
    assert "overlay" in shell.published[-1][0][MIMETYPE]["players"][1]["overlays"]
    with pytest.raises(ValueError, match="offsets"):
        rangevideo.grid([video], offsets=[1, 2])
    with pytest.raises(ValueError, match="at least one"):
        rangevideo.grid([])

"""Pose overlays and labelling on the kernel side, and the page's pure parts of drawing them
(static/player.js run with Node): packing, the per-track palette, skeleton edges, min_score,
source pixels of a letterboxed picture."""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_player_js import run_js

from jupyter_rangevideo import labelling, overlay
from jupyter_rangevideo.probe import FrameClock

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from pose_payload import KEYPOINTS, SKELETON, pose_table

CLOCK = FrameClock.constant(30, 108_000)


def pose_rows():
    """Two animals on frame 4 (one without its tail), one on frame 2; given out of order."""
    rows = []
    for track, dx, frame in (("b", 100, 4), ("a", 0, 4), ("a", 50, 2)):
        for index, name in enumerate(("nose", "neck", "tail")):
            if (track, frame, name) == ("b", 4, "tail"):
                continue
            score = 0.2 if name == "neck" and track == "a" and frame == 4 else 0.9
            position = {"x": dx + index * 10.0, "y": 5.0 * index, "score": score}
            rows.append({"frame": frame, "kind": "point", "track": track, "keypoint": name, **position})
    return rows


def test_pose_packs_tracks_keypoints_and_scores_and_leaves_constants_out():
    packed = overlay.pack(pose_rows(), CLOCK)
    assert packed.tracks == ("b", "a") and packed.keypoints == ("nose", "neck", "tail")
    assert packed.constants["kind"] == 1 and packed.constants["color"] == 0  # every row a point
    assert [name for name, _, _ in packed.columns] == ["frame", "x", "y", "track", "keypoint", "score"]
    columns = overlay.unpack(packed)
    assert columns["frame"].tolist() == [2, 2, 2, 4, 4, 4, 4, 4]  # sorted, stable
    assert columns["track"].tolist() == [2, 2, 2, 1, 1, 2, 2, 2]
    assert columns["keypoint"].tolist() == [1, 2, 3, 1, 2, 1, 2, 3]
    assert columns["score"].tolist() == [900, 900, 900, 900, 900, 900, 200, 900]
    assert columns["kind"].tolist() == [1] * 8


def test_dataframe_categoricals_and_lists_pack_alike():
    pandas = pytest.importorskip("pandas")
    rows = pose_rows()
    frame = pandas.DataFrame(rows).astype({"track": "category", "keypoint": "category", "kind": "category"})
    from_list, from_frame = overlay.pack(rows, CLOCK), overlay.pack(frame, CLOCK)
    a, b = overlay.unpack(from_list), overlay.unpack(from_frame)
    names = lambda table, codes: [table[c - 1] for c in codes]
    for column, table in (("track", "tracks"), ("keypoint", "keypoints")):
        assert names(getattr(from_list, table), a[column]) == names(getattr(from_frame, table), b[column])
    assert a["x"].tolist() == b["x"].tolist() and a["score"].tolist() == b["score"].tolist()


def test_scores_are_thousandths_rounded_down_so_min_score_is_exact():
    scores = np.array([0.6, 0.5999, 0.6004, 1.0, np.nan, 0.0, 0.123456])
    codes = overlay.score_codes(scores)
    assert codes.tolist() == [600, 599, 600, 1000, overlay.NO_SCORE, 0, 123]
    threshold = int(np.ceil(0.6 * 1000 - 1e-6))
    shown = (codes >= threshold) | (codes == overlay.NO_SCORE)
    assert shown.tolist() == [True, False, True, True, True, False, False]


def test_coordinates_are_kept_to_a_32nd_of_a_pixel():
    rows = [{"frame": 0, "kind": "point", "x": 1000.0 + k / 7, "y": 10.5} for k in range(50)]
    x = overlay.unpack(overlay.pack(rows, CLOCK))["x"]
    assert np.abs(x - (1000 + np.arange(50) / 7)).max() <= 1 / 64 + 1e-9


def test_palette_is_distinct_per_track_and_color_wins():
    colors = overlay.track_palette(25)
    assert len(set(colors)) == 25 and colors[0] == "#4e79a7"
    packed = overlay.pack(pose_rows(), CLOCK)
    assert overlay.style(packed)["track_colors"] == colors[:2] and overlay.style(packed)["color"] is None
    red = overlay.style(packed, color="red")
    assert red["color"] == "red" and red["track_colors"] is None
    assert overlay.style(packed, color={"a": "lime"})["track_colors"] == [colors[0], "lime"]
    with pytest.raises(TypeError, match="CSS colour"):
        overlay.style(packed, color=3)


def test_skeleton_edges_are_keypoint_numbers_and_unknown_names_are_errors():
    assert overlay.skeleton_edges(("nose", "neck", "tail"), [("nose", "neck"), ["neck", "tail"]]) == [
        [1, 2],
        [2, 3],
    ]
    with pytest.raises(ValueError, match="'ear' is not in the data"):
        overlay.skeleton_edges(("nose",), [("nose", "ear")])
    with pytest.raises(ValueError, match="no 'keypoint' column"):
        overlay.skeleton_edges((), [("nose", "ear")])
    with pytest.raises(ValueError, match="pair of keypoint names"):
        overlay.skeleton_edges(("nose",), ["nose"])


def page_layer(packed) -> str:
    """JS: the layer as the page gets it from a saved output (data as base64)."""
    state = packed.state()
    state["data"] = base64.b64encode(state["data"]).decode()
    return json.dumps(state)


def test_the_page_unpacks_and_finds_a_frames_points_edges_and_scores(tmp_path):
    packed = overlay.pack(pose_rows(), CLOCK)
    style = overlay.style(packed, skeleton=[("nose", "neck"), ("neck", "tail")], min_score=0.5)
    got = run_js(
        tmp_path,
        f"const layer = await p.unpackOverlay({page_layer(packed)}); const style = {json.dumps(style)};"
        "const [start, end] = p.frameRows(layer, 4); const shown = p.scoreFilter(layer, style);"
        "const rows = [...Array(end - start).keys()].map((k) => start + k);"
        "return { start, end, x: [...layer.x], shown: rows.filter(shown),"
        "  all: p.skeletonSegments(layer, style, start, end), seen: p.skeletonSegments(layer, style, start, end, shown),"
        "  empty: p.frameRows(layer, 3), colors: rows.map((i) => p.markColor(layer, style, i)) };",
    )
    assert (got["start"], got["end"], got["empty"]) == (3, 8, [3, 3])
    # Frame 4: b's nose (3), b's neck (4), a's nose (5), a's neck (6, score 0.2), a's tail (7).
    assert got["x"][3:8] == [100, 110, 0, 10, 20]
    assert got["shown"] == [3, 4, 5, 7]
    assert sorted(map(sorted, got["all"])) == [[3, 4], [5, 6], [6, 7]]  # b has no tail: no neck-tail edge
    assert sorted(map(sorted, got["seen"])) == [[3, 4]]  # a's neck is hidden, and its edges
    palette = overlay.track_palette(2)
    assert got["colors"] == [palette[0], palette[0], palette[1], palette[1], palette[1]]


def test_the_page_still_reads_format_1(tmp_path):
    """Notebooks saved before format 2: one deflated block of 9 fixed columns."""
    import zlib

    columns = [
        np.array([1, 3], "<u4"), np.array([0, 1], "u1"), np.array([5, 6], "<f4"), np.array([7, 8], "<f4"),
        np.array([9, 0], "<f4"), np.array([10, 0], "<f4"), np.array([1, 0], "<u2"), np.array([0, 1], "<u4"),
        np.array([0, 0], "<f4"),
    ]  # fmt: skip
    data = zlib.compress(b"".join(overlay.shuffle(c) for c in columns))
    layer = {
        "format": 1,
        "count": 2,
        "palette": ["red"],
        "labels": ["a"],
        "data": base64.b64encode(data).decode(),
    }
    got = run_js(
        tmp_path,
        f"const l = await p.unpackOverlay({json.dumps(layer)});"
        "return { frame: [...l.frame], a: [...l.a], color: [...l.color], label: [...l.label], score: l.score };",
    )
    assert got == {"frame": [1, 3], "a": [9, 0], "color": [1, 0], "label": [0, 1], "score": -(2**31)}


def test_source_pixels_of_a_letterboxed_picture(tmp_path):
    """A 320x120 video in a 320x320 element: the picture spans y 100..220 at scale 1; in a
    640x640 element, y 200..440 at scale 2."""
    got = run_js(
        tmp_path,
        "const out = [];"
        "for (const size of [320, 640]) {"
        "  const rect = p.pictureRect({ width: size, height: size, fit: 'contain' }, 320, 120);"
        "  const view = { rect, sx: rect.width / 320, sy: rect.height / 120 };"
        "  out.push([rect, p.sourcePoint(view, size / 2, size / 2), p.sourcePoint(view, 10, 10),"
        "    p.sourcePoint(view, 10, 10, true)]); }"
        "return out;",
    )
    (rect, middle, outside, clamped), (rect2, middle2, _, _) = got
    assert rect == {"x": 0, "y": 100, "width": 320, "height": 120}
    assert middle == {"x": 160, "y": 60} and outside is None and clamped == {"x": 10, "y": 0}
    assert rect2["y"] == 200 and middle2 == {"x": 160, "y": 60}


def test_a_long_four_animal_pose_table_packs_whole():
    """6 minutes at 30 fps, 48 points a frame (3 % missing): half a million rows. The figures
    for an hour (pack time, bytes) are benchmarks/pose_payload.py's."""
    df = pose_table(10_800)
    started = time.process_time()
    packed = overlay.pack(df, CLOCK)
    print(f"packed {len(df):,} rows in {time.process_time() - started:.1f} s CPU, {len(packed.data):,} bytes")
    assert packed.count == len(df) and set(packed.keypoints) == set(KEYPOINTS)
    assert len(packed.data) < 6 * len(df)  # 4.7 bytes a point measured
    assert len(overlay.style(packed, skeleton=SKELETON)["skeleton"]) == len(SKELETON)


# --- labelling --------------------------------------------------------------------------


def test_annotating_state_and_rows():
    assert labelling.annotating_state("point", "nose") == {"kind": "point", "label": "nose"}
    assert labelling.annotating_state(None, None) == {}
    with pytest.raises(ValueError, match="'point', 'box' or None"):
        labelling.annotating_state("circle", None)
    rows = [[3, 10.5, 20.25, None, None, "nose", "point"], [4, 1, 2, 30, 40, None, "box"]]
    table = labelling.table(labelling.valid_rows(rows))
    assert list(table.columns) == ["frame", "x", "y", "w", "h", "label", "kind"]
    assert table["frame"].tolist() == [3, 4] and table["x"].tolist() == [10.5, 1]
    assert np.isnan(table["w"][0]) and table["w"][1] == 30 and table["kind"].tolist() == ["point", "box"]
    assert len(labelling.table([])) == 0
    with pytest.raises(ValueError, match="row 0"):
        labelling.valid_rows([[1, 2, 3]])
    with pytest.raises(ValueError, match="box without"):
        labelling.valid_rows([[1, 2, 3, None, None, None, "box"]])


def test_saved_layers_keep_small_ones_and_those_asked_for():
    mib = 2**20
    layers = {
        name: {"data": b"x" * size} for name, size in (("big", 7 * mib), ("small", mib), ("more", 2 * mib))
    }
    assert overlay.saved_layers(layers, {}) == {"big", "small"}  # 10 MiB would pass the 8 MiB budget
    assert overlay.saved_layers(layers, {"more": {"save": True}}) == {"more", "small"}
    assert overlay.saved_layers(layers, {"small": {"save": False}}) == {"big"}

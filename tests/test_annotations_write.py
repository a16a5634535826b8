"""write_annotations: COCO video JSON, MOT txt and CSV, each read back into an equal table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_annotations_boxes import COCO, CVAT_XML, MOT_TXT
from test_annotations_pose import dlc_multi

from jupyter_rangevideo import read_annotations, write_annotations
from jupyter_rangevideo.annotations import COLUMNS


def random_boxes(count=500, seed=3, labels=True):
    """Boxes at awkward floats (no short decimal form), several per frame, some scores missing."""
    rng = np.random.default_rng(seed)
    columns = {
        "frame": np.sort(rng.integers(0, 10_000, count)),
        "track": rng.integers(0, 40, count),
        "label": rng.choice(["car", "bus", "person"], count) if labels else None,
        "kind": np.full(count, "box"),
        "x": rng.uniform(0, 1920, count),
        "y": rng.uniform(0, 1080, count),
        "w": rng.uniform(1, 300, count),
        "h": rng.uniform(1, 300, count),
        "score": np.where(rng.uniform(size=count) < 0.1, np.nan, rng.uniform(size=count)),
    }
    from jupyter_rangevideo.annotations._tidy import table

    return table({k: v for k, v in columns.items() if v is not None})


def round_trip(df, tmp_path, format, name, **options):
    path = tmp_path / name
    write_annotations(df, path, format=format, **options)
    back = read_annotations(path)
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    return path


@pytest.mark.parametrize("format", ["coco", "csv"])
def test_random_boxes_with_labels(tmp_path, format):
    round_trip(random_boxes(), tmp_path, format, f"boxes.{'json' if format == 'coco' else 'csv'}")


def test_random_boxes_through_mot(tmp_path):
    path = round_trip(random_boxes(labels=False), tmp_path, "mot", "boxes.txt")
    first = path.read_text().splitlines()[0].split(",")
    assert len(first) == 10 and first[-3:] == ["-1", "-1", "-1"]


def test_files_read_from_each_tool_round_trip(tmp_path):
    mot = tmp_path / "in.txt"
    mot.write_text(MOT_TXT)
    for format, name in (("mot", "mot.txt"), ("coco", "mot.json"), ("csv", "mot.csv")):
        round_trip(read_annotations(mot), tmp_path, format, name)
    coco = tmp_path / "in.json"
    coco.write_text(json.dumps(COCO))
    for format, name in (("coco", "coco.json"), ("csv", "coco.csv")):
        round_trip(read_annotations(coco), tmp_path, format, name)
    # Boxes and points with labels, keypoints named "0", NaN sizes on points: CSV holds them all.
    cvat = tmp_path / "in.xml"
    cvat.write_text(CVAT_XML)
    round_trip(read_annotations(cvat), tmp_path, "csv", "cvat.csv")
    dlc = tmp_path / "in.csv"
    dlc_multi().to_csv(dlc)
    round_trip(read_annotations(dlc), tmp_path, "csv", "dlc.csv")


def test_coco_output_is_coco_video(tmp_path):
    path = tmp_path / "out.json"
    write_annotations(random_boxes(count=3), path, format="coco", video="street.mp4", width=1920, height=1080)
    document = json.loads(path.read_text())
    assert document["videos"] == [{"id": 1, "name": "street.mp4", "width": 1920, "height": 1080}]
    image = document["images"][0]
    assert image["video_id"] == 1 and image["frame_id"] == random_boxes(count=3).frame[0]
    assert {"bbox", "category_id", "instance_id", "image_id", "area"} <= set(document["annotations"][0])


def test_mot_frames_are_written_from_one(tmp_path):
    path = tmp_path / "out.txt"
    table = random_boxes(count=1, labels=False)
    write_annotations(table, path, format="mot")
    assert path.read_text().split(",")[0] == str(table.frame[0] + 1)


def test_what_a_format_cannot_hold_is_an_error(tmp_path):
    cvat = tmp_path / "in.xml"
    cvat.write_text(CVAT_XML)
    with_points = read_annotations(cvat)
    with pytest.raises(ValueError, match="boxes only"):
        write_annotations(with_points, tmp_path / "a.json", format="coco")
    boxes = with_points[with_points.kind == "box"].drop(columns="keypoint").reset_index(drop=True)
    with pytest.raises(ValueError, match="no place for the 'label'"):
        write_annotations(boxes, tmp_path / "a.txt", format="mot")
    named = boxes.assign(track=boxes.track.map({0: "car0"}))
    with pytest.raises(ValueError, match="numbers its tracks"):
        write_annotations(named, tmp_path / "a.json", format="coco")
    with pytest.raises(ValueError, match="writes coco, mot, csv"):
        write_annotations(boxes, tmp_path / "a.xml", format="cvat")


def test_columns_are_in_the_documented_order():
    assert COLUMNS == ("frame", "track", "keypoint", "label", "kind", "x", "y", "w", "h", "score")


def test_a_missing_library_names_the_extra(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "x.h5"
    dlc_multi().to_hdf(path, key="df_with_missing", format="table", mode="w")
    monkeypatch.setitem(sys.modules, "tables", None)  # as if PyTables were not installed
    with pytest.raises(ImportError, match=r"jupyter-rangevideo\[annotations\]"):
        read_annotations(path, format="dlc")

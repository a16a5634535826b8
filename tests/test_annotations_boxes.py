"""MOT, COCO video JSON, CVAT for video XML and YOLO folders, read into the tidy table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jupyter_rangevideo import AnnotationFormatError, read_annotations

MOT_TXT = """\
1,1,10,20,30,40,0.9,-1,-1,-1
1,2,100.5,200,31,41,0.8,-1,-1,-1
2,1,11,21,30,40,-1,-1,-1,-1
"""


def test_mot_frames_from_one_become_zero_based(tmp_path):
    path = tmp_path / "MOT17-02.txt"
    path.write_text(MOT_TXT)
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "track", "kind", "x", "y", "w", "h", "score"]
    assert df.frame.tolist() == [0, 0, 1] and df.track.tolist() == [1, 2, 1]
    assert df.iloc[1][["x", "y", "w", "h"]].tolist() == [100.5, 200, 31, 41]
    assert df.score.iloc[0] == 0.9 and np.isnan(df.score.iloc[2])  # conf -1: none
    assert (df.kind == "box").all() and df.track.dtype == np.int64


def test_mot_detections_have_no_track(tmp_path):
    path = tmp_path / "det.txt"
    path.write_text("3,-1,1,2,3,4,0.5,-1,-1,-1\n")
    df = read_annotations(path)
    assert "track" not in df.columns and df.frame.tolist() == [2]


COCO = {
    "videos": [{"id": 7, "name": "b1c66a42-6f7d68ca"}],
    "images": [
        {"id": 70, "video_id": 7, "frame_id": 0, "file_name": "b1c/0001.jpg"},
        {"id": 71, "video_id": 7, "frame_id": 1, "file_name": "b1c/0002.jpg"},
    ],
    "annotations": [
        {"id": 1, "image_id": 70, "category_id": 3, "bbox": [1, 2, 3, 4], "instance_id": 12, "score": 0.5},
        {"id": 2, "image_id": 71, "category_id": 1, "bbox": [5.5, 6, 7, 8], "instance_id": 13},
    ],
    "categories": [{"id": 1, "name": "pedestrian"}, {"id": 3, "name": "car"}],
}


def test_coco_video_json(tmp_path):
    path = tmp_path / "val.json"
    path.write_text(json.dumps(COCO))
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "track", "label", "kind", "x", "y", "w", "h", "score"]
    assert df.frame.tolist() == [0, 1] and df.track.tolist() == [12, 13]
    assert df.label.tolist() == ["car", "pedestrian"]
    assert df.iloc[1][["x", "y", "w", "h"]].tolist() == [5.5, 6, 7, 8]
    assert df.score.iloc[0] == 0.5 and np.isnan(df.score.iloc[1])


def test_coco_keypoints_become_points(tmp_path):
    document = {
        "images": [{"id": 1, "video_id": 1, "frame_id": 4}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "keypoints": [1, 2, 2, 0, 0, 0, 5, 6, 1],
                "track_id": 3,
            }
        ],
        "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "eye", "ear"]}],
    }
    path = tmp_path / "pose.json"
    path.write_text(json.dumps(document))
    df = read_annotations(path)
    assert df.keypoint.tolist() == ["nose", "ear"] and df.x.tolist() == [1, 5] and (df.kind == "point").all()
    assert df.track.tolist() == [3, 3] and df.frame.tolist() == [4, 4] and "w" not in df.columns


def test_coco_with_several_videos_asks_which(tmp_path):
    document = json.loads(json.dumps(COCO))
    document["videos"].append({"id": 8, "name": "other"})
    document["images"].append({"id": 80, "video_id": 8, "frame_id": 0})
    document["annotations"].append({"id": 3, "image_id": 80, "category_id": 1, "bbox": [0, 0, 1, 1]})
    path = tmp_path / "two.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="pass video="):
        read_annotations(path)
    assert read_annotations(path, video="other").label.tolist() == ["pedestrian"]
    assert len(read_annotations(path, video=7)) == 2


CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>4</id><name>street</name><size>20</size><mode>interpolation</mode>
      <start_frame>0</start_frame><stop_frame>19</stop_frame><frame_filter></frame_filter>
    </task>
  </meta>
  <track id="0" label="car" source="manual">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="10.00" ytl="20.00" xbr="30.00" ybr="60.00" z_order="0">
    </box>
    <box frame="5" keyframe="0" outside="0" occluded="0" xtl="99.00" ytl="99.00" xbr="199.00" ybr="199.00" z_order="0">
    </box>
    <box frame="10" keyframe="1" outside="0" occluded="0" xtl="20.00" ytl="40.00" xbr="60.00" ybr="80.00" z_order="0">
    </box>
    <box frame="12" keyframe="1" outside="1" occluded="0" xtl="20.00" ytl="40.00" xbr="60.00" ybr="80.00" z_order="0">
    </box>
    <box frame="16" keyframe="1" outside="0" occluded="0" xtl="0.00" ytl="0.00" xbr="5.00" ybr="5.00" z_order="0">
    </box>
  </track>
  <track id="1" label="nose" source="manual">
    <points frame="2" keyframe="1" outside="0" occluded="0" points="10.00,10.00" z_order="0"></points>
    <points frame="6" keyframe="1" outside="1" occluded="0" points="30.00,50.00" z_order="0"></points>
  </track>
</annotations>
"""


def test_cvat_interpolates_between_keyframes_and_outside_ends_a_shape(tmp_path):
    path = tmp_path / "annotations.xml"
    path.write_text(CVAT_XML)
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "track", "keypoint", "label", "kind", "x", "y", "w", "h"]
    car = df[df.track == 0].set_index("frame")
    # Frames 0..11 (12 is outside), then 16..19 (the last keyframe lasts to stop_frame 19).
    assert car.index.tolist() == [*range(12), *range(16, 20)]
    # Frame 5 is halfway from frame 0 (10, 20, 30x40) to frame 10 (20, 40, 40x40); the
    # non-key shape written at frame 5 does not count, as in CVAT.
    assert car.loc[5, ["x", "y", "w", "h"]].tolist() == [15, 30, 30, 40]
    # Towards the outside keyframe it still moves: frame 11 of 10 -> 12 (the same box).
    assert car.loc[11, ["x", "y", "w", "h"]].tolist() == [20, 40, 40, 40]
    assert car.loc[19, ["x", "y", "w", "h"]].tolist() == [0, 0, 5, 5]
    assert (car.label == "car").all() and (car.kind == "box").all()
    nose = df[df.track == 1].set_index("frame")
    assert nose.index.tolist() == [2, 3, 4, 5]  # frame 6 is outside
    # One point moves linearly towards the next keyframe: frame 4 is halfway.
    assert nose.loc[4, ["x", "y"]].tolist() == [20, 30] and (nose.kind == "point").all()
    assert (nose.keypoint == "0").all()


def test_cvat_frame_step(tmp_path):
    xml = CVAT_XML.replace("<frame_filter></frame_filter>", "<frame_filter>step=2</frame_filter>")
    path = tmp_path / "annotations.xml"
    path.write_text(xml)
    car = read_annotations(path).query("track == 0")
    assert car.frame.tolist() == [0, 2, 4, 6, 8, 10, 16, 18]


CVAT_SKELETON = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><start_frame>0</start_frame><stop_frame>9</stop_frame></task></meta>
  <track id="3" label="mouse" source="manual">
    <skeleton frame="0" keyframe="1" z_order="0">
      <points label="nose" keyframe="1" outside="0" occluded="0" points="0.00,0.00"></points>
      <points label="tail" keyframe="1" outside="0" occluded="0" points="50.00,50.00"></points>
    </skeleton>
    <skeleton frame="4" keyframe="1" z_order="0">
      <points label="nose" keyframe="1" outside="0" occluded="0" points="40.00,80.00"></points>
      <points label="tail" keyframe="0" outside="0" occluded="0" points="99.00,99.00"></points>
    </skeleton>
    <skeleton frame="6" keyframe="1" z_order="0">
      <points label="nose" keyframe="1" outside="1" occluded="0" points="40.00,80.00"></points>
      <points label="tail" keyframe="1" outside="0" occluded="0" points="10.00,10.00"></points>
    </skeleton>
  </track>
</annotations>
"""


def test_cvat_skeleton_elements_interpolate_each_on_their_own_keyframes(tmp_path):
    path = tmp_path / "pose.xml"
    path.write_text(CVAT_SKELETON)
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "track", "keypoint", "label", "kind", "x", "y"]
    nose = df[df.keypoint == "nose"].set_index("frame")
    assert nose.index.tolist() == [0, 1, 2, 3, 4, 5]  # outside from frame 6
    assert nose.loc[1, ["x", "y"]].tolist() == [10, 20]
    tail = df[df.keypoint == "tail"].set_index("frame")
    assert tail.index.tolist() == list(range(10))  # to stop_frame 9
    # The tail's frame-4 shape is no keyframe: frame 3 is half-way from frame 0 to frame 6.
    assert tail.loc[3, ["x", "y"]].tolist() == [30, 30]
    assert (df.label == "mouse").all() and (df.track == 3).all() and (df.kind == "point").all()


def make_yolo(folder, lines_by_frame):
    folder.mkdir()
    for frame, lines in lines_by_frame.items():
        (folder / f"clip_{frame}.txt").write_text("".join(line + "\n" for line in lines))
    return folder


def test_yolo_folder_with_size(tmp_path):
    folder = make_yolo(tmp_path / "labels", {3: ["0 0.5 0.5 0.25 0.5", "1 0.1 0.2 0.1 0.2"], 12: []})
    (tmp_path / "data.yaml").write_text("names:\n  0: person\n  1: dog\n")
    df = read_annotations(folder, width=640, height=480)
    assert list(df.columns) == ["frame", "label", "kind", "x", "y", "w", "h"]
    assert df.frame.tolist() == [3, 3] and df.label.tolist() == ["person", "dog"]
    assert df.iloc[0][["x", "y", "w", "h"]].tolist() == [240, 120, 160, 240]


def test_yolo_with_confidence_names_and_first_frame(tmp_path):
    folder = make_yolo(tmp_path / "predict", {1: ["2 0.5 0.5 0.5 0.5 0.75"]})
    (folder / "classes.txt").write_text("a\nb\nc\n")
    df = read_annotations(folder, width=100, height=50, first_frame=1)
    assert df.frame.tolist() == [0] and df.label.tolist() == ["c"] and df.score.tolist() == [0.75]
    assert read_annotations(folder, width=100, height=50, names={2: "cat"}).label.tolist() == ["cat"]


def test_yolo_size_from_the_video(tmp_path):
    from jupyter_rangevideo.sample import write_sample

    video = write_sample(tmp_path / "v.mp4", duration=1, fps=5, size=(64, 48))
    folder = make_yolo(tmp_path / "labels", {0: ["0 0.5 0.5 0.5 0.5"]})
    df = read_annotations(folder, video=video)
    assert df.iloc[0][["x", "y", "w", "h"]].tolist() == [16, 12, 32, 24] and df.label.tolist() == ["0"]


def test_yolo_without_a_size_says_what_to_pass(tmp_path):
    folder = make_yolo(tmp_path / "labels", {0: ["0 0.5 0.5 0.5 0.5"]})
    with pytest.raises(ValueError, match="width= and height=, or video="):
        read_annotations(folder)


@pytest.mark.parametrize(
    ("name", "content", "format", "named"),
    [
        ("a.txt", "frame id x\n", "mot", "MOT Challenge"),
        ("a.txt", "1,2,3\n", "mot", "fewer than 6"),
        ("a.json", "[1, 2]", "coco", "COCO video JSON"),
        ("a.json", "{not json", "coco", "COCO video JSON"),
        ("a.xml", "<root/>", "cvat", "CVAT for video"),
        ("a.xml", "1,1,1,1,1,1", "cvat", "CVAT for video"),
        ("a.csv", "a,b\n1,2\n", "csv", "annotations CSV"),
    ],
)
def test_a_file_that_is_not_the_format_says_so(tmp_path, name, content, format, named):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(AnnotationFormatError, match=named) as error:
        read_annotations(path, format=format)
    assert name in str(error.value)


def test_yolo_wrong_lines_and_not_a_folder(tmp_path):
    folder = make_yolo(tmp_path / "seg", {0: ["0 0.1 0.1 0.2 0.1 0.2 0.2 0.1"]})
    with pytest.raises(AnnotationFormatError, match="YOLO.*has 8 values"):
        read_annotations(folder, width=10, height=10)
    (tmp_path / "one.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    with pytest.raises(AnnotationFormatError, match="not a folder"):
        read_annotations(tmp_path / "one.txt", format="yolo")


def test_unknown_content_asks_for_a_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(AnnotationFormatError, match="pass format="):
        read_annotations(path)


@pytest.fixture
def shell(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    monkeypatch.setattr(shell.display_pub, "publish", lambda data, *a, **k: None)
    yield shell
    InteractiveShell.clear_instance()


@pytest.mark.usefixtures("runtime_dir")
def test_the_table_goes_straight_into_an_overlay(tmp_path, shell):
    import jupyter_rangevideo as rangevideo
    from jupyter_rangevideo import overlay
    from jupyter_rangevideo.sample import write_sample

    video = write_sample(tmp_path / "v.mp4", duration=1, fps=25, size=(64, 48))
    boxes = tmp_path / "boxes.xml"
    boxes.write_text(CVAT_XML)
    df = read_annotations(boxes)
    player = rangevideo.show(video, poster=False)
    layer = player.overlay(df, name="cvat")
    assert layer.count == len(df)
    columns = overlay.unpack(overlay.pack(df, player.probe.clock))
    middle = np.flatnonzero((columns["frame"] == 5) & (columns["kind"] == 0))[0]  # the car's box
    assert [columns[k][middle] for k in ("x", "y", "a", "b")] == [15, 30, 30, 40]
    assert set(columns["kind"].tolist()) == {0, 1}  # boxes and points


@pytest.mark.parametrize(
    ("name", "content", "format"),
    [
        ("det.csv", MOT_TXT, "mot"),
        ("annotations", CVAT_XML, "cvat"),
        ("export.dat", json.dumps(COCO), "coco"),
        ("frames.csv", "frame,x,y\n0,1,2\n", "csv"),
    ],
)
def test_the_format_is_found_from_the_content(tmp_path, name, content, format):
    from jupyter_rangevideo.annotations import detect

    path = tmp_path / name
    path.write_text(content)
    assert detect(str(path)) == format

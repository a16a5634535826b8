"""DeepLabCut and SLEAP files, made as the tools make them, read into the tidy table."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import sleap_io as sio
import tables  # noqa: F401 - DeepLabCut's H5 files are PyTables files: the test extra must carry it

from jupyter_rangevideo import AnnotationFormatError, read_annotations

SCORER = "DLC_resnet50_mouseNov1shuffle1_100000"
BODYPARTS = ["nose", "ear", "tail"]


def dlc_single(frames: int = 4) -> pd.DataFrame:
    """As DeepLabCut's predict_videos builds it: columns scorer/bodyparts/coords, index 0..n-1."""
    columns = pd.MultiIndex.from_product(
        [[SCORER], BODYPARTS, ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    values = np.arange(frames * 9, dtype=np.float64).reshape(frames, 9) + 0.5
    values[:, 2::3] = 0.9
    values[2, 3:5] = np.nan  # the ear not found on frame 2
    return pd.DataFrame(values, columns=columns, index=range(frames))


def dlc_multi(frames: int = 3) -> pd.DataFrame:
    columns = pd.MultiIndex.from_product(
        [[SCORER], ["mouse1", "mouse2"], BODYPARTS, ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    values = np.arange(frames * 18, dtype=np.float64).reshape(frames, 18)
    values[:, 2::3] = 0.5
    values[1, 9:12] = np.nan  # mouse2's nose gone on frame 1
    return pd.DataFrame(values, columns=columns, index=range(frames))


@pytest.mark.parametrize("suffix", [".csv", ".h5"])
def test_dlc_single_animal(tmp_path, suffix):
    path = tmp_path / f"videoDLC{suffix}"
    wide = dlc_single()
    if suffix == ".h5":
        wide.to_hdf(path, key="df_with_missing", format="table", mode="w")
    else:
        wide.to_csv(path)
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "keypoint", "kind", "x", "y", "score"]
    assert len(df) == 4 * 3 - 1  # the missing ear is no row
    ear = df[(df.frame == 1) & (df.keypoint == "ear")].iloc[0]
    assert (ear.x, ear.y, ear.score, ear.kind) == (12.5, 13.5, 0.9, "point")
    assert df[df.frame == 2].keypoint.tolist() == ["nose", "tail"]
    assert df.frame.dtype == np.int64 and df.x.dtype == np.float64


@pytest.mark.parametrize("suffix", [".csv", ".h5"])
def test_dlc_multi_animal(tmp_path, suffix):
    path = tmp_path / f"videoDLC_multi{suffix}"
    wide = dlc_multi()
    if suffix == ".h5":
        wide.to_hdf(path, key="df_with_missing", format="table", mode="w")
    else:
        wide.to_csv(path)
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "track", "keypoint", "kind", "x", "y", "score"]
    assert len(df) == 3 * 6 - 1
    tail = df[(df.frame == 2) & (df.track == "mouse2") & (df.keypoint == "tail")].iloc[0]
    assert (tail.x, tail.y) == (36 + 15, 36 + 16)
    assert df[(df.frame == 1) & (df.track == "mouse2")].keypoint.tolist() == ["ear", "tail"]


def test_dlc_labelled_data_indexed_by_image(tmp_path):
    """CollectedData_*.csv: (labeled-data, video, image) index, x and y only, no likelihood."""
    columns = pd.MultiIndex.from_product(
        [["Alex"], BODYPARTS, ["x", "y"]], names=["scorer", "bodyparts", "coords"]
    )
    index = pd.MultiIndex.from_tuples(
        [("labeled-data", "v", "img017.png"), ("labeled-data", "v", "img230.png")]
    )
    wide = pd.DataFrame(np.arange(12, dtype=float).reshape(2, 6), columns=columns, index=index)
    path = tmp_path / "CollectedData_Alex.csv"
    wide.to_csv(path)
    df = read_annotations(path)
    assert "score" not in df.columns
    assert df.frame.tolist() == [17] * 3 + [230] * 3 and df.x.tolist() == [0, 2, 4, 6, 8, 10]


def slp_labels(tmp_path):
    skeleton = sio.Skeleton(["head", "thorax", "tail"])
    video = sio.Video(filename=str(tmp_path / "fly.mp4"), open_backend=False)
    tracks = [sio.Track("fly0"), sio.Track("fly1")]
    frames = []
    for frame in (0, 5):
        instances = []
        for t, track in enumerate(tracks):
            xy = np.array([[10.0 * t + frame, 1.0], [10.0 * t + frame, 2.0], [10.0 * t + frame, 3.0]])
            if frame == 5 and t == 1:
                xy[2] = np.nan  # fly1's tail not found
            scores = np.array([0.9, 0.8, 0.7])
            instances.append(sio.PredictedInstance.from_numpy(xy, skeleton, scores, score=0.95, track=track))
        frames.append(sio.LabeledFrame(video=video, frame_idx=frame, instances=instances))
    return sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=tracks)


def test_sleap_slp(tmp_path):
    path = tmp_path / "flies.slp"
    sio.save_slp(slp_labels(tmp_path), str(path))
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "track", "keypoint", "kind", "x", "y", "score"]
    assert len(df) == 2 * 2 * 3 - 1
    thorax = df[(df.frame == 5) & (df.track == "fly1") & (df.keypoint == "thorax")].iloc[0]
    assert (thorax.x, thorax.y, thorax.score) == (15.0, 2.0, 0.8)
    assert df[(df.frame == 5) & (df.track == "fly1")].keypoint.tolist() == ["head", "thorax"]


def write_sleap_analysis(path, locations, scores, nodes, tracks):
    """SLEAP's write_tracking_h5: arrays in (frame, node, xy, track) transposed for MATLAB."""
    with h5py.File(path, "w") as file:
        file.create_dataset("tracks", data=np.transpose(locations))  # (track, xy, node, frame)
        file.create_dataset("point_scores", data=np.transpose(scores))  # (track, node, frame)
        file.create_dataset("node_names", data=np.array([n.encode() for n in nodes]))
        file.create_dataset("track_names", data=np.array([t.encode() for t in tracks]))
        file.create_dataset(
            "track_occupancy", data=np.ones((locations.shape[0], len(tracks)), dtype=np.uint8)
        )


def test_sleap_analysis_h5_in_sleaps_layout(tmp_path):
    frames, nodes, tracks = 4, ["head", "tail"], ["a", "b", "c"]
    locations = np.full((frames, len(nodes), 2, len(tracks)), np.nan)  # (frame, node, xy, track)
    for f in range(frames):
        for t in range(len(tracks)):
            locations[f, :, 0, t] = [100 * t + f, 100 * t + f + 0.5]
            locations[f, :, 1, t] = [7.0, 8.0]
    locations[3, 1, :, 2] = np.nan  # c's tail missing on frame 3
    scores = np.full((frames, len(nodes), len(tracks)), 0.25)
    scores[2, 0, 1] = 0.75
    path = tmp_path / "analysis.h5"
    write_sleap_analysis(path, locations, scores, nodes, tracks)
    df = read_annotations(path)
    assert list(df.columns) == ["frame", "track", "keypoint", "kind", "x", "y", "score"]
    assert len(df) == frames * 2 * 3 - 1
    head = df[(df.frame == 2) & (df.track == "b") & (df.keypoint == "head")].iloc[0]
    assert (head.x, head.y, head.score) == (102.0, 7.0, 0.75)
    assert df[(df.frame == 3) & (df.track == "c")].keypoint.tolist() == ["head"]


@pytest.mark.parametrize("preset", ["matlab", "standard"])  # sleap-io names the axes in "dims"
def test_sleap_analysis_h5_written_by_sleap_io_matches_the_slp(tmp_path, preset):
    labels = slp_labels(tmp_path)
    sio.save_slp(labels, str(tmp_path / "flies.slp"))
    sio.save_analysis_h5(labels, str(tmp_path / "flies.h5"), preset=preset)
    from_slp = read_annotations(tmp_path / "flies.slp")
    from_h5 = read_annotations(tmp_path / "flies.h5")
    # The analysis file has every frame from 0 to the last; only frames 0 and 5 hold points.
    pd.testing.assert_frame_equal(from_h5, from_slp, check_exact=True)


@pytest.mark.parametrize(
    ("content", "format", "named"),
    [
        ("frame,x,y\n0,1,2\n", "dlc", "DeepLabCut CSV"),
        ("not,hdf5\n", "sleap-analysis", "SLEAP analysis HDF5"),
        ("not,hdf5\n", "sleap", "SLEAP .slp"),
    ],
)
def test_a_file_that_is_not_the_format_says_so(tmp_path, content, format, named):
    path = tmp_path / "wrong.csv"
    path.write_text(content)
    with pytest.raises(AnnotationFormatError, match=named) as error:
        read_annotations(path, format=format)
    assert "wrong.csv" in str(error.value)


def test_dlc_h5_without_its_table(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("something", data=np.zeros(3))
    with pytest.raises(AnnotationFormatError, match="DeepLabCut H5"):
        read_annotations(path)


def test_sleap_slp_user_instances_replace_their_predictions(tmp_path):
    """As SLEAP shows a frame: a user's instance hides the prediction of its track; untracked
    instances have no track; frames labelled out of order come out in order."""
    skeleton = sio.Skeleton(["head", "tail"])
    video = sio.Video(filename=str(tmp_path / "mouse.mp4"), open_backend=False)
    track = sio.Track("m")
    predicted = sio.PredictedInstance.from_numpy(
        np.array([[1.0, 1], [2, 2]]), skeleton, np.array([0.5, 0.5]), track=track
    )
    user = sio.Instance.from_numpy(np.array([[9.0, 9], [np.nan, np.nan]]), skeleton, track=track)
    untracked = sio.PredictedInstance.from_numpy(
        np.array([[5.0, 5], [6, 6]]), skeleton, np.array([0.25, 0.75])
    )
    frames = [
        sio.LabeledFrame(video=video, frame_idx=30, instances=[predicted, user]),
        sio.LabeledFrame(video=video, frame_idx=3, instances=[untracked]),
    ]
    path = tmp_path / "mouse.slp"
    sio.save_slp(
        sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=[track]), str(path)
    )
    df = read_annotations(path)
    assert df.frame.tolist() == [3, 3, 30]
    assert df.track.isna().tolist() == [True, True, False]
    assert df.iloc[2][["x", "y"]].tolist() == [9, 9] and np.isnan(df.score.iloc[2])  # the user's head only
    assert df.score.tolist()[:2] == [0.25, 0.75]

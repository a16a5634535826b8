"""Python's commands win, in order: the pure protocol and the Player's kernel side."""

import pytest

from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.sync import MAX_COMMANDS, CommandLog, filter_report
from jupyter_rangevideo.widget import Player


def test_commands_are_numbered_and_bounded():
    log = CommandLog()
    assert log.is_current(0) and log.is_current(None)  # nothing sent yet: the page decides
    log.add("play")
    log.add("rate", 2.0)
    assert [c["seq"] for c in log.recent] == [1, 2] and log.recent[1] == {
        "seq": 2,
        "op": "rate",
        "value": 2.0,
    }
    assert not log.is_current(1) and log.is_current(2)
    for _ in range(200):
        log.add("step", 1)
    assert len(log.recent) == MAX_COMMANDS and log.recent[-1]["seq"] == 202
    with pytest.raises(ValueError, match="unknown command"):
        log.add("rewind")


def test_stale_reports_lose_their_playback_state_and_never_touch_facts():
    log = CommandLog()
    log.add("pause")
    report = {"paused": False, "current_time": 3.0, "frame": 75, "applied": 0}
    update = {"_report": report, "volume": 0.5, "duration": 1.0}
    accepted, refused = filter_report(update, log)
    assert accepted == {"volume": 0.5} and sorted(refused) == ["current_time", "frame", "paused"]
    accepted, refused = filter_report({**update, "_report": {**report, "applied": 1}}, log)
    assert accepted == {"volume": 0.5, "paused": False, "current_time": 3.0, "frame": 75} and not refused
    # playback state written outside a report counts only before any command
    assert filter_report({"paused": False}, CommandLog()) == ({"paused": False}, [])
    assert filter_report({"paused": False}, log) == ({}, ["paused"])


def report(applied, **state):
    return {"_report": {"applied": applied, **state}}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("s") / "v.mp4", duration=20, fps=25, size=(64, 48), gop=25)


def ops(p):
    return [(c["op"], c["value"]) for c in p._commands]


def test_a_cell_of_commands_ends_in_the_state_asked_for_however_late_the_page_reports(video):
    p = Player(video, poster=False)
    assert p._commands == [] and p.frame == 0
    p.play()
    p.playback_rate = 2
    p.pause()
    p.seek(12)
    assert ops(p) == [("play", None), ("rate", 2.0), ("pause", None), ("seek", 12.0)]
    assert (p.paused, p.current_time, p.playback_rate, p.frame) == (True, 12.0, 2.0, 300)
    # The page's echo of the play, made before it saw the later commands, arrives late.
    p.set_state(report(1, paused=False, current_time=0.3, playback_rate=1.0, frame=7))
    assert (p.paused, p.current_time, p.playback_rate, p.frame) == (True, 12.0, 2.0, 300)
    # Its report after applying all four is taken, and so is a later click in the page.
    p.set_state(report(4, paused=True, current_time=12.02, playback_rate=2.0, frame=300))
    assert p.current_time == 12.02
    p.set_state(report(4, paused=False, current_time=12.02))
    assert p.paused is False and len(p._commands) == 4  # a report is never a command


def test_frames_steps_and_facts(video):
    p = Player(video, poster=False)
    p.frame = 40
    assert ops(p)[-1] == ("frame", 40) and p.current_time == pytest.approx(1.62)  # the middle of frame 40
    p.step(-3)
    assert ops(p)[-1] == ("step", -3) and p.paused and p.frame == 37
    p.frame = 10_000
    assert p.frame == 499  # clamped to the last frame
    p.set_state({"duration": 99.0, "video_width": 1, "video_height": 1, "fps": 1.0, **report(99)})
    assert (p.duration, p.fps, p.frame_count, p.video_width, p.video_height) == (20.0, 25.0, 500, 64, 48)


def test_clip_in_frames(video):
    p = Player(video, poster=False, start_frame=50, end_frame=350)
    assert (p.start, p.end) == (2.0, 14.0)
    with pytest.raises(ValueError, match="not a frame"):
        Player(video, poster=False, end_frame=500)


def test_snapshot_and_frame_at_are_the_exact_frames(video):
    from jupyter_rangevideo.pattern import read_frame_index

    p = Player(video, poster=False)
    p.set_state(report(0, frame=123, paused=True))
    image = p.snapshot()
    assert image.shape == (48, 64, 3) and read_frame_index(image) == 123
    assert read_frame_index(p.frame_at(499)) == 499 and p.frame == 123

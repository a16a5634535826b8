"""show() on a file the browser plays as it is sends the player before PyAV is imported: the
facts come from the container's header, PyAV's probe settles them in the background; a file
whose header cannot decide is probed first, as before; bad input still raises at show()."""

import importlib
import os
import subprocess
import sys

import pytest

from jupyter_rangevideo import MediaError, delivery
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.widget import Player

# A fresh interpreter: the package imported and a player shown, recording whether PyAV was
# loaded when the player's output was displayed (the widget's comm opened just before it).
SCRIPT = """
import sys
import IPython.display

seen = []
real = IPython.display.display

def display(*args, **kwargs):
    seen.append("av" in sys.modules)
    return real(*args, **kwargs)

IPython.display.display = display
import jupyter_rangevideo as rangevideo

p = rangevideo.show(sys.argv[1])
print("PYAV_AT_DISPLAY", seen[0])
print("SETTLED", p.probe.clock.frame_count, p.frame_count, p.fps, p.settled, "av" in sys.modules)
"""


def shown(path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if line.isupper() or " " in line)


@pytest.mark.parametrize("name", ["clip.mp4", "clip.webm"])
def test_a_direct_file_is_displayed_before_pyav_is_imported(tmp_path, name):
    path = write_sample(
        tmp_path / name, duration=2, fps=25, size=(64, 48), audio="opus" if name.endswith("webm") else "aac"
    )
    lines = shown(path)
    assert lines["PYAV_AT_DISPLAY"] == "False"
    assert lines["SETTLED"] == "50 50 25.0 True True"  # the probe's, once it has run


def test_a_file_the_header_cannot_decide_is_probed_first(tmp_path):
    # H.264 in AVI: remuxed, which needs PyAV's facts (keyframes, timestamps).
    path = write_sample(tmp_path / "clip.avi", duration=2, fps=25, size=(64, 48), codec="h264")
    lines = shown(path)
    assert lines["PYAV_AT_DISPLAY"] == "True"
    assert lines["SETTLED"] == "50 50 25.0 True True"


def test_frame_exact_features_wait_for_the_probe(tmp_path):
    path = write_sample(tmp_path / "clip.mp4", duration=2, fps=25, size=(64, 48))
    p = Player(path, poster=False, _later=True)
    assert not p.settled and p._facts["clock"] is None  # from the header
    p._probe_in_background()
    p.frame = 30  # waits for the probe's clock
    assert p.settled and p.current_time == pytest.approx(30.5 / 25)
    assert (p.fps, p.frame_count, p.duration) == (25.0, 50, 2.0)
    assert p._facts["clock"]["frame_count"] == 50


def test_the_probe_corrects_a_header_it_disagrees_with(tmp_path, monkeypatch):
    # H.264 with AC-3 audio, which browsers lack: remuxed. A header reader that took the AC-3
    # entry for AAC would send it direct; the background probe puts it right.
    path = write_sample(tmp_path / "clip.mp4", duration=2, fps=25, size=(64, 48), audio="ac3")
    tags = importlib.import_module("jupyter_rangevideo.containers.mp4_header").AUDIO_TAGS
    monkeypatch.setitem(tags, "ac-3", "aac")
    p = Player(path, poster=False, _later=True)
    assert p.delivery == "direct"
    p._probe_in_background()
    assert p.probe.audio.codec == "ac3" and p.delivery == "remux" == delivery.choose(p.probe)


def test_a_file_gone_before_the_probe_is_told_in_plain_words(tmp_path):
    path = write_sample(tmp_path / "clip.mp4", duration=2, fps=25, size=(64, 48))
    p = Player(path, poster=False, _later=True)
    os.remove(path)
    p._probe_in_background()
    with pytest.raises((MediaError, FileNotFoundError)):
        p.probe  # noqa: B018 - the property waits for the probe
    assert "clip.mp4" in p.error and "No such file" in p.error


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"just some text, not a video\n" * 20,
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\xff\xff\xff\xffmoov",
    ],
)
def test_bad_input_still_raises_at_show(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError):
        Player(path, poster=False, _later=True)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities are Linux's")
def test_the_background_probe_and_poster_run_at_background_priority(tmp_path):
    # On the cores the page draws the first frame with: they yield to it.
    import threading

    from jupyter_rangevideo import poster, priority

    # The module: the package's `probe` is the function.
    probe_module = importlib.import_module("jupyter_rangevideo.probe")

    path = write_sample(tmp_path / "clip.mp4", duration=1, fps=25, size=(64, 48))
    probe_module.probe_later(str(path)).result()
    poster.poster_later(str(path)).result()
    niceness = lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    expected = min(19, niceness() + priority.BACKGROUND_NICE)
    assert probe_module._background is not None and poster._pool is not None
    assert probe_module._background.submit(niceness).result() == expected
    assert poster._pool.submit(niceness).result() == expected

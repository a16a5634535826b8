"""The Player on the kernel side: display bundle, validation, errors before display."""

import json
import os

import pytest
import traitlets
from IPython.core.interactiveshell import InteractiveShell

import jupyter_rangevideo as rangevideo
from jupyter_rangevideo.embed import MIMETYPE
from jupyter_rangevideo.saved import WIDGET_VIEW as WIDGET_MIMETYPE
from jupyter_rangevideo.widget import Player

pytestmark = pytest.mark.usefixtures("runtime_dir")


@pytest.fixture
def shell(monkeypatch):
    """An IPython shell whose displays are recorded (updates of a display apart: a player shown
    from its file's header rewrites its saved output once its probe has run)."""
    shell = InteractiveShell.instance()
    published, updated = [], []
    monkeypatch.setattr(
        shell.display_pub,
        "publish",
        lambda data, *a, update=False, **k: (updated if update else published).append(data),
    )
    shell.published, shell.updated = published, updated
    yield shell
    InteractiveShell.clear_instance()


@pytest.fixture(scope="session")
def tiny_video(tmp_path_factory):
    from jupyter_rangevideo.sample import write_sample

    return write_sample(tmp_path_factory.mktemp("media") / "v.mp4", duration=1, fps=25, size=(64, 48))


@pytest.fixture
def video(tmp_path, tiny_video):
    """A one-second 64x48 H.264 MP4, copied into the test's folder."""
    path = tmp_path / "v.mp4"
    path.write_bytes(tiny_video.read_bytes())
    return path


def test_bundle_has_widget_saved_player_and_fallbacks(video):
    bundle = Player(video, start=2, loop=True)._repr_mimebundle_()
    assert set(bundle) >= {WIDGET_MIMETYPE, MIMETYPE, "text/html", "text/plain"}
    saved = bundle[MIMETYPE]
    assert saved["src"] == rangevideo.url_for(video)
    assert saved["name"] == "v.mp4"
    assert saved["options"]["start"] == 2 and saved["options"]["loop"] is True
    assert len(json.dumps(bundle)) < 9000  # with a poster under 5 KB


def test_size_of_the_output_does_not_depend_on_the_video(tmp_path, video):
    from jupyter_rangevideo.sample import make_large

    large = make_large(video, tmp_path / "large.mp4", 50 * 2**20)
    sizes = [len(json.dumps(Player(path, poster=False)._repr_mimebundle_())) for path in (video, large)]
    assert abs(sizes[0] - sizes[1]) < 50


def test_html_fallback_plays_a_file_beside_the_notebook_and_names_others(tmp_path, monkeypatch, video):
    monkeypatch.chdir(tmp_path)
    assert '<video src="v.mp4"' in Player(video)._fallback_html()
    assert Player(video)._local_src == "v.mp4"
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere.mp4"
    elsewhere.write_bytes(video.read_bytes())
    try:
        html = Player(elsewhere)._fallback_html()
    finally:
        elsewhere.unlink()
    assert "<video" not in html and elsewhere.name in html


def test_defaults_suit_reviewing_recordings(video):
    p = Player(video)
    assert (p.autoplay, p.loop, p.paused, p.controls, p.current_time) == (False, False, True, True, 0.0)
    assert p.end is None and p.error == ""


def test_validation(video):
    with pytest.raises(traitlets.TraitError):
        Player(video, volume=1.5)
    with pytest.raises(traitlets.TraitError):
        Player(video).playback_rate = 0


def test_seek_twice_to_the_same_time_sends_two_requests(video):
    p = Player(video)
    p.seek(0.5)
    p.seek(0.5)
    assert [(c["op"], c["value"]) for c in p._commands] == [("seek", 0.5), ("seek", 0.5)]
    assert p.current_time == 0.5 and p._commands[1]["seq"] == p._commands[0]["seq"] + 1


def test_errors_raise_before_anything_is_displayed(shell, tmp_path):
    os.mkfifo(tmp_path / "fifo.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
    (tmp_path / "empty.mp4").write_bytes(b"")
    from jupyter_rangevideo.sample import write_sample

    whole = write_sample(tmp_path / "whole.mp4", duration=1, size=(64, 48))
    (tmp_path / "half.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for path, error in [
        (tmp_path / "missing.mp4", FileNotFoundError),
        (tmp_path, IsADirectoryError),
        (tmp_path / "fifo.mp4", ValueError),
        (tmp_path / "text.mp4", rangevideo.MediaError),
        (tmp_path / "empty.mp4", rangevideo.MediaError),
        (tmp_path / "half.mp4", rangevideo.MediaError),  # an interrupted copy: its index is whole
    ]:
        with pytest.raises(error, match="cut off" if path.name == "half.mp4" else None):
            rangevideo.show(path)
    assert shell.published == []


def test_a_bare_show_as_last_line_displays_one_player(shell, video):
    result = shell.run_cell(f"import jupyter_rangevideo as rangevideo\nrangevideo.show({str(video)!r})")
    assert result.success, result.error_in_exec
    assert [MIMETYPE in data for data in shell.published] == [True]
    # Displaying it again later shows a second view, as for any widget.
    shell.run_cell("_")
    assert len(shell.published) == 2


def decode_poster(data_url: str):
    import base64
    import io

    import av

    assert data_url.startswith("data:image/jpeg;base64,")
    with av.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])), format="jpeg_pipe") as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_poster_is_a_small_still_of_the_first_shown_frame(tmp_path, monkeypatch):
    from jupyter_rangevideo.pattern import read_frame_index
    from jupyter_rangevideo.sample import write_sample

    clip = write_sample(tmp_path / "clip.mp4", duration=3, fps=25, size=(640, 360))
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # the file is not beside the notebook: a still, not a <video>
    player = Player(clip, start=2.0)
    html = player._fallback_html()
    assert "<video" not in html and 'alt="First frame of clip.mp4"' in html
    assert len(player._poster) < 5000  # a few KB in the notebook
    assert read_frame_index(decode_poster(player._poster)) == 50  # the clip's start, 2 s at 25 fps
    assert Player(clip, poster=False)._poster is None


def test_no_poster_for_audio_and_the_name_still_shows(tmp_path, monkeypatch):
    from jupyter_rangevideo.sample import write_sample

    song = write_sample(tmp_path / "tone.m4a", duration=1, codec="none", audio="aac")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    player = Player(song)
    assert player._poster is None
    assert "<img" not in player._fallback_html() and "tone.m4a" in player._fallback_html()


def test_the_files_facts_are_known_at_show_before_any_browser(tmp_path):
    from jupyter_rangevideo.sample import write_sample

    clip = write_sample(tmp_path / "sample.mp4", duration=60, fps=25, size=(320, 240))
    p = Player(clip, poster=False)
    # From the MP4's header at once; the frame clock once PyAV's probe has run (p.probe waits).
    assert (p.duration, p.fps, p.frame_count, p.video_width, p.video_height) == (60.0, 25.0, 1500, 320, 240)
    assert p.delivery == "direct" and p.probe.clock is not None and p.settled
    assert p._facts["clock"]["runs"] == [[0, 0.0, 0.04]]
    assert (p.duration, p.fps, p.frame_count, p.video_width, p.video_height) == (60.0, 25.0, 1500, 320, 240)


def test_delivery_is_chosen_and_can_be_forced(tmp_path):
    from jupyter_rangevideo.sample import write_sample

    avi = write_sample(tmp_path / "h264.avi", duration=1, size=(64, 48), codec="h264")
    assert Player(avi, poster=False).delivery == "remux"
    assert Player(avi, poster=False, delivery="transcode").delivery == "transcode"
    with pytest.raises(ValueError, match="one of direct, remux, transcode"):
        Player(avi, delivery="fast")


def test_local_src_is_the_url_path_beside_the_notebook(tmp_path, monkeypatch, video):
    folder = tmp_path / "a folder"
    folder.mkdir()
    odd = folder / "my clip #1.mp4"
    odd.write_bytes(video.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert Player(odd)._local_src == "a%20folder/my%20clip%20%231.mp4"
    monkeypatch.chdir(folder)
    assert Player(tmp_path / "a folder" / ".." / "a folder" / odd.name)._local_src == "my%20clip%20%231.mp4"
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Player(odd)._local_src == ""


def test_a_grid_saves_html_that_draws_it_beside_its_files_and_stills_elsewhere(tmp_path, monkeypatch, video):
    import re

    from jupyter_rangevideo import embed, widget
    from jupyter_rangevideo.grid import Grid

    monkeypatch.setattr(widget, "_module_carrier", None)
    monkeypatch.chdir(tmp_path)
    grid = Grid([Player(video), Player(video, start=0.5)])
    html = grid._repr_mimebundle_()["text/html"]
    (text,) = re.findall(r'<script type="application/vnd\.jupyter\.rangevideo\+json">(.*?)</script>', html)
    spec = json.loads(text)
    assert spec["grid"] is True and spec["player_id"] == grid.player_id
    assert [p["options"]["_local_src"] for p in spec["players"]] == ["v.mp4", "v.mp4"]
    assert spec["players"][1]["options"]["start"] == 0.5
    assert embed.has_module(html) and html.count("<video ") == 2  # the first display carries the module
    assert not embed.has_module(Player(video)._repr_mimebundle_()["text/html"])

    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    html = Grid([Player(video), Player(video)])._repr_mimebundle_()["text/html"]
    assert (
        embed.SPEC_CLASS not in html and html.count("<img ") == 2 and html.count("<b>Video:</b> v.mp4") == 2
    )


def test_show_does_not_import_numpy(video):
    # numpy costs more to import than the rest of show() in a fresh kernel: it is loaded only
    # by a player that draws overlays or decodes frames.
    import subprocess
    import sys

    code = (
        "import sys, jupyter_rangevideo as rangevideo\n"
        f"p = rangevideo.Player({str(video)!r})\n"
        "p._repr_mimebundle_()\n"
        "assert p.frame_count == 25, p.frame_count\n"
        "print('numpy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_outside_a_kernel_nothing_is_imported_in_the_background():
    # The server, the CLI (in a kernel: tests/test_early_output.py).
    import subprocess
    import sys

    code = (
        "import sys, threading, jupyter_rangevideo\n"
        "for thread in threading.enumerate():\n"
        "    if thread.name == 'rangevideo-preload': thread.join(60)\n"
        "print('av' in sys.modules, 'jupyter_rangevideo.widget' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False"] * 2


def test_a_player_shown_from_its_header_saves_its_clock_and_still_once_probed(shell, video):
    p = rangevideo.show(video)
    first = shell.published[0]
    assert "clock" not in first[MIMETYPE] and "<img" not in first["text/html"]  # sent at once
    p.probe  # noqa: B018 - waits for the background probe, which rewrites the saved output
    assert p.settled and len(shell.updated) == 1
    assert (
        shell.updated[0][MIMETYPE]["clock"]["frame_count"] == 25 and "<img" in shell.updated[0]["text/html"]
    )

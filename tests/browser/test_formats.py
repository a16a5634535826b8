"""Every format in one JupyterLab notebook: direct, remuxed (HLS) and transcoded (HLS) files
play and seek to the exact frame; audio-only files get compact controls; bad media is
explained in plain words. The files are made here with PyAV and carry the frame index."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import (
    FPS,
    create_notebook,
    frame_index,
    kernel_value,
    new_page,
    open_notebook,
    record,
    run_all_cells,
    save_notebook,
    wait_for_kernel,
    wait_for_notebook,
)

from jupyter_rangevideo.sample import write_sample

DURATION = 6  # seconds: 150 frames
SIZE = (320, 180)  # the smallest the frame-index strip survives every codec at
# name: (video codec, audio codec or None, delivery the probe must choose)
VIDEOS = {
    "h264.mp4": ("h264", "aac", "direct"),
    "h264.mov": ("h264", None, "direct"),
    "h264.mkv": ("h264", "opus", "direct"),
    "vp9.webm": ("vp9", "opus", "direct"),
    "av1.mp4": ("av1", None, "direct"),
    "h264-mp3.mp4": ("h264", "mp3", "direct"),
    "h264.avi": ("h264", "mp3", "remux"),
    "h264.ts": ("h264", "aac", "remux"),
    "mpeg2.ts": ("mpeg2video", "mp2", "transcode"),
    "mjpeg.avi": ("mjpeg", "pcm_s16le", "transcode"),
    "mpeg4.avi": ("mpeg4", None, "transcode"),
    "hevc.mp4": ("hevc", "aac", "transcode"),
    "hevc.mkv": ("hevc", None, "transcode"),
    "hevc.mov": ("hevc", None, "transcode"),
    "prores.mov": ("prores", "pcm_s16le", "transcode"),
    "ffv1.mkv": ("ffv1", None, "transcode"),
}
AUDIOS = {
    "tone.m4a": "aac",
    "tone.mp3": "mp3",
    "tone.wav": "pcm_s16le",
    "tone.ogg": "opus",
    "tone.flac": "flac",
}
# The first frame, then seeks back and forth, the last ones near the end.
SEEK_FRAMES = (0, 80, 37, 112, 143, 149)
# One player per delivery (all with audio) for the whole Python API.
API_PLAYERS = ("h264.mp4", "h264.ts", "mjpeg.avi")
NOTEBOOK = "formats.ipynb"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats-outside-root")
    for name, (codec, audio, _) in VIDEOS.items():
        write_sample(folder / name, duration=DURATION, fps=FPS, size=SIZE, codec=codec, audio=audio)
    for name, audio in AUDIOS.items():
        write_sample(folder / name, duration=DURATION, fps=FPS, codec="none", audio=audio)
    # Bad media the probe cannot tell: HEVC whose index is intact but whose frames are noise.
    _write_garbled(folder / "hevc.mp4", folder / "garbled.mp4")
    (folder / "text.mp4").write_text("this is not a video\n" * 50)
    return folder


def _write_garbled(source: Path, out: Path) -> None:
    data = bytearray(source.read_bytes())
    start = data.index(b"mdat") + 4 + 512  # keep the first bytes: the parameter sets
    for position in range(start, len(data)):
        data[position] = (position * 131 + 7) % 256
    out.write_bytes(bytes(data))


def _cells(folder: Path) -> list[str]:
    names = [*VIDEOS, *AUDIOS]
    show_all = (
        "import jupyter_rangevideo as rangevideo\n"
        f"folder = {str(folder)!r}\n"
        "ps = {}\n"
        f"for name in {names!r}:\n"
        "    ps[name] = rangevideo.show(f'{folder}/{name}', width=320)"
    )
    bad = (
        "try:\n"
        "    rangevideo.show(f'{folder}/text.mp4')\n"
        "except Exception as e:\n"
        "    text_error = f'{type(e).__name__}: {e}'\n"
        "garbled = rangevideo.show(f'{folder}/garbled.mp4', width=320)"
    )
    return [show_all, bad]


@pytest.fixture(scope="module")
def notebook(browser, servers, media):
    """The notebook, run once, in a page that the tests of this module share."""
    server = servers("lab")
    create_notebook(server, NOTEBOOK, _cells(media))
    with new_page(browser, timeout=60) as page:
        open_notebook(page, server, NOTEBOOK)
        started = run_all_cells(page)
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-RangeVideo').length >= 22", timeout=120_000
        )
        ids = kernel_value(page, "{name: p.player_id for name, p in ps.items()}")
        ids["garbled"] = kernel_value(page, "garbled.player_id")
        yield page, server, ids, started


def media_selector(player_id: str) -> str:
    return f'[data-player-id="{player_id}"]:is(video, audio)'


def wait_frame(page, selector: str, expected: int, timeout: float = 45) -> tuple[int | None, float]:
    """Wait until the element shows frame ``expected`` (±1); return (seen, seconds waited)."""
    started = time.monotonic()
    seen = None
    while time.monotonic() - started < timeout:
        seen = frame_index(page, selector)
        if seen is not None and abs(seen - expected) <= 1:
            break
        time.sleep(0.04)
    return seen, time.monotonic() - started


def element(page, selector: str, expression: str):
    return page.evaluate(f"(s) => {{ const e = document.querySelector(s); return {expression}; }}", selector)


def test_every_format_seeks_to_the_exact_frame(notebook):
    page, _, ids, _ = notebook
    assert kernel_value(page, "{n: p.delivery for n, p in ps.items() if '.' in n}") == {
        **{name: delivery for name, (_, _, delivery) in VIDEOS.items()},
        **dict.fromkeys(AUDIOS, "direct"),
    }
    failures, seeks, by_file = [], {}, {}
    for name in VIDEOS:
        selector = media_selector(ids[name])
        page.locator(selector).scroll_into_view_if_needed()
        for frame in SEEK_FRAMES:
            if frame:
                # Half a frame in: the frame shown is unambiguous whatever the rounding.
                element(page, selector, f"e.currentTime = {(frame + 0.5) / FPS}")
            seen, waited = wait_frame(page, selector, frame)
            if seen is None or abs(seen - frame) > 1:
                failures.append(f"{name}: frame {frame} asked, {seen} shown")
                break
            if frame:
                seeks.setdefault(VIDEOS[name][2], []).append(waited)
                by_file.setdefault(name, []).append(waited)
        assert element(page, selector, "e.tagName") == "VIDEO"
        # The probe's duration, not the stream's rounded one, whatever the page saw.
        duration = kernel_value(page, f"ps[{name!r}].duration")
        assert abs(duration - DURATION) < 0.1, (name, duration)
    for delivery, waits in seeks.items():
        waits.sort()
        record(
            f"formats: {delivery} seek to right frame, 320x180, median (ms)",
            round(1000 * waits[len(waits) // 2]),
        )
    record(
        "formats: seek to right frame per file (delivery, median ms)",
        {name: [VIDEOS[name][2], round(1000 * sorted(w)[len(w) // 2])] for name, w in by_file.items()},
    )
    errors = kernel_value(page, "{n: p.error for n, p in ps.items() if p.error}")
    assert not failures and not errors, (failures, errors)


@pytest.mark.parametrize("name", API_PLAYERS)
def test_python_api_is_the_same_for_every_delivery(notebook, name):
    page, _, ids, _ = notebook
    selector = media_selector(ids[name])
    page.locator(selector).scroll_into_view_if_needed()
    p = f"ps[{name!r}]"

    kernel_value(page, f"{p}.seek(2.02)")
    assert wait_frame(page, selector, 50)[0] in (49, 50, 51)
    kernel_value(page, f"setattr({p}, 'current_time', 4.42)")
    assert wait_frame(page, selector, 110)[0] in (109, 110, 111)
    wait_for_kernel(page, f"{p}.current_time", lambda t: abs(t - 4.42) < 0.05)

    kernel_value(page, f"setattr({p}, 'playback_rate', 2.0)")
    page.wait_for_function("(s) => document.querySelector(s).playbackRate === 2", arg=selector)
    kernel_value(page, f"setattr({p}, 'playback_rate', 1.0)")
    kernel_value(page, f"{p}.seek(0.5) or {p}.play()")
    page.wait_for_function(
        "(s) => { const e = document.querySelector(s); return !e.paused && e.currentTime > 1.2; }",
        arg=selector,
    )
    wait_for_kernel(page, f"{p}.paused", lambda paused: paused is False)
    # The sound decodes too, on every delivery.
    assert element(page, selector, "e.webkitAudioDecodedByteCount") > 0
    kernel_value(page, f"{p}.pause()")
    page.wait_for_function("(s) => document.querySelector(s).paused", arg=selector)
    time.sleep(0.4)
    at = kernel_value(page, f"{p}.current_time")
    # Python and the picture agree: the picture may trail the clock by a few frames when
    # playback is paused on a loaded machine (direct files too), never by more.
    assert abs(frame_index(page, selector) - at * FPS) <= 4

    # A clip that loops: playback stays between start and end.
    kernel_value(
        page, f"setattr({p}, 'start', 1.0) or setattr({p}, 'end', 2.0) or setattr({p}, 'loop', True)"
    )
    kernel_value(page, f"{p}.seek(1.0) or {p}.play()")
    times = []
    for _ in range(25):
        times.append(element(page, selector, "e.currentTime"))
        time.sleep(0.1)
    kernel_value(page, f"{p}.pause() or setattr({p}, 'end', None) or setattr({p}, 'loop', False)")
    # The clip's end is enforced on timeupdate (about 4 per second, later on a loaded machine).
    assert all(0.95 <= t <= 2.5 for t in times), [round(t, 2) for t in times]
    assert any(later < earlier for earlier, later in zip(times, times[1:])), times  # it looped


def test_audio_only_files_get_compact_controls_and_seek(notebook):
    page, _, ids, _ = notebook
    for name in AUDIOS:
        selector = media_selector(ids[name])
        page.locator(selector).scroll_into_view_if_needed()
        tag, height = element(page, selector, "[e.tagName, e.getBoundingClientRect().height]")
        assert tag == "AUDIO" and 20 <= height <= 80, (name, tag, height)  # not a 150 px black box
        p = f"ps[{name!r}]"
        assert abs(kernel_value(page, f"{p}.duration") - DURATION) < 0.1
        kernel_value(page, f"{p}.seek(3.0)")
        page.wait_for_function(
            "(s) => Math.abs(document.querySelector(s).currentTime - 3) < 0.05", arg=selector
        )
        kernel_value(page, f"{p}.play()")
        page.wait_for_function("(s) => document.querySelector(s).currentTime > 3.5", arg=selector)
        assert element(page, selector, "e.webkitAudioDecodedByteCount") > 0, name
        kernel_value(page, f"{p}.pause()")
        wait_for_kernel(page, f"{p}.current_time", lambda t: t > 3.4)


def test_bad_media_is_explained_in_plain_words(notebook):
    page, _, ids, _ = notebook
    text_error = kernel_value(page, "text_error")
    assert text_error.startswith("MediaError") and "text.mp4" in text_error, text_error
    # The garbled file passes the probe; the page says the server could not make it playable.
    root = f'.jp-RangeVideo[data-player-id="{ids["garbled"]}"]'
    page.locator(root).scroll_into_view_if_needed()
    message = page.locator(f"{root} .jp-RangeVideo-message")
    message.wait_for(state="visible", timeout=60_000)
    text = message.inner_text()
    record("formats: what the page says for a garbled file", text)
    assert "garbled.mp4" in text and "could not" in text, text
    assert page.locator(f"{root} .jp-RangeVideo-busy").is_hidden()
    error = wait_for_kernel(page, "garbled.error", bool)
    assert error == text


def test_saved_notebook_reopened_without_kernel_plays_segments(notebook):
    page, server, ids, _ = notebook
    save_notebook(page)
    server.shut_down_kernels(NOTEBOOK)
    # Hold the transcoded segments back: while it waits, the player says it is preparing.
    held, released = [], []

    def hold(route):
        if released:
            route.continue_()
        else:
            held.append(route)

    page.route("**/rangevideo/hls/transcode/**/seg-*.ts", hold)
    page.goto(server.notebook_url(NOTEBOOK))
    wait_for_notebook(page, NOTEBOOK, kernel=False)
    root = f'.jp-RangeVideo[data-player-id="{ids["hevc.mkv"]}"]'
    page.locator(root).scroll_into_view_if_needed()
    badge = page.locator(f"{root} .jp-RangeVideo-busy")
    badge.wait_for(state="visible")
    assert "Preparing video" in badge.inner_text()
    released.append(True)
    for route in held:
        route.continue_()
    badge.wait_for(state="hidden")
    for name in ("h264.ts", "hevc.mkv", "tone.flac"):
        selector = media_selector(ids[name])
        page.locator(selector).scroll_into_view_if_needed()
        if name.startswith("tone"):
            assert element(page, selector, "e.tagName") == "AUDIO"
            continue
        frame = 60
        page.wait_for_function("(s) => document.querySelector(s)?.readyState >= 1", arg=selector)
        element(page, selector, f"e.currentTime = {(frame + 0.5) / FPS}")
        seen, _ = wait_frame(page, selector, frame)
        assert seen is not None and abs(seen - frame) <= 1, (name, seen)
        assert element(page, selector, "e.currentSrc").startswith("blob:")  # hls.js, not the file

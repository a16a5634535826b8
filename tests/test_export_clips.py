"""`rangevideo.export`: each player's clip holds exactly the frames the player shows (decoded
with PyAV and read from the frame index drawn in every frame), copied or re-encoded as the
source allows; the saved spec is carried over; failures leave nothing behind."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import av
import nbformat
import pytest

from jupyter_rangevideo import embed
from jupyter_rangevideo.pattern import read_frame_index
from jupyter_rangevideo.sample import make_large, write_sample
from jupyter_rangevideo.share import ExportError, export

pytestmark = pytest.mark.usefixtures("runtime_dir")

FPS = 25
SPEC_RE = re.compile(r'<script type="application/vnd\.jupyter\.rangevideo\+json">(.*?)</script>', re.DOTALL)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    return {
        "h264": write_sample(folder / "h264.mp4", duration=4, fps=FPS, size=(160, 120), audio="aac"),
        "mkv": write_sample(folder / "h264.mkv", duration=3, fps=FPS, size=(160, 120)),
        "hevc": write_sample(folder / "hevc.mp4", duration=3, fps=FPS, size=(160, 120), codec="hevc"),
    }


def notebook_with(folder: Path, players: list[tuple[Path, dict]], name: str = "nb.ipynb", extra=None) -> Path:
    """A notebook whose saved outputs are those of show(path, **options), made without a kernel."""
    from jupyter_rangevideo.widget import Player

    nb = nbformat.v4.new_notebook()
    for path, options in players:
        bundle = Player(path, **options)._repr_mimebundle_()
        if extra:
            bundle[embed.MIMETYPE].update(extra)
        cell = nbformat.v4.new_code_cell("rangevideo.show(...)")
        cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
        nb.cells.append(cell)
    path = folder / name
    nbformat.write(nb, path)
    return path


def frames_of(path: Path) -> list[int | None]:
    with av.open(str(path)) as container:
        return [read_frame_index(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]


def specs_in(html: str) -> list[dict]:
    return [json.loads(match) for match in SPEC_RE.findall(html)]


def test_clips_hold_the_frames_each_player_shows_copied_where_the_cut_allows(tmp_path, media):
    nb = notebook_with(
        tmp_path,
        [
            (media["h264"], {}),  # the whole file
            (media["h264"], {"start": 1, "end": 2.5}),  # starts on a keyframe: copied
            (media["h264"], {"start": 1.5, "end": 3}),  # starts between keyframes: re-encoded
        ],
    )
    result = export(nb, tmp_path / "out", log=None)
    whole, keyed, between = result.players
    assert [p.copied for p in result.players] == [True, True, False]
    assert "between keyframes" in between.reason
    # Both ends inclusive: the player stops on the frame at `end`.
    for player, first, last in ((whole, 0, 99), (keyed, 25, 62), (between, 37, 75)):
        frames = frames_of(tmp_path / "out" / player.clip)
        assert (frames[0], frames[-1], len(frames)) == (first, last, last - first + 1), player.clip
    with av.open(str(tmp_path / "out" / keyed.clip)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
    with open(tmp_path / "out" / between.clip, "rb") as f:
        head = f.read(64 * 1024)
    assert head.find(b"moov") < head.find(b"mdat")  # faststart: playable before it has all arrived


def test_the_saved_spec_is_carried_over_with_only_its_source_changed(tmp_path, media):
    extra = {"overlays": [{"name": "boxes", "frame": [30, 31], "x": [1, 2]}], "markers": [1.2]}
    nb = notebook_with(tmp_path, [(media["h264"], {"start": 1, "end": 2, "loop": True})], extra=extra)
    saved = nbformat.read(nb, as_version=4).cells[0].outputs[0].data[embed.MIMETYPE]
    result = export(nb, tmp_path / "out", log=None)
    html = result.html.read_text()
    (spec,) = specs_in(html)
    assert spec["src"] == "clips/01-h264.mp4" and (tmp_path / "out" / spec["src"]).is_file()
    assert spec["export"] == {"offset": 1.0, "first_frame": 25, "last_frame": 50}
    assert {k: v for k, v in spec.items() if k != "export"} == {
        **saved,
        "src": spec["src"],
        "options": {**saved["options"], "delivery": "direct"},
    }
    # No path of the source and no widget renderer from a CDN in the page.
    assert str(media["h264"].parent) not in html and "widget-view+json" not in html
    # The player module, inlined once.
    assert html.count("function mountPlayer(") == 1


@pytest.mark.parametrize(
    ("source", "options", "copied", "reason"),
    [
        ("mkv", {}, True, ""),
        ("hevc", {}, False, "video is hevc"),
        ("h264", {"max_height": 60}, False, "downscaled from 120 to 60"),
    ],
)
def test_copy_or_re_encode(tmp_path, media, source, options, copied, reason):
    nb = notebook_with(tmp_path, [(media[source], {"start": 1})])
    (player,) = export(nb, tmp_path / "out", log=None, **options).players
    assert player.copied is copied and reason in player.reason
    clip = tmp_path / "out" / player.clip
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert stream.codec_context.height == (60 if "max_height" in options else 120)
    assert frames_of(clip)[0] == FPS


def test_a_clip_of_a_big_file_reads_only_around_the_clip(tmp_path, media):
    segment = write_sample(tmp_path / "segment.mp4", duration=4, fps=FPS, size=(320, 240), noise=True)
    big = make_large(segment, tmp_path / "big.mp4", 64 * 2**20)
    nb = notebook_with(tmp_path, [(big, {"start": 40, "end": 41})])
    before = _bytes_read()
    (player,) = export(nb, tmp_path / "out", log=None).players
    read = _bytes_read() - before
    assert player.copied and big.stat().st_size > 60 * 2**20
    assert read < 12 * 2**20, f"read {read / 2**20:.1f} MiB of a {big.stat().st_size / 2**20:.0f} MiB source"
    frames = frames_of(tmp_path / "out" / player.clip)
    assert (frames[0], len(frames)) == (0, FPS + 1)  # 40 s is the 11th copy's first frame


def _bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_missing_source_fails_cleanly_and_leaves_nothing(tmp_path, media):
    gone = tmp_path / "gone.mp4"
    gone.write_bytes(media["h264"].read_bytes())
    nb = notebook_with(tmp_path, [(media["h264"], {}), (gone, {})])
    gone.unlink()
    with pytest.raises(ExportError, match=r"gone\.mp4.*missing"):
        export(nb, tmp_path / "out", log=None)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_an_unreadable_source_fails_mid_export_and_leaves_nothing(tmp_path, media):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(media["h264"].read_bytes())
    nb = notebook_with(tmp_path, [(media["h264"], {}), (broken, {})])
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 3])  # truncated after it was shared
    with pytest.raises(ExportError, match="broken.mp4"):
        export(nb, tmp_path / "out", log=None)
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path) == []


def test_a_file_the_notebook_did_not_share_is_not_read(tmp_path, media):
    nb_path = notebook_with(tmp_path, [(media["h264"], {})])
    nb = nbformat.read(nb_path, as_version=4)
    spec = nb.cells[0].outputs[0].data[embed.MIMETYPE]
    signature, _, _ = spec["src"][len("rangevideo/files/") :].partition("/")
    spec["src"] = f"rangevideo/files/{signature}/etc/passwd"  # a path edited under a real signature
    nbformat.write(nb, nb_path)
    with pytest.raises(ExportError, match="not shared by you"):
        export(nb_path, tmp_path / "out", log=None)
    assert not (tmp_path / "out").exists()


def test_single_file_embeds_the_clips_and_refuses_above_its_limit(tmp_path, media):
    nb = notebook_with(tmp_path, [(media["h264"], {"start": 1, "end": 2})])
    result = export(nb, tmp_path / "one.html", single_file=True, log=None)
    html = result.html.read_text()
    (spec,) = specs_in(html)
    assert spec["src"].startswith("data:video/mp4;base64,") and result.size < 50 * 2**20
    assert not (tmp_path / "clips").exists() and _leftovers(tmp_path) == []
    with pytest.raises(ExportError, match="limit of --single-file: export to a folder"):
        export(nb, tmp_path / "big.html", single_file=True, size_limit=10_000, log=None)
    assert not (tmp_path / "big.html").exists() and _leftovers(tmp_path) == []


def test_preview_is_an_animated_webp_under_its_cap_in_the_saved_output(tmp_path, media):
    from jupyter_rangevideo.preview import PREVIEW_CAP

    nb = notebook_with(tmp_path, [(media["h264"], {})])
    export(nb, tmp_path / "out", preview=True, log=None)
    html = nbformat.read(nb, as_version=4).cells[0].outputs[0].data["text/html"]
    match = re.search(r'src="data:image/webp;base64,([^"]+)"', html)
    assert match, html[:300]
    import base64
    import io

    from PIL import Image  # FFmpeg does not decode animated WebP

    webp = base64.b64decode(match.group(1))
    assert len(webp) <= PREVIEW_CAP
    with Image.open(io.BytesIO(webp)) as image:
        assert image.format == "WEBP" and image.n_frames > 10
        import numpy as np

        assert read_frame_index(np.asarray(image.convert("RGB"))) == 0


def test_command_line_and_nbconvert_exporter(tmp_path, media):
    nb = notebook_with(tmp_path, [(media["h264"], {"start": 1, "end": 2})], name="demo.ipynb")
    run = subprocess.run(
        [sys.executable, "-m", "jupyter_rangevideo", "export", str(nb), "-o", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "Exported 1 player(s)" in run.stderr and "copied" in run.stderr
    assert (tmp_path / "site" / "index.html").is_file()

    (tmp_path / "h264-moved.mp4").unlink(missing_ok=True)
    bad = notebook_with(tmp_path, [(tmp_path / "site" / "clips" / "01-h264.mp4", {})], name="bad.ipynb")
    (tmp_path / "site" / "clips" / "01-h264.mp4").rename(tmp_path / "h264-moved.mp4")
    run = subprocess.run(
        [sys.executable, "-m", "jupyter_rangevideo", "export", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1 and "missing" in run.stderr and "Nothing was written" in run.stderr
    assert not (tmp_path / "bad-export").exists()

    run = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "rangevideo", str(nb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    (spec,) = specs_in((tmp_path / "demo.html").read_text())
    assert spec["src"] == "demo_files/clips/01-h264.mp4"
    assert frames_of(tmp_path / spec["src"])[0] == FPS


def test_a_grid_exports_each_of_its_players(tmp_path, media):
    from jupyter_rangevideo.grid import Grid
    from jupyter_rangevideo.widget import Player

    nb = notebook_with(tmp_path, [(media["h264"], {"start": 1, "end": 2})])
    grid = Grid([Player(media["h264"]), Player(media["mkv"], start=1)], columns=2)
    bundle = grid._repr_mimebundle_()
    notebook = nbformat.read(nb, as_version=4)
    cell = nbformat.v4.new_code_cell("rangevideo.grid(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    notebook.cells.append(cell)
    nbformat.write(notebook, nb)

    result = export(nb, tmp_path / "out", log=None)
    assert [Path(p.source).name for p in result.players] == ["h264.mp4", "h264.mp4", "h264.mkv"]
    single, grid_spec = specs_in(result.html.read_text())
    assert single["src"] == "clips/01-h264.mp4"
    assert grid_spec["grid"] is True and grid_spec["columns"] == 2 and grid_spec["offsets"] == [0.0, 0.0]
    whole, clipped = grid_spec["players"]
    assert (whole["src"], clipped["src"]) == ("clips/02-h264.mp4", "clips/03-h264.mp4")
    assert whole["export"]["offset"] == 0 and clipped["export"] == {
        "offset": 1.0,
        "first_frame": 25,
        "last_frame": 74,
    }
    assert [p["player_id"] for p in grid_spec["players"]] == [p.player_id for p in grid.players]
    frames = frames_of(tmp_path / "out" / clipped["src"])
    assert (frames[0], frames[-1]) == (25, 74)
    assert len(frames_of(tmp_path / "out" / whole["src"])) == 4 * FPS

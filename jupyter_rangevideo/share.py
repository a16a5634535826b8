"""Turn a notebook with players into a folder (or one HTML file) that plays anywhere.

``export(notebook)`` renders the notebook with nbconvert's HTML templates and, for every
player output, writes an MP4 of just what that player shows (its clip, or the whole file),
stream-copied where the cut allows, else re-encoded. Each player in the page is drawn by the
package's own module from its saved spec, with ``src`` pointing at the clip; every other
field of the spec (options, overlays, markers, ...) is carried over untouched.

Everything is written into a temporary directory beside the output and moved into place at
the end: a missing or unreadable source stops the export with nothing left behind.
"""

from __future__ import annotations

import base64
import copy
import html
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote, unquote_to_bytes

from . import embed, saved
from .clip import ClipPlan, plan_clip, span_of, write_clip
from .embed import MIMETYPE
from .probe import MediaError, probe
from .progress import ProgressBar
from .remote_registry import is_remote_name
from .signing import REMOTE_DOMAIN, ROUTE, load_secret, verify

SINGLE_FILE_LIMIT = 50 * 2**20
CLIPS_DIR = "clips"


class ExportError(Exception):
    """The notebook cannot be exported as asked; the message says why and what to do."""


@dataclass
class PlayerExport:
    """One player's clip, as the summary reports it."""

    name: str
    source: str
    plan: ClipPlan
    clip: str = ""  # path relative to the page, or "" while not written
    size: int = 0
    copied: bool = False
    reason: str = ""
    seconds: float = 0.0

    def summary_line(self) -> str:
        plan = self.plan
        span = f"{plan.start:.2f}-{plan.end:.2f} s (frames {plan.first}-{plan.last})"
        how = "copied" if self.copied else f"re-encoded ({self.reason})"
        return f"{self.name}: {self.source}  {span}  -> {self.clip} {_mb(self.size)}, {how}, {self.seconds:.1f} s"


@dataclass
class ExportResult:
    output: Path  # the folder, or the HTML file with --single-file
    html: Path
    players: list[PlayerExport] = field(default_factory=list)
    size: int = 0  # bytes of everything written
    seconds: float = 0.0


def source_of(spec: dict[str, Any], secret: bytes) -> str:
    """The local file a saved player streams, if its signed URL was made with this user's secret."""
    src = spec.get("src")
    name = spec.get("name", "?")
    prefix = ROUTE + "/"
    if not isinstance(src, str) or not src.startswith(prefix):
        raise ExportError(f"player {name!r} has no source file (src {src!r})")
    signature, _, quoted = src[len(prefix) :].partition("/")
    name = unquote(quoted)
    if is_remote_name(name) and verify(name, signature, secret, REMOTE_DOMAIN):
        return name  # a remote object: its clip is read through the block cache
    path = (
        "/" + os.fsdecode(unquote_to_bytes(quoted))
        if os.sep == "/"
        else os.fsdecode(unquote_to_bytes(quoted))
    )
    if "\0" in path or not verify(path, signature, secret):
        raise ExportError(
            f"player {name!r}: its file {path!r} was not shared by you (the signature does not match "
            f"your secret): run the notebook again to share it"
        )
    return path


def find_players(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """Every player or grid output of the notebook (the dicts themselves, in order)."""
    return saved.player_outputs(notebook)


def _by_output(nb: Any, players: list[PlayerExport]) -> list[tuple[Any, list[PlayerExport]]]:
    """Each player output with its players (one, or a grid's, in order), as check_players
    listed them."""
    grouped, index = [], 0
    for output in find_players(nb):
        count = len(saved.player_specs(output["data"][MIMETYPE]))
        grouped.append((output, players[index : index + count]))
        index += count
    return grouped


def export(
    notebook: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    single_file: bool = False,
    max_height: int | None = None,
    crf: int = 23,
    preview: bool = False,
    size_limit: int = SINGLE_FILE_LIMIT,
    log: TextIO | None = sys.stderr,
) -> ExportResult:
    """Export ``notebook`` to a folder (``index.html`` and ``clips/``) or, with ``single_file``,
    one HTML file with the clips inside; return what was written.

    ``out`` defaults to ``NAME-export/`` (or ``NAME.html``) beside the notebook. An existing
    output is replaced only once the new one is complete. ``max_height`` downscales clips
    taller than that; ``crf`` is libx264's quality for re-encoded clips (lower is better,
    bigger). ``preview`` also writes a short animated WebP into the notebook's saved player
    outputs, for pages that run no script (GitHub, nbviewer). Raises :class:`ExportError`.
    """
    import nbformat

    started = time.monotonic()
    notebook = Path(notebook)
    if not notebook.is_file():
        raise ExportError(f"no notebook at {str(notebook)!r}")
    if out is None:
        out = notebook.with_name(notebook.stem + (".html" if single_file else "-export"))
    out = Path(out)
    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]  # nbformat has no types
    players = check_players(nb, max_height)

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)  # mkdtemp's 0700 would keep a static server's other users out
    try:
        clips = work / CLIPS_DIR
        write_clips(players, clips, crf=crf, log=log)
        previews = make_previews(players, work) if preview else {}
        if single_file:
            total = sum({p.clip: p.size for p in players}.values())
            if total * 4 // 3 > size_limit:
                raise ExportError(
                    f"the clips come to {_mb(total)} ({_mb(total * 4 // 3)} as data in the page), above the "
                    f"{_mb(size_limit)} limit of --single-file: export to a folder instead (leave out "
                    f"--single-file), or make the clips smaller with --max-height, --crf or a shorter span"
                )
        page_nb = copy.deepcopy(nb)
        if single_file:
            rewrite(page_nb, players, lambda p: _data_url(work / p.clip), previews, with_video=False)
        else:
            rewrite(page_nb, players, lambda p: quote(p.clip), previews)
        html_path = work / "index.html"
        html_path.write_text(render_html(page_nb, notebook), encoding="utf-8")
        if single_file:
            _replace(html_path, out)
            shutil.rmtree(work)
            html_out = out
        else:
            _replace(work, out)
            html_out = out / "index.html"
        if previews:
            _write_previews(notebook, nb, players, previews)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size = out.stat().st_size if single_file else sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    result = ExportResult(out, html_out, players, size, time.monotonic() - started)
    if log is not None:
        log.write(summary(result) + "\n")
    return result


def check_players(nb: Any, max_height: int | None) -> list[PlayerExport]:
    """Every player's source, verified and probed before any clip is written: a missing,
    unreadable or unshared file fails the export at once."""
    secret = load_secret()
    return [
        _check_player(spec, secret, max_height)
        for output in find_players(nb)
        for spec in saved.player_specs(output["data"][MIMETYPE])
    ]


def write_clips(players: list[PlayerExport], folder: Path, *, crf: int, log: TextIO | None) -> None:
    """Write each distinct clip once into ``folder``; ``player.clip`` becomes "clips/NAME"."""
    folder.mkdir(exist_ok=True)
    written: dict[tuple[Any, ...], PlayerExport] = {}
    for number, player in enumerate(players, 1):
        plan = player.plan
        key = (player.source, plan.first, plan.last, plan.start, plan.end, plan.copy, plan.max_height)
        done = written.get(key)
        if done is None:
            name = f"{number:02d}-{_safe(Path(player.source).stem)}.mp4"
            bar = ProgressBar(log, f"clip {number}/{len(players)} {Path(player.source).name[:40]}", step=2)
            begun = time.monotonic()
            try:
                result = write_clip(player.source, str(folder / name), plan, crf=crf, progress=bar)
            except (OSError, ValueError) as e:  # PyAV's errors are both
                raise ExportError(f"player {player.name!r}: cannot read {player.source!r}: {e}") from None
            player.seconds = time.monotonic() - begun
            player.clip, player.size = f"{folder.name}/{name}", result.size
            player.copied, player.reason = result.copied, result.reason
            written[key] = player
        else:
            player.clip, player.size, player.copied, player.reason = (
                done.clip,
                done.size,
                done.copied,
                done.reason,
            )


def make_previews(players: list[PlayerExport], root: Path) -> dict[str, str]:
    from .preview import preview_data_url

    previews: dict[str, str] = {}
    for player in players:
        if player.clip not in previews:
            previews[player.clip] = preview_data_url(str(root / player.clip)) or ""
    return previews


def rewrite(
    nb: Any,
    players: list[PlayerExport],
    src_of: Any,
    previews: dict[str, str] | None = None,
    *,
    with_video: bool = True,
) -> None:
    """Make ``nb``'s player outputs draw from their clips: text/html holds the exported spec
    (a grid's: each of its players') and a fallback; the widget views and the players' widget
    state go."""
    previews = previews or {}
    grouped = _by_output(nb, players)
    for output, exports in grouped:
        data = output["data"]
        spec = data[MIMETYPE]
        old_html = data.get("text/html", "")
        old_html = "".join(old_html) if isinstance(old_html, list) else str(old_html)
        posters = _posters_of(old_html) if len(exports) > 1 else [_poster_of(old_html)]
        fallbacks, specs = [], []
        for index, (player, player_spec) in enumerate(zip(exports, saved.player_specs(spec))):
            src = src_of(player)
            poster = posters[index] if len(posters) == len(exports) else ""
            fallbacks.append(_fallback(player, src, previews.get(player.clip) or poster, with_video))
            specs.append(exported_spec(player_spec, src, player.plan))
        if spec.get("grid"):
            page_spec = {**copy.deepcopy(spec), "players": specs}
            fallback = f'<div class="jp-RangeVideo-grid-fallback">{"".join(fallbacks)}</div>'
        else:
            page_spec, fallback = specs[0], fallbacks[0]
        data["text/html"] = embed.spec_html(page_spec, fallback, with_module=False)
    # The players' widget state holds the source's absolute path and would load a renderer
    # from a CDN: the page does not need it.
    saved.drop_widget_views(nb, [output for output, _ in grouped])


def _fallback(player: PlayerExport, src: str, picture: str, with_video: bool) -> str:
    """What a page that runs no script shows for one player: its clip, else a still."""
    still = ""
    if with_video:
        still = f'<video src="{html.escape(src, quote=True)}" controls preload="metadata" style="max-width:100%"></video>'
    if picture and not still:
        still = f'<img src="{html.escape(picture, quote=True)}" alt="{html.escape(player.name, quote=True)}" style="max-width:100%">'
    return (
        f'<div class="jp-RangeVideo-fallback">{still}<p><small>{html.escape(player.name)}</small></p></div>'
    )


def render_html(nb: Any, notebook: Path) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")  # type: ignore[no-untyped-call]  # nbconvert has no types
    body, _ = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": notebook.stem, "path": str(notebook.parent)}}
    )
    return with_player_module(body)


def with_player_module(body: str) -> str:
    """The page with the player module inlined once, before </body>."""
    script = embed.module_script()
    index = body.rfind("</body>")
    return body[:index] + script + "\n" + body[index:] if index >= 0 else body + script


def _data_url(path: Path) -> str:
    return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def summary(result: ExportResult) -> str:
    lines = [
        f"Exported {len(result.players)} player(s) to {result.output} ({_mb(result.size)}, {result.seconds:.1f} s):"
    ]
    lines += [f"  {player.summary_line()}" for player in result.players]
    return "\n".join(lines)


def _check_player(spec: dict[str, Any], secret: bytes, max_height: int | None) -> PlayerExport:
    name = str(spec.get("name", "?"))
    path = source_of(spec, secret)
    try:
        facts = probe(path)
    except FileNotFoundError:
        raise ExportError(f"player {name!r}: its file {path!r} is missing") from None
    except PermissionError:
        raise ExportError(f"player {name!r}: its file {path!r} is not readable") from None
    except (MediaError, OSError) as e:
        raise ExportError(f"player {name!r}: cannot read {path!r}: {e}") from None
    start, end, start_frame, end_frame = span_of(spec)
    plan = plan_clip(facts, start, end, start_frame=start_frame, end_frame=end_frame, max_height=max_height)
    return PlayerExport(name=name, source=path, plan=plan)


def exported_spec(spec: dict[str, Any], src: str, plan: ClipPlan) -> dict[str, Any]:
    """The saved spec with ``src`` pointing at the clip; every other field as it was.

    ``export.offset`` tells the page where the clip starts in the source, so times and
    frames saved in the source's timeline (clip ends, overlays, markers) still apply.
    """
    result = copy.deepcopy(spec)
    result["src"] = src
    options = result.get("options")
    if isinstance(options, dict):
        options.pop("_local_src", None)  # pointed at the source file
        if "delivery" in options:
            options["delivery"] = "direct"  # the clip is a web-playable MP4, read as it is
    result["export"] = {"offset": plan.start, "first_frame": plan.first, "last_frame": plan.last}
    return result


def _posters_of(fallback_html: str) -> list[str]:
    """Every still frame's data URL in a grid's saved text/html, in order."""
    return [html.unescape(url) for url in re.findall(r'(?:src|poster)="(data:image/[^"]*)"', fallback_html)]


def _poster_of(fallback_html: str) -> str:
    """The still frame's data URL in a player's saved text/html, or ""."""
    marker = 'src="data:image/'
    start = fallback_html.find(marker)
    if start < 0:
        return ""
    start += len('src="')
    return html.unescape(fallback_html[start : fallback_html.find('"', start)])


def _write_previews(notebook: Path, nb: Any, players: list[PlayerExport], previews: dict[str, str]) -> None:
    """Put the animated previews into the saved outputs' text/html, where the still frame was."""
    import nbformat

    from .preview import preview_html

    for output, exports in _by_output(nb, players):
        if output["data"][MIMETYPE].get("grid"):
            continue  # a grid's saved output keeps its still frames
        player = exports[0]
        url = previews.get(player.clip)
        if url:
            output["data"]["text/html"] = preview_html(output["data"].get("text/html", ""), url, player.name)
    temporary = notebook.with_name(f".{notebook.name}.{os.getpid()}.tmp")
    nbformat.write(nb, temporary)  # type: ignore[no-untyped-call]  # nbformat has no types
    os.replace(temporary, notebook)


def _replace(new: Path, target: Path) -> None:
    """Move ``new`` to ``target``; an existing target goes only once the new one is in place."""
    old = None
    if target.exists() or target.is_symlink():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()


def _safe(stem: str) -> str:
    kept = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
    return kept.strip("-")[:40] or "clip"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} KB"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="jupyter rangevideo export",
        description="Export a notebook with players to a folder (or one HTML file) that plays anywhere.",
    )
    parser.add_argument("notebook", type=Path)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="the folder (default NAME-export/) or, with --single-file, the HTML file (default NAME.html)",
    )
    parser.add_argument(
        "--single-file",
        action="store_true",
        help=f"one HTML file with the clips inside (up to {_mb(SINGLE_FILE_LIMIT)})",
    )
    parser.add_argument("--max-height", type=int, metavar="H", help="downscale clips taller than H lines")
    parser.add_argument(
        "--crf",
        type=int,
        default=23,
        metavar="Q",
        help="libx264 quality of re-encoded clips (default 23; lower is better and bigger)",
    )
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also write a short animated preview into the notebook's saved outputs",
    )
    parser.add_argument(
        "--size-limit",
        type=float,
        default=SINGLE_FILE_LIMIT / 2**20,
        metavar="MB",
        help="the --single-file limit, MiB (default 50)",
    )
    args = parser.parse_args(argv)
    # Stopped with SIGTERM: unwind like Ctrl-C, so the temporary output is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        export(
            args.notebook,
            args.output,
            single_file=args.single_file,
            max_height=args.max_height,
            crf=args.crf,
            preview=args.preview,
            size_limit=int(args.size_limit * 2**20),
        )
    except ExportError as e:
        print(f"\njupyter rangevideo export: {e}\nNothing was written.", file=sys.stderr)
        return 1
    return 0

"""Browser-level benchmark: time from running the cell that shows a video (after the cell with
its import) to the first frame, and from a seek to the right frame, for jupyter-rangevideo and
IPython.display.Video (served by Jupyter's /files/), on the same 26 MB 360p, 720p and 1 GiB
files under the server's root, in JupyterLab.

Then, per file, both players in one page, seeking in turn to the same random frames and one
frame back from each: a paired measure of what each player adds to a seek, free of the
differences between fresh pages and kernels that dominate the per-round figures.

IPython.display.Video is measured a second time in both parts ("again"): its ratio to the first
is how far two identical players measure apart, the noise against which the others are read.

    python benchmarks/browser.py [--rounds N] [--interleaved N]

Uses the browser tests' harness (Debian's Chromium, a real JupyterLab, frames decoded from
canvas pixels) and writes benchmarks/results/browser.json and browser.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # helpers, which the browser tests' conftest imports
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from conftest import (
    FPS,
    chromium,
    create_notebook,
    new_page,
    open_notebook,
    run_all_cells,
    start_server,
    wait_for_frame,
    wait_for_notebook,
)

from jupyter_rangevideo.sample import make_large, write_sample

# Each player's import, run as a cell of its own first (as notebooks do), then the cell that
# shows the video, which is the one timed.
PLAYERS = {
    "rangevideo": (
        "import jupyter_rangevideo as rangevideo",
        "rangevideo.show({path!r})",
        "video.jp-RangeVideo-video",
    ),
    "IPython.display.Video": (
        "from IPython.display import Video",
        "Video({relative!r})",
        ".jp-OutputArea-output video",
    ),
}
# IPython.display.Video a second time, measured like the others: how far two identical players
# measure apart (the noise), beside the ratio of this extension's player to it.
AGAIN = "IPython.display.Video, again"
PLAYERS[AGAIN] = PLAYERS["IPython.display.Video"]
# A person reads the import cell's result before running the next: the pause between cells.
BETWEEN_CELLS_S = 1.0
KEYS = ("first_frame_ms", "seek_ms", "step_back_ms")
SEEKS = (7.0, 2.0, 9.6, 4.4)  # jumps forward and back, then one frame back from the last
# In the page, on its clock: the first frame (the first animation frame at which the element
# exists and has a frame), watched from before the cell runs (run_cell resolves only when the
# cell has finished, which may be after its video shows), and each seek to ``seconds`` until
# requestVideoFrameCallback presents ``frame``.
WATCH_FIRST_FRAME = """(selector) => {
    const watch = (window.__firstFrame ??= {});
    watch[selector] = null;
    (async () => {
        for (let i = 0; i < 3600; i++) {
            const v = document.querySelector(selector);
            if (v && v.readyState >= 2) { watch[selector] = performance.now(); return; }
            await new Promise((resolve) => requestAnimationFrame(resolve));
        }
    })();
}"""
SEEK = """([selector, seconds, frame, fps]) => new Promise((resolve) => {
    const v = document.querySelector(selector);
    const asked = performance.now();
    const check = (now, meta) => {
        if (Math.round(meta.mediaTime * fps) === frame) resolve(performance.now() - asked);
        else v.requestVideoFrameCallback(check);
    };
    v.requestVideoFrameCallback(check);
    v.currentTime = seconds;
    setTimeout(() => resolve(null), 30000);
})"""


RUN_CELL = """async (index) => {
    const panel = window.jupyterapp.shell.currentWidget;
    panel.content.activeCellIndex = index;
    const started = performance.now();
    await window.jupyterapp.commands.execute('notebook:run-cell');
    return started;
}"""


def run_cell(page, index: int) -> float:
    """Run cell ``index``; return the page's clock (ms) when the command was issued."""
    return page.evaluate(RUN_CELL, index)


def first_frame_of_cell(page, index: int, selector: str, timeout: float = 60) -> float:
    """Run cell ``index``; ms from running it to the first frame of the video at ``selector``."""
    page.evaluate(WATCH_FIRST_FRAME, selector)
    started = run_cell(page, index)
    shown = page.wait_for_function(
        "(selector) => window.__firstFrame[selector]", arg=selector, timeout=timeout * 1000
    ).json_value()
    return float(shown) - started


def wait_frame(page, selector: str, expected: int) -> None:
    """The frame a person sees, from its pixels: the timings count only if it is the right one."""
    wait_for_frame(page, expected, timeout=60, selector=selector, interval=0.02)


def timed(value: float | None, what: str) -> float:
    if value is None:
        raise TimeoutError(f"{what} did not happen in 30 s")
    return float(value)


def measure(page, server, player: str, path: Path, number: int) -> dict:
    setup, template, selector = PLAYERS[player]
    name = f"bench-{re.sub(r'[^a-z]+', '-', player.lower())}-{path.stem}-{number}.ipynb"
    shown = template.format(path=str(path), relative=str(path.relative_to(server.root)))
    create_notebook(server, name, [setup, shown])
    open_notebook(page, server, name)
    run_cell(page, 0)
    wait_for_notebook(page, name)  # the kernel is idle again
    time.sleep(BETWEEN_CELLS_S)
    first = first_frame_of_cell(page, 1, selector)
    wait_frame(page, selector, 0)
    seeks = []
    for target in SEEKS:
        seeks.append(
            timed(page.evaluate(SEEK, [selector, target, round(target * FPS), FPS]), f"seek to {target}")
        )
        wait_frame(page, selector, round(target * FPS))
    back = SEEKS[-1] - 1 / FPS
    step_back = timed(page.evaluate(SEEK, [selector, back, round(back * FPS), FPS]), "one frame back")
    wait_frame(page, selector, round(back * FPS))
    server.shut_down_kernels()
    return {"first_frame_ms": first, "seek_ms": statistics.median(seeks), "step_back_ms": step_back}


# Both players in one notebook, the same file, and IPython.display.Video a second time. Which
# video is which, by cell.
INTERLEAVED = {
    "rangevideo": "video.jp-RangeVideo-video",
    "IPython.display.Video": ".jp-Cell:nth-child(2) .jp-OutputArea-output video",
    AGAIN: ".jp-Cell:nth-child(3) .jp-OutputArea-output video",
}
INTERLEAVED_PAUSE_S = 0.15  # between seeks: the other player's work has settled
READY = "(s) => document.querySelector(s)?.readyState >= 2"


def interleaved(page, server, path: Path, seeks: int, seed: int) -> dict:
    """Both players in one page (and IPython.display.Video again): ``seeks`` random frames, each
    player in random order seeking to it and then one frame back; every time until
    requestVideoFrameCallback presents the frame."""
    name = f"bench-interleaved-{path.stem}.ipynb"
    relative = str(path.relative_to(server.root))
    setup, template, _ = PLAYERS["rangevideo"]
    other_setup, other_template, _ = PLAYERS["IPython.display.Video"]
    cells = [
        f"{setup}\n{template.format(path=str(path))}",
        f"{other_setup}\n{other_template.format(relative=relative)}",
        other_template.format(relative=relative),
    ]
    create_notebook(server, name, cells)
    open_notebook(page, server, name)
    run_all_cells(page)
    for selector in INTERLEAVED.values():
        page.wait_for_function(READY, arg=selector, timeout=60_000)
    times: dict[str, dict[str, list[float]]] = {player: {"seek": [], "back": []} for player in INTERLEAVED}
    rng = random.Random(seed)
    frame = 0  # both show frame 0; a seek to the frame shown presents no new frame
    for _ in range(seeks):
        target = rng.choice([n for n in range(1, 11 * FPS) if n not in (frame, frame + 1)])
        for player in rng.sample(list(INTERLEAVED), len(INTERLEAVED)):
            selector = INTERLEAVED[player]
            for key, n in (("seek", target), ("back", target - 1)):
                times[player][key].append(
                    # To the frame's middle, as the player's steps do: its start time, rounded to a
                    # double, can fall a hair before it and show the frame before.
                    timed(page.evaluate(SEEK, [selector, (n + 0.5) / FPS, n, FPS]), f"seek to frame {n}")
                )
                time.sleep(INTERLEAVED_PAUSE_S)
        frame = target - 1
    for player, selector in INTERLEAVED.items():
        wait_frame(page, selector, frame)  # the pixels agree with what the frame callbacks said
    server.shut_down_kernels()
    return times


def paired_differences(values: list[float], base: list[float], seed: int = 0) -> dict:
    """The median of ``values[i] - base[i]`` (ms) and its 90 % bootstrap interval: how much a
    player adds to what IPython.display.Video takes in the same round or at the same seek."""
    differences = [a - b for a, b in zip(values, base, strict=True)]
    rng = random.Random(seed)
    resampled = sorted(statistics.median(rng.choices(differences, k=len(differences))) for _ in range(2000))
    return {"median": statistics.median(differences), "low": resampled[100], "high": resampled[1899]}


def difference_rows(pairs: dict[str, dict[str, tuple[list[float], list[float]]]]) -> list[str]:
    """Markdown rows, file by player: each measure's median paired difference [90 % interval]."""
    rows = []
    for label, by_key in pairs.items():
        for player in ("rangevideo", AGAIN):
            cells = []
            for values, base in (by_key[key][player] for key in by_key):
                d = paired_differences(values, base)
                cells.append(f"{d['median']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}]")
            rows.append(f"| {label} | {player} | {' | '.join(cells)} |")
    return rows


def table_rows(summary: dict, keys: tuple[str, ...]) -> list[str]:
    """Markdown rows, file by player, each figure with its ratio to IPython.display.Video's."""
    rows = []
    for label, by_player in summary.items():
        base = by_player["IPython.display.Video"]
        for player, figures in by_player.items():
            cells = []
            for key in keys:
                ratio = "" if player == "IPython.display.Video" else f" ×{figures[key] / base[key]:.2f}"
                cells.append(f"{figures[key]:.0f}{ratio}")
            rows.append(f"| {label} | {player} | {' | '.join(cells)} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interleaved", type=int, default=16, help="paired seeks per file in one page")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-browser-bench-"))
    server = start_server("lab", tmp)
    try:
        videos = server.root / "videos"
        videos.mkdir()
        small = write_sample(videos / "small.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
        segment = write_sample(tmp / "segment.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
        hd = write_sample(videos / "hd.mp4", duration=12, fps=FPS, size=(1280, 720), noise=True)
        files = {
            "360p, 26 MB": small,
            "720p": hd,
            "1 GiB": make_large(segment, videos / "large.mp4", 2**30),
        }
        results = {label: {player: [] for player in PLAYERS} for label in files}
        with chromium() as browser:
            for number in range(args.rounds):
                for label, path in files.items():
                    turn = number % len(PLAYERS)  # each player first in turn
                    players = list(PLAYERS)[turn:] + list(PLAYERS)[:turn]
                    for player in players:
                        with new_page(browser, timeout=60) as page:
                            results[label][player].append(measure(page, server, player, path, number))
                        print(label, player, results[label][player][-1], flush=True)
            paired = {}
            for number, (label, path) in enumerate(files.items()):
                with new_page(browser, timeout=60) as page:
                    paired[label] = interleaved(page, server, path, args.interleaved, seed=number)
                print(
                    label,
                    "interleaved",
                    {p: {k: statistics.median(v) for k, v in t.items()} for p, t in paired[label].items()},
                    flush=True,
                )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # its media: a GiB and more

    summary = {
        label: {
            player: {key: statistics.median(run[key] for run in runs) for key in KEYS}
            for player, runs in by_player.items()
        }
        for label, by_player in results.items()
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    facts = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "rounds": args.rounds,
        "seeks_s": SEEKS,
        "load_average": os.getloadavg()[0],
    }
    paired_summary = {
        label: {
            player: {key: statistics.median(values) for key, values in by_key.items()}
            for player, by_key in by_player.items()
        }
        for label, by_player in paired.items()
    }
    (out / "browser.json").write_text(
        json.dumps(
            {
                "machine": facts,
                "runs": results,
                "summary": summary,
                "interleaved": paired,
                "interleaved_summary": paired_summary,
            },
            indent=1,
        )
    )
    lines = [
        (
            f"Measured {facts['date']}, JupyterLab in Debian's Chromium, median of {args.rounds} rounds, each in "
            f"a fresh kernel: a cell with the player's import, {BETWEEN_CELLS_S:.0f} s, then the timed cell that "
            "shows the video; "
            f"×: ratio to IPython.display.Video. Seek: median of {len(SEEKS)} jumps ({', '.join(map(str, SEEKS))} s) "
            f"until the frame with that time is presented (requestVideoFrameCallback), each checked from the "
            f"pixels; one frame back: from {SEEKS[-1]} s. 25 fps, a keyframe every second. "
            f"Load average at the end: {facts['load_average']:.1f}."
        ),
        "",
        "| file | player | cell run to first frame (ms) | seek to the right frame (ms) | one frame back (ms) |",
        "|---|---|---|---|---|",
    ]
    lines += table_rows(summary, KEYS)
    lines += [
        "",
        (
            f'Both players in one page, the same file, and IPython.display.Video a second time ("again": how '
            f"far identical players measure apart): {args.interleaved} random frames, each player in random "
            "order seeking to the frame and then one frame back, "
            f"{INTERLEAVED_PAUSE_S * 1000:.0f} ms apart; medians, × as above."
        ),
        "",
        "| file | player | seek to the right frame (ms) | one frame back (ms) |",
        "|---|---|---|---|",
    ]
    lines += table_rows(paired_summary, ("seek", "back"))
    # Paired: the same round (fresh pages, matched by round number) or the same seek (one page).
    base = "IPython.display.Video"
    pairs = {
        label: {
            **{
                key: {p: ([r[key] for r in runs[p]], [r[key] for r in runs[base]]) for p in PLAYERS}
                for key in KEYS
            },
            **{
                key: {p: (paired[label][p][key], paired[label][base][key]) for p in PLAYERS}
                for key in ("seek", "back")
            },
        }
        for label, runs in results.items()
    }
    lines += [
        "",
        (
            "Paired differences to IPython.display.Video in ms, median [90 % bootstrap interval]: per round "
            'in fresh pages, per seek in one page. The "again" rows are the noise: an interval of this '
            "extension's player that overlaps them is a difference the benchmark cannot tell from none."
        ),
        "",
        "| file | player | fresh pages: first frame | seek | one frame back | one page: seek | one frame back |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += difference_rows(pairs)
    (out / "browser.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""The first frame with the import and the display in ONE cell, as users type it: this extension's
player against IPython.display.Video (and IPython.display.Video again, the A/A control), on the
720p file of browser.py, in JupyterLab.

Two settings, both in every round (interleaved, so the machine's load falls on both alike):

- **first cell**: each player's cell is the first cell of a fresh kernel (one page each, in
  rotated order);
- **after other cells**: the same, with a cell of other work run first in each kernel.

Each player has a page of its own: in one page the second `IPython.display.Video` came 100-200 ms
sooner than the first, whichever file it played (the page's first player of a kind pays a warm-up
that later ones do not), which made one page's comparison depend on the order.

Each figure: from running the cell to the first frame of its <video> (readyState >= 2), on the
page's clock. Paired by round: the difference to IPython.display.Video's in the same round, the
median and its 90 % bootstrap interval (browser.paired_differences).

    python benchmarks/browser_first_frame.py [--rounds N] [--label after]

Writes benchmarks/results/browser_first_frame-LABEL.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from browser import (
    BETWEEN_CELLS_S,
    FPS,
    chromium,
    create_notebook,
    first_frame_of_cell,
    new_page,
    open_notebook,
    paired_differences,
    run_cell,
    start_server,
    wait_for_notebook,
    wait_frame,
    write_sample,
)

RANGEVIDEO, IPYTHON, AGAIN = "rangevideo", "IPython.display.Video", "IPython.display.Video, again"
ORDER = (RANGEVIDEO, IPYTHON, AGAIN)
CELLS = {
    RANGEVIDEO: "import jupyter_rangevideo as rangevideo\nrangevideo.show({path!r}, width=320)",
    IPYTHON: "from IPython.display import Video\nVideo({relative!r}, width=320, html_attributes='controls id=ipython-1')",
    AGAIN: "from IPython.display import Video\nVideo({relative!r}, width=320, html_attributes='controls id=ipython-2')",
}
# Every player 320 px wide, in a tall window: each cell's video is in view when it runs (this
# extension's player loads nothing until it is; IPython's loads wherever it is).
VIEWPORT = {"width": 1280, "height": 1600}
# Each video by its own selector (JupyterLab's windowed notebook takes cells out of view out of
# the page, so a cell's position among its siblings does not find it).
SELECTORS = {RANGEVIDEO: "video.jp-RangeVideo-video", IPYTHON: "video#ipython-1", AGAIN: "video#ipython-2"}
# Other work a notebook does before it shows a video: the kernel is warm, other modules loaded.
OTHER_CELL = "import json, statistics\nstatistics.median(json.loads('[3, 1, 2]'))"
SETTINGS = ("first cell", "after other cells")


# Players whose first frame could not be read back from the pixels (Chromium may drop the picture
# of a paused video out of view): their times count, and the summary says how many.
unchecked: list[str] = []


def timed_cells(page, server, name: str, cells: list[str], players: dict[int, str]) -> dict[str, float]:
    """Open a notebook of ``cells`` in a fresh kernel and run them one at a time, a person's pause
    apart; for each cell in ``players`` the ms from running it to its video's first frame."""
    create_notebook(server, name, cells)
    open_notebook(page, server, name)
    times: dict[str, float] = {}
    for index in range(len(cells)):
        if index in players:
            player = players[index]
            found = SELECTORS[player]
            times[player] = first_frame_of_cell(page, index, found)
            page.locator(found).scroll_into_view_if_needed()
            try:
                wait_frame(page, found, 0)  # the right picture, from its pixels
            except AssertionError:
                unchecked.append(player)  # counted, and said so
        else:
            run_cell(page, index)

        wait_for_notebook(page, name)  # the kernel is idle again
        time.sleep(BETWEEN_CELLS_S)
    server.shut_down_kernels()
    return times


def one_round(browser, server, path: Path, number: int) -> dict[str, dict[str, float]]:
    relative = str(path.relative_to(server.root))
    turn = number % len(ORDER)
    order = ORDER[turn:] + ORDER[:turn]
    code = {p: CELLS[p].format(path=str(path), relative=relative) for p in ORDER}
    times: dict[str, dict[str, float]] = {setting: {} for setting in SETTINGS}
    for setting, before in zip(SETTINGS, ([], [OTHER_CELL]), strict=True):
        for player in order:
            with new_page(browser, timeout=60, viewport=VIEWPORT) as page:
                name = f"ff-{len(before)}-{number}-{ORDER.index(player)}.ipynb"
                cells = [*before, code[player]]
                times[setting].update(timed_cells(page, server, name, cells, {len(before): player}))
    return times


def summary_lines(runs: list[dict], label: str, load: tuple[float, float]) -> list[str]:
    lines = [
        (
            f"{label}: {len(runs)} rounds, {time.strftime('%Y-%m-%d %H:%M %Z')}, load average "
            f"{load[0]:.1f} at the start and {load[1]:.1f} at the end (2 cores, shared). Per round, "
            "interleaved: each player's cell as the first of a fresh kernel, then after a cell of other work in "
            "a fresh kernel (a page each, rotated order). "
            "Import and display in one cell. ms from running the cell to the first frame; the paired "
            "difference to IPython.display.Video in the same round, median [90 % bootstrap interval]."
        ),
        "",
        "| setting | rangevideo (median) | IPython.display.Video | again | rangevideo − IPython | again − IPython (A/A) |",
        "|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        values = {p: [run[setting][p] for run in runs] for p in ORDER}
        medians = {p: statistics.median(v) for p, v in values.items()}
        cells = []
        for player in (RANGEVIDEO, AGAIN):
            d = paired_differences(values[player], values[IPYTHON])
            cells.append(f"{d['median']:+.0f} [{d['low']:+.0f}, {d['high']:+.0f}]")
        lines.append(
            f"| {setting} | {medians[RANGEVIDEO]:.0f} (×{medians[RANGEVIDEO] / medians[IPYTHON]:.2f}) | "
            f"{medians[IPYTHON]:.0f} | {medians[AGAIN]:.0f} | {cells[0]} | {cells[1]} |"
        )
    return lines


def write(runs: list[dict], label: str, load: tuple[float, float]) -> list[str]:
    """The results so far, in benchmarks/results/browser_first_frame-LABEL.json and .md."""
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    facts = {"label": label, "load_average": load, "runs": runs, "unchecked": unchecked}
    (out / f"browser_first_frame-{label}.json").write_text(json.dumps(facts, indent=1))
    lines = summary_lines(runs, label, load)
    lines.append(f"\nFirst frames not checked from the pixels: {len(unchecked)} of {len(runs) * 6}.")
    (out / f"browser_first_frame-{label}.md").write_text("\n".join(lines) + "\n")
    return lines


def compile_package() -> None:
    """The package's modules as an installed wheel has them, compiled (pip compiles a wheel's
    modules as it installs them; IPython's are): a checkout where PYTHONDONTWRITEBYTECODE is
    set would compile them again in every fresh kernel, about 10 ms for show()'s first output."""
    import compileall

    import jupyter_rangevideo

    compileall.compile_dir(Path(jupyter_rangevideo.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--label", default="after", help="names the result files, e.g. before / after")
    args = parser.parse_args()
    compile_package()
    load_start = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-first-frame-"))
    server = start_server("lab", tmp)
    runs: list[dict] = []
    try:
        (server.root / "videos").mkdir()
        path = write_sample(
            server.root / "videos" / "hd.mp4", duration=12, fps=FPS, size=(1280, 720), noise=True
        )
        with chromium() as browser:
            for number in range(args.rounds):
                runs.append(one_round(browser, server, path, number))
                print(number, json.dumps(runs[-1]), flush=True)
                write(runs, args.label, (load_start, os.getloadavg()[0]))  # so far: a bounded run
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(write(runs, args.label, (load_start, os.getloadavg()[0]))))


if __name__ == "__main__":
    main()

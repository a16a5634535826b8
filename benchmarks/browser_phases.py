"""Where a first frame and a seek spend their time in the page, for this extension's player, a plain
<video> with this extension's URL (none of the player's code) and IPython.display.Video (/files/).

    python benchmarks/browser_phases.py [--rounds N] [--hd]

A 12 s 25 fps file (640x360, or 1280x720 at about 66 Mbit/s with --hd), each player in a fresh page and
kernel with its import and display in one cell. Prints per run, on the page's clock from running the
cell: when the <video> element appears, when it has its first frame; and per seek (7, 2, 9.6, 4.4 s,
then one frame back) the time until requestVideoFrameCallback presents that frame, with what was
buffered before it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # helpers, which the browser tests' conftest imports
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from conftest import (
    chromium,
    create_notebook,
    new_page,
    open_notebook,
    run_all_cells,
    start_server,
    wait_for_frame,
)

from jupyter_rangevideo.sample import write_sample

SEEKS = (7.0, 2.0, 9.6, 4.4, 4.36)  # the last: one frame back
PLAYERS = {
    "rangevideo": (
        "import jupyter_rangevideo as rangevideo\nrangevideo.show({path!r})",
        "video.jp-RangeVideo-video",
    ),
    "plain <video>, our URL": (
        (
            "from IPython.display import HTML\nimport jupyter_rangevideo as rangevideo\n"
            "HTML('<video controls src=\"{base}' + rangevideo.url_for({path!r}) + '\"></video>')"
        ),
        ".jp-OutputArea-output video",
    ),
    "IPython.display.Video": (
        "from IPython.display import Video\nVideo({relative!r})",
        ".jp-OutputArea-output video",
    ),
}
# Polled every animation frame from the cell's run: the element, then its first frame.
FIRST_FRAME = """async (selector) => {
    const times = {};
    for (let i = 0; i < 3000; i++) {
        const v = document.querySelector(selector);
        if (v && !times.element) times.element = performance.now();
        if (v && v.readyState >= 2) { times.ready = performance.now(); return times; }
        await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    return times;
}"""
SEEK = """([selector, t]) => new Promise((resolve) => {
    const v = document.querySelector(selector);
    const buffered = [];
    for (let i = 0; i < v.buffered.length; i++)
        buffered.push(`${v.buffered.start(i).toFixed(1)}-${v.buffered.end(i).toFixed(1)}`);
    const asked = performance.now();
    const check = (now, meta) => {
        if (Math.abs(meta.mediaTime - t) < 0.02) resolve([performance.now() - asked, buffered.join(",")]);
        else v.requestVideoFrameCallback(check);
    };
    v.requestVideoFrameCallback(check);
    v.currentTime = t;
    setTimeout(() => resolve([null, buffered.join(",")]), 10000);
})"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--hd", action="store_true", help="1280x720 instead of 640x360")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-phases-"))
    server = start_server("lab", tmp)
    base = "/" + server.url.split("://", 1)[1].split("/", 1)[1]
    (server.root / "videos").mkdir()
    size = (1280, 720) if args.hd else (640, 360)
    path = write_sample(server.root / "videos" / "v.mp4", duration=12, fps=25, size=size, noise=True)
    seeks: dict[str, list[float]] = {name: [] for name in PLAYERS}
    try:
        with chromium() as browser:
            for number in range(args.rounds):
                order = list(PLAYERS) if number % 2 == 0 else list(reversed(PLAYERS))
                for name in order:
                    template, selector = PLAYERS[name]
                    with new_page(browser, timeout=60) as page:
                        notebook = f"phases-{number}-{order.index(name)}.ipynb"
                        cell = template.format(path=str(path), relative="videos/v.mp4", base=base)
                        create_notebook(server, notebook, [cell])
                        open_notebook(page, server, notebook)
                        started = run_all_cells(page)
                        times = {
                            k: round(v - started) for k, v in page.evaluate(FIRST_FRAME, selector).items()
                        }
                        wait_for_frame(page, 0, selector=selector)
                        row = [page.evaluate(SEEK, [selector, t]) for t in SEEKS]
                        seeks[name] += [ms for ms, _ in row if ms is not None]
                        shown = ", ".join(
                            f"{t} s: {'-' if ms is None else round(ms)} ms (buffered {buf})"
                            for t, (ms, buf) in zip(SEEKS, row, strict=True)
                        )
                        print(
                            f"{name}: element {times.get('element')} ms, first frame {times.get('ready')} ms; {shown}"
                        )
                        server.shut_down_kernels()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # its media: a GiB and more
    for name, values in seeks.items():
        print(f"{name}: median seek {statistics.median(values):.0f} ms over {len(values)}")


if __name__ == "__main__":
    main()

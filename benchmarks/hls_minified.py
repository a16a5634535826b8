"""First frame of a transcoded file with hls.js minified (341 KB) and unminified (866 KB), paired.

    python benchmarks/hls_minified.py [--pairs N]

JupyterLab with the extension; a short MJPEG AVI (transcoded) whose segments are made once
before the first pair, so that each run measures the page's work: importing hls.js, loading the
playlist and the cached segment, decoding. Each pair opens the notebook twice in fresh browser
contexts (nothing cached), once importing npm's unminified `dist/hls.light.mjs` (copied next to
the minified one for the run, the player's request rewritten to it) and once the shipped
`hls.light.min.mjs`, in alternating order; the figure is the paired difference of "run the cell
→ frame 0 on screen". Also the import alone: `import()` of each file in a fresh page. Writes
benchmarks/results/hls_minified.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from browser import paired_differences
from conftest import (
    FPS,
    chromium,
    create_notebook,
    new_page,
    open_notebook,
    run_all_cells,
    start_server,
    wait_for_frame,
)

from jupyter_rangevideo.sample import write_sample

VENDOR = HERE.parent / "jupyter_rangevideo" / "static" / "vendor"
NPM_LIGHT = HERE.parent / "js" / "node_modules" / "hls.js" / "dist" / "hls.light.mjs"


def first_frame(browser, server, notebook: str, unminified: bool) -> float:
    with new_page(browser, timeout=90) as page:
        if unminified:
            page.route(
                "**/rangevideo/static/vendor/hls.light.min.mjs*",
                lambda route: route.continue_(url=route.request.url.replace(".min.mjs", ".mjs")),
            )
        open_notebook(page, server, notebook)
        started = run_all_cells(page)
        ms = wait_for_frame(page, 0, timeout=60, interval=0.02) - started
        # The rewritten request keeps its URL in the page's records: its size tells which came.
        sizes = page.evaluate(
            "() => performance.getEntriesByType('resource')"
            ".filter((e) => e.name.includes('hls.light')).map((e) => e.decodedBodySize)"
        )
        assert len(sizes) == 1 and (sizes[0] > 600_000) == unminified, sizes
        return ms


def import_ms(browser, server, name: str) -> float:
    """``import()`` of one file in a fresh context, from a page of the same origin without a CSP
    (the vendor folder's README): download, parse, compile and evaluate."""
    with new_page(browser) as page:
        page.goto(f"{server.url}rangevideo/static/vendor/README.md")
        return page.evaluate(
            "async (url) => { const t = performance.now(); await import(url); return performance.now() - t; }",
            f"{server.url}rangevideo/static/vendor/{name}",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    args = parser.parse_args()
    shutil.copy(NPM_LIGHT, VENDOR / "hls.light.mjs")
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-hlsmin-bench-"))
    (tmp / "lab-config").mkdir()
    (tmp / "lab-config" / "jupyter_server_config.json").write_text(
        json.dumps({"RangeVideoApp": {"cache_dir": str(tmp / "segment-cache")}})
    )
    video = write_sample(tmp / "clip.avi", 4, FPS, (320, 240), codec="mjpeg")
    server = start_server("lab", tmp)
    load = os.getloadavg()
    results: dict[str, list[float]] = {
        "unminified": [],
        "minified": [],
        "import_unminified": [],
        "import_minified": [],
    }
    try:
        notebook = "hls-min.ipynb"
        create_notebook(
            server,
            notebook,
            [f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(video)!r})"],
        )
        with chromium() as browser:
            first_frame(browser, server, notebook, False)  # segments made and cached
            for number in range(args.pairs):
                order = [True, False] if number % 2 == 0 else [False, True]
                for unminified in order:
                    ms = first_frame(browser, server, notebook, unminified)
                    results["unminified" if unminified else "minified"].append(ms)
                    server.shut_down_kernels()
                    print("unminified" if unminified else "minified", round(ms), flush=True)
            for number in range(4 * args.pairs):  # the import alone: cheap, so more pairs
                names = [("hls.light.mjs", "import_unminified"), ("hls.light.min.mjs", "import_minified")]
                for name, key in names if number % 2 == 0 else names[::-1]:
                    results[key].append(import_ms(browser, server, name))
    finally:
        server.stop()
        (VENDOR / "hls.light.mjs").unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    load = (load, os.getloadavg())
    difference = paired_differences(results["minified"], results["unminified"])
    imports = paired_differences(results["import_minified"], results["import_unminified"])
    summary = {
        "load_average_1_5_15_before_after": load,
        "pairs": args.pairs,
        "first_frame_ms_median": {k: statistics.median(results[k]) for k in ("unminified", "minified")},
        "first_frame_minified_minus_unminified_ms": difference,
        "import_ms_median": {
            k: statistics.median(results[k]) for k in ("import_unminified", "import_minified")
        },
        "import_minified_minus_unminified_ms": imports,
        "runs": results,
    }
    out = HERE / "results"
    (out / "hls_minified.json").write_text(json.dumps(summary, indent=2))
    rows = [
        "# hls.js minified vs unminified: first frame of a transcoded file (JupyterLab, Chromium)",
        "",
        (
            f"{args.pairs} pairs, alternating order, fresh browser context each; segments cached. "
            f"Load average (1/5/15 min) before {load[0][0]:.1f}/{load[0][1]:.1f}/{load[0][2]:.1f}, "
            f"after {load[1][0]:.1f}/{load[1][1]:.1f}/{load[1][2]:.1f} on 2 cores shared with other work."
        ),
        "",
        "| measure | unminified (866 KB) | minified (341 KB) | paired difference, median [90 % CI] |",
        "|---|---|---|---|",
        (
            f"| run cell → frame 0 (ms) | {summary['first_frame_ms_median']['unminified']:.0f} | "
            f"{summary['first_frame_ms_median']['minified']:.0f} | {difference['median']:+.0f} "
            f"[{difference['low']:+.0f}, {difference['high']:+.0f}] |"
        ),
        (
            f"| `import()` of hls.js alone, fresh context ({4 * args.pairs} pairs, ms) | "
            f"{summary['import_ms_median']['import_unminified']:.0f} | "
            f"{summary['import_ms_median']['import_minified']:.0f} | {imports['median']:+.0f} "
            f"[{imports['low']:+.0f}, {imports['high']:+.0f}] |"
        ),
    ]
    (out / "hls_minified.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""Export benchmark: time and size of `rangevideo.export` for the demo notebook and for a
10-minute 1080p source with a 20 s clip.

    python benchmarks/export.py [--rounds N] [--keep DIR]

The 10-minute source is made cheaply: a 4 s 1080p test pattern (H.264, a keyframe a second)
repeated by packet copy (sample.make_large). The demo notebook runs as it is on the default
demo video (60 s, 1280x720, as scripts/demo.sh makes it). The cases run interleaved, round
after round; the medians go to benchmarks/results/export.md and export.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
ROOT = HERE.parent

from jupyter_rangevideo.sample import make_large, write_sample

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from helpers import execute_notebook

SEGMENT_SECONDS = 4
SOURCE_SECONDS = 600


def notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--keep", type=Path, help="work in this folder and keep it (default: a temporary one)"
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="rangevideo-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(work / "runtime")  # the kernels' and the export's secret
    from jupyter_rangevideo.share import export

    facts: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    }
    began = time.monotonic()
    if not (work / "earth.mp4").exists():
        write_sample(work / "earth.mp4", duration=60, fps=25, size=(1280, 720))
    shutil.copy(ROOT / "notebooks" / "demo.ipynb", work / "demo.ipynb")
    execute_notebook(work / "demo.ipynb")
    big = work / "recording-10min-1080p.mp4"
    if not big.exists():
        segment = write_sample(work / "segment.mp4", duration=SEGMENT_SECONDS, fps=25, size=(1920, 1080))
        make_large(segment, big, segment.stat().st_size * SOURCE_SECONDS // SEGMENT_SECONDS)
    facts["source"] = {"path": big.name, "bytes": big.stat().st_size}
    facts["prepare_seconds"] = round(time.monotonic() - began, 1)
    facts["load_average_at_start"] = os.getloadavg()[0]
    cases = {
        "demo.ipynb (60 s 720p; whole file + a 4 s clip)": (work / "demo.ipynb", {}),
        "10 min 1080p, 20 s clip from a keyframe (copied)": (
            notebook(
                work / "copy.ipynb",
                [f"import jupyter_rangevideo as rv\nrv.show({big.name!r}, start=300, end=320)"],
            ),
            {},
        ),
        "10 min 1080p, 20 s clip between keyframes (re-encoded)": (
            notebook(
                work / "encode.ipynb",
                [f"import jupyter_rangevideo as rv\nrv.show({big.name!r}, start=300.5, end=320.5)"],
            ),
            {},
        ),
        "10 min 1080p, 20 s clip, --max-height 720 (re-encoded)": (work / "copy.ipynb", {"max_height": 720}),
        "10 min 1080p, 20 s clip, --single-file (copied)": (work / "copy.ipynb", {"single_file": True}),
    }
    for path in {path for path, _ in cases.values()} - {work / "demo.ipynb"}:
        execute_notebook(path)
    runs: dict[str, list[dict]] = {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name, (path, options) in cases.items():
            out = work / f"out-{len(runs[name])}{'.html' if options.get('single_file') else ''}"
            started, cpu = time.monotonic(), time.process_time()
            result = export(path, out, log=None, **options)
            seconds, cpu = time.monotonic() - started, time.process_time() - cpu
            runs[name].append(
                {
                    "seconds": seconds,
                    "cpu_seconds": cpu,
                    "bytes": result.size,
                    "players": [
                        {
                            "clip_bytes": p.size,
                            "copied": p.copied,
                            "reason": p.reason,
                            "span": [p.plan.start, p.plan.end],
                            "frames": p.plan.frames,
                        }
                        for p in result.players
                    ],
                }
            )
            print(
                f"round {round_ + 1} {name}: {seconds:.2f} s ({cpu:.2f} s CPU), {result.size / 1e6:.2f} MB",
                file=sys.stderr,
            )
            shutil.rmtree(out) if out.is_dir() else out.unlink()
    summary = {
        name: {
            "median_seconds": round(statistics.median(r["seconds"] for r in rs), 2),
            "seconds": [round(r["seconds"], 2) for r in rs],
            "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in rs), 2),
            "bytes": rs[0]["bytes"],
            "players": rs[0]["players"],
        }
        for name, rs in runs.items()
    }
    results = HERE / "results"
    (results / "export.json").write_text(json.dumps({"facts": facts, "cases": summary}, indent=2))
    lines = [
        "# Export benchmark",
        "",
        (
            f"`python benchmarks/export.py --rounds {args.rounds}`; {facts['machine']}; cases interleaved, "
            f"median of {args.rounds} rounds. Source: {SOURCE_SECONDS // 60} min of 1080p25 H.264 "
            f"({facts['source']['bytes'] / 1e6:.0f} MB, a keyframe a second), made by packet repetition."
        ),
        "",
        (
            "Wall time depends on the machine's load (other work shared its 2 cores); CPU time is the "
            "export process's own (all its threads)."
        ),
        "",
        "| case | export time, median (rounds) | CPU time, median | output size | how |",
        "|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        how = "; ".join("copied" if p["copied"] else f"re-encoded ({p['reason']})" for p in row["players"])
        lines.append(
            f"| {name} | {row['median_seconds']:.2f} s ({', '.join(f'{s:.2f}' for s in row['seconds'])}) "
            f"| {row['median_cpu_seconds']:.2f} s | {row['bytes'] / 1e6:.2f} MB | {how} |"
        )
    (results / "export.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

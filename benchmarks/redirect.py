"""delivery="redirect" against streaming through the server, paired in one page: the same video
in moto's S3 on 127.0.0.1 shown twice in one notebook, once through the Jupyter server (the
default) and once with delivery="redirect" (the browser fetches it from the store). Each round
has a fresh server and fresh copies of the object, one a player, so that no block cache is warm
for either: the two players' first frames (each cell run to its first frame, the order
alternating by round), then seeks to the same random frames, the players in random order at
each, each until requestVideoFrameCallback presents the frame asked for.

    python benchmarks/redirect.py [--rounds N] [--seeks N] [--size-mib N]

moto reads the whole object for every ranged GET (its own cost, not AWS's), for the server's
block fetches and the browser's range requests alike: the object is kept small (32 MiB). Bytes:
what the server's block cache fetched (through the server), and what the store sent to the
browser (redirect), counted at the store. Writes benchmarks/results/redirect.json and redirect.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.insert(0, str(HERE))

from browser import SEEK, first_frame_of_cell, paired_differences, run_cell, timed
from conftest import FPS, chromium, create_notebook, new_page, open_notebook, wait_for_notebook
from remote import cache_bytes, start_lab
from remote_stores import MotoS3

from jupyter_rangevideo.sample import make_large, write_sample

PLAYERS = ("through the server", "redirect")
PAUSE_S = 0.15  # between seeks: the other player's work has settled
SEGMENT_FRAMES = 12 * FPS  # the frame code restarts with every copy of the segment


def selector(cell: int) -> str:
    return f".jp-Cell:nth-child({cell + 1}) video.jp-RangeVideo-video"


def one_round(browser, tmp: Path, s3: MotoS3, keys: dict, number: int, seeks: int, duration: float) -> dict:
    cache = tmp / f"blocks-{number}"
    server = start_lab(tmp, f"round{number}", cache)
    try:
        options = f"storage_options={s3.options()!r}, proxy=False"
        shows = {
            "through the server": f"p = rangevideo.show('s3://videos/{keys['through the server']}', {options})",
            "redirect": f"q = rangevideo.show('s3://videos/{keys['redirect']}', {options}, delivery='redirect')",
        }
        order = list(PLAYERS) if number % 2 == 0 else list(reversed(PLAYERS))
        cells = ["import jupyter_rangevideo as rangevideo", *(shows[player] for player in order)]
        cell_of = {player: order.index(player) + 1 for player in PLAYERS}
        name = f"redirect-{number}-{secrets.token_hex(3)}.ipynb"
        create_notebook(server, name, cells)
        result: dict = {"first_frame_ms": {}, "seek_ms": {p: [] for p in PLAYERS}, "order": order}
        with new_page(browser, timeout=120) as page:
            open_notebook(page, server, name)
            run_cell(page, 0)
            wait_for_notebook(page, name)
            time.sleep(1.0)
            store_before = len(s3.presigned)
            for player in order:
                shown = first_frame_of_cell(page, cell_of[player], selector(cell_of[player]))
                result["first_frame_ms"][player] = shown
                wait_for_notebook(page, name)
                time.sleep(1.0)
            rng = random.Random(number)
            for _ in range(seeks):
                frame = rng.randrange(1, int(duration * FPS) - 1)
                for player in rng.sample(PLAYERS, len(PLAYERS)):
                    args = [selector(cell_of[player]), (frame + 0.5) / FPS, frame, FPS]
                    result["seek_ms"][player].append(
                        timed(page.evaluate(SEEK, args), f"{player}: seek to {frame}")
                    )
                    time.sleep(PAUSE_S)
            server.shut_down_kernels()
        result["through_server_fetched"] = cache_bytes(cache)
        result["store_sent_to_browser"] = sum(r.sent for r in s3.presigned[store_before:])
        result["store_requests_from_browser"] = len(s3.presigned) - store_before
        return result
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seeks", type=int, default=10)
    parser.add_argument("--size-mib", type=int, default=32)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-redirect-bench-"))
    s3 = MotoS3().start()
    load = [os.getloadavg()[0]]
    rounds = []
    try:
        segment = write_sample(tmp / "segment.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)
        video = make_large(segment, tmp / "object.mp4", args.size_mib * 2**20)
        from jupyter_rangevideo import probe

        duration = probe(video).duration or 0.0
        client = s3.client()
        client.create_bucket(Bucket="videos")
        with chromium() as browser:
            for number in range(args.rounds):
                # A copy each, so that neither player's probe finds the other's blocks in the cache.
                keys = {player: f"runs/round{number}-{player.split()[-1]}.mp4" for player in PLAYERS}
                for key in keys.values():
                    client.upload_file(str(video), "videos", key)
                rounds.append(one_round(browser, tmp, s3, keys, number, args.seeks, duration))
                load.append(os.getloadavg()[0])
                print(number, json.dumps(rounds[-1]["first_frame_ms"]), flush=True)
    finally:
        s3.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    write(rounds, load, args)


def write(rounds: list[dict], load: list[float], args: argparse.Namespace) -> None:
    first = {p: [r["first_frame_ms"][p] for r in rounds] for p in PLAYERS}
    # The first cell run in a fresh kernel imports fsspec and s3fs: compare each player where it ran second too.
    second = {p: [r["first_frame_ms"][p] for r in rounds if r["order"][1] == p] for p in PLAYERS}
    seeks = {p: [ms for r in rounds for ms in r["seek_ms"][p]] for p in PLAYERS}
    seek_d = paired_differences(seeks["redirect"], seeks["through the server"])
    summary = {
        "first_frame_median_ms": {p: statistics.median(first[p]) for p in PLAYERS},
        "first_frame_when_second_ms": second,
        "seek_median_ms": {p: statistics.median(seeks[p]) for p in PLAYERS},
        "seek_paired_difference_ms": seek_d,
        "through_server_fetched_mib": statistics.mean(r["through_server_fetched"] for r in rounds) / 2**20,
        "store_requests_from_browser": statistics.mean(r["store_requests_from_browser"] for r in rounds),
        "load_average": load,
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    date = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    (out / "redirect.json").write_text(
        json.dumps({"date": date, "rounds": rounds, "summary": summary}, indent=1)
    )
    s = summary
    when_second = {p: ", ".join(f"{v:.0f}" for v in second[p]) for p in PLAYERS}
    lines = [
        (
            f"Measured {date} in JupyterLab and Debian's Chromium, moto's S3 on 127.0.0.1, a {args.size_mib} MiB "
            f"object, {args.rounds} rounds (a fresh server and fresh copies of the object each), {args.seeks} "
            "paired seeks a round. Load average (1 min) before and after each round: "
            + ", ".join(f"{v:.1f}" for v in load)
            + " (2 cores shared with other work)."
        ),
        "",
        "| | through the server | redirect | redirect − through |",
        "|---|---|---|---|",
        (
            f"| first frame, median of all (ms) | {s['first_frame_median_ms']['through the server']:.0f} "
            f"| {s['first_frame_median_ms']['redirect']:.0f} | the cell run first imports fsspec and s3fs |"
        ),
        (
            f"| first frame, the cell run second (ms) | {when_second['through the server']} "
            f"| {when_second['redirect']} | |"
        ),
        (
            f"| seek, median (ms) | {s['seek_median_ms']['through the server']:.0f} "
            f"| {s['seek_median_ms']['redirect']:.0f} "
            f"| paired median {seek_d['median']:+.0f} [90 %: {seek_d['low']:+.0f}, {seek_d['high']:+.0f}] |"
        ),
        (
            f"| from the store, a round | the server fetched {s['through_server_fetched_mib']:.1f} MiB "
            f"| the browser sent {s['store_requests_from_browser']:.0f} requests; the server sent no media | |"
        ),
        "",
    ]
    (out / "redirect.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()

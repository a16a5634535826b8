"""A phone recording in the browser: 4K HEVC at 60 fps, variable rate, portrait, with AAC.

    python benchmarks/phone_clip.py [--seconds 10] [--rotation 90] [--out benchmarks/results/phone_clip.json]

Makes the clip in /tmp with PyAV as a phone writes it (3840x2160 stored, a display matrix
turning it 90° clockwise, frame durations that wander around 1/60 s, a keyframe a second,
AAC), then measures, in JupyterLab with the extension, from ``rangevideo.show(...)``:

- the first frame: until the page shows frame 0, upright (read from the picture);
- seeks: ``p.frame = n`` to frames far apart, until the picture shows frame n (read from a
  canvas, which Chromium draws only once the seek completes: readyState HAVE_CURRENT_DATA),
  and until the video composited frame n (``requestVideoFrameCallback``: on screen, which for
  a paused seek comes first, before Chromium's own buffering rule lets the seek complete);
- playback from the start for a few seconds: how far it got, ``waiting`` events, frames
  presented and dropped;
- the segment jobs for the same file, before/after paired (``segment_pairs``): wall and CPU
  seconds of the first segment, of the segment a seek needs, and of two seconds of playback.

Each figure comes with the machine's load (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

SIZE = (2160, 3840)  # as shown: portrait
FPS = 60
# Phone encoders write a millisecond-ish clock; these frame durations (1/600 s ticks) wander
# around 1/60 s, as a phone's do.
TICKS = Fraction(1, 600)
DURATIONS = (10, 10, 9, 11, 10, 10, 10, 11, 9, 10)


def make_clip(path: Path, seconds: float, rotation: int = 90, size: tuple[int, int] = SIZE) -> list[float]:
    """Write the phone-like clip; return every frame's presentation time in seconds."""
    import av

    from jupyter_rangevideo.pattern import YuvPainter
    from jupyter_rangevideo.rotation import Upright, displayed_size
    from jupyter_rangevideo.sample import _Tone

    stored = displayed_size(*size, rotation)
    times: list[float] = []
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx265", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = stored[0], stored[1], "yuv420p"
        stream.codec_context.time_base = TICKS
        stream.options = {
            "preset": "ultrafast",
            "x265-params": f"keyint={FPS}:min-keyint={FPS}:log-level=error",
        }
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV counts counter-clockwise
        audio = container.add_stream("aac", rate=48000, layout="mono")
        audio.time_base = Fraction(1, 48000)
        tone = _Tone(container, audio, 48000)
        painter = YuvPainter(av, size)
        back = (360 - rotation) % 360
        turn = Upright(av, size, back)
        now, index = 0, 0
        while now * TICKS < seconds:
            frame = av.VideoFrame.from_ndarray(painter.frame(index, FPS), format="yuv420p")
            frame = turn(frame)
            frame.pts, frame.time_base = now, TICKS
            times.append(float(now * TICKS))
            container.mux(stream.encode(frame))
            now += DURATIONS[index % len(DURATIONS)]
            index += 1
            tone.write_until(float(now * TICKS))
        container.mux(stream.encode(None))
        tone.flush()
    return times


def segment_pairs(
    path: Path, rounds: int, seek_to: float, play: tuple[float, float] = (2.0, 4.0)
) -> list[dict]:
    """The segment jobs as before (heavy sources: 0.25 s first, then 0.5 s, each job decoding
    from its keyframe) and after (0.25 s segments, each job of playback continuing the decoder
    the one before it left), paired in each round, their order alternating, wall and CPU
    seconds of: the first segment, the segment a seek to ``seek_to`` s needs, and the
    segments of ``play`` (seconds) made one after another as playback asks for them."""
    from jupyter_rangevideo.probe import probe
    from jupyter_rangevideo.segment_plan import EncodeSettings, plan_segments

    facts = probe(path)
    variants = {
        "before": EncodeSettings(heavy_seconds=0.5, heavy_first_seconds=0.25),
        "after": EncodeSettings(),
    }
    runs = []
    for number in range(rounds):
        order = list(variants) if number % 2 == 0 else list(reversed(variants))
        for name in order:
            settings = variants[name]
            plan = plan_segments(facts, "transcode", settings)
            row: dict = {"variant": name, "round": number, "segments": plan.count}
            timed = TimedJobs(path, facts, plan, settings, continuing=name == "after")
            row["first"] = timed([0])
            row["seek"] = timed([plan.index_at(seek_to)])
            row["playback"] = timed(list(range(plan.index_at(play[0]), plan.index_at(play[1] - 0.01) + 1)))
            runs.append(row)
            print(row, flush=True)
    return runs


class TimedJobs:
    """Segment jobs of one plan made in a row, timed (wall and this process's CPU)."""

    def __init__(self, path: Path, facts, plan, settings, continuing: bool):
        self.path, self.facts, self.plan, self.settings = path, facts, plan, settings
        self.continuing = continuing

    def __call__(self, indices: list[int]) -> dict:
        import threading

        from jupyter_rangevideo.continuing import CursorPark
        from jupyter_rangevideo.segment_jobs import Job, make_segment

        park = CursorPark() if self.continuing else None
        plan = self.plan
        cpu, wall = time.process_time(), time.monotonic()
        for index in indices:
            start, end = plan.span(index)
            job = Job(
                str(self.path), "transcode", index, start, end, index == plan.count - 1, plan.exact,
                self.settings, self.facts.validator,
            )  # fmt: skip
            make_segment(job, str(self.path.with_suffix(".bench.ts")), threading.Event(), park)
        if park is not None:
            park.close_all()
        return {
            "span": [plan.span(indices[0])[0], plan.span(indices[-1])[1]],
            "jobs": len(indices),
            "wall_s": round(time.monotonic() - wall, 3),
            "cpu_s": round(time.process_time() - cpu, 3),
            "load": round(os.getloadavg()[0], 1),
        }


# Counted on the page while the player plays: stalls, and what Chromium presented or dropped.
WATCH_PLAYBACK = """() => {
    const video = document.querySelector('video.jp-RangeVideo-video');
    window.__phone = { waiting: 0, start: video.currentTime };
    video.addEventListener('waiting', () => { window.__phone.waiting += 1; });
}"""
PLAYED = """() => {
    const video = document.querySelector('video.jp-RangeVideo-video');
    const quality = video.getVideoPlaybackQuality();
    return { played_s: video.currentTime - window.__phone.start, waiting: window.__phone.waiting,
             frames: quality.totalVideoFrames, dropped: quality.droppedVideoFrames };
}"""


# Installed before the page's scripts: when each frame was composited (page clock, media time).
WATCH_COMPOSITED = """(() => {
    window.__composited = [];
    const watch = setInterval(() => {
        const video = document.querySelector('video.jp-RangeVideo-video');
        if (!video || !video.requestVideoFrameCallback) return;
        clearInterval(watch);
        const presented = (now, meta) => {
            window.__composited.push([performance.now(), meta.mediaTime]);
            video.requestVideoFrameCallback(presented);
        };
        video.requestVideoFrameCallback(presented);
    }, 20);
})();"""


def composited(page, clock, frame: int, after: float) -> float | None:
    """When (page clock, ms) the video first composited ``frame`` after ``after``."""
    for when, media in page.evaluate("() => window.__composited"):
        if when >= after and clock.frame_at(media + 1e-4) == frame:
            return when
    return None


def playback(page, kernel_eval, seconds: float) -> dict:
    """Play from where the player is for ``seconds`` of wall time: how far it got, how often
    it waited for data, frames presented and dropped."""
    page.evaluate(WATCH_PLAYBACK)
    kernel_eval(page, "p.play()")
    time.sleep(seconds)
    played = page.evaluate(PLAYED)
    kernel_eval(page, "p.pause()")
    return {key: round(value, 2) if isinstance(value, float) else value for key, value in played.items()}


def lab_server(tmp: Path, settings: dict | None = None, **config):
    """JupyterLab with the extension, its segment cache in ``tmp``; ``settings``: more of its
    RangeVideoApp settings (e.g. ``{"worker_nice": 0}``); ``config``: more of the server's
    config file (e.g. ``ServerApp={...}``)."""
    sys.path.append(str(HERE.parent / "tests"))  # helpers, which the browser conftest imports
    from conftest import start_server

    (tmp / "lab-config").mkdir()
    (tmp / "lab-config" / "jupyter_server_config.json").write_text(
        json.dumps({"RangeVideoApp": {"cache_dir": str(tmp / "segment-cache"), **(settings or {})}, **config})
    )
    return start_server("lab", tmp)


def clip_notebook(server, path: Path, name: str, number: float) -> str:
    """A notebook showing the clip, given a new validator first (a cold segment cache); its name."""
    from conftest import create_notebook

    now = time.time()
    os.utime(path, (now, now + number))
    notebook = f"{name}-{number:g}.ipynb"
    cell = f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(path)!r}, width=360)"
    create_notebook(server, notebook, [cell])
    return notebook


def browser_runs(
    path: Path, rounds: int, frames: list[int], play_seconds: float = 5.0, settings: dict | None = None
) -> list[dict]:
    """In JupyterLab: cell run to frame 0 on screen, and ``p.frame = n`` to frame n on screen
    (read from the picture, exactly n), with a cold segment cache each round; then, in a page
    of its own with a cold cache again, playback from the start for ``play_seconds``."""
    import shutil
    import tempfile

    sys.path.append(str(HERE.parent / "tests"))  # helpers, which the browser conftest imports
    from conftest import chromium, kernel_eval, new_page, open_notebook, run_all_cells, wait_for_frame

    from jupyter_rangevideo.probe import probe

    clock = probe(path).clock
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-phone-bench-"))
    server = lab_server(tmp, settings)
    runs = []
    try:
        with chromium() as browser:
            for number in range(rounds):
                notebook = clip_notebook(server, path, "phone", number)
                with new_page(browser, timeout=120) as page:
                    page.add_init_script(WATCH_COMPOSITED)
                    open_notebook(page, server, notebook)
                    started = run_all_cells(page)
                    first = wait_for_frame(page, 0, tolerance=0, timeout=120, interval=0.02) - started
                    facts = kernel_eval(page, "print(p.delivery, p.video_width, p.video_height)").split()
                    seeks, on_screen = [], []
                    for frame in frames:
                        asked = page.evaluate("() => performance.now()")
                        kernel_eval(page, f"p.frame = {frame}")
                        shown = wait_for_frame(page, frame, tolerance=0, timeout=120, interval=0.02)
                        seeks.append(round(shown - asked))
                        seen = composited(page, clock, frame, asked)
                        on_screen.append(None if seen is None else round(seen - asked))
                notebook = clip_notebook(server, path, "play", number + 0.5)
                with new_page(browser, timeout=120) as page:
                    open_notebook(page, server, notebook)
                    run_all_cells(page)
                    wait_for_frame(page, 0, tolerance=0, timeout=120, interval=0.02)
                    played = playback(page, kernel_eval, play_seconds)
                run = {
                    "round": number,
                    "delivery": facts[0],
                    "video_size": [int(facts[1]), int(facts[2])],
                    "first_frame_ms": round(first),
                    "seek_ms": seeks,
                    "seek_composited_ms": on_screen,
                    "playback": played,
                    "load": round(os.getloadavg()[0], 1),
                }
                runs.append(run)
                print(run, flush=True)
                server.shut_down_kernels()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rotation", type=int, default=90)
    parser.add_argument("--clip", type=Path, default=Path("/tmp/rangevideo-phone-4k60-hevc.mov"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--segment-rounds", type=int, default=3, help="paired rounds of the segment jobs")
    parser.add_argument("--play-seconds", type=float, default=5.0, help="wall seconds of playback measured")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=None,
        help="the server's RangeVideoApp.worker_nice (default: its own)",
    )
    parser.add_argument("--no-browser", action="store_true", help="only the segment jobs, paired")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "phone_clip.json")
    args = parser.parse_args()
    if not args.clip.exists():  # made once: x265 at 4K takes minutes on two cores
        started = time.monotonic()
        made = make_clip(args.clip, args.seconds, args.rotation)
        print(f"wrote {args.clip}: {len(made)} frames in {time.monotonic() - started:.0f} s", flush=True)
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "clip": f"{SIZE[1]}x{SIZE[0]} stored, rotation {args.rotation}, HEVC, {FPS} fps VFR, AAC, {args.seconds:g} s",
        "cpus": os.cpu_count(),
        "worker_nice": args.worker_nice,
        "load_at_start": os.getloadavg(),
        "segments": segment_pairs(args.clip, args.segment_rounds, seek_to=5.7),
    }
    if not args.no_browser:
        result["browser"] = browser_runs(
            args.clip,
            args.rounds,
            frames=[341, 100, 553, 37],
            play_seconds=args.play_seconds,
            settings=None if args.worker_nice is None else {"worker_nice": args.worker_nice},
        )
    result["load_at_end"] = os.getloadavg()
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""Where a seek in the phone clip goes: server jobs, the page's requests and appends, the frame.

    python benchmarks/phone_seek_trace.py [--rounds 2] [--out benchmarks/results/phone_seek_trace.json]

For the clip of ``phone_clip.py`` (4K HEVC at 60 fps, VFR, turned 90°, AAC) in JupyterLab, on
one clock (seconds since the epoch, server and page alike), for each ``p.frame = n``:

- the server's segment jobs (its DEBUG log: queued, started, done, CPU seconds, whether the
  job continued a decoder or decoded from the keyframe, whether it was a prefetch, the nice
  value it ran at);
- the page's segment requests (Resource Timing: asked, first byte, last byte);
- each append to the audio and the video SourceBuffer, with what each holds after it;
- ``seeking``/``seeked`` on the video, and when the picture showed frame n (canvas pixels).

Run it with another checkout's package first on PYTHONPATH to trace that code instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))
sys.path.append(str(HERE.parent / "tests"))

FRAMES = [341, 100, 553, 37]

# Installed before the page's scripts: records, on the epoch clock in ms, what hls.js appends
# to each SourceBuffer (and what it then holds), segment requests, and the video's events.
TRACE = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  const trace = (window.__trace = []);
  const ranges = (b) => Array.from({ length: b.length }, (_, i) => [+b.start(i).toFixed(3), +b.end(i).toFixed(3)]);
  const add = MediaSource.prototype.addSourceBuffer;
  MediaSource.prototype.addSourceBuffer = function (type) {
    const buffer = add.call(this, type);
    const kind = type.startsWith('audio') ? 'audio' : type.includes('mp4a') && !type.includes('avc') ? 'audio' : 'video';
    const append = buffer.appendBuffer;
    buffer.appendBuffer = function (data) {
      trace.push({ t: now(), what: 'append', kind, bytes: data.byteLength });
      return append.call(this, data);
    };
    buffer.addEventListener('updateend', () => trace.push({ t: now(), what: 'appended', kind, buffered: ranges(buffer.buffered) }));
    return buffer;
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const m = e.name.match(/seg-(\\d+)\\.ts/);
      if (m) trace.push({ t: performance.timeOrigin + e.startTime, what: 'segment', index: +m[1],
        first_byte: performance.timeOrigin + e.responseStart, done: performance.timeOrigin + e.responseEnd });
    }
  }).observe({ type: 'resource', buffered: true });
  // Frames composited (what a person sees), also while readyState still says HAVE_METADATA.
  const watch = setInterval(() => {
    const video = document.querySelector('video.jp-RangeVideo-video');
    if (!video || !video.requestVideoFrameCallback) return;
    clearInterval(watch);
    const presented = (_, meta) => {
      trace.push({ t: now(), what: 'presented', media: +meta.mediaTime.toFixed(4), ready: video.readyState });
      video.requestVideoFrameCallback(presented);
    };
    video.requestVideoFrameCallback(presented);
  }, 20);
  for (const name of ['seeking', 'seeked', 'waiting', 'canplay']) {
    document.addEventListener(name, (e) => {
      if (e.target instanceof HTMLVideoElement && e.target.matches('video.jp-RangeVideo-video'))
        trace.push({ t: now(), what: name, at: +e.target.currentTime.toFixed(3), ready: e.target.readyState });
    }, true);
  }
})();"""

JOB = re.compile(
    r"segment (\w+) (\d+) of .*: queued ([\d.]+) started ([\d.]+) done ([\d.]+), ([\d.]+) s CPU \(process\), "
    r"(continued|from its keyframe)(, prefetched)?(?:, nice (-?\d+|None))?"
)


def server_jobs(log: Path) -> list[dict]:
    jobs = []
    for line in log.read_text().splitlines() if log.exists() else []:
        found = JOB.search(line)
        if found:
            delivery, index, queued, started, done, cpu, how, prefetched, nice = found.groups()
            jobs.append(
                {
                    "what": "job",
                    "delivery": delivery,
                    "index": int(index),
                    "queued": float(queued),
                    "t": float(started),
                    "done": float(done),
                    "cpu_s": float(cpu),
                    "continued": how == "continued",
                    "prefetched": bool(prefetched),
                    "nice": None if nice in (None, "None") else int(nice),
                }
            )
    return jobs


def breakdown(asked: float, shown: float, page: list[dict], jobs: list[dict]) -> list[str]:
    """The seek's events in order, in ms after it was asked."""
    lines = []
    for job in jobs:
        if job["done"] >= asked and job["t"] <= shown + 0.5:
            how = "continued" if job["continued"] else "from keyframe"
            text = (
                f"job {job['delivery']} {job['index']}: queued {1000 * (job['queued'] - asked):.0f}, "
                f"started {1000 * (job['t'] - asked):.0f}, done {1000 * (job['done'] - asked):.0f} "
                f"({1000 * (job['done'] - job['t']):.0f} ms wall, {job['cpu_s']:.2f} s CPU, {how}"
                f"{', prefetch' if job['prefetched'] else ''}"
                f"{'' if job.get('nice') is None else ', nice ' + str(job['nice'])})"
            )
            lines.append((job["t"], text))
    for event in page:
        t = event["t"] / 1000
        if not asked - 0.01 <= t <= shown + 0.5:
            continue
        at = f"{1000 * (t - asked):.0f}"
        if event["what"] == "segment":
            text = (
                f"GET seg {event['index']}: asked {at}, first byte {event['first_byte'] / 1000 - asked:.3f}, "
                f"done {event['done'] / 1000 - asked:.3f}"
            )
        elif event["what"] == "appended":
            text = f"{event['kind']} appended at {at}: buffered {event['buffered']}"
        elif event["what"] == "append":
            text = f"{event['kind']} append {event['bytes']} B at {at}"
        elif event["what"] == "presented":
            text = f"frame at {event['media']} s composited at {at} (readyState {event['ready']})"
        else:
            text = f"{event['what']} at {at} (currentTime {event['at']}, readyState {event['ready']})"
        lines.append((t, text))
    lines.append((shown, f"frame shown at {1000 * (shown - asked):.0f}"))
    return [text for _, text in sorted(lines, key=lambda pair: pair[0])]


def run(clip: Path, rounds: int, frames: list[int], pause: float, play: float = 0.0) -> list[dict]:
    from conftest import chromium, kernel_eval, new_page, open_notebook, run_all_cells, wait_for_frame
    from phone_clip import clip_notebook, lab_server

    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-seek-trace-"))
    log = tmp / "jobs.log"
    logging_config = {
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"jobs": {"class": "logging.FileHandler", "filename": str(log), "formatter": "plain"}},
        "loggers": {"jupyter_rangevideo.segments": {"level": "DEBUG", "handlers": ["jobs"]}},
    }
    server = lab_server(tmp, ServerApp={"logging_config": logging_config})
    runs = []
    epoch = "() => performance.timeOrigin + performance.now()"
    try:
        with chromium() as browser:
            for number in range(rounds):
                notebook = clip_notebook(server, clip, "trace", number)
                with new_page(browser, timeout=120) as page:
                    page.add_init_script(TRACE)
                    open_notebook(page, server, notebook)
                    started = run_all_cells(page)
                    first = wait_for_frame(page, 0, tolerance=0, timeout=120, interval=0.02) - started
                    time.sleep(pause)
                    seeks = []
                    for frame in frames:
                        asked = page.evaluate(epoch) / 1000
                        kernel_eval(page, f"p.frame = {frame}")
                        wait_for_frame(page, frame, tolerance=0, timeout=120, interval=0.01)
                        shown = page.evaluate(epoch) / 1000
                        seeks.append({"frame": frame, "asked": asked, "shown": shown})
                        time.sleep(
                            pause
                        )  # 0: the next seek while this one's prefetches run, as phone_clip.py
                    played = None
                    if play:  # then play on from the last frame shown
                        from phone_clip import playback

                        played = playback(page, kernel_eval, play)
                        played["jobs_from"] = seeks[-1]["shown"] if seeks else 0.0
                    page_events = page.evaluate("() => window.__trace")
                jobs = server_jobs(log)
                for seek in seeks:
                    seek["ms"] = round(1000 * (seek["shown"] - seek["asked"]))
                    seek["events"] = breakdown(seek["asked"], seek["shown"], page_events, jobs)
                if played is not None:
                    played["jobs"] = [j for j in jobs if j["done"] >= played["jobs_from"]]
                    print("played", played, flush=True)
                runs.append(
                    {
                        "round": number,
                        "played": played,
                        "first_frame_ms": round(first),
                        "seeks": seeks,
                        "load": round(os.getloadavg()[0], 1),
                    }
                )
                for seek in seeks:
                    print(f"round {number}: frame {seek['frame']} in {seek['ms']} ms", flush=True)
                    for line in seek["events"]:
                        print("   ", line, flush=True)
                server.shut_down_kernels()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def main() -> None:
    from phone_clip import make_clip

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", type=Path, default=Path("/tmp/rangevideo-phone-4k60-hevc.mov"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, nargs="*", default=FRAMES)
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds between a frame shown and the next seek"
    )
    parser.add_argument("--play", type=float, default=0.0, help="then play for this many seconds")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "phone_seek_trace.json")
    args = parser.parse_args()
    if not args.clip.exists():
        make_clip(args.clip, 10.0)
    import jupyter_rangevideo

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "code": str(Path(jupyter_rangevideo.__file__).parent),
        "load_at_start": os.getloadavg(),
        "pause_s": args.pause,
        "runs": run(args.clip, args.rounds, args.frames, args.pause, args.play),
        "load_at_end": os.getloadavg(),
    }
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

"""The player's pure logic (static/player.js) run with Node: frame <-> time from the probe's
clock agrees with probe.FrameClock, and commands are applied in order."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from jupyter_rangevideo.probe import FrameClock

PLAYER_JS = Path(__file__).parents[1] / "jupyter_rangevideo" / "static" / "player.js"
NODE = shutil.which("node")


@pytest.fixture(autouse=True)
def _node():
    # scripts/test.sh needs Node.js anyway (npm installs JupyterHub's proxy): never skip.
    assert NODE is not None, "these tests run player.js with Node.js: install nodejs"


def run_js(tmp_path, body: str):
    module = tmp_path / "player.mjs"
    module.write_text(PLAYER_JS.read_text())
    script = f"import * as p from {json.dumps(module.as_uri())};\nconsole.log(JSON.stringify(await (async () => {{ {body} }})()));"
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_frame_clock_matches_python_on_constant_and_variable_rates(tmp_path):
    cfr = FrameClock.constant(25, 1500)
    times = [0.0]
    for ms in [33, 33, 50, 17, 40, 66, 33, 20, 80, 33] * 10:
        times.append(round(times[-1] + ms / 1000, 3))
    vfr = FrameClock.from_times(times)
    ntsc = FrameClock.constant(30000 / 1001, 900)
    for clock in (cfr, vfr, ntsc):
        count = clock.frame_count
        # a frame's exact time (and a browser's microsecond-rounded mediaTime) maps to that frame
        media_times = [round(clock.time_of(n), 6) for n in range(count)]
        got = run_js(
            tmp_path,
            f"const c = {json.dumps(clock.to_json())}; const ts = {json.dumps(media_times)};"
            "return { at: ts.map((t) => p.frameAtTime(c, t)),"
            "  mid: ts.map((_, n) => p.frameAtTime(c, p.frameMidTime(c, n))),"
            "  time: ts.map((_, n) => p.timeOfFrame(c, n)) };",
        )
        assert got["at"] == list(range(count))
        assert got["mid"] == list(range(count))
        assert got["time"] == pytest.approx([clock.time_of(n) for n in range(count)], abs=1e-9)


def test_clip_end_in_seconds_is_the_frame_presented_then(tmp_path):
    clock = FrameClock.constant(25, 1500).to_json()
    got = run_js(
        tmp_path,
        f"const c = {json.dumps(clock)}; return [14, 13.999, 14.03, 0, 99].map((t) => p.frameAtTime(c, t));",
    )
    assert got == [350, 349, 350, 0, 1499]


def test_pending_commands_in_order(tmp_path):
    got = run_js(
        tmp_path,
        "const log = [{seq: 4, op: 'seek', value: 12}, {seq: 2, op: 'rate', value: 2},"
        " {seq: 3, op: 'pause', value: null}, {seq: 1, op: 'play', value: null}];"
        "return { all: p.pendingCommands(log, 0).map((c) => c.op), after2: p.pendingCommands(log, 2).map((c) => c.seq),"
        "  none: p.pendingCommands(log, 4), latest: p.latestSeq(log), empty: p.latestSeq([]) };",
    )
    assert got == {
        "all": ["play", "rate", "pause", "seek"],
        "after2": [3, 4],
        "none": [],
        "latest": 4,
        "empty": 0,
    }


def test_a_paused_report_waits_for_a_seek_to_end_but_not_forever(tmp_path):
    got = run_js(
        tmp_path,
        "return [p.reportDue(1200, 1000, false), p.reportDue(1200, 1000, true),"
        " p.reportDue(1999, 1000, true), p.reportDue(2000, 1000, true)];",
    )
    assert got == [True, False, False, True]

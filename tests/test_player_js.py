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


def test_a_redirected_load_is_renewed_before_half_the_presigned_urls_life(tmp_path):
    """The server hands out a presigned URL until half its life has passed (remote.py): a load
    is good for half the lifetime, less a margin of a quarter of that, at most a minute."""
    got = run_js(tmp_path, "return [3600, 600, 4].map((s) => p.goodForMs(s));")
    assert got == [1_800_000 - 60_000, 300_000 - 60_000, 2000 - 500]


def test_comm_chunks_reassemble_in_any_order_and_misfits_are_refused(tmp_path):
    result = run_js(
        tmp_path,
        """
        const whole = new p.Reassembly();
        const done = [
          whole.add({ offset: 4, size: 10 }, new Uint8Array([4, 5, 6, 7])),
          whole.add({ offset: 8, size: 10 }, new Uint8Array([8, 9])),
          whole.add({ offset: 0, size: 10 }, new Uint8Array([0, 1, 2, 3])),
        ];
        const misfits = [];
        for (const [offset, size, length] of [[8, 10, 4], [0, 12, 2], [-1, 10, 1]]) {
          const r = new p.Reassembly();
          r.add({ offset: 0, size: 10 }, new Uint8Array(1));
          try { r.add({ offset, size }, new Uint8Array(length)); misfits.push("taken"); }
          catch (error) { misfits.push("refused"); }
        }
        const empty = new p.Reassembly();
        return { done, bytes: [...whole.bytes], misfits, empty: empty.add({ offset: 0, size: 0 }, new Uint8Array(0)) };
        """,
    )
    assert result == {
        "done": [False, False, True],
        "bytes": list(range(10)),
        "misfits": ["refused"] * 3,
        "empty": True,
    }


def test_comm_urls_name_playlists_and_segments_as_hls_js_resolves_them(tmp_path):
    result = run_js(
        tmp_path,
        """
        const playlist = `${p.COMM_BASE}stream/index.m3u8?at=3.5`;
        const proxy = `${p.COMM_BASE}proxy/index.m3u8`;
        const refused = [];
        for (const url of ["https://example.org/stream/seg-00001.ts", `${p.COMM_BASE}other/index.m3u8`,
                           `${p.COMM_BASE}stream/notes.txt`]) {
          try { p.commRequestOf(url); refused.push("taken"); } catch { refused.push("refused"); }
        }
        return {
          playlist: p.commRequestOf(playlist),
          segment: p.commRequestOf(new URL("seg-00012.ts", playlist).href),
          proxyPlaylist: p.commRequestOf(proxy),
          proxySegment: p.commRequestOf(new URL("seg-00003.ts", proxy).href),
          badAt: p.commRequestOf(`${p.COMM_BASE}stream/index.m3u8?at=soon`),
          refused,
        };
        """,
    )
    assert result == {
        "playlist": ["playlist", {"at": 3.5}],
        "segment": ["segment", {"index": 12}],
        "proxyPlaylist": ["playlist", {"delivery": "proxy"}],
        "proxySegment": ["segment", {"delivery": "proxy", "index": 3}],
        "badAt": ["playlist", {}],
        "refused": ["refused"] * 3,
    }


def test_comm_client_keeps_its_own_answers_and_cancels_what_is_left(tmp_path):
    result = run_js(
        tmp_path,
        """
        const sent = [];
        let deliver = null;
        const state = {
          send: (content) => sent.push(content),
          onMessage(handler) { deliver = handler; return () => { deliver = null; }; },
        };
        const client = p.createCommClient(state);
        const a = client.request("segment", { index: 2 });
        const b = client.request("playlist", { at: 1 });
        const chunk = (id, offset, size, bytes) =>
          deliver({ rangevideo: "chunk", id, offset, size, last: offset + bytes.length >= size },
                  [new DataView(new Uint8Array(bytes).buffer)]);
        deliver({ rangevideo: "chunk", id: "another-view:1", offset: 0, size: 1, last: true }, [new DataView(new ArrayBuffer(1))]);
        chunk(a.id, 0, 5, [1, 2, 3]);
        chunk(a.id, 3, 5, [4, 5]);
        const answer = await a.done;
        const c = client.request("segment", { index: 9 });
        deliver({ rangevideo: "error", id: c.id, status: 404, message: "segment 9 is past the end" });
        const refused = await c.done.catch((error) => [error.status, error.message]);
        client.dispose();
        return { answer: [...answer.bytes], refused, open: client.open, listening: deliver !== null,
                 sent: sent.map(({ rangevideo, what, id }) => [rangevideo, what ?? null, id === b.id]) };
        """,
    )
    assert result == {
        "answer": [1, 2, 3, 4, 5],
        "refused": [404, "segment 9 is past the end"],
        "open": 0,
        "listening": False,
        # b was never answered: disposing the view cancels it in the kernel.
        "sent": [
            ["get", "segment", False],
            ["get", "playlist", True],
            ["get", "segment", False],
            ["cancel", None, True],
        ],
    }


def test_hls_requests_say_when_the_player_asks_while_playing_on(tmp_path):
    result = run_js(
        tmp_path,
        """
        const opened = [], headers = [];
        const xhr = () => ({ open: (_method, url) => opened.push(url), setRequestHeader: (name) => headers.push(name) });
        const video = { paused: true, seeking: false };
        const setup = (request) => request.setRequestHeader("X-XSRFToken", "t");
        const config = p.playbackAware({ maxBufferLength: 12, xhrSetup: setup }, video);
        config.xhrSetup(xhr(), "http://h/seg-00001.ts");  // paused: a still frame, a step
        video.paused = false;
        config.xhrSetup(xhr(), "http://h/seg-00002.ts");  // playing on
        video.seeking = true;
        config.xhrSetup(xhr(), "http://h/seg-00009.ts");  // a seek while playing
        video.seeking = false;
        config.xhrSetup(xhr(), "http://h/index.m3u8?at=3");
        return { opened, headers, kept: config.maxBufferLength };
        """,
    )
    assert result == {
        "opened": [
            "http://h/seg-00001.ts",
            "http://h/seg-00002.ts?play=1",
            "http://h/seg-00009.ts",
            "http://h/index.m3u8?at=3&play=1",
        ],
        "headers": ["X-XSRFToken"] * 4,
        "kept": 12,
    }

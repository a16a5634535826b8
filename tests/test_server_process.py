"""A real `jupyter server` process: load held over time, and shutdown while streaming."""

import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time

import psutil
import pytest
from helpers import (
    accepts,
    free_port,
    jupyter_command,
    jupyter_env,
    read_response,
    request_bytes,
    start_process,
    stop_process,
)

from jupyter_rangevideo.ranges import MEDIA_ELEMENT_RESPONSE_BYTES, MEDIA_STREAMS_ANSWERED_IN_FULL

SOAK_SECONDS = float(os.environ.get("RANGEVIDEO_SOAK_SECONDS", "60"))
BASE = "/user/soak/"
TOKEN = "soak-token"


@pytest.fixture
def server(tmp_path):
    """Start `jupyter server` on 127.0.0.1; yield (port, process, env, log path)."""
    port = free_port()
    env = jupyter_env(tmp_path)
    log = tmp_path / "server.log"
    (tmp_path / "root").mkdir()
    cmd = jupyter_command("jupyter_server", port, TOKEN, BASE, f"--ServerApp.root_dir={tmp_path / 'root'}")
    process = start_process(cmd, lambda: accepts(port), log=log, env=env)
    try:
        yield port, process, env, log
    finally:
        stop_process(process)


def signed_url(path, env):
    code = f"import jupyter_rangevideo as r; print(r.url_for({str(path)!r}))"
    return subprocess.check_output([sys.executable, "-c", code], env=env, text=True).strip()


def get(path, headers=()):
    return request_bytes(BASE + path, "GET", [f"Authorization: token {TOKEN}", *headers])


async def stream_until(port, request, stop_at):
    """Read whole responses on one keep-alive connection until ``stop_at``; return bytes read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    total = 0
    try:
        while time.monotonic() < stop_at:
            writer.write(request())
            status, headers, body = await asyncio.wait_for(read_response(reader), 60)
            assert status in (200, 206), status
            assert len(body) == int(headers["content-length"])
            total += len(body)
    finally:
        writer.close()
    return total


def test_load_soak_64_streams_with_api_traffic(server, tmp_path):
    port, process, env, log = server
    video = tmp_path / "soak.mp4"
    with open(video, "wb") as f:
        f.truncate(64 * 2**20)
    url = signed_url(video, env)
    rng = random.Random(1)
    server_process = psutil.Process(process.pid)

    def ranged():
        start = rng.randrange(64 * 2**20)
        return get(url, [f"Range: bytes={start}-{start + rng.choice([2**18, 2**21, 2**23])}"])

    async def api_traffic(stop_at, latencies):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        paths = ["api/status", "api/contents", "api/kernelspecs"]
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            writer.write(get(rng.choice(paths)))
            status, _, _ = await asyncio.wait_for(read_response(reader), 30)
            latencies.append(time.perf_counter() - started)
            assert status == 200
            await asyncio.sleep(0.05)
        writer.close()

    async def soak():
        rss = []
        latencies = []
        stop_at = time.monotonic() + SOAK_SECONDS

        async def sample_rss():
            while time.monotonic() < stop_at:
                rss.append(server_process.memory_info().rss)
                await asyncio.sleep(1)

        results = await asyncio.gather(
            *(stream_until(port, ranged, stop_at) for _ in range(64)),
            api_traffic(stop_at, latencies),
            sample_rss(),
        )
        return sum(r for r in results[:64]), latencies, rss

    served, latencies, rss = asyncio.run(soak())
    quarter = max(len(rss) // 4, 1)
    early, late = statistics.mean(rss[quarter : 2 * quarter] or rss), statistics.mean(rss[-quarter:])
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    print(
        f"\nsoak {SOAK_SECONDS:.0f} s, 64 streams: {served / 2**30:.1f} GiB served;"
        f" API p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms over {len(latencies)} calls;"
        f" server RSS {early / 2**20:.0f} -> {late / 2**20:.0f} MiB"
    )
    assert process.poll() is None
    assert "Traceback" not in log.read_text()
    assert len(latencies) > 10
    # Flat memory: after warm-up it does not keep growing with the bytes served.
    assert late <= early + 64 * 2**20


def test_shutdown_during_streams_is_clean(server, tmp_path):
    port, process, env, log = server
    video = tmp_path / "big.mp4"
    with open(video, "wb") as f:
        f.truncate(4 * 2**30)
    url = signed_url(video, env)

    async def shut_down_while_streaming():
        streams = []
        for _ in range(8):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(get(url))
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(2**20)
            streams.append(writer)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
        elapsed = time.monotonic() - started
        for writer in streams:
            writer.close()
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)
        return elapsed

    elapsed = asyncio.run(shut_down_while_streaming())
    print(
        f"\nshutdown with 8 streams of a 4 GiB file running: exited in {elapsed:.2f} s, code {process.returncode}"
    )
    assert process.returncode == 0
    assert "Uncaught exception" not in log.read_text()


def test_ffmpeg_reads_a_whole_file_a_browser_with_streams_under_way_gets_a_short_answer(server, tmp_path):
    """A browser's <video> gets short answers to bytes=N- once its page has streams under way;
    ffmpeg, curl and PyAV always read to the end."""
    from jupyter_rangevideo.sample import make_large, write_sample

    port, _, env, _ = server
    segment = write_sample(tmp_path / "seg.mp4", duration=2, fps=25, size=(320, 240), noise=True)
    video = make_large(segment, tmp_path / "big.mp4", 24 * 2**20)
    size = video.stat().st_size
    assert size > 16 * 2**20
    url = f"http://127.0.0.1:{port}{BASE}{signed_url(video, env)}"

    def framemd5(source, *options):
        cmd = [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            *options,
            "-i",
            source,
            "-map",
            "0:v",
            "-c",
            "copy",
            "-f",
            "framemd5",
            "-",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        return done.returncode, done.stdout, done.stderr

    local = framemd5(str(video))
    remote = framemd5(url, "-headers", f"Authorization: token {TOKEN}\r\n")
    assert remote[0] == 0 and "prematurely" not in remote[2], remote[2]
    assert remote[1] == local[1] and local[1].count("\n") > 800  # every packet, byte for byte

    async def one(headers):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get(url.split(str(port), 1)[1][len(BASE) :], headers))
        try:
            return await asyncio.wait_for(read_response(reader), 60)
        finally:
            writer.close()

    status, headers, body = asyncio.run(one(["Range: bytes=100-"]))
    assert (status, len(body)) == (206, size - 100)
    media = ["Range: bytes=100-", "Sec-Fetch-Dest: video"]
    # A page's first media streams are answered in full, as /files/ does ...
    status, headers, body = asyncio.run(one(media))
    assert (status, len(body)) == (206, size - 100)

    async def beside_streams_under_way(count):
        held = []
        try:
            for _ in range(count):  # answers whose reader reads nothing past the headers
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(
                    get(url.split(str(port), 1)[1][len(BASE) :], ["Range: bytes=0-", "Sec-Fetch-Dest: video"])
                )
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                held.append(writer)
            return await one(media)
        finally:
            for writer in held:
                writer.close()

    # ... and once a client has that many under way, the next one is short.
    limit = MEDIA_ELEMENT_RESPONSE_BYTES
    status, headers, body = asyncio.run(beside_streams_under_way(MEDIA_STREAMS_ANSWERED_IN_FULL))
    assert (status, len(body), headers["content-range"]) == (
        206,
        limit,
        f"bytes 100-{100 + limit - 1}/{size}",
    )
    status, headers, body = asyncio.run(beside_streams_under_way(MEDIA_STREAMS_ANSWERED_IN_FULL - 1))
    assert (status, len(body)) == (206, size - 100)

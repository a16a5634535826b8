"""Small HTTP and process helpers shared by the server tests, the browser tests and the benchmarks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av

from jupyter_rangevideo import url_for
from jupyter_rangevideo.pattern import read_frame_index


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def evict(path: Path) -> None:
    """Drop ``path`` from the page cache, as for a recording not read since it was written:
    the next reads come from the disk. Written back first, since dirty pages are not dropped."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


async def wait_for(predicate, seconds=10.0):
    """Poll ``predicate`` until it holds or ``seconds`` pass; return its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def request_bytes(path, method="GET", headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


async def read_response(reader):
    """Read one HTTP/1.1 response with a Content-Length; return (status, headers, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers, body


def http_get(url, headers=None, method="GET", timeout=10.0):
    """(status, headers, body) of a request; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def server_config(**rangevideo):
    """A jp_server_config: this extension on, terminals off, no anonymous access, and
    ``rangevideo`` as RangeVideoApp settings."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_rangevideo": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "RangeVideoApp": rangevideo,
    }


def folder_with_video(folder: Path, data: bytes = b"VIDEO") -> Path:
    """A new folder holding v.mp4 with ``data``; the video's path."""
    folder.mkdir()
    video = folder / "v.mp4"
    video.write_bytes(data)
    return video


def swap_for_symlink(folder: Path, target: Path) -> None:
    """Move ``folder`` aside and put a symlink to ``target`` where it was."""
    folder.rename(folder.parent / "moved")
    folder.symlink_to(target)


# --- HLS deliveries -------------------------------------------------------------------


def hls_url(path, delivery, name="index.m3u8"):
    """The contract's URL: the file URL's signature and path under rangevideo/hls/{delivery}/."""
    file_url = url_for(path)
    return file_url.replace("rangevideo/files/", f"rangevideo/hls/{delivery}/", 1) + "/" + name


def segment_names(playlist):
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def without_held(frames):
    """A segment's frames ((time, frame index, ...) each) without the copies of its last picture
    that a seek's segment ends with (segment_jobs.HELD_COPIES), and how many copies there were."""
    held = 0
    while len(frames) - held > 1 and frames[-1 - held][1] == frames[-2 - held][1]:
        held += 1
    return frames[: len(frames) - held], held


def decode(data, tmp_path, name="seg.ts"):
    """(time, frame index) of every video frame of a TS segment, and its audio packets' times."""
    path = tmp_path / name
    path.write_bytes(data)
    with av.open(str(path)) as container:
        frames = (
            [
                (float(f.pts * f.time_base), read_frame_index(f.to_ndarray(format="rgb24")))
                for f in container.decode(container.streams.video[0])
            ]
            if container.streams.video
            else []
        )
    with av.open(str(path)) as container:
        audio = (
            [
                float(p.pts * p.time_base)
                for p in container.demux(container.streams.audio[0])
                if p.pts is not None
            ]
            if container.streams.audio
            else []
        )
    return frames, audio


# --- server processes -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port: int) -> bool:
    """Something listens on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def answers(url: str) -> bool:
    """An HTTP server answers ``url``, if not with 200."""
    try:
        with urllib.request.urlopen(url, timeout=10):
            return True
    except urllib.error.HTTPError as error:
        error.close()
        return True
    except OSError:
        return False


def jupyter_env(tmp: Path, prefix: str = "") -> dict[str, str]:
    """The environment of a Jupyter server with its own runtime and config dirs under ``tmp``.
    Server and kernels share the runtime dir, hence the URL-signing secret."""
    return {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp / f"{prefix}runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp / f"{prefix}config"),
        "IPYTHONDIR": str(tmp / "ipython"),
    }


def jupyter_command(app: str, port: int, token: str, base_url: str, *options: str) -> list[str]:
    """``python -m app`` (jupyter_server, jupyterlab, notebook) on 127.0.0.1:port, no browser."""
    return [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.base_url={base_url}",
        f"--IdentityProvider.token={token}",
        *options,
    ]


def wait_started(
    process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60, log: Path | None = None
) -> None:
    """Poll ``ready()`` until it holds; if the process exits first or time runs out, kill it and
    raise with the tail of its ``log``."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
            raise RuntimeError(
                f"{' '.join(map(str, process.args[:3]))} did not start (exit {process.returncode})\n{tail}"
            )
        time.sleep(0.2)


def start_process(
    cmd: list[str],
    ready: Callable[[], bool],
    *,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.Popen:
    """Start a server process, its output to ``log`` (else discarded); return it once ``ready()``."""
    with open(log or os.devnull, "wb") as out:
        process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    wait_started(process, ready, timeout, log)
    return process


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate, and kill if it has not ended within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def execute_notebook(notebook: Path, env: dict[str, str] | None = None, timeout: float = 600) -> None:
    """`jupyter nbconvert --execute --inplace`, as users run it: the widget state is stored."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--execute",
            "--to",
            "notebook",
            "--inplace",
            str(notebook),
        ],
        cwd=notebook.parent,
        env=env,
        check=True,
        capture_output=True,
        timeout=timeout,
    )


class CountingPool(ThreadPoolExecutor):
    """A one-thread pool that counts the trips made to it (validators.py's, say)."""

    def __init__(self):
        super().__init__(1)
        self.trips = 0

    def submit(self, *args, **kwargs):
        self.trips += 1
        return super().submit(*args, **kwargs)

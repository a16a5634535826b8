"""Side-by-side benchmark: jupyter-rangevideo, Jupyter's /files/, aiohttp FileResponse and nginx.

    python benchmarks/run.py [--quick] [--rounds N] [--suite ranges|ranges-cold|bulk] [--baseline GIT_REF ...]

Creates its data (benchmarks/data/, random bytes, only if missing), starts every server
itself on 127.0.0.1, measures them interleaved in rounds, and writes
benchmarks/results/results.json, summary.md and summary.png. Every load loop is bounded
in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from helpers import accepts, evict, free_port, jupyter_command, start_process, stop_process, wait_started

DATA = HERE / "data"
RESULTS = HERE / "results"
BIG, MEDIUM, TINY = "big-2GiB.bin", "medium-200MiB.bin", "tiny.txt"
TOKEN = "bench-token"
MiB = 2**20


# --- data and servers ---------------------------------------------------------------


def make_data() -> None:
    DATA.mkdir(exist_ok=True)
    for name, size in ((BIG, 2 * 2**30), (MEDIUM, 200 * MiB)):
        path = DATA / name
        if not path.exists() or path.stat().st_size != size:
            with open(path, "wb") as f:
                f.writelines(os.urandom(64 * MiB) for _ in range(size // (64 * MiB)))
                f.write(os.urandom(size % (64 * MiB)))
    (DATA / TINY).write_text("ok\n")
    # Read once, so that every server is measured on files in the page cache: otherwise
    # the servers measured first pay for the disk (a random 4 KiB read that misses the
    # cache took about 0.1 ms here, several times a cached one).
    for name in (BIG, MEDIUM):
        with open(DATA / name, "rb") as f:
            while f.read(64 * MiB):
                pass


@dataclass
class Target:
    name: str
    port: int
    process: subprocess.Popen
    paths: dict  # BIG/MEDIUM/"tiny" -> URL path
    headers: list = field(default_factory=list)

    def pids(self):
        try:
            parent = psutil.Process(self.process.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.pids())

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.pids())

    def fds(self) -> int:
        return sum(p.num_fds() for p in self.pids())


def start_jupyter(name: str, runtime: Path, rangevideo: bool, source: Path | None = None) -> Target:
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    if source is not None:  # another version of the package, ahead of the installed one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    cmd = jupyter_command(
        "jupyter_server",
        port,
        TOKEN,
        "/bench/",
        f"--ServerApp.root_dir={DATA}",
        "--ServerApp.log_level=WARN",
        f"--ServerApp.jpserver_extensions=jupyter_rangevideo={rangevideo}",
    )
    # A directory of its own: `python -m` puts the working directory first on sys.path, where
    # this checkout's package would shadow the one in PYTHONPATH.
    runtime.mkdir(parents=True, exist_ok=True)
    if source is not None:
        loaded = subprocess.run(
            [sys.executable, "-c", "import jupyter_rangevideo; print(jupyter_rangevideo.__file__)"],
            env=env,
            cwd=runtime,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not loaded.startswith(str(source)):
            raise RuntimeError(f"{name}: the server would load {loaded}, not the package in {source}")
    # Slow to start on a busy machine: importing jupyter_server and its extensions.
    process = start_process(cmd, lambda: accepts(port), env=env, cwd=runtime, timeout=300)
    if rangevideo:
        os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
        from jupyter_rangevideo import url_for

        paths = {n: "/bench/" + url_for(DATA / n) for n in (BIG, MEDIUM)}
    else:
        paths = {n: f"/bench/files/{n}" for n in (BIG, MEDIUM)}
    paths["tiny"] = "/bench/api/status"
    return Target(name, port, process, paths, [f"Authorization: token {TOKEN}"])


def start_aiohttp() -> Target:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(HERE / "aiohttp_server.py"), str(port), str(DATA)])
    wait_started(process, lambda: accepts(port))
    return Target(
        "aiohttp", port, process, {BIG: f"/files/{BIG}", MEDIUM: f"/files/{MEDIUM}", "tiny": "/status"}
    )


def start_nginx(tmp: Path) -> Target | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        return None
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/octet-stream bin; text/plain txt; }}
    server {{
        listen 127.0.0.1:{port};
        root {DATA};
    }}
}}
""")
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)], stderr=subprocess.DEVNULL)
    wait_started(process, lambda: accepts(port))
    return Target("nginx", port, process, {BIG: f"/{BIG}", MEDIUM: f"/{MEDIUM}", "tiny": f"/{TINY}"})


# --- a small blocking HTTP/1.1 client (threads; recv_into releases the GIL) ---------


class Connection:
    def __init__(self, port: int, rcvbuf: int | None = None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(60)
        self.buffer = bytearray(4 * MiB)
        self.view = memoryview(self.buffer)

    def send(self, target: Target, path: str, headers=()) -> None:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *target.headers, *headers, "", ""]
        self.sock.sendall("\r\n".join(lines).encode())

    def read_head(self) -> tuple[int, int, bytes]:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, length, rest

    def get(self, target: Target, path: str, headers=(), pace: float | None = None):
        """(status, seconds to first byte, seconds to last byte, bytes)"""
        started = time.perf_counter()
        self.send(target, path, headers)
        status, length, rest = self.read_head()
        first = time.perf_counter() - started
        received = len(rest)
        while received < length:
            n = self.sock.recv_into(self.view[: min(len(self.buffer), 20_000 if pace else len(self.buffer))])
            if not n:
                raise ConnectionError("closed early")
            received += n
            if pace:
                time.sleep(pace)
        return status, first, time.perf_counter() - started, received

    def abort(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))]


# --- measurements -------------------------------------------------------------------


def throughput(target: Target, clients: int, name: str) -> dict:
    size = (DATA / name).stat().st_size

    def one(_):
        connection = Connection(target.port)
        try:
            status, _, _, received = connection.get(target, target.paths[name])
            assert status == 200 and received == size, (target.name, status, received)
            return received
        finally:
            connection.close()

    cpu = target.cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(one, range(clients)))
    elapsed = time.perf_counter() - started
    return {"GBps": total / elapsed / 1e9, "cpu_s_per_GB": (target.cpu_seconds() - cpu) / (total / 1e9)}


def random_ranges(target: Target, clients: int, span: int, requests: int) -> dict:
    size = (DATA / BIG).stat().st_size
    rng = random.Random(span * 1000 + clients)
    offsets = [rng.randrange(size - span) for _ in range(requests)]
    lock = threading.Lock()
    firsts, lasts = [], []

    def worker(batch):
        connection = Connection(target.port)
        try:
            for offset in batch:
                status, first, last, received = connection.get(
                    target, target.paths[BIG], [f"Range: bytes={offset}-{offset + span - 1}"]
                )
                assert status == 206 and received == span, (target.name, status, received)
                with lock:
                    firsts.append(first)
                    lasts.append(last)
        finally:
            connection.close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, [offsets[i::clients] for i in range(clients)]))
    return {
        "ttfb_p50_ms": 1000 * percentile(firsts, 50),
        "ttfb_p99_ms": 1000 * percentile(firsts, 99),
        "ttlb_p50_ms": 1000 * percentile(lasts, 50),
        "ttlb_p99_ms": 1000 * percentile(lasts, 99),
    }


WRK_SCRIPT = """
local span, size, path = {span}, {size}, "{path}"
local headers = {headers}
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(seed * 7919 + span) end
request = function()
  local offset = math.random(0, size - span - 1)
  headers["Range"] = "bytes=" .. offset .. "-" .. (offset + span - 1)
  return wrk.format("GET", path, headers)
end
"""
# No `response` function: with one, wrk copies every body into a buffer and hands it to Lua,
# and at 2 MiB that client work, not the server, set the pace (8 clients: about 450 requests
# per second from every server, nginx included). random_ranges() checks each server's 206s.


def wrk_ranges(target: Target, span: int, connections: int, seconds: float, tmp: Path) -> dict:
    """Random ``span``-byte ranges of the big file from ``connections`` keep-alive connections,
    driven by wrk (native, so the client is not what is measured): requests per second and
    the latency (request sent to last byte) percentiles."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    headers = {name.strip(): value.strip() for name, _, value in (h.partition(":") for h in target.headers)}
    lua = "{" + ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items()) + "}"
    script = tmp / f"ranges-{target.name}-{span}.lua"
    script.write_text(
        WRK_SCRIPT.format(span=span, size=(DATA / BIG).stat().st_size, path=target.paths[BIG], headers=lua)
    )
    cpu = target.cpu_seconds()
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{target.port}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{target.name}: wrk saw error statuses:\n{out}")

    def millis(text: str) -> float:
        number, unit = float(text[:-2] if text.endswith(("ms", "us")) else text[:-1]), text[-2:]
        return number * {"us": 0.001, "ms": 1.0}.get(unit, 1000.0)

    cpu = target.cpu_seconds() - cpu
    count = int(out.split(" requests in ")[0].split()[-1])
    # Server CPU per request: what a busy shared machine distorts least.
    result = {
        "rps": float(out.split("Requests/sec:")[1].split()[0]),
        "cpu_us_per_request": 1e6 * cpu / max(count, 1),
    }
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            result[f"latency_p{parts[0][:-1]}_ms"] = millis(parts[1])
    return result


def small_ranges(target: Target, quick: bool, tmp: Path, cold: bool = False) -> dict:
    """Random 4 KiB, 256 KiB and 2 MiB ranges at 1, 8 and 32 clients: wrk's requests per
    second and latency, and time to first byte from the Python client. ``cold``: each
    measurement starts with the file out of the page cache."""
    result = {}
    for span, label in ((4096, "4KiB"), (256 * 1024, "256KiB"), (2 * MiB, "2MiB")):
        for clients in (1, 8, 32):
            if cold:
                evict(DATA / BIG)
            result[f"wrk_{label}_{clients}_clients"] = wrk_ranges(
                target, span, clients, 2 if quick else 4, tmp
            )
            if cold:
                evict(DATA / BIG)
            # Warm, 1,000 requests: the p99 of 200 is their second worst, which one stall decides.
            # Cold, 200: more would read much of the file back into the cache.
            result[f"range_{label}_{clients}_clients"] = random_ranges(
                target, clients, span, 60 if quick else 200 if cold else 1000
            )
    return result


def tiny_latency(target: Target, streams: int, count: int) -> dict:
    stop = threading.Event()

    def stream():
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            connection = Connection(target.port)
            try:
                connection.send(target, target.paths[BIG])
                _, length, rest = connection.read_head()
                received = len(rest)
                while received < length and not stop.is_set():
                    received += connection.sock.recv_into(connection.view)
            except OSError:
                pass
            finally:
                connection.close()

    threads = [threading.Thread(target=stream, daemon=True) for _ in range(streams)]
    for thread in threads:
        thread.start()
    time.sleep(0.5 if streams else 0)
    try:
        return tiny_requests(target, count)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)


def tiny_latency_during_ranges(target: Target, span: int, clients: int, count: int, tmp: Path) -> dict:
    """The tiny request's latency while wrk fetches random ``span``-byte ranges from ``clients``
    connections: what sending ranges from the event loop costs the server's other requests."""
    # wrk takes whole seconds.
    load = threading.Thread(target=wrk_ranges, args=(target, span, clients, round(1 + count * 0.025), tmp))
    load.start()
    time.sleep(0.5)
    try:
        return tiny_requests(target, count, while_=load.is_alive)
    finally:
        load.join(120)


def tiny_requests(target: Target, count: int, while_=lambda: True) -> dict:
    latencies = []
    connection = Connection(target.port)
    try:
        for _ in range(count):
            if not while_():
                break
            status, _, last, _ = connection.get(target, target.paths["tiny"])
            assert status == 200, (target.name, status)
            latencies.append(last)
            time.sleep(0.01)
    finally:
        connection.close()
    return {"p50_ms": 1000 * percentile(latencies, 50), "p99_ms": 1000 * percentile(latencies, 99)}


def rss_growth(target: Target, clients: int, seconds: float, slow: bool) -> float:
    """Peak RSS growth (MiB) while ``clients`` read the 2 GiB file, fast or at about 200 KB/s."""
    before = target.rss()
    peak = before
    stop_at = time.monotonic() + seconds

    def reader():
        connection = Connection(target.port, rcvbuf=65536 if slow else None)
        try:
            connection.send(target, target.paths[BIG])
            _, length, rest = connection.read_head()
            received = len(rest)
            while received < length and time.monotonic() < stop_at:
                received += connection.sock.recv_into(
                    connection.view[: 20_000 if slow else len(connection.buffer)]
                )
                if slow:
                    time.sleep(0.1)
        except OSError:
            pass
        finally:
            connection.abort()

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads) and time.monotonic() < stop_at + 5:
        peak = max(peak, target.rss())
        time.sleep(0.05)
    for thread in threads:
        thread.join(10)
    return (peak - before) / MiB


def fds_after_aborts(target: Target, count: int) -> int:
    time.sleep(0.5)
    before = target.fds()
    size = (DATA / BIG).stat().st_size
    rng = random.Random(3)
    for _ in range(count):
        connection = Connection(target.port)
        offset = rng.randrange(size - 4 * MiB)
        connection.send(target, target.paths[BIG], [f"Range: bytes={offset}-"])
        connection.read_head()
        connection.sock.recv_into(connection.view[:65536])
        connection.abort()
    time.sleep(1.0)
    return target.fds() - before


# --- the run ------------------------------------------------------------------------


def machine_facts(load_at_start: tuple[float, float, float]) -> dict:
    def version(module):
        try:
            return __import__(module).__version__
        except (ImportError, AttributeError):  # not installed, or no __version__
            return None

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx_version = None
    if os.path.exists(nginx):
        nginx_version = subprocess.run(
            [nginx, "-v"], capture_output=True, text=True, check=False
        ).stderr.strip()
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_GiB": round(psutil.virtual_memory().total / 2**30, 1),
        # Other work on the machine moves every figure: the load average (1, 5, 15 min), before and after.
        "load_at_start": [round(x, 2) for x in load_at_start],
        "load_at_end": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tornado": version("tornado"),
        "jupyter_server": version("jupyter_server"),
        "aiohttp": version("aiohttp"),
        "nginx": nginx_version,
        "jupyter_rangevideo": version("jupyter_rangevideo"),
    }


def measure(target: Target, quick: bool, suite: str, tmp: Path) -> dict:
    if suite in ("ranges", "ranges-cold"):
        return {
            **small_ranges(target, quick, tmp, cold=suite == "ranges-cold"),
            "tiny_while_8_stream": tiny_latency(target, 8, 50 if quick else 200),
            "tiny_while_8_fetch_2MiB_ranges": tiny_latency_during_ranges(
                target, 2 * MiB, 8, 50 if quick else 200, tmp
            ),
        }
    result = {
        "throughput_1_client_2GiB": throughput(target, 1, BIG),
        "throughput_8_clients_200MiB": throughput(target, 8, MEDIUM),
        "throughput_32_clients_200MiB": throughput(target, 32, MEDIUM),
    }
    if suite == "bulk":
        return result
    result |= {
        "tiny_idle": tiny_latency(target, 0, 50 if quick else 200),
        "tiny_while_8_stream": tiny_latency(target, 8, 50 if quick else 200),
    }
    result.update(small_ranges(target, quick, tmp))
    result["rss_growth_MiB_32_streams"] = rss_growth(target, 32, 3 if quick else 6, slow=False)
    result["rss_growth_MiB_16_slow_clients"] = rss_growth(target, 16, 3 if quick else 6, slow=True)
    result["fds_left_after_200_aborts"] = fds_after_aborts(target, 200)
    return result


def flatten(result: dict, prefix="") -> dict:
    flat = {}
    for key, value in result.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def summarize(rounds: list[dict]) -> dict:
    """metric -> server -> {median, min, max, ratio_to_files}"""
    summary = {}
    servers = list(rounds[0])
    metrics = flatten(rounds[0][servers[0]])
    for metric in metrics:
        summary[metric] = {}
        for server in servers:
            values = [flatten(r[server])[metric] for r in rounds]
            summary[metric][server] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
        base = summary[metric].get("files", {}).get("median")
        for server in servers:
            median = summary[metric][server]["median"]
            summary[metric][server]["ratio_to_files"] = (median / base) if base else None
    return summary


def write_markdown(summary: dict, facts: dict, rounds: int, path: Path) -> None:
    servers = list(next(iter(summary.values())))
    lines = [
        (
            f"Measured {facts['date']} on {facts['cpu']} ({facts['cores']} cores, {facts['memory_GiB']} GiB), "
            f"{rounds} rounds, servers interleaved, load average (1/5/15 min) {facts['load_at_start']} before "
            f"and {facts['load_at_end']} after. Median (min–max); ×: ratio to Jupyter's `/files/`."
        ),
        "",
        "| metric | " + " | ".join(servers) + " |",
        "|---|" + "---|" * len(servers),
    ]
    for metric, by_server in summary.items():
        cells = []
        for server in servers:
            s = by_server[server]
            ratio = f" ×{s['ratio_to_files']:.2f}" if s["ratio_to_files"] not in (None, 1.0) else ""
            cells.append(f"{s['median']:.3g} ({s['min']:.3g}–{s['max']:.3g}){ratio}")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("throughput_1_client_2GiB.GBps", "whole file, 1 client (GB/s)"),
        ("throughput_8_clients_200MiB.GBps", "whole file, 8 clients (GB/s)"),
        ("throughput_1_client_2GiB.cpu_s_per_GB", "server CPU s per GB"),
        ("tiny_while_8_stream.p99_ms", "tiny request p99 while 8 stream (ms, log)"),
        ("range_2MiB_8_clients.ttfb_p99_ms", "2 MiB range TTFB p99, 8 clients (ms)"),
        ("fds_left_after_200_aborts", "descriptors left after 200 aborts"),
    ]
    servers = list(summary[panels[0][0]])
    colors = {"rangevideo": "#2a7ab9", "files": "#c0504d", "aiohttp": "#8c8c8c", "nginx": "#4f9d4f"}
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for ax, (metric, title) in zip(axes.flat, panels):
        medians = [summary[metric][s]["median"] for s in servers]
        errors = [
            [m - summary[metric][s]["min"] for s, m in zip(servers, medians)],
            [summary[metric][s]["max"] - m for s, m in zip(servers, medians)],
        ]
        ax.bar(servers, medians, yerr=errors, color=[colors.get(s, "#777") for s in servers], capsize=3)
        ax.set_title(title, fontsize=10)
        if "log" in title:
            ax.set_yscale("log")
        for i, m in enumerate(medians):
            ax.annotate(f"{m:.3g}", (i, m), ha="center", va="bottom", fontsize=8)
    fig.suptitle("jupyter-rangevideo vs Jupyter /files/, aiohttp and nginx (median, min–max bars)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests (about 3 minutes)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 2)")
    parser.add_argument(
        "--suite",
        choices=("all", "ranges", "ranges-cold", "bulk"),
        default="all",
        help="ranges: only the small-range requests (wrk and time to first byte) and the tiny request "
        "while 8 clients stream; results go to ranges.json and ranges.md. ranges-cold: the same, "
        "each measurement starting with the 2 GiB file out of the page cache (ranges-cold.*). bulk: "
        "only the whole-file throughput (bulk.*)",
    )
    parser.add_argument(
        "--baseline",
        metavar="GIT_REF",
        action="append",
        default=[],
        help="also measure the package as of GIT_REF (say main), side by side; may be repeated",
    )
    args = parser.parse_args()
    rounds_wanted = args.rounds or (2 if args.quick else 3)
    load_at_start = os.getloadavg()
    # A terminated run still stops the servers it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    make_data()
    RESULTS.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="rangevideo-bench-"))
    targets = []
    try:
        targets.append(start_jupyter("rangevideo", tmp / "runtime", rangevideo=True))
        for number, ref in enumerate(args.baseline):
            source = tmp / f"baseline-{number}"
            source.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(HERE.parent), "archive", ref, "jupyter_rangevideo"],
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
            targets.append(start_jupyter(f"rangevideo@{ref}", tmp / "runtime", True, source))
        targets.append(start_jupyter("files", tmp / "runtime-files", rangevideo=False))
        targets.append(start_aiohttp())
        nginx = start_nginx(tmp)
        if nginx:
            targets.append(nginx)
        else:
            print("nginx is not installed: measuring without it (apt-get install nginx)")
        rounds = []
        for number in range(rounds_wanted):
            results = {}
            order = targets[number % len(targets) :] + targets[: number % len(targets)]
            for target in order:
                print(f"round {number + 1}/{rounds_wanted}: {target.name}", flush=True)
                results[target.name] = measure(target, args.quick, args.suite, tmp)
            rounds.append({t.name: results[t.name] for t in targets})
        summary = summarize(rounds)
        facts = machine_facts(load_at_start)
        stem, markdown = ("results", "summary") if args.suite == "all" else (args.suite, args.suite)
        (RESULTS / f"{stem}.json").write_text(
            json.dumps(
                {"machine": facts, "quick": args.quick, "rounds": rounds, "summary": summary}, indent=1
            )
        )
        write_markdown(summary, facts, rounds_wanted, RESULTS / f"{markdown}.md")
        if args.suite == "all":
            plot(summary, RESULTS / "summary.png")
        print((RESULTS / f"{markdown}.md").read_text())
    finally:
        for target in targets:
            stop_process(target.process, 15)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

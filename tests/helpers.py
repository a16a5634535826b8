"""Small HTTP and process helpers shared by the server tests."""

import asyncio
import os
import time


def open_fds():
    return len(os.listdir("/proc/self/fd"))


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

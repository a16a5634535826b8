"""The file handler in a real in-process jupyter_server, over real HTTP, under a non-root base_url."""

import asyncio
import os
import re
import threading
import time

import pytest
from helpers import evict, open_fds, read_response, wait_for

from jupyter_rangevideo import pagecache, url_for
from jupyter_rangevideo import streaming as handlers  # the range streaming the handlers mix in
from jupyter_rangevideo.ranges import http_date
from jupyter_rangevideo.streaming import RangeFileMixin


def body_of(path, start, stop):
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(stop - start)


RANGE_CASES = [
    # (Range header, expected (start, stop) or None for the whole file)
    ("bytes=0-1", (0, 2)),
    ("bytes=0-0", (0, 1)),
    ("bytes=100-65635", (100, 65636)),  # crosses a chunk boundary
    ("bytes=1000000-", (1000000, 2**20 + 7)),
    ("bytes=-7", (2**20, 2**20 + 7)),
    ("bytes=-99999999", (0, 2**20 + 7)),
    ("bytes=500-99999999999999999999999", (500, 2**20 + 7)),
    ("bytes=0-1,0-5", (0, 6)),  # merged into one range
    ("items=0-5", None),
    ("bytes=garbage", None),
    ("bytes=9-1", None),
]


def _body_mode(mode, monkeypatch):
    """Make bodies leave one way: zero-copy sendfile, reads copied through tornado's
    stream (TLS, platforms without sendfile), or one read written with the headers (small
    answers). Returns the list of spans the mode sent."""
    sent = []
    if mode == "one write":
        monkeypatch.setattr(handlers, "SMALL_BODY", 4 * 2**20)
        original_read = handlers._read_span

        def read_spy(fd, span, nowait):
            data = original_read(fd, span, nowait)
            if data is not None:
                sent.append(span)
            return data

        monkeypatch.setattr(handlers, "_read_span", read_spy)
        return sent
    monkeypatch.setattr(handlers, "SMALL_BODY", -1)
    if mode == "copy":
        monkeypatch.setattr(RangeFileMixin, "_sendfile_socket", lambda self: None)
    name = "_sendfile_span" if mode == "sendfile" else "_copy_span"
    original = getattr(RangeFileMixin, name)

    async def spy(self, *args, **kwargs):
        sent.append(args[-2:])
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(RangeFileMixin, name, spy)
    return sent


@pytest.fixture(params=["sendfile", "copy"])
def send_mode(request, monkeypatch):
    """The two ways a streamed body leaves. Yields the list of spans the mode sent."""
    return _body_mode(request.param, monkeypatch)


@pytest.fixture(params=["sendfile", "copy", "one write"])
def any_mode(request, monkeypatch):
    """Every way a body leaves, small answers' single write included."""
    return _body_mode(request.param, monkeypatch)


@pytest.mark.parametrize("header, span", RANGE_CASES)
async def test_range_matrix_is_byte_exact(fetch, data_file, header, span, any_mode):
    size = data_file.stat().st_size
    r = await fetch(url_for(data_file), headers={"Range": header})
    if span is None:
        assert r.code == 200
        assert r.body == data_file.read_bytes()
        assert "Content-Range" not in r.headers
    else:
        start, stop = span
        assert r.code == 206
        assert r.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
        assert r.body == body_of(data_file, start, stop)
    assert int(r.headers["Content-Length"]) == len(r.body)
    assert r.headers["Content-Type"] == "video/mp4"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert any_mode, "the body was not sent by the mode under test"


@pytest.mark.parametrize("header", ["bytes=2000000-", "bytes=-0", "bytes=1048583-1048600"])
async def test_unsatisfiable_is_416(fetch, data_file, header):
    r = await fetch(url_for(data_file), headers={"Range": header})
    assert r.code == 416
    assert r.headers["Content-Range"] == f"bytes */{data_file.stat().st_size}"
    assert r.body == b""


async def test_multipart_byteranges(fetch, data_file, send_mode):
    r = await fetch(url_for(data_file), headers={"Range": "bytes=0-9,70000-70099,-5"})
    assert r.code == 206
    boundary = re.fullmatch(r"multipart/byteranges; boundary=(\w+)", r.headers["Content-Type"]).group(1)
    assert int(r.headers["Content-Length"]) == len(r.body)
    parts = r.body.split(f"--{boundary}".encode())
    assert parts[0] == b"\r\n" and parts[-1] == b"--\r\n"
    size = data_file.stat().st_size
    expected = [(0, 10), (70000, 70100), (size - 5, size)]
    for part, (start, stop) in zip(parts[1:-1], expected):
        head, _, payload = part.partition(b"\r\n\r\n")
        assert f"Content-Range: bytes {start}-{stop - 1}/{size}".encode() in head
        assert b"Content-Type: video/mp4" in head
        assert payload == body_of(data_file, start, stop) + b"\r\n"
    assert len(parts) == len(expected) + 2
    assert len(send_mode) == len(expected)


async def test_head_has_the_headers_of_get_and_no_body(fetch, data_file):
    url = url_for(data_file)
    for headers in ({}, {"Range": "bytes=5-10"}, {"Range": "bytes=0-1,4-5"}):
        get = await fetch(url, headers=headers)
        head = await fetch(url, method="HEAD", headers=headers)
        assert head.code == get.code
        assert head.body == b""
        for name in ("Content-Length", "Content-Range", "ETag", "Last-Modified", "Accept-Ranges"):
            assert head.headers.get(name) == get.headers.get(name)
        if "boundary" not in get.headers["Content-Type"]:  # each response draws a new boundary
            assert head.headers["Content-Type"] == get.headers["Content-Type"]


async def test_validators_and_conditional_requests(fetch, data_file):
    url = url_for(data_file)
    r = await fetch(url)
    etag, last_modified = r.headers["ETag"], r.headers["Last-Modified"]
    assert re.fullmatch(r'"[0-9a-f-]+"', etag)  # strong
    assert last_modified == http_date(data_file.stat().st_mtime)

    r = await fetch(url, headers={"If-None-Match": etag})
    assert (r.code, r.body, r.headers["ETag"]) == (304, b"", etag)
    assert "Content-Length" not in r.headers
    r = await fetch(url, headers={"If-Modified-Since": last_modified})
    assert r.code == 304

    # If-Range with the current tag honours the range; a stale tag gets the whole file.
    r = await fetch(url, headers={"Range": "bytes=0-1", "If-Range": etag})
    assert (r.code, r.body) == (206, data_file.read_bytes()[:2])
    r = await fetch(url, headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    assert (r.code, r.body) == (200, data_file.read_bytes())

    # Changing the file changes the validator.
    os.utime(data_file, ns=(time.time_ns(), data_file.stat().st_mtime_ns + 5_000_000_000))
    r = await fetch(url, headers={"If-None-Match": etag})
    assert r.code == 200
    assert r.headers["ETag"] != etag


async def test_media_elements_are_asked_not_to_store_what_they_read(fetch, data_file):
    # A browser's HTTP cache keeps a media element's partial answers and, with no-cache,
    # revalidates each cached piece on a later seek: a 304 round trip before the bytes it lacks.
    url = url_for(data_file)
    for dest in ("video", "audio"):
        r = await fetch(url, headers={"Range": "bytes=0-", "Sec-Fetch-Dest": dest})
        assert r.code == 206
        assert r.headers["Cache-Control"] == "no-store"
        assert "ETag" in r.headers and "Last-Modified" in r.headers  # If-Range still works
    for headers in ({"Range": "bytes=0-"}, {"Sec-Fetch-Dest": "empty"}, {"Sec-Fetch-Dest": "document"}):
        r = await fetch(url, headers=headers)
        assert r.headers["Cache-Control"] == "private, no-cache", headers


async def test_media_is_never_content_encoded(fetch, tmp_path):
    captions = tmp_path / "subs.vtt"
    captions.write_text("WEBVTT\n\n" + "00:00.000 --> 00:01.000\nhello\n\n" * 500)
    r = await fetch(url_for(captions), headers={"Accept-Encoding": "gzip"}, decompress_response=False)
    assert r.code == 200
    assert "Content-Encoding" not in r.headers
    assert r.body == captions.read_bytes()
    assert r.headers["Content-Type"] == "text/vtt"


async def test_empty_file(fetch, tmp_path):
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    r = await fetch(url_for(empty))
    assert (r.code, r.body, r.headers["Content-Length"]) == (200, b"", "0")
    r = await fetch(url_for(empty), headers={"Range": "bytes=0-"})
    assert r.code == 416


async def test_file_names_never_break_headers(fetch, tmp_path):
    odd = tmp_path / 'we"ird\r\nX-Injected: 1 ñ 名.mp4'
    odd.write_bytes(b"0123456789")
    r = await fetch(url_for(odd))
    assert r.code == 200 and r.body == b"0123456789"
    assert "X-Injected" not in r.headers
    disposition = r.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.endswith("filename*=UTF-8''we%22ird%0D%0AX-Injected%3A%201%20%C3%B1%20%E5%90%8D.mp4")


async def test_hidden_folders_and_symlinked_datasets(fetch, tmp_path, data_file):
    hidden = tmp_path / ".cache" / "run.mp4"
    hidden.parent.mkdir()
    hidden.write_bytes(b"hidden bytes")
    link = tmp_path / "latest.mp4"
    link.symlink_to(data_file)
    assert (await fetch(url_for(hidden))).body == b"hidden bytes"
    r = await fetch(url_for(link), headers={"Range": "bytes=0-3"})
    assert r.body == data_file.read_bytes()[:4]


# -- raw sockets: keep-alive framing, disconnects, truncation, load ---------------------------


async def test_keep_alive_framing_is_exact(raw, data_file, any_mode):
    reader, writer = await raw()
    url = url_for(data_file)
    data = data_file.read_bytes()
    try:
        for method, headers, expected in [
            ("GET", ["Range: bytes=10-19"], data[10:20]),
            ("HEAD", [], b""),
            ("GET", ["Range: bytes=0-1,5-6"], None),
            ("GET", ["Range: bytes=99999999-"], b""),
            ("GET", [], data),
            ("GET", ["Range: bytes=-3"], data[-3:]),
        ]:
            writer.write(raw.request(url, method, headers))
            if method == "HEAD":
                head = await reader.readuntil(b"\r\n\r\n")
                assert f"Content-Length: {len(data)}".encode() in head
                continue
            status, _headers, body = await read_response(reader)
            if expected is not None:
                assert body == expected, (method, headers, status)
    finally:
        writer.close()


async def test_header_names_in_any_case_and_repeated_headers_count(raw, data_file):
    # HTTP header names are case-insensitive, and a repeated header is one comma-separated list.
    reader, writer = await raw()
    url = url_for(data_file)
    data = data_file.read_bytes()
    try:
        writer.write(raw.request(url, headers=["range: bytes=10-19"]))
        status, headers, body = await read_response(reader)
        assert (status, body) == (206, data[10:20])
        etag = headers["etag"]
        for conditional in (
            [f"IF-NONE-MATCH: {etag}"],
            ['If-None-Match: "other"', f"If-None-Match: {etag}"],
            [f"if-range: {etag}", "RANGE: bytes=0-1", "Sec-Fetch-Dest: video"],
        ):
            writer.write(raw.request(url, headers=conditional))
            status, headers, body = await read_response(reader)
            assert (status, body) in ((304, b""), (206, data[:2])), conditional
    finally:
        writer.close()


async def test_disconnect_mid_stream_closes_the_file(raw, big_file, send_mode):
    url = url_for(big_file)
    # Warm up: the first request opens lazily created sockets and threads.
    reader, writer = await raw()
    writer.write(raw.request(url, headers=["Range: bytes=0-1"]))
    await read_response(reader)
    writer.close()
    await asyncio.sleep(0.2)
    before = open_fds()

    for start in (0, 5 * 2**20, 17 * 2**20):
        reader, writer = await raw()
        writer.write(raw.request(url, headers=[f"Range: bytes={start}-"]))
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(100_000)
        writer.transport.abort()
    # Every descriptor returns: the server's socket and the file it was reading.
    assert await wait_for(lambda: open_fds() <= before), (open_fds(), before)


async def test_file_truncated_during_a_response_ends_it_cleanly(raw, fetch, big_file, send_mode):
    url = url_for(big_file)
    etag = (await fetch(url, method="HEAD")).headers["ETag"]
    reader, writer = await raw()
    writer.write(raw.request(url))
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"Content-Length: 33554432" in head
    got = len(await reader.readexactly(2**20))
    os.truncate(big_file, 4 * 2**20)
    while chunk := await asyncio.wait_for(reader.read(2**20), 10):
        got += len(chunk)
    writer.close()
    # The connection was closed short of Content-Length rather than padded or hung.
    assert 2**20 <= got < 32 * 2**20
    r = await fetch(url)
    assert r.code == 200 and len(r.body) == 4 * 2**20
    assert r.headers["ETag"] != etag


async def test_a_small_request_is_served_while_eight_streams_run(raw, fetch, tmp_path):
    """Relative, not wall-clock: the tiny request returns before any stream has finished."""
    sparse = tmp_path / "sparse.mp4"
    sparse.write_bytes(b"")
    os.truncate(sparse, 256 * 2**20)
    url = url_for(sparse)
    finished = []

    async def stream():
        reader, writer = await raw()
        writer.write(raw.request(url))
        await reader.readuntil(b"\r\n\r\n")
        received = 0
        while received < 256 * 2**20 and (chunk := await reader.read(2**20)):
            received += len(chunk)
        writer.close()
        finished.append(received)

    streams = [asyncio.ensure_future(stream()) for _ in range(8)]
    await asyncio.sleep(0.3)  # let all eight start
    r = await fetch("api/status")
    assert r.code == 200
    still_running = 8 - len(finished)
    await asyncio.wait_for(asyncio.gather(*streams), 120)
    assert finished == [256 * 2**20] * 8
    assert still_running == 8, f"the small request waited for {8 - still_running} whole streams"


async def test_sendfile_runs_on_the_event_loop_only_for_short_cached_spans(fetch, big_file, monkeypatch):
    """A short span in the page cache is sent from the event loop (no thread hop); one that would
    be read from the disk is sent from the read pool, so the loop never waits on the disk, and so
    is a long one, so that streams do not keep the loop from other requests."""
    if not pagecache.available():
        pytest.skip("cachestat(2) needs Linux 6.5: every sendfile runs in the pool")
    loop_thread = threading.get_ident()
    threads = []
    real_sendfile = os.sendfile

    counts = []

    def sendfile_spy(out_fd, in_fd, offset, count):
        threads.append("loop" if threading.get_ident() == loop_thread else "pool")
        counts.append(count)
        return real_sendfile(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", sendfile_spy)
    url = url_for(big_file)
    evict(big_file)
    short = (4 * 2**20, 4 * 2**20 + handlers.LOOP_SENDFILE_SPAN)
    headers = {"Range": f"bytes={short[0]}-{short[1] - 1}"}
    r = await fetch(url, headers=headers)
    assert r.code == 206 and r.body == body_of(big_file, *short)
    # Read-ahead may bring the last few pages in before they are sent: only those may go from the loop.
    assert threads and threads[0] == "pool", threads
    threads.clear()
    counts.clear()
    r = await fetch(url, headers=headers)  # now in the page cache: read by the first answer
    assert r.code == 206 and r.body == body_of(big_file, *short)
    assert threads and set(threads) == {"loop"}, threads
    # In calls of a bounded size, so that other requests are answered in between.
    assert len(counts) >= handlers.LOOP_SENDFILE_SPAN // handlers.LOOP_SENDFILE_COUNT, counts
    assert max(counts) <= handlers.LOOP_SENDFILE_COUNT, counts
    threads.clear()
    r = await fetch(url, headers={"Range": f"bytes={short[0]}-{short[1]}"})  # one byte longer
    assert r.code == 206 and r.body == body_of(big_file, short[0], short[1] + 1)
    assert threads and set(threads) == {"pool"}, threads

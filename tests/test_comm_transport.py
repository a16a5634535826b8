"""The comm transport's kernel side: the request and chunk framing (pure), and a player's
requests answered by the kernel server's real segment service, compared byte for byte with
what its HTTP routes serve. The comm itself is the boundary: messages are collected as a
widget's `send` would put them on the wire."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from helpers import decode, hls_url, http_get, segment_names

from jupyter_rangevideo import comm_transport as ct
from jupyter_rangevideo.kernel_server import KernelServer
from jupyter_rangevideo.probe import probe
from jupyter_rangevideo.sample import write_sample

pytestmark = pytest.mark.usefixtures("runtime_dir")
VENDOR = Path(ct.STATIC_DIR) / "vendor"


# --- framing (pure) -----------------------------------------------------------------


def test_chunk_spans_cover_every_byte_once():
    assert list(ct.chunk_spans(0, 4)) == [(0, 0)]
    assert list(ct.chunk_spans(4, 4)) == [(0, 4)]
    assert list(ct.chunk_spans(10, 4)) == [(0, 4), (4, 4), (8, 2)]
    spans = list(ct.chunk_spans(5 * ct.CHUNK_BYTES + 1))
    assert len(spans) == 6 and spans[-1] == (5 * ct.CHUNK_BYTES, 1)
    assert sum(length for _, length in spans) == 5 * ct.CHUNK_BYTES + 1
    with pytest.raises(ValueError):
        list(ct.chunk_spans(-1))
    with pytest.raises(ValueError):
        list(ct.chunk_spans(10, 0))


def test_chunk_header_marks_the_last_chunk():
    headers = [ct.chunk_header("a:1", o, 10, n) for o, n in ct.chunk_spans(10, 4)]
    assert [h["last"] for h in headers] == [False, False, True]
    assert headers[0] == {"rangevideo": "chunk", "id": "a:1", "offset": 0, "size": 10, "last": False}
    assert ct.chunk_header("a:1", 0, 0, 0)["last"] is True


def test_requests_are_parsed_and_bad_ones_refused_in_words():
    get = {"rangevideo": "get", "id": "v:1"}
    assert ct.parse_request({**get, "what": "playlist", "at": 3}) == ct.Request("v:1", "playlist", at=3.0)
    assert ct.parse_request({**get, "what": "segment", "index": 4, "delivery": "proxy"}) == ct.Request(
        "v:1", "segment", "proxy", 4
    )
    # ?at= over HTTP is a hint: a bad one is ignored, not an error.
    assert ct.parse_request({**get, "what": "playlist", "at": "soon"}).at is None
    assert (
        ct.parse_request({**get, "what": "static", "name": "hls.light.min.mjs"}).name == "hls.light.min.mjs"
    )
    bad = [
        ({**get, "id": 7, "what": "playlist"}, "id"),
        ({**get, "id": "x" * 65, "what": "playlist"}, "id"),
        ({**get, "what": "file"}, "what"),
        ({**get, "what": "segment", "index": -1}, "index"),
        ({**get, "what": "segment", "index": True}, "index"),
        ({**get, "what": "segment", "delivery": "transcode"}, "delivery"),
        ({**get, "what": "static", "name": "../signing.py"}, "static"),
    ]
    for content, word in bad:
        with pytest.raises(ct.BadRequest, match=word):
            ct.parse_request(content)
    assert ct.is_transport_message(get) and ct.is_transport_message({"rangevideo": "cancel", "id": "v:1"})
    assert not ct.is_transport_message({"method": "other"}) and not ct.is_transport_message([1])


def test_a_direct_file_travels_as_its_remux_or_else_its_transcode(tmp_path):
    h264 = probe(write_sample(tmp_path / "a.mp4", 1, 25, (64, 48)))
    vp9 = probe(write_sample(tmp_path / "b.webm", 1, 25, (64, 48)))
    assert ct.stream_delivery("direct", h264) == "remux"
    assert ct.stream_delivery("direct", vp9) == "transcode"
    assert ct.stream_delivery("transcode", h264) == "transcode"


# --- a player's requests, served by the kernel server's segment service ---------------


class Wire:
    """What a widget's send() puts on the comm, collected; answers reassembled by request id."""

    def __init__(self):
        self.messages: list[tuple[dict, list[bytes]]] = []
        self.changed = threading.Condition()

    def send(self, content, buffers):
        with self.changed:
            self.messages.append((content, [bytes(b) for b in buffers]))
            self.changed.notify_all()

    def answer(self, request_id, timeout=60.0):
        """(status, bytes, chunk count) once the request is answered in full or refused."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                mine = [(c, b) for c, b in self.messages if c["id"] == request_id]
                if mine and mine[-1][0]["rangevideo"] == "error":
                    return mine[-1][0]["status"], mine[-1][0]["message"].encode(), len(mine)
                if mine and mine[-1][0]["last"]:
                    body = bytearray(mine[0][0]["size"])
                    for content, (chunk,) in mine:
                        body[content["offset"] : content["offset"] + len(chunk)] = chunk
                    return 200, bytes(body), len(mine)
                left = deadline - time.monotonic()
                assert left > 0, f"no answer to {request_id}: {self.messages[-3:]}"
                self.changed.wait(left)


@pytest.fixture
def kernel(tmp_path, runtime_dir):
    server = KernelServer(cache_dir=str(tmp_path / "segment-cache")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("comm-videos")
    return {
        "mp4": write_sample(folder / "clip.mp4", 8, 25, (320, 240), noise=True),
        "avi": write_sample(folder / "clip.avi", 4, 25, (160, 120), codec="mjpeg"),
    }


def transport(kernel, video, delivery="direct", chunk=ct.CHUNK_BYTES):
    wire = Wire()
    return ct.CommTransport(wire.send, probe(video), delivery, kernel, chunk), wire


def get(what, request_id, **fields):
    return {"rangevideo": "get", "id": request_id, "what": what, **fields}


def test_playlist_and_segments_are_the_http_routes_bytes(kernel, videos):
    comm, wire = transport(kernel, videos["mp4"])
    assert comm.delivery == "remux"  # an MP4 played directly over HTTP travels as its remux
    comm.handle(get("playlist", "v:1", at=0))
    status, playlist, _ = wire.answer("v:1")
    over_http = http_get(kernel.base_url + hls_url(videos["mp4"], "remux"))
    assert (status, playlist) == (200, over_http[2])
    names = segment_names(playlist.decode())
    assert len(names) >= 2
    comm.handle(get("segment", "v:2", index=1))
    status, segment, chunks = wire.answer("v:2")
    assert status == 200
    assert segment == http_get(kernel.base_url + hls_url(videos["mp4"], "remux", names[1]))[2]
    assert chunks == -(-len(segment) // ct.CHUNK_BYTES)
    assert all(len(b[0]) <= ct.CHUNK_BYTES for c, b in wire.messages if c["id"] == "v:2")


def test_a_large_answer_comes_in_many_chunks_that_reassemble(kernel, videos, tmp_path):
    comm, wire = transport(kernel, videos["avi"], "transcode", chunk=4096)
    comm.handle(get("segment", "t:1", index=0))
    status, segment, chunks = wire.answer("t:1")
    assert status == 200 and chunks > 3
    frames, _ = decode(segment, tmp_path)
    assert [index for _, index in frames][:3] == [0, 1, 2]  # the pattern's own frame numbers
    comm.handle(get("static", "t:2", name="hls.light.min.mjs"))
    status, module, _ = wire.answer("t:2")
    assert module == (VENDOR / "hls.light.min.mjs").read_bytes()


def test_the_seek_proxy_comes_as_over_http_and_is_warmed_from_where_the_player_looks(kernel, tmp_path):
    far = write_sample(tmp_path / "far.mp4", 6, 25, (160, 120), gop=250)
    comm, wire = transport(kernel, far)
    comm.handle(get("playlist", "p:1", delivery="proxy", at=5.0))
    status, playlist, _ = wire.answer("p:1")
    names = segment_names(playlist.decode())
    assert status == 200 and len(names) >= 2
    # The warm-up starts where playback will start (the last segment), as ?at= does over HTTP.
    deadline = time.monotonic() + 60
    while not (started := kernel.submit(_proxy_started(kernel.segments)).result(10)):
        assert time.monotonic() < deadline, "the proxy's warm-up never started"
        time.sleep(0.05)
    assert started[0] == len(names) - 1
    assert playlist == http_get(kernel.base_url + hls_url(far, "proxy"))[2]
    comm.handle(get("segment", "p:2", delivery="proxy", index=0))
    status, segment, _ = wire.answer("p:2")
    assert (status, segment) == (200, http_get(kernel.base_url + hls_url(far, "proxy", names[0]))[2])
    assert comm.stats["proxy"] == 2 and comm.stats["segment"] == 1
    # No video, no proxy: plain words, as the HTTP route's 404.
    sound = write_sample(tmp_path / "a.m4a", 2, 25, (160, 120), codec="none", audio="aac")
    comm, wire = transport(kernel, sound)
    comm.handle(get("playlist", "p:3", delivery="proxy"))
    assert wire.answer("p:3")[0] == 404


async def _proxy_started(service) -> list[int]:
    """The proxy segments the service has started making, in order (read on its own loop)."""
    return [
        index for event, _, delivery, index in service.history if event == "started" and delivery == "proxy"
    ]


def test_bad_requests_get_plain_words_not_silence(kernel, videos):
    comm, wire = transport(kernel, videos["mp4"])
    comm.handle(get("segment", "b:1", index=10_000))
    status, message, _ = wire.answer("b:1")
    assert status == 404 and b"past the end" in message
    comm.handle(get("static", "b:2", name="player.js"))
    status, message, _ = wire.answer("b:2")
    assert status == 400 and b"no static file" in message
    comm.handle(get("proxy", "b:3"))
    assert wire.answer("b:3")[0] == 400


def test_requests_are_bounded_and_cancelled(kernel, videos):
    # A long file transcoded: its segments take a while to make.
    comm, wire = transport(kernel, videos["avi"], "transcode")
    gate = threading.Event()  # holds the segment service's loop thread: nothing finishes meanwhile
    kernel.submit(_hold(gate))
    try:
        for n in range(ct.QUEUE_MAX):
            comm.handle(get("segment", f"q:{n}", index=n % 4))
        assert comm.pending == ct.QUEUE_MAX
        comm.handle(get("segment", "q:over", index=0))
        assert wire.answer("q:over")[0] == 503  # refused at once: the queue is full
        for n in range(ct.QUEUE_MAX):
            comm.handle({"rangevideo": "cancel", "id": f"q:{n}"})
        assert comm.pending == 0
    finally:
        gate.set()
    time.sleep(0.5)
    # Nothing cancelled was answered.
    assert not [c for c, _ in wire.messages if c["id"].startswith("q:") and c["id"] != "q:over"]
    comm.handle(get("segment", "q:after", index=0))
    assert wire.answer("q:after")[0] == 200
    comm.close()


async def _hold(gate: threading.Event) -> None:
    gate.wait(30)

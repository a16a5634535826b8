"""The in-kernel fallback range server: same semantics, its own token, loopback only."""

import threading
import urllib.error
import urllib.request

import pytest
from helpers import http_get

from jupyter_rangevideo import url_for
from jupyter_rangevideo.kernel_server import KernelServer

pytestmark = pytest.mark.usefixtures("runtime_dir")


@pytest.fixture
def server():
    server = KernelServer(chunk_size=64 * 1024).start()
    yield server
    server.stop()


def test_serves_ranges_exactly(server, tmp_path):
    video = tmp_path / "v.mp4"
    data = bytes(range(256)) * 4096
    video.write_bytes(data)
    url = server.base_url + url_for(video)
    assert url.startswith(f"http://127.0.0.1:{server.port}/")
    status, headers, body = http_get(url, {"Range": "bytes=1000-70999"})
    assert (status, body) == (206, data[1000:71000])
    assert headers["Content-Range"] == f"bytes 1000-70999/{len(data)}"
    assert "Access-Control-Allow-Origin" not in headers
    status, headers, body = http_get(url, {"Range": "bytes=-0"})
    assert status == 416
    status, _, body = http_get(url, method="HEAD")
    assert (status, body) == (200, b"")


def test_wrong_token_or_signature_gets_nothing(server, tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"PRIVATE-BYTES")
    good = server.base_url + url_for(video)
    wrong_token = good.replace(server.token, "0" * 32)
    wrong_signature = good.replace(url_for(video).split("/")[2], "f" * 32)
    for url in (wrong_token, wrong_signature, good.replace("v.mp4", "w.mp4")):
        status, _, body = http_get(url)
        assert status == 404 and b"PRIVATE" not in body


def test_listens_on_loopback_only_and_stops(tmp_path):
    server = KernelServer().start()
    host, port = next(iter(server._server._sockets.values())).getsockname()[:2]
    assert host == "127.0.0.1"
    server.stop()
    assert not any(t.name == "rangevideo-kernel-server" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)

import asyncio

import pytest
from helpers import request_bytes, server_config


def pytest_collection_modifyitems(items):
    """Browser tests run last: while Playwright's sync API is open it marks its event loop as
    running in the main thread, which the in-process servers of the other tests cannot share."""
    items.sort(key=lambda item: "browser" in item.path.parent.parts[-1:])


pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config():
    # Small chunks so that even test files span many reads.
    return server_config(chunk_size=64 * 1024)


@pytest.fixture
def service(jp_serverapp):
    """The server's segment service: remux, transcode and proxy jobs."""
    return jp_serverapp.web_app.settings["rangevideo_segments"]


@pytest.fixture(scope="session")
def s3():
    """moto's S3 API on 127.0.0.1 with a bucket "videos" (remote_stores.py)."""
    from remote_stores import MotoS3

    server = MotoS3().start()
    try:
        client = server.client()
        client.create_bucket(Bucket="videos")
        yield server
    finally:
        server.stop()


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    """A runtime dir of the test's own, where url_for() and the servers keep the signing secret."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))


@pytest.fixture
def data_file(tmp_path):
    """A deterministic 1 MiB + 7 bytes file outside the server's root, named like a video."""
    path = tmp_path / "outside" / "clip.mp4"
    path.parent.mkdir()
    path.write_bytes(bytes(i * 7 % 251 for i in range(2**20 + 7)))
    return path


@pytest.fixture
def big_file(tmp_path):
    """32 MiB whose every mebibyte holds its own index."""
    path = tmp_path / "big.mp4"
    with open(path, "wb") as f:
        f.writelines(bytes([i]) * 2**20 for i in range(32))
    return path


@pytest.fixture
def fetch(jp_serverapp, http_server_client, jp_auth_header, jp_base_url):
    """Fetch a URL path (already percent-encoded) under the base_url; never raises on 4xx."""

    async def _fetch(path, method="GET", headers=None, auth=True, **kwargs):
        all_headers = dict(jp_auth_header) if auth else {}
        all_headers.update(headers or {})
        return await http_server_client.fetch(
            jp_base_url + path,
            method=method,
            headers=all_headers,
            follow_redirects=False,
            raise_error=False,
            **kwargs,
        )

    return _fetch


@pytest.fixture
def raw(http_server_client, jp_base_url, jp_auth_header):
    """Open a raw connection; ``raw.request(path, ...)`` builds authenticated request bytes."""
    port = http_server_client.get_http_port()
    auth = [f"{k}: {v}" for k, v in jp_auth_header.items()]

    async def connect():
        return await asyncio.open_connection("127.0.0.1", port)

    def request(path, method="GET", headers=()):
        return request_bytes(jp_base_url + path, method, [*auth, *headers])

    connect.request = request
    return connect

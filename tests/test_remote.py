"""Remote sources through a real Jupyter server: moto's S3 API and HTTP servers on 127.0.0.1.

Range requests through the extension return the store's exact bytes; a seek fetches a block
or two, not the object; credentials stay in the kernel and the server; every failure of the
store becomes a clear exception at show() or a plain HTTP status, after bounded retries.
"""

import asyncio
import json
import os
import random
import stat
import time

import pytest
from helpers import server_config
from remote_stores import MotoS3, RangeServer, synthetic

from jupyter_rangevideo import probe, remote, url_for
from jupyter_rangevideo.remote import RangeNotSupported, RemoteError
from jupyter_rangevideo.remote_registry import registry_dir, resolve_source
from jupyter_rangevideo.sample import write_sample

DATA_SIZE = 5 * 2**20 + 123  # blocks of 2 MiB: two whole, one partial
GIB = 2**30


@pytest.fixture(scope="session")
def http():
    server = RangeServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    return write_sample(
        tmp_path_factory.mktemp("remote-clip") / "clip.mp4", duration=4, fps=25, size=(320, 240)
    )


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(chunk_size=64 * 1024, remote_cache_dir=str(tmp_path / "blocks"))


@pytest.fixture
def fresh(monkeypatch, jp_serverapp):
    """Stats are asked of the store on every request (a change is seen at once), and failures
    are retried after short pauses."""
    monkeypatch.setattr(remote, "STAT_SECONDS", 0.0)
    monkeypatch.setattr(remote, "BACKOFF_SECONDS", 0.01)


def data_bytes():
    return bytes(random.Random(7).getrandbits(8) for _ in range(DATA_SIZE))


@pytest.fixture(scope="session")
def s3_data(s3):
    data = data_bytes()
    s3.client().put_object(Bucket="videos", Key="data/blob.mp4", Body=data)
    return data


def shared_url(url, options=None):
    return url_for(resolve_source(url, options))


SPANS = [
    "bytes=0-0",
    "bytes=0-99",
    f"bytes={2**21 - 10}-{2**21 + 9}",  # across a block edge
    f"bytes={2**21}-{2**22 - 1}",  # exactly one block
    "bytes=100-",
    "bytes=-5",
    f"bytes={DATA_SIZE - 1}-{DATA_SIZE + 100}",
]


@pytest.mark.parametrize("header", SPANS)
async def test_s3_ranges_through_the_extension_are_byte_exact(fetch, fresh, s3, s3_data, header):
    url = shared_url("s3://videos/data/blob.mp4", s3.options())
    r = await fetch(url, headers={"Range": header})
    assert r.code == 206
    first, last = r.headers["Content-Range"].removeprefix("bytes ").split("/")[0].split("-")
    assert r.body == s3_data[int(first) : int(last) + 1]
    assert r.headers["Content-Type"] == "video/mp4"


async def test_s3_whole_multipart_head_and_if_range(fetch, fresh, s3, s3_data):
    url = shared_url("s3://videos/data/blob.mp4", s3.options())
    whole = await fetch(url)
    assert whole.code == 200 and whole.body == s3_data
    head = await fetch(url, method="HEAD")
    assert head.code == 200 and not head.body
    assert head.headers["Content-Length"] == str(DATA_SIZE) and head.headers["ETag"] == whole.headers["ETag"]
    multi = await fetch(url, headers={"Range": "bytes=0-9,3000000-3000009"})
    assert multi.code == 206 and s3_data[3000000:3000010] in multi.body
    same = await fetch(url, headers={"Range": "bytes=5-9", "If-Range": whole.headers["ETag"]})
    assert same.code == 206 and same.body == s3_data[5:10]
    other = await fetch(url, headers={"Range": "bytes=5-9", "If-Range": '"another"'})
    assert other.code == 200


async def test_credentials_never_reach_the_page(fetch, fresh, s3, s3_data):
    url = shared_url("s3://videos/data/blob.mp4", s3.options())
    assert MotoS3.SECRET not in url and MotoS3.KEY not in url and "videos" not in url
    assert url.startswith("rangevideo/files/") and "/~remote/" in url
    records = list(registry_dir().iterdir())
    assert records and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in records)
    assert stat.S_IMODE(registry_dir().stat().st_mode) == 0o700
    assert any(
        json.loads(p.read_text()).get("storage_options", {}).get("secret") == MotoS3.SECRET for p in records
    )
    # A URL naming the object with another signature reaches nothing.
    forged = url.replace(url.split("/")[2], "0" * 32)
    assert (await fetch(forged)).code == 404


async def test_eight_random_seeks_in_a_gib_fetch_under_five_percent(fetch, fresh, http):
    http.add("big.mp4", size=GIB)
    url = shared_url(http.url("big.mp4"))
    before = http.counts.sent["big.mp4"]
    chooser = random.Random(25)
    for _ in range(8):
        start = chooser.randrange(0, GIB - 2**20)
        r = await fetch(url, headers={"Range": f"bytes={start}-{start + 2**20 - 1}"})
        assert r.code == 206 and r.body == synthetic(start, start + 2**20)
    fetched = http.counts.sent["big.mp4"] - before
    print(f"8 seeks of 1 MiB in 1 GiB fetched {fetched / 2**20:.1f} MiB ({100 * fetched / GIB:.2f} %)")
    assert fetched <= 0.05 * GIB


async def test_open_ended_seeks_fetch_a_bounded_read_ahead(raw, fresh, http):
    """A media element asks for bytes=N- and stops reading when it seeks elsewhere."""
    http.add("open.mp4", size=GIB)
    url = shared_url(http.url("open.mp4"))
    before = http.counts.sent["open.mp4"]
    chooser = random.Random(4)
    for _ in range(8):
        start = chooser.randrange(0, GIB - 2**22)
        reader, writer = await raw()
        writer.write(raw.request(url, headers=[f"Range: bytes={start}-"]))
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(2**20)
        assert body == synthetic(start, start + 2**20)
        writer.close()
        await writer.wait_closed()
    await asyncio.sleep(0.5)  # reads under way when the clients left end
    fetched = http.counts.sent["open.mp4"] - before
    print(f"8 open-ended seeks in 1 GiB fetched {fetched / 2**20:.1f} MiB ({100 * fetched / GIB:.2f} %)")
    assert fetched <= 0.05 * GIB


async def test_a_changed_object_is_never_served_stale(fetch, fresh, http):
    http.add("changing.mp4", data=b"a" * 3_000_000, etag='"one"')
    url = shared_url(http.url("changing.mp4"))
    first = await fetch(url, headers={"Range": "bytes=0-9"})
    assert first.body == b"a" * 10
    http.add("changing.mp4", data=b"b" * 3_000_000, etag='"two"')
    second = await fetch(url, headers={"Range": "bytes=0-9"})
    assert second.body == b"b" * 10
    assert second.headers["ETag"] != first.headers["ETag"]
    # The old version's validator no longer matches: the whole new version is sent.
    third = await fetch(url, headers={"Range": "bytes=0-9", "If-Range": first.headers["ETag"]})
    assert third.code == 200


def test_probe_reads_the_header_and_index_only(http, jp_environ, tmp_path, clip):
    from jupyter_rangevideo.sample import make_large

    large = make_large(clip, tmp_path / "large.mp4", 48 * 2**20)
    http.add("large.mp4", data=large.read_bytes())
    before = http.counts.sent["large.mp4"]
    facts = probe(http.url("large.mp4"))
    local = probe(large)
    assert facts.clock == local.clock and facts.duration == local.duration
    fetched = http.counts.sent["large.mp4"] - before
    assert 0 < facts.read_bytes < 0.25 * facts.size, facts.read_bytes
    assert fetched < 0.25 * facts.size, fetched


@pytest.mark.parametrize("suffix", [".mkv", ".avi", ".webm"])
def test_remote_matroska_and_avi_probe_as_local_files_do(s3, jp_environ, tmp_path, suffix):
    """The check for a cut-off file reads the remote reader's header first: PyAV then reads it
    from its start again (it used to start where the check stopped: "Invalid data")."""
    video = write_sample(tmp_path / f"clip{suffix}", duration=1, size=(160, 120))
    s3.client().upload_file(str(video), "videos", f"formats/clip{suffix}")
    remote_facts, local = probe(f"s3://videos/formats/clip{suffix}", s3.options()), probe(video)
    assert (remote_facts.container, remote_facts.clock) == (local.container, local.clock)


async def test_remote_video_remuxes_into_segments(fetch, fresh, s3, clip):
    s3.client().upload_file(str(clip), "videos", "clips/clip.mp4")
    url = shared_url("s3://videos/clips/clip.mp4", s3.options())
    hls = url.replace("rangevideo/files/", "rangevideo/hls/remux/")
    playlist = await fetch(f"{hls}/index.m3u8")
    assert playlist.code == 200, playlist.body
    assert b"seg-00000.ts" in playlist.body
    segment = await fetch(f"{hls}/seg-00000.ts")
    assert segment.code == 200 and segment.body[:1] == b"\x47"  # MPEG-TS sync byte


# --- what goes wrong, and what the user sees ----------------------------------------------


def test_missing_object_and_bucket_fail_at_show_time(s3, jp_environ):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        probe("s3://videos/no-such-key.mp4", storage_options=s3.options())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        probe("s3://no-such-bucket/run42.mp4", storage_options=s3.options())


def test_refused_access_fails_at_show_time(http, jp_environ):
    http.add("private.mp4", data=b"x" * 1000)
    with pytest.raises(PermissionError, match="refused"):
        probe(http.url("private.mp4", mode="status-403"))
    with pytest.raises(FileNotFoundError):
        probe(http.url("missing.mp4"))


def test_a_server_that_ignores_ranges_is_named_at_show_time(http, jp_environ):
    http.add("whole.mp4", size=64 * 2**20)
    before = http.counts.sent["whole.mp4"]
    with pytest.raises(RangeNotSupported, match="ignores HTTP Range"):
        probe(http.url("whole.mp4", mode="norange"))
    # It said so without downloading the file.
    assert http.counts.sent["whole.mp4"] - before < 8 * 2**20


def test_a_stalled_server_times_out_after_bounded_attempts(http, jp_environ, monkeypatch):
    monkeypatch.setattr(remote, "READ_TIMEOUT", 1)
    monkeypatch.setattr(remote, "BACKOFF_SECONDS", 0.01)
    http.add("stall.mp4", size=10 * 2**20)
    with pytest.raises(RemoteError, match="after 3 attempts"):
        probe(http.url("stall.mp4", mode="stall"))
    assert http.counts.requests[("stall", "stall.mp4")] <= 2 * remote.ATTEMPTS


def test_transient_failures_are_retried(http, jp_environ, monkeypatch):
    monkeypatch.setattr(remote, "BACKOFF_SECONDS", 0.01)
    http.add("flaky.mp4", data=synthetic(0, 3 * 2**20))
    source = resolve_source(http.url("flaky.mp4", mode="flaky-2"))
    from jupyter_rangevideo.remote_registry import resolve

    assert resolve(source).read(2**21 - 5, 10) == synthetic(2**21 - 5, 2**21 + 5)


def test_a_5xx_storm_and_resets_end_in_a_clear_error(http, jp_environ, monkeypatch):
    monkeypatch.setattr(remote, "BACKOFF_SECONDS", 0.01)
    http.add("broken.mp4", data=synthetic(0, 3 * 2**20))
    with pytest.raises(RemoteError, match="after 3 attempts"):
        probe(http.url("broken.mp4", mode="status-503"))
    # fsspec asks HEAD then GET for an HTTP object's size: two requests an attempt, no more.
    assert http.counts.requests[("status-503", "broken.mp4")] <= 2 * remote.ATTEMPTS
    with pytest.raises(RemoteError, match="after 3 attempts"):
        probe(http.url("broken.mp4", mode="reset"))


async def test_failures_after_show_are_plain_statuses(fetch, fresh, http):
    http.add("expires.mp4", data=synthetic(0, 3 * 2**20))
    url = shared_url(http.url("expires.mp4"))
    assert (await fetch(url, headers={"Range": "bytes=0-9"})).code == 206
    # The credentials expire, the object goes: 403, then 404, from the extension.
    http.add("expires.mp4", data=b"")
    del http.objects["expires.mp4"]
    assert (await fetch(url, headers={"Range": "bytes=0-9"})).code == 404
    url403 = shared_url(http.url("expires.mp4", mode="status-403"))
    http.add("expires.mp4", data=b"x" * 10)
    assert (await fetch(url403, headers={"Range": "bytes=0-9"})).code == 403
    refused = await fetch(url403, headers={"Range": "bytes=0-9"})
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert b"was refused" in refused.body
    url503 = shared_url(http.url("expires.mp4", mode="status-503"))
    started = time.monotonic()
    assert (await fetch(url503, headers={"Range": "bytes=0-9"})).code in (502, 504)
    assert time.monotonic() - started < 60  # bounded retries, never a hung request


def test_messages_never_show_a_signature_or_password(http, jp_environ):
    http.add("signed.mp4", data=b"x" * 1000)
    url = http.url("signed.mp4", mode="status-403").replace("//", "//user:pw@") + "?X-Amz-Signature=abc"
    with pytest.raises(PermissionError) as refused:
        probe(url)
    assert "abc" not in str(refused.value) and "pw" not in str(refused.value)
    assert "/status-403/signed.mp4" in str(refused.value)


def test_storage_options_must_reach_the_server_as_json(jp_environ):
    with pytest.raises(TypeError, match="JSON"):
        resolve_source("s3://videos/x.mp4", {"session": object()})
    with pytest.raises(ValueError, match="apply to URLs"):
        resolve_source("local.mp4", {"anon": True})


def test_registry_names_are_stable_and_reveal_nothing(jp_environ, s3):
    one = resolve_source("s3://videos/a.mp4", s3.options())
    assert one == resolve_source("s3://videos/a.mp4", s3.options())
    assert one != resolve_source("s3://videos/a.mp4", s3.options(key="other"))
    assert one.endswith("/a.mp4") and "videos" not in one
    assert os.path.basename(one) == "a.mp4"


def test_show_plays_a_remote_video_and_decodes_its_frames(s3, clip, jp_environ):
    from jupyter_rangevideo.pattern import read_frame_index
    from jupyter_rangevideo.widget import Player

    s3.client().upload_file(str(clip), "videos", "clips/frames.mp4")
    player = Player("s3://videos/clips/frames.mp4", storage_options=s3.options(), poster=False)
    assert player.name == "frames.mp4" and player.delivery == "direct"
    assert player.frame_count == 100 and player.probe.read_bytes > 0
    state = json.dumps(player.get_state(), default=str)
    assert MotoS3.SECRET not in state and MotoS3.KEY not in state and s3.endpoint not in state
    assert read_frame_index(player.frame_at(37)) == 37
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Player("s3://videos/clips/absent.mp4", storage_options=s3.options(), poster=False)


def test_kernels_read_through_the_servers_block_cache(jp_serverapp, tmp_path, monkeypatch):
    """The server publishes its cache's place in the runtime dir; a kernel's probe then fetches
    blocks the server serves without asking the store again."""
    monkeypatch.setattr(remote, "_cache_config", {})
    monkeypatch.setattr(remote, "_cache", None)
    assert remote.block_cache().directory == tmp_path / "blocks"


def test_the_kernels_fallback_server_streams_remote_objects(runtime_dir, http, tmp_path, monkeypatch):
    """Where the page has no extension, the kernel's own server serves the same names."""
    from helpers import http_get

    from jupyter_rangevideo.kernel_server import KernelServer

    monkeypatch.setattr(remote, "_cache_config", {"directory": str(tmp_path / "kernel-blocks")})
    monkeypatch.setattr(remote, "_cache", None)
    http.add("fallback.mp4", data=synthetic(0, 5 * 2**20))
    server = KernelServer().start()
    try:
        url = server.base_url + shared_url(http.url("fallback.mp4"))
        status, _, body = http_get(url, {"Range": f"bytes={2**21 - 3}-{2**22 + 2}"})
        assert (status, body) == (206, synthetic(2**21 - 3, 2**22 + 3))
        http.objects["fallback.mp4"].fail_with = 403  # the credentials expire
        monkeypatch.setattr(remote, "STAT_SECONDS", 0.0)
        status, _, body = http_get(url, {"Range": "bytes=0-9"})
        assert status == 403 and b"was refused" in body
    finally:
        server.stop()

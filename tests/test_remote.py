"""Remote sources through a real Jupyter server: S3 (moto), Azure Blob Storage (Azurite),
Google Cloud Storage (gcp-storage-emulator) and HTTP servers, all on 127.0.0.1.

The store tests run over every object store (the ``store`` fixture), each store started once
a session: range requests through the extension return the store's exact bytes; a seek
fetches a block or two, not the object; a replaced object is never served from its old
version's blocks; credentials stay in the kernel and the server; every failure of the store
becomes a clear exception at show() or a plain HTTP status, after bounded retries.
"""

import asyncio
import functools
import json
import logging
import os
import random
import stat
import time

import pytest
from helpers import server_config
from remote_stores import Azurite, GcsEmulator, RangeServer, synthetic

from jupyter_rangevideo import probe, remote, store_reads, url_for
from jupyter_rangevideo.remote import ObjectChanged, RangeNotSupported, RemoteError
from jupyter_rangevideo.remote_registry import registry_dir, resolve, resolve_source
from jupyter_rangevideo.remote_streaming import ReadChains, answer_stop
from jupyter_rangevideo.sample import write_sample

DATA_SIZE = 5 * 2**20 + 123  # blocks of 2 MiB: two whole, one partial
GIB = 2**30


def running(kind):
    server = kind().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azure():
    yield from running(Azurite)


@pytest.fixture(scope="session")
def gcs():
    yield from running(GcsEmulator)


@pytest.fixture(params=["s3", "az", "gs"])
def store(request):
    """Each object store in turn, started once a session."""
    return request.getfixturevalue({"s3": "s3", "az": "azure", "gs": "gcs"}[request.param])


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


@functools.cache
def data_bytes():
    return random.Random(7).randbytes(DATA_SIZE)


_stored = set()


@pytest.fixture
def store_data(store):
    """``data/blob.mp4`` in ``store``: DATA_SIZE random bytes (uploaded once a session)."""
    if store.name not in _stored:
        store.put("data/blob.mp4", data_bytes())
        _stored.add(store.name)
    return data_bytes()


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
async def test_ranges_through_the_extension_are_byte_exact(fetch, fresh, store, store_data, header):
    url = shared_url(store.url("data/blob.mp4"), store.options())
    r = await fetch(url, headers={"Range": header})
    assert r.code == 206
    first, last = r.headers["Content-Range"].removeprefix("bytes ").split("/")[0].split("-")
    assert r.body == store_data[int(first) : int(last) + 1]
    assert r.headers["Content-Type"] == "video/mp4"


async def test_whole_multipart_head_and_if_range(fetch, fresh, store, store_data):
    url = shared_url(store.url("data/blob.mp4"), store.options())
    whole = await fetch(url)
    assert whole.code == 200 and whole.body == store_data
    head = await fetch(url, method="HEAD")
    assert head.code == 200 and not head.body
    assert head.headers["Content-Length"] == str(DATA_SIZE) and head.headers["ETag"] == whole.headers["ETag"]
    multi = await fetch(url, headers={"Range": "bytes=0-9,3000000-3000009"})
    assert multi.code == 206 and store_data[3000000:3000010] in multi.body
    same = await fetch(url, headers={"Range": "bytes=5-9", "If-Range": whole.headers["ETag"]})
    assert same.code == 206 and same.body == store_data[5:10]
    other = await fetch(url, headers={"Range": "bytes=5-9", "If-Range": '"another"'})
    assert other.code == 200


async def test_credentials_never_reach_the_page(fetch, fresh, store, store_data):
    url = shared_url(store.url("data/blob.mp4"), store.options())
    for secret in (*store.secrets, "videos"):
        assert secret not in url, secret
    assert url.startswith("rangevideo/files/") and "/~remote/" in url
    records = list(registry_dir().iterdir())
    assert records and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in records)
    assert stat.S_IMODE(registry_dir().stat().st_mode) == 0o700
    assert any(json.loads(p.read_text()).get("storage_options") == store.options() for p in records)
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


MEDIA = {"Sec-Fetch-Dest": "video"}  # what a browser's <video> sends with its ranges
BLOCK = 2**21  # the server's remote_block_size (its default)


async def test_a_paused_media_elements_seeks_cost_the_blocks_they_land_in(fetch, fresh, http):
    """A <video> seeking while paused reads a frame's worth and stops; what the server wrote
    after that waits unread in TCP buffers (megabytes), so it must not have been fetched: each
    seek's open range is answered to the end of the block it starts in, and costs that block."""
    size = 64 * 2**20
    http.add("paused.mp4", size=size)
    url = shared_url(http.url("paused.mp4"))
    await fetch(url, headers={"Range": "bytes=0-0"})  # block 0, and the reader's first checks
    before = http.counts.sent["paused.mp4"]
    chooser = random.Random(8)
    for block in chooser.sample(range(1, size // BLOCK), 8):
        start = block * BLOCK + chooser.randrange(BLOCK)
        stop = (block + 1) * BLOCK
        r = await fetch(url, headers={"Range": f"bytes={start}-", **MEDIA})
        assert r.code == 206 and r.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}"
        assert r.body == synthetic(start, stop)
    await asyncio.sleep(0.2)  # a read ahead, if any, would land now
    assert http.counts.sent["paused.mp4"] - before == 8 * BLOCK


async def test_a_media_element_reading_on_gets_growing_answers_and_a_block_ahead(fetch, fresh, http):
    """A range that goes on where the last answer ended (a playing <video>) is answered with
    more blocks (1, 1, 2, 4, 4...) and, from the third, the block after the answer is fetched
    while it is sent: the next range finds it in the cache."""
    size = 64 * 2**20
    http.add("playing.mp4", size=size)
    url = shared_url(http.url("playing.mp4"))
    await fetch(url, headers={"Range": "bytes=0-0"})  # block 0, and the reader's first checks
    before = http.counts.sent["playing.mp4"]
    position = 3 * BLOCK + 12345
    lengths = []
    for _ in range(6):
        r = await fetch(url, headers={"Range": f"bytes={position}-", **MEDIA})
        assert r.code == 206 and r.body == synthetic(position, position + len(r.body))
        lengths.append(len(r.body))
        position += len(r.body)
    assert lengths == [BLOCK - 12345, BLOCK, 2 * BLOCK, 4 * BLOCK, 4 * BLOCK, 4 * BLOCK]
    sent = position // BLOCK - 3  # blocks answered
    for _ in range(100):  # the last block fetched ahead, still under way
        if http.counts.sent["playing.mp4"] - before > sent * BLOCK:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    assert http.counts.sent["playing.mp4"] - before == (sent + 1) * BLOCK
    # A seek elsewhere starts a chain again: one block.
    r = await fetch(url, headers={"Range": f"bytes={25 * BLOCK + 7}-", **MEDIA})
    assert len(r.body) == BLOCK - 7


def test_read_chains_follow_ends_per_client_and_object_and_stay_bounded():
    chains = ReadChains(kept=3)
    assert chains.links("a", "x.mp4", 100) == 0
    chains.answered("a", "x.mp4", 2000, 0)
    assert chains.links("b", "x.mp4", 2000) == 0  # another client
    assert chains.links("a", "y.mp4", 2000) == 0  # another object
    assert chains.links("a", "x.mp4", 2000) == 1
    assert chains.links("a", "x.mp4", 2000) == 0  # taken: an answer ends once
    for stop in range(5):
        chains.answered("a", "x.mp4", stop, 4)
    assert chains.links("a", "x.mp4", 0) == 0  # the oldest forgotten
    assert chains.links("a", "x.mp4", 4) == 5
    assert [answer_stop(5, links, 10) for links in range(6)] == [10, 10, 20, 40, 40, 40]


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


async def test_a_replaced_object_is_never_served_stale(fetch, fresh, store):
    """The block cache is keyed by the store's validator (S3's ETag, Azure's ETag, GCS's
    generation): the same size with other bytes is another object."""
    store.put("data/replaced.mp4", b"a" * 3_000_000)
    url = shared_url(store.url("data/replaced.mp4"), store.options())
    first = await fetch(url, headers={"Range": "bytes=0-9"})
    assert first.code == 206 and first.body == b"a" * 10
    store.put("data/replaced.mp4", b"b" * 3_000_000)
    second = await fetch(url, headers={"Range": "bytes=0-9"})
    assert second.code == 206 and second.body == b"b" * 10
    assert second.headers["ETag"] != first.headers["ETag"]
    third = await fetch(url, headers={"Range": "bytes=0-9", "If-Range": first.headers["ETag"]})
    assert third.code == 200 and third.body == b"b" * 3_000_000


def test_each_stores_validator_names_its_version(store, jp_environ):
    store.put("data/validator.mp4", b"v" * 1000)
    validator = resolve(resolve_source(store.url("data/validator.mp4"), store.options())).stat().validator
    field = {"s3": "ETag=", "az": "etag=", "gs": "generation="}[store.name]
    assert field in validator, validator


def test_a_read_pinned_to_a_replaced_version_is_refused(store, jp_environ, tmp_path, monkeypatch, caplog):
    """Between a stat and a block's fetch the object is replaced: the store must refuse the old
    version's read (If-Match, or GCS's generation), never send the new bytes for the old key."""
    monkeypatch.setattr(remote, "_cache_config", {"directory": str(tmp_path / "pinned-blocks")})
    monkeypatch.setattr(remote, "_cache", None)
    caplog.set_level(logging.INFO, logger="gcp_storage_emulator")
    store.put("data/pinned.mp4", b"1" * 100_000)
    obj = resolve(resolve_source(store.url("data/pinned.mp4"), store.options()))
    old = obj.stat()
    store.put("data/pinned.mp4", b"2" * 100_000)
    try:
        stale = obj.read(0, 10, old)
    except ObjectChanged as e:
        assert "changed while it was read" in str(e)
        stale = None
    if store.name == "gs" and stale is not None:
        # The read named the old generation; the emulator (unlike GCS) sent the live object.
        generation = old.validator.split("generation=")[1].split(";")[0]
        assert any(f"generation={generation}" in r.getMessage() for r in caplog.records)
        pytest.xfail("gcp-storage-emulator sends the live object whatever generation a download names")
    assert stale is None, stale
    assert obj.read(0, 10, obj.stat(max_age=0)) == b"2" * 10  # the new version, from a new stat


async def test_remote_video_remuxes_into_segments(fetch, fresh, store, clip):
    store.put("clips/clip.mp4", clip.read_bytes())
    url = shared_url(store.url("clips/clip.mp4"), store.options())
    hls = url.replace("rangevideo/files/", "rangevideo/hls/remux/")
    playlist = await fetch(f"{hls}/index.m3u8")
    assert playlist.code == 200, playlist.body
    assert b"seg-00000.ts" in playlist.body
    segment = await fetch(f"{hls}/seg-00000.ts")
    assert segment.code == 200 and segment.body[:1] == b"\x47"  # MPEG-TS sync byte


# --- what goes wrong, and what the user sees ----------------------------------------------


def test_missing_object_and_bucket_fail_at_show_time(store, jp_environ):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        probe(store.url("no-such-key.mp4"), storage_options=store.options())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        probe(store.url("run42.mp4", bucket="no-such-bucket"), storage_options=store.options())


def test_a_wrong_azure_account_key_is_refused_at_show_time(azure, jp_environ):
    """Azurite checks each request's signature against the account key, as Azure does."""
    azure.put("data/keyed.mp4", b"k" * 1000)
    with pytest.raises(PermissionError, match="was refused") as refused:
        probe(azure.url("data/keyed.mp4"), storage_options=azure.refused_options())
    for secret in (Azurite.KEY, Azurite.WRONG_KEY):
        assert secret not in str(refused.value)


def test_a_gcs_refusal_is_a_permission_error(http, jp_environ):
    """gcsfs raises a bare OSError("Forbidden: ...") for GCS's 403: here a JSON API endpoint
    that refuses every request (the emulator checks no credentials)."""
    options = {"endpoint_url": http.url("", mode="status-403"), "token": "anon", "project": "p"}
    with pytest.raises(PermissionError, match="was refused"):
        probe("gs://videos/private.mp4", storage_options=options)


def test_an_azure_5xx_storm_ends_after_bounded_attempts(http, jp_environ, monkeypatch):
    """The Azure SDK retries a 5xx by itself (by default for about a minute, three times): held
    to one retry within each of the 3 attempts. An Azure endpoint that answers 503 to all."""
    monkeypatch.setattr(remote, "BACKOFF_SECONDS", 0.01)
    endpoint = http.url("", mode="status-503").rstrip("/")
    account = f"AccountName={Azurite.ACCOUNT};AccountKey={Azurite.KEY}"
    options = {"connection_string": f"DefaultEndpointsProtocol=http;{account};BlobEndpoint={endpoint};"}
    with pytest.raises(RemoteError, match="after 3 attempts") as failed:
        probe("az://videos/busy.mp4", storage_options=options)
    assert "HTTP 503" in str(failed.value) and Azurite.KEY not in str(failed.value)
    tries = 1 + store_reads.AZURE_RETRY["total_retries"]
    assert 0 < http.counts.requests[("status-503", "videos/busy.mp4")] <= remote.ATTEMPTS * tries


async def test_a_store_failing_after_show_is_a_plain_status(fetch, fresh, store):
    store.put("data/goes.mp4", b"g" * 3_000_000)
    url = shared_url(store.url("data/goes.mp4"), store.options())
    assert (await fetch(url, headers={"Range": "bytes=0-9"})).code == 206
    store.delete("data/goes.mp4")
    gone = await fetch(url, headers={"Range": "bytes=0-9"})
    assert gone.code == 404 and b"does not exist" in gone.body
    for secret in store.secrets:
        assert secret.encode() not in gone.body


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


def test_show_plays_a_remote_video_and_decodes_its_frames(store, clip, jp_environ):
    from jupyter_rangevideo.pattern import read_frame_index
    from jupyter_rangevideo.widget import Player

    store.put("clips/frames.mp4", clip.read_bytes())
    player = Player(store.url("clips/frames.mp4"), storage_options=store.options(), poster=False)
    assert player.name == "frames.mp4" and player.delivery == "direct"
    assert player.frame_count == 100 and player.probe.read_bytes > 0
    state = json.dumps(player.get_state(), default=str)
    for secret in store.secrets:
        assert secret not in state, secret
    assert read_frame_index(player.frame_at(37)) == 37
    player.frame = 61
    assert read_frame_index(player.snapshot()) == 61
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Player(store.url("clips/absent.mp4"), storage_options=store.options(), poster=False)


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


def test_a_remote_objects_validator_is_asked_off_the_loop_every_time(runtime_dir, http, monkeypatch):
    """validators.py reads local files' validators on the event loop; never a store's."""
    from helpers import CountingPool

    from jupyter_rangevideo.validators import Validators

    monkeypatch.setattr(remote, "STAT_SECONDS", 0.0)
    http.add("validated.mp4", data=synthetic(0, 1000), etag='"v1"')
    name = resolve_source(http.url("validated.mp4"), None)
    pool = CountingPool()

    async def twice():
        validators = Validators(pool)
        first = await validators.current(name)
        http.add("validated.mp4", data=synthetic(0, 2000), etag='"v2"')  # replaced in the store
        return first, await validators.current(name)

    with pool:
        first, second = asyncio.run(twice())
    assert pool.trips == 2
    assert (first[0], second[0]) == (1000, 2000) and first[3] != second[3]

"""delivery="redirect" through a real Jupyter server and moto's S3 API on 127.0.0.1: the server
answers a redirected player's URL with a 307 to a presigned URL of the object in its store, the
same one for half its life, then a new one; the widget's state and its saved output hold no key,
token or presigned URL; what cannot be redirected says why at show()."""

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import server_config
from remote_stores import MotoS3, RangeServer
from tornado.httpclient import AsyncHTTPClient

from jupyter_rangevideo import remote, url_for
from jupyter_rangevideo.remote_registry import resolve, resolve_source
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.widget import Player

KEY = "redirect/clip.mp4"
URL = f"s3://videos/{KEY}"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("redirect") / "clip.mp4", duration=2, fps=25, size=(160, 120))


@pytest.fixture(scope="module")
def stored(s3, clip):
    s3.client().upload_file(str(clip), "videos", KEY)
    return s3


@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(chunk_size=64 * 1024, remote_cache_dir=str(tmp_path / "blocks"))


def shared_url(seconds, options):
    return url_for(resolve_source(URL, options, seconds))


def query_of(location):
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def test_the_server_redirects_to_a_presigned_url_of_the_object(fetch, stored, clip):
    url = shared_url(600, stored.options())
    for method in ("GET", "HEAD"):
        # The page adds a query of its own to every load (renewal.js): the signature ignores it.
        answer = await fetch(f"{url}?load=x.1", method=method, headers={"Range": "bytes=0-99"})
        assert answer.code == 307, answer.body
        location = answer.headers["Location"]
        assert location.startswith(f"{stored.endpoint}/videos/{KEY}?")
        assert query_of(location)["X-Amz-Expires"] == "600" and query_of(location)["X-Amz-Signature"]
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Referrer-Policy"] == "no-referrer"  # the notebook's URL stays here
    # The store serves that URL to anyone, with no credentials: what the browser does.
    direct = await AsyncHTTPClient().fetch(location, headers={"Range": "bytes=0-99"})
    assert direct.code == 206 and direct.body == clip.read_bytes()[:100]
    # The same object streamed through the server has another name, and streams.
    through = shared_url(0, stored.options())
    assert through != url
    streamed = await fetch(through, headers={"Range": "bytes=0-99"})
    assert streamed.code == 206 and streamed.body == clip.read_bytes()[:100]


async def test_a_presigned_url_is_handed_out_for_half_its_life_then_renewed(fetch, stored, monkeypatch):
    url = shared_url(600, stored.options())
    first = (await fetch(url)).headers["Location"]
    assert (await fetch(url)).headers["Location"] == first  # a burst of requests: one signature
    minted = remote._now()
    # A whole second less than half, for X-Amz-Date's whole seconds: 298 s still has over 300 s left.
    monkeypatch.setattr(remote, "_now", lambda: minted + 298)
    assert (await fetch(url)).headers["Location"] == first
    await asyncio.sleep(1.1)  # a later X-Amz-Date, so that a new signature reads differently
    monkeypatch.setattr(remote, "_now", lambda: minted + 300)
    renewed = (await fetch(url)).headers["Location"]
    assert renewed != first
    assert query_of(renewed)["X-Amz-Date"] > query_of(first)["X-Amz-Date"]
    assert (await fetch(url)).headers["Location"] == renewed


def test_a_redirected_player_keeps_no_secret_in_its_state_or_saved_output(stored, jp_environ):
    player = Player(
        URL, storage_options=stored.options(), delivery="redirect", redirect_seconds=60, poster=False
    )
    assert player.delivery == "redirect" and player.redirect_seconds == 60
    assert player.src.startswith("rangevideo/files/") and "/~remote/" in player.src
    remote_object = resolve(player.probe.path)
    assert remote_object is not None and remote_object.redirect_seconds == 60
    saved = json.dumps([player.get_state(), player._repr_mimebundle_()], default=str)
    for secret in (MotoS3.KEY, MotoS3.SECRET, stored.endpoint, "X-Amz", "Signature", KEY):
        assert secret not in saved, secret
    assert player._saved_spec()["options"]["redirect_seconds"] == 60  # a reopened page renews too
    assert (
        player.frame_count == 50
        and Player(URL, storage_options=stored.options(), poster=False).delivery == "direct"
    )


def test_what_cannot_be_redirected_says_why_at_show(stored, jp_environ, tmp_path):
    options = stored.options()
    with pytest.raises(ValueError, match="local file"):
        Player(write_sample(tmp_path / "local.mp4", duration=1), delivery="redirect")
    for name, needs in (("needs-remux.ts", "remux"), ("needs-transcode.avi", "transcode")):
        stored.client().upload_file(
            str(write_sample(tmp_path / name, duration=1)), "videos", f"redirect/{name}"
        )
        with pytest.raises(ValueError, match=rf"browsers cannot play this one as it is \(.+\).+\({needs}\)"):
            Player(f"s3://videos/redirect/{name}", storage_options=options, delivery="redirect", poster=False)
    with pytest.raises(
        ValueError, match="redirect_seconds must be a whole number of seconds from 4 to 604800"
    ):
        Player(URL, storage_options=options, delivery="redirect", redirect_seconds=1)
    with pytest.raises(ValueError, match="applies to delivery='redirect' only"):
        Player(URL, storage_options=options, redirect_seconds=60)
    http = RangeServer().start()
    try:
        http.add("clip.mp4", data=b"\0" * 1000)
        with pytest.raises(ValueError, match="HTTPFileSystem cannot presign one"):
            Player(http.url("clip.mp4"), delivery="redirect", poster=False)
    finally:
        http.stop()

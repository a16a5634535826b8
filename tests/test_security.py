"""Who gets bytes: authentication, authorization, XSRF/Referer, signatures, traversal."""

import asyncio
import os
from urllib.parse import quote

import pytest
from helpers import folder_with_video, server_config, swap_for_symlink
from jupyter_server.auth.authorizer import Authorizer

from jupyter_rangevideo import signing, url_for
from jupyter_rangevideo.signing import ROUTE, load_secret, sign


def signed(path):
    """A URL path signed for ``path`` exactly as given, skipping url_for's checks."""
    quoted = quote(os.fsencode(path).lstrip(b"/"), safe="/")
    return f"{ROUTE}/{sign(path, load_secret())}/{quoted}"


async def test_anonymous_requests_get_no_byte(fetch, data_file):
    url = url_for(data_file)
    for method in ("GET", "HEAD"):
        r = await fetch(url, method=method, auth=False, headers={"Range": "bytes=0-1"})
        assert r.code in (302, 403), (method, r.code)
        assert data_file.read_bytes()[:2] not in r.body
        assert "Content-Range" not in r.headers


async def test_a_wrong_token_gets_no_byte(fetch, data_file):
    r = await fetch(url_for(data_file), auth=False, headers={"Authorization": "token wrong"})
    assert r.code in (302, 403)
    assert "Content-Range" not in r.headers and len(r.body) < 10_000


async def test_methods_other_than_get_and_head_are_refused(fetch, data_file):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = await fetch(url_for(data_file), method=method, body=b"" if method != "DELETE" else None)
        assert r.code == 405, method


@pytest.mark.parametrize(
    "edit",
    [
        lambda url, path: url.replace("clip.mp4", "other.mp4"),  # a sibling
        lambda url, path: url.rsplit("/", 1)[0] + "/%2E%2E/secret.txt",  # encoded ..
        lambda url, path: url.rsplit("/", 1)[0] + "/%252E%252E/secret.txt",  # double-encoded ..
        lambda url, path: url.rsplit("/", 1)[0] + "/../secret.txt",
        lambda url, path: url.split("/files/")[0] + "/files/" + url.split("/")[2] + "/etc/passwd",
        lambda url, path: url.replace(url.split("/")[2], "0" * 32),  # forged signature
        lambda url, path: url.replace(url.split("/")[2], url.split("/")[2][:-1]),  # truncated
        lambda url, path: url + "%00.mp4",  # NUL byte
        lambda url, path: url + "/",
        lambda url, path: url.rsplit("/", 1)[0] + "/" + "x" * 4000 + ".mp4",  # overlong name
        lambda url, path: url + "/.." * 2000,  # overlong traversal
    ],
)
async def test_edited_urls_reach_nothing(fetch, data_file, edit):
    (data_file.parent / "other.mp4").write_bytes(b"OTHER-FILE")
    (data_file.parent.parent / "secret.txt").write_bytes(b"SECRET")
    url = edit(url_for(data_file), data_file)
    r = await fetch(url)
    assert 400 <= r.code < 500, (url, r.code)
    assert b"OTHER-FILE" not in r.body and b"SECRET" not in r.body and b"root:" not in r.body


async def test_url_survives_a_restart_of_the_secret_holder(fetch, data_file, jp_runtime_dir):
    # The secret is kept in the runtime directory with mode 0600: a new process reads the same one.
    secret_file = signing.secret_path()
    assert secret_file.parent == jp_runtime_dir
    assert secret_file.stat().st_mode & 0o777 == 0o600
    r = await fetch(url_for(data_file))
    assert r.code == 200


async def test_a_secret_readable_by_others_is_refused(tmp_path):
    secret = tmp_path / "secret"
    load_secret(secret)
    secret.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_secret(secret)


async def test_cookie_authenticated_get_needs_a_same_origin_referer(fetch, data_file, jp_base_url):
    # A token-authenticated request sets the login cookie that a browser page would have.
    first = await fetch("api/status")
    cookie = "; ".join(c.split(";")[0] for c in first.headers.get_list("Set-Cookie"))
    assert cookie
    url = url_for(data_file)
    origin = f"http://127.0.0.1:{first.effective_url.split(':')[2].split('/')[0]}"
    range_header = {"Range": "bytes=0-1", "Cookie": cookie}

    r = await fetch(url, auth=False, headers={**range_header, "Referer": f"{origin}{jp_base_url}lab"})
    assert (r.code, r.body) == (206, data_file.read_bytes()[:2])

    for referer in (None, "http://evil.example/page"):
        headers = dict(range_header)
        if referer:
            headers["Referer"] = referer
        r = await fetch(url, auth=False, headers=headers)
        assert r.code == 403, referer
        assert "Content-Range" not in r.headers


async def test_a_directory_or_fifo_answers_4xx_at_once(fetch, tmp_path):
    folder = tmp_path / "became_a_folder.mp4"
    folder.mkdir()
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    for path in (folder, fifo):
        r = await asyncio.wait_for(fetch(signed(str(path))), 10)  # never hangs on the FIFO
        assert r.code == 404


async def test_a_deleted_file_is_404(fetch, data_file):
    url = url_for(data_file)
    data_file.unlink()
    assert (await fetch(url)).code == 404


async def test_a_symlink_swapped_in_after_sharing_is_not_followed(fetch, tmp_path):
    video = folder_with_video(tmp_path / "shared")
    secret_dir = folder_with_video(tmp_path / "private", b"PRIVATE").parent
    url = url_for(video)
    assert (await fetch(url)).body == b"VIDEO"

    swap_for_symlink(video.parent, secret_dir)
    r = await fetch(url)
    assert r.code == 404 and b"PRIVATE" not in r.body


class DenyContentsRead(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return not (resource == "contents" and action == "read")


class TestAuthorization:
    @pytest.fixture
    def jp_server_config(self):
        return {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_rangevideo": True, "jupyter_server_terminals": False},
                "authorizer_class": DenyContentsRead,
            }
        }

    async def test_a_user_without_contents_read_gets_403(self, fetch, data_file):
        r = await fetch(url_for(data_file), headers={"Range": "bytes=0-1"})
        assert r.code == 403
        assert "Content-Range" not in r.headers


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_anonymous_gets_nothing_whatever_the_method(fetch, data_file, method):
    body = b"" if method in ("POST", "PUT", "PATCH") else None
    r = await fetch(url_for(data_file), method=method, auth=False, body=body, allow_nonstandard_methods=True)
    assert r.code in (302, 403, 405), r.code
    assert data_file.read_bytes()[:64] not in r.body
    assert "Content-Range" not in r.headers and "ETag" not in r.headers


async def test_cross_origin_cookie_requests_get_no_cors_grant(fetch, data_file):
    # What another site's page can make a logged-in browser send: the cookie, its own Origin.
    # (A token-authenticated request follows jupyter_server's CORS policy: the token already
    # grants the whole API.)
    first = await fetch("api/status")
    cookie = "; ".join(c.split(";")[0] for c in first.headers.get_list("Set-Cookie"))
    evil = {"Origin": "http://evil.example", "Referer": "http://evil.example/", "Cookie": cookie}
    r = await fetch(url_for(data_file), auth=False, headers={**evil, "Range": "bytes=0-1"})
    assert r.code == 403
    assert r.headers.get("Access-Control-Allow-Origin", "") == ""
    assert "Access-Control-Allow-Credentials" not in r.headers


async def test_a_foreign_host_is_refused_whatever_was_allowed_before(fetch, data_file):
    # Jupyter refuses a Host header that names neither a loopback address nor a local name
    # (DNS rebinding); the media routes remember allowed hosts, never refused ones.
    url = url_for(data_file)
    for _ in range(2):
        assert (await fetch(url, headers={"Range": "bytes=0-1"})).code == 206
        for host in ("evil.example", "evil.example:8888", "10.1.2.3", "127.0.0.1.evil.example"):
            r = await fetch(url, headers={"Host": host, "Range": "bytes=0-1"})
            assert r.code == 403, host
            assert "Content-Range" not in r.headers


async def test_media_responses_carry_jupyters_default_headers(fetch, data_file, jp_base_url):
    r = await fetch(url_for(data_file), headers={"Range": "bytes=0-1"})
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    csp = f"frame-ancestors 'self'; report-uri {jp_base_url}api/security/csp-report"
    assert r.headers["Content-Security-Policy"] == csp


class TestConfiguredHeaders:
    @pytest.fixture
    def jp_server_config(self):
        config = server_config()
        config["ServerApp"]["tornado_settings"] = {
            "headers": {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
        }
        return config

    async def test_the_servers_configured_headers_are_sent(self, fetch, data_file):
        for _ in range(2):
            r = await fetch(url_for(data_file), headers={"Range": "bytes=0-1"})
            assert r.code == 206
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
            assert r.headers["X-Content-Type-Options"] == "nosniff"

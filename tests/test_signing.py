"""url_for: the kernel-side API. No server needed."""

import os
import re

import pytest

from jupyter_rangevideo import signing, url_for

pytestmark = pytest.mark.usefixtures("runtime_dir")


def test_url_shape(tmp_path):
    video = tmp_path / "a b#?.mp4"
    video.write_bytes(b"x")
    url = url_for(video)
    assert not url.startswith("/")
    assert re.fullmatch(r"rangevideo/files/[0-9a-f]{32}/.+/a%20b%23%3F\.mp4", url)
    assert url == url_for(str(video))  # stable


def test_relative_paths_resolve_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "v.mp4").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert url_for("v.mp4") == url_for(tmp_path / "v.mp4")


def test_symlinks_are_signed_as_their_target(tmp_path):
    (tmp_path / "run1.mp4").write_bytes(b"x")
    (tmp_path / "latest.mp4").symlink_to(tmp_path / "run1.mp4")
    assert url_for(tmp_path / "latest.mp4") == url_for(tmp_path / "run1.mp4")


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        url_for(tmp_path / "missing.mp4")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        url_for(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="not a regular file"):
        url_for(tmp_path / "fifo")
    with pytest.raises(ValueError, match="NUL"):
        url_for("a\0b.mp4")


def test_costs_a_stat_not_a_read(tmp_path, monkeypatch):
    huge = tmp_path / "huge.mp4"
    with open(huge, "wb") as f:
        f.truncate(10 * 2**30)  # sparse: 10 GiB of size, no blocks
    opened = []
    real_open = os.open
    monkeypatch.setattr(
        os, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k)
    )
    url_for(huge)
    # Only the secret file is opened; the video is never read.
    assert all(signing.SECRET_FILE in path for path in opened), opened


def test_secret_is_private_and_kept(tmp_path):
    url = url_for(__file__)
    secret = signing.secret_path()
    assert secret.stat().st_mode & 0o777 == 0o600
    assert url_for(__file__) == url  # the same secret is read back
    secret.unlink()
    assert url_for(__file__) != url  # a new secret revokes old URLs


def test_a_remembered_signature_admits_only_its_own_path_and_secret():
    secret, other_secret = b"s" * 64, b"t" * 64
    signature = signing.sign("/videos/a.mp4", secret)
    assert signing.verify("/videos/a.mp4", signature, secret)
    assert signing.verify("/videos/a.mp4", signature, secret)  # now answered from memory
    assert not signing.verify("/videos/b.mp4", signature, secret)
    assert not signing.verify("/videos/a.mp4", signature, other_secret)
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert not signing.verify("/videos/a.mp4", forged, secret)
    assert not signing.verify("/videos/a.mp4", forged, secret)  # a refusal is not remembered

"""Which files may be streamed: URLs signed with a per-user secret.

A URL names the file's resolved absolute path and carries an HMAC of it, keyed by a
secret that only the user running Jupyter can read. Code running as that user (the
kernel) signs a path to share it; the server checks the signature on every request.
So any readable file can be shared, wherever it lies, but nobody can edit a URL to
reach a file that was not shared.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from pathlib import Path
from urllib.parse import quote

from jupyter_core.paths import jupyter_runtime_dir

from .runtime_files import read_private

ROUTE = "rangevideo/files"
SECRET_FILE = "jupyter_rangevideo_secret"
_SIGNATURE_HEX = 32  # 128 bits


def secret_path() -> Path:
    return Path(jupyter_runtime_dir()) / SECRET_FILE


def load_secret(path: Path | None = None) -> bytes:
    """Read the per-user secret, creating it (mode 0600) on first use.

    It lives in the Jupyter runtime directory, so the kernel and the server of the
    same user share it, and URLs survive restarts of both.
    """
    path = path or secret_path()
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, os.urandom(32).hex().encode("ascii"))
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic, and never replaces a secret another process wrote first
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    secret = read_private(path, 256).strip()
    if len(secret) < 32:
        raise PermissionError(f"{path} holds no usable secret; delete it to make a new one")
    return secret


# What a signature grants: a local file's path, or a remote object's registered name
# (remote_registry.py). The domains differ, so one never passes for the other.
FILE_DOMAIN = b"jupyter_rangevideo/v1\0"
REMOTE_DOMAIN = b"jupyter_rangevideo/remote/v1\0"


def sign(path: str, secret: bytes, domain: bytes = FILE_DOMAIN) -> str:
    message = domain + os.fsencode(path)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:_SIGNATURE_HEX]


def verify(path: str, signature: str, secret: bytes, domain: bytes = FILE_DOMAIN) -> bool:
    if (path, signature, secret, domain) in _verified:
        return True
    if not hmac.compare_digest(sign(path, secret, domain), signature):
        return False  # a wrong signature is computed and compared every time
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified.add((path, signature, secret, domain))
    return True


# A player asks for the same few URLs many times (a seek is many small range requests): a
# signature that verified is remembered with its path and secret, so a later request for the
# same URL costs a set look-up instead of an HMAC. The look-up hashes the whole tuple before
# comparing any of it, so its timing tells nothing of how close a forged signature came; only
# tuples that verified are kept, and at most _VERIFIED_MAX of them.
_VERIFIED_MAX = 1024
_verified: set[tuple[str, str, bytes, bytes]] = set()


def resolve_shareable(path: str | os.PathLike[str]) -> str:
    """The resolved absolute path of a regular file, or a clear exception.

    Costs a ``stat``: never reads the content.
    """
    resolved = os.path.realpath(os.path.abspath(os.fspath(path)))
    info = os.stat(resolved)  # FileNotFoundError, PermissionError: already clear
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{os.fspath(path)!r} is a directory, not a video file")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{os.fspath(path)!r} is not a regular file (a FIFO, device or socket cannot be streamed)"
        )
    if not os.access(resolved, os.R_OK):
        raise PermissionError(f"{os.fspath(path)!r} is not readable by this user")
    return resolved


def url_path(resolved: str, secret: bytes) -> str:
    """The URL, relative to the server's base_url, that serves a resolved path."""
    quoted = quote(os.fsencode(resolved.replace(os.sep, "/")).lstrip(b"/"), safe="/")
    return f"{ROUTE}/{sign(resolved, secret)}/{quoted}"


# A remote object's shared name (remote_registry.py): ~remote/{id}/{file name}. Never the
# resolved path of a local file, which is absolute.
REMOTE_PREFIX = "~remote/"
_REMOTE_NAME = re.compile(r"^~remote/([0-9a-f]{32})/([^/\0]+)$")


def remote_name_parts(name: object) -> tuple[str, str] | None:
    """(id, file name) of a remote object's shared name; None for anything else."""
    match = _REMOTE_NAME.match(name) if isinstance(name, str) else None
    return None if match is None else (match.group(1), match.group(2))


def is_remote_name(name: object) -> bool:
    return remote_name_parts(name) is not None


def remote_url_path(name: str, secret: bytes) -> str:
    """The URL, relative to the server's base_url, that serves a registered remote object."""
    return f"{ROUTE}/{sign(name, secret, REMOTE_DOMAIN)}/{quote(name, safe='/~')}"


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(source: object) -> bool:
    """Whether ``source`` names a remote object (a URL other than ``file://``)."""
    return isinstance(source, str) and bool(_URL.match(source)) and not source.startswith("file://")


def share_local(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """(signed URL, the real path readers open, the name to show) of a local file; raises as
    :func:`url_for` does."""
    return url_for(path), os.path.realpath(path), Path(path).name


def url_for(path: str | os.PathLike[str]) -> str:
    """The URL, relative to the Jupyter server's base_url and without a leading slash,
    at which the server extension streams the local file ``path`` (or the remote object that
    a name from remote_registry.register stands for).

    Relative paths resolve against the current working directory. Raises
    FileNotFoundError, IsADirectoryError, PermissionError, or ValueError for a file
    that is not regular.
    """
    if isinstance(path, str) and "\0" in path:
        raise ValueError("a path cannot contain a NUL character")
    if is_remote_name(path):
        return remote_url_path(str(path), load_secret())
    return url_path(resolve_shareable(path), load_secret())

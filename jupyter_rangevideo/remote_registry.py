"""Which remote object a shared name stands for, and with which storage options.

``show("s3://bucket/run42.mp4", storage_options={...})`` registers the URL and its options in
a file of the user's Jupyter runtime directory (mode 0600, in a folder of mode 0700), as the
signing secret is kept, and names it ``~remote/{id}/run42.mp4``. The page and the notebook
see only that name, in a signed URL; the server (and the kernel's fallback server) read the
file to learn the URL and the options. So keys and tokens given in the kernel reach the
server without passing through the page, and never appear in a URL or an output.

The id is an HMAC of the URL and options under the user's secret: showing the same object
again gives the same name (saved outputs keep working), and it tells nothing of the options.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
import threading
from collections import OrderedDict
from typing import Any

from .remote import RemoteObject, RemoteReader
from .runtime_files import read_private, registry_dir, write_private
from .signing import (
    REMOTE_PREFIX,
    is_remote_name,
    is_url,
    load_secret,
    remote_name_parts,
    share_local,
    url_for,
)

__all__ = ["is_remote_name", "readable", "register", "registry_dir", "resolve", "resolve_source", "share"]

_MAX_OBJECTS = 256

_objects: OrderedDict[str, RemoteObject] = OrderedDict()
_lock = threading.Lock()


def register(
    url: str, storage_options: dict[str, Any] | None, secret: bytes, redirect_seconds: int = 0
) -> str:
    """The shareable name of ``url`` read with ``storage_options``, recorded for the server.
    ``redirect_seconds``: the server answers the name with a presigned URL lasting that long
    (delivery="redirect"); another name than the same object streamed through the server."""
    options = dict(storage_options or {})
    record: dict[str, Any] = {"url": url, "storage_options": options}
    if redirect_seconds:
        record["redirect_seconds"] = int(redirect_seconds)
    try:
        text = json.dumps(record, sort_keys=True)
    except (TypeError, ValueError):
        raise TypeError(
            "storage_options must hold only JSON values (strings, numbers, lists, dicts) to reach "
            "the server; for sessions or credential objects, use the environment, a profile or "
            "an instance role, which the server reads as the kernel does"
        ) from None
    identity = hmac.new(secret, b"jupyter_rangevideo/remote-id/v1\0" + text.encode(), hashlib.sha256)
    key = identity.hexdigest()[:32]
    folder = registry_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(folder / f"{key}.json", text)
    remote = RemoteObject(url, options, int(redirect_seconds))
    with _lock:
        _objects[key] = _objects.get(key) or remote
        _objects.move_to_end(key)
        while len(_objects) > _MAX_OBJECTS:
            _objects.popitem(last=False)
    name = re.sub(r"[/\0]", "_", remote.name) or "object"
    return f"{REMOTE_PREFIX}{key}/{name}"


def resolve(name: str) -> RemoteObject | None:
    """The remote object a name stands for; None for a name that is not remote (a local path).
    Raises FileNotFoundError when this machine has no record of it (never shown here)."""
    parts = remote_name_parts(name)
    if parts is None:
        return None
    key = parts[0]
    with _lock:
        found = _objects.get(key)
        if found is not None:
            _objects.move_to_end(key)
            return found
    try:
        record = json.loads(read_private(registry_dir() / f"{key}.json"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the remote video {parts[1]!r} is not registered on this machine: show() it again"
        ) from None
    remote = RemoteObject(
        record["url"], record.get("storage_options") or {}, record.get("redirect_seconds", 0)
    )
    with _lock:
        found = _objects.setdefault(key, remote)
        while len(_objects) > _MAX_OBJECTS:
            _objects.popitem(last=False)
    return found


def resolve_source(
    source: str | os.PathLike[str], storage_options: dict[str, Any] | None = None, redirect_seconds: int = 0
) -> str:
    """What the readers take: a local path as it is, a URL as its registered name."""
    if is_url(source):
        return register(str(source), storage_options, load_secret(), redirect_seconds)
    if storage_options:
        raise ValueError(f"storage_options apply to URLs (s3://, gs://, https://...), not to {source!r}")
    if redirect_seconds:
        raise ValueError(
            f"delivery='redirect' sends the browser to an object's store with a presigned URL; "
            f"{os.fspath(source)!r} is a local file, which the Jupyter server streams: leave out delivery='redirect'"
        )
    return os.fspath(source)


def share(
    source: str | os.PathLike[str], storage_options: dict[str, Any] | None = None, redirect_seconds: int = 0
) -> tuple[str, str, str]:
    """(signed URL, what readers open, the name to show) of a local file or a URL. A URL's
    object is asked for its size and version now: a missing object or refused credentials
    fail here, before a player is displayed. ``redirect_seconds``: the server hands the browser
    presigned URLs lasting that long, which the store's filesystem must be able to make (a
    ValueError here if it cannot)."""
    shared = resolve_source(source, storage_options, redirect_seconds)
    remote = resolve(shared)
    if remote is None:
        return share_local(shared)
    remote.stat()
    if redirect_seconds:
        remote.presigned_url(redirect_seconds)  # a filesystem that cannot presign says so now
    return url_for(shared), shared, remote.name


def readable(source: str) -> str | RemoteReader:
    """What PyAV opens for ``source``: the path of a local file, a seekable reader of a remote one."""
    remote = resolve(source)
    return source if remote is None else remote.open()


def current_validator(path: str) -> tuple[int, int, int, str]:
    """What Probe.validator will be for ``path`` now: a local file's stat, a remote object's
    size and version (asked of the store at most once a second)."""
    remote = resolve(path)
    if remote is not None:
        found = remote.stat()
        return (found.size, 0, 0, found.validator)
    info = _shareable_stat(path)
    return (info.st_size, info.st_mtime_ns, info.st_ino, "")


def _shareable_stat(path: str) -> os.stat_result:
    """The file's stat if it is still the regular file that was signed, else FileNotFoundError.

    As for the file route: a FIFO would hang the demuxer, and a path that now resolves
    elsewhere (a directory swapped for a symlink) names a file nobody shared.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise FileNotFoundError(f"{path!r} is not a regular file")
    if os.path.realpath(path) != path:
        raise FileNotFoundError(f"{path!r} now resolves to {os.path.realpath(path)!r}")
    return info

"""Small private files in the user's Jupyter runtime directory, shared by the server and its
kernels: remote sources' records (remote_registry.py) and the block cache's settings (remote.py).
Written with mode 0600 in a folder of mode 0700, replaced atomically; read only if they still
belong to the user and nobody else can read them."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_runtime_dir

REGISTRY_DIR = "jupyter_rangevideo_remote"
CACHE_CONFIG = "cache.json"


def registry_dir() -> Path:
    return Path(jupyter_runtime_dir()) / REGISTRY_DIR


def publish_cache_config(config: dict[str, Any]) -> None:
    """Tell kernels started by this server where its block cache is (see remote.configure)."""
    folder = registry_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(folder / CACHE_CONFIG, json.dumps(config))


def published_cache_config() -> dict[str, Any]:
    """The block cache settings a server of this runtime directory published; {} if none."""
    try:
        config = json.loads(read_private(registry_dir() / CACHE_CONFIG))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in config.items() if k in ("directory", "max_bytes", "block_size")}


def write_private(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(temp, path)


def read_private(path: Path, limit: int = 1 << 20) -> bytes:
    """At most ``limit`` bytes of ``path``, which must be a file of yours that only you can
    read (never through a symlink); PermissionError otherwise."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            raise PermissionError(f"{path} must belong to you and be readable by you only (chmod 600 {path})")
        chunks = []
        while (chunk := os.read(fd, min(65536, limit))) and limit > 0:
            chunks.append(chunk)
            limit -= len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)

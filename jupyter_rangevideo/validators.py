"""A shared file's validator now (remote_registry.current_validator), read without leaving the
event loop where that is cheap.

A trip through the read pool yields the loop, and a loop busy with Jupyter's kernel traffic took
up to 50 ms to come back to a request waiting for a seek's segment. A file on a local filesystem
is therefore stat'ed on the loop once it is known to be local, as fdcache.py re-checks its
descriptors (and tornado its static files); a remote object (its store may be asked) and a file
on a network filesystem (its server may be) are read in the pool.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from concurrent.futures import Executor

from .fdcache import is_local
from .remote_registry import current_validator
from .signing import is_remote_name

Validator = tuple[int, int, int, str]


class Validators:
    """Validators of files, remembering up to ``size`` paths found on a local filesystem."""

    def __init__(self, pool: Executor, size: int = 64) -> None:
        self._pool, self._size = pool, size
        self._local: OrderedDict[str, None] = OrderedDict()

    async def current(self, path: str) -> Validator:
        """``path``'s validator now; raises FileNotFoundError as current_validator does."""
        if path in self._local:
            self._local.move_to_end(path)
            return current_validator(path)
        loop = asyncio.get_running_loop()
        validator, local = await loop.run_in_executor(self._pool, _validator_and_place, path)
        if local:
            self._local[path] = None
            while len(self._local) > self._size:
                self._local.popitem(last=False)
        return validator


def _validator_and_place(path: str) -> tuple[Validator, bool]:
    validator = current_validator(path)
    return validator, not is_remote_name(path) and is_local(os.stat(path).st_dev)

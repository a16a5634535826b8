"""validators.py: a local file's validator is read on the event loop once it is known to be local;
anything else goes through the pool every time."""

import asyncio
import os

import pytest
from helpers import CountingPool

from jupyter_rangevideo.fdcache import is_local
from jupyter_rangevideo.signing import is_remote_name
from jupyter_rangevideo.validators import Validators


def test_a_local_file_leaves_the_loop_once_and_its_changes_still_show(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"x" * 10)
    assert is_local(os.stat(path).st_dev)  # the test's premise: tmp_path is on a local disk
    pool = CountingPool()

    async def run():
        validators = Validators(pool)
        first = await validators.current(str(path))
        again = await validators.current(str(path))
        path.write_bytes(b"y" * 20)
        changed = await validators.current(str(path))
        path.unlink()
        with pytest.raises(FileNotFoundError):
            await validators.current(str(path))
        return first, again, changed

    with pool:
        first, again, changed = asyncio.run(run())
    assert pool.trips == 1
    assert first == again and changed != first and changed[0] == 20


UNKNOWN_REMOTE = "~remote/" + "0" * 32 + "/run.mp4"


def test_remote_names_and_forgotten_paths_go_through_the_pool(tmp_path):
    """(A registered remote object: test_remote.py.)"""
    assert is_remote_name(UNKNOWN_REMOTE)
    pool = CountingPool()
    paths = [tmp_path / f"{n}.mp4" for n in range(3)]
    for path in paths:
        path.write_bytes(b"x")

    async def run():
        validators = Validators(pool, size=2)
        for _ in range(2):
            with pytest.raises(FileNotFoundError):  # a name this machine has no record of
                await validators.current(UNKNOWN_REMOTE)
        for path in paths:  # the third pushes the first out
            await validators.current(str(path))
        await validators.current(str(paths[0]))

    with pool:
        asyncio.run(run())
    assert pool.trips == 2 + 3 + 1

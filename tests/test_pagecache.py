"""The page-cache residency check, on a real file on this machine's disk."""

import os
import platform
import sys

import pytest
from helpers import evict

from jupyter_rangevideo import pagecache

PAGE = pagecache.PAGE_SIZE


def _kernel_has_cachestat():
    if sys.platform != "linux":
        return False
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    return (major, minor) >= (6, 5)


pytestmark = pytest.mark.skipif(not _kernel_has_cachestat(), reason="cachestat(2) needs Linux 6.5")


@pytest.fixture
def evicted(tmp_path):
    """A 64-page file on disk, written back and dropped from the page cache."""
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(64 * PAGE))
    evict(path)
    fd = os.open(path, os.O_RDONLY)
    yield fd
    os.close(fd)


def test_the_call_is_found_on_this_kernel():
    assert pagecache.available()


def test_bytes_read_are_resident_and_dropped_ones_are_not(evicted):
    assert not pagecache.resident(evicted, 0, 64 * PAGE)
    os.pread(evicted, 3 * PAGE, 10 * PAGE)
    assert pagecache.resident(evicted, 10 * PAGE, 13 * PAGE)
    # Any byte of a page counts the whole page; one page missing makes the span not resident.
    assert pagecache.resident(evicted, 10 * PAGE + 100, 13 * PAGE - 100)
    assert not pagecache.resident(evicted, 10 * PAGE, 13 * PAGE + 1)
    assert not pagecache.resident(evicted, 10 * PAGE - 1, 12 * PAGE)
    os.posix_fadvise(evicted, 0, 0, os.POSIX_FADV_DONTNEED)  # dropped again
    assert not pagecache.resident(evicted, 10 * PAGE, 13 * PAGE)


def test_what_cannot_be_known_is_not_resident(evicted):
    os.pread(evicted, 64 * PAGE, 0)
    assert pagecache.resident(evicted, 0, 64 * PAGE)
    assert not pagecache.resident(evicted, 5, 5)  # an empty span
    read_end, write_end = os.pipe()
    os.close(write_end)
    os.close(read_end)
    assert not pagecache.resident(read_end, 0, PAGE)  # a closed descriptor

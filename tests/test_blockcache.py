"""The remote objects' block cache: bounded, LRU, keyed by version, one fetch per block."""

import os
import subprocess
import sys
import threading
import time

import pytest

from jupyter_rangevideo.blockcache import BlockCache, object_key

BLOCK = 4096


def fetcher(calls, fill=b"x", length=BLOCK, delay=0.0):
    def fetch():
        calls.append(1)
        if delay:
            time.sleep(delay)
        return fill * length

    return fetch


def test_a_block_is_fetched_once_then_read_from_disk(tmp_path):
    cache = BlockCache(tmp_path, 10 * BLOCK, BLOCK)
    calls = []
    key = object_key("s3://b/k.mp4", "etag-1", BLOCK)
    assert cache.block(key, 0, BLOCK, fetcher(calls)) == b"x" * BLOCK
    assert cache.block(key, 0, BLOCK, fetcher(calls, b"y")) == b"x" * BLOCK
    assert len(calls) == 1
    assert cache.stats["fetched"] == BLOCK and cache.stats["hits"] == 1


def test_a_new_version_never_reads_the_old_blocks(tmp_path):
    cache = BlockCache(tmp_path, 10 * BLOCK, BLOCK)
    old = object_key("s3://b/k.mp4", "etag-1", BLOCK)
    new = object_key("s3://b/k.mp4", "etag-2", BLOCK)
    assert old != new
    cache.block(old, 0, BLOCK, fetcher([], b"o"))
    assert cache.block(new, 0, BLOCK, fetcher([], b"n")) == b"n" * BLOCK
    # Another block size is another key too: blocks never mix sizes.
    assert object_key("s3://b/k.mp4", "etag-1", 2 * BLOCK) != old


def test_bytes_stay_bounded_least_recently_used_out_first(tmp_path):
    cache = BlockCache(tmp_path, 4 * BLOCK, BLOCK)
    key = object_key("u", "v", BLOCK)
    for index in range(4):
        cache.block(key, index, BLOCK, fetcher([]))
        past = time.time() - 100 + index
        os.utime(cache.path(key, index), (past, past))
    cache.block(key, 0, BLOCK, fetcher([]))  # read: now the most recent
    for index in range(4, 7):
        cache.block(key, index, BLOCK, fetcher([]))
    assert cache.size() <= 4 * BLOCK
    assert [cache.cached(key, index) for index in range(7)] == [True, False, False, False, True, True, True]
    assert cache.stats["evicted"] == 3


def test_concurrent_readers_of_a_block_share_one_fetch(tmp_path):
    cache = BlockCache(tmp_path, 10 * BLOCK, BLOCK)
    calls = []
    key = object_key("u", "v", BLOCK)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.block(key, 3, BLOCK, fetcher(calls, delay=0.2))))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [b"x" * BLOCK] * 8
    assert len(calls) == 1


def test_a_failed_fetch_reaches_every_waiter_and_stores_nothing(tmp_path):
    cache = BlockCache(tmp_path, 10 * BLOCK, BLOCK)
    key = object_key("u", "v", BLOCK)

    def failing():
        time.sleep(0.1)
        raise PermissionError("expired")

    errors = []

    def read():
        try:
            cache.block(key, 0, BLOCK, failing)
        except PermissionError as e:
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(errors) == 4
    assert not cache.cached(key, 0)


def test_a_short_answer_is_refused_and_a_damaged_block_fetched_again(tmp_path):
    cache = BlockCache(tmp_path, 10 * BLOCK, BLOCK)
    key = object_key("u", "v", BLOCK)
    with pytest.raises(OSError, match="returned 10 bytes"):
        cache.block(key, 0, BLOCK, fetcher([], length=10))
    cache.block(key, 1, BLOCK, fetcher([]))
    cache.path(key, 1).write_bytes(b"short")
    calls = []
    assert cache.block(key, 1, BLOCK, fetcher(calls, b"z")) == b"z" * BLOCK
    assert calls


WRITER = """
import sys
from jupyter_rangevideo.blockcache import BlockCache, object_key
cache = BlockCache(sys.argv[1], 64 * 4096, 4096)
key = object_key("shared", "v", 4096)
for round in range(20):
    for index in range(16):
        data = cache.block(key, index, 4096, lambda: bytes([index]) * 4096)
        assert data == bytes([index]) * 4096, (index, data[:8])
"""


def test_processes_sharing_a_directory_never_see_half_a_block(tmp_path):
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    cache = BlockCache(tmp_path, 64 * 4096, 4096)
    key = object_key("shared", "v", 4096)
    for index in range(16):
        assert cache.path(key, index).read_bytes() == bytes([index]) * 4096

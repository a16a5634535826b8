"""The cache of open files: reused while nothing changed, re-opened with every check otherwise."""

import os

import pytest
from helpers import folder_with_video, open_fds, swap_for_symlink
from tornado import web

from jupyter_rangevideo.fdcache import DescriptorCache
from jupyter_rangevideo.streaming import open_regular_file


@pytest.fixture
def opened():
    """A cache over the handler's real opener, counting the opens."""
    calls = []

    def opener(path):
        calls.append(path)
        return open_regular_file(path)

    cache = DescriptorCache(opener, max_entries=2, idle_seconds=60)
    yield cache, calls
    cache.close()


def serve_once(cache, path):
    entry = cache.acquire(path)
    try:
        return entry.fd, os.pread(entry.fd, 100, 0)
    finally:
        cache.release(entry)


def test_an_unchanged_file_is_opened_once(tmp_path, opened):
    cache, calls = opened
    video = tmp_path / "v.mp4"
    video.write_bytes(b"VIDEO")
    first = serve_once(cache, str(video))
    assert serve_once(cache, str(video)) == first
    assert calls == [str(video)]


def _rewrite(path):
    path.write_bytes(b"VIDEO, longer")


def _replace(path):
    new = path.with_name("new.tmp")
    new.write_bytes(b"OTHER")
    os.replace(new, path)


def _chmod(path):
    path.chmod(0o600)


@pytest.mark.parametrize("change", [_rewrite, _replace, _chmod])
def test_a_changed_file_is_opened_again(tmp_path, opened, change):
    cache, calls = opened
    video = tmp_path / "v.mp4"
    video.write_bytes(b"VIDEO")
    video.chmod(0o644)
    serve_once(cache, str(video))
    change(video)
    assert serve_once(cache, str(video))[1] == video.read_bytes()
    assert calls == [str(video)] * 2


def test_a_directory_swapped_for_a_symlink_is_refused_even_when_cached(tmp_path, opened):
    cache, _ = opened
    video = folder_with_video(tmp_path / "shared")
    private = folder_with_video(tmp_path / "private", b"PRIVATE").parent
    serve_once(cache, str(video))
    swap_for_symlink(video.parent, private)
    with pytest.raises(web.HTTPError) as refused:
        serve_once(cache, str(video))
    assert refused.value.status_code == 404


def test_the_same_directory_back_through_a_symlink_is_refused_too(tmp_path, opened):
    # The inode is unchanged, but the descriptor's path moved: a fresh open would refuse.
    cache, _ = opened
    video = folder_with_video(tmp_path / "shared")
    serve_once(cache, str(video))
    swap_for_symlink(video.parent, tmp_path / "moved")
    with pytest.raises(web.HTTPError):
        serve_once(cache, str(video))


def test_a_deleted_file_is_dropped_and_closed(tmp_path, opened):
    cache, _ = opened
    video = tmp_path / "v.mp4"
    video.write_bytes(b"VIDEO")
    serve_once(cache, str(video))
    fds = open_fds()
    video.unlink()
    with pytest.raises(web.HTTPError):
        serve_once(cache, str(video))
    assert len(cache) == 0 and open_fds() == fds - 1


def test_bounded_and_a_lent_descriptor_outlives_its_eviction(tmp_path, opened):
    cache, _ = opened
    paths = []
    for n in range(3):
        paths.append(tmp_path / f"{n}.mp4")
        paths[-1].write_bytes(b"%d" % n)
    fds = open_fds()
    held = cache.acquire(str(paths[0]))
    serve_once(cache, str(paths[1]))
    serve_once(cache, str(paths[2]))  # evicts paths[0], still in use
    assert len(cache) == 2 and open_fds() == fds + 3
    assert os.pread(held.fd, 10, 0) == b"0"
    cache.release(held)
    assert open_fds() == fds + 2


def test_idle_entries_are_closed_by_a_sweep(tmp_path):
    cache = DescriptorCache(open_regular_file, idle_seconds=0)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"VIDEO")
    fds = open_fds()
    held = cache.acquire(str(video))
    assert cache.sweep() is not None  # in use: kept
    cache.release(held)
    assert cache.sweep() is None
    assert len(cache) == 0 and open_fds() == fds


def test_a_discarded_entry_is_closed_and_close_caches_nothing_more(tmp_path, opened):
    cache, _ = opened
    video = tmp_path / "v.mp4"
    video.write_bytes(b"VIDEO")
    fds = open_fds()
    entry = cache.acquire(str(video))
    cache.release(entry, discard=True)
    assert len(cache) == 0 and open_fds() == fds
    serve_once(cache, str(video))
    cache.close()
    assert open_fds() == fds
    serve_once(cache, str(video))
    assert len(cache) == 0 and open_fds() == fds

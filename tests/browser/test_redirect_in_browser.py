"""delivery="redirect" in a real browser: a video in moto's S3 on 127.0.0.1, which here refuses
expired presigned URLs as S3 does (remote_stores.PresignedRules), shown with presigned URLs that
last 4 s. The browser fetches the object from the store; a far seek after a pause longer than
that shows the right frame, because the page loaded its own URL again first; with the page's
timing lengthened beyond the store URL's life, the store refuses, and the page loads its URL
again once the seek stalls (Chromium retries a refused range for about 30 s before its error);
an object gone from the store is said in plain words. Frames are read from
screenshots: the picture comes from another origin (the store's), so a canvas cannot read it."""

import time

import pytest
from conftest import (
    FPS,
    VIDEO,
    create_notebook,
    frame_in_screenshot,
    kernel_eval,
    kernel_value,
    open_notebook,
    record,
    run_all_cells,
    wait_for_kernel,
    wait_for_screenshot_frame,
)
from remote_stores import MotoS3

from jupyter_rangevideo.sample import write_sample

LIFETIME = 4  # seconds each presigned URL lasts
KEY = "runs/redirect.mp4"
# The page's count of the media element's errors (they do not bubble: caught on the way down).
COUNT_ERRORS = """() => {
    window.mediaErrors = [];
    document.addEventListener('error', (event) => {
        if (event.target.matches?.('video.jp-RangeVideo-video')) window.mediaErrors.push(event.target.error?.message ?? '');
    }, true);
}"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # About 10 MB: a seek 5 s away asks the store for bytes the browser has not read yet.
    video = write_sample(
        tmp_path_factory.mktemp("redirect") / "redirect.mp4",
        duration=12,
        fps=FPS,
        size=(640, 360),
        noise=True,
    )
    s3 = MotoS3().start()
    try:
        client = s3.client()
        client.create_bucket(Bucket="videos")
        client.upload_file(str(video), "videos", KEY)
        yield s3
    finally:
        s3.stop()


def store_gets(store, since=0.0, expired=False):
    return [r for r in store.presigned if r.at >= since and r.method == "GET" and r.expired == expired]


def seek_after_expiry(page, store, frame):
    """Wait until the last presigned URL has expired, then show ``frame`` from the kernel;
    return when it was asked for, and the frames seen on screen until it was shown."""
    time.sleep(LIFETIME + 1.5)
    asked = time.monotonic()
    shown = [frame_in_screenshot(page, VIDEO)]
    kernel_eval(page, f"p.frame = {frame}")
    deadline = time.monotonic() + 60
    while shown[-1] != frame and time.monotonic() < deadline:
        shown.append(frame_in_screenshot(page, VIDEO))
    wait_for_screenshot_frame(page, VIDEO, frame, tolerance=0)
    record(
        f"redirect: seconds from p.frame = {frame} to it on screen, after the URL expired",
        time.monotonic() - asked,
    )
    wait_for_kernel(page, "p.frame", frame)
    return asked, shown


def test_a_redirected_video_plays_from_its_store_and_renews_its_url(page, servers, store):
    server = servers("lab")
    options = store.options()
    create_notebook(
        server,
        "redirect.ipynb",
        [
            (
                "import jupyter_rangevideo as rangevideo\n"
                f"p = rangevideo.show('s3://videos/{KEY}', storage_options={options!r}, delivery='redirect', "
                f"redirect_seconds={LIFETIME}, proxy=False, controls=False)"
            )
        ],
    )
    open_notebook(page, server, "redirect.ipynb")
    page.evaluate(COUNT_ERRORS)
    run_all_cells(page)
    wait_for_screenshot_frame(page, VIDEO, 0, tolerance=0, timeout=60)
    assert store_gets(store), "the browser did not fetch the video from the store"
    # The page and the notebook hold the player's own URL, never the store's.
    seen = page.evaluate(
        "() => [...document.querySelectorAll('.jp-OutputArea')].map((e) => e.innerHTML).join()"
        " + document.querySelector('video.jp-RangeVideo-video').currentSrc"
    )
    for secret in (MotoS3.SECRET, MotoS3.KEY, store.endpoint, KEY, "X-Amz"):
        assert secret not in seen, secret

    # Paused longer than a presigned URL lasts, then a seek: the page renews before the store refuses.
    asked, shown = seek_after_expiry(page, store, 260)
    assert page.evaluate("() => window.mediaErrors") == []
    # While the element loads again, the frame it showed stays on screen (never a black picture).
    assert set(shown) == {0, 260}, shown
    assert store_gets(store, since=asked), "the seek's bytes did not come from the store"

    # The page counting on a longer life than the store's URL has: the store refuses (403), the
    # seek stalls, and the page loads the player's URL once more, at the same frame, before the
    # element gives up with an error.
    kernel_eval(page, "p.set_trait('redirect_seconds', 3600)")
    asked, shown = seek_after_expiry(page, store, 130)
    assert set(shown) == {260, 130}, shown
    assert store_gets(store, since=asked, expired=True), "the store did not refuse an expired URL"
    assert page.evaluate("() => window.mediaErrors") == []
    assert kernel_value(page, "p.error") == ""

    # Gone from the store: a second failure so soon is said in plain words, in the player and p.error.
    store.client().delete_object(Bucket="videos", Key=KEY)
    kernel_eval(page, "p.frame = 40")
    page.wait_for_selector(".jp-RangeVideo-message:not([hidden])", timeout=60_000)
    message = page.locator(".jp-RangeVideo-message").inner_text()
    assert "could not be loaded from its store" in message and 'delivery="redirect"' in message, message
    assert kernel_value(page, "p.error") == message

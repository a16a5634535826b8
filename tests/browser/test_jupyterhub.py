"""The player behind a real JupyterHub: login form, configurable-http-proxy, spawned server.

A person logs in to the hub in Chromium, JupyterLab opens at /user/tester/lab, a notebook
shows a video that lies outside the user's root, and the frames seen in the page (read from
canvas pixels) follow seeks made in the page and in Python. The same video URL requested
without the hub's login cookie gets no byte of the video.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import (
    FPS,
    VIDEO,
    kernel_value,
    notebook_json,
    record,
    run_all_cells,
    seek_in_page,
    wait_for_frame,
    wait_for_notebook,
)
from helpers import free_port

from jupyter_rangevideo.sample import write_sample

USER = "tester"
PASSWORD = secrets.token_hex(8)

HUB_CONFIG = """
import sys
c.JupyterHub.bind_url = {public!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{tmp}/jupyterhub.pid"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = "{tmp}/proxy.pid"
c.ConfigurableHTTPProxy.auth_token = {proxy_token!r}

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.Spawner.ip = "127.0.0.1"
# The single-user server must run the Python that has jupyter_rangevideo installed.
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = [
    "--allow-root",  # the tests run as root
    "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, for the helpers
    "--LabApp.news_url=",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.workspaces_dir={tmp}/workspaces",
]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {{
    # Server and kernel share the runtime dir, thus the URL-signing secret.
    "JUPYTER_RUNTIME_DIR": "{tmp}/runtime",
    "JUPYTER_CONFIG_DIR": "{tmp}/jupyter-config",
    "IPYTHONDIR": "{tmp}/ipython",
}}
# Two busy cores: starting a server can take a while.
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
"""


class Hub:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.url = f"http://127.0.0.1:{free_port()}/"
        config = tmp / "jupyterhub_config.py"
        config.write_text(
            HUB_CONFIG.format(
                public=self.url,
                hub_port=free_port(),
                api_port=free_port(),
                tmp=tmp,
                proxy_token=secrets.token_hex(16),
                password=PASSWORD,
            )
        )
        self.log_path = tmp / "jupyterhub.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - the hub's output for its lifetime, closed at stop
        # A new session: teardown can signal the hub, its proxy and the user's server together.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=tmp,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_tail(self, chars: int = 4000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Through the proxy, so both the proxy and the hub answer.
                with urllib.request.urlopen(self.url + "hub/api/", timeout=10) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("JupyterHub did not start:\n" + self.log_tail())
            time.sleep(0.3)

    def stop(self) -> None:
        # SIGTERM lets the hub stop the proxy and the spawned server; then kill what is left.
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jupyterhub")
    hub = Hub(tmp)
    try:
        hub.wait_ready()
        yield hub
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """The harness's small video (12 s, 25 fps, 640x360), outside the user's home."""
    folder = tmp_path_factory.mktemp("video-outside-home")
    return write_sample(folder / "small.mp4", duration=12, fps=FPS, size=(640, 360), noise=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx becomes an HTTPError we can inspect


def anonymous_get(url: str):
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Range": "bytes=0-"})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_player_through_jupyterhub(page, hub, video):
    # 1. The hub refuses a wrong password, then accepts the right one.
    page.goto(hub.url + "hub/login")
    page.fill("#username_input", USER)
    page.fill("#password_input", "wrong-" + PASSWORD)
    page.click("#login_submit")
    page.wait_for_selector("text=Invalid username or password")

    page.fill("#username_input", USER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)

    # 2. JupyterLab, through the proxy, once the spawner has started the user's server.
    started_spawn = time.monotonic()
    try:
        page.goto(hub.url + f"user/{USER}/lab", timeout=120_000)
        page.wait_for_function(
            "() => window.jupyterapp?.serviceManager?.isReady && window.jupyterapp.shell",
            timeout=120_000,
        )
    except Exception as error:
        raise AssertionError(f"JupyterLab did not open at {page.url}: {error}\n{hub.log_tail()}") from error
    assert page.url.startswith(hub.url + f"user/{USER}/lab"), page.url
    spawned = round(time.monotonic() - started_spawn, 1)
    record("jupyterhub: login to JupyterLab ready, with spawn (s)", spawned)

    # 3. A notebook saved through the user's server, with the browser's hub session.
    name = "hub.ipynb"
    assert not str(video).startswith(str(hub.tmp / "home"))  # the video is outside the user's root
    cell = f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(video)!r})"
    page.evaluate(
        """([name, content]) => window.jupyterapp.serviceManager.contents.save(
            name, {type: 'notebook', format: 'json', content})""",
        [name, notebook_json([cell])],
    )
    assert (hub.tmp / "home" / USER / name).exists()  # the spawner's HOME is the server's root

    page.goto(hub.url + f"user/{USER}/lab/tree/{name}?reset")
    wait_for_notebook(page, name)

    # 4. First frame, a seek in the page, and Python control, all through the proxy.
    started = run_all_cells(page)
    first_frame = wait_for_frame(page, 0, timeout=60)
    record("jupyterhub: cell run to first frame, 10 MB file (ms)", round(first_frame - started))

    src = page.evaluate("(s) => document.querySelector(s).currentSrc", VIDEO)
    assert src.startswith(hub.url + f"user/{USER}/"), src  # served by the user's server behind the proxy

    asked = seek_in_page(page, 3.0)
    shown = wait_for_frame(page, round(3.0 * FPS))
    record("jupyterhub: seek to right frame, 10 MB file (ms)", round(shown - asked))
    deadline = time.monotonic() + 15
    while abs((now := kernel_value(page, "p.current_time")) - 3.0) >= 0.1:
        assert time.monotonic() < deadline, f"p.current_time is {now}, not 3.0"
        time.sleep(0.2)

    asked_at = page.evaluate("() => performance.now()")
    kernel_value(page, "p.seek(7.4)")
    shown = wait_for_frame(page, round(7.4 * FPS))
    record("jupyterhub: p.seek() to right frame (ms)", round(shown - asked_at))

    # 5. The same URL without the hub's cookie: a redirect to login or a refusal, never video bytes.
    status, headers, body = anonymous_get(src)
    print(f"\nanonymous GET of the video URL: {status} {headers.get('Location', '')}")
    assert status in (301, 302, 303, 307, 401, 403, 404), (status, dict(headers))
    assert not headers.get("Content-Type", "").startswith("video/"), dict(headers)
    head = video.read_bytes()[:4096]
    assert head[4:8] not in body and head[:64] not in body  # no "ftyp" box, no leading bytes
    if status in (301, 302, 303, 307):
        assert "login" in headers["Location"] or "oauth" in headers["Location"], headers["Location"]
    # Followed to its end, the redirect chain lands on the hub's login form.
    with urllib.request.urlopen(src, timeout=30) as response:
        assert "/hub/login" in response.url, response.url
        assert response.headers.get_content_type() == "text/html"
        assert head[:64] not in response.read()

    # Positive control: with the browser's session the very same URL does give the bytes.
    response = page.request.get(src, headers={"Range": "bytes=0-4095", "Referer": page.url})
    assert response.status == 206, response.status
    assert response.body() == head

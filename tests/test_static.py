"""The vendored hls.js, served by the extension and by the kernel's fallback server."""

import json
from pathlib import Path

import pytest
from helpers import http_get

from jupyter_rangevideo.kernel_server import KernelServer

ROOT = Path(__file__).parent.parent
VENDOR = ROOT / "jupyter_rangevideo" / "static" / "vendor"
HLS = "rangevideo/static/vendor/hls.light.min.mjs"


def test_vendored_files_are_there_with_their_license():
    # Minified by js/build.mjs from npm's unminified ESM light build (865,778 bytes).
    assert 100_000 < (VENDOR / "hls.light.min.mjs").stat().st_size < 400_000
    assert (VENDOR / "hls.worker.js").stat().st_size > 10_000
    assert "Apache License" in (VENDOR / "hls.js-LICENSE").read_text()
    assert "1.6.15" in (VENDOR / "README.md").read_text()
    module = (VENDOR / "hls.light.min.mjs").read_text()
    assert module.startswith("/*! hls.js 1.6.15 ")
    assert '"1.6.15"' in module  # hls.js's own version constant
    assert " as default" in module  # still an ES module with hls.js's default export
    # One version everywhere: npm's package the build minifies, and the URL the player asks for.
    package = json.loads((ROOT / "js" / "package.json").read_text())
    assert package["devDependencies"]["hls.js"] == "1.6.15"
    assert 'HLS_VERSION = "1.6.15"' in (ROOT / "js" / "src" / "hls-route.js").read_text()


async def test_extension_serves_the_module_as_javascript(fetch):
    response = await fetch(HLS)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.body == (VENDOR / "hls.light.min.mjs").read_bytes()
    # Public like Jupyter's own static files: nothing secret, and the login page is not needed.
    assert (await fetch(HLS, auth=False)).code == 200


@pytest.mark.parametrize(
    "path",
    ["rangevideo/static/../handlers.py", "rangevideo/static/nope.js", "rangevideo/static/%2e%2e/handlers.py"],
)
async def test_extension_serves_nothing_outside_static(fetch, path):
    assert (await fetch(path)).code in (403, 404)


@pytest.fixture
def kernel_server(runtime_dir):
    server = KernelServer().start()
    yield server
    server.stop()


def test_kernel_server_serves_the_module_behind_its_token(kernel_server):
    status, headers, body = http_get(kernel_server.base_url + HLS)
    assert status == 200
    assert headers["Content-Type"].startswith("text/javascript")
    # The page is on another origin: a module import needs CORS.
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert body == (VENDOR / "hls.light.min.mjs").read_bytes()
    wrong = kernel_server.base_url.replace(kernel_server.token, "0" * 32)
    assert http_get(wrong + HLS)[0] == 404
    assert http_get(kernel_server.base_url + "rangevideo/static/../signing.py")[0] in (403, 404)

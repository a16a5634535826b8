"""The prebuilt JupyterLab extension bundles player.js: it must be rebuilt when player.js changes."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
PLAYER = ROOT / "jupyter_rangevideo" / "static" / "player.js"
BUNDLE = ROOT / "labextension_stub" / "labextension" / "static"


def test_prebuilt_bundle_holds_the_current_player():
    # player.js's header names the hash of the sources it was built from (tests/test_bundle.py
    # checks that they are the current ones), and player.js exports the same hash, which the
    # renderer writes on its node: a minified bundle of it keeps the string.
    found = re.fullmatch(r"// sources-sha256: ([0-9a-f]{64})", PLAYER.read_text().split("\n", 3)[2])
    assert found, "player.js has no sources-sha256 header: rebuild it (cd js && npm ci && npm run build)"
    bundle = "".join(path.read_text() for path in BUNDLE.glob("*.js"))
    assert found.group(1) in bundle, (
        "labextension_stub/labextension is older than player.js; "
        "rebuild it: cd labextension_stub && npm install && npm run build"
    )
    # The player itself, not only its hash: what mountPlayer draws.
    for literal in (
        "jp-RangeVideo-video",
        "jp-RangeVideo-busy",
        "jp-RangeVideo-proxy",
        "jp-RangeVideo-tick",
    ):
        assert literal in bundle, literal

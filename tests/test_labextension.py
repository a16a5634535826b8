"""The prebuilt JupyterLab extension bundles player.js: it must be rebuilt when player.js changes."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
PLAYER = ROOT / "jupyter_rangevideo" / "static" / "player.js"
BUNDLE = ROOT / "labextension_stub" / "labextension" / "static"


def test_prebuilt_bundle_holds_the_current_player():
    # Minifying renames identifiers but keeps string literals: every longer literal of
    # player.js must be in the bundle, or the bundle was built from an older player.js.
    code = re.sub(r"/\*.*?\*/", "", PLAYER.read_text(), flags=re.DOTALL)  # comments are not in the bundle
    code = re.sub(r"(^|[\s;,{}()])//[^\n]*", r"\1", code, flags=re.MULTILINE)
    literals = {m.group(1) for m in re.finditer(r'"([^"\\\n]*)"', code) if len(m.group(1)) >= 6}
    for template in re.finditer(r"`([^`]*)`", code):  # the fixed text of template literals
        parts = re.split(r"\$\{[^}]*\}", template.group(1))
        literals.update(part for part in parts if len(part) >= 12 and not set(part) & set('\n"$`'))
    assert len(literals) > 10
    bundle = "".join(path.read_text() for path in BUNDLE.glob("*.js"))
    missing = sorted(literal for literal in literals if literal not in bundle)
    assert not missing, (
        f"labextension_stub/labextension is older than player.js (missing {missing[:3]}); "
        "rebuild it: cd labextension_stub && npm install && npm run build"
    )

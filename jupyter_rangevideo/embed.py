"""HTML that draws a player from its saved spec with the package's own module, no kernel, no CDN.

Used by the player's text/html output (an nbconvert export opened beside the video plays it
with the full player) and by ``rangevideo.export`` (a folder or one HTML file that plays
anywhere). The spec sits in a ``<script type="application/vnd.jupyter.rangevideo+json">``;
the module, inlined (a page opened from file:// cannot load module scripts from files),
mounts every such spec that has not been mounted yet, once per page.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

MIMETYPE = "application/vnd.jupyter.rangevideo+json"
# The player's bundle for exported pages (js/src/page.js): it mounts every saved spec on the
# page that is not mounted yet, once per page.
PAGE_JS = Path(__file__).parent / "static" / "page.js"
SPEC_CLASS = "jp-RangeVideo-saved"
# Set by page.js: a page with it carries the module already.
PAGE_FLAG = "__jupyterRangevideoPage"


@lru_cache(maxsize=4)
def _module_text(mtime_ns: int) -> str:
    source = PAGE_JS.read_text(encoding="utf-8")
    # Whole-line comments and indentation only: never touches code or strings.
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


def player_module() -> str:
    """The player's page module, compacted: it mounts every saved spec on the page."""
    return _module_text(PAGE_JS.stat().st_mtime_ns)


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def has_module(text: str) -> bool:
    """Whether an HTML fragment carries the inlined player module."""
    return PAGE_FLAG in text and '<script type="module">' in text


def module_script() -> str:
    text = re.sub(r"</(script)", r"<\\/\1", player_module(), flags=re.IGNORECASE)
    return f'<script type="module">\n{text}\n</script>'


def spec_html(spec: dict[str, Any], fallback: str, *, with_module: bool) -> str:
    """A holder that the module replaces with the player; ``fallback`` shows where scripts
    do not run (GitHub, nbviewer, a sanitizer)."""
    name = html.escape(str(spec.get("name", "")), quote=True)
    module = module_script() if with_module else ""
    return (
        f'<div class="{SPEC_CLASS}" data-name="{name}">{fallback}'
        f'<script type="{MIMETYPE}">{script_json(spec)}</script>{module}</div>'
    )

"""The package's own front-end files (the vendored hls.js), served by a public route.

player.js runs from a blob (anywidget) or a webpack bundle, so it cannot import a file
beside it: it imports the vendored hls.js from this route, and only when a file that is not
played directly is shown. The extension's handler is handlers.StaticHandler, the kernel's
fallback server's kernel_server.KernelStaticHandler; both set these headers.
"""

from __future__ import annotations

import os

from tornado import web

STATIC_ROUTE = "rangevideo/static"
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


def static_headers(handler: web.RequestHandler, path: str) -> None:
    """Headers for a public, unchanging-per-release script of this package."""
    if path.endswith((".mjs", ".js")):
        handler.set_header("Content-Type", "text/javascript; charset=utf-8")
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Cache-Control", "no-cache")  # revalidated: an upgrade is seen at once
    # Public library code: a page on another origin (the kernel's fallback server is
    # one) may import it as a module, which needs CORS. It grants nothing else.
    handler.set_header("Access-Control-Allow-Origin", "*")

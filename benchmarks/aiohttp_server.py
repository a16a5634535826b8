"""A reference server for the benchmark: aiohttp's FileResponse (sendfile, single ranges)."""

import sys
from pathlib import Path

from aiohttp import web

root = Path(sys.argv[2])


async def status(request):
    return web.json_response({"ok": True})


async def serve(request):
    path = (root / request.match_info["name"]).resolve()
    if path.parent != root.resolve():
        raise web.HTTPNotFound()
    return web.FileResponse(path)


app = web.Application()
app.router.add_get("/status", status)
app.router.add_get("/files/{name}", serve)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)

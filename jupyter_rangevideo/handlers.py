"""The extension's route handlers: authenticated, authorized and logged as Jupyter's own, thin.

- ``FileStreamHandler``: GET and HEAD of a file shared by a signed URL (streaming.py streams it);
- ``SegmentHandler``: its HLS playlist and segments (hls.py);
- ``StaticHandler``: the package's static files (static_files.py).

The kernel's fallback server (kernel_server.py) mixes the same streaming and HLS code into
handlers of its own.
"""

from __future__ import annotations

import functools
import logging

from jupyter_server.auth import IdentityProvider
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import FileFindHandler, JupyterHandler
from jupyter_server.log import log_request
from jupyter_server.prometheus.metrics import HTTP_REQUEST_DURATION_SECONDS
from prometheus_client import Histogram
from tornado import web

from .hls import SegmentMixin
from .identity import connection_identity
from .static_files import static_headers
from .streaming import RangeFileMixin, check_signature


class MediaHandler(JupyterHandler):
    """A JupyterHandler for the many small requests of a player: authenticated and logged as
    Jupyter's own handlers are, without the per-request work that changes nothing."""

    @property
    def identity_provider(self) -> IdentityProvider:
        # Asked once per connection and set of credentials (see identity.py); looked up
        # once per request, which asks for it four times.
        try:
            return self._rangevideo_identity
        except AttributeError:
            self._rangevideo_identity: IdentityProvider = connection_identity(self.settings)
            return self._rangevideo_identity

    def check_host(self) -> bool:
        # Jupyter's check parses the Host header (a regular expression, then an IP address)
        # on every request, and its answer depends only on that header and the server's
        # settings: a host it allowed is remembered (a few; not a UNIX socket's path, whose
        # answer depends on the file). A refused host is checked, and logged, every time.
        host = self.request.host
        allowed: set[str] = self.settings.setdefault("rangevideo_allowed_hosts", set())
        if host in allowed:
            return True
        if not super().check_host():
            return False
        if len(allowed) < _ALLOWED_HOSTS_MAX and "%" not in host and "/" not in host:
            allowed.add(host)
        return True

    def set_default_headers(self) -> None:
        # Jupyter's headers of every response (nosniff, its Content-Security-Policy and the
        # server's configured headers), built once for their settings rather than per request.
        try:
            for name, value in _default_headers(self):
                self.set_header(name, value)
        except (TypeError, ValueError):
            super().set_default_headers()  # which logs a configured header it cannot set

    def _log(self) -> None:
        # jupyter_server's log_request formats a success's line (scrubbing tokens from the URI)
        # even when debug logging is off, where it is dropped: a sixth of a small range's cost.
        # Then only its metric is recorded; anything else is logged as Jupyter logs it.
        status = self.get_status()
        if (status < 300 or status == 304) and not _emits_debug(self.log):
            record_metrics = _records_metrics(self.settings.get("log_function"))
            if record_metrics is not None:
                if record_metrics:
                    _record_metric(self)
                return
        super()._log()


# Hosts remembered as allowed by MediaHandler.check_host.
_ALLOWED_HOSTS_MAX = 32


def _default_headers(handler: JupyterHandler) -> list[tuple[str, str]]:
    """JupyterHandler.set_default_headers's headers, made once for the settings they come from."""
    settings = handler.settings
    configured = settings.get("headers", {})
    key = (tuple(configured.items()), settings.get("csp_report_uri"), handler.base_url)
    made: dict[object, list[tuple[str, str]]] = settings.setdefault("rangevideo_default_headers", {})
    headers = made.get(key)
    if headers is None:
        if len(made) >= 8:  # settings changed while serving: keep the latest only
            made.clear()
        # As jupyter_server's AuthenticatedHandler.set_default_headers builds them.
        merged = {"X-Content-Type-Options": "nosniff", **configured}
        merged["Content-Security-Policy"] = handler.content_security_policy
        headers = made[key] = list(merged.items())
    return headers


def _emits_debug(logger: logging.Logger) -> bool:
    """Whether a debug record would reach a handler. traitlets applications (Jupyter's) leave
    their logger at DEBUG and set the chosen level on its handlers."""
    if not logger.isEnabledFor(logging.DEBUG):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= logging.DEBUG for handler in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False  # logging's last resort handler takes warnings and worse only


def _record_metric(handler: web.RequestHandler) -> None:
    """What jupyter_server's prometheus_log_method records: the request's duration, labelled
    with its method, handler class and status. The labelled series is looked up once: the
    metric's labels() sorts and checks its arguments under a lock, more than observing costs.
    (jupyter_server never removes a series, which would leave the one kept here detached.)"""
    key = (handler.request.method, type(handler), handler.get_status())
    series = _series.get(key)
    if series is None:
        cls = type(handler)
        series = _series[key] = HTTP_REQUEST_DURATION_SECONDS.labels(
            method=key[0], handler=f"{cls.__module__}.{cls.__name__}", status_code=key[2]
        )
    series.observe(handler.request.request_time())


_series: dict[tuple[str | None, type, int], Histogram] = {}


def _records_metrics(log_function: object) -> bool | None:
    """Whether a server's log function, if it is jupyter_server's log_request, records the
    request's metric; None for any other log function."""
    if log_function is log_request:
        return True
    if isinstance(log_function, functools.partial) and log_function.func is log_request:
        return bool(log_function.keywords.get("record_prometheus_metrics", True))
    return None


class FileStreamHandler(RangeFileMixin, MediaHandler):
    """GET and HEAD of a file shared by a signed URL, for users of this Jupyter server."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self, signature: str, path: str) -> None:
        await self.serve_signed(signature, path, include_body=True)

    @web.authenticated
    @authorized
    async def head(self, signature: str, path: str) -> None:
        await self.serve_signed(signature, path, include_body=False)

    async def serve_signed(self, signature: str, path: str, include_body: bool) -> None:
        # As for /files/: a cookie-authenticated GET must carry an XSRF token or a
        # same-origin Referer, which a <video> element's request does.
        self.check_xsrf_cookie()
        path = check_signature(signature, path, self.settings["rangevideo_secret"])
        await self.serve_file(path, include_body)


class SegmentHandler(SegmentMixin, RangeFileMixin, MediaHandler):
    """GET and HEAD of the HLS playlist and segments of a file shared by a signed URL."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self, delivery: str, signature: str, path: str, name: str) -> None:
        self.check_xsrf_cookie()  # as for the file route
        await self.serve_hls(delivery, signature, path, name, include_body=True)

    @web.authenticated
    @authorized
    async def head(self, delivery: str, signature: str, path: str, name: str) -> None:
        self.check_xsrf_cookie()
        await self.serve_hls(delivery, signature, path, name, include_body=False)


class StaticHandler(FileFindHandler):
    """GET of the package's static files (like Jupyter's own /static/, public)."""

    def set_extra_headers(self, path: str) -> None:
        static_headers(self, path)

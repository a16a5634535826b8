"""Who a connection's credentials name, asked once per connection instead of once per request.

A seek sends many small range requests down one keep-alive connection, each with the same
token or cookie. Asking Jupyter's identity provider every time (a token compare, a signed
cookie's HMAC, and for a token a fresh login cookie) was a third of a small request's cost.
:class:`ConnectionIdentity` wraps the provider: the first request of a connection is
authenticated by it as usual, and a later request on the same connection with exactly the
same credentials, within :data:`REMEMBER_SECONDS`, gets the same user without asking again.
A request without a user (refused, or sent to log in) is never remembered.
"""

from __future__ import annotations

import inspect
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from jupyter_server.auth import IdentityProvider, User
    from tornado import web

# How long a connection's user is reused: short beside JupyterHub's own token cache (5 min),
# so that a revoked token or an expired cookie stops a connection within seconds.
REMEMBER_SECONDS = 10.0

Credentials = tuple[str | None, str | None, str]


def credentials(handler: web.RequestHandler) -> Credentials:
    """Everything an identity provider reads to know the user: the Authorization and Cookie
    headers, and the query string (for ``?token=``)."""
    request = handler.request
    return (request.headers.get("Authorization"), request.headers.get("Cookie"), request.query)


@dataclass(frozen=True)
class Remembered:
    credentials: Credentials
    user: User
    # jupyter_server exempts token-authenticated requests from its XSRF and origin checks.
    token_authenticated: bool
    expires: float

    def answers(self, asked: Credentials, now: float) -> bool:
        return asked == self.credentials and now < self.expires


class ConnectionIdentity:
    """Jupyter's identity provider, asked once per connection and set of credentials.

    Everything but :meth:`get_user` is the wrapped provider's own.
    """

    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider
        # Keyed by the connection's stream: an entry goes when its connection does.
        self._users: weakref.WeakKeyDictionary[object, Remembered] = weakref.WeakKeyDictionary()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)

    # Asked twice a request (CORS headers, the XSRF check): passed on without the failed
    # attribute look-up that reaching __getattr__ costs.
    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        return self.provider.is_token_authenticated(handler)

    def should_check_origin(self, handler: web.RequestHandler) -> bool:
        return self.provider.should_check_origin(handler)

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        stream = getattr(handler.request.connection, "stream", None)
        asked = credentials(handler)
        now = time.monotonic()
        remembered = self._users.get(stream) if stream is not None else None
        if remembered is not None and remembered.answers(asked, now):
            if remembered.token_authenticated:
                handler._token_authenticated = True  # type: ignore[attr-defined]
            return remembered.user
        answer = self.provider.get_user(handler)  # a provider's get_user may be async
        user = await answer if inspect.isawaitable(answer) else answer
        if user is not None and stream is not None:
            token_authenticated = bool(getattr(handler, "_token_authenticated", False))
            self._users[stream] = Remembered(asked, user, token_authenticated, now + REMEMBER_SECONDS)
        return user


def connection_identity(settings: dict[str, Any]) -> IdentityProvider:
    """The application's :class:`ConnectionIdentity` (made on first use), typed as the
    provider it stands in for."""
    wrapper: ConnectionIdentity | None = settings.get("rangevideo_identity")
    provider = settings["identity_provider"]
    if wrapper is None or wrapper.provider is not provider:
        wrapper = ConnectionIdentity(provider)
        settings["rangevideo_identity"] = wrapper
    return cast("IdentityProvider", wrapper)

"""Who may talk to the server and which files it may touch: origins, the LAN token, safe paths."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from ldm.invoke.files import (  # re-exported: the server's path checks are the engine's
    OUTPUTS_PREFIX,
    UnsafePathError,
    entry_inside,
    output_url_to_relative,
    relative_inside,
    relative_to_output_url,
)

from .config import LOOPBACK_HOSTS, ServerConfig, is_loopback

log = logging.getLogger(__name__)

TOKEN_COOKIE = "invokeai_token"
__all__ = ["OUTPUTS_PREFIX", "AccessGuard", "OriginPolicy", "UnsafePathError", "entry_inside",
           "output_url_to_relative", "relative_inside", "relative_to_output_url", "same_site_location"]


def same_site_location(path: str) -> str:
    """A redirect target on this server for a request path: one leading slash, whatever the path held.

    ``PATH_INFO`` arrives percent-decoded, so ``/%2F%2Fevil.example/`` is ``//evil.example/`` here,
    which a browser would read as another site (and ``/\\evil.example`` too). Every leading slash
    or backslash is folded into one and the rest is percent-encoded (``\\`` included). WSGI paths
    are bytes decoded as latin-1, so they are encoded back to those bytes first.
    """
    rest = path.lstrip("/\\")
    try:
        raw: str | bytes = rest.encode("latin-1")
    except UnicodeEncodeError:
        raw = rest
    return "/" + quote(raw, safe="/")


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1]
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


class OriginPolicy:
    """Same origin plus an explicit list: the ``cors_allowed_origins`` callable for Engine.IO."""

    def __init__(self, extra_origins: Iterable[str]) -> None:
        self.extra = set(extra_origins)

    def __call__(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return True  # not a browser; the token (when required) still applies
        if origin in self.extra:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        allowed = origin == own
        if not allowed:
            log.info("Refused a connection from origin %s (allowed: same origin and --cors).", origin)
        return allowed


class AccessGuard:
    """WSGI middleware in front of Flask and Socket.IO.

    On loopback it refuses requests whose Host header is not a loopback name, so a web page that
    rebinds its DNS name to 127.0.0.1 cannot reach the server. With a token it lets through only
    clients that present it: ``?token=`` on the first visit sets an HttpOnly cookie, which the
    browser then sends with every request, the Socket.IO handshake included.
    """

    def __init__(self, app: Callable[..., Any], config: ServerConfig) -> None:
        self.app = app
        self.config = config
        self.check_host = is_loopback(config.host)

    def _token_ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(str(value).encode(), self.config.token.encode())

    @staticmethod
    def _reply(start_response: Callable[..., Any], status: str, text: str, headers: list | None = None) -> list[bytes]:
        body = text.encode()
        start_response(
            status,
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))] + (headers or []),
        )
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST", "")
        if self.check_host and host and _hostname(host).lower() not in LOOPBACK_HOSTS:
            log.warning("Refused a request for host %r: this server only answers to loopback names.", host)
            return self._reply(start_response, "403 Forbidden", "This server only answers requests for localhost.\n")
        if not self.config.requires_token:
            return self.app(environ, start_response)

        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return self.app(environ, start_response)
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        query_token = next((v for k, v in query if k == "token"), None)
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        cookie_token = cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None

        if self._token_ok(query_token) and not path.startswith("/socket.io"):
            # Trade the token in the address bar for a cookie, then show the page without it.
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = same_site_location(path) + (f"?{rest}" if rest else "")
            cookie_header = f"{TOKEN_COOKIE}={self.config.token}; Path=/; HttpOnly; SameSite=Strict"
            return self._reply(
                start_response,
                "302 Found",
                "Signed in.\n",
                [("Location", location), ("Set-Cookie", cookie_header), ("Cache-Control", "no-store")],
            )
        if self._token_ok(query_token) or self._token_ok(cookie_token):
            return self.app(environ, start_response)
        return self._reply(
            start_response,
            "401 Unauthorized",
            "This InvokeAI server needs its access token. Open the full address it printed when it "
            "started (the one ending in ?token=...).\n",
        )

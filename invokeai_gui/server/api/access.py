"""Who may call the HTTP APIs: WSGI middleware in front of the studio's own ``AccessGuard``.

For ``/sdapi/`` and ``/v1/`` it does what a programmatic client needs instead of the browser's
token cookie: ``Authorization: Bearer TOKEN`` off loopback (an SDK's dummy key on loopback is
ignored), HTTP Basic when ``--api-auth`` is given (on loopback too, as AUTOMATIC1111 does). Cross-site
pages cannot drive it: a foreign ``Origin`` is refused, and a body must be JSON (multipart only on
the OpenAI upload endpoints), which a page can send only with a CORS preflight we never grant. A body
larger than ``limits.body_limit`` allows is refused (413) before it is read.
An ``/outputs/`` file with a valid Bearer header is served too, so the OpenAI API's URLs work off
loopback with the same token. Everything else goes to the ``AccessGuard`` unchanged."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from ..config import LOOPBACK_HOSTS, ServerConfig, is_loopback
from ..security import OriginPolicy
from ..uploads import UploadLimits
from .limits import body_limit, too_large_message

log = logging.getLogger(__name__)

A1111_PREFIX = "/sdapi/"
OPENAI_PREFIX = "/v1/"
CONTROLNET_PREFIX = "/controlnet/"  # the A1111 ControlNet extension's routes, guarded like /sdapi/
MULTIPART_PATHS = ("/v1/images/edits", "/v1/images/variations")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def is_api_path(path: str) -> bool:
    return path.startswith((A1111_PREFIX, OPENAI_PREFIX, CONTROLNET_PREFIX)) or path == "/v1"


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1]
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class ApiAccess:
    """``guarded`` is the app behind the AccessGuard (what every other path gets); ``app`` is the
    Flask app itself, which API requests reach once this middleware has checked them."""

    def __init__(self, guarded: Callable[..., Any], app: Callable[..., Any], config: ServerConfig,
                 limits: UploadLimits) -> None:
        self.guarded = guarded
        self.app = app
        self.config = config
        self.limits = limits
        self.origins = OriginPolicy(config.cors)
        self.check_host = is_loopback(config.host)

    # -- credentials ------------------------------------------------------------------------------

    def _authorization(self, environ: dict[str, Any]) -> tuple[str, str]:
        scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
        return scheme.lower(), value.strip()

    def _bearer_ok(self, environ: dict[str, Any]) -> bool:
        scheme, value = self._authorization(environ)
        return scheme == "bearer" and bool(value) and _same(value, self.config.token)

    def _basic_ok(self, environ: dict[str, Any]) -> bool:
        scheme, value = self._authorization(environ)
        if scheme != "basic" or not self.config.api_auth:
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return False
        ok = False
        for known_user, known_password in self.config.api_auth:  # no early exit: the time says nothing
            ok |= _same(user, known_user) & _same(password, known_password)
        return ok

    # -- the checks ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not is_api_path(path):
            if path.startswith("/outputs/") and self._host_ok(environ) and self._bearer_ok(environ):
                return self.app(environ, start_response)
            return self.guarded(environ, start_response)
        refusal = self._refusal(environ, path)
        if refusal is not None:
            status, message, headers = refusal
            return _reply(start_response, path, status, message, headers)
        return self.app(environ, start_response)

    def _host_ok(self, environ: dict[str, Any]) -> bool:
        host = environ.get("HTTP_HOST", "")
        return not (self.check_host and host and _hostname(host).lower() not in LOOPBACK_HOSTS)

    def _refusal(self, environ: dict[str, Any], path: str) -> tuple[str, str, list[tuple[str, str]]] | None:
        if not self._host_ok(environ):
            return "403 Forbidden", "This server only answers requests for localhost.", []
        origin = environ.get("HTTP_ORIGIN")
        if origin and not self.origins(origin, environ):
            return ("403 Forbidden", f"Requests from the web page at {origin} are refused: the API is for programs, "
                                     "and for the pages of origins named with --cors.", [])
        if self.config.api_auth:
            if not (self._basic_ok(environ) or self._bearer_ok(environ)):
                return ("401 Unauthorized", "This server needs the user name and password given with --api-auth "
                                            "(HTTP Basic).", [("WWW-Authenticate", 'Basic realm="InvokeAI"')])
        elif self.config.requires_token and not self._bearer_ok(environ):
            return ("401 Unauthorized", "This server needs its access token: send the header "
                                        "'Authorization: Bearer TOKEN' with the token it printed when it started.",
                    [("WWW-Authenticate", 'Bearer realm="InvokeAI"')])
        if environ.get("REQUEST_METHOD", "GET").upper() in BODY_METHODS and _has_body(environ):
            mimetype = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
            allowed = ["application/json"] + (["multipart/form-data"] if path in MULTIPART_PATHS else [])
            if mimetype not in allowed:
                return ("415 Unsupported Media Type",
                        f"The body must be {' or '.join(allowed)}, not {mimetype or 'untyped'}.", [])
            size = _content_length(environ)
            if size is not None and size > body_limit(path, self.limits):
                # Chunked bodies have no length: request.max_content_length stops those as they are read.
                return "413 Request Entity Too Large", too_large_message(path, self.limits, size), [("Connection", "close")]
        return None


def _content_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _has_body(environ: dict[str, Any]) -> bool:
    if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        return True
    try:
        return int(environ.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return True


def _reply(start_response: Callable[..., Any], path: str, status: str, message: str,
           headers: list[tuple[str, str]]) -> list[bytes]:
    """An error in the shape the API's clients parse: OpenAI's envelope, or FastAPI's ``detail``."""
    code = int(status.split()[0])
    if path.startswith((A1111_PREFIX, CONTROLNET_PREFIX)):
        payload: dict[str, Any] = {"detail": message}
    else:
        kind = {401: "authentication_error", 403: "permission_error"}.get(code, "invalid_request_error")
        payload = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))] + headers)
    return [body]


__all__ = ["ApiAccess", "is_api_path"]

"""Serving over HTTP: bind the port (a clear one-line error when it is taken), serve from a thread or
the calling one, shut down; and the address to open."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import (
    BaseWSGIServer,
    WSGIRequestHandler,
    get_sockaddr,
    make_server,
    select_address_family,
)

from ldm.invoke.errors import UserError

from .config import ServerConfig


class PortInUseError(UserError, OSError):
    """The port is taken; the message is the one line the command line prints."""


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, quiet unless --web_verbose (one log line per image request is noise)."""

    verbose = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.verbose:
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        # Mostly bytes a closing WebSocket leaves behind, parsed as a request; noise for users.
        if self.verbose:
            super().log_error(format, *args)


class HttpServer:
    """One listening socket and the thread that serves a WSGI app on it."""

    def __init__(self, wsgi_app: Callable[..., Any], config: ServerConfig) -> None:
        self.wsgi_app = wsgi_app
        self.config = config
        self._http: BaseWSGIServer | None = None
        self._serve_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._http.port if self._http is not None else self.config.port

    @property
    def url(self) -> str:
        """The address to open; with a token it carries ``?token=`` (the first visit sets the cookie)."""
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = _lan_address()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        url = f"http://{host}:{self.port}/"
        return url + f"?token={self.config.token}" if self.config.requires_token else url

    def bind(self) -> None:
        """Opens the listening socket; raises PortInUseError with a one-line message when it is taken."""
        if self._http is not None:
            return
        host, port = self.config.host, self.config.port
        family = select_address_family(host, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(get_sockaddr(host, port, family))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(
                    exc.errno,
                    f"Port {port} on {host} is already in use (or not allowed); stop the program using it "
                    f"or start with another --port.",
                ) from None
            raise PortInUseError(exc.errno, f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
        handler = type("RequestHandler", (_RequestHandler,), {"verbose": self.config.web_verbose})
        self._http = make_server(host, port, self.wsgi_app, threaded=True, request_handler=handler, fd=sock.fileno())
        sock.close()  # make_server holds its own duplicate of the socket
        self.config.port = self._http.port

    def start(self) -> None:
        """Serves from a daemon thread (bind first)."""
        assert self._http is not None, "bind() first"
        self._serve_thread = threading.Thread(target=self._http.serve_forever, name="http-server", daemon=True)
        self._serve_thread.start()

    def serve_forever(self) -> None:
        """Serves on the calling thread until ``shutdown`` is called from another thread."""
        assert self._http is not None, "bind() first"
        self._serve_thread = threading.current_thread()
        self._http.serve_forever()

    def shutdown(self) -> None:
        serving = self._serve_thread
        if self._http is not None:
            if serving is not None and serving is not threading.current_thread():
                self._http.shutdown()  # returns once serve_forever has left its loop
                if serving.daemon:
                    serving.join(timeout=10)
            self._http.server_close()


def _lan_address() -> str:
    """This machine's address on the LAN (a UDP "connect" sends nothing), for the printed URL."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()

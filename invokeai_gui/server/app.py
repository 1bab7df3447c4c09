"""The application factory: ``create_app(config)`` wires the Flask app, the Socket.IO server, the
studio behind them and the HTTP server into one ``InvokeServer`` (no module-level state)."""

from __future__ import annotations

import logging

from flask import Flask
from flask_socketio import SocketIO

from .api import register_apis
from .config import ServerConfig, is_loopback
from .events import register_events
from .http import HttpServer, PortInUseError
from .publisher import Publisher
from .routes import register_routes
from .security import AccessGuard, OriginPolicy, UnsafePathError
from .studio import Studio
from .uploads import UploadError

log = logging.getLogger(__name__)


class InvokeServer:
    """The running application: ``studio`` (the service), ``http`` (the socket it serves on) and the
    Flask + Socket.IO layer between them. Start it with ``start()`` (a background thread) or
    ``serve_forever()``; ``shutdown()`` stops both."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.flask_app = Flask(__name__, static_folder=None)
        self.flask_app.config["MAX_CONTENT_LENGTH"] = config.max_upload_bytes
        self.socketio = SocketIO(
            self.flask_app,
            async_mode="threading",
            cors_allowed_origins=OriginPolicy(config.cors),
            logger=config.web_verbose,
            engineio_logger=config.web_verbose,
            # Uploads arrive as Socket.IO binary messages. Up to twice the limit they are read and
            # refused with an `error` naming both sizes; beyond that Engine.IO drops the message
            # (the UI checks the size before sending). Leave room for the framing.
            max_http_buffer_size=2 * config.max_upload_bytes + 1024 * 1024,
            ping_interval=25,
            ping_timeout=60,
            # One client's events are handled in the order it sent them, on that client's own
            # connection thread (so a slow handler of one client never holds up another's).
            async_handlers=False,
        )
        # Outermost layer, so the Host and token checks also cover the Socket.IO handshake.
        self.flask_app.wsgi_app = AccessGuard(self.flask_app.wsgi_app, config)  # type: ignore[method-assign]
        self.publisher = Publisher(self.socketio)
        self.studio = Studio(config, self.publisher)
        register_routes(self.flask_app, self.studio)
        register_events(self.socketio, self.studio, self.publisher)
        register_apis(self.flask_app, self.studio)  # after the AccessGuard: it sits in front of it
        self.http = HttpServer(self.flask_app, config)
        self._stopped = False

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def port(self) -> int:
        return self.http.port

    def bind(self) -> None:
        self.http.bind()

    def start(self) -> str:
        """Binds, starts the studio, and serves from a daemon thread; returns the URL."""
        self.http.bind()
        self.studio.start()
        self.http.start()
        return self.url

    def serve_forever(self) -> None:
        """Binds and serves on the calling thread until ``shutdown`` (from another thread) or Ctrl-C."""
        self.http.bind()
        self.studio.start()
        try:
            self.http.serve_forever()
        finally:
            self.shutdown(cancel_running=True)

    def shutdown(self, cancel_running: bool = True) -> None:
        """Stops serving: the running job is canceled (or, with ``cancel_running=False``, finished
        first); jobs still waiting stay in the queue database and come back paused next time."""
        if self._stopped:
            return
        self._stopped = True
        self.studio.stop(cancel_running=cancel_running)
        self.http.shutdown()
        self._drop_connections()
        self.studio.close()

    def _drop_connections(self) -> None:
        """Closes every client's connection. Closing the listening socket leaves open WebSockets
        serving: an event on one (a gallery page asked for while the server goes down) would reach
        the closed gallery and answer with its error. The close is Engine.IO's, as a dropped
        transport, so a browser reconnects by itself once the server is back (a Socket.IO disconnect
        would tell it not to); it does not wait for the close to be sent, which a long-polling client
        between two requests would never collect now that the server takes no new ones."""
        eio = self.socketio.server.eio
        for connection in list(eio.sockets.values()):
            connection.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)


def create_app(config: ServerConfig) -> InvokeServer:
    """Builds the application; call ``.start()`` (background thread) or ``.serve_forever()`` on it."""
    if not is_loopback(config.host) and config.no_auth:
        log.warning(
            "Serving on %s without an access token (--no-auth): anyone on the network can use this server.",
            config.host,
        )
    return InvokeServer(config)


__all__ = ["InvokeServer", "PortInUseError", "ServerConfig", "UnsafePathError", "UploadError", "create_app"]

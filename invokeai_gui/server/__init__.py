"""The web server: Flask + Flask-SocketIO speaking the InvokeAI 2.1 protocol, a job queue and an indexed gallery.

    from invokeai_gui.server import ServerConfig, create_app
    server = create_app(ServerConfig(root=Path("~/invokeai")))
    print(server.start())        # serves from a background thread; returns the URL to open
"""

from .app import InvokeServer, PortInUseError, create_app
from .config import ServerConfig

__all__ = ["InvokeServer", "PortInUseError", "ServerConfig", "create_app"]

"""The web server: Flask + Flask-SocketIO speaking the InvokeAI 2.1 protocol, a job queue and an indexed gallery.

    from invokeai_gui.server import ServerConfig, create_app
    server = create_app(ServerConfig(root=Path("~/invokeai")))
    print(server.start())        # serves from a background thread; returns the URL to open

The names below are imported on first use, so that ``invokeai_gui.server.worker`` (which may run in
a process of its own) can be imported without Flask.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"InvokeServer": ".app", "create_app": ".app", "PortInUseError": ".http", "ServerConfig": ".config"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

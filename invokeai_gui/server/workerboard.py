"""``workersUpdate``: the list of workers (who, where, which model is loaded, which job runs, how fast),
sent to a client when it connects and broadcast whenever it changes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from .publisher import Publisher

WorkerRow = dict[str, Any]


def worker_row(name: str, host: str | None, facts: dict[str, Any], model: str | None, job: str | None,
               its_per_second: float, alive: bool) -> WorkerRow:
    """One worker as ``workersUpdate`` lists it."""
    return {"id": name, "host": host or socket.gethostname(), "device": facts.get("device"), "model": model,
            "job": job, "itsPerSecond": round(its_per_second, 3), "alive": alive}


class WorkerBoard:
    """Keeps the last list sent; ``update()`` broadcasts the list again only when it changed."""

    def __init__(self, publisher: Publisher, rows: Callable[[], list[WorkerRow]]) -> None:
        self._publisher = publisher
        self._rows = rows
        self._lock = threading.Lock()
        self._last: list[WorkerRow] | None = None
        self.rates: dict[str, float] = {}  # worker name → it/s of the last job it finished

    def current(self) -> list[WorkerRow]:
        return self._rows()

    def update(self) -> None:
        """Sends the list if it changed, under the lock that took it: two threads updating at once
        cannot deliver an older list after a newer one."""
        with self._lock:
            rows = self._rows()
            if rows == self._last:
                return
            self._last = rows
            self._publisher.broadcast("workersUpdate", {"workers": rows})


__all__ = ["WorkerBoard", "worker_row"]

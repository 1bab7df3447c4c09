"""Which files the user really dropped on the window, as the GUI toolkit saw them (not as the page says)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# A drop reaches Python through the page a moment after the toolkit saw it; anything older is stale.
DROP_MEMORY_SECONDS = 30.0


class DropWitness:
    """Paths of files the toolkit delivered in native drop events, each usable once.

    pywebview hands a drop to Python as the page's own DOM event. Script in the page could
    forge such an event naming any file on disk, so the path comes from what the toolkit
    itself delivered, matched by the file name the page reports. (With Qt 6 this is also the
    only source of the path: pywebview's own ``pywebviewFullPath`` hook on the web view never
    sees drops, which QtWebEngine delivers to an inner widget.)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._filter: Any = None  # the Qt event filter, kept alive while the window lives

    def saw(self, paths: Iterable[str | Path]) -> None:
        now = time.monotonic()
        with self._lock:
            for path in paths:
                self._seen[str(Path(path))] = now

    def claim(self, name: str, claimed_path: str | None = None) -> Path | None:
        """The path of a file named ``name`` the toolkit delivered in a drop within the last few
        seconds, used up by this call; None when there was no such drop.

        The page only knows file names. When it also names a path (pywebview's
        ``pywebviewFullPath``), that path must be the one the toolkit delivered.
        """
        now = time.monotonic()
        with self._lock:
            self._seen = {p: t for p, t in self._seen.items() if now - t <= DROP_MEMORY_SECONDS}
            candidates = sorted((t, p) for p, t in self._seen.items() if Path(p).name == name)
            if claimed_path is not None:
                candidates = [(t, p) for t, p in candidates if p == str(Path(claimed_path))]
            if not candidates:
                return None
            path = candidates[-1][1]
            del self._seen[path]
            return Path(path)

    def install_qt(self) -> None:
        """Watches every drop event the Qt application delivers; call on the GUI thread once it exists."""
        from PyQt6.QtCore import QEvent, QObject
        from PyQt6.QtWidgets import QApplication

        app = QApplication.instance()
        if app is None or self._filter is not None:
            return
        witness = self
        offered: list[str] = []

        def local_files(event: Any) -> list[str]:
            mime = event.mimeData()
            if mime is None or not mime.hasUrls():
                return []
            return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]

        class DropFilter(QObject):
            def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
                kind = event.type()
                if kind == QEvent.Type.DragEnter:
                    # Read while the drag is on: under X11 some sources no longer hand out their
                    # data once the drop has happened, though the drop itself goes through.
                    offered[:] = local_files(event) or offered
                elif kind == QEvent.Type.DragLeave:
                    offered.clear()
                elif kind == QEvent.Type.Drop:
                    witness.saw(local_files(event) or offered)
                    offered.clear()
                return False  # only watching: the web view still gets every event

        self._filter = DropFilter(app)
        app.installEventFilter(self._filter)

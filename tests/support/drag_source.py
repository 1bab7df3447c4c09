"""A tiny X drag source for desktop tests: a Qt window that drags the files named on its command line.

    python -m tests.support.drag_source X Y FILE [FILE ...]

It shows a 160×120 window at (X, Y); pressing the mouse in it starts a native (XDND) drag of
the files as ``file://`` URLs, so xdotool can carry them onto another window like a user would.
It prints ``ready`` once shown, then ``dropped <action>`` when the drag ends.
"""

from __future__ import annotations

import sys

from PyQt6.QtCore import QMimeData, Qt, QTimer, QUrl
from PyQt6.QtGui import QDrag
from PyQt6.QtWidgets import QApplication, QLabel


class DragSource(QLabel):
    def __init__(self, paths: list[str]) -> None:
        super().__init__("drag me")
        self.paths = paths
        self.setWindowTitle("drag source")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #f5b50a; color: black; font-size: 18px;")

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(p) for p in self.paths])
        drag = QDrag(self)
        drag.setMimeData(mime)
        action = drag.exec(Qt.DropAction.CopyAction)
        print(f"dropped {action.name}", flush=True)


def main() -> None:
    x, y, *paths = sys.argv[1:]
    app = QApplication(sys.argv[:1])
    source = DragSource(paths)
    source.setGeometry(int(x), int(y), 160, 120)
    source.show()
    QTimer.singleShot(300, lambda: print("ready", flush=True))
    app.exec()


if __name__ == "__main__":
    main()

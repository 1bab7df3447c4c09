"""The desktop window's own settings, kept as JSON in the root dir: where the window was, and what closing it does."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ldm.invoke.files import atomic_write

log = logging.getLogger(__name__)

SETTINGS_FILE = "desktop.json"
ON_CLOSE_CHOICES = ("cancel", "finish")
DEFAULT_SIZE = (1600, 1000)
MIN_SIZE = (800, 600)


@dataclass
class WindowPlacement:
    """Size and position of the window; x and y stay None until the window has been placed once."""

    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]
    x: int | None = None
    y: int | None = None
    maximized: bool = False

    @classmethod
    def from_json(cls, data: object) -> WindowPlacement:
        """Tolerates a hand-edited or older file: anything unusable falls back to the default."""
        placement = cls()
        if not isinstance(data, dict):
            return placement
        for name in ("width", "height"):
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(placement, name, value)
        for name in ("x", "y"):
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(placement, name, value)
        placement.maximized = data.get("maximized") is True
        # Never reopen smaller than the window allows, nor absurdly large after a monitor change.
        placement.width = min(max(placement.width, MIN_SIZE[0]), 16384)
        placement.height = min(max(placement.height, MIN_SIZE[1]), 16384)
        return placement


@dataclass
class DesktopSettings:
    """``desktop.json`` in the root dir. ``on_close``: what closing the window does with a running job."""

    window: WindowPlacement = field(default_factory=WindowPlacement)
    on_close: str = "cancel"

    @classmethod
    def load(cls, root: Path) -> DesktopSettings:
        path = Path(root) / SETTINGS_FILE
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("Ignoring the desktop settings in %s (%s); using the defaults.", path, exc)
            return cls()
        settings = cls()
        if isinstance(data, dict):
            settings.window = WindowPlacement.from_json(data.get("window"))
            if data.get("on_close") in ON_CLOSE_CHOICES:
                settings.on_close = data["on_close"]
        return settings

    def save(self, root: Path) -> None:
        """Written atomically, so a crash while saving never leaves a half-written file behind."""
        path = Path(root) / SETTINGS_FILE
        text = json.dumps(asdict(self), indent=2) + "\n"
        try:
            atomic_write(text.encode("utf-8"), path)
        except OSError as exc:
            log.warning("Could not save the window's size and position to %s: %s", path, exc)

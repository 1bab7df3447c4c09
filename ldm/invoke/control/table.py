"""The preprocessors by our id: their AUTOMATIC1111 module name, their settings with limits and
defaults, and the function that runs each. Plain data (no torch), so requests validate without it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..request import Limit


@dataclass(frozen=True)
class Setting:
    limit: Limit
    default: float
    a1111: str  # the extension's name for it (processor_res, threshold_a, threshold_b)


@dataclass(frozen=True)
class Preprocessor:
    id: str
    a1111: str  # the ControlNet extension's module name
    name: str  # what users read
    runs: str  # "module:function" in this package, imported when the preprocessor is used
    settings: dict[str, Setting] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "a1111": self.a1111, "name": self.name,
                "settings": {k: {**s.limit.as_dict(), "default": s.default} for k, s in self.settings.items()}}


PREPROCESSORS: dict[str, Preprocessor] = {p.id: p for p in (
    Preprocessor("none", "none", "None (the image is already a map)", "none:as_map"),
    Preprocessor("canny", "canny", "Canny edges", "canny:canny_edges", {
        "low_threshold": Setting(Limit(1, 255, integer=True), 100, "threshold_a"),
        "high_threshold": Setting(Limit(1, 255, integer=True), 200, "threshold_b"),
    }),
    Preprocessor("tile_resample", "tile_resample", "Tile (resample)", "tile:resample", {
        "down_sampling_rate": Setting(Limit(1, 8), 1.0, "threshold_a"),
    }),
)}


def preprocessor_ids() -> list[str]:
    return list(PREPROCESSORS)


def preprocessor_for_a1111(module: str) -> str | None:
    """Our id for an A1111 ControlNet module name (``canny``, ``tile_resample``, ``none``), or None."""
    wanted = (module or "none").strip().lower()
    for p in PREPROCESSORS.values():
        if p.a1111 == wanted or p.id == wanted:
            return p.id
    return None

"""The preprocessors by our id: their AUTOMATIC1111 module name, their settings with limits and
defaults, and the function that runs each. Plain data (no torch), so requests validate without it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..request import Limit

# Preprocessor networks' weights, by their upstream file names (lllyasviel/Annotators), under the root.
ANNOTATOR_FOLDER = Path("models") / "annotators"


@dataclass(frozen=True)
class Setting:
    limit: Limit
    default: float
    a1111: str  # the extension's name for it (processor_res, threshold_a, threshold_b)


RESOLUTION = Setting(Limit(64, 2048, integer=True), 512, "processor_res")  # the size a network sees


@dataclass(frozen=True)
class Preprocessor:
    id: str
    a1111: str  # the ControlNet extension's module name
    name: str  # what users read
    runs: str  # "module:function" in this package, imported when the preprocessor is used
    settings: dict[str, Setting] = field(default_factory=dict)
    weights: tuple[str, ...] = ()  # files the network needs in ROOT/models/annotators

    def as_dict(self, present: set[str] | frozenset[str] | None = None) -> dict[str, Any]:
        """As clients read it; with ``present`` (the annotator folder's file names) ``missing`` lists
        the weight files that are not there."""
        out = {"id": self.id, "a1111": self.a1111, "name": self.name,
               "settings": {k: {**s.limit.as_dict(), "default": s.default} for k, s in self.settings.items()},
               "weights": list(self.weights)}
        if present is not None:
            out["missing"] = [name for name in self.weights if name not in present]
        return out


PREPROCESSORS: dict[str, Preprocessor] = {p.id: p for p in (
    Preprocessor("none", "none", "None (the image is already a map)", "none:as_map"),
    Preprocessor("canny", "canny", "Canny edges", "canny:canny_edges", {
        "low_threshold": Setting(Limit(1, 255, integer=True), 100, "threshold_a"),
        "high_threshold": Setting(Limit(1, 255, integer=True), 200, "threshold_b"),
    }),
    Preprocessor("tile_resample", "tile_resample", "Tile (resample)", "tile:resample", {
        "down_sampling_rate": Setting(Limit(1, 8), 1.0, "threshold_a"),
    }),
    Preprocessor("softedge_hed", "softedge_hed", "Soft edge (HED)", "hed:soft_edges", {"resolution": RESOLUTION},
                 weights=("ControlNetHED.pth",)),
    Preprocessor("scribble_hed", "scribble_hed", "Scribble (HED)", "hed:scribble", {"resolution": RESOLUTION},
                 weights=("ControlNetHED.pth",)),
)}


def missing_weights(preprocessor: str, present: set[str] | frozenset[str]) -> list[str]:
    """The weight files ``preprocessor`` needs that are not among ``present`` (names in the annotator folder)."""
    return [name for name in PREPROCESSORS[preprocessor].weights if name not in present]


def annotator_files(root: Path) -> frozenset[str]:
    """The names of the files in ROOT/models/annotators."""
    folder = Path(root) / ANNOTATOR_FOLDER
    return frozenset(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else frozenset()


def preprocessor_ids() -> list[str]:
    return list(PREPROCESSORS)


def preprocessor_for_a1111(module: str) -> str | None:
    """Our id for an A1111 ControlNet module name (``canny``, ``tile_resample``, ``none``), or None."""
    wanted = (module or "none").strip().lower()
    for p in PREPROCESSORS.values():
        if p.a1111 == wanted or p.id == wanted:
            return p.id
    return None

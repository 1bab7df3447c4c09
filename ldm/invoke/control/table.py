"""The preprocessors by our id: their AUTOMATIC1111 module name, their settings with limits and
defaults, and the function that runs each. Plain data (no torch), so requests validate without it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..request import Limit

# Preprocessor networks' weights, by their upstream names, under the root.
ANNOTATOR_FOLDER = Path("models") / "annotators"
ANNOTATORS_REPO = "lllyasviel/Annotators"  # where every weights file of the table comes from


@dataclass(frozen=True)
class WeightsFolder:
    """A network kept as a folder (a transformers ``save_pretrained`` one), named after its upstream repo."""

    repo: str  # the Hugging Face repo it is a copy of
    holds: tuple[str, ...]  # the files it must have to load
    optional: tuple[str, ...] = ()  # files read when it has them

    @property
    def reads(self) -> tuple[str, ...]:
        return self.holds + self.optional


DEPTH_ANYTHING = "depth-anything-small-hf"  # depth_anything's folder

# The weights that are folders, by their name in the annotator folder; every other name a preprocessor
# needs is one file of ANNOTATORS_REPO.
WEIGHT_FOLDERS: dict[str, WeightsFolder] = {
    DEPTH_ANYTHING: WeightsFolder("LiheYoung/depth-anything-small-hf", ("config.json", "model.safetensors"),
                                             ("preprocessor_config.json",)),
}


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
    weights: tuple[str, ...] = ()  # files (or WEIGHT_FOLDERS) the network needs in ROOT/models/annotators
    masks: bool = False  # its map is RGBA: the transparent part is what the model fills (the hint is -1 there)

    def as_dict(self, present: set[str] | frozenset[str] | None = None) -> dict[str, Any]:
        """As clients read it: ``weights`` the names, ``sources`` the upstream repo of each (``folders``
        those that are folders); with ``present`` (``annotator_files``) ``missing`` lists those not there."""
        out = {"id": self.id, "a1111": self.a1111, "name": self.name,
               "settings": {k: {**s.limit.as_dict(), "default": s.default} for k, s in self.settings.items()},
               "weights": list(self.weights), "sources": {name: weights_repo(name) for name in self.weights},
               "folders": [name for name in self.weights if name in WEIGHT_FOLDERS], "masks": self.masks}
        if present is not None:
            out["missing"] = [name for name in self.weights if name not in present]
        return out


PREPROCESSORS: dict[str, Preprocessor] = {p.id: p for p in (
    Preprocessor("none", "none", "None (the image is already a map)", "none:as_map"),
    Preprocessor("canny", "canny", "Canny edges", "canny:canny_edges", {
        "low_threshold": Setting(Limit(1, 255, integer=True), 100, "threshold_a"),
        "high_threshold": Setting(Limit(1, 255, integer=True), 200, "threshold_b"),
    }),
    Preprocessor("inpaint_only", "inpaint_only", "Inpaint (fills the transparent part)", "inpaint:inpaint_map",
                 masks=True),
    Preprocessor("tile_resample", "tile_resample", "Tile (resample)", "tile:resample", {
        "down_sampling_rate": Setting(Limit(1, 8), 1.0, "threshold_a"),
    }),
    Preprocessor("softedge_hed", "softedge_hed", "Soft edge (HED)", "hed:soft_edges", {"resolution": RESOLUTION},
                 weights=("ControlNetHED.pth",)),
    Preprocessor("scribble_hed", "scribble_hed", "Scribble (HED)", "hed:scribble", {"resolution": RESOLUTION},
                 weights=("ControlNetHED.pth",)),
    Preprocessor("softedge_pidinet", "softedge_pidinet", "Soft edge (PiDiNet)", "pidinet:soft_edges",
                 {"resolution": RESOLUTION}, weights=("table5_pidinet.pth",)),
    Preprocessor("lineart_realistic", "lineart_realistic", "Line art (realistic)", "lineart:realistic",
                 {"resolution": RESOLUTION}, weights=("sk_model.pth",)),
    Preprocessor("lineart_coarse", "lineart_coarse", "Line art (coarse)", "lineart:coarse",
                 {"resolution": RESOLUTION}, weights=("sk_model2.pth",)),
    Preprocessor("depth_midas", "depth_midas", "Depth (MiDaS)", "depth:midas", {"resolution": RESOLUTION},
                 weights=("dpt_hybrid-midas-501f0c75.pt",)),
    Preprocessor("depth_anything", "depth_anything", "Depth (Depth Anything)", "depth_anything:depth",
                 {"resolution": RESOLUTION}, weights=(DEPTH_ANYTHING,)),
    Preprocessor("openpose", "openpose", "OpenPose (body)", "openpose:body", {"resolution": RESOLUTION},
                 weights=("body_pose_model.pth",)),
    Preprocessor("openpose_full", "openpose_full", "OpenPose (body, hands, face)", "openpose:full",
                 {"resolution": RESOLUTION}, weights=("body_pose_model.pth", "hand_pose_model.pth", "facenet.pth")),
)}


def weights_repo(name: str) -> str:
    """The Hugging Face repo the weights ``name`` come from."""
    return WEIGHT_FOLDERS[name].repo if name in WEIGHT_FOLDERS else ANNOTATORS_REPO


def weights_present(folder: Path, name: str) -> bool:
    """Whether the annotator ``folder`` has the weights ``name``: the file, or the folder with every file it must hold."""
    if name not in WEIGHT_FOLDERS:
        return (folder / name).is_file()
    return all((folder / name / part).is_file() for part in WEIGHT_FOLDERS[name].holds)


def weights_needed(name: str) -> str:
    """What to put into the annotator folder for the weights ``name``, as a user reads it."""
    if name in WEIGHT_FOLDERS:
        spec = WEIGHT_FOLDERS[name]
        return f"the folder {name} (the Hugging Face repo {spec.repo}: its {', '.join(spec.reads)})"
    return f"the file {name} (it is {ANNOTATORS_REPO}' {name})"


def missing_weights(preprocessor: str, present: set[str] | frozenset[str]) -> list[str]:
    """The weights ``preprocessor`` needs that are not among ``present`` (``annotator_files``)."""
    return [name for name in PREPROCESSORS[preprocessor].weights if name not in present]


def annotator_files(root: Path) -> frozenset[str]:
    """The weights in ROOT/models/annotators: the names of its files, and of the WEIGHT_FOLDERS it holds
    complete."""
    folder = Path(root) / ANNOTATOR_FOLDER
    if not folder.is_dir():
        return frozenset()
    files = {p.name for p in folder.iterdir() if p.is_file()}
    return frozenset(files | {name for name in WEIGHT_FOLDERS if weights_present(folder, name)})


def preprocessor_ids() -> list[str]:
    return list(PREPROCESSORS)


def preprocessor_for_a1111(module: str) -> str | None:
    """Our id for an A1111 ControlNet module name (``canny``, ``tile_resample``, ``none``), or None."""
    wanted = (module or "none").strip().lower()
    for p in PREPROCESSORS.values():
        if p.a1111 == wanted or p.id == wanted:
            return p.id
    return None

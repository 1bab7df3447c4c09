"""A unit's control image made into its map: the preprocessor run with the unit's settings, then the
map brought to a pass's size by the unit's resize mode (crop, fit or stretch)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import InvalidParameterError
from ..request import ControlUnit
from .table import ANNOTATOR_FOLDER, PREPROCESSORS, WEIGHT_FOLDERS, weights_needed, weights_present


def control_image(unit: ControlUnit, index: int) -> Image.Image:
    """The unit's input picture, decoded; an unreadable file names the unit."""
    try:
        return unit.image.image
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"control[{index}].image", f"{exc.message}; choose another control image "
                                                               "(PNG, JPEG or WebP)") from None


def missing_weight_error(index: int, preprocessor: str, name: str, folder: Path) -> InvalidParameterError:
    """The unit's preprocessor lacks the weights ``name`` (a file, or one of the WEIGHT_FOLDERS) in ``folder``."""
    what = "folder" if name in WEIGHT_FOLDERS else "file"
    return InvalidParameterError(f"control[{index}].preprocessor",
                                 f"{preprocessor} needs its weights {what} {name}, which is not in {folder}; put "
                                 f"{weights_needed(name)} there under that name")


def make_map(unit: ControlUnit, index: int, root: Path | None = None, device: Any = None) -> Image.Image:
    """The map the unit's preprocessor makes of its control image (RGB; RGBA for one that masks); a network's weights are read
    from ``root``'s annotator folder and it runs on ``device`` (the job's torch device; the CPU by default)."""
    spec = PREPROCESSORS[unit.preprocessor]
    module, function = spec.runs.split(":")
    run = getattr(importlib.import_module(f"{__package__}.{module}"), function)
    extra = {}
    if spec.weights:
        folder = Path(root or ".") / ANNOTATOR_FOLDER
        for name in spec.weights:
            if not weights_present(folder, name):
                raise missing_weight_error(index, spec.id, name, folder)
        extra["weights"], extra["device"] = folder, device
    picture = control_image(unit, index)
    try:
        made = run(picture, **unit.resolved_settings(), **extra)
    except InvalidParameterError as exc:  # a picture the preprocessor cannot use: named as the unit's
        raise InvalidParameterError(f"control[{index}].{exc.field}", exc.message) from None
    return made.convert("RGBA" if spec.masks else "RGB")


def fit_to(image: Image.Image, width: int, height: int, resize_mode: str) -> Image.Image:
    """``stretch``: resized to exactly width×height; ``crop``: scaled to cover it and the middle cut out;
    ``fit``: scaled to fit inside it, the rest black (no control there), or transparent for a map that masks."""
    if image.size == (width, height):
        return image
    if resize_mode == "stretch":
        return image.resize((width, height), Image.Resampling.LANCZOS)
    w, h = image.size
    scale = max(width / w, height / h) if resize_mode == "crop" else min(width / w, height / h)
    scaled = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    if resize_mode == "crop":
        left, top = (scaled.width - width) // 2, (scaled.height - height) // 2
        return scaled.crop((left, top, left + width, top + height))
    canvas = Image.new(image.mode, (width, height))  # (an RGBA map's margin is transparent: to be filled)
    canvas.paste(scaled, ((width - scaled.width) // 2, (height - scaled.height) // 2))
    return canvas

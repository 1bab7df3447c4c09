"""Where the postprocessors' weight files live in the root dir, and how they are read (never downloaded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ldm.invoke.errors import MissingWeightsError, ModelLoadError

CONFIGURE_COMMAND = "invokeai-configure"


@dataclass(frozen=True)
class WeightFile:
    """One weight file: its place under the root dir and where `invokeai-configure` gets it."""

    relpath: str
    url: str
    description: str


# Upstream file names, so a user can drop in files they already have. The URLs are for the
# configure tool; nothing in this package downloads.
WEIGHT_FILES: dict[str, WeightFile] = {
    "gfpgan": WeightFile(
        "models/gfpgan/GFPGANv1.4.pth",
        "https://github.com/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth",
        "GFPGAN 1.4 face restoration",
    ),
    "codeformer": WeightFile(
        "models/codeformer/codeformer.pth",
        "https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer.pth",
        "CodeFormer face restoration",
    ),
    "esrgan_x4": WeightFile(
        "models/realesrgan/RealESRGAN_x4plus.pth",
        "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
        "Real-ESRGAN 4x upscaler",
    ),
    "esrgan_x2": WeightFile(
        "models/realesrgan/RealESRGAN_x2plus.pth",
        "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.1/RealESRGAN_x2plus.pth",
        "Real-ESRGAN 2x upscaler",
    ),
    "esrgan_general_x4": WeightFile(
        "models/realesrgan/realesr-general-x4v3.pth",
        "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.5.0/realesr-general-x4v3.pth",
        "Real-ESRGAN general 4x upscaler (small and fast, optional)",
    ),
    "face_detection": WeightFile(
        "models/facexlib/detection_Resnet50_Final.pth",
        "https://github.com/xinntao/facexlib/releases/download/v0.1.0/detection_Resnet50_Final.pth",
        "RetinaFace face detector used by GFPGAN and CodeFormer",
    ),
    "face_parsing": WeightFile(
        "models/facexlib/parsing_parsenet.pth",
        "https://github.com/xinntao/facexlib/releases/download/v0.2.2/parsing_parsenet.pth",
        "ParseNet face parser used to blend restored faces back",
    ),
}

# Weight files an upscale factor can use, best first. The general model is a lighter alternative
# some users keep instead of the x4plus file.
UPSCALE_MODELS: dict[int, tuple[str, ...]] = {2: ("esrgan_x2",), 4: ("esrgan_x4", "esrgan_general_x4")}

# What each face tool needs besides its own network.
FACE_TOOL_FILES: dict[str, tuple[str, ...]] = {
    "gfpgan": ("gfpgan", "face_detection", "face_parsing"),
    "codeformer": ("codeformer", "face_detection", "face_parsing"),
}


def weight_path(root: Path | str, key: str) -> Path:
    """The path of weight file `key` (a key of WEIGHT_FILES) under `root`, present or not."""
    return Path(root) / WEIGHT_FILES[key].relpath


def require_weights(root: Path | str, key: str) -> Path:
    """The path of weight file `key`; raises MissingWeightsError naming it when it is absent."""
    path = weight_path(root, key)
    if not path.is_file():
        raise MissingWeightsError(str(path), CONFIGURE_COMMAND)
    return path


def brief(error: BaseException, limit: int = 160) -> str:
    """The first line of an error's text, shortened: state-dict mismatches list hundreds of keys."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a .pth weight file safely (tensors only) and unwrap the upstream layouts.

    Upstream files keep the network's tensors under 'params_ema' (GFPGAN, CodeFormer, Real-ESRGAN
    x2/x4plus), under 'params' (realesr-general-x4v3), or flat (facexlib); some have a 'module.' prefix
    left from multi-GPU training.
    """
    try:
        loaded: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated download, a pickle that is not plain tensors, ...
        raise ModelLoadError(
            f"The weights file {path} could not be read ({brief(error)}). Delete it and run "
            f"`{CONFIGURE_COMMAND}` to download it again."
        ) from error
    if not isinstance(loaded, dict):
        raise ModelLoadError(
            f"The weights file {path} does not hold a state dict; replace it with the upstream file."
        )
    for key in ("params_ema", "params", "state_dict"):
        if isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if loaded and all(name.startswith("module.") for name in loaded):
        loaded = {name[len("module.") :]: tensor for name, tensor in loaded.items()}
    return dict(loaded)


def _first_missing(root: Path, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        path = weight_path(root, key)
        if not path.is_file():
            return str(MissingWeightsError(str(path), CONFIGURE_COMMAND))
    return None


def available_postprocessors(root: Path | str) -> dict[str, dict[str, Any]]:
    """Which postprocessors can run with the weight files present under `root`.

    Returns e.g. ``{'esrgan': {'available': True, 'scales': [2, 4]}, 'gfpgan': {'available': False,
    'reason': 'Missing weights file ...'}, 'codeformer': {'available': True}}``. 'reason' is there only
    when something is missing (for esrgan: when a scale is missing, with 'missing': each missing
    scale's file and sentence, keyed by the scale).
    """
    root = Path(root)
    report: dict[str, dict[str, Any]] = {}

    scales = [
        scale
        for scale, keys in sorted(UPSCALE_MODELS.items())
        if any(weight_path(root, key).is_file() for key in keys)
    ]
    esrgan: dict[str, Any] = {"available": bool(scales), "scales": scales}
    missing = [scale for scale in UPSCALE_MODELS if scale not in scales]
    if missing:
        # Name the preferred file of the first missing scale: that is what configure installs.
        reason = _first_missing(root, (UPSCALE_MODELS[min(missing)][0],))
        esrgan["reason"] = f"{min(missing)}x upscaling: {reason}"
        # And each missing scale's own file, so the UI names the one the chosen scale needs.
        esrgan["missing"] = {
            str(scale): {"file": str(weight_path(root, UPSCALE_MODELS[scale][0])),
                         "reason": f"{scale}x upscaling: {_first_missing(root, (UPSCALE_MODELS[scale][0],))}"}
            for scale in sorted(missing)
        }
    report["esrgan"] = esrgan

    for tool, keys in FACE_TOOL_FILES.items():
        reason = _first_missing(root, keys)
        report[tool] = {"available": True} if reason is None else {"available": False, "reason": reason}
    return report

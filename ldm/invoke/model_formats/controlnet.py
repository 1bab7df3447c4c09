"""ControlNet models: telling one from other weight files and its family (SD 1.x, SD 2.x, SDXL), and
loading it offline, from a diffusers folder or from one ``.safetensors``/``.pth`` file in the original
layout (``control_v11p_sd15_canny.safetensors``), sized from its tensors on the family's shipped config."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError
from .state_dict import Shapes, load_tensors, read_shapes, shapes_of

LDM_PREFIX = "control_model."
HINT = "input_hint_block."  # the original layout's conditioning embedding
DIFFUSERS_HINT = "controlnet_cond_embedding.conv_in.weight"


def _strip(shapes: Shapes) -> Shapes:
    """The keys without the ``control_model.`` prefix some files carry."""
    if any(k.startswith(LDM_PREFIX) for k in shapes):
        return {k[len(LDM_PREFIX):]: v for k, v in shapes.items() if k.startswith(LDM_PREFIX)}
    return dict(shapes)


def is_controlnet(shapes: Shapes) -> bool:
    stripped = _strip(shapes)
    return HINT + "0.weight" in stripped or DIFFUSERS_HINT in stripped


def controlnet_family(shapes: Shapes) -> str:
    """SDXL ControlNets have the added (pooled text and size) embedding; SD 2.x ones 1024-wide
    cross attention; the rest are SD 1.x."""
    stripped = _strip(shapes)
    if any(k.startswith(("label_emb.", "add_embedding.")) for k in stripped):
        return "sdxl"
    cross = next((v for k, v in stripped.items() if k.endswith("attn2.to_k.weight")), None)
    return "sd2" if cross is not None and cross[-1] == 1024 else "sd1"


def folder_config(folder: Path) -> dict[str, Any] | None:
    """The config of a diffusers ControlNet folder, or None when ``folder`` is not one."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and config.get("_class_name") == "ControlNetModel" else None


def folder_family(config: dict[str, Any]) -> str:
    if config.get("addition_embed_type") == "text_time":
        return "sdxl"
    return "sd2" if int(config.get("cross_attention_dim") or 768) == 1024 else "sd1"


def probe_controlnet(path: Path) -> str | None:
    """The family of the ControlNet at ``path`` (a folder or a file), or None when it is not one."""
    if path.is_dir():
        config = folder_config(path)
        return folder_family(config) if config is not None else None
    shapes = read_shapes(path)
    return controlnet_family(shapes) if is_controlnet(shapes) else None


def _hint_channels(shapes: Shapes) -> list[int]:
    """The conditioning embedding's channels: its first convolution, then each stride-2 one's."""
    convs = sorted(int(k[len(HINT):].split(".")[0]) for k in shapes if k.startswith(HINT) and k.endswith(".weight"))
    if len(convs) < 2:
        raise ModelLoadError("the ControlNet has no conditioning embedding (input_hint_block)")
    inner = convs[:-1]  # the last maps to the UNet's first width
    return [shapes[f"{HINT}{inner[0]}.weight"][0]] + [shapes[f"{HINT}{i}.weight"][0] for i in inner[2::2]]


def single_file_config(shapes: Shapes, family: str) -> dict[str, Any]:
    """A ControlNetModel config for an original-layout file: the UNet's encoder half is sized by the
    same rules as a checkpoint's UNet (the family's shipped config, sizes from the tensors)."""
    from diffusers import ControlNetModel

    from .checkpoint import unet_config
    from .probe import UNET

    as_unet = {UNET + k: v for k, v in shapes.items()}
    # A ControlNet has no decoder half; the UNet rules read the output width from it, unused here.
    as_unet[UNET + "out.2.weight"] = (shapes["input_blocks.0.0.weight"][1],)
    try:
        config = unet_config(family, as_unet)
    except KeyError as e:
        raise ModelLoadError(f"the ControlNet file has no tensor {e.args[0]}: it is incomplete") from None
    config["conditioning_channels"] = shapes[HINT + "0.weight"][1]
    config["conditioning_embedding_out_channels"] = _hint_channels(shapes)
    accepted = set(inspect.signature(ControlNetModel.__init__).parameters)
    return {k: v for k, v in config.items() if k in accepted}


def load_controlnet(path: Path, dtype: Any = None) -> Any:
    """A ``ControlNetModel`` from a diffusers folder or one weight file (safetensors, or a pickle read
    with ``weights_only``), with no network."""
    from diffusers import ControlNetModel
    from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint

    if path.is_dir():
        if folder_config(path) is None:
            raise ModelLoadError(f"{path} is not a diffusers ControlNet folder (its config.json does not say "
                                 "ControlNetModel)")
        return ControlNetModel.from_pretrained(str(path), torch_dtype=dtype, local_files_only=True)
    tensors = load_tensors(path)
    shapes = shapes_of(tensors)
    if not is_controlnet(shapes):
        raise ModelLoadError(f"{path.name} is not a ControlNet (it has no input_hint_block tensors)")
    stripped = {k[len(LDM_PREFIX):] if k.startswith(LDM_PREFIX) else k: v for k, v in tensors.items()}
    config = single_file_config(_strip(shapes), controlnet_family(shapes))
    model = ControlNetModel(**config)
    converted = convert_controlnet_checkpoint(stripped, config)
    missing = [k for k in model.state_dict() if k not in converted or converted[k] is None]
    if missing:
        raise ModelLoadError(f"{path.name} lacks {len(missing)} ControlNet tensors (e.g. {missing[0]}); "
                             "the file is incomplete or of a layout not known here")
    try:
        model.load_state_dict({k: converted[k] for k in model.state_dict()}, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"{path.name} does not fit the ControlNet its tensors describe: "
                             f"{str(e).splitlines()[0]}") from None
    return model.to(dtype) if dtype is not None else model

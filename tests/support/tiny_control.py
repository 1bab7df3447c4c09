"""Tiny ControlNets for tests, made from a tiny UNet (``ControlNetModel.from_unet``) and written as a
diffusers folder and as one ``.safetensors`` file in the original (A1111 / ComfyUI) layout.

A fresh ControlNet's output convolutions start at zero, so no control image could change anything;
they get seeded random weights here so that a map visibly steers the tiny model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from tests.support.tiny_checkpoints import unet_to_ldm

HINT_CHANNELS = (8, 16, 16, 32)


def build_tiny_controlnet(unet, seed: int = 0, scale: float = 0.5):
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=HINT_CHANNELS)
    g = torch.Generator().manual_seed(seed)
    zeroed = [net.controlnet_cond_embedding.conv_out, net.controlnet_mid_block, *net.controlnet_down_blocks]
    with torch.no_grad():
        for conv in zeroed:
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * scale)
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=g) * scale * 0.1)
    return net


def controlnet_to_ldm(net) -> dict[str, torch.Tensor]:
    """The ControlNet's tensors under the original layout's names (``control_model.`` prefix)."""
    own = ("controlnet_cond_embedding.", "controlnet_down_blocks.", "controlnet_mid_block.")
    state = net.state_dict()
    shared = {k: v for k, v in state.items() if not k.startswith(own)}
    encoder = SimpleNamespace(config=net.config, state_dict=lambda: shared)
    out = {"control_model." + k.removeprefix("model.diffusion_model."): v for k, v in unet_to_ldm(encoder).items()}
    hint = "control_model.input_hint_block."
    blocks = len(net.controlnet_cond_embedding.blocks)
    for key, value in state.items():
        parts = key.split(".")
        if key.startswith("controlnet_cond_embedding.conv_in."):
            out[f"{hint}0.{parts[-1]}"] = value.clone()
        elif key.startswith("controlnet_cond_embedding.blocks."):
            out[f"{hint}{2 * (int(parts[2]) + 1)}.{parts[-1]}"] = value.clone()
        elif key.startswith("controlnet_cond_embedding.conv_out."):
            out[f"{hint}{2 * (blocks + 1)}.{parts[-1]}"] = value.clone()
        elif key.startswith("controlnet_down_blocks."):
            out[f"control_model.zero_convs.{parts[1]}.0.{parts[-1]}"] = value.clone()
        elif key.startswith("controlnet_mid_block."):
            out[f"control_model.middle_block_out.0.{parts[-1]}"] = value.clone()
    return out


def write_controlnet_folder(net, path: Path) -> Path:
    net.save_pretrained(str(path), safe_serialization=True)
    return path


def write_controlnet_file(net, path: Path) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in controlnet_to_ldm(net).items()}, str(path))
    return path


def build_control_root(root: Path) -> Path:
    """A root dir whose models.yaml holds a tiny SD 1.x pipeline (``tiny-sd1``, a diffusers folder, the
    default), a tiny SDXL one (``tiny-sdxl``) and ControlNets: ``tiny-canny`` (one file in the original layout), ``tiny-canny-folder`` (the same
    weights as a diffusers folder), ``tiny-other`` (other weights) and ``tiny-xl`` (an SDXL ControlNet)."""
    import yaml

    from tests.support.tiny_checkpoints import build_tiny_pipeline

    root = Path(root)
    models = root / "models"
    pipe = build_tiny_pipeline("sd1", seed=3)
    pipe.save_pretrained(str(models / "tiny-sd1"), safe_serialization=True)
    net = build_tiny_controlnet(pipe.unet, seed=11)
    write_controlnet_file(net, models / "ControlNet" / "control_tiny_canny.safetensors")
    write_controlnet_folder(net, models / "controlnet" / "tiny-canny-folder")
    write_controlnet_folder(build_tiny_controlnet(pipe.unet, seed=12), models / "controlnet" / "tiny-other")
    xl = build_tiny_pipeline("sdxl", seed=4)
    xl.save_pretrained(str(models / "tiny-sdxl"), safe_serialization=True)
    write_controlnet_folder(build_tiny_controlnet(xl.unet, seed=13), models / "controlnet" / "tiny-xl")
    entries = {
        "tiny-sd1": {"description": "tiny SD 1.x", "format": "diffusers", "path": "models/tiny-sd1",
                     "family": "sd1", "width": 64, "height": 64, "default": True},
        "tiny-sdxl": {"description": "tiny SDXL", "format": "diffusers", "path": "models/tiny-sdxl", "family": "sdxl",
                      "width": 64, "height": 64},
        "tiny-canny": {"format": "controlnet", "path": "models/ControlNet/control_tiny_canny.safetensors",
                       "family": "sd1"},
        "tiny-canny-folder": {"format": "controlnet", "path": "models/controlnet/tiny-canny-folder", "family": "sd1"},
        "tiny-other": {"format": "controlnet", "path": "models/controlnet/tiny-other", "family": "sd1"},
        "tiny-xl": {"format": "controlnet", "path": "models/controlnet/tiny-xl", "family": "sdxl"},
    }
    (root / "models.yaml").write_text(yaml.safe_dump(entries, sort_keys=False))
    return root


def write_hed_weights(path: Path, seed: int = 0) -> Path:
    """controlnet_aux's HED network with seeded random weights, saved as ``ControlNetHED.pth`` is."""
    from controlnet_aux.hed import ControlNetHED_Apache2

    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ControlNetHED_Apache2().state_dict(), path)
    return path

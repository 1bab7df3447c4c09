"""Tiny ControlNets and T2I-Adapters for tests. ControlNets are made from a tiny UNet
(``ControlNetModel.from_unet``), adapters sized to its levels; both are written as diffusers folders and
as one file in the original (A1111 / ComfyUI) layout.

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


def build_tiny_adapter(unet, seed: int = 0, kind: str = "full_adapter", in_channels: int = 3, scale: float = 1.0):
    """A T2I-Adapter with seeded random weights whose features fit ``unet``'s down blocks."""
    from diffusers import T2IAdapter

    torch.manual_seed(seed)
    channels = list(unet.config.block_out_channels)
    adapter = T2IAdapter(in_channels=in_channels, channels=channels, num_res_blocks=2, adapter_type=kind,
                         downscale_factor=16 if kind == "full_adapter_xl" else 8)
    with torch.no_grad():
        for p in adapter.parameters():
            p.mul_(scale)
    return adapter


def adapter_to_original(adapter) -> dict[str, torch.Tensor]:
    """The adapter's tensors under TencentARC's original names (``body.N.block1`` numbered through the
    levels for a full adapter; ``body.L.body.J.block1`` for a light one)."""
    per_level = adapter.config.num_res_blocks
    light = adapter.config.adapter_type == "light_adapter"
    out = {}
    for key, value in adapter.adapter.state_dict().items():
        parts = key.split(".")
        if parts[0] == "body" and parts[2] == "resnets":
            level, j = int(parts[1]), int(parts[3])
            key = f"body.{level}.body.{j}.{parts[4]}.{parts[5]}" if light else \
                f"body.{level * per_level + j}.{parts[4]}.{parts[5]}"
        elif parts[0] == "body" and parts[2] == "in_conv" and not light:
            key = f"body.{int(parts[1]) * per_level}.in_conv.{parts[3]}"
        out[key] = value.clone().contiguous()
    return out


def write_adapter_file(adapter, path: Path, original: bool = True) -> Path:
    """One file: the original layout (a ``.pth`` pickle or ``.safetensors``), or diffusers' names with the
    ``adapter.`` prefix (as the A1111 collections ship SDXL adapters)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = adapter_to_original(adapter) if original else \
        {"adapter." + k: v.contiguous() for k, v in adapter.adapter.state_dict().items()}
    if path.suffix == ".pth":
        torch.save(tensors, path)
    else:
        save_file(tensors, str(path))
    return path


def build_control_root(root: Path) -> Path:
    """A root dir whose models.yaml holds a tiny SD 1.x pipeline (``tiny-sd1``, a diffusers folder, the
    default), a tiny SDXL one (``tiny-sdxl``), ControlNets: ``tiny-canny`` (one file in the original
    layout), ``tiny-canny-folder`` (the same weights as a diffusers folder), ``tiny-other`` (other weights)
    and ``tiny-xl`` (an SDXL ControlNet); and T2I-Adapters: ``tiny-adapter`` (a diffusers folder),
    ``tiny-adapter-pth`` (the same weights in the original layout, a ``.pth``), ``tiny-adapter-xl`` (SDXL,
    one file with diffusers' names)."""
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
    adapter = build_tiny_adapter(pipe.unet, seed=21, scale=3.0)
    adapter.save_pretrained(str(models / "t2i_adapter" / "tiny-adapter"), safe_serialization=True)
    write_adapter_file(adapter, models / "ControlNet" / "t2iadapter_tiny_sd15v2.pth")
    write_adapter_file(build_tiny_adapter(xl.unet, seed=22, kind="full_adapter_xl"),
                       models / "ControlNet" / "t2i-adapter_tiny_xl.safetensors", original=False)
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
        "tiny-adapter": {"format": "t2i_adapter", "path": "models/t2i_adapter/tiny-adapter", "family": "sd1"},
        "tiny-adapter-pth": {"format": "t2i_adapter", "path": "models/ControlNet/t2iadapter_tiny_sd15v2.pth",
                             "family": "sd1"},
        "tiny-adapter-xl": {"format": "t2i_adapter", "path": "models/ControlNet/t2i-adapter_tiny_xl.safetensors",
                            "family": "sdxl"},
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

"""What is this file? Tells a Stable Diffusion checkpoint (and its family: SD 1.x, SD 2.x, SDXL) from a
LoRA, a textual-inversion embedding, a VAE or a diffusers folder, from tensor names and shapes alone."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ModelLoadError
from .state_dict import Shapes, read_shapes
from .suffixes import WEIGHT_SUFFIXES

log = logging.getLogger(__name__)

UNET = "model.diffusion_model."
SD1_CLIP = "cond_stage_model.transformer."
SD2_OPENCLIP = "cond_stage_model.model."
SDXL_CLIP = "conditioner.embedders.0.transformer."
SDXL_OPENCLIP = "conditioner.embedders.1.model."
SDXL_REFINER_OPENCLIP = "conditioner.embedders.0.model."

FAMILY_NAMES = {"sd1": "Stable Diffusion 1.x", "sd2": "Stable Diffusion 2.x", "sdxl": "Stable Diffusion XL"}


@dataclass
class ProbeResult:
    """``kind`` is checkpoint, diffusers, controlnet, t2i_adapter, lora, embedding, vae or unknown; ``family`` sd1, sd2 or sdxl."""

    kind: str
    family: str | None = None
    prediction_type: str | None = None
    original_config: dict[str, Any] | None = None
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def native_size(self) -> int:
        if self.family == "sdxl":
            return 1024
        if self.family == "sd2" and self.prediction_type == "v_prediction":
            return 768
        return 512


def _has_prefix(shapes: Shapes, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in shapes)


def checkpoint_family(shapes: Shapes) -> str:
    """sd1, sd2 or sdxl for an LDM-layout checkpoint; raises ModelLoadError for what we cannot run."""
    conv_in = shapes.get(UNET + "input_blocks.0.0.weight")
    if conv_in is None:
        raise ModelLoadError("This file has no Stable Diffusion UNet (no model.diffusion_model.* tensors)")
    if _has_prefix(shapes, SDXL_OPENCLIP) and _has_prefix(shapes, SDXL_CLIP):
        family = "sdxl"
    elif _has_prefix(shapes, SDXL_REFINER_OPENCLIP):
        raise ModelLoadError("SDXL refiner checkpoints are not supported: use an SDXL base model")
    elif _has_prefix(shapes, SD2_OPENCLIP):
        family = "sd2"
    elif _has_prefix(shapes, SD1_CLIP):
        family = "sd1"
    else:
        raise ModelLoadError("This checkpoint holds a UNet but no text encoder; a complete checkpoint is needed")
    if conv_in[1] != 4:
        raise ModelLoadError(
            f"This {FAMILY_NAMES[family]} checkpoint has a {conv_in[1]}-channel UNet (an inpainting or "
            "instruct model); only standard 4-channel models are supported"
        )
    return family


def sidecar_config(path: Path) -> Path | None:
    """AUTOMATIC1111 and InvokeAI read ``model.yaml`` next to ``model.safetensors`` as its LDM config."""
    for suffix in (".yaml", ".yml"):
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def read_original_config(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ModelLoadError(f"The model config {path} is not valid YAML: {e}") from e
    return data if isinstance(data, dict) else None


def config_prediction_type(original: dict[str, Any] | None) -> str | None:
    """``parameterization: v`` in an LDM config means v-prediction; a config without it means epsilon."""
    if not original:
        return None
    params = (original.get("model") or {}).get("params") or {}
    if not isinstance(params, dict):
        return None
    return "v_prediction" if str(params.get("parameterization", "eps")).lower() == "v" else "epsilon"


def unet_head_settings(original: dict[str, Any] | None) -> dict[str, int]:
    """``num_heads`` / ``num_head_channels`` of the UNet in an LDM config, when it gives them."""
    if not original:
        return {}
    params = (original.get("model") or {}).get("params") or {}
    unet = (params.get("unet_config") or params.get("network_config") or {}).get("params") or {}
    out = {}
    for key in ("num_heads", "num_head_channels"):
        value = unet.get(key)
        if isinstance(value, int) and value > 0:
            out[key] = value
    return out


def guess_sd2_prediction(tensor_reader, shapes: Shapes) -> str:
    """SD 2.x 768 models predict v, the 512 "base" ones epsilon; the names and shapes are the same.

    Without a config we use the observation ComfyUI relies on: in v-trained models the last output
    block's first norm has clearly spread-out biases (std > 0.09). An undecidable file is taken as v,
    as the 768 models are the common ones.
    """
    if "v_pred" in shapes:
        return "v_prediction"
    key = UNET + "output_blocks.11.1.transformer_blocks.0.norm1.bias"
    if key in shapes:
        try:
            bias = tensor_reader(key)
        except Exception:  # a reader that cannot fetch one tensor leaves the default
            bias = None
        if bias is not None:
            return "v_prediction" if float(bias.float().std(unbiased=False)) > 0.09 else "epsilon"
    return "v_prediction"


def _tensor_reader(path: Path):
    def read(key: str):
        if path.suffix.lower() == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                return f.get_tensor(key)
        from .state_dict import load_tensors

        return load_tensors(path).get(key)

    return read


def is_lora(shapes: Shapes) -> bool:
    return any(
        ".lora_down." in k or ".lora_up." in k or ".lora_A." in k or ".lora_B." in k or ".lora.down." in k
        or k.startswith(("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_"))
        for k in shapes
    )


def lora_family(shapes: Shapes) -> str | None:
    if any(k.startswith(("lora_te1_", "lora_te2_")) or "text_encoder_2" in k for k in shapes):
        return "sdxl"
    for key, shape in shapes.items():
        if ("attn2_to_k" in key or "attn2.to_k" in key) and ("lora_down" in key or "lora_A" in key or "lora.down" in key):
            return {768: "sd1", 1024: "sd2", 2048: "sdxl"}.get(shape[-1])
    return None


def embedding_vectors(shapes: Shapes) -> dict[str, tuple[int, ...]] | None:
    """The embedding tensors of a textual-inversion file by text encoder, or None when it is not one."""
    if "clip_l" in shapes and "clip_g" in shapes:
        return {"clip_l": shapes["clip_l"], "clip_g": shapes["clip_g"]}
    if "string_to_param.*" in shapes:
        return {"clip": shapes["string_to_param.*"]}
    if "emb_params" in shapes:
        return {"clip": shapes["emb_params"]}
    tensors = {k: v for k, v in shapes.items() if not k.startswith("string_to_token")}
    if len(tensors) == 1:
        shape = next(iter(tensors.values()))
        if len(shape) in (1, 2):  # diffusers' learned_embeds: {token: vectors}
            return {"clip": shape}
    return None


def embedding_family(vectors: dict[str, tuple[int, ...]]) -> str | None:
    if "clip_g" in vectors:
        return "sdxl"
    return {768: "sd1", 1024: "sd2"}.get(vectors["clip"][-1])


def probe_shapes(shapes: Shapes, path: Path | None = None) -> ProbeResult:
    from .controlnet import controlnet_family, is_controlnet
    from .t2i_adapter import adapter_family, is_t2i_adapter

    if is_t2i_adapter(shapes):
        family = adapter_family(shapes)
        return ProbeResult("t2i_adapter", family, detail=f"T2I-Adapter for {FAMILY_NAMES[family]}")
    if is_controlnet(shapes):
        family = controlnet_family(shapes)
        return ProbeResult("controlnet", family, detail=f"ControlNet for {FAMILY_NAMES[family]}")
    if UNET + "input_blocks.0.0.weight" in shapes:
        family = checkpoint_family(shapes)
        original = read_original_config(sidecar_config(path)) if path else None
        prediction = config_prediction_type(original)
        if prediction is None:
            if family == "sd2":
                prediction = guess_sd2_prediction(_tensor_reader(path) if path else (lambda k: None), shapes)
            else:
                prediction = "epsilon"
        return ProbeResult("checkpoint", family, prediction, original, FAMILY_NAMES[family])
    if is_lora(shapes):
        family = lora_family(shapes)
        return ProbeResult("lora", family, detail=f"LoRA for {FAMILY_NAMES.get(family or '', 'Stable Diffusion')}")
    vectors = embedding_vectors(shapes)
    if vectors is not None:
        family = embedding_family(vectors)
        count = next(iter(vectors.values()))
        n = count[0] if len(count) == 2 else 1
        return ProbeResult("embedding", family, detail=f"textual inversion embedding ({n} vectors)",
                           extra={"vectors": n})
    if "encoder.conv_in.weight" in shapes and "decoder.conv_out.weight" in shapes:
        return ProbeResult("vae", detail="a VAE on its own")
    return ProbeResult("unknown", detail="not a Stable Diffusion checkpoint, LoRA or embedding")


def diffusers_family(folder: Path) -> str:
    """sd1, sd2 or sdxl for a diffusers pipeline folder (from model_index.json and the text encoder)."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{folder} is not a diffusers model folder: {e}") from e
    cls = str(index.get("_class_name", ""))
    if "XL" in cls:
        return "sdxl"
    try:
        te = json.loads((folder / "text_encoder" / "config.json").read_text(encoding="utf-8"))
        if int(te.get("hidden_size", 768)) == 1024:
            return "sd2"
    except (OSError, ValueError):
        pass
    return "sd1"


def probe_path(path: str | Path) -> ProbeResult:
    """Probes a weight file or a diffusers folder; never loads more than one tensor of data."""
    path = Path(path)
    if path.is_dir():
        if (path / "model_index.json").is_file():
            family = diffusers_family(path)
            prediction = None
            try:
                sched = json.loads((path / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
                prediction = sched.get("prediction_type")
            except (OSError, ValueError):
                pass
            return ProbeResult("diffusers", family, prediction or "epsilon", detail=FAMILY_NAMES[family])
        from .controlnet import folder_config, folder_family

        config = folder_config(path)
        if config is not None:
            family = folder_family(config)
            return ProbeResult("controlnet", family, detail=f"ControlNet for {FAMILY_NAMES[family]}")
        from . import t2i_adapter

        config = t2i_adapter.folder_config(path)
        if config is not None:
            family = t2i_adapter.folder_family(config)
            return ProbeResult("t2i_adapter", family, detail=f"T2I-Adapter for {FAMILY_NAMES[family]}")
        return ProbeResult("unknown", detail="a folder without model_index.json")
    if path.suffix.lower() not in WEIGHT_SUFFIXES:
        return ProbeResult("unknown", detail=f"{path.suffix or 'no'} extension; weights are .safetensors or .ckpt")
    return probe_shapes(read_shapes(path), path)

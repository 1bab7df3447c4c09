"""T2I-Adapter models: telling one from other weight files and its family (SD 1.x, SDXL), and loading it
offline from a diffusers folder or from one ``.safetensors``/``.pth`` file, either in TencentARC's
original layout (``t2iadapter_canny_sd15v2.pth``, ``coadapter-*.pth``: ``conv_in``, ``body.N.block1``)
or in diffusers' key names (``adapter.body.0.resnets.0.block1``, as A1111 collections ship SDXL ones).

diffusers has no single-file loader for them, so ``original_to_diffusers`` renames the tensors and reads
the adapter's size (channels, blocks per level, input channels) from their shapes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError
from .state_dict import Shapes, load_tensors, shapes_of

DIFFUSERS_PREFIX = "adapter."
FULL, FULL_XL, LIGHT = "full_adapter", "full_adapter_xl", "light_adapter"
DOWNSCALE = {FULL: 8, FULL_XL: 16, LIGHT: 8}  # the pixel unshuffle each kind starts with
_ORIGINAL_FULL = re.compile(r"body\.(\d+)\.(block1|block2|in_conv)\.(weight|bias)$")
_ORIGINAL_LIGHT = re.compile(r"body\.(\d+)\.(?:(in_conv|out_conv)|body\.(\d+)\.(block1|block2))\.(weight|bias)$")


def _is_original_full(shapes: Shapes) -> bool:
    return "conv_in.weight" in shapes and "body.0.block1.weight" in shapes


def _is_original_light(shapes: Shapes) -> bool:
    return "body.0.in_conv.weight" in shapes and "body.0.body.0.block1.weight" in shapes


def _is_diffusers_keys(shapes: Shapes) -> bool:
    return any(k.startswith(DIFFUSERS_PREFIX + "body.0.") for k in shapes)


def is_t2i_adapter(shapes: Shapes) -> bool:
    return _is_original_full(shapes) or _is_original_light(shapes) or _is_diffusers_keys(shapes)


def _kind_of_diffusers(shapes: Shapes) -> str:
    if DIFFUSERS_PREFIX + "conv_in.weight" not in shapes:
        return LIGHT
    unshuffled = shapes[DIFFUSERS_PREFIX + "conv_in.weight"][1]  # input channels × downscale²
    # SDXL adapters unshuffle by 16 (1 or 3 channels: 256 or 768 inputs), SD 1.x ones by 8 (64 or 192).
    return FULL_XL if unshuffled % 256 == 0 and unshuffled // 256 in (1, 3) else FULL


def adapter_family(shapes: Shapes) -> str:
    """SDXL for the XL kind of full adapter (unshuffled by 16), else SD 1.x."""
    return "sdxl" if _is_diffusers_keys(shapes) and _kind_of_diffusers(shapes) == FULL_XL else "sd1"


def _blocks(shapes: Shapes, pattern: re.Pattern[str]) -> list[int]:
    return sorted({int(m.group(1)) for k in shapes if (m := pattern.match(k))})


def original_to_diffusers(tensors: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``T2IAdapter`` config and state dict of an original-layout (or diffusers-keyed) file."""
    shapes = shapes_of(tensors)
    if _is_diffusers_keys(shapes):
        return _diffusers_config(shapes), {k[len(DIFFUSERS_PREFIX):]: v for k, v in tensors.items()
                                           if k.startswith(DIFFUSERS_PREFIX)}
    if _is_original_light(shapes):
        return _convert_light(tensors, shapes)
    if _is_original_full(shapes):
        return _convert_full(tensors, shapes)
    raise ModelLoadError("it is not a T2I-Adapter (no conv_in / body.N.block1 tensors)")


def _convert_full(tensors: dict[str, Any], shapes: Shapes) -> tuple[dict[str, Any], dict[str, Any]]:
    # First-generation adapters with skip or strided convolutions (skep, down_opt) have no diffusers form.
    odd = sorted(k for k in shapes if not k.startswith("conv_in.") and not _ORIGINAL_FULL.match(k))
    if odd:
        raise ModelLoadError(f"it is a first-generation T2I-Adapter with tensors diffusers has no place for "
                             f"(e.g. {odd[0]}); use its sd15v2 / CoAdapter release instead")
    blocks = _blocks(shapes, _ORIGINAL_FULL)
    if blocks != list(range(len(blocks))):
        raise ModelLoadError("its body blocks are not numbered 0..N-1; the file is incomplete")
    in_convs = [b for b in blocks if f"body.{b}.in_conv.weight" in shapes]
    per_level = in_convs[0] if in_convs else len(blocks)  # the first block of level 1 changes the width
    if per_level == 0 or len(blocks) % per_level:
        raise ModelLoadError(f"its {len(blocks)} body blocks do not split into levels of {per_level}")
    levels = len(blocks) // per_level
    channels = [shapes[f"body.{level * per_level}.block1.weight"][0] for level in range(levels)]
    unshuffled = shapes["conv_in.weight"][1]
    config = {"in_channels": unshuffled // DOWNSCALE[FULL] ** 2, "channels": channels,
              "num_res_blocks": per_level, "downscale_factor": DOWNSCALE[FULL], "adapter_type": FULL}
    state = {"conv_in.weight": tensors["conv_in.weight"], "conv_in.bias": tensors["conv_in.bias"]}
    for b in blocks:
        level, j = divmod(b, per_level)
        for part in ("block1", "block2"):
            for p in ("weight", "bias"):
                state[f"body.{level}.resnets.{j}.{part}.{p}"] = tensors[f"body.{b}.{part}.{p}"]
        if f"body.{b}.in_conv.weight" in shapes:
            if j != 0:
                raise ModelLoadError(f"body.{b} changes the width inside a level; the layout is not known here")
            for p in ("weight", "bias"):
                state[f"body.{level}.in_conv.{p}"] = tensors[f"body.{b}.in_conv.{p}"]
    return config, state


def _convert_light(tensors: dict[str, Any], shapes: Shapes) -> tuple[dict[str, Any], dict[str, Any]]:
    levels = _blocks(shapes, _ORIGINAL_LIGHT)
    per_level = len({int(m.group(3)) for k in shapes if (m := _ORIGINAL_LIGHT.match(k)) and m.group(3)})
    # A light adapter's levels: the widths of levels 0..n-2, then the last width once more (downsampled).
    outs = [shapes[f"body.{level}.out_conv.weight"][0] for level in levels]
    config = {"in_channels": shapes["body.0.in_conv.weight"][1] // DOWNSCALE[LIGHT] ** 2, "channels": outs[:-1],
              "num_res_blocks": per_level, "downscale_factor": DOWNSCALE[LIGHT], "adapter_type": LIGHT}
    state = {}
    for key, value in tensors.items():
        m = _ORIGINAL_LIGHT.match(key)
        if m is None:
            raise ModelLoadError(f"{key} has no place in a light T2I-Adapter")
        level, conv, j, part, p = m.groups()
        state[f"body.{level}.{conv}.{p}" if conv else f"body.{level}.resnets.{j}.{part}.{p}"] = value
    return config, state


def _diffusers_config(shapes: Shapes) -> dict[str, Any]:
    """The config of a diffusers-keyed single file, read from its shapes."""
    pattern = re.compile(re.escape(DIFFUSERS_PREFIX) + r"body\.(\d+)\.resnets\.(\d+)\.block1\.weight$")
    found = [(int(m.group(1)), int(m.group(2))) for k in shapes if (m := pattern.match(k))]
    levels = sorted({level for level, _ in found})
    per_level = len({j for _, j in found})
    kind = _kind_of_diffusers(shapes)
    if kind == LIGHT:
        channels = [shapes[f"{DIFFUSERS_PREFIX}body.{level}.out_conv.weight"][0] for level in levels][:-1]
        inputs = shapes[f"{DIFFUSERS_PREFIX}body.0.in_conv.weight"][1]
    else:
        channels = [shapes[f"{DIFFUSERS_PREFIX}body.{level}.resnets.0.block1.weight"][0] for level in levels]
        inputs = shapes[f"{DIFFUSERS_PREFIX}conv_in.weight"][1]
    return {"in_channels": inputs // DOWNSCALE[kind] ** 2, "channels": channels, "num_res_blocks": per_level,
            "downscale_factor": DOWNSCALE[kind], "adapter_type": kind}


def folder_config(folder: Path) -> dict[str, Any] | None:
    """The config of a diffusers T2I-Adapter folder, or None when ``folder`` is not one."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and config.get("_class_name") == "T2IAdapter" else None


def folder_family(config: dict[str, Any]) -> str:
    return "sdxl" if config.get("adapter_type") == FULL_XL else "sd1"


def load_t2i_adapter(path: Path, dtype: Any = None) -> Any:
    """A diffusers ``T2IAdapter`` from a folder or one weight file (safetensors, or a pickle read with
    ``weights_only``), with no network."""
    from diffusers import T2IAdapter

    if path.is_dir():
        if folder_config(path) is None:
            raise ModelLoadError(f"{path} is not a diffusers T2I-Adapter folder (its config.json does not say "
                                 "T2IAdapter)")
        return T2IAdapter.from_pretrained(str(path), torch_dtype=dtype, local_files_only=True)
    config, state = original_to_diffusers(load_tensors(path))
    model = T2IAdapter(**config)
    expected = model.adapter.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        which = f"lacks {missing[0]}" if missing else f"has {extra[0]}, which has no place"
        raise ModelLoadError(f"{path.name} does not fit the T2I-Adapter its tensors describe: it {which}")
    try:
        model.adapter.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelLoadError(f"{path.name} does not fit the T2I-Adapter its tensors describe: "
                             f"{str(e).splitlines()[0]}") from None
    return model.to(dtype) if dtype is not None else model

"""What a request's control units add to the UNet at each step: every active ControlNet run on the
step's input with its map, its residuals scaled by the unit's weight and control mode, summed; and every
active T2I-Adapter's features of its map (computed once per size, as they do not depend on the step),
scaled the same way and summed into the UNet's down blocks (``down_intrablock_additional_residuals``).

Control modes follow the A1111 ControlNet extension: ``balanced`` scales every residual by the weight,
for the conditional and the unconditional half alike; ``prompt`` ("my prompt is more important")
weakens the shallow residuals, each level by 0.825 from the middle block outwards; ``control``
("ControlNet is more important") does the same and steers only the conditional half, so that
classifier-free guidance amplifies the control. A unit acts on the steps whose fraction of the pass
lies between its start and end (both included), and, in hires fix, only on the passes its ``hires_pass``
names (hires fix says which pass runs; outside hires fix there is one pass, and every unit steers it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..request import DEFAULT_HIRES_PASS, ControlUnit
from .inpaint import hint
from .preprocess import fit_to

SOFT_FALLOFF = 0.825  # per level, from the middle block outwards ("prompt" and "control" modes)


@dataclass
class ActiveUnit:
    """A unit ready to steer: its loaded control model and the map its preprocessor made."""

    unit: ControlUnit
    model: Any  # a diffusers ControlNetModel or T2IAdapter on the pipeline's device and dtype
    map: Image.Image
    kind: str = "controlnet"  # or t2i_adapter
    _tensors: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)
    _features: dict[tuple[int, int], list[torch.Tensor]] = field(default_factory=dict)


class ControlSteering:
    """The residuals of a request's units for one pipeline; ``region`` (inpainting) says which part of
    the whole picture the pass works on, so the map is fitted to the picture and then cut the same way;
    ``hires_pass`` (``first`` or ``second``, set by hires fix while that pass runs, else None) which
    units steer: those on that pass or on both."""

    def __init__(self, units: list[ActiveUnit], device: torch.device, dtype: torch.dtype, vae_scale: int) -> None:
        self.units = units
        self.device = device
        self.dtype = dtype
        self.vae_scale = vae_scale
        self.region: tuple[tuple[int, int], tuple[int, int, int, int]] | None = None
        self.hires_pass: str | None = None

    def steers_this_pass(self, unit: ControlUnit) -> bool:
        """Whether the unit acts on the pass running now (every pass outside hires fix)."""
        return self.hires_pass is None or unit.hires_pass in (DEFAULT_HIRES_PASS, self.hires_pass)

    def _map_for(self, active: ActiveUnit, width: int, height: int) -> torch.Tensor:
        """The unit's map as the ControlNet takes it (RGB in 0..1, -1 where an inpaint map is transparent;
        batch of 2) at the pass's size."""
        key = (width, height)
        if key not in active._tensors:
            if self.region is not None:
                (full_w, full_h), (x0, y0, x1, y1) = self.region
                fitted = fit_to(active.map, full_w, full_h, active.unit.resize_mode).crop((x0, y0, x1, y1))
                arr = np.asarray(fitted)
                arr = np.pad(arr, ((0, height - arr.shape[0]), (0, width - arr.shape[1]), (0, 0)), mode="edge")
            else:
                arr = np.asarray(fit_to(active.map, width, height, active.unit.resize_mode))
            values = hint(arr) if arr.shape[-1] == 4 else arr.astype(np.float32) / 255.0
            x = torch.from_numpy(values).permute(2, 0, 1).unsqueeze(0)
            active._tensors[key] = torch.cat([x, x]).to(self.device, self.dtype)
        return active._tensors[key]

    def _adapter_features(self, active: ActiveUnit, width: int, height: int) -> list[torch.Tensor]:
        """The adapter's features of the unit's map at the pass's size (a one-channel adapter sees its
        luminance), computed once."""
        key = (width, height)
        if key not in active._features:
            x = self._map_for(active, width, height)[:1]
            if active.model.config.in_channels == 1:
                x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype)[:, None, None]).sum(
                    1, keepdim=True)
            active._features[key] = list(active.model(x))
        return active._features[key]

    def _scaled(self, unit: ControlUnit, outputs: list[torch.Tensor], reference: torch.Tensor) -> list[torch.Tensor]:
        """The outputs scaled by the unit's weight and, outside ``balanced``, weakened level by level from
        the deepest outwards; in ``control`` mode the unconditional half gets none."""
        scales = [float(unit.weight)] * len(outputs)
        if unit.control_mode != "balanced":
            scales = [s * SOFT_FALLOFF ** (len(outputs) - 1 - i) for i, s in enumerate(scales)]
        if unit.control_mode != "control":
            return [o * s for o, s in zip(outputs, scales)]
        halves = torch.tensor([0.0, 1.0], device=reference.device, dtype=reference.dtype)[:, None, None, None]
        return [o * s * halves for o, s in zip(outputs, scales)]

    def residuals(self, step: int, total: int, model_input: torch.Tensor, t: torch.Tensor,
                  embeddings: torch.Tensor, unet_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The UNet's extra keyword arguments for this step; empty when no unit acts on it."""
        fraction = step / max(1, total)
        height, width = model_input.shape[-2] * self.vae_scale, model_input.shape[-1] * self.vae_scale
        down: list[torch.Tensor] | None = None
        mid: torch.Tensor | None = None
        intrablock: list[torch.Tensor] = []
        for active in self.units:
            unit = active.unit
            if unit.weight == 0 or not unit.start <= fraction <= unit.end or not self.steers_this_pass(unit):
                continue
            if active.kind == "t2i_adapter":
                features = [torch.cat([f, f]) for f in self._adapter_features(active, width, height)]
                scaled = self._scaled(unit, features, model_input)
                intrablock = [a + b for a, b in zip(intrablock, scaled)] + scaled[len(intrablock):] \
                    if intrablock else scaled
                continue
            samples, middle = active.model(model_input, t, encoder_hidden_states=embeddings,
                                           controlnet_cond=self._map_for(active, width, height),
                                           conditioning_scale=1.0, return_dict=False, **unet_kwargs)
            scaled = self._scaled(unit, [*samples, middle], model_input)
            if down is None:
                down, mid = scaled[:-1], scaled[-1]
            else:
                down = [a + b for a, b in zip(down, scaled[:-1])]
                mid = mid + scaled[-1]
        extra: dict[str, Any] = {}
        if down is not None:
            extra.update(down_block_additional_residuals=tuple(down), mid_block_additional_residual=mid)
        if intrablock:  # a list: the UNet takes its items off one by one
            extra["down_intrablock_additional_residuals"] = intrablock
        return extra

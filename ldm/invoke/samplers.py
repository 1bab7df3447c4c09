"""The sampler names users know (InvokeAI 2.x / k-diffusion) mapped to diffusers schedulers, in one table."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

import diffusers
from diffusers.schedulers.scheduling_utils import SchedulerMixin


@dataclass(frozen=True)
class SamplerSpec:
    scheduler: str  # class name in diffusers
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    needs: str | None = None  # an optional package the scheduler imports


SAMPLERS: dict[str, SamplerSpec] = {
    "ddim": SamplerSpec("DDIMScheduler", description="DDIM"),
    "plms": SamplerSpec("PNDMScheduler", {"skip_prk_steps": True}, "PLMS"),
    "k_lms": SamplerSpec("LMSDiscreteScheduler", description="LMS"),
    "k_dpm_2": SamplerSpec("KDPM2DiscreteScheduler", description="DPM2"),
    "k_dpm_2_a": SamplerSpec("KDPM2AncestralDiscreteScheduler", description="DPM2 ancestral"),
    "k_euler": SamplerSpec("EulerDiscreteScheduler", description="Euler"),
    "k_euler_a": SamplerSpec("EulerAncestralDiscreteScheduler", description="Euler ancestral"),
    "k_heun": SamplerSpec("HeunDiscreteScheduler", description="Heun"),
    "k_dpmpp_2": SamplerSpec("DPMSolverSinglestepScheduler", {"solver_order": 2}, "DPM++ 2S"),
    "k_dpmpp_2m": SamplerSpec("DPMSolverMultistepScheduler", {"solver_order": 2}, "DPM++ 2M"),
    "k_dpmpp_2m_karras": SamplerSpec(
        "DPMSolverMultistepScheduler", {"solver_order": 2, "use_karras_sigmas": True}, "DPM++ 2M Karras"
    ),
    "k_dpmpp_sde": SamplerSpec("DPMSolverSDEScheduler", description="DPM++ SDE", needs="torchsde"),
    "unipc": SamplerSpec("UniPCMultistepScheduler", description="UniPC"),
}

# Options a model's scheduler config carries that make no sense for another scheduler class.
_DROP_FROM_BASE = ("skip_prk_steps", "solver_order", "use_karras_sigmas", "noise_sampler_seed")


def available_samplers() -> list[str]:
    """Sampler names this installation can run; a scheduler diffusers lacks is not offered."""
    names = []
    for name, spec in SAMPLERS.items():
        if not hasattr(diffusers, spec.scheduler):
            continue
        if spec.needs and importlib.util.find_spec(spec.needs) is None:
            continue
        names.append(name)
    return names


def make_scheduler(name: str, base_config: dict[str, Any], seed: int | None = None) -> SchedulerMixin:
    """A fresh scheduler for one generation, built on the model's own training schedule."""
    if name not in available_samplers():
        raise KeyError(name)
    spec = SAMPLERS[name]
    cls = getattr(diffusers, spec.scheduler)
    config = {k: v for k, v in dict(base_config).items() if k not in _DROP_FROM_BASE}
    options = dict(spec.options)
    if spec.scheduler == "DPMSolverSDEScheduler" and seed is not None:
        options["noise_sampler_seed"] = seed  # its Brownian tree must be seeded to reproduce
    return cls.from_config(config, **options)

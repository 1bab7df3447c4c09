"""The samplers of ``request.SAMPLERS`` turned into diffusers schedulers (a scheduler diffusers lacks is not offered)."""

from __future__ import annotations

import importlib.util
from typing import Any

import diffusers
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .request import SAMPLERS, SAMPLERS_BY_ID

# Options a model's scheduler config carries that make no sense for another scheduler class.
_DROP_FROM_BASE = ("skip_prk_steps", "solver_order", "use_karras_sigmas", "noise_sampler_seed")


def available_samplers() -> list[str]:
    """Sampler ids this installation can run."""
    names = []
    for spec in SAMPLERS:
        if not hasattr(diffusers, spec.scheduler):
            continue
        if spec.needs and importlib.util.find_spec(spec.needs) is None:
            continue
        names.append(spec.id)
    return names


def make_scheduler(name: str, base_config: dict[str, Any], seed: int | None = None) -> SchedulerMixin:
    """A fresh scheduler for one generation, built on the model's own training schedule."""
    if name not in available_samplers():
        raise KeyError(name)
    spec = SAMPLERS_BY_ID[name]
    cls = getattr(diffusers, spec.scheduler)
    config = {k: v for k, v in dict(base_config).items() if k not in _DROP_FROM_BASE}
    options = dict(spec.options)
    if spec.scheduler == "DPMSolverSDEScheduler" and seed is not None:
        options["noise_sampler_seed"] = seed  # its Brownian tree must be seeded to reproduce
    return cls.from_config(config, **options)

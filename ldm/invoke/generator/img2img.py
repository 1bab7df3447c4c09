"""Image to image: noise the init image's latents to ``strength`` and denoise from there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from .base import Conditioning, Generator, Progress


def img2img_steps(steps: int, strength: float) -> int:
    """How many steps an img2img pass really runs: floor(strength × steps)."""
    return min(int(steps * strength), steps)


class Img2Img(Generator):
    def prepare_timesteps(self, scheduler, steps: int, strength: float) -> torch.Tensor:
        scheduler.set_timesteps(steps, device=self.device)
        run = img2img_steps(steps, strength)
        start = (steps - run) * int(getattr(scheduler, "order", 1))
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(start)
        return scheduler.timesteps[start:]

    def latents_from(
        self, init_latents: torch.Tensor, noise: torch.Tensor, sampler_name: str, seed: int, steps: int,
        strength: float, cond: Conditioning, progress: Progress, size: tuple[int, int],
        make_after_step: Callable[[Any, torch.Tensor, torch.Tensor], Callable[[int, torch.Tensor], torch.Tensor]]
        | None = None,
    ) -> torch.Tensor:
        """``make_after_step(scheduler, timesteps, noise)`` may build a per-step hook (inpainting's blend)."""
        scheduler = self.scheduler(sampler_name, seed)
        timesteps = self.prepare_timesteps(scheduler, steps, strength)
        noise = noise.to(self.device, self.dtype)
        latents = scheduler.add_noise(init_latents, noise, timesteps[:1])
        blend = make_after_step(scheduler, timesteps, noise) if make_after_step else None
        return self.denoise(latents, scheduler, timesteps, cond, progress, size, after_step=blend,
                            noise_generator=torch.Generator("cpu").manual_seed(seed))

    def generate(
        self, init_image: Image.Image, noise: torch.Tensor, sampler_name: str, seed: int, steps: int,
        strength: float, cond: Conditioning, progress: Progress,
    ) -> Image.Image:
        if img2img_steps(steps, strength) == 0:
            return init_image.convert("RGB")  # nothing to denoise: the init image, untouched
        init_latents = self.encode(init_image)
        latents = self.latents_from(init_latents, noise, sampler_name, seed, steps, strength, cond, progress,
                                    init_image.size)
        return self.decode(latents)

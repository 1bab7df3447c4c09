"""Text to image: start from seeded noise and denoise the whole picture."""

from __future__ import annotations

import torch
from PIL import Image

from .base import Conditioning, Generator, Progress


class Txt2Img(Generator):
    def latents(
        self, noise: torch.Tensor, sampler_name: str, seed: int, steps: int, cond: Conditioning,
        progress: Progress, size: tuple[int, int],
    ) -> torch.Tensor:
        scheduler = self.scheduler(sampler_name, seed)
        scheduler.set_timesteps(steps, device=self.device)
        latents = noise.to(self.device, self.dtype) * scheduler.init_noise_sigma
        return self.denoise(latents, scheduler, scheduler.timesteps, cond, progress, size,
                            noise_generator=torch.Generator("cpu").manual_seed(seed))

    def generate(
        self, noise: torch.Tensor, sampler_name: str, seed: int, steps: int, cond: Conditioning,
        progress: Progress, width: int, height: int,
    ) -> Image.Image:
        return self.decode(self.latents(noise, sampler_name, seed, steps, cond, progress, (width, height)))

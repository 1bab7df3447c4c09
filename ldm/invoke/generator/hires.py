"""Hires fix: a first pass at ≤512 px on the short side, latents upscaled, then an img2img pass at
the asked size, so large images keep a coherent composition."""

from __future__ import annotations

import logging

import torch.nn.functional as F
from PIL import Image

from ..noise import gaussian_noise
from .base import Conditioning, Progress
from .img2img import Img2Img
from .txt2img import Txt2Img

log = logging.getLogger(__name__)

FIRST_PASS_SHORT_SIDE = 512


def first_pass_size(width: int, height: int, short_side: int = FIRST_PASS_SHORT_SIDE) -> tuple[int, int] | None:
    """The first pass's size, or None when the asked size is already small enough for one pass.
    ``short_side`` is the model's native size (512 for SD 1.x, 768 for SD 2.x-v, 1024 for SDXL)."""
    short = min(width, height)
    if short <= short_side:
        return None
    scale = short_side / short
    return max(64, int(width * scale) // 8 * 8), max(64, int(height * scale) // 8 * 8)


class HiresFix(Txt2Img, Img2Img):
    def generate_hires(
        self, noise_for, sampler_name: str, seed: int, steps: int, strength: float, cond: Conditioning,
        progress: Progress, width: int, height: int,
    ) -> Image.Image:
        """``noise_for(shape)`` gives the seeded starting noise for a latent shape."""
        small = first_pass_size(width, height, max(FIRST_PASS_SHORT_SIDE, self.native_size))
        if small is None:
            log.info("hires fix: %dx%d is small enough for a single pass", width, height)
            return self.generate(noise_for(self.latent_shape(width, height)), sampler_name, seed, steps, cond,
                                 progress, width, height)
        w1, h1 = small
        latents = self.latents(noise_for(self.latent_shape(w1, h1)), sampler_name, seed, steps, cond, progress, (w1, h1))
        shape = self.latent_shape(width, height)
        upscaled = F.interpolate(latents.float(), size=shape[2:], mode="bicubic", align_corners=False).to(latents.dtype)
        second_noise = gaussian_noise(seed + 1, shape)
        out = self.latents_from(upscaled, second_noise, sampler_name, seed, steps, strength, cond, progress,
                                (width, height))
        return self.decode(out)

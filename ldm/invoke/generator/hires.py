"""Hires fix: a first pass at ≤512 px on the short side, latents upscaled, then an img2img pass at
the asked size, so large images keep a coherent composition."""

from __future__ import annotations

import logging

import torch.nn.functional as F
from PIL import Image

from ..noise import SeededNoise
from ..request import GenerationRequest
from .base import Conditioning, Generator, Progress

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


class HiresFix(Generator):
    def run(self, request: GenerationRequest, noise: SeededNoise, cond: Conditioning, progress: Progress
            ) -> Image.Image:
        width, height = request.width, request.height
        small = first_pass_size(width, height, max(FIRST_PASS_SHORT_SIDE, self.native_size))
        if small is None:
            log.info("hires fix: %dx%d is small enough for a single pass", width, height)
            latents = self.sample_from_noise(noise.initial(self.latent_shape(width, height)), request,
                                             noise.sampler_seed, cond, progress, (width, height))
            return self.decode(latents)
        latents = self.sample_from_noise(noise.initial(self.latent_shape(*small)), request, noise.sampler_seed, cond,
                                         progress, small)
        shape = self.latent_shape(width, height)
        upscaled = F.interpolate(latents.float(), size=shape[2:], mode="bicubic", align_corners=False).to(latents.dtype)
        out = self.sample_from_latents(upscaled, noise.second_pass(shape), request, noise.sampler_seed,
                                       request.hires_strength, cond, progress, (width, height))
        return self.decode(out)

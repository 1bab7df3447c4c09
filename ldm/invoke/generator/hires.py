"""Hires fix: a first pass at ≤512 px on the short side, latents upscaled, then an img2img pass at
the asked size, so large images keep a coherent composition."""

from __future__ import annotations

import logging

import torch.nn.functional as F
from PIL import Image

from ..noise import SeededNoise
from ..request import FIRST_PASS_SHORT_SIDE, GenerationRequest, first_pass_size
from .base import Conditioning, Generator, Progress

log = logging.getLogger(__name__)

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

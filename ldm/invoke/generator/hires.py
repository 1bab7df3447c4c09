"""Hires fix: a first pass at ≤512 px on the short side, latents upscaled, then an img2img pass at
the asked size, so large images keep a coherent composition. Control units steer the passes their
``hires_pass`` names (both, the first or the second); a size small enough for one pass steers with every unit."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch.nn.functional as F
from PIL import Image

from ..noise import SeededNoise
from ..request import FIRST_PASS_SHORT_SIDE, GenerationRequest, first_pass_size
from .base import Conditioning, Generator, Progress

log = logging.getLogger(__name__)

class HiresFix(Generator):
    @contextlib.contextmanager
    def _pass(self, name: str) -> Iterator[None]:
        """Tells the control steering (when there are units) that pass ``name`` (first, second) runs."""
        if self.control is None:
            yield
            return
        self.control.hires_pass = name
        try:
            yield
        finally:
            self.control.hires_pass = None

    def run(self, request: GenerationRequest, noise: SeededNoise, cond: Conditioning, progress: Progress
            ) -> Image.Image:
        width, height = request.width, request.height
        small = first_pass_size(width, height, max(FIRST_PASS_SHORT_SIDE, self.native_size))
        if small is None:
            log.info("hires fix: %dx%d is small enough for a single pass", width, height)
            latents = self.sample_from_noise(noise.initial(self.latent_shape(width, height)), request,
                                             noise.sampler_seed, cond, progress, (width, height))
            return self.decode(latents)
        with self._pass("first"):
            latents = self.sample_from_noise(noise.initial(self.latent_shape(*small)), request, noise.sampler_seed,
                                             cond, progress, small)
        shape = self.latent_shape(width, height)
        upscaled = F.interpolate(latents.float(), size=shape[2:], mode="bicubic", align_corners=False).to(latents.dtype)
        with self._pass("second"):
            out = self.sample_from_latents(upscaled, noise.second_pass(shape), request, noise.sampler_seed,
                                           request.hires_strength, cond, progress, (width, height))
        return self.decode(out)

"""Text to image: start from seeded noise and denoise the whole picture."""

from __future__ import annotations

from PIL import Image

from ..noise import SeededNoise
from ..request import GenerationRequest
from .base import Conditioning, Generator, Progress


class Txt2Img(Generator):
    def run(self, request: GenerationRequest, noise: SeededNoise, cond: Conditioning, progress: Progress
            ) -> Image.Image:
        size = (request.width, request.height)
        latents = self.sample_from_noise(noise.initial(self.latent_shape(*size)), request, noise.sampler_seed, cond,
                                         progress, size)
        return self.decode(latents)

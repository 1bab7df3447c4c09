"""Image to image: noise the init image's latents to ``strength`` and denoise from there."""

from __future__ import annotations

from PIL import Image

from ..noise import SeededNoise
from ..request import GenerationRequest, steps_run
from .base import Conditioning, Generator, Progress
from .inputs import prepare_inputs


class Img2Img(Generator):
    def run(self, request: GenerationRequest, noise: SeededNoise, cond: Conditioning, progress: Progress
            ) -> Image.Image:
        init_image = prepare_inputs(request).image
        assert init_image is not None, "image to image needs an init image"
        if steps_run(request.steps, request.strength) == 0:
            return init_image.convert("RGB")  # nothing to denoise: the init image, untouched
        init_latents = self.encode(init_image)
        start = noise.initial(self.latent_shape(*init_image.size))
        latents = self.sample_from_latents(init_latents, start, request, noise.sampler_seed, request.strength, cond,
                                           progress, init_image.size)
        return self.decode(latents)

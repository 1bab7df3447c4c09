"""Inpainting and outpainting: regenerate the masked region (transparent pixels, or a painted mask)
and composite the result back so that pixels more than ``seam_size`` px (default 8) outside the mask
keep their exact values."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from scipy import ndimage

from ..noise import SeededNoise
from ..request import SEAM, GenerationRequest, steps_run
from .base import Conditioning, Generator, Progress
from .inputs import prepare_inputs


def seam_alpha(mask: np.ndarray, seam: int = SEAM) -> np.ndarray:
    """Blend weights: 1 inside the mask, a smooth (cosine) fall over the ``seam`` px around it, and
    exactly 0 beyond. Distances are Euclidean, so "more than ``seam`` px away" holds diagonally too.
    A seam of 0 is a hard edge: the mask's pixels are replaced and nothing else."""
    alpha = mask.astype(np.float32)
    if seam <= 0 or not mask.any():
        return alpha
    distance = ndimage.distance_transform_edt(~mask)  # px from each pixel to the nearest masked one
    ring = (distance > 0) & (distance <= seam)
    alpha[ring] = (0.5 * (1.0 + np.cos(np.pi * distance[ring] / (seam + 1)))).astype(np.float32)
    return alpha


def composite(original: Image.Image, generated: Image.Image, mask: np.ndarray, seam: int = SEAM) -> Image.Image:
    base = np.asarray(original.convert("RGB"), dtype=np.float32)
    new = np.asarray(generated.convert("RGB"), dtype=np.float32)
    alpha = seam_alpha(mask, seam)[..., None]
    out = base * (1 - alpha) + new * alpha
    out = np.where(alpha == 0, base, out)  # untouched pixels stay bit-identical
    return Image.fromarray(out.round().clip(0, 255).astype(np.uint8))


def fill_masked(image: Image.Image, mask: np.ndarray) -> Image.Image:
    """Gives the pixels under the mask a start the sampler can build on: each takes the colour of
    the nearest unmasked pixel, then the filled area is blurred so the stretched edges become soft
    colour fields. Outpainting thus begins from the picture's own border colours rather than from
    grey (or from whatever colours a transparent PNG happened to store under alpha 0)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if mask.all():
        return Image.new("RGB", image.size, (127, 127, 127))
    if not mask.any():
        return image.convert("RGB")
    nearest = ndimage.distance_transform_edt(mask, return_distances=False, return_indices=True)
    stretched = rgb[nearest[0], nearest[1]]
    radius = max(2.0, min(image.size) / 32)
    blurred = np.asarray(Image.fromarray(stretched).filter(ImageFilter.GaussianBlur(radius)))
    out = rgb.copy()
    out[mask] = blurred[mask]
    return Image.fromarray(out)


def snap_box(box: dict[str, int], width: int, height: int) -> tuple[int, int, int, int]:
    """The bounding box grown outwards to multiples of 8 and clipped to the image: (x0, y0, x1, y1)."""
    x0 = max(0, int(box["x"]) // 8 * 8)
    y0 = max(0, int(box["y"]) // 8 * 8)
    x1 = min(width, -(-(int(box["x"]) + int(box["width"])) // 8) * 8)
    y1 = min(height, -(-(int(box["y"]) + int(box["height"])) // 8) * 8)
    return x0, y0, max(x0 + 8, x1), max(y0 + 8, y1)


class Inpaint(Generator):
    def run(self, request: GenerationRequest, noise: SeededNoise, cond: Conditioning, progress: Progress
            ) -> Image.Image:
        inputs = prepare_inputs(request)
        assert inputs.image is not None and inputs.mask is not None, "inpainting needs an init image and a mask"
        original = inputs.image.convert("RGB")
        mask = np.asarray(inputs.mask.convert("L").resize(original.size, Image.Resampling.NEAREST)) > 127
        if request.bounding_box:
            x0, y0, x1, y1 = snap_box(request.bounding_box.as_dict(), *original.size)
        else:
            x0, y0, x1, y1 = 0, 0, original.width, original.height
        region_mask = np.zeros_like(mask)
        region_mask[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
        if not region_mask.any() or steps_run(request.steps, request.strength) == 0:
            return original.copy()
        crop = fill_masked(original, region_mask).crop((x0, y0, x1, y1))
        crop_mask = region_mask[y0:y1, x0:x1]
        # A picture whose sides are not multiples of 8 leaves a ragged edge region: pad it (edge
        # pixels repeated, not masked) to the latent grid, and cut the padding off after decoding.
        crop_w, crop_h = crop.size
        pad_w, pad_h = -crop_w % self.vae_scale, -crop_h % self.vae_scale
        if pad_w or pad_h:
            crop = Image.fromarray(np.pad(np.asarray(crop), ((0, pad_h), (0, pad_w), (0, 0)), mode="edge"))
            crop_mask = np.pad(crop_mask, ((0, pad_h), (0, pad_w)))
        if self.control is not None:  # the map is fitted to the whole picture and cut like it
            self.control.region = (original.size, (x0, y0, x1, y1))
        init_latents = self.encode(crop)
        start = noise.initial(self.latent_shape(*crop.size)).to(self.device, self.latent_dtype)
        m = torch.from_numpy(crop_mask.astype(np.float32))[None, None]
        m = F.max_pool2d(m, self.vae_scale).to(self.device, self.latent_dtype)  # any masked pixel marks its latent
        replace = request.inpaint_replace
        if replace > 0:
            init_latents = init_latents * (1 - replace * m) + start * (replace * m)

        def make_blend(scheduler: Any, timesteps: torch.Tensor, step_noise: torch.Tensor):
            def keep_unmasked(i: int, latents: torch.Tensor) -> torch.Tensor:
                if i + 1 < len(timesteps):
                    known = scheduler.add_noise(init_latents, step_noise, timesteps[i + 1 : i + 2])
                else:
                    known = init_latents
                return m * latents + (1 - m) * known

            return keep_unmasked

        latents = self.sample_from_latents(init_latents, start, request, noise.sampler_seed, request.strength, cond,
                                           progress, crop.size, make_after_step=make_blend)
        generated = original.copy()
        generated.paste(self.decode(latents).crop((0, 0, crop_w, crop_h)), (x0, y0))
        return composite(original, generated, region_mask, request.seam_size)

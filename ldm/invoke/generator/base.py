"""What every generation mode shares: prompt conditioning, the denoising loop, VAE encode/decode,
cheap latent previews and seamless tiling. Each mode (txt2img, img2img, inpaint, hires fix) is a
small subclass in its own file, as in InvokeAI 2.x's ``ldm/invoke/generator``."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..conditioning import ParsedPrompt, TextConditioner
from ..samplers import make_scheduler

StepCallback = Callable[[int, int, "Image.Image | None"], None]
IntermediateCallback = Callable[[int, Image.Image], None]

# Stable Diffusion 1.x/2.x latent channels → RGB, a linear fit good enough for a live preview.
SD_LATENT_RGB = torch.tensor(
    [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ]
)


@dataclass
class Progress:
    """The callbacks of one generation, and how often they want images."""

    step_callback: StepCallback | None = None
    intermediate_callback: IntermediateCallback | None = None
    preview_every: int = 1
    intermediate_every: int = 0


@dataclass
class Conditioning:
    cond: torch.Tensor
    uncond: torch.Tensor
    cfg_scale: float
    threshold: float = 0.0
    warnings: list[str] = field(default_factory=list)


class Generator:
    """One generation mode over a loaded diffusers pipeline's components."""

    def __init__(self, pipeline: Any, device: torch.device, dtype: torch.dtype) -> None:
        self.pipeline = pipeline
        self.unet = pipeline.unet
        self.vae = pipeline.vae
        self.device = device
        self.dtype = dtype
        self.vae_scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.latent_channels = int(self.unet.config.in_channels)

    # -- building blocks -------------------------------------------------------------------

    def conditioning(self, parsed: ParsedPrompt, cfg_scale: float, threshold: float) -> Conditioning:
        conditioner = TextConditioner(self.pipeline.tokenizer, self.pipeline.text_encoder, self.device, self.dtype)
        cond, uncond = conditioner.conditioning(parsed)
        return Conditioning(cond, uncond, cfg_scale, threshold, parsed.warnings)

    def scheduler(self, sampler_name: str, seed: int):
        return make_scheduler(sampler_name, self.pipeline.scheduler.config, seed)

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int, int]:
        return (1, self.latent_channels, height // self.vae_scale, width // self.vae_scale)

    def encode(self, image: Image.Image) -> torch.Tensor:
        """RGB image → scaled latents (the distribution's mean, so encoding is deterministic)."""
        arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
        x = torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).to(self.device, self.vae.dtype)
        latents = self.vae.encode(x).latent_dist.mean
        return latents * self.vae.config.scaling_factor

    def decode(self, latents: torch.Tensor) -> Image.Image:
        x = self.vae.decode(latents.to(self.vae.dtype) / self.vae.config.scaling_factor).sample
        x = (x / 2 + 0.5).clamp(0, 1)
        arr = (x[0].permute(1, 2, 0).float().cpu().numpy() * 255).round().astype(np.uint8)
        return Image.fromarray(arr)

    @staticmethod
    def latent_preview(latents: torch.Tensor, width: int, height: int) -> Image.Image:
        """A cheap RGB approximation of the latents (no VAE), upscaled to the final size."""
        rgb = latents[0].float().cpu().permute(1, 2, 0) @ SD_LATENT_RGB
        arr = ((rgb + 1) / 2).clamp(0, 1).mul(255).round().byte().numpy()
        return Image.fromarray(arr).resize((width, height), Image.Resampling.NEAREST)

    # -- the loop --------------------------------------------------------------------------

    def denoise(
        self,
        latents: torch.Tensor,
        scheduler: Any,
        timesteps: torch.Tensor,
        cond: Conditioning,
        progress: Progress,
        size: tuple[int, int],
        after_step: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
        noise_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Runs the sampler over ``timesteps``; ``after_step(i, latents)`` may rewrite the latents
        (inpainting keeps the unmasked part there). Progress is counted in user steps, so samplers
        of order 2 report the same totals as the others."""
        order = int(getattr(scheduler, "order", 1))
        total = max(1, (len(timesteps) + order - 1) // order)
        embeddings = torch.cat([cond.uncond, cond.cond])
        reported = 0
        step_kwargs: dict[str, Any] = {}
        if noise_generator is not None and "generator" in inspect.signature(scheduler.step).parameters:
            step_kwargs["generator"] = noise_generator  # ancestral samplers draw fresh noise each step
        for i, t in enumerate(timesteps):
            model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)
            noise_pred = self.unet(model_input, t, encoder_hidden_states=embeddings).sample
            uncond_pred, cond_pred = noise_pred.chunk(2)
            guided = uncond_pred + cond.cfg_scale * (cond_pred - uncond_pred)
            if cond.threshold > 0:
                guided = self._threshold(guided, latents, t, scheduler, cond.threshold)
            latents = scheduler.step(guided, t, latents, **step_kwargs).prev_sample
            if after_step is not None:
                latents = after_step(i, latents)
            step = min(total, i // order + 1)
            if step > reported or i == len(timesteps) - 1:
                reported = step
                self._report(step, total, latents, progress, size)
        return latents

    def _report(self, step: int, total: int, latents: torch.Tensor, progress: Progress, size: tuple[int, int]) -> None:
        if progress.intermediate_callback and progress.intermediate_every > 0 and step % progress.intermediate_every == 0:
            progress.intermediate_callback(step, self.decode(latents))
        if progress.step_callback:
            preview = None
            if progress.preview_every > 0 and (step % progress.preview_every == 0 or step == total):
                preview = self.latent_preview(latents, *size)
            progress.step_callback(step, total, preview)

    @staticmethod
    def _threshold(eps: torch.Tensor, sample: torch.Tensor, t: torch.Tensor, scheduler: Any, threshold: float) -> torch.Tensor:
        """InvokeAI 2.x's CFG threshold: clamp the predicted clean latents to ±threshold (shrinking
        outliers towards 70 % of their value first), then turn that back into a noise prediction."""
        if float(getattr(scheduler, "init_noise_sigma", 1.0)) > 1.0 and getattr(scheduler, "sigmas", None) is not None:
            idx = scheduler.step_index if scheduler.step_index is not None else 0
            sigma = scheduler.sigmas[idx].to(sample.device, torch.float32)
            scale = torch.tensor(1.0)
        else:
            alpha = scheduler.alphas_cumprod[int(t)].to(torch.float32)
            sigma = ((1 - alpha) / alpha).sqrt()
            scale = alpha.sqrt()
        x = sample.float() / scale
        x0 = x - sigma * eps.float()
        hi, lo = float(x0.max()), float(x0.min())
        if hi < threshold and lo > -threshold:
            return eps
        if hi > threshold:
            hi = min(max(1.0, 0.7 * hi), threshold)
        if lo < -threshold:
            lo = max(min(-1.0, 0.7 * lo), -threshold)
        x0 = x0.clamp(lo, hi)
        return ((x - x0) / sigma).to(eps.dtype)

    # -- seamless tiling ------------------------------------------------------------------

    @contextlib.contextmanager
    def seamless(self, enabled: bool) -> Iterator[None]:
        """Circular padding in every convolution while generating, restored afterwards."""
        if not enabled:
            yield
            return
        convs = [m for model in (self.unet, self.vae) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        saved = [m.padding_mode for m in convs]
        try:
            for m in convs:
                m.padding_mode = "circular"
            yield
        finally:
            for m, mode in zip(convs, saved):
                m.padding_mode = mode

"""What every generation mode shares: prompt conditioning, the denoising loop (from noise, or from
an image's latents at a strength), VAE encode/decode, cheap latent previews and seamless tiling.
Each mode (txt2img, img2img, inpaint, hires fix) is a small subclass in its own file with one entry
point, ``run(request, noise, conditioning, progress)``, as in InvokeAI 2.x's ``ldm/invoke/generator``.

The same loop runs SD 1.x, SD 2.x (v-prediction comes from the scheduler config's prediction_type) and
SDXL (two text encoders, pooled embeddings and size conditioning passed as ``added_cond_kwargs``)."""

from __future__ import annotations

import abc
import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from ..conditioning import ParsedPrompt, Phase, SDXLConditioner, TextConditioner, a1111_phases
from ..noise import SeededNoise
from ..request import GenerationRequest, steps_run
from ..samplers import make_scheduler

if TYPE_CHECKING:
    from ..control.steering import ControlSteering

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
SD_LATENT_BIAS = torch.zeros(3)
# SDXL's VAE has a different latent space; ComfyUI's published fit (factors and bias).
SDXL_LATENT_RGB = torch.tensor(
    [
        [0.3651, 0.4232, 0.4341],
        [-0.2533, -0.0042, 0.1068],
        [0.1076, 0.1111, -0.0362],
        [-0.3165, -0.2492, -0.2188],
    ]
)
SDXL_LATENT_BIAS = torch.tensor([0.1084, -0.0175, -0.0011])


@dataclass
class Progress:
    """The progress sink of one generation: its callbacks, and how often they want images."""

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
    pooled: torch.Tensor | None = None  # SDXL: the second text encoder's pooled embedding
    uncond_pooled: torch.Tensor | None = None
    # A1111's prompt editing and alternation: the embeddings change at these steps (cond/uncond are
    # the first phase's). Empty: the same embeddings for every step.
    phases: tuple[Phase, ...] = ()

    def phase_at(self, step: int) -> Conditioning | Phase:
        """What conditions step ``step`` (counted from 1) of a run."""
        for phase in self.phases:
            if step <= phase.until_step:
                return phase
        return self.phases[-1] if self.phases else self


AfterStep = Callable[[int, torch.Tensor], torch.Tensor]


class Generator(abc.ABC):
    """One generation mode over a loaded diffusers pipeline's components."""

    def __init__(self, pipeline: Any, device: torch.device, dtype: torch.dtype,
                 latent_dtype: torch.dtype | None = None) -> None:
        self.pipeline = pipeline
        self.unet = pipeline.unet
        self.vae = pipeline.vae
        self.device = device
        self.dtype = dtype  # the weights'; the UNet's inputs and the text embeddings are cast to it
        # The sampler's latents: the weights' dtype unless told (bf16 weights on the CPU keep them float32,
        # so the scheduler's small per-step updates are not rounded to bf16's 8 bits).
        self.latent_dtype = latent_dtype or dtype
        self.vae_scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.latent_channels = int(self.unet.config.in_channels)
        self.is_sdxl = getattr(self.unet.config, "addition_embed_type", None) == "text_time"
        self.latent_rgb, self.latent_bias = (SDXL_LATENT_RGB, SDXL_LATENT_BIAS) if self.is_sdxl else \
            (SD_LATENT_RGB, SD_LATENT_BIAS)
        self.control: ControlSteering | None = None  # the request's control units, when it has any

    @property
    def native_size(self) -> int:
        """The size the model was trained at (512 for SD 1.x, 768 for SD 2.x-v, 1024 for SDXL)."""
        return int(self.unet.config.sample_size) * self.vae_scale

    # -- building blocks -------------------------------------------------------------------

    def conditioning(self, parsed: ParsedPrompt, cfg_scale: float, threshold: float, clip_skip: int = 0,
                     steps: int = 1) -> Conditioning:
        """Encodes the prompt. The prompt's LoRAs and embeddings are applied first (and those of an
        earlier prompt removed); ``parsed`` then records which were applied. An A1111-syntax prompt is
        scheduled over ``steps`` steps."""
        extras = getattr(self.pipeline, "invokeai_extras", None)
        rewrite = None
        if extras is not None:
            # Loading and unloading change the model's weights: that must not make them inference-mode
            # tensors, which could not be moved or changed later outside inference mode.
            with torch.inference_mode(False), torch.no_grad():
                rewrite = extras.apply(parsed)
        if parsed.loras and extras is None:
            parsed.warnings.append("LoRAs need a model loaded through the model manager; they were ignored")
            parsed.loras = []
        if self.is_sdxl:
            xl_conditioner = SDXLConditioner(self.pipeline, self.device, self.dtype, clip_skip, convert=rewrite)
            if parsed.syntax == "a1111":
                return self._scheduled(a1111_phases(xl_conditioner, parsed, steps), cfg_scale, threshold, parsed)
            xl = xl_conditioner.conditioning(parsed)
            return Conditioning(xl.cond, xl.uncond, cfg_scale, threshold, parsed.warnings, xl.pooled, xl.uncond_pooled)
        tokenizer = self.pipeline.tokenizer
        convert = (lambda text: rewrite(text, tokenizer)) if rewrite is not None else None
        conditioner = TextConditioner(tokenizer, self.pipeline.text_encoder, self.device, self.dtype, clip_skip, convert)
        if parsed.syntax == "a1111":
            return self._scheduled(a1111_phases(conditioner, parsed, steps), cfg_scale, threshold, parsed)
        cond, uncond = conditioner.conditioning(parsed)
        return Conditioning(cond, uncond, cfg_scale, threshold, parsed.warnings)

    @staticmethod
    def _scheduled(phases: list[Phase], cfg_scale: float, threshold: float, parsed: ParsedPrompt) -> Conditioning:
        first = phases[0]
        return Conditioning(first.cond, first.uncond, cfg_scale, threshold, parsed.warnings, first.pooled,
                            first.uncond_pooled, tuple(phases) if len(phases) > 1 else ())

    def scheduler(self, sampler_name: str, seed: int):
        return make_scheduler(sampler_name, self.pipeline.scheduler.config, seed)

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int, int]:
        return (1, self.latent_channels, height // self.vae_scale, width // self.vae_scale)

    def encode(self, image: Image.Image) -> torch.Tensor:
        """RGB image → scaled latents (the distribution's mean, so encoding is deterministic)."""
        arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
        x = torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).to(self.device, self.vae.dtype)
        latents = self.vae.encode(x).latent_dist.mean
        # SDXL's VAE may run in float32 beside a float16 UNet: latents follow the UNet's precision.
        return (latents * self.vae.config.scaling_factor).to(self.latent_dtype)

    def added_conditions(self, cond: Conditioning | Phase, latents: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """SDXL's extra UNet inputs for the (uncond, cond) batch: pooled text embeddings and the size
        conditioning (original size, crop corner, target size), here the size being generated."""
        if not self.is_sdxl:
            return None
        if cond.pooled is None or cond.uncond_pooled is None:
            raise ValueError("SDXL needs pooled text embeddings")
        height, width = latents.shape[-2] * self.vae_scale, latents.shape[-1] * self.vae_scale
        time_ids = torch.tensor([[height, width, 0, 0, height, width]], device=latents.device, dtype=cond.cond.dtype)
        return {"text_embeds": torch.cat([cond.uncond_pooled, cond.pooled]), "time_ids": time_ids.repeat(2, 1)}

    def decode(self, latents: torch.Tensor) -> Image.Image:
        x = self.vae.decode(latents.to(self.vae.dtype) / self.vae.config.scaling_factor).sample
        x = (x / 2 + 0.5).clamp(0, 1)
        arr = (x[0].permute(1, 2, 0).float().cpu().numpy() * 255).round().astype(np.uint8)
        return Image.fromarray(arr)

    def latent_preview(self, latents: torch.Tensor, width: int, height: int) -> Image.Image:
        """A cheap RGB approximation of the latents (no VAE, the model family's factors), at the final size."""
        rgb = latents[0].float().cpu().permute(1, 2, 0) @ self.latent_rgb + self.latent_bias
        arr = ((rgb + 1) / 2).clamp(0, 1).mul(255).round().byte().numpy()
        return Image.fromarray(arr).resize((width, height), Image.Resampling.NEAREST)

    @abc.abstractmethod
    def run(self, request: GenerationRequest, noise: SeededNoise, cond: Conditioning, progress: Progress
            ) -> Image.Image:
        """Makes one image of ``request`` from ``noise`` (each mode implements this)."""

    # -- sampling: from noise, or from latents at a strength -------------------------------

    def sample_from_noise(self, noise: torch.Tensor, request: GenerationRequest, sampler_seed: int,
                          cond: Conditioning, progress: Progress, size: tuple[int, int]) -> torch.Tensor:
        """Every step of the sampler, starting from pure noise."""
        scheduler = self.scheduler(request.sampler_name, sampler_seed)
        scheduler.set_timesteps(request.steps, device=self.device)
        latents = noise.to(self.device, self.latent_dtype) * scheduler.init_noise_sigma
        return self.denoise(latents, scheduler, scheduler.timesteps, cond, progress, size,
                            noise_generator=torch.Generator("cpu").manual_seed(sampler_seed))

    def img2img_timesteps(self, scheduler: Any, steps: int, strength: float) -> torch.Tensor:
        scheduler.set_timesteps(steps, device=self.device)
        start = (steps - steps_run(steps, strength)) * int(getattr(scheduler, "order", 1))
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(start)
        return scheduler.timesteps[start:]

    def sample_from_latents(
        self, init_latents: torch.Tensor, noise: torch.Tensor, request: GenerationRequest, sampler_seed: int,
        strength: float, cond: Conditioning, progress: Progress, size: tuple[int, int],
        make_after_step: Callable[[Any, torch.Tensor, torch.Tensor], AfterStep] | None = None,
    ) -> torch.Tensor:
        """The last floor(strength × steps) steps, starting from ``init_latents`` noised to that point.
        ``make_after_step(scheduler, timesteps, noise)`` may build a per-step hook (inpainting's blend)."""
        scheduler = self.scheduler(request.sampler_name, sampler_seed)
        timesteps = self.img2img_timesteps(scheduler, request.steps, strength)
        noise = noise.to(self.device, self.latent_dtype)
        latents = scheduler.add_noise(init_latents, noise, timesteps[:1])
        blend = make_after_step(scheduler, timesteps, noise) if make_after_step else None
        return self.denoise(latents, scheduler, timesteps, cond, progress, size, after_step=blend,
                            noise_generator=torch.Generator("cpu").manual_seed(sampler_seed))

    # -- the loop --------------------------------------------------------------------------

    def denoise(
        self,
        latents: torch.Tensor,
        scheduler: Any,
        timesteps: torch.Tensor,
        cond: Conditioning,
        progress: Progress,
        size: tuple[int, int],
        after_step: AfterStep | None = None,
        noise_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Runs the sampler over ``timesteps``; ``after_step(i, latents)`` may rewrite the latents
        (inpainting keeps the unmasked part there). Progress is counted in user steps, so samplers
        of order 2 report the same totals as the others. A scheduled prompt's phase is picked by the
        user step within this run (as A1111 counts: an img2img pass starts again at step 1)."""
        order = int(getattr(scheduler, "order", 1))
        total = max(1, (len(timesteps) + order - 1) // order)
        embeddings = torch.cat([cond.uncond, cond.cond])
        added = self.added_conditions(cond, latents)
        unet_kwargs: dict[str, Any] = {"added_cond_kwargs": added} if added is not None else {}
        reported = 0
        step_kwargs: dict[str, Any] = {}
        if noise_generator is not None and "generator" in inspect.signature(scheduler.step).parameters:
            step_kwargs["generator"] = noise_generator  # ancestral samplers draw fresh noise each step
        phase: Conditioning | Phase = cond
        for i, t in enumerate(timesteps):
            if cond.phases and cond.phase_at(i // order + 1) is not phase:
                phase = cond.phase_at(i // order + 1)
                embeddings = torch.cat([phase.uncond, phase.cond])
                added = self.added_conditions(phase, latents)
                unet_kwargs = {"added_cond_kwargs": added} if added is not None else {}
            model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t).to(self.dtype)
            control = self.control_residuals(i // order, total, model_input, t, embeddings, unet_kwargs)
            noise_pred = self.unet(model_input, t, encoder_hidden_states=embeddings, **unet_kwargs, **control).sample
            if self.latent_dtype != self.dtype:  # bf16 weights: guidance and the sampler step in float32
                noise_pred = noise_pred.to(self.latent_dtype)
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

    def control_residuals(self, step: int, total: int, model_input: torch.Tensor, t: torch.Tensor,
                          embeddings: torch.Tensor, unet_kwargs: dict[str, Any]) -> dict[str, Any]:
        """The control units' residuals for this step as extra UNet arguments (none without units)."""
        if self.control is None:
            return {}
        return self.control.residuals(step, total, model_input, t, embeddings, unet_kwargs)

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
        outliers towards 70 % of their value first), then turn that back into a noise prediction.
        A v-prediction model's output is turned into noise first and back afterwards."""
        if float(getattr(scheduler, "init_noise_sigma", 1.0)) > 1.0 and getattr(scheduler, "sigmas", None) is not None:
            idx = scheduler.step_index if scheduler.step_index is not None else 0
            sigma = scheduler.sigmas[idx].to(sample.device, torch.float32)
            scale = torch.tensor(1.0)
            alpha = 1 / (1 + sigma**2)
            x_t = sample.float() * alpha.sqrt()  # the sampler's sample lives in sigma space
        else:
            alpha = scheduler.alphas_cumprod[int(t)].to(sample.device, torch.float32)
            sigma = ((1 - alpha) / alpha).sqrt()
            scale = alpha.sqrt()
            x_t = sample.float()
        v_prediction = getattr(scheduler.config, "prediction_type", "epsilon") == "v_prediction"
        noise = alpha.sqrt() * eps.float() + (1 - alpha).sqrt() * x_t if v_prediction else eps.float()
        x = sample.float() / scale
        x0 = x - sigma * noise
        hi, lo = float(x0.max()), float(x0.min())
        if hi < threshold and lo > -threshold:
            return eps
        if hi > threshold:
            hi = min(max(1.0, 0.7 * hi), threshold)
        if lo < -threshold:
            lo = max(min(-1.0, 0.7 * lo), -threshold)
        x0 = x0.clamp(lo, hi)
        noise = (x - x0) / sigma
        if v_prediction:
            return ((noise - (1 - alpha).sqrt() * x_t) / alpha.sqrt()).to(eps.dtype)
        return noise.to(eps.dtype)

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

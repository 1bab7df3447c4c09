"""``Generate``: the engine's one door. Load a model, then turn parameters into images.

    from ldm.invoke.generate import Generate
    gen = Generate()                       # the default model of the root dir (the demo model on a fresh machine)
    for image, seed in gen.prompt2image("strawberry sushi", steps=20, seed=42):
        image.save(f"{seed}.png")          # image.info carries the recipe (sd-metadata, Dream)
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageOps

from . import metadata as md
from .conditioning import parse_prompt
from .devices import (
    autocast_for,
    choose_device,
    choose_precision,
    free_memory,
    prefer_channels_last,
    weights_dtype,
)
from .errors import InvalidParameterError, InvokeError, ModelLoadError
from .generator.base import Progress
from .generator.hires import HiresFix
from .generator.img2img import Img2Img
from .generator.inpaint import MAX_SEAM, SEAM, Inpaint, mask_from_alpha, normalise_mask
from .globals import resolve_root
from .model_manager import LoadedModel, ModelManager
from .noise import MAX_SEED, initial_noise
from .samplers import available_samplers

log = logging.getLogger(__name__)

ImageCallback = Callable[[Image.Image, int, int], None]
StatusCallback = Callable[[str], None]


class Generate:
    """Holds one loaded model (and the postprocessors) and generates with it."""

    def __init__(
        self,
        model: str | None = None,
        root: str | os.PathLike[str] | None = None,
        precision: str = "auto",
        device: str = "auto",
        free_gpu_mem: bool = False,
        max_cached_models: int = 2,
    ) -> None:
        self.root: Path = resolve_root(root)
        self.model_manager = ModelManager(self.root, max_cached=max_cached_models)
        self.torch_device = choose_device(device)
        self.device: str = self.torch_device.type
        self.precision: str = choose_precision(precision, self.torch_device)
        self.free_gpu_mem = free_gpu_mem
        self.requested_model = model
        self._loaded: LoadedModel | None = None
        self._postprocessors: Any = None

    # -- models ----------------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._loaded.name if self._loaded else (self.requested_model or self.model_manager.default_model_name())

    @property
    def model_hash(self) -> str | None:
        return self._loaded.hash if self._loaded else None

    @property
    def is_demo_model(self) -> bool:
        if self._loaded:
            return self._loaded.is_demo
        return self.model_manager.config().get(self.model_name, {}).get("format") == "demo"

    def load_model(self) -> None:
        if self._loaded is None:
            self.set_model(self.model_name)

    def set_model(self, name: str) -> None:
        """Switches to ``name`` (kept in a small LRU cache); on failure the previous model stays."""
        loaded = self.model_manager.get(name, {"torch_dtype": weights_dtype(self.precision, self.torch_device)})
        pipe = loaded.pipeline
        if pipe.device != self.torch_device:
            pipe.to(self.torch_device)
        for module in (pipe.unet, pipe.vae):
            prefer_channels_last(module, self.torch_device)
        self._loaded = loaded
        if loaded.is_demo:
            log.warning("Using the demo model: random weights, noise-like pictures. "
                        "Run `invokeai-configure` to install a real model.")

    def _model(self) -> LoadedModel:
        self.load_model()
        assert self._loaded is not None
        return self._loaded

    # -- generation -------------------------------------------------------------------------

    def prompt2image(
        self,
        prompt: str,
        iterations: int = 1,
        steps: int = 50,
        cfg_scale: float = 7.5,
        threshold: float = 0.0,
        perlin: float = 0.0,
        width: int = 512,
        height: int = 512,
        sampler_name: str = "k_lms",
        seed: int | None = None,
        seamless: bool = False,
        hires_fix: bool = False,
        hires_strength: float = 0.75,
        variation_amount: float = 0.0,
        with_variations: Sequence[Sequence[float]] | None = None,
        init_img: str | os.PathLike[str] | Image.Image | None = None,
        init_mask: str | os.PathLike[str] | Image.Image | None = None,
        bounding_box: dict[str, int] | None = None,
        inpaint_replace: float = 0.0,
        seam_size: int = SEAM,
        strength: float = 0.75,
        fit: bool = False,
        upscale: Sequence[float] | None = None,
        facetool: str = "gfpgan",
        facetool_strength: float = 0.0,
        codeformer_fidelity: float = 0.75,
        preview_every: int = 1,
        intermediate_every: int = 0,
        step_callback: Callable[[int, int, Image.Image | None], None] | None = None,
        intermediate_callback: Callable[[int, Image.Image], None] | None = None,
        image_callback: ImageCallback | None = None,
        status_callback: StatusCallback | None = None,
        clip_skip: int = 0,
    ) -> list[tuple[Image.Image, int]]:
        """Generates ``iterations`` images and returns ``[(image, seed), ...]``.

        With ``init_img`` this is image to image; transparent pixels of the init image, or a
        white ``init_mask``, make it inpainting. Raising ``GenerationCanceled`` from
        ``step_callback`` stops at that step and nothing is returned.
        """
        variations = _check_variations(with_variations)
        _validate(locals())
        model = self._model()
        init_image, mask_image, init_path, mask_path = self._load_init(init_img, init_mask, width, height, fit)
        if init_image is not None:
            width, height = init_image.size
        mode = "inpaint" if mask_image is not None else "img2img" if init_image is not None else "txt2img"
        status = status_callback or (lambda s: None)
        dtype = weights_dtype(self.precision, self.torch_device)
        progress = Progress(step_callback, intermediate_callback, preview_every, intermediate_every)
        seed = random.randrange(0, MAX_SEED) if seed is None or seed < 0 else int(seed)
        first_seed = seed
        rng = random.Random(seed)
        results: list[tuple[Image.Image, int]] = []
        parsed = parse_prompt(prompt)
        for warning in parsed.warnings:
            log.warning(warning)

        with torch.inference_mode(), autocast_for(self.precision, self.torch_device):
            gen = self._generator(mode, model, dtype)
            status("Preparing")
            cond = gen.conditioning(parsed, cfg_scale, threshold, clip_skip=clip_skip)
            for _ in range(iterations):
                if variation_amount > 0:
                    variation_seed = rng.randrange(0, MAX_SEED)
                    chain = variations + [(variation_seed, variation_amount)]
                    image_seed, noise_seed = variation_seed, first_seed
                else:
                    variation_seed, chain = None, list(variations)
                    image_seed = noise_seed = seed

                def noise_for(shape: Sequence[int], noise_seed: int = noise_seed, vseed=variation_seed) -> torch.Tensor:
                    return initial_noise(noise_seed, shape, variations, vseed, variation_amount, perlin)

                # Ancestral samplers draw fresh noise every step: seed it from the recorded chain's last
                # seed, so regenerating from the metadata (base seed + chain) draws the same noise.
                sampler_seed = chain[-1][0] if chain else noise_seed

                status("Generating")
                with gen.seamless(seamless):
                    image = self._run_mode(gen, mode, noise_for, sampler_name, sampler_seed, steps, cond, progress,
                                           width, height, strength, hires_fix, hires_strength, init_image,
                                           mask_image, bounding_box, inpaint_replace, seam_size)
                status("Generation Complete")
                image_meta = {
                    "type": mode,
                    "prompt": md.prompt_list(prompt),
                    "sampler": sampler_name,
                    "seed": noise_seed,
                    "variations": md.variations_for_metadata(chain),
                    "steps": steps,
                    "cfg_scale": cfg_scale,
                    "threshold": threshold,
                    "perlin": perlin,
                    "width": width,
                    "height": height,
                    "seamless": seamless,
                    "hires_fix": hires_fix,
                    "hires_strength": hires_strength if hires_fix else None,
                    "precision": self.precision,
                    "device": self.device,
                    "postprocessing": None,
                    "clip_skip": clip_skip,
                    "loras": [{"name": n, "weight": w} for n, w in parsed.loras],
                    "embeddings": list(parsed.embeddings),
                }
                if init_image is not None:
                    image_meta.update(init_image_path=init_path, strength=strength, fit=fit)
                if mask_image is not None:
                    image_meta.update(mask_image_path=mask_path, inpaint_replace=inpaint_replace,
                                      bounding_box=bounding_box, seam_size=seam_size)
                md.attach_metadata(image, md.build_metadata({"model_id": model.name, "model_hash": model.hash}, image_meta))
                image = self._postprocess_after_generation(image, upscale, facetool, facetool_strength,
                                                           codeformer_fidelity, status)
                results.append((image, image_seed))
                if image_callback:
                    image_callback(image, image_seed, first_seed)
                if variation_amount <= 0:
                    seed = rng.randrange(0, MAX_SEED)
        if self.free_gpu_mem:
            free_memory(self.torch_device)
        return results

    def _generator(self, mode: str, model: LoadedModel, dtype: torch.dtype):
        cls = {"txt2img": HiresFix, "img2img": Img2Img, "inpaint": Inpaint}[mode]
        return cls(model.pipeline, self.torch_device, dtype)

    @staticmethod
    def _run_mode(gen, mode, noise_for, sampler_name, seed, steps, cond, progress, width, height, strength,
                  hires_fix, hires_strength, init_image, mask_image, bounding_box, inpaint_replace,
                  seam_size) -> Image.Image:
        if mode == "inpaint":
            return gen.generate_inpaint(init_image, mask_image, noise_for, sampler_name, seed, steps, strength, cond,
                                        progress, bounding_box, inpaint_replace, seam_size)
        if mode == "img2img":
            if strength == 0:
                return init_image.convert("RGB")
            noise = noise_for(gen.latent_shape(width, height))
            return gen.generate(init_image, noise, sampler_name, seed, steps, strength, cond, progress)
        if hires_fix:
            return gen.generate_hires(noise_for, sampler_name, seed, steps, hires_strength, cond, progress, width, height)
        return gen.generate(noise_for(gen.latent_shape(width, height)), sampler_name, seed, steps, cond, progress,
                            width, height)

    def _load_init(self, init_img, init_mask, width: int, height: int, fit: bool):
        if init_img is None:
            if init_mask is not None:
                raise InvalidParameterError("init_mask", "a mask needs an init_img to apply to")
            return None, None, None, None
        init_path = None if isinstance(init_img, Image.Image) else str(init_img)
        image = _open_image("init_img", init_img)
        mask_path = None if init_mask is None or isinstance(init_mask, Image.Image) else str(init_mask)
        mask = normalise_mask(_open_image("init_mask", init_mask)) if init_mask is not None else mask_from_alpha(image)
        # An inpaint keeps the picture's own size, whatever it is, so that the pixels it does not
        # regenerate stay bit-identical; the generator pads its work region to the latent grid.
        image = _fit_image(image, width, height, fit, keep_size=mask is not None and not fit)
        if mask is not None:
            mask = mask.resize(image.size, Image.Resampling.NEAREST)
            if not any(mask.getdata()):
                mask = None  # an empty mask is plain image to image
        return image, mask, init_path, mask_path

    # -- postprocessing --------------------------------------------------------------------

    def _restoration(self):
        if self._postprocessors is None:
            from .restoration import FaceRestorer, Upscaler

            self._postprocessors = (FaceRestorer(self.root, device=self.torch_device),
                                    Upscaler(self.root, device=self.torch_device))
        return self._postprocessors

    def available_postprocessors(self) -> dict[str, Any]:
        from .restoration import available_postprocessors

        return available_postprocessors(self.root)

    def _postprocess_after_generation(self, image, upscale, facetool, facetool_strength, fidelity, status):
        """Upscale, then restore faces: the order InvokeAI 2.x used."""
        if upscale and float(upscale[1]) > 0:
            status("Upscaling")
            image = self.postprocess(image, "esrgan", {"upscale": list(upscale)})
        if facetool_strength and facetool_strength > 0:
            status("Restoring Faces")
            image = self.postprocess(image, facetool, {"facetool_strength": facetool_strength,
                                                       "codeformer_fidelity": fidelity})
        return image

    def postprocess(self, image: Image.Image, kind: str, params: dict[str, Any],
                    progress: Callable[[int, int], None] | None = None) -> Image.Image:
        """Upscales (``esrgan``) or restores faces (``gfpgan``/``codeformer``) and appends the step to the
        image's metadata ``postprocessing`` list. An upscale calls ``progress(done, total)`` per tile;
        raising ``GenerationCanceled`` from it stops the upscale."""
        # Postprocessors run in float32, outside the generation's bf16 autocast (facexlib's numpy
        # conversions cannot take bfloat16).
        with torch.autocast(self.torch_device.type, enabled=False) if self.torch_device.type in ("cpu", "cuda") \
                else contextlib.nullcontext():
            return self._postprocess(image, kind, params, progress)

    def _postprocess(self, image: Image.Image, kind: str, params: dict[str, Any],
                     progress: Callable[[int, int], None] | None = None) -> Image.Image:
        meta = md.image_metadata(image) or md.read_metadata(image)
        restorer, upscaler = self._restoration()
        started = time.perf_counter()
        if kind == "esrgan":
            level, strength = _check_upscale(params.get("upscale"))
            out = upscaler.upscale(image, level, strength, progress=progress)
            step: dict[str, Any] = {"type": "esrgan", "scale": level, "strength": strength}
        elif kind in ("gfpgan", "codeformer"):
            strength = _unit("facetool_strength", params.get("facetool_strength", 0.75))
            fidelity = _unit("codeformer_fidelity", params.get("codeformer_fidelity", 0.75))
            result = restorer.restore(image, kind, strength, fidelity)
            out = result.image
            step = {"type": kind, "strength": strength, "faces": result.faces_found}
            if kind == "codeformer":
                step["fidelity"] = fidelity
            if result.note:
                log.info("%s: %s", kind, result.note)
        else:
            raise InvalidParameterError("type", f"unknown postprocessing {kind!r}; use esrgan, gfpgan or codeformer")
        log.info("%s took %.2fs", kind, time.perf_counter() - started)
        if self.free_gpu_mem:
            for p in (restorer, upscaler):
                getattr(p, "offload", lambda: None)()
        out = out.copy()
        return md.append_postprocessing(out, meta, step)


# -------------------------------------------------------------------------------------------
# Validation: every problem names its field


def _number(field: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise InvalidParameterError(field, f"must be a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def _unit(field: str, value: Any) -> float:
    return _number(field, value, 0, 1)


def _check_upscale(value: Any) -> tuple[int, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or int(value[0]) not in (2, 4):
        raise InvalidParameterError("upscale", f"must be [2 or 4, strength], got {value!r}")
    return int(value[0]), _unit("upscale", value[1])


def _check_variations(value: Any) -> list[tuple[int, float]]:
    if not value:
        return []
    pairs = []
    try:
        for item in value:
            s, w = item
            if isinstance(s, bool) or int(s) != s or not 0 <= int(s) <= MAX_SEED:
                raise ValueError
            if not 0 <= float(w) <= 1:
                raise ValueError
            pairs.append((int(s), float(w)))
    except (TypeError, ValueError):
        raise InvalidParameterError("with_variations", "must be a list of [seed, weight] with weights from 0 to 1") from None
    return pairs


def _validate(p: dict[str, Any]) -> None:
    def integer(name: str, lo: int, hi: int) -> int:
        v = p[name]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise InvalidParameterError(name, f"must be a whole number from {lo} to {hi}, got {v!r}")
        return v

    def number(name: str, lo: float, hi: float) -> None:
        _number(name, p[name], lo, hi)

    if not isinstance(p["prompt"], str):
        raise InvalidParameterError("prompt", "must be text")
    integer("iterations", 1, 10000)
    integer("clip_skip", 0, 48)
    integer("steps", 1, 1000)
    number("cfg_scale", 1, 200)
    number("threshold", 0, 1000)
    number("perlin", 0, 1)
    for side in ("width", "height"):
        v = integer(side, 8, 2048)
        # With an init image (and no fit) the picture's own size is used and width/height only
        # echo it, as the metadata records them; otherwise they shape the latents.
        if (p["init_img"] is None or p["fit"]) and (v % 8 or v < 64):
            raise InvalidParameterError(side, f"must be a multiple of 8 from 64 to 2048, got {v}")
    if p["sampler_name"] not in available_samplers():
        raise InvalidParameterError("sampler_name", f"unknown sampler {p['sampler_name']!r}; choose one of "
                                    + ", ".join(available_samplers()))
    if p["seed"] is not None and p["seed"] != -1:
        integer("seed", 0, MAX_SEED)
    number("variation_amount", 0, 1)
    number("strength", 0, 1)
    number("hires_strength", 0, 1)
    number("inpaint_replace", 0, 1)
    integer("seam_size", 0, MAX_SEAM)
    number("facetool_strength", 0, 1)
    number("codeformer_fidelity", 0, 1)
    if p["facetool"] not in ("gfpgan", "codeformer"):
        raise InvalidParameterError("facetool", "must be gfpgan or codeformer")
    if p["upscale"]:
        _check_upscale(p["upscale"])
    box = p["bounding_box"]
    if box is not None:
        if not isinstance(box, dict) or any(k not in box for k in ("x", "y", "width", "height")):
            raise InvalidParameterError("bounding_box", "must have x, y, width and height")
        if any(isinstance(box[k], bool) or not isinstance(box[k], int) or box[k] < 0 for k in box if k in
               ("x", "y", "width", "height")) or box["width"] < 1 or box["height"] < 1:
            raise InvalidParameterError("bounding_box", f"must hold positive whole numbers, got {box!r}")


def _open_image(field: str, source: Any) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    path = Path(source)
    if not path.is_file():
        raise InvalidParameterError(field, f"image file {path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im) if im.format == "JPEG" else im.copy()
    except (OSError, ValueError) as e:
        raise InvalidParameterError(field, f"{path} is not a readable image ({e})") from e


def _fit_image(image: Image.Image, width: int, height: int, fit: bool, keep_size: bool = False) -> Image.Image:
    """With ``fit`` the init image is scaled to fit inside width×height; otherwise its own size is kept.
    Either way both sides become multiples of 8, as the latent space needs, unless ``keep_size``."""
    w, h = image.size
    if keep_size:
        if max(w, h) > 2048 or min(w, h) < 8:
            raise InvalidParameterError("init_img", f"image of {w}x{h} must be 8 to 2048 px on each side; use fit")
        return image
    if fit:
        scale = min(width / w, height / h)
        w, h = w * scale, h * scale
    w8, h8 = max(64, int(w) // 8 * 8), max(64, int(h) // 8 * 8)
    if (w8, h8) != image.size:
        image = image.resize((w8, h8), Image.Resampling.LANCZOS)
    if max(image.size) > 2048:
        raise InvalidParameterError("init_img", f"image of {image.width}x{image.height} is larger than 2048 px; use fit")
    return image


__all__ = ["Generate", "InvokeError", "ModelLoadError", "InvalidParameterError"]

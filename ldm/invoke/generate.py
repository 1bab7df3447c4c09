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
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from . import metadata as md
from .allocator import keep_freed_pages, release_freed_pages
from .attention import choose_attention, use_attention
from .compile import compiled_unet
from .conditioning import parse_prompt
from .control.prepare import annotators, check_units, steering_for
from .control.preprocess import fit_to
from .devices import (
    autocast_for,
    choose_device,
    choose_precision,
    free_memory,
    latents_dtype,
    prefer_channels_last,
    weights_dtype,
)
from .errors import GenerationCanceled, InvalidParameterError, InvokeError, ModelLoadError
from .generator.base import Generator, Progress
from .generator.hires import HiresFix
from .generator.img2img import Img2Img
from .generator.inpaint import Inpaint
from .generator.inputs import prepare_inputs
from .generator.txt2img import Txt2Img
from .globals import resolve_root
from .model_manager import LoadedModel, ModelManager
from .noise import SeededNoise
from .request import (
    MAX_FACES,
    SEAM,
    BoundingBox,
    GenerationRequest,
    ImagePlan,
    ImageRef,
    PostprocessStep,
    check_upscale,
)

log = logging.getLogger(__name__)

ImageCallback = Callable[[Image.Image, int, int], None]
StatusCallback = Callable[[str], None]


@dataclass
class GeneratedImage:
    """One finished image of a request: the picture (its recipe in ``image.info``), its seeds, and
    the message of a postprocessing pass that failed after it was generated (the image is kept), and
    what of the prompt was ignored and why (a LoRA not found, an embedding refused, words cut off)."""

    image: Image.Image
    plan: ImagePlan
    postprocess_error: str | None = None
    warnings: tuple[str, ...] = ()
    control_maps: tuple[Image.Image, ...] = ()  # each unit's map at the picture's size, as it steered

    @property
    def seed(self) -> int:
        return self.plan.image_seed


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
        max_faces: int | None = None,
        compile: bool = False,
        attention: str = "auto",
    ) -> None:
        keep_freed_pages()  # large tensors keep their pages between steps (ldm/invoke/allocator.py)
        self.root: Path = resolve_root(root)
        self.model_manager = ModelManager(self.root, max_cached=max_cached_models)
        self.torch_device = choose_device(device)
        self.device: str = self.torch_device.type
        self.precision: str = choose_precision(precision, self.torch_device)
        self.free_gpu_mem = free_gpu_mem
        self.compile = compile  # the UNet runs through torch.compile (ldm/invoke/compile.py)
        self.attention: str = choose_attention(attention, self.torch_device)  # sdpa or sliced
        # Face restoration works on at most this many faces (the largest) per image.
        self.max_faces = MAX_FACES if max_faces is None else max_faces
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
        use_attention(pipe.unet, self.attention)
        self._loaded = loaded
        release_freed_pages()  # a model pushed out of the cache frees its weights
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
        prompt_syntax: str = "invoke",
        negative_prompt: str = "",
    ) -> list[tuple[Image.Image, int]]:
        """Generates ``iterations`` images and returns ``[(image, seed), ...]``: the documented Python
        API, a thin wrapper that builds a ``GenerationRequest`` and runs ``generate``.

        With ``init_img`` this is image to image; transparent pixels of the init image, or a
        white ``init_mask``, make it inpainting. Raising ``GenerationCanceled`` from
        ``step_callback`` stops at that step and nothing is returned.
        """
        request = GenerationRequest(
            prompt=prompt, iterations=iterations, steps=steps, cfg_scale=cfg_scale, threshold=threshold,
            perlin=perlin, width=width, height=height, sampler_name=sampler_name,
            seed=None if seed is None or seed == -1 else seed, seamless=seamless, hires_fix=hires_fix,
            hires_strength=hires_strength, variation_amount=variation_amount,
            with_variations=_variation_pairs(with_variations),
            init_image=_image_ref("init_img", init_img), init_mask=_image_ref("init_mask", init_mask),
            bounding_box=_bounding_box(bounding_box), inpaint_replace=inpaint_replace, seam_size=seam_size,
            strength=strength, fit=fit, upscale=_upscale(upscale), facetool=facetool,
            facetool_strength=facetool_strength, codeformer_fidelity=codeformer_fidelity,
            preview_every=preview_every, intermediate_every=intermediate_every, clip_skip=clip_skip,
            prompt_syntax=prompt_syntax, negative_prompt=negative_prompt,
        )
        progress = Progress(step_callback, intermediate_callback, request.preview_every, request.intermediate_every)
        results: list[tuple[Image.Image, int]] = []
        first_seed: int | None = None
        for done in self.generate(request, progress, status_callback):
            if done.postprocess_error:
                log.warning("Postprocessing failed; the image is kept as generated: %s", done.postprocess_error)
            first_seed = done.plan.noise_seed if first_seed is None else first_seed
            results.append((done.image, done.seed))
            if image_callback:
                image_callback(done.image, done.seed, first_seed)
        return results

    def generate(self, request: GenerationRequest, progress: Progress | None = None,
                 status: StatusCallback | None = None) -> Iterator[GeneratedImage]:
        """Runs a request, one image at a time (a random seed is picked first when it has none).
        ``request.model``, when given, is loaded first. Raising ``GenerationCanceled`` from the
        progress callbacks stops at that step."""
        try:
            yield from self._generate(request, progress, status)
        finally:  # the job's large tensors were kept mapped between steps; give their pages back
            release_freed_pages()

    def check(self, request: GenerationRequest) -> GenerationRequest:
        """The request validated, with the model it names loaded and its control units checked against
        that model; what a caller keeps on disk for a request waits for this, so a refusal leaves nothing."""
        request = request.validate()
        if request.model and request.model != self.model_name:
            self.set_model(request.model)
        model = self._model()
        entries = self.model_manager.control_models()
        check_units(request, {name: entry["family"] for name, entry in entries.items()}, model.family, model.name,
                    annotators(self.root), {name: entry["kind"] for name, entry in entries.items()})
        return request

    def _generate(self, request: GenerationRequest, progress: Progress | None,
                  status: StatusCallback | None) -> Iterator[GeneratedImage]:
        request = self.check(request.with_seed())
        model = self._model()
        inputs = prepare_inputs(request)
        mode = inputs.mode
        width, height = inputs.image.size if inputs.image is not None else (request.width, request.height)
        say = status or (lambda s: None)
        progress = progress or Progress(preview_every=request.preview_every,
                                        intermediate_every=request.intermediate_every)
        dtype = weights_dtype(self.precision, self.torch_device)
        parsed = parse_prompt(request.prompt, request.prompt_syntax, request.negative_prompt)
        for warning in parsed.warnings:
            log.warning(warning)

        with torch.inference_mode(), autocast_for(self.precision, self.torch_device):
            gen = self._generator(mode, request, model, dtype)
            if self.compile:
                gen.unet = compiled_unet(gen.unet, self.root, say)
            gen.control, control_hashes = steering_for(request, self.model_manager, self.torch_device, dtype,
                                                       gen.vae_scale, self.attention)
            maps = tuple(fit_to(a.map, width, height, a.unit.resize_mode) for a in gen.control.units) \
                if gen.control is not None else ()
            say("Preparing")
            cond = gen.conditioning(parsed, request.cfg_scale, request.threshold, clip_skip=request.clip_skip,
                                   steps=request.steps)
            for plan in request.plans():
                say("Generating")
                with gen.seamless(request.seamless):
                    image = gen.run(request, SeededNoise(request, plan), cond, progress)
                say("Generation Complete")
                extras = {
                    "precision": self.precision,
                    "device": self.device,
                    "threads": torch.get_num_threads(),  # float32 pixels differ in their last bits between counts
                    "attention": self.attention,  # sdpa and sliced round differently (ldm/invoke/attention.py)
                    "loras": [{"name": n, "weight": w} for n, w in parsed.loras],
                    "embeddings": list(parsed.embeddings),
                }
                if self.compile:  # compiled kernels round differently from eager ones (README, --compile)
                    extras["compiled"] = True
                if cond.warnings:  # told on the result itself, so every client and the CLI can show it
                    extras["warnings"] = list(cond.warnings)
                image_meta = request.image_metadata(plan, mode, width, height, extras, control_hashes)
                md.attach_metadata(image, md.build_metadata({"model_id": model.name, "model_hash": model.hash,
                                                             "model_format": model.config.get("format")}, image_meta))
                image, error = self._postprocess_after_generation(image, request, say)
                yield GeneratedImage(image, plan, error, tuple(cond.warnings), maps)
        if self.free_gpu_mem:
            free_memory(self.torch_device)

    def _generator(self, mode: str, request: GenerationRequest, model: LoadedModel, dtype: torch.dtype) -> Generator:
        if mode == "txt2img":
            cls: type[Generator] = HiresFix if request.hires_fix else Txt2Img
        else:
            cls = Inpaint if mode == "inpaint" else Img2Img
        return cls(model.pipeline, self.torch_device, dtype, latents_dtype(self.precision, self.torch_device))

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

    def _postprocess_after_generation(self, image: Image.Image, request: GenerationRequest,
                                      status: StatusCallback) -> tuple[Image.Image, str | None]:
        """Upscale, then restore faces (the order InvokeAI 2.x used). A pass that fails (missing
        weights, say) leaves the image as it was, and its message is returned with it."""
        steps = []
        if request.upscale and float(request.upscale[1]) > 0:
            steps.append(PostprocessStep("esrgan", level=request.upscale[0], strength=request.upscale[1]))
        if request.facetool_strength > 0:
            steps.append(PostprocessStep(request.facetool, strength=request.facetool_strength,
                                         codeformer_fidelity=request.codeformer_fidelity))
        for step in steps:
            status(POSTPROCESS_STATUS[step.type])
            try:
                image = self.postprocess(image, step.type, step.engine_options())
            except GenerationCanceled:
                raise
            except InvokeError as exc:
                return image, str(exc)
        return image, None

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
            level, strength = check_upscale(params.get("upscale"))
            out = upscaler.upscale(image, level, strength, progress=progress)
            step: dict[str, Any] = {"type": "esrgan", "scale": level, "strength": strength}
        elif kind in ("gfpgan", "codeformer"):
            strength = _unit("facetool_strength", params.get("facetool_strength", 0.75))
            fidelity = _unit("codeformer_fidelity", params.get("codeformer_fidelity", 0.75))
            result = restorer.restore(image, kind, strength, fidelity, progress=progress, max_faces=self.max_faces)
            out = result.image
            step = {"type": kind, "strength": strength, "faces": result.faces_found}
            if kind == "codeformer":
                step["fidelity"] = fidelity
            if result.faces_detected > result.faces_found:  # more than MAX_FACES: the result says so
                step["faces_detected"] = result.faces_detected
                step["note"] = result.note
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
# prompt2image's arguments as request fields

POSTPROCESS_STATUS = {"esrgan": "Upscaling", "gfpgan": "Restoring Faces", "codeformer": "Restoring Faces"}


def _unit(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InvalidParameterError(field, f"must be a number from 0 to 1, got {value!r}")
    return float(value)


def _variation_pairs(value: Any) -> tuple[tuple[int, float], ...]:
    if not value:
        return ()
    pairs = []
    try:
        for item in value:
            s, w = item
            if isinstance(s, bool) or int(s) != s:
                raise ValueError
            pairs.append((int(s), float(w)))
    except (TypeError, ValueError):
        raise InvalidParameterError("with_variations", "must be a list of [seed, weight] with weights from 0 to 1") from None
    return tuple(pairs)


def _image_ref(field: str, source: Any) -> ImageRef | None:
    """A path or a PIL image as a request image; a path is recorded as given."""
    if source is None:
        return None
    if isinstance(source, Image.Image):
        return ImageRef.from_image(source)
    path = Path(source)
    if not path.is_file():
        raise InvalidParameterError(field, f"image file {path} does not exist")
    return ImageRef.from_bytes(path.read_bytes(), str(source))


def _bounding_box(box: Any) -> BoundingBox | None:
    if box is None:
        return None
    if not isinstance(box, dict) or any(k not in box for k in ("x", "y", "width", "height")):
        raise InvalidParameterError("bounding_box", "must have x, y, width and height")
    return BoundingBox(box["x"], box["y"], box["width"], box["height"])


def _upscale(value: Any) -> tuple[int, float] | None:
    if not value:
        return None
    return check_upscale(tuple(value))


__all__ = ["Generate", "InvokeError", "ModelLoadError", "InvalidParameterError"]

"""AUTOMATIC1111's web API (``/sdapi/v1``, as its 1.10 defines it): the bodies are pydantic models
with A1111's field names and defaults (types coerced as A1111 does, unknown fields ignored); each
txt2img / img2img body becomes one ``GenerationRequest`` on the studio's queue. The README's
"HTTP APIs" section says, field by field, what is honoured, approximated or ignored."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from io import BytesIO
from typing import Any

import numpy as np
from flask import Blueprint, Flask, Response, jsonify, request
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.exceptions import HTTPException

from ldm.invoke import __version__
from ldm.invoke import metadata as md
from ldm.invoke.control.from_init import init_picture
from ldm.invoke.errors import InvalidParameterError, UserError, user_message
from ldm.invoke.request import (
    MAX_SEED,
    SAMPLERS_BY_ID,
    GenerationRequest,
    ImageRef,
    PostprocessRequest,
    PostprocessStep,
)

from ..config import is_loopback
from ..studio import Studio
from .controlnet import SCRIPT as CONTROLNET_SCRIPT
from .controlnet import control_units
from .docs import ApiDocs, ApiFamily
from .limits import MAX_BATCH_IMAGES, too_large_message
from .runs import ApiRuns
from .translate import image_bytes, open_image, resized, sampler_id, seeds_of

A1111_DEFAULT_SAMPLER = "k_euler_a"  # "Euler a"
UPSCALERS = {"R-ESRGAN 4x+": 4, "R-ESRGAN 2x+": 2, "RealESRGAN_x4plus": 4, "RealESRGAN_x2plus": 2,
             "ESRGAN_4x": 4, "Lanczos": None, "Nearest": None, "None": None}
# Our field names → A1111's, for error messages.
RENAMES = {"strength": "denoising_strength", "iterations": "n_iter", "init_img": "init_images",
           "init_image": "init_images", "init_mask": "mask", "seamless": "tiling", "clip_skip": "CLIP_stop_at_last_layers",
           "hires_strength": "denoising_strength", "with_variations": "subseed_strength", "seed": "seed",
           "facetool_strength": "restore_faces"}
# Endpoints A1111 has and we do not: a 404 that says so rather than a silent one.
NOT_OFFERED = ("interrogate", "train", "create", "preprocess", "unload-checkpoint", "reload-checkpoint",
               "server-kill", "server-restart", "server-stop", "extra-batch-images-async")


class A1111Error(Exception):
    def __init__(self, status: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field = status, detail, field


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Txt2ImgBody(Body):
    prompt: str = ""
    negative_prompt: str = ""
    styles: list[str] | None = None
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0.0
    sampler_name: str | None = None
    sampler_index: str | None = None
    scheduler: str | None = None
    batch_size: int = 1
    n_iter: int = 1
    steps: int = 50
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    restore_faces: bool | None = None
    tiling: bool | None = None
    denoising_strength: float | None = None
    override_settings: dict[str, Any] | None = None
    send_images: bool = True
    save_images: bool = False
    enable_hr: bool = False
    hr_scale: float = 2.0
    hr_resize_x: int = 0
    hr_resize_y: int = 0
    hr_second_pass_steps: int = 0
    alwayson_scripts: dict[str, Any] | None = None  # the ControlNet extension's units (api/controlnet.py)


class Img2ImgBody(Txt2ImgBody):
    init_images: list[str] = Field(default_factory=list)
    resize_mode: int = 0
    denoising_strength: float | None = 0.75
    mask: str | None = None
    mask_blur: int | None = None
    mask_blur_x: int = 4
    inpainting_fill: int = 0
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = 0
    inpainting_mask_invert: int = 0
    include_init_images: bool = False


class OptionsBody(Body):
    sd_model_checkpoint: str | None = None
    CLIP_stop_at_last_layers: int | None = None


class ExtrasBody(Body):
    upscaling_resize: float = 2
    upscaler_1: str = "None"
    gfpgan_visibility: float = 0
    codeformer_visibility: float = 0
    codeformer_weight: float = 0


class ExtrasSingleBody(ExtrasBody):
    image: str = ""


class ExtrasBatchImage(Body):
    data: str
    name: str = ""


class ExtrasBatchBody(ExtrasBody):
    imageList: list[ExtrasBatchImage] = Field(default_factory=list)  # noqa: N815 (A1111's name)


class PngInfoBody(Body):
    image: str


# -- answers, for the OpenAPI document ---------------------------------------------------------------


class ImagesAnswer(BaseModel):
    images: list[str] = Field(description="base64 PNGs (each with its infotext in a 'parameters' chunk)")
    parameters: dict[str, Any]
    info: str = Field(description="JSON text: seed, all_seeds, subseed, infotexts, ...")


class ExtrasSingleAnswer(BaseModel):
    html_info: str
    image: str


class ExtrasBatchAnswer(BaseModel):
    html_info: str
    images: list[str]


class PngInfoAnswer(BaseModel):
    info: str = Field(description="the infotext (from sd-metadata when the image has both)")
    items: dict[str, str]
    parameters: dict[str, Any]


class ErrorPlace(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Unprocessable(BaseModel):
    """A1111's (FastAPI's) 422: which field was wrong and why."""

    detail: list[ErrorPlace]


A1111_API = ApiFamily("AUTOMATIC1111 /sdapi/v1", 422, Unprocessable)


def _answering(value: Any, name: str) -> Any:
    """A view that answers ``value`` as JSON, named (its OpenAPI operation id) after its endpoint."""
    def view() -> Response:
        return jsonify(value)

    view.__name__ = view.__qualname__ = name.replace("-", "_")
    return view


def create_a1111_blueprint(studio: Studio, runs: ApiRuns, docs: ApiDocs) -> Blueprint:
    bp = Blueprint("a1111_api", __name__, url_prefix="/sdapi/v1")
    limits = studio.limits

    def facts() -> dict[str, Any]:
        return studio.system_config()

    def checkpoint(title: str) -> str:
        """Our model name for a checkpoint title ("demo", "demo [hash]", "demo.safetensors")."""
        models = facts().get("model_list") or {}
        name = title.split(" [", 1)[0].strip()
        for candidate in (name, os.path.splitext(name)[0]):
            if candidate in models:
                return candidate
        raise A1111Error(422, f"sd_model_checkpoint: unknown checkpoint {title!r}; GET /sdapi/v1/sd-models lists "
                              "them", "sd_model_checkpoint")

    def clip_skip(value: Any) -> int:
        try:
            layers = int(value)
        except (TypeError, ValueError):
            raise A1111Error(422, f"CLIP_stop_at_last_layers: must be a whole number from 1, got {value!r}",
                             "CLIP_stop_at_last_layers") from None
        if layers < 1:
            raise A1111Error(422, "CLIP_stop_at_last_layers: must be a whole number from 1", "CLIP_stop_at_last_layers")
        return layers - 1

    def generation(body: Txt2ImgBody, init: Callable[[str, str], bytes] | None = None) -> GenerationRequest:
        settings = body.override_settings or {}
        values: dict[str, Any] = dict(
            prompt=body.prompt, negative_prompt=body.negative_prompt or "", prompt_syntax="a1111",
            iterations=body.batch_size * body.n_iter,
            steps=body.steps, cfg_scale=body.cfg_scale, width=body.width, height=body.height,
            sampler_name=sampler_id("sampler_name", body.sampler_name or body.sampler_index, body.scheduler,
                                    A1111_DEFAULT_SAMPLER),
            seed=None if body.seed < 0 else body.seed,
            seamless=bool(body.tiling),
            clip_skip=clip_skip(settings["CLIP_stop_at_last_layers"]) if "CLIP_stop_at_last_layers" in settings
            else runs.clip_skip,
            model=checkpoint(str(settings["sd_model_checkpoint"])) if settings.get("sd_model_checkpoint") else None,
            control=control_units(body.alwayson_scripts, limits, (body.width, body.height),
                                  hires=bool(body.enable_hr) and not isinstance(body, Img2ImgBody), init=init),
        )
        if body.subseed_strength > 0:
            subseed = body.subseed if body.subseed >= 0 else int.from_bytes(os.urandom(4), "big") % MAX_SEED
            values["with_variations"] = ((subseed, body.subseed_strength),)
        if body.restore_faces:
            values.update(facetool="gfpgan", facetool_strength=1.0)
        if body.enable_hr and not isinstance(body, Img2ImgBody):
            # A1111's width/height are the first pass; ours are the output, which hires fix reaches.
            width = body.hr_resize_x or int(body.width * body.hr_scale)
            height = body.hr_resize_y or int(body.height * body.hr_scale)
            values.update(hires_fix=True, width=width // 8 * 8, height=height // 8 * 8,
                          hires_strength=0.7 if body.denoising_strength is None else body.denoising_strength)
        return GenerationRequest(**values)

    def img2img_generation(body: Img2ImgBody) -> GenerationRequest:
        if not body.init_images:
            raise A1111Error(422, "init_images: send at least one image (base64)", "init_images")
        picture = open_image(image_bytes("init_images", body.init_images[0], limits)).convert("RGB")
        picture = resized(picture, body.width, body.height, body.resize_mode)
        values: dict[str, Any] = dict(init_image=ImageRef.from_image(picture),
                                      strength=0.75 if body.denoising_strength is None else body.denoising_strength)
        if body.mask:
            mask = open_image(image_bytes("mask", body.mask, limits)).convert("L")
            mask = mask.resize(picture.size, Image.Resampling.NEAREST)
            painted = np.asarray(mask) > 127
            if body.inpainting_mask_invert:
                painted = ~painted
            values["init_mask"] = ImageRef.from_image(Image.fromarray((painted * 255).astype(np.uint8), "L"))
            blur = body.mask_blur if body.mask_blur is not None else body.mask_blur_x
            values["seam_size"] = max(0, min(64, int(blur)))
            # 0 fill, 1 original, 2 latent noise, 3 latent nothing: how much of the region starts from noise.
            values["inpaint_replace"] = {0: 0.5, 1: 0.0, 2: 1.0, 3: 1.0}.get(body.inpainting_fill, 0.0)

        def init(field: str, module: str) -> bytes:  # a unit without a picture takes the init image (and mask)
            return init_picture(field, module, values["init_image"], values.get("init_mask"), body.width,
                                body.height, False)

        return generation(body, init).replace(**values)

    def answer(body: Txt2ImgBody, generation_request: GenerationRequest, init: str | None = None) -> Response:
        generation_request = generation_request.with_seed().validate()
        seeds = seeds_of(generation_request)
        outcome = runs.generate(generation_request, save=body.save_images)
        if outcome.job.status == "failed":
            raise A1111Error(500, outcome.job.message or "the job failed")
        model = facts()
        prompt, negative = body.prompt, body.negative_prompt
        made = [p.seed for p in outcome.pictures]
        all_seeds = made + seeds[len(made):]
        if generation_request.model:
            model = {"model_id": generation_request.model}  # its hash is not known here
        infotexts = [_png_infotext(p.png) for p in outcome.pictures]  # the chunk each PNG carries
        variation = generation_request.with_variations[-1] if generation_request.with_variations else (-1, 0.0)
        info = {
            "prompt": prompt, "all_prompts": [prompt] * len(all_seeds),
            "negative_prompt": negative, "all_negative_prompts": [negative] * len(all_seeds),
            "seed": all_seeds[0] if all_seeds else -1, "all_seeds": all_seeds,
            "subseed": variation[0], "all_subseeds": [variation[0]] * len(all_seeds),
            "subseed_strength": variation[1],
            "width": generation_request.width, "height": generation_request.height,
            "sampler_name": SAMPLERS_BY_ID[generation_request.sampler_name].a1111,
            "cfg_scale": generation_request.cfg_scale, "steps": generation_request.steps,
            "batch_size": body.batch_size, "restore_faces": bool(body.restore_faces),
            "sd_model_name": generation_request.model or model.get("model_id"), "sd_model_hash": (model.get("model_hash") or "")[:10] or None,
            "denoising_strength": generation_request.strength if init is not None else body.denoising_strength,
            "clip_skip": generation_request.clip_skip + 1, "index_of_first_image": 0, "infotexts": infotexts,
            "styles": body.styles or [], "job_timestamp": time.strftime("%Y%m%d%H%M%S"),
            "interrupted": outcome.interrupted, "version": __version__,
        }
        images = [base64.b64encode(p.png).decode("ascii") for p in outcome.pictures] if body.send_images else []
        if init is not None and body.send_images and isinstance(body, Img2ImgBody) and body.include_init_images:
            images.append(init.split(",", 1)[-1])
        parameters = body.model_dump(exclude={"init_images", "mask"})
        return jsonify(images=images, parameters=parameters, info=json.dumps(info))

    # -- generation -----------------------------------------------------------------------------

    @bp.post("/txt2img")
    @docs.operation(A1111_API, json=Txt2ImgBody, answer=ImagesAnswer)
    def txt2img() -> Response:
        """Text to image: the body's images in one job, answered with base64 PNGs and A1111's info."""
        body = Txt2ImgBody.model_validate(_json_body())
        return answer(body, generation(body))

    @bp.post("/img2img")
    @docs.operation(A1111_API, json=Img2ImgBody, answer=ImagesAnswer)
    def img2img() -> Response:
        """Image to image and inpainting (init_images[0], mask), answered as txt2img."""
        body = Img2ImgBody.model_validate(_json_body())
        return answer(body, img2img_generation(body), body.init_images[0] if body.init_images else None)

    def extras(body: ExtrasBody, images: list[str], field: str) -> list[str]:
        steps = []
        level = UPSCALERS.get(body.upscaler_1, "unknown")
        if level == "unknown":
            raise A1111Error(422, f"upscaler_1: unknown upscaler {body.upscaler_1!r}; GET /sdapi/v1/upscalers lists "
                                  "them", "upscaler_1")
        if level is not None:
            wanted = 4 if body.upscaling_resize > 2 else 2  # our Real-ESRGAN works at ×2 or ×4
            steps.append(PostprocessStep("esrgan", level=wanted, strength=1.0))
        if body.gfpgan_visibility > 0:
            steps.append(PostprocessStep("gfpgan", strength=body.gfpgan_visibility))
        if body.codeformer_visibility > 0:
            steps.append(PostprocessStep("codeformer", strength=body.codeformer_visibility,
                                         codeformer_fidelity=body.codeformer_weight))
        out = []
        for value in images:
            data = image_bytes(field, value, limits)
            if not steps:
                out.append(base64.b64encode(data).decode("ascii"))
                continue
            outcome = runs.postprocess(PostprocessRequest(ImageRef.from_bytes(data), tuple(steps)), save=False)
            if not outcome.pictures:
                raise A1111Error(500, outcome.job.message or "the postprocessing failed")
            out.append(base64.b64encode(outcome.pictures[0].png).decode("ascii"))
        return out

    @bp.post("/extra-single-image")
    @docs.operation(A1111_API, json=ExtrasSingleBody, answer=ExtrasSingleAnswer)
    def extra_single_image() -> Response:
        """Upscale (Real-ESRGAN) and/or restore faces on one image; not saved."""
        body = ExtrasSingleBody.model_validate(_json_body())
        return jsonify(html_info="", image=extras(body, [body.image], "image")[0])

    @bp.post("/extra-batch-images")
    @docs.operation(A1111_API, json=ExtrasBatchBody, answer=ExtrasBatchAnswer)
    def extra_batch_images() -> Response:
        """The same for up to 8 images."""
        body = ExtrasBatchBody.model_validate(_json_body())
        if len(body.imageList) > MAX_BATCH_IMAGES:
            raise A1111Error(422, f"imageList: at most {MAX_BATCH_IMAGES} images per request, got {len(body.imageList)}",
                             "imageList")
        return jsonify(html_info="", images=extras(body, [i.data for i in body.imageList], "imageList"))

    @bp.post("/png-info")
    @docs.operation(A1111_API, json=PngInfoBody, answer=PngInfoAnswer)
    def png_info() -> Response:
        """The infotext of a PNG (from our recipe when it has one, else its parameters chunk)."""
        body = PngInfoBody.model_validate(_json_body())
        picture = open_image(image_bytes("image", body.image, limits))
        items = {k: v for k, v in picture.info.items() if isinstance(v, str)}
        recipe = md.metadata_from_info(picture.info)  # sd-metadata when there is one, else A1111's own
        text = items.get(md.A1111_PARAMETERS, "")
        if isinstance(recipe.get("image"), dict) and (md.SD_METADATA in items or not text):
            text = md.infotext(recipe)
        parameters = md.parse_a1111_parameters(text) if text else {}
        return jsonify(info=text, items=items, parameters=parameters)

    # -- the running job --------------------------------------------------------------------------

    @bp.get("/progress")
    @docs.operation(A1111_API)
    def progress() -> Response:
        """The running job: progress, ETA, state, latest preview."""
        p = runs.progress()
        counts = studio.jobs.counts()
        job_count = counts.get("running", 0) + counts.get("queued", 0)
        total = p.steps * max(p.iterations, 1)
        done = p.steps * max(p.iteration - 1, 0) + p.step
        fraction = min(done / total, 1.0) if total else 0.0
        eta = float(p.eta) if p.eta is not None else 0.0
        skip_image = request.args.get("skip_current_image", "false").lower() == "true"
        return jsonify(
            progress=fraction if job_count else 0.0,
            eta_relative=eta if job_count else 0.0,
            state={"skipped": False, "interrupted": False, "stopping_generation": False, "job": p.status,
                   "job_count": job_count, "job_timestamp": "0", "job_no": max(p.iteration - 1, 0),
                   "sampling_step": p.step, "sampling_steps": p.steps},
            current_image=None if skip_image else p.preview,
            textinfo=p.status or None,
        )

    @bp.post("/interrupt")
    @docs.operation(A1111_API)
    def interrupt() -> Response:
        """Cancels the running job; its call answers with the images made so far."""
        studio.jobs.cancel(None)
        return jsonify({})

    @bp.post("/skip")
    @docs.operation(A1111_API)
    def skip() -> Response:
        """As interrupt (our jobs cannot drop one image and go on)."""
        studio.jobs.cancel(None)  # approximated: our jobs cannot drop one image and go on; it ends the job
        return jsonify({})

    # -- settings ---------------------------------------------------------------------------------

    @bp.get("/options")
    @docs.operation(A1111_API)
    def get_options() -> Response:
        """The settings this studio has: the current checkpoint and clip skip among them."""
        config = facts()
        return jsonify(sd_model_checkpoint=config.get("model_id"), sd_checkpoint_hash=config.get("model_hash") or None,
                       CLIP_stop_at_last_layers=runs.clip_skip + 1, samples_save=True, samples_format="png",
                       outdir_samples=None, face_restoration_model="GFPGAN", upscaler_for_img2img=None,
                       sd_vae="Automatic", live_previews_enable=True)

    @bp.post("/options")
    @docs.operation(A1111_API, json=OptionsBody)
    def set_options() -> Response:
        """Applies sd_model_checkpoint (switches the model) and CLIP_stop_at_last_layers; ignores the rest."""
        body = OptionsBody.model_validate(_json_body())
        if body.CLIP_stop_at_last_layers is not None:
            runs.clip_skip = clip_skip(body.CLIP_stop_at_last_layers)
        if body.sd_model_checkpoint:
            name = checkpoint(body.sd_model_checkpoint)
            if name != facts().get("model_id"):
                job = runs.change_model(name)
                if job.status != "done":
                    raise A1111Error(500, f"sd_model_checkpoint: could not load {name}: {job.message}")
        return jsonify(None)

    @bp.get("/cmd-flags")
    @docs.operation(A1111_API)
    def cmd_flags() -> Response:
        config = studio.config
        return jsonify(api=True, listen=not is_loopback(config.host), port=config.port, nowebui=False,
                       api_auth=None, gradio_auth=None, lowvram=False, medvram=False,
                       precision=config.precision, device_id=None)

    # -- listings ---------------------------------------------------------------------------------

    @bp.get("/sd-models")
    @docs.operation(A1111_API)
    def sd_models() -> Response:
        """The studio's models."""
        config = facts()
        out = []
        for name, entry in (config.get("model_list") or {}).items():
            model_hash = config.get("model_hash") if name == config.get("model_id") else None
            out.append({"title": name, "model_name": name, "hash": (model_hash or "")[:10] or None,
                        "sha256": model_hash or None, "filename": name, "config": None,
                        "description": entry.get("description", "")})
        return jsonify(out)

    @bp.get("/samplers")
    @docs.operation(A1111_API)
    def samplers() -> Response:
        """The samplers, by A1111 name."""
        return jsonify([{"name": s["a1111"], "aliases": [s["id"]], "options": {}} for s in facts().get("samplers", [])])

    @bp.get("/schedulers")
    @docs.operation(A1111_API)
    def schedulers() -> Response:
        return jsonify([
            {"name": "automatic", "label": "Automatic", "aliases": None, "default_rho": -1, "need_inner_model": False},
            {"name": "karras", "label": "Karras", "aliases": None, "default_rho": 7.0, "need_inner_model": False},
        ])

    def available(kind: str) -> bool:
        return bool((facts().get("postprocessors") or {}).get(kind, {}).get("available"))

    @bp.get("/upscalers")
    @docs.operation(A1111_API)
    def upscalers() -> Response:
        out = [{"name": "None", "model_name": None, "model_path": None, "model_url": None, "scale": 4}]
        if available("esrgan"):
            out += [{"name": name, "model_name": name, "model_path": None, "model_url": None, "scale": scale}
                    for name, scale in (("R-ESRGAN 4x+", 4), ("R-ESRGAN 2x+", 2))]
        return jsonify(out)

    @bp.get("/realesrgan-models")
    @docs.operation(A1111_API)
    def realesrgan_models() -> Response:
        if not available("esrgan"):
            return jsonify([])
        return jsonify([{"name": "R-ESRGAN 4x+", "path": None, "scale": 4},
                        {"name": "R-ESRGAN 2x+", "path": None, "scale": 2}])

    @bp.get("/face-restorers")
    @docs.operation(A1111_API)
    def face_restorers() -> Response:
        return jsonify([{"name": label, "cmd_dir": None}
                        for kind, label in (("gfpgan", "GFPGAN"), ("codeformer", "CodeFormer")) if available(kind)])

    def files_of(kind: str) -> list[str]:
        return studio.prompt_names()[kind]  # the same listing the prompt box completes from

    @bp.get("/loras")
    @docs.operation(A1111_API)
    def loras() -> Response:
        return jsonify([{"name": name, "alias": name, "path": None, "metadata": {}} for name in files_of("loras")])

    @bp.get("/embeddings")
    @docs.operation(A1111_API)
    def embeddings() -> Response:
        loaded = {name: {"step": None, "sd_checkpoint": None, "sd_checkpoint_name": None, "shape": None,
                         "vectors": None} for name in files_of("embeddings")}
        return jsonify(loaded=loaded, skipped={})

    @bp.get("/memory")
    @docs.operation(A1111_API)
    def memory() -> Response:
        import psutil

        ram = psutil.virtual_memory()
        out: dict[str, Any] = {"ram": {"free": ram.available, "used": ram.total - ram.available, "total": ram.total}}
        try:
            import torch

            if torch.cuda.is_available():
                free, total = torch.cuda.mem_get_info()
                out["cuda"] = {"system": {"free": free, "used": total - free, "total": total}}
            else:
                out["cuda"] = {"error": "no CUDA device"}
        except Exception as exc:  # noqa: BLE001 (a report, not a failure)
            out["cuda"] = {"error": str(exc)}
        return jsonify(out)

    @bp.get("/scripts")
    @docs.operation(A1111_API)
    def scripts() -> Response:
        return jsonify(txt2img=[CONTROLNET_SCRIPT], img2img=[CONTROLNET_SCRIPT])

    empty_lists = ("script-info", "extensions", "prompt-styles", "sd-vae", "hypernetworks", "latent-upscale-modes",
                   "sd-modules")
    for name in empty_lists:
        bp.add_url_rule(f"/{name}", f"empty_{name}", docs.operation(A1111_API)(_answering([], f"empty_{name}")),
                        methods=["GET"])
    for name in ("refresh-checkpoints", "refresh-loras", "refresh-embeddings", "refresh-vae"):
        bp.add_url_rule(f"/{name}", f"refresh_{name}",
                        docs.operation(A1111_API)(_answering(None, f"refresh_{name}")), methods=["POST"])

    @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_offered(rest: str) -> Response:
        what = "is not offered by InvokeAI Desktop" if rest.split("/")[0] in NOT_OFFERED else "does not exist here"
        raise A1111Error(404, f"/sdapi/v1/{rest} {what}.")

    # -- errors -----------------------------------------------------------------------------------

    @bp.errorhandler(A1111Error)
    def api_error(exc: A1111Error) -> tuple[Response, int]:
        if exc.status == 422:
            return _unprocessable(exc.field or "body", exc.detail)
        return jsonify(error=type(exc).__name__, detail=exc.detail, errors=exc.detail), exc.status

    @bp.errorhandler(ValidationError)
    def invalid_body(exc: ValidationError) -> tuple[Response, int]:
        detail = [{"loc": ["body", *e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return jsonify(detail=detail), 422

    @bp.errorhandler(InvalidParameterError)
    def invalid_parameter(exc: InvalidParameterError) -> tuple[Response, int]:
        field = RENAMES.get(exc.field, exc.field)
        return _unprocessable(field, f"{field}: {exc.message}")

    @bp.errorhandler(UserError)
    def user_error(exc: UserError) -> tuple[Response, int]:
        return _unprocessable("body", user_message(exc))

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        if exc.code == 413:  # a chunked body that grew past the limit as it was read
            return jsonify(detail=too_large_message(request.path, limits)), 413
        return jsonify(detail=exc.description or exc.name), exc.code or 500

    return bp


def _unprocessable(field: str, message: str) -> tuple[Response, int]:
    return jsonify(detail=[{"loc": ["body", field], "msg": message, "type": "value_error"}]), 422


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise A1111Error(422, "the body must be a JSON object", "body")
    return data


def _png_infotext(png: bytes) -> str:
    """The ``parameters`` chunk of a PNG we made (md.infotext wrote it)."""
    with Image.open(BytesIO(png)) as im:
        return str(im.info.get(md.A1111_PARAMETERS, ""))


def register_a1111(app: Flask, studio: Studio, runs: ApiRuns, docs: ApiDocs) -> None:
    app.register_blueprint(create_a1111_blueprint(studio, runs, docs))


__all__ = ["register_a1111"]

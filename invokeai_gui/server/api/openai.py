"""OpenAI's images API under ``/v1``: generations, edits (transparent pixels are the region to
repaint), variations and the model list, so any OpenAI SDK pointed at this server draws with it.
Results are saved to the gallery; each ``url`` is absolute, built from the address asked."""

from __future__ import annotations

import base64
import time
from typing import Any, Literal

import numpy as np
from flask import Blueprint, Flask, Response, jsonify, request
from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.exceptions import HTTPException

from ldm.invoke import metadata as md
from ldm.invoke.errors import InvalidParameterError, UserError, user_message
from ldm.invoke.request import GenerationRequest, ImageRef

from ..studio import Studio
from .docs import ApiDocs, ApiFamily
from .limits import too_large_message
from .runs import ApiRuns, Outcome
from .translate import open_image, parse_size, sampler_id, uploaded_bytes

# Names OpenAI clients send by default; they mean "the studio's current model".
OPENAI_MODELS = ("dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5")
VARIATION_STRENGTH = 0.6
EDIT_STRENGTH = 1.0
# Our field names → the request field a client sent.
RENAMES = {"iterations": "n", "width": "size", "height": "size", "sampler_name": "sampler", "init_img": "image",
           "init_image": "image", "init_mask": "mask", "strength": "strength"}


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind


class ImageOptions(BaseModel):
    """The fields every images endpoint takes, plus our extensions (seed, steps, negative_prompt,
    sampler, cfg_scale). Unknown fields (quality, style, background, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    n: int = 1
    size: str | None = None
    model: str | None = None
    response_format: Literal["url", "b64_json"] | None = None
    user: str | None = None
    seed: int | None = None
    steps: int | None = None
    negative_prompt: str | None = None
    sampler: str | None = None
    cfg_scale: float | None = None


class GenerationsBody(ImageOptions):
    prompt: str


class EditBody(ImageOptions):
    prompt: str
    strength: float | None = None


# -- answers, for the OpenAPI document ---------------------------------------------------------------


class GeneratedImage(BaseModel):
    url: str | None = None
    b64_json: str | None = None


class GeneratedImages(BaseModel):
    created: int
    data: list[GeneratedImage]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorEnvelope(BaseModel):
    """OpenAI's error body."""

    error: ErrorDetail


OPENAI_API = ApiFamily("OpenAI /v1", 400, ErrorEnvelope)


def create_openai_blueprint(studio: Studio, runs: ApiRuns, docs: ApiDocs) -> Blueprint:
    bp = Blueprint("openai_api", __name__, url_prefix="/v1")

    def model_facts() -> tuple[str, dict[str, Any]]:
        facts = studio.system_config()
        return facts.get("model_id") or "", facts.get("model_list") or {}

    def model_name(value: str | None) -> str | None:
        if not value or value in OPENAI_MODELS:
            return None
        current, models = model_facts()
        if value == current or value in models:
            return value
        raise OpenAIError(404, f"The model {value!r} does not exist; GET /v1/models lists the models of this studio.",
                          "model", "model_not_found")

    def default_size() -> tuple[int, int]:
        current, models = model_facts()
        entry = models.get(current) or {}
        return int(entry.get("width", 512)), int(entry.get("height", 512))

    def base_request(options: ImageOptions, prompt: str) -> GenerationRequest:
        values: dict[str, Any] = {"prompt": prompt, "negative_prompt": options.negative_prompt or "",
                                  "prompt_syntax": "a1111", "iterations": options.n,
                                  "model": model_name(options.model), "seed": options.seed, "clip_skip": runs.clip_skip}
        if options.steps is not None:
            values["steps"] = options.steps
        if options.cfg_scale is not None:
            values["cfg_scale"] = options.cfg_scale
        if options.sampler:
            values["sampler_name"] = sampler_id("sampler", options.sampler)
        return GenerationRequest(**values)

    def answer(outcome: Outcome, response_format: str | None) -> Response:
        job = outcome.job
        if job.status == "failed" or (not outcome.pictures and job.status != "done"):
            reason = job.message or ("the job was canceled" if outcome.interrupted else "the job failed")
            raise OpenAIError(500, f"No image was made: {reason}.", None, None, "server_error")
        data = []
        for picture in outcome.pictures:
            if response_format == "b64_json":
                data.append({"b64_json": base64.b64encode(picture.png).decode("ascii")})
            else:
                data.append({"url": request.host_url + (picture.url or "")})
        return jsonify(created=int(job.created or time.time()), data=data)

    def run(options: ImageOptions, generation: GenerationRequest) -> Response:
        generation = generation.with_seed().validate()
        label = f"({options.user[:40]}) " if options.user else ""
        return answer(runs.generate(generation, save=True, label=label), options.response_format)

    @bp.post("/images/generations")
    @docs.operation(OPENAI_API, json=GenerationsBody, answer=GeneratedImages)
    def generations() -> Response:
        """Images from a prompt (saved to the gallery), as URLs or base64."""
        body = GenerationsBody.model_validate(_json_body())
        width, height = parse_size("size", body.size) if body.size else default_size()
        return run(body, base_request(body, body.prompt).replace(width=width, height=height))

    @bp.post("/images/edits")
    @docs.operation(OPENAI_API, form=EditBody, answer=GeneratedImages)
    def edits() -> Response:
        """Repaints the transparent pixels of the mask (or of the image)."""
        body = EditBody.model_validate(_form())
        picture = _uploaded_image("image", studio)
        mask_file = _file("mask")
        if body.size:
            size = parse_size("size", body.size)
            picture = picture.resize(size, Image.Resampling.LANCZOS)
        rgba = picture.convert("RGBA")
        if mask_file is not None:
            mask = open_image(uploaded_bytes("mask", mask_file, studio.limits)).convert("RGBA")
            if mask.size != rgba.size:
                if not body.size:
                    raise OpenAIError(400, f"The mask is {mask.width}x{mask.height} but the image is "
                                           f"{rgba.width}x{rgba.height}; they must be the same size.", "mask")
                mask = mask.resize(rgba.size, Image.Resampling.NEAREST)
            pixels = np.array(rgba)
            pixels[..., 3] = np.where(np.asarray(mask)[..., 3] < 128, 0, 255)
            rgba = Image.fromarray(pixels, "RGBA")
        if not (np.asarray(rgba)[..., 3] < 128).any():
            raise OpenAIError(400, "Nothing to edit: send a mask whose transparent pixels mark the region to "
                                   "repaint, or an image with transparent pixels.", "mask")
        generation = base_request(body, body.prompt).replace(
            init_image=ImageRef.from_image(rgba), width=rgba.width, height=rgba.height,
            strength=EDIT_STRENGTH if body.strength is None else body.strength)
        return run(body, generation)

    @bp.post("/images/variations")
    @docs.operation(OPENAI_API, form=ImageOptions, answer=GeneratedImages)
    def variations() -> Response:
        """Image to image at strength 0.6, with the image's recorded prompt when it has one."""
        body = ImageOptions.model_validate(_form())
        picture = _uploaded_image("image", studio)
        recipe = md.metadata_from_info(picture.info)
        recorded = recipe["image"] if isinstance(recipe.get("image"), dict) else {}
        prompt = md.prompt_text(recorded.get("prompt", ""))
        if body.size:
            picture = picture.resize(parse_size("size", body.size), Image.Resampling.LANCZOS)
        flat = picture.convert("RGB")  # transparent pixels would make it an inpaint
        generation = base_request(body, prompt).replace(
            init_image=ImageRef.from_image(flat), width=flat.width, height=flat.height, strength=VARIATION_STRENGTH)
        if recorded:  # the recorded prompt is read as it was written (older recipes: InvokeAI syntax)
            generation = generation.replace(prompt_syntax=str(recorded.get("prompt_syntax") or "invoke"),
                                            negative_prompt=body.negative_prompt or str(recorded.get("negative_prompt") or ""))
        return run(body, generation)

    @bp.get("/models")
    @docs.operation(OPENAI_API)
    def models() -> Response:
        """The studio's models."""
        current, listed = model_facts()
        names = list(listed) or ([current] if current else [])
        return jsonify(object="list", data=[{"id": name, "object": "model", "created": 0, "owned_by": "invokeai"}
                                            for name in names])

    @bp.get("/models/<path:name>")
    @docs.operation(OPENAI_API)
    def model(name: str) -> Response:
        current, listed = model_facts()
        if name not in listed and name != current:
            raise OpenAIError(404, f"The model {name!r} does not exist.", "model", "model_not_found")
        return jsonify(id=name, object="model", created=0, owned_by="invokeai")

    @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_offered(rest: str) -> Response:
        raise OpenAIError(404, f"/v1/{rest} is not offered here: this studio serves /v1/images/generations, "
                               "/v1/images/edits, /v1/images/variations and /v1/models.", None, "unknown_url")

    @bp.errorhandler(OpenAIError)
    def openai_error(exc: OpenAIError) -> tuple[Response, int]:
        return _envelope(exc.status, exc.message, exc.param, exc.code, exc.kind)

    @bp.errorhandler(ValidationError)
    def invalid_body(exc: ValidationError) -> tuple[Response, int]:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first.get("loc", ())) or None
        return _envelope(400, f"{param}: {first.get('msg')}" if param else str(first.get("msg")), param)

    @bp.errorhandler(InvalidParameterError)
    def invalid_parameter(exc: InvalidParameterError) -> tuple[Response, int]:
        param = RENAMES.get(exc.field, exc.field)
        return _envelope(400, f"{param}: {exc.message}", param)

    @bp.errorhandler(UserError)
    def user_error(exc: UserError) -> tuple[Response, int]:
        return _envelope(400, user_message(exc))

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        if exc.code == 413:  # a chunked body that grew past the limit as it was read
            return _envelope(413, too_large_message(request.path, studio.limits))
        return _envelope(exc.code or 500, exc.description or exc.name)

    return bp


def _envelope(status: int, message: str, param: str | None = None, code: str | None = None,
              kind: str = "invalid_request_error") -> tuple[Response, int]:
    return jsonify(error={"message": message, "type": kind, "param": param, "code": code}), status


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise OpenAIError(400, "The body must be a JSON object.")
    return data


def _form() -> dict[str, Any]:
    if request.mimetype != "multipart/form-data":
        raise OpenAIError(400, "This endpoint takes multipart/form-data (the image as a file).")
    return {key: value for key, value in request.form.items()}


def _file(field: str) -> bytes | None:
    upload = request.files.get(field) or request.files.get(f"{field}[]")
    return upload.read() if upload is not None else None


def _uploaded_image(field: str, studio: Studio) -> Image.Image:
    data = _file(field)
    if data is None:
        raise OpenAIError(400, f"{field}: the image file is missing.", field)
    return open_image(uploaded_bytes(field, data, studio.limits))


def register_openai(app: Flask, studio: Studio, runs: ApiRuns, docs: ApiDocs) -> None:
    app.register_blueprint(create_openai_blueprint(studio, runs, docs))


__all__ = ["register_openai"]

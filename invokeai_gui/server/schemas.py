"""One schema per Socket.IO event: what each client request may carry, checked strictly at the edge."""

from __future__ import annotations

import logging
import re
import types
import typing
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ldm.invoke.errors import UserError
from ldm.invoke.request import (
    DEFAULT_HIRES_PASS,
    LIMITS,
    MAX_CONTROL_UNITS,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_VARIATIONS,
    MIN_INIT_SIDE,
    PROMPT_SYNTAXES,
    SAMPLER_IDS,
    ControlUnit,
    GenerationRequest,
    ImageRef,
)
from ldm.invoke.request import (
    BoundingBox as RequestBox,
)

log = logging.getLogger(__name__)

SAMPLER_NAMES = SAMPLER_IDS  # the engine refuses one its diffusers lacks, with a message naming it
Category = Literal["result", "user"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


def _limited(name: str, default: Any, **extra: Any) -> Any:
    """A field whose range is the request's (``ldm/invoke/request.py`` is the one home of limits)."""
    limit = LIMITS[name]
    lo, hi = (int(limit.lo), int(limit.hi)) if limit.integer else (limit.lo, limit.hi)
    if not limit.integer:
        extra.setdefault("allow_inf_nan", False)
    return Field(default, ge=extra.pop("ge", lo), le=hi, **extra)


class RequestError(UserError, ValueError):
    """A request that failed validation; ``field`` names the offending field, ``message`` is for users."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Schema(BaseModel):
    """Strict about the fields we name (no "5" for 5), silent about the ones we don't."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


MAX_REQUEST_ID_CHARS = 100
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]+")


class JobRequest(Schema):
    """An event that starts a job. Ours: the client may name it with ``request_id`` (the last argument),
    and every event of the job then carries that name as ``requestId``."""

    request_id: str | None = Field(None, min_length=1, max_length=MAX_REQUEST_ID_CHARS)

    @field_validator("request_id")
    @classmethod
    def _plain_characters(cls, value: str | None) -> str | None:
        if value is not None and not _REQUEST_ID.fullmatch(value):
            raise ValueError("a request id may hold only letters, digits and . _ : -")
        return value


def _as_pairs(value: Any) -> Any:
    """``[[seed, weight], ...]`` arrives as JSON lists; strict tuples want tuples."""
    if isinstance(value, list):
        return [tuple(v) if isinstance(v, list) else v for v in value]
    return value


# -- generateImage -----------------------------------------------------------------------------


class BoundingBox(Schema):
    x: int = Field(ge=0, le=16384)
    y: int = Field(ge=0, le=16384)
    width: int = Field(ge=8, le=4096)
    height: int = Field(ge=8, le=4096)


def settings_as_floats(cls: type, value: Any) -> Any:
    """A unit's settings may come as whole numbers (JSON has one number type): they are read as floats."""
    if isinstance(value, dict):
        return {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in value.items()}
    return value


class ControlUnitParameters(Schema):
    """One control unit (ours): ranges and names are the request's to check, so messages name the unit."""

    model: str = Field(min_length=1, max_length=256)
    image: str = Field("", max_length=4096)  # an outputs/... URL, like init_img; none: the init image
    preprocessor: str = Field("none", max_length=64)
    settings: dict[str, float] = Field(default_factory=dict, max_length=16)
    weight: float = Field(1.0, allow_inf_nan=False)
    start: float = Field(0.0, allow_inf_nan=False)
    end: float = Field(1.0, allow_inf_nan=False)
    control_mode: str = Field("balanced", max_length=32)
    resize_mode: str = Field("crop", max_length=32)
    hires_pass: str = Field(DEFAULT_HIRES_PASS, max_length=32)

    @field_validator("weight", "start", "end", mode="before")
    @classmethod
    def _whole_numbers_too(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    _settings_numbers = field_validator("settings", mode="before")(settings_as_floats)

    def to_unit(self, image: ImageRef) -> ControlUnit:
        settings = {k: int(v) if float(v).is_integer() else v for k, v in self.settings.items()}
        return ControlUnit(model=self.model, image=image, preprocessor=self.preprocessor, settings=settings,
                           weight=self.weight, start=self.start, end=self.end, control_mode=self.control_mode,
                           resize_mode=self.resize_mode, hires_pass=self.hires_pass)


class GenerationParameters(Schema):
    prompt: str = Field(max_length=MAX_PROMPT_CHARS)
    iterations: int = _limited("iterations", 1)
    steps: int = _limited("steps", 50)
    cfg_scale: float = _limited("cfg_scale", 7.5)
    threshold: float = _limited("threshold", 0.0)
    perlin: float = _limited("perlin", 0.0)
    # Multiples of 8 from 64 (checked below) unless an init image without fit brings its own size.
    width: int = _limited("width", 512, ge=MIN_INIT_SIDE)
    height: int = _limited("height", 512, ge=MIN_INIT_SIDE)
    sampler_name: Literal[SAMPLER_NAMES] = "k_lms"  # type: ignore[valid-type]
    seed: int | None = _limited("seed", None, ge=-1)  # -1 or absent: a random seed (our extension)
    seamless: bool | None = None  # absent: the server's --seamless
    hires_fix: bool = False
    hires_strength: float = _limited("hires_strength", 0.75)
    progress_images: bool = False
    progress_latents: bool = False
    save_intermediates: int = Field(5, ge=0, le=1000)
    variation_amount: float = _limited("variation_amount", 0.0)
    with_variations: list[tuple[Seed, Fraction]] | None = Field(None, max_length=MAX_VARIATIONS)
    init_img: str | None = Field(None, max_length=4096)
    strength: float = _limited("strength", 0.75)
    fit: bool = False
    init_mask: str | None = None
    is_mask_empty: bool = False
    bounding_box: BoundingBox | None = None
    inpaint_replace: float = _limited("inpaint_replace", 0.0)
    seam_size: int = _limited("seam_size", 8)  # ours: px outside the mask where new pixels blend into old
    clip_skip: int = _limited("clip_skip", 0)  # ours: text-encoder layers skipped (recipes record it)
    prompt_syntax: Literal[PROMPT_SYNTAXES] = "invoke"  # type: ignore[valid-type]  # ours: how the prompt is read
    negative_prompt: str = Field("", max_length=MAX_PROMPT_CHARS)  # ours: with "invoke" syntax, joins [words]
    control: list[ControlUnitParameters] | None = Field(None, max_length=MAX_CONTROL_UNITS)  # ours: ControlNet units

    _pairs = field_validator("with_variations", mode="before")(_as_pairs)

    @model_validator(mode="after")
    def _needs_init_image(self) -> GenerationParameters:
        if (self.init_mask or self.bounding_box) and not self.init_img:
            raise ValueError("init_img is required for inpainting (init_mask or bounding_box was given)")
        if not self.init_img or self.fit:
            for side in ("width", "height"):
                value, limit = getattr(self, side), LIMITS[side]
                if value % limit.multiple_of or value < limit.lo:
                    raise ValueError(f"{side} must be a multiple of {limit.multiple_of} from {limit.lo:g} to "
                                     f"{limit.hi:g}, got {value}")
        return self


class EsrganParameters(Schema):
    level: Literal[2, 4]
    strength: Fraction = 0.75


class FacetoolParameters(Schema):
    type: Literal["gfpgan", "codeformer"] = "gfpgan"  # a 2.0 client sends only {strength}: GFPGAN
    strength: Fraction
    codeformer_fidelity: Fraction = 0.75


class GenerateImage(JobRequest):
    generation_parameters: GenerationParameters
    esrgan_parameters: EsrganParameters | Literal[False] | None = None
    facetool_parameters: FacetoolParameters | Literal[False] | None = None

    def to_request(self, init_image: ImageRef | None, init_mask: ImageRef | None,
                   seamless_default: bool = False, control_images: tuple[ImageRef, ...] = ()) -> GenerationRequest:
        """The request this event means, its images already read (the caller resolves the URLs)."""
        p = self.generation_parameters
        esrgan = self.esrgan_parameters or None
        face = self.facetool_parameters or None
        box = p.bounding_box
        return GenerationRequest(
            prompt=p.prompt, iterations=p.iterations, steps=p.steps, cfg_scale=p.cfg_scale, threshold=p.threshold,
            perlin=p.perlin, width=p.width, height=p.height, sampler_name=p.sampler_name,
            seed=None if p.seed in (None, -1) else p.seed,
            seamless=seamless_default if p.seamless is None else p.seamless,
            hires_fix=p.hires_fix, hires_strength=p.hires_strength, variation_amount=p.variation_amount,
            with_variations=tuple((int(s), float(w)) for s, w in p.with_variations or ()),
            init_image=init_image, init_mask=init_mask, strength=p.strength, fit=p.fit,
            bounding_box=RequestBox(box.x, box.y, box.width, box.height) if box and init_image else None,
            inpaint_replace=p.inpaint_replace, seam_size=p.seam_size, clip_skip=p.clip_skip,
            prompt_syntax=p.prompt_syntax, negative_prompt=p.negative_prompt,
            control=tuple(unit.to_unit(image) for unit, image in zip(p.control or (), control_images)),
            upscale=(esrgan.level, esrgan.strength) if esrgan else None,
            facetool=face.type if face else "gfpgan", facetool_strength=face.strength if face else 0.0,
            codeformer_fidelity=face.codeformer_fidelity if face else 0.75,
            preview_every=1 if p.progress_latents else 0,
            intermediate_every=p.save_intermediates if p.progress_images else 0,
        )


# -- runPostprocessing -------------------------------------------------------------------------


class OriginalImage(Schema):
    url: str = Field(min_length=1, max_length=4096)


class PostprocessingParameters(Schema):
    type: Literal["esrgan", "gfpgan", "codeformer"]
    upscale: tuple[Literal[2, 4], Fraction] | None = None
    facetool_strength: Fraction | None = None
    codeformer_fidelity: Fraction = 0.75
    # Ours: with type 'esrgan', restore faces on the upscaled image in the same job (one result).
    facetool: FacetoolParameters | None = None

    @field_validator("upscale", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _needs_its_settings(self) -> PostprocessingParameters:
        if self.type == "esrgan" and self.upscale is None:
            raise ValueError("upscale [level, strength] is required for esrgan")
        if self.type != "esrgan" and self.facetool_strength is None:
            raise ValueError(f"facetool_strength is required for {self.type}")
        if self.type != "esrgan" and self.facetool is not None:
            raise ValueError("facetool may only follow an upscale (type esrgan)")
        return self


class RunPostprocessing(JobRequest):
    original_image: OriginalImage
    postprocessing_parameters: PostprocessingParameters


# -- gallery, uploads, models, queue -----------------------------------------------------------


class RequestImages(Schema):
    category: Category
    earliest_mtime: float | None = Field(None, ge=0, allow_inf_nan=False)
    earliest_url: str | None = Field(None, max_length=4096)  # ours: an exact cursor at mtime ties


class RequestLatestImages(Schema):
    category: Category
    latest_mtime: float | None = Field(None, ge=0, allow_inf_nan=False)  # a client with no images sends null


class DeleteImage(Schema):
    url: str = Field(min_length=1, max_length=4096)
    uuid: str | None = Field(None, max_length=200)
    category: Category | None = None


class UploadImage(Schema):
    bytes: bytes
    name: str = Field("upload.png", max_length=1000)
    destination: str | None = Field(None, max_length=100)


class ControlMap(Schema):
    """The map a preprocessor makes of a control image, to preview it before Invoke; with width and
    height it is brought to that size by the resize mode."""

    image: str = Field("", max_length=4096)  # an outputs/... URL, like a unit's image; none: init_img's
    preprocessor: str = Field("none", max_length=64)
    settings: dict[str, float] = Field(default_factory=dict, max_length=16)
    resize_mode: str = Field("crop", max_length=32)
    width: int | None = Field(None, ge=8, le=4096)
    height: int | None = Field(None, ge=8, le=4096)
    init_img: str | None = Field(None, max_length=4096)  # the picture a unit without one takes (Image to Image)
    init_mask: str | None = None  # with init_img: the painted mask (base64), as generation_parameters' init_mask
    fit: bool = False  # as generation_parameters.fit: the init image scaled to width × height first

    _settings_numbers = field_validator("settings", mode="before")(settings_as_floats)

    @model_validator(mode="after")
    def _both_sides(self) -> ControlMap:
        if (self.width is None) != (self.height is None):
            raise ValueError("send width and height together (the size the map is brought to), or neither")
        return self


class ControlMapRequest(JobRequest):
    """Ours: ``requestControlMap`` sends one object (checked as ``control``, so a bad field reads
    ``control.preprocessor``) and, like the job events, an optional request id."""

    control: ControlMap


class SaveControlMap(Schema):
    """Ours (``saveControlMap``): a previewed map, by its outputs/control-images/... URL, into the Uploads."""

    url: str = Field(min_length=1, max_length=4096)


class ModelChange(JobRequest):
    model_name: str = Field(min_length=1, max_length=300)


class ModelImport(JobRequest):
    """Ours: add a checkpoint file or a diffusers folder (it stays where it is) to models.yaml."""

    path: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(None, min_length=1, max_length=300)
    make_default: bool = False


class ModelScan(JobRequest):
    """Ours: add every model under a folder (an AUTOMATIC1111 or ComfyUI tree) to models.yaml."""

    path: str = Field(min_length=1, max_length=4096)


class ModelDelete(JobRequest):
    """Ours: a models.yaml entry to remove (its files are never touched) or to make the default."""

    model_name: str = Field(min_length=1, max_length=300)


class Cancel(Schema):
    job_id: str | None = Field(None, max_length=100)


class Empty(Schema):
    pass


# -- turning positional Socket.IO arguments into one of the above ----------------------------

S = TypeVar("S", bound=Schema)


def _schema_of(annotation: Any) -> type[Schema] | None:
    if isinstance(annotation, type) and issubclass(annotation, Schema):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _schema_of(arg)
            if found:
                return found
    return None


def _note_unknown_fields(schema: type[Schema], data: dict[str, Any], where: str) -> None:
    """Unknown fields are ignored (newer and older clients both send some) but logged for debugging."""
    for key, value in data.items():
        field = schema.model_fields.get(key)
        if field is None:
            log.debug("%s: ignoring the unknown field %r", where, key)
        elif isinstance(value, dict):
            nested = _schema_of(field.annotation)
            if nested is not None:
                _note_unknown_fields(nested, value, f"{where}.{key}")


_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _field_path(loc: tuple[Any, ...]) -> str:
    """``('facetool_parameters', 'FacetoolParameters', 'strength')`` → ``facetool_parameters.strength``:
    pydantic puts the union member it tried into the path, which means nothing to a user."""
    parts = [str(p) for p in loc if isinstance(p, int) or (_FIELD_NAME.fullmatch(str(p)) and p != "none")]
    return ".".join(parts)


def _describe(errors: list[Any], event: str) -> tuple[str, str]:
    # With unions pydantic reports one error per member; the deepest path is the one that matched.
    error = max(errors, key=lambda e: len(_field_path(e.get("loc", ()))))
    field = _field_path(error.get("loc", ())) or "payload"
    if error.get("type") == "missing":
        return field, f"The {event} request is missing the field '{field}'."
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    value = error.get("input")
    shown = ""
    if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 60):
        shown = f" (got {value!r})"
    return field, f"The field '{field}' of the {event} request is invalid: {message}{shown}."


def parse_event(schema: type[S], event: str, args: tuple[Any, ...], names: tuple[str, ...]) -> S:
    """Validates an event's positional arguments against its schema, or raises RequestError."""
    if len(args) > len(names):
        log.debug("%s: ignoring %d extra argument(s)", event, len(args) - len(names))
    data = {name: value for name, value in zip(names, args)}
    if log.isEnabledFor(logging.DEBUG):
        _note_unknown_fields(schema, {k: v for k, v in data.items()}, event)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        field, message = _describe(exc.errors(include_url=False), event)
        raise RequestError(message, field) from None

"""The A1111 ControlNet extension's API, as its plugins and ``webuiapi`` use it: units sent under
``alwayson_scripts.controlnet.args`` on txt2img / img2img (the script key matched without regard to
case), and ``/controlnet/version``, ``model_list``, ``module_list`` and ``detect``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ldm.invoke.control.inpaint import with_mask
from ldm.invoke.control.table import PREPROCESSORS, preprocessor_for_a1111
from ldm.invoke.errors import InvalidParameterError
from ldm.invoke.request import (
    CONTROL_MODES,
    DEFAULT_HIRES_PASS,
    HIRES_PASSES,
    RESIZE_MODES,
    ControlUnit,
    ImageRef,
)

from ..uploads import UploadLimits
from .limits import MAX_BATCH_IMAGES
from .translate import image_bytes

SCRIPT = "controlnet"  # the name /sdapi/v1/scripts lists and alwayson_scripts keys it by
API_VERSION = 2  # what the extension's /controlnet/version answers today
# The extension's numbers for its modes, in its order.
CONTROL_MODE_NUMBERS = ("balanced", "prompt", "control")
RESIZE_MODE_NUMBERS = ("stretch", "crop", "fit")
HIRES_PASS_NUMBERS = ("both", "first", "second")  # hr_option: Both, Low res only, High res only


class ExtensionUnit(BaseModel):
    """One unit as the extension takes it (fields it has and we do not use are ignored)."""

    model_config = ConfigDict(extra="ignore")

    enabled: bool = True
    image: Any = None  # base64, or {"image": base64, "mask": ...}
    input_image: Any = None  # the older name
    mask: Any = None  # base64, white where inpaint_only fills (webuiapi's ControlNetUnit(mask=...))
    module: str = "none"
    model: str = "None"
    weight: float = 1.0
    resize_mode: Any = "Crop and Resize"
    processor_res: float = -1
    threshold_a: float = -1
    threshold_b: float = -1
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    control_mode: Any = "Balanced"
    pixel_perfect: bool = False  # the processor resolution from the target size (pixel_perfect_resolution)
    low_vram: bool = False  # accepted, changes nothing: see the README
    hr_option: Any = "Both"  # which pass of hires fix the unit steers


class DetectBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    controlnet_module: str = "none"
    controlnet_input_images: list[str] = Field(default_factory=list, max_length=MAX_BATCH_IMAGES)
    controlnet_images: list[str] = Field(default_factory=list, max_length=MAX_BATCH_IMAGES)  # webuiapi's name
    controlnet_processor_res: float = -1
    controlnet_threshold_a: float = -1
    controlnet_threshold_b: float = -1


def _choice(field: str, value: Any, names: Mapping[str, str], numbers: tuple[str, ...]) -> str:
    """Our name for a mode sent as the extension's string, its number, or either in a one-element list."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(numbers):
        return numbers[value]
    if isinstance(value, str):
        wanted = value.strip().lower()
        for ours, theirs in names.items():
            if wanted in (ours, theirs.lower()):
                return ours
    choices = ", ".join(repr(n) for n in names.values())
    raise InvalidParameterError(field, f"must be one of {choices} (or 0-{len(numbers) - 1}), got {value!r}")


def _settings(preprocessor: str, resolution: float, a: float, b: float) -> dict[str, float]:
    """The extension's processor_res, threshold_a and threshold_b as the preprocessor's named settings
    (-1, or one the preprocessor does not have: its default)."""
    sent = {"processor_res": resolution, "threshold_a": a, "threshold_b": b}
    out: dict[str, float] = {}
    for name, setting in PREPROCESSORS[preprocessor].settings.items():
        value = sent.get(setting.a1111, -1)
        if value != -1:
            out[name] = int(value) if setting.limit.integer and float(value).is_integer() else value
    return out


def _module(field: str, name: str) -> str:
    found = preprocessor_for_a1111(name)
    if found is None:
        known = ", ".join(p.a1111 for p in PREPROCESSORS.values())
        raise InvalidParameterError(field, f"unknown module {name!r}; this server has {known}")
    return found


def pixel_perfect_resolution(image: tuple[int, int], target: tuple[int, int], resize_mode: str) -> int:
    """The processor resolution the extension's pixel perfect mode picks: the short side of the control
    image scaled as the resize mode will scale it to the target (fit: the smaller factor; crop and
    stretch: the larger)."""
    (width, height), (target_w, target_h) = image, target
    k_h, k_w = target_h / height, target_w / width
    factor = min(k_h, k_w) if resize_mode == "fit" else max(k_h, k_w)
    return int(round(factor * min(width, height)))


def model_name(title: str) -> str:
    """Our name for the extension's model title (``control_v11p_sd15_canny [d14c016b]``)."""
    return title.split(" [", 1)[0].strip()


def control_units(scripts: Mapping[str, Any] | None, limits: UploadLimits, target: tuple[int, int] = (512, 512),
                  hires: bool = False, init: Callable[[str, str], bytes] | None = None) -> tuple[ControlUnit, ...]:
    """The enabled units of ``alwayson_scripts``' ControlNet entry, as request units. ``target`` is the
    size the extension's pixel perfect mode aims at (A1111's width × height); ``hires`` whether hires fix
    runs (each unit's ``hr_option`` then says which of its passes it steers); ``init(field, module)``, in
    img2img, gives the picture of a unit sent without one (the init image, with its mask for inpaint)."""
    entry = next((v for k, v in (scripts or {}).items() if str(k).lower() == SCRIPT), None)
    args = entry.get("args") if isinstance(entry, Mapping) else None
    units = []
    for index, raw in enumerate(args or []):
        field = f"alwayson_scripts.controlnet.args[{index}]"
        if not isinstance(raw, Mapping):
            raise InvalidParameterError(field, "must be a unit object")
        unit = ExtensionUnit.model_validate(raw)
        if not unit.enabled or unit.model in ("", "None", None):
            continue
        image = unit.image if unit.image is not None else unit.input_image
        mask = unit.mask
        if isinstance(image, Mapping):
            mask = image.get("mask") if mask is None else mask
            image = image.get("image")
        module = _module(f"{field}.module", unit.module)
        if not image and init is None:
            raise InvalidParameterError(f"{field}.image", "the unit has no image (base64); only in img2img does a "
                                                          "unit without one take init_images")
        hires_pass = _choice(f"{field}.hr_option", unit.hr_option, HIRES_PASSES, HIRES_PASS_NUMBERS)
        if not hires:  # one pass: the option is moot, and the recipe need not carry it
            hires_pass = DEFAULT_HIRES_PASS
        if image:
            data = image_bytes(f"{field}.image", image, limits)
            if mask and PREPROCESSORS[module].masks:  # the part to fill travels as the picture's transparency
                data = with_mask(data, image_bytes(f"{field}.mask", mask, limits))
        else:
            data = init(f"{field}.image", module)
        picture = ImageRef.from_bytes(data)  # kept in the output tree once the whole request has passed
        resize_mode = _choice(f"{field}.resize_mode", unit.resize_mode, RESIZE_MODES, RESIZE_MODE_NUMBERS)
        resolution = unit.processor_res
        if unit.pixel_perfect:
            resolution = pixel_perfect_resolution(picture.image.size, target, resize_mode)
        units.append(ControlUnit(
            model=model_name(unit.model), image=picture,
            preprocessor=module, settings=_settings(module, resolution, unit.threshold_a, unit.threshold_b),
            weight=unit.weight, start=unit.guidance_start, end=unit.guidance_end,
            control_mode=_choice(f"{field}.control_mode", unit.control_mode, CONTROL_MODES, CONTROL_MODE_NUMBERS),
            resize_mode=resize_mode, hires_pass=hires_pass))
    return tuple(units)


MapMaker = Callable[[dict[str, Any]], dict[str, Any]]  # Worker.control_map: where jobs run


def create_controlnet_blueprint(facts: Callable[[], dict[str, Any]], limits: UploadLimits,
                                make_map: MapMaker) -> Blueprint:
    bp = Blueprint("controlnet_api", __name__, url_prefix="/controlnet")

    @bp.get("/version")
    def version() -> Response:
        return jsonify(version=API_VERSION)

    @bp.get("/model_list")
    def model_list() -> Response:
        return jsonify(model_list=sorted(facts().get("control_models") or {}))

    @bp.get("/module_list")
    def module_list() -> Response:
        return jsonify(module_list=[p.a1111 for p in PREPROCESSORS.values()],
                       module_detail={p.a1111: p.as_dict() for p in PREPROCESSORS.values()})

    @bp.post("/detect")
    def detect() -> Response:
        """The maps, made where jobs run (the worker's map call, as ``requestControlMap``'s)."""
        body = DetectBody.model_validate(request.get_json(silent=True) or {})
        module = _module("controlnet_module", body.controlnet_module)
        settings = _settings(module, body.controlnet_processor_res, body.controlnet_threshold_a,
                             body.controlnet_threshold_b)
        maps = []
        for index, data in enumerate(body.controlnet_input_images or body.controlnet_images):
            field = f"controlnet_input_images[{index}]"
            job = {"image": image_bytes(field, data, limits), "preprocessor": module, "settings": settings}
            try:
                made = make_map(job)
            except InvalidParameterError as exc:
                raise InvalidParameterError(_detect_field(exc.field, field, module), exc.message) from None
            maps.append(base64.b64encode(made["png"]).decode("ascii"))
        return jsonify(images=maps, info="Success")

    @bp.errorhandler(InvalidParameterError)
    def invalid(exc: InvalidParameterError) -> tuple[Response, int]:
        return jsonify(detail=f"{exc.field}: {exc.message}"), 422

    @bp.errorhandler(ValidationError)
    def invalid_body(exc: ValidationError) -> tuple[Response, int]:
        detail = [{"loc": ["body", *e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return jsonify(detail=detail), 422

    return bp


def _detect_field(field: str, image_field: str, module: str) -> str:
    """A map call's field (``control.settings.low_threshold``) as the detect body names it."""
    if field == "control.image":
        return image_field
    if field.startswith("control.settings."):
        setting = PREPROCESSORS[module].settings.get(field.removeprefix("control.settings."))
        return f"controlnet_{setting.a1111}" if setting else field
    return "controlnet_module" if field == "control.preprocessor" else field


def register_controlnet(app: Flask, facts: Callable[[], dict[str, Any]], limits: UploadLimits,
                        make_map: MapMaker) -> None:
    """``make_map`` runs a preprocessor where jobs run (the worker, or a pool worker with --cluster)."""
    app.register_blueprint(create_controlnet_blueprint(facts, limits, make_map))


__all__ = ["SCRIPT", "control_units", "register_controlnet"]

"""What a job asks for: ``GenerationRequest`` and ``PostprocessRequest``, every parameter's default and
limit, and the sampler table, in one place. Plain data: importable without torch or diffusers, and it
travels as JSON (the queue database, a remote worker) and as sd-metadata (recipes, Use All, ``!fetch``).

The Socket.IO schema, the CLI switches and ``systemConfig`` are translations of what is here."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from io import BytesIO
from typing import TYPE_CHECKING, Any

from .errors import InvalidParameterError

if TYPE_CHECKING:
    from PIL import Image

MAX_SEED = 4294967295
SEAM = 8  # default px beyond the mask where new pixels blend into the original
MAX_PROMPT_CHARS = 20000
MAX_VARIATIONS = 100
UPSCALE_LEVELS = (2, 4)
FACETOOLS = ("gfpgan", "codeformer")
MAX_FACES = 20  # face restoration works on at most this many faces (the largest) of a picture
POSTPROCESSORS = ("esrgan",) + FACETOOLS
# How the prompt is read: InvokeAI 2.x's syntax (``a:1.2 b``, ``[negative]``) or AUTOMATIC1111's
# (``(a:1.2)``, ``[less]``, ``[from:to:when]``, ``[a|b]``, the negative prompt in its own field).
PROMPT_SYNTAXES = ("invoke", "a1111")
# With an init image (and no fit) the picture's own size is used; it may be any size from this up.
MIN_INIT_SIDE = 8


@dataclass(frozen=True)
class Limit:
    """The range a number may take; ``multiple_of`` for sizes that must fit the latent grid."""

    lo: float
    hi: float
    integer: bool = False
    multiple_of: int = 1

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min": self.lo, "max": self.hi, "integer": self.integer}
        if self.multiple_of > 1:
            out["multiple_of"] = self.multiple_of
        return out


LIMITS: dict[str, Limit] = {
    "iterations": Limit(1, 1000, integer=True),
    "steps": Limit(1, 1000, integer=True),
    "cfg_scale": Limit(1, 200),
    "threshold": Limit(0, 1000),
    "perlin": Limit(0, 1),
    "width": Limit(64, 2048, integer=True, multiple_of=8),
    "height": Limit(64, 2048, integer=True, multiple_of=8),
    "seed": Limit(0, MAX_SEED, integer=True),
    "variation_amount": Limit(0, 1),
    "strength": Limit(0, 1),
    "hires_strength": Limit(0, 1),
    "inpaint_replace": Limit(0, 1),
    "seam_size": Limit(0, 64, integer=True),
    "clip_skip": Limit(0, 48, integer=True),
    "facetool_strength": Limit(0, 1),
    "codeformer_fidelity": Limit(0, 1),
    "upscale_strength": Limit(0, 1),
    # A control unit's strength, and the fractions of the steps between which it steers.
    "control_weight": Limit(0, 2),
    "control_start": Limit(0, 1),
    "control_end": Limit(0, 1),
}
MAX_CONTROL_UNITS = 8
# How a unit weighs against the prompt, as the A1111 ControlNet extension names the three choices.
CONTROL_MODES = {"balanced": "Balanced", "prompt": "My prompt is more important",
                 "control": "ControlNet is more important"}
# How the control image is brought to the size being generated (the extension's names beside ours).
RESIZE_MODES = {"crop": "Crop and Resize", "fit": "Resize and Fill", "stretch": "Just Resize"}
# Which pass of hires fix a unit steers (the extension's ``hr_option`` names beside ours); the first is the
# default. Without hires fix (or when the size needs one pass only) every unit steers the one pass.
HIRES_PASSES = {"both": "Both", "first": "Low res only", "second": "High res only"}
DEFAULT_HIRES_PASS = "both"
MAX_SIDE = int(LIMITS["width"].hi)


# ---------------------------------------------------------------------------------------------
# Samplers: our id, the name users read, AUTOMATIC1111's name, and the diffusers scheduler behind it


@dataclass(frozen=True)
class Sampler:
    id: str
    name: str
    a1111: str
    scheduler: str  # class name in diffusers
    options: Mapping[str, Any] = field(default_factory=dict)
    needs: str | None = None  # an optional package the scheduler imports


SAMPLERS: tuple[Sampler, ...] = (
    Sampler("ddim", "DDIM", "DDIM", "DDIMScheduler"),
    Sampler("plms", "PLMS", "PLMS", "PNDMScheduler", {"skip_prk_steps": True}),
    Sampler("k_lms", "LMS", "LMS", "LMSDiscreteScheduler"),
    Sampler("k_dpm_2", "DPM2", "DPM2", "KDPM2DiscreteScheduler"),
    Sampler("k_dpm_2_a", "DPM2 ancestral", "DPM2 a", "KDPM2AncestralDiscreteScheduler"),
    Sampler("k_euler", "Euler", "Euler", "EulerDiscreteScheduler"),
    Sampler("k_euler_a", "Euler ancestral", "Euler a", "EulerAncestralDiscreteScheduler"),
    Sampler("k_heun", "Heun", "Heun", "HeunDiscreteScheduler"),
    Sampler("k_dpmpp_2", "DPM++ 2S", "DPM++ 2S a", "DPMSolverSinglestepScheduler", {"solver_order": 2}),
    Sampler("k_dpmpp_2m", "DPM++ 2M", "DPM++ 2M", "DPMSolverMultistepScheduler", {"solver_order": 2}),
    Sampler("k_dpmpp_2m_karras", "DPM++ 2M Karras", "DPM++ 2M Karras", "DPMSolverMultistepScheduler",
            {"solver_order": 2, "use_karras_sigmas": True}),
    Sampler("k_dpmpp_sde", "DPM++ SDE", "DPM++ SDE", "DPMSolverSDEScheduler", needs="torchsde"),
    Sampler("unipc", "UniPC", "UniPC", "UniPCMultistepScheduler"),
)
SAMPLER_IDS: tuple[str, ...] = tuple(s.id for s in SAMPLERS)
SAMPLERS_BY_ID: dict[str, Sampler] = {s.id: s for s in SAMPLERS}
DEFAULT_SAMPLER = "k_lms"


def sampler_for_a1111(name: str) -> str | None:
    """Our id for an AUTOMATIC1111 sampler name ("Euler a", "dpm++ 2m karras"), or None."""
    wanted = name.strip().lower()
    for s in SAMPLERS:
        if s.a1111.lower() == wanted:
            return s.id
    if wanted.endswith(" karras"):  # a Karras schedule we have no separate sampler for
        return sampler_for_a1111(wanted.removesuffix(" karras"))
    return None


def limits_for_clients() -> dict[str, Any]:
    """The limits and sampler table as ``systemConfig`` carries them, so clients keep no copies."""
    limits: dict[str, Any] = {name: limit.as_dict() for name, limit in LIMITS.items()}
    limits["prompt_chars"] = {"max": MAX_PROMPT_CHARS}
    limits["with_variations"] = {"max": MAX_VARIATIONS}
    limits["upscale_levels"] = list(UPSCALE_LEVELS)
    limits["control_units"] = {"max": MAX_CONTROL_UNITS}
    return limits


def steps_run(steps: int, strength: float) -> int:
    """How many steps an image-to-image pass really runs: floor(strength × steps)."""
    return min(int(steps * strength), steps)


# ---------------------------------------------------------------------------------------------
# Images travel by content


@dataclass(frozen=True)
class ImageRef:
    """An input image by content: the file's bytes (PNG, JPEG or WebP) and their sha256, plus the
    ``outputs/...`` URL it is stored under in the studio's output tree, when it is."""

    data: bytes = field(repr=False)
    sha256: str
    url: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, url: str | None = None) -> ImageRef:
        return cls(bytes(data), hashlib.sha256(data).hexdigest(), url)

    @classmethod
    def from_image(cls, image: Image.Image, url: str | None = None) -> ImageRef:
        buffer = BytesIO()
        image.save(buffer, format="PNG")
        return cls.from_bytes(buffer.getvalue(), url)

    @cached_property
    def image(self) -> Image.Image:
        """The decoded picture (JPEG orientation applied); decoded once."""
        from PIL import Image, ImageOps

        try:
            with Image.open(BytesIO(self.data)) as im:
                im.load()
                return ImageOps.exif_transpose(im) if im.format == "JPEG" else im.copy()
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidParameterError("image", f"{self.url or 'the image'} is not a readable image ({exc})") from exc

    def to_json(self) -> dict[str, Any]:
        return {"data": base64.b64encode(self.data).decode("ascii"), "sha256": self.sha256, "url": self.url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRef:
        raw = base64.b64decode(data["data"])
        ref = cls(raw, str(data["sha256"]), data.get("url"))
        if hashlib.sha256(raw).hexdigest() != ref.sha256:
            raise InvalidParameterError("image", f"the image {ref.url or ''} does not match its sha256")
        return ref


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet unit: a control model from models.yaml, the control image (by content, like the
    init image), the preprocessor that turns it into the model's map and that one's settings, the
    weight, the fractions of the steps it acts between, how it weighs against the prompt, and which
    pass of hires fix it steers."""

    model: str
    image: ImageRef
    preprocessor: str = "none"
    settings: Mapping[str, float] = field(default_factory=dict)
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    control_mode: str = "balanced"
    resize_mode: str = "crop"
    hires_pass: str = DEFAULT_HIRES_PASS

    def validate(self, index: int) -> ControlUnit:
        """Raises ``InvalidParameterError`` naming the unit (``control[1].weight``) and the problem."""
        from .control.table import PREPROCESSORS, preprocessor_ids

        name = f"control[{index}]"
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidParameterError(f"{name}.model", "name a control model from models.yaml")
        if not isinstance(self.image, ImageRef):
            raise InvalidParameterError(f"{name}.image", "a control unit needs a control image")
        if self.preprocessor not in PREPROCESSORS:
            raise InvalidParameterError(f"{name}.preprocessor", f"unknown preprocessor {self.preprocessor!r}; "
                                        f"choose one of {', '.join(preprocessor_ids())}")
        known = PREPROCESSORS[self.preprocessor].settings
        if not isinstance(self.settings, Mapping):
            raise InvalidParameterError(f"{name}.settings", "must map setting names to numbers")
        for key, value in self.settings.items():
            if key not in known:
                allowed = ", ".join(known) or "none"
                raise InvalidParameterError(f"{name}.settings", f"{self.preprocessor} has no setting {key!r} "
                                            f"(its settings: {allowed})")
            _number(f"{name}.settings.{key}", value, known[key].limit)
        for field_name, limit in (("weight", "control_weight"), ("start", "control_start"), ("end", "control_end")):
            _number(f"{name}.{field_name}", getattr(self, field_name), LIMITS[limit])
        if self.start > self.end:
            raise InvalidParameterError(f"{name}.start", f"must not be after the end ({self.start:g} > {self.end:g})")
        if self.control_mode not in CONTROL_MODES:
            raise InvalidParameterError(f"{name}.control_mode", f"must be one of {', '.join(CONTROL_MODES)}, "
                                                                f"got {self.control_mode!r}")
        if self.resize_mode not in RESIZE_MODES:
            raise InvalidParameterError(f"{name}.resize_mode", f"must be one of {', '.join(RESIZE_MODES)}, "
                                                               f"got {self.resize_mode!r}")
        if self.hires_pass not in HIRES_PASSES:
            raise InvalidParameterError(f"{name}.hires_pass", f"must be one of {', '.join(HIRES_PASSES)} (the "
                                        f"pass of hires fix the unit steers), got {self.hires_pass!r}")
        return self

    def resolved_settings(self) -> dict[str, float]:  # whole-number settings stay int
        """Every setting of the preprocessor: the given ones, the defaults for the rest."""
        from .control.table import PREPROCESSORS

        known = PREPROCESSORS[self.preprocessor].settings
        out: dict[str, float] = {}
        for key, s in known.items():
            value = self.settings.get(key, s.default)
            out[key] = int(value) if s.limit.integer else float(value)
        return out

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["image"] = self.image.to_json()
        out["settings"] = dict(self.settings)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ControlUnit:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["image"] = ImageRef.from_json(values["image"])
        values["settings"] = dict(values.get("settings") or {})
        return cls(**values)

    def as_metadata(self, model_hash: str | None = None) -> dict[str, Any]:
        """What sd-metadata records of the unit: enough to make the same map and the same steering (the
        hires pass only when it is not the default, so a recipe of a unit on both passes reads as before)."""
        meta = {"model": self.model, "model_hash": model_hash, "preprocessor": self.preprocessor,
                "settings": self.resolved_settings(), "image_path": self.image.url, "image_hash": self.image.sha256,
                "weight": self.weight, "start": self.start, "end": self.end, "control_mode": self.control_mode,
                "resize_mode": self.resize_mode}
        if self.hires_pass != DEFAULT_HIRES_PASS:
            meta["hires_pass"] = self.hires_pass
        return meta

    @classmethod
    def from_metadata(cls, index: int, meta: Mapping[str, Any], load_image: Callable[[str], bytes] | None
                      ) -> ControlUnit:
        """The unit a recipe recorded; its control image is read back by URL and must still match its hash."""
        name = f"control[{index}]"
        url = meta.get("image_path")
        if not url:
            raise InvalidParameterError(f"{name}.image", "the recipe does not say where its control image is")
        if load_image is None:
            raise InvalidParameterError(f"{name}.image", f"the recipe needs {url}, which cannot be read here")
        ref = ImageRef.from_bytes(load_image(str(url)), str(url))
        if meta.get("image_hash") and meta["image_hash"] != ref.sha256:
            raise InvalidParameterError(f"{name}.image", f"{url} has changed since this image was made "
                                                         "(its sha256 differs from the recipe's)")
        return cls(model=str(meta.get("model", "")), image=ref, preprocessor=str(meta.get("preprocessor", "none")),
                   settings=dict(meta.get("settings") or {}), weight=float(meta.get("weight", 1.0)),
                   start=float(meta.get("start", 0.0)), end=float(meta.get("end", 1.0)),
                   control_mode=str(meta.get("control_mode", "balanced")),
                   resize_mode=str(meta.get("resize_mode", "crop")),
                   hires_pass=str(meta.get("hires_pass", DEFAULT_HIRES_PASS)))


# Hires fix: the first pass is made at this short side (at least the model's native size).
FIRST_PASS_SHORT_SIDE = 512


def first_pass_size(width: int, height: int, short_side: int = FIRST_PASS_SHORT_SIDE) -> tuple[int, int] | None:
    """The first pass's size, or None when the asked size is already small enough for one pass.
    ``short_side`` is the model's native size (512 for SD 1.x, 768 for SD 2.x-v, 1024 for SDXL)."""
    short = min(width, height)
    if short <= short_side:
        return None
    scale = short_side / short
    return max(64, int(width * scale) // 8 * 8), max(64, int(height * scale) // 8 * 8)


@dataclass(frozen=True)
class BoundingBox:
    x: int
    y: int
    width: int
    height: int

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# One image of a request: its seeds


@dataclass(frozen=True)
class ImagePlan:
    """The seeds of image ``index`` of a request (a pure function of the request: a job resumed at
    image k draws exactly what an uninterrupted run draws from k on)."""

    index: int
    image_seed: int  # the seed the image is named after (a variation's own seed)
    noise_seed: int  # the base seed of the starting noise (what sd-metadata records as ``seed``)
    variation_seed: int | None
    chain: tuple[tuple[int, float], ...]  # the variations recorded for this image
    sampler_seed: int  # seeds the noise ancestral samplers draw at each step


# ---------------------------------------------------------------------------------------------
# The generation request


def _number(name: str, value: Any, limit: Limit | None = None) -> float:
    limit = limit or LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidParameterError(name, f"must be a number from {limit.lo:g} to {limit.hi:g}, got {value!r}")
    if limit.integer and (not isinstance(value, int)):
        raise InvalidParameterError(name, f"must be a whole number from {limit.lo:g} to {limit.hi:g}, got {value!r}")
    if not limit.lo <= value <= limit.hi:
        kind = "a whole number" if limit.integer else "a number"
        raise InvalidParameterError(name, f"must be {kind} from {limit.lo:g} to {limit.hi:g}, got {value!r}")
    return value


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that shapes the pixels of one generation job (and how often it reports progress).

    ``seed=None`` means "pick one"; ``with_seed()`` fixes it (the studio does so when a job is
    submitted, so that a resumed job makes the same pictures). ``first_image`` skips the first images
    of the run: a request started at image k yields what an uninterrupted run yields from k on."""

    prompt: str
    iterations: int = 1
    steps: int = 50
    cfg_scale: float = 7.5
    threshold: float = 0.0
    perlin: float = 0.0
    width: int = 512
    height: int = 512
    sampler_name: str = DEFAULT_SAMPLER
    seed: int | None = None
    seamless: bool = False
    hires_fix: bool = False
    hires_strength: float = 0.75
    variation_amount: float = 0.0
    with_variations: tuple[tuple[int, float], ...] = ()
    init_image: ImageRef | None = None
    init_mask: ImageRef | None = None
    strength: float = 0.75
    fit: bool = False
    bounding_box: BoundingBox | None = None
    inpaint_replace: float = 0.0
    seam_size: int = SEAM
    clip_skip: int = 0
    upscale: tuple[int, float] | None = None
    facetool: str = "gfpgan"
    facetool_strength: float = 0.0
    codeformer_fidelity: float = 0.75
    model: str | None = None  # None: the model loaded when the job runs
    negative_prompt: str = ""  # with "invoke" syntax it joins the prompt's [bracketed] words
    prompt_syntax: str = "invoke"  # one of PROMPT_SYNTAXES
    control: tuple[ControlUnit, ...] = ()
    # Delivery, not recipe: how often previews and full intermediate decodes are wanted.
    preview_every: int = 1
    intermediate_every: int = 0
    first_image: int = 0

    # -- checks ---------------------------------------------------------------------------------

    def validate(self) -> GenerationRequest:
        """Raises ``InvalidParameterError(field, ...)`` for the first problem; returns self."""
        if not isinstance(self.prompt, str):
            raise InvalidParameterError("prompt", "must be text")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise InvalidParameterError("prompt", f"must be at most {MAX_PROMPT_CHARS} characters")
        if not isinstance(self.negative_prompt, str) or len(self.negative_prompt) > MAX_PROMPT_CHARS:
            raise InvalidParameterError("negative_prompt", f"must be text of at most {MAX_PROMPT_CHARS} characters")
        if self.prompt_syntax not in PROMPT_SYNTAXES:
            raise InvalidParameterError("prompt_syntax", f"must be one of {', '.join(PROMPT_SYNTAXES)}, "
                                                         f"got {self.prompt_syntax!r}")
        for name in ("iterations", "steps", "cfg_scale", "threshold", "perlin", "variation_amount", "strength",
                     "hires_strength", "inpaint_replace", "seam_size", "clip_skip", "facetool_strength",
                     "codeformer_fidelity"):
            _number(name, getattr(self, name))
        for side in ("width", "height"):
            value = getattr(self, side)
            if self.init_image is not None and not self.fit:
                # The picture's own size is used; width/height only echo it, as the metadata records them.
                _number(side, value, Limit(MIN_INIT_SIDE, MAX_SIDE, integer=True))
                continue
            limit = LIMITS[side]
            if isinstance(value, bool) or not isinstance(value, int) or value % limit.multiple_of \
                    or not limit.lo <= value <= limit.hi:
                raise InvalidParameterError(side, f"must be a multiple of 8 from {limit.lo:g} to {limit.hi:g}, "
                                                  f"got {value!r}")
        if self.sampler_name not in SAMPLERS_BY_ID:
            raise InvalidParameterError("sampler_name", f"unknown sampler {self.sampler_name!r}; choose one of "
                                        + ", ".join(SAMPLER_IDS))
        if self.seed is not None:
            _number("seed", self.seed)
        if len(self.with_variations) > MAX_VARIATIONS:
            raise InvalidParameterError("with_variations", f"may hold at most {MAX_VARIATIONS} pairs")
        for pair in self.with_variations:
            if (len(pair) != 2 or isinstance(pair[0], bool) or not isinstance(pair[0], int)
                    or not 0 <= pair[0] <= MAX_SEED or not 0 <= float(pair[1]) <= 1):
                raise InvalidParameterError("with_variations", "must be a list of [seed, weight] with weights "
                                                               "from 0 to 1")
        if self.facetool not in FACETOOLS:
            raise InvalidParameterError("facetool", "must be gfpgan or codeformer")
        if self.upscale is not None:
            check_upscale(self.upscale)
        if self.init_mask is not None and self.init_image is None:
            raise InvalidParameterError("init_mask", "a mask needs an init_img to apply to")
        if self.bounding_box is not None:
            box = self.bounding_box
            values = (box.x, box.y, box.width, box.height)
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values) \
                    or box.width < 1 or box.height < 1:
                raise InvalidParameterError("bounding_box", f"must hold positive whole numbers, got {box.as_dict()}")
        if not isinstance(self.control, tuple) or len(self.control) > MAX_CONTROL_UNITS:
            raise InvalidParameterError("control", f"may hold at most {MAX_CONTROL_UNITS} units")
        for index, unit in enumerate(self.control):
            if not isinstance(unit, ControlUnit):
                raise InvalidParameterError(f"control[{index}]", "must be a control unit")
            unit.validate(index)
        for name in ("preview_every", "intermediate_every", "first_image"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidParameterError(name, f"must be a whole number from 0, got {value!r}")
        return self

    @property
    def mode(self) -> str:
        """``txt2img``, ``img2img`` or ``inpaint`` as far as the request says (a transparent init
        image or an empty mask is settled when the image is decoded)."""
        if self.init_image is None:
            return "txt2img"
        return "inpaint" if self.init_mask is not None else "img2img"

    @property
    def total_steps(self) -> int:
        """The steps one image reports: img2img passes run floor(strength × steps)."""
        return steps_run(self.steps, self.strength) if self.init_image is not None else self.steps

    def with_seed(self, rng: random.Random | None = None) -> GenerationRequest:
        """The same request with its random seed picked now (unchanged when it has one)."""
        if self.seed is not None:
            return self
        return dataclasses.replace(self, seed=(rng or random.SystemRandom()).randrange(0, MAX_SEED))

    def replace(self, **changes: Any) -> GenerationRequest:
        return dataclasses.replace(self, **changes)

    def plans(self) -> list[ImagePlan]:
        """The seeds of every image, from ``first_image`` on. Needs a fixed seed (``with_seed``)."""
        if self.seed is None:
            raise ValueError("plans() needs a fixed seed; call with_seed() first")
        seed = first_seed = int(self.seed)
        rng = random.Random(seed)
        variations = tuple((int(s), float(w)) for s, w in self.with_variations)
        plans = []
        for index in range(self.iterations):
            if self.variation_amount > 0:
                variation_seed: int | None = rng.randrange(0, MAX_SEED)
                chain = variations + ((variation_seed, float(self.variation_amount)),)
                image_seed, noise_seed = variation_seed, first_seed
            else:
                variation_seed, chain = None, variations
                noise_seed = seed
                # A variation reproduced from its recipe (base seed + chain) is named after the seed
                # the original was: the chain's last one. Later images have seeds of their own.
                image_seed = chain[-1][0] if chain and index == 0 else seed
            # Ancestral samplers draw fresh noise every step: seeded from the recorded chain's last
            # seed, so that regenerating from the metadata (base seed + chain) draws the same noise.
            sampler_seed = chain[-1][0] if chain else noise_seed
            if index >= self.first_image:
                plans.append(ImagePlan(index, image_seed, noise_seed, variation_seed, chain, sampler_seed))
            if self.variation_amount <= 0:
                seed = rng.randrange(0, MAX_SEED)
        return plans

    # -- JSON -------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, ImageRef):
                value = value.to_json()
            elif f.name == "control":
                value = [unit.to_json() for unit in value]
            elif isinstance(value, BoundingBox):
                value = value.as_dict()
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenerationRequest:
        """The inverse of ``to_json``; unknown keys are ignored, so a newer writer's extras do no harm."""
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in names}
        for key in ("init_image", "init_mask"):
            if values.get(key) is not None:
                values[key] = ImageRef.from_json(values[key])
        if values.get("bounding_box") is not None:
            values["bounding_box"] = BoundingBox(**values["bounding_box"])
        if values.get("control"):
            values["control"] = tuple(ControlUnit.from_json(unit) for unit in values["control"])
        else:
            values.pop("control", None)
        if values.get("with_variations") is not None:
            values["with_variations"] = tuple((int(s), float(w)) for s, w in values["with_variations"])
        if values.get("upscale") is not None:
            level, strength = values["upscale"]
            values["upscale"] = (int(level), float(strength))
        if "prompt" not in values:
            raise InvalidParameterError("prompt", "the request has no prompt")
        return cls(**values)

    # -- sd-metadata ------------------------------------------------------------------------------

    def image_metadata(self, plan: ImagePlan, mode: str, width: int, height: int,
                       extras: Mapping[str, Any] | None = None,
                       control_hashes: Sequence[str | None] = ()) -> dict[str, Any]:
        """The ``image`` block of one result's sd-metadata (InvokeAI 2.x's fields, plus ours).
        ``extras`` adds what only the engine knows (precision, device, LoRAs, embeddings), and
        ``control_hashes`` the sha256 of each control unit's model."""
        from .metadata import prompt_list, variations_for_metadata

        meta: dict[str, Any] = {
            "type": mode,
            "prompt": prompt_list(self.prompt, self.prompt_syntax),
            "sampler": self.sampler_name,
            "seed": plan.noise_seed,
            "variations": variations_for_metadata(list(plan.chain)),
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "threshold": self.threshold,
            "perlin": self.perlin,
            "width": width,
            "height": height,
            "seamless": self.seamless,
            "hires_fix": self.hires_fix,
            "hires_strength": self.hires_strength if self.hires_fix else None,
            "postprocessing": None,
            "clip_skip": self.clip_skip,
            "prompt_syntax": self.prompt_syntax,
        }
        if self.negative_prompt:
            meta["negative_prompt"] = self.negative_prompt
        meta.update(extras or {})
        if self.control:
            hashes = list(control_hashes) + [None] * (len(self.control) - len(control_hashes))
            meta["control"] = [unit.as_metadata(h) for unit, h in zip(self.control, hashes)]
        if self.init_image is not None:
            meta.update(init_image_path=self.init_image.url, init_image_hash=self.init_image.sha256,
                        strength=self.strength, fit=self.fit)
        if mode == "inpaint":
            meta.update(inpaint_replace=self.inpaint_replace, seam_size=self.seam_size,
                        bounding_box=self.bounding_box.as_dict() if self.bounding_box else None)
            if self.init_mask is not None:
                meta.update(mask_image_path=self.init_mask.url, mask_image_hash=self.init_mask.sha256)
            else:
                meta["mask_image_path"] = None
        return meta

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any], load_image: Callable[[str], bytes] | None = None
                      ) -> GenerationRequest:
        """The request that regenerates an image from its sd-metadata (ours, or converted from
        AUTOMATIC1111's / InvokeAI 3's). ``load_image(url)`` reads a recorded ``outputs/...`` input;
        a recorded hash that no longer matches is refused (the file changed since)."""
        from .metadata import prompt_text

        image = metadata.get("image") if isinstance(metadata.get("image"), Mapping) else None
        if image is None:
            images = metadata.get("images")
            image = images[0] if isinstance(images, list) and images and isinstance(images[0], Mapping) else None
        if image is None:
            raise InvalidParameterError("metadata", "the image holds no recipe")

        def get(key: str, default: Any) -> Any:
            value = image.get(key)
            return default if value is None else value

        variations = tuple((int(s), float(w)) for s, w in _variation_pairs(image.get("variations")))
        values: dict[str, Any] = dict(
            prompt=prompt_text(image.get("prompt", "")),
            steps=get("steps", 50),
            cfg_scale=float(get("cfg_scale", 7.5)),
            threshold=float(get("threshold", 0.0)),
            perlin=float(get("perlin", 0.0)),
            width=get("width", 512),
            height=get("height", 512),
            sampler_name=get("sampler", DEFAULT_SAMPLER),
            seed=image.get("seed"),
            seamless=bool(get("seamless", False)),
            hires_fix=bool(get("hires_fix", False)),
            hires_strength=float(get("hires_strength", 0.75)),
            with_variations=variations,
            strength=float(get("strength", 0.75)),
            fit=bool(get("fit", False)),
            inpaint_replace=float(get("inpaint_replace", 0.0)),
            seam_size=get("seam_size", SEAM),
            clip_skip=get("clip_skip", 0),
            model=metadata.get("model_id") or None,
            negative_prompt=str(get("negative_prompt", "")),
            prompt_syntax=str(get("prompt_syntax", "invoke")),
        )
        box = image.get("bounding_box")
        if isinstance(box, Mapping):
            values["bounding_box"] = BoundingBox(*(int(box[k]) for k in ("x", "y", "width", "height")))
        for key, field_name in (("init_image_path", "init_image"), ("mask_image_path", "init_mask")):
            url = image.get(key)
            if not url:
                continue
            if load_image is None:
                raise InvalidParameterError(field_name, f"the recipe needs {url}, which cannot be read here")
            ref = ImageRef.from_bytes(load_image(str(url)), str(url))
            recorded = image.get(key.replace("_path", "_hash"))
            if recorded and recorded != ref.sha256:
                raise InvalidParameterError(field_name, f"{url} has changed since this image was made "
                                                        "(its sha256 differs from the recipe's)")
            values[field_name] = ref
        units = image.get("control")
        if isinstance(units, list) and units:
            values["control"] = tuple(ControlUnit.from_metadata(i, u, load_image) for i, u in enumerate(units)
                                      if isinstance(u, Mapping))
        upscale, face = None, None
        for step in image.get("postprocessing") or []:
            if not isinstance(step, Mapping):
                continue
            if step.get("type") == "esrgan" and upscale is None:
                upscale = (int(step.get("scale", 2)), float(step.get("strength", 0.75)))
            elif step.get("type") in FACETOOLS and face is None:
                face = step
        if upscale is not None:
            values["upscale"] = upscale
        if face is not None:
            values.update(facetool=face["type"], facetool_strength=float(face.get("strength", 0.75)),
                          codeformer_fidelity=float(face.get("fidelity", 0.75)))
        return cls(**values)


def _variation_pairs(variations: Any) -> list[tuple[Any, Any]]:
    pairs = []
    for v in variations or []:
        if isinstance(v, Mapping):
            pairs.append((v["seed"], v["weight"]))
        else:
            pairs.append((v[0], v[1]))
    return pairs


def check_upscale(value: Any) -> tuple[int, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or isinstance(value[0], bool) \
            or value[0] not in UPSCALE_LEVELS:
        raise InvalidParameterError("upscale", f"must be [2 or 4, strength], got {value!r}")
    strength = value[1]
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
        raise InvalidParameterError("upscale", f"the strength must be a number from 0 to 1, got {strength!r}")
    return int(value[0]), float(strength)


# ---------------------------------------------------------------------------------------------
# The postprocessing request


@dataclass(frozen=True)
class PostprocessStep:
    """One pass: ``esrgan`` (level, strength) or a face tool (strength, CodeFormer fidelity)."""

    type: str
    level: int = 2
    strength: float = 0.75
    codeformer_fidelity: float = 0.75

    def validate(self) -> PostprocessStep:
        if self.type not in POSTPROCESSORS:
            raise InvalidParameterError("type", f"unknown postprocessing {self.type!r}; use esrgan, gfpgan or "
                                                "codeformer")
        if self.type == "esrgan":
            check_upscale((self.level, self.strength))
        else:
            _number("facetool_strength", self.strength)
            _number("codeformer_fidelity", self.codeformer_fidelity)
        return self

    def engine_options(self) -> dict[str, Any]:
        """The options ``Generate.postprocess`` takes for this pass."""
        if self.type == "esrgan":
            return {"upscale": [self.level, self.strength]}
        return {"facetool_strength": self.strength, "codeformer_fidelity": self.codeformer_fidelity}


@dataclass(frozen=True)
class PostprocessRequest:
    """Upscale and/or restore faces on one image, pass after pass, into one result."""

    image: ImageRef
    steps: tuple[PostprocessStep, ...]
    seed: int = 0  # the seed the result is named after (the source's own)

    def validate(self) -> PostprocessRequest:
        if not self.steps:
            raise InvalidParameterError("type", "say what to do: upscale and/or restore faces")
        for step in self.steps:
            step.validate()
        return self

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image.to_json(), "steps": [dataclasses.asdict(s) for s in self.steps],
                "seed": self.seed}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PostprocessRequest:
        return cls(ImageRef.from_json(data["image"]), tuple(PostprocessStep(**s) for s in data["steps"]),
                   int(data.get("seed", 0)))


__all__ = [
    "BoundingBox", "CONTROL_MODES", "ControlUnit", "GenerationRequest", "HIRES_PASSES", "ImagePlan", "ImageRef", "LIMITS", "Limit",
    "MAX_SEED", "PROMPT_SYNTAXES", "PostprocessRequest", "PostprocessStep", "RESIZE_MODES", "SAMPLERS", "SAMPLER_IDS",
    "SEAM", "Sampler", "limits_for_clients", "sampler_for_a1111",
    "steps_run",
]

"""What the HTTP APIs' fields mean in our terms: images sent inline, sizes and samplers (both APIs read
prompts in A1111's syntax, the negative prompt in its own field). Each API's handler builds a
``GenerationRequest`` with these."""

from __future__ import annotations

import re
from collections.abc import Mapping
from io import BytesIO
from typing import Any

from PIL import Image, ImageOps

from ldm.invoke.errors import InvalidParameterError
from ldm.invoke.request import (
    DEFAULT_SAMPLER,
    LIMITS,
    SAMPLERS_BY_ID,
    GenerationRequest,
    ImageRef,
    sampler_for_a1111,
)

from ..uploads import UploadError, UploadLimits, check_image, decode_base64_image

SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


def parse_size(field: str, value: str) -> tuple[int, int]:
    """``"WxH"`` with each side a multiple of 8 within our limits."""
    match = SIZE.match(str(value))
    limit = LIMITS["width"]
    if match is None:
        raise InvalidParameterError(field, f"must be WIDTHxHEIGHT, e.g. 512x512, got {value!r}")
    width, height = int(match.group(1)), int(match.group(2))
    for side in (width, height):
        if side % limit.multiple_of or not limit.lo <= side <= limit.hi:
            raise InvalidParameterError(field, f"each side must be a multiple of 8 from {limit.lo:g} to {limit.hi:g}, "
                                               f"got {value!r}")
    return width, height


def sampler_id(field: str, name: str | None, scheduler: str | None = None, default: str = DEFAULT_SAMPLER) -> str:
    """Our sampler id for an AUTOMATIC1111 name ("Euler a", "DPM++ 2M" with scheduler "karras") or our own id."""
    if not name:
        return default
    if name in SAMPLERS_BY_ID:
        return name
    wanted = name
    if scheduler and scheduler.strip().lower() == "karras" and "karras" not in name.lower():
        wanted = f"{name} Karras"
    found = sampler_for_a1111(wanted)
    if found is None:
        choices = ", ".join(s.a1111 for s in SAMPLERS_BY_ID.values())
        raise InvalidParameterError(field, f"unknown sampler {name!r}; choose one of {choices}")
    return found


def image_bytes(field: str, value: Any, limits: UploadLimits) -> bytes:
    """An image sent inline as base64 (bare or a data URL), checked like an upload. Addresses are
    refused: fetching them would let a request make this machine reach anywhere."""
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://", "file:", "ftp:")):
        raise InvalidParameterError(field, "images must be sent as base64, not as addresses (they are not fetched)")
    try:
        return decode_base64_image(value, limits).data
    except UploadError as exc:
        raise InvalidParameterError(field, str(exc)) from None


def uploaded_bytes(field: str, data: bytes, limits: UploadLimits) -> bytes:
    try:
        return check_image(data, limits).data
    except UploadError as exc:
        raise InvalidParameterError(field, str(exc)) from None


def open_image(data: bytes) -> Image.Image:
    with Image.open(BytesIO(data)) as im:
        im.load()
        return ImageOps.exif_transpose(im) if im.format == "JPEG" else im.copy()


def png_ref(image: Image.Image) -> ImageRef:
    return ImageRef.from_image(image)


def resized(image: Image.Image, width: int, height: int, resize_mode: int = 0) -> Image.Image:
    """AUTOMATIC1111's resize modes: 0 stretch, 1 crop to fill, 2 fit and pad (3, latent, as 0)."""
    if image.size == (width, height):
        return image
    if resize_mode == 1:
        return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    if resize_mode == 2:
        fitted = ImageOps.contain(image, (width, height), Image.Resampling.LANCZOS)
        canvas = fitted.resize((width, height), Image.Resampling.LANCZOS)  # the stretched picture fills the bands
        canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
        return canvas
    return image.resize((width, height), Image.Resampling.LANCZOS)


def seeds_of(request: GenerationRequest) -> list[int]:
    """The seed each image of a (seeded) request is named after, in order."""
    return [plan.image_seed for plan in request.plans()]


def our_field(name: str, renames: Mapping[str, str]) -> str:
    """An error's field as the client named it."""
    return renames.get(name, name)


__all__ = ["image_bytes", "open_image", "parse_size", "png_ref", "resized", "sampler_id", "seeds_of", "uploaded_bytes"]

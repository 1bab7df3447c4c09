"""What a request's images become before any model runs: the init picture at the size it is
worked at, the mask (painted, or the init image's transparent pixels), and so the request's mode."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import InvalidParameterError
from ..request import MAX_SIDE, MIN_INIT_SIDE, GenerationRequest, ImageRef


@dataclass(frozen=True)
class Inputs:
    image: Image.Image | None
    mask: Image.Image | None  # white: regenerate

    @property
    def mode(self) -> str:
        if self.image is None:
            return "txt2img"
        return "inpaint" if self.mask is not None else "img2img"


def mask_from_alpha(image: Image.Image) -> Image.Image | None:
    """Transparent pixels (alpha < 128) are the region to regenerate; None when nothing is transparent."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return None
    alpha = np.asarray(image.convert("RGBA"))[..., 3]
    mask = alpha < 128
    return Image.fromarray((mask * 255).astype(np.uint8)) if mask.any() else None


def normalise_mask(mask: Image.Image) -> Image.Image:
    """A painted mask: white (or opaque paint in an RGBA mask) marks what to regenerate."""
    if mask.mode in ("RGBA", "LA"):
        arr = np.asarray(mask.convert("RGBA"))[..., 3] > 127
    else:
        arr = np.asarray(mask.convert("L")) > 127
    return Image.fromarray((arr * 255).astype(np.uint8))


def painted_and_transparent(painted: Image.Image, transparent: Image.Image | None) -> Image.Image:
    """The union of a painted mask and an init image's transparent pixels (a mask of another size is
    stretched over the picture first, as every mask is)."""
    if transparent is None:
        return painted
    painted = painted.resize(transparent.size, Image.Resampling.NEAREST)
    return Image.fromarray(np.maximum(np.asarray(painted), np.asarray(transparent)))


def fit_image(image: Image.Image, width: int, height: int, fit: bool, keep_size: bool = False) -> Image.Image:
    """With ``fit`` the init image is scaled to fit inside width×height; otherwise its own size is kept.
    Either way both sides become multiples of 8, as the latent space needs, unless ``keep_size``."""
    w, h = image.size
    if keep_size:
        if max(w, h) > MAX_SIDE or min(w, h) < MIN_INIT_SIDE:
            raise InvalidParameterError("init_img", f"image of {w}x{h} must be {MIN_INIT_SIDE} to {MAX_SIDE} px on "
                                                    "each side; use fit")
        return image
    if fit:
        scale = min(width / w, height / h)
        w, h = w * scale, h * scale
    w8, h8 = max(64, int(w) // 8 * 8), max(64, int(h) // 8 * 8)
    if (w8, h8) != image.size:
        image = image.resize((w8, h8), Image.Resampling.LANCZOS)
    if max(image.size) > MAX_SIDE:
        raise InvalidParameterError("init_img", f"image of {image.width}x{image.height} is larger than {MAX_SIDE} px; "
                                                "use fit")
    return image


def _picture(ref, field: str) -> Image.Image:
    try:
        return ref.image
    except InvalidParameterError as exc:
        raise InvalidParameterError(field, exc.message) from None


def prepare_inputs(request: GenerationRequest) -> Inputs:
    """The init image and mask as the generators use them. An inpaint keeps the picture's own size,
    whatever it is, so that the pixels it does not regenerate stay bit-identical (the generator
    pads its work region to the latent grid); an empty mask makes plain image to image."""
    return init_inputs(request.init_image, request.init_mask, request.width, request.height, request.fit)


def init_inputs(init_image: ImageRef | None, init_mask: ImageRef | None, width: int, height: int,
                fit: bool) -> Inputs:
    """``prepare_inputs`` for a request's init fields given one by one (before the request is built)."""
    if init_image is None:
        return Inputs(None, None)
    image = _picture(init_image, "init_img")
    mask = mask_from_alpha(image)
    if init_mask is not None:  # the painted mask and the transparent pixels are both to fill
        mask = painted_and_transparent(normalise_mask(_picture(init_mask, "init_mask")), mask)
    image = fit_image(image, width, height, fit, keep_size=mask is not None and not fit)
    if mask is not None:
        mask = mask.resize(image.size, Image.Resampling.NEAREST)
        if not mask.getbbox():
            mask = None
    return Inputs(image, mask)

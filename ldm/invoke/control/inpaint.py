"""The ``inpaint_only`` preprocessor (A1111's module of that name): the control image's transparent pixels are
the part to fill. The map keeps them transparent, and the ControlNet sees -1 there (ControlNet v1.1
inpaint's convention for "masked"), the picture's own colours everywhere else."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ..errors import InvalidParameterError

OPAQUE_FROM = 128  # alpha at or above this is kept; below it, the pixel is to be filled
NOTHING_TO_FILL = ("inpaint fills the transparent part of the control image, and this picture has none; erase "
                   "the part to fill (a PNG with transparency) or choose another preprocessor")


def has_part_to_fill(image: Image.Image) -> bool:
    """Whether the picture has a transparent part (an RGB picture has none, and is not converted to see)."""
    if "A" not in image.getbands() and not (image.mode == "P" and "transparency" in image.info):
        return False
    return bool((np.asarray(image.convert("RGBA"))[..., 3] < OPAQUE_FROM).any())


def inpaint_map(image: Image.Image) -> Image.Image:
    """The picture with a hard-edged alpha: 255 where it is kept, 0 where the model fills in."""
    rgba = np.asarray(image.convert("RGBA")).copy()
    fill = rgba[..., 3] < OPAQUE_FROM
    if not fill.any():
        raise InvalidParameterError("image", NOTHING_TO_FILL)
    rgba[..., 3] = np.where(fill, 0, 255)
    return Image.fromarray(rgba, "RGBA")


def hint(rgba: np.ndarray) -> np.ndarray:
    """An RGBA map (H×W×4, uint8) as the ControlNet's hint: RGB in 0..1, every channel -1 where it is transparent."""
    out = rgba[..., :3].astype(np.float32) / 255.0
    out[rgba[..., 3] < OPAQUE_FROM] = -1.0
    return out


def with_mask(picture: bytes, mask: bytes) -> bytes:
    """The picture as a PNG whose pixels are transparent where ``mask`` is light (white: to fill, as the
    A1111 ControlNet extension's unit ``mask`` means it), the mask brought to the picture's size."""
    image = Image.open(io.BytesIO(picture))
    image.load()
    rgba = np.asarray(image.convert("RGBA")).copy()
    light = Image.open(io.BytesIO(mask)).convert("L").resize(image.size, Image.Resampling.NEAREST)
    rgba[np.asarray(light) >= OPAQUE_FROM, 3] = 0
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, format="PNG")
    return out.getvalue()

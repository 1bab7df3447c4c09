"""Small pixel helpers the face restorer and the upscaler share."""

from __future__ import annotations

import numpy as np
from PIL import Image


def has_alpha(image: Image.Image) -> bool:
    """Whether `image` carries transparency that a postprocessor must keep."""
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )


def blend(base: np.ndarray, processed: np.ndarray, strength: float) -> Image.Image:
    """`strength` of `processed` over `base` (both H x W x 3, 0..255) as an RGB image.

    Where the two are equal the result is exactly `base`, so untouched pixels stay bit-identical.
    """
    mixed = base.astype(np.float32) * (1.0 - strength) + processed.astype(np.float32) * strength
    return Image.fromarray(np.clip(np.rint(mixed), 0, 255).astype(np.uint8), "RGB")

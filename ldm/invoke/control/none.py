"""The ``none`` preprocessor: the control image is already the map the model wants."""

from __future__ import annotations

from PIL import Image


def as_map(image: Image.Image) -> Image.Image:
    return image.convert("RGB")

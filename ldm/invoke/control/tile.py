"""The ``tile_resample`` preprocessor: the picture itself, optionally shrunk by a rate first so the
tile model invents the detail (the A1111 extension's "down sampling rate")."""

from __future__ import annotations

from PIL import Image


def resample(image: Image.Image, down_sampling_rate: float = 1.0) -> Image.Image:
    image = image.convert("RGB")
    if down_sampling_rate <= 1:
        return image
    w, h = image.size
    small = (max(1, round(w / down_sampling_rate)), max(1, round(h / down_sampling_rate)))
    return image.resize(small, Image.Resampling.BOX)

"""HED soft edges and scribbles (``softedge_hed``, ``scribble_hed``): controlnet_aux's network, its
weights ``ControlNetHED.pth`` read from the annotator folder (as plain tensors, ``weights_only``)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..model_formats.state_dict import load_tensors

WEIGHTS = "ControlNetHED.pth"


def _detector(weights: Path):
    from controlnet_aux.hed import ControlNetHED_Apache2, HEDdetector

    network = ControlNetHED_Apache2()
    network.load_state_dict(load_tensors(weights / WEIGHTS))
    return HEDdetector(network.float().eval())


def soft_edges(image: Image.Image, resolution: int = 512, *, weights: Path) -> Image.Image:
    size = min(image.size) if min(image.size) < resolution else resolution
    return _detector(weights)(image.convert("RGB"), detect_resolution=resolution, image_resolution=size)


def scribble(image: Image.Image, resolution: int = 512, *, weights: Path) -> Image.Image:
    size = min(image.size) if min(image.size) < resolution else resolution
    return _detector(weights)(image.convert("RGB"), detect_resolution=resolution, image_resolution=size,
                              scribble=True)

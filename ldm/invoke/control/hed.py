"""HED soft edges and scribbles (``softedge_hed``, ``scribble_hed``): controlnet_aux's network, its
weights ``ControlNetHED.pth`` read from the annotator folder (as plain tensors, ``weights_only``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ..model_formats.state_dict import load_tensors
from .networks import detector, map_size, torch_device

WEIGHTS = "ControlNetHED.pth"


def _detector(weights: Path, device: Any = None):
    def build():
        from controlnet_aux.hed import ControlNetHED_Apache2, HEDdetector

        network = ControlNetHED_Apache2()
        network.load_state_dict(load_tensors(weights / WEIGHTS))
        return HEDdetector(network.float().eval().to(torch_device(device)))

    return detector("hed", (weights / WEIGHTS,), build, device)


def soft_edges(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights, device)(image.convert("RGB"), detect_resolution=resolution,
                              image_resolution=map_size(image, resolution))


def scribble(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights, device)(image.convert("RGB"), detect_resolution=resolution,
                              image_resolution=map_size(image, resolution), scribble=True)

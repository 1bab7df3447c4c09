"""PiDiNet soft edges (``softedge_pidinet``): controlnet_aux's network with the weights
``table5_pidinet.pth`` from the annotator folder (a training checkpoint: the tensors under
``state_dict``, named with DataParallel's ``module.``), read as plain tensors (``weights_only``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ..model_formats.state_dict import load_tensors
from .networks import detector, map_size, torch_device

WEIGHTS = "table5_pidinet.pth"


def _detector(weights: Path, device: Any = None):
    def build():
        from controlnet_aux.pidi import PidiNetDetector
        from controlnet_aux.pidi.model import pidinet

        network = pidinet()
        network.load_state_dict({k.removeprefix("module."): v for k, v in load_tensors(weights / WEIGHTS).items()})
        return PidiNetDetector(network.float().eval().to(torch_device(device)))

    return detector("pidinet", (weights / WEIGHTS,), build, device)


def soft_edges(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights, device)(image.convert("RGB"), detect_resolution=resolution,
                              image_resolution=map_size(image, resolution))

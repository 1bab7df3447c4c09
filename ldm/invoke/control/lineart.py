"""Line art (``lineart_realistic``, ``lineart_coarse``): controlnet_aux's line generator network, with
the weights ``sk_model.pth`` (fine lines) or ``sk_model2.pth`` (coarse ones) from the annotator folder,
read as plain tensors (``weights_only``). White lines on black, as the lineart ControlNets expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ..model_formats.state_dict import load_tensors
from .networks import detector, map_size, torch_device

FINE = "sk_model.pth"
COARSE = "sk_model2.pth"


def _detector(path: Path, device: Any = None):
    def build():
        from controlnet_aux.lineart import Generator, LineartDetector

        network = Generator(3, 1, 3)  # the shape both upstream files have
        network.load_state_dict(load_tensors(path))
        network = network.float().eval().to(torch_device(device))
        return LineartDetector(network, network)

    return detector("lineart", (path,), build, device)


def realistic(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights / FINE, device)(image.convert("RGB"), detect_resolution=resolution,
                                     image_resolution=map_size(image, resolution))


def coarse(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights / COARSE, device)(image.convert("RGB"), coarse=True, detect_resolution=resolution,
                                       image_resolution=map_size(image, resolution))

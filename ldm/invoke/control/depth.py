"""MiDaS depth (``depth_midas``): controlnet_aux's DPT-Hybrid network with the weights
``dpt_hybrid-midas-501f0c75.pt`` from the annotator folder, read as plain tensors (``weights_only``).
Near is bright, far is dark, as the depth ControlNets expect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ..model_formats.state_dict import load_tensors
from .networks import detector, map_size, torch_device

WEIGHTS = "dpt_hybrid-midas-501f0c75.pt"


def _detector(weights: Path, device: Any = None):
    def build():
        from controlnet_aux.midas import MidasDetector
        from controlnet_aux.midas.midas.dpt_depth import DPTDepthModel

        network = DPTDepthModel(path=None, backbone="vitb_rn50_384", non_negative=True)
        network.load_state_dict(load_tensors(weights / WEIGHTS))
        return MidasDetector(network.float().eval().to(torch_device(device)))

    return detector("midas", (weights / WEIGHTS,), build, device)


def midas(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights, device)(image.convert("RGB"), detect_resolution=resolution,
                              image_resolution=map_size(image, resolution))

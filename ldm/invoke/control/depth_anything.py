"""Depth Anything depth (``depth_anything``): transformers' network, loaded offline from the folder
``depth-anything-small-hf`` of the annotator folder (a copy of LiheYoung/depth-anything-small-hf: its
config.json, model.safetensors and preprocessor_config.json). Near is bright, far is dark, as with
``depth_midas`` (the network gives relative inverse depth, which the map spreads over 0-255)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from .networks import detector, map_size, torch_device
from .table import DEPTH_ANYTHING

# The upstream preprocessor_config.json, for a folder that lacks one: DPT's resizing to a multiple of the
# 14-pixel patch keeping the aspect ratio, bicubic, ImageNet normalisation.
UPSTREAM_PROCESSOR: dict[str, Any] = {
    "do_resize": True, "size": {"height": 518, "width": 518}, "keep_aspect_ratio": True, "ensure_multiple_of": 14,
    "resample": Image.Resampling.BICUBIC, "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "do_pad": False,
}


def _detector(folder: Path, device: Any = None) -> tuple[Any, Any]:
    def build():
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation, DPTImageProcessor

        model = AutoModelForDepthEstimation.from_pretrained(folder, local_files_only=True)
        if (folder / "preprocessor_config.json").is_file():
            processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
        else:
            processor = DPTImageProcessor(**UPSTREAM_PROCESSOR)
        return model.float().eval().to(torch_device(device)), processor

    return detector("depth_anything", (folder,), build, device)


def depth(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    import numpy as np
    import torch
    from controlnet_aux.util import resize_image

    model, processor = _detector(weights / DEPTH_ANYTHING, device)
    picture = image.convert("RGB")
    inputs = processor(images=picture, size={"height": int(resolution), "width": int(resolution)}, return_tensors="pt")
    parameter = next(model.parameters())
    with torch.inference_mode():
        predicted = model(pixel_values=inputs["pixel_values"].to(parameter.device, parameter.dtype)).predicted_depth
    # The map has the size the other preprocessors give (controlnet_aux's: short side ``map_size``, in 64s).
    height, width = resize_image(np.asarray(picture), map_size(image, resolution)).shape[:2]
    near = torch.nn.functional.interpolate(predicted[:, None].float(), size=(height, width), mode="bicubic",
                                           align_corners=False)[0, 0]
    near = near - near.min()
    near = near / near.max().clamp_min(1e-8)
    return Image.fromarray((near * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()).convert("RGB")

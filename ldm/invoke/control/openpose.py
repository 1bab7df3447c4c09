"""OpenPose skeletons (``openpose``: the body; ``openpose_full``: body, hands and face): controlnet_aux's
networks with the weights ``body_pose_model.pth``, ``hand_pose_model.pth`` and ``facenet.pth`` from the
annotator folder, read as plain tensors (``weights_only``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from ..model_formats.state_dict import load_tensors
from .networks import detector, map_size, torch_device

BODY = "body_pose_model.pth"
HAND = "hand_pose_model.pth"
FACE = "facenet.pth"


def _estimator(kind: type, network: Any, path: Path, device: Any) -> object:
    """controlnet_aux's Body / Hand / Face around ``network`` with the tensors of ``path`` (they read
    the file themselves with a plain ``torch.load``; this reads it with ``weights_only``)."""
    from controlnet_aux.open_pose import util

    tensors = load_tensors(path)
    names = set(network.state_dict())
    # The upstream body and hand files name tensors without the network's first level (model0.conv1_1 -> conv1_1).
    network.load_state_dict(tensors if set(tensors) == names else util.transfer(network, tensors))
    estimator = kind.__new__(kind)
    estimator.model = network.float().eval().to(torch_device(device))
    if hasattr(kind, "compute_peaks_from_heatmaps"):  # the face one keeps its settings beside the network
        from controlnet_aux.open_pose.face import params

        estimator.inference_size, estimator.sigma = params["inference_img_size"], params["gaussian_sigma"]
        estimator.threshold = params["heatmap_peak_thresh"]
    return estimator


def _detector(weights: Path, full: bool, device: Any = None):
    def build():
        from controlnet_aux.open_pose import Body, Face, Hand, OpenposeDetector
        from controlnet_aux.open_pose.face import FaceNet
        from controlnet_aux.open_pose.model import bodypose_model, handpose_model

        body = _estimator(Body, bodypose_model(), weights / BODY, device)
        if not full:
            return OpenposeDetector(body)
        return OpenposeDetector(body, _estimator(Hand, handpose_model(), weights / HAND, device),
                                _estimator(Face, FaceNet(), weights / FACE, device))

    files = (weights / BODY, weights / HAND, weights / FACE) if full else (weights / BODY,)
    return detector("openpose_full" if full else "openpose", files, build, device)


def body(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights, False, device)(image.convert("RGB"), detect_resolution=resolution,
                                     image_resolution=map_size(image, resolution))


def full(image: Image.Image, resolution: int = 512, *, weights: Path, device: Any = None) -> Image.Image:
    return _detector(weights, True, device)(image.convert("RGB"), detect_resolution=resolution,
                                    image_resolution=map_size(image, resolution), include_hand=True,
                                    include_face=True)

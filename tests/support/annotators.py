"""Preprocessor networks with seeded random weights, saved under their upstream file names and in their
upstream layouts (lllyasviel/Annotators), so each preprocessor runs its real code path in tests."""

from __future__ import annotations

from pathlib import Path

import torch


def _save(tensors: dict[str, torch.Tensor], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(tensors, path)
    return path


def write_lineart(path: Path, seed: int = 0) -> Path:
    from controlnet_aux.lineart import Generator

    torch.manual_seed(seed)
    return _save(Generator(3, 1, 3).state_dict(), path)


def write_pidinet(path: Path, seed: int = 0) -> Path:
    """A training checkpoint as upstream ships it: ``{"state_dict": {"module.<name>": tensor}}``. The final
    1x1 classifier (initialised to a constant) gets strong random weights, so the edge map is not flat."""
    from controlnet_aux.pidi.model import pidinet

    torch.manual_seed(seed)
    state = pidinet().state_dict()
    state["classifier.weight"] = torch.randn(state["classifier.weight"].shape) * 50
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, path)
    return path


def write_openpose(folder: Path, seed: int = 0) -> None:
    """``body_pose_model.pth``, ``hand_pose_model.pth`` (tensors named without the network's first level,
    as upstream) and ``facenet.pth``. The heatmap and limb-field outputs get a positive bias, so that
    random weights still find (random) people and the skeleton drawn depends on every weight."""
    from controlnet_aux.open_pose.face import FaceNet
    from controlnet_aux.open_pose.model import bodypose_model, handpose_model

    torch.manual_seed(seed)
    body = bodypose_model().state_dict()
    for name, value in body.items():
        if "Mconv7_stage6" in name:
            value.fill_(0.3 if "L2" in name else 1.0) if name.endswith("bias") else value.mul_(0.2)
    hand = handpose_model().state_dict()
    for name, value in hand.items():
        if "Mconv7_stage6" in name and name.endswith("bias"):
            value.fill_(0.3)
    _save({k.split(".", 1)[1]: v for k, v in body.items()}, folder / "body_pose_model.pth")
    _save({k.split(".", 1)[1]: v for k, v in hand.items()}, folder / "hand_pose_model.pth")
    _save(FaceNet().state_dict(), folder / "facenet.pth")


def write_midas(path: Path, seed: int = 0) -> Path:
    """DPT-Hybrid (the real network, about 120 M weights) in half precision, to keep the file small."""
    from controlnet_aux.midas.midas.dpt_depth import DPTDepthModel

    torch.manual_seed(seed)
    network = DPTDepthModel(path=None, backbone="vitb_rn50_384", non_negative=True)
    return _save({k: v.half() for k, v in network.state_dict().items()}, path)

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


def write_depth_anything(folder: Path, seed: int = 0, processor: bool = True) -> Path:
    """A tiny Depth Anything (the real architecture on a two-layer DINOv2 backbone) saved as transformers
    saves it (config.json, model.safetensors and, with ``processor``, the upstream preprocessor_config.json)
    into ``folder``. The head's convolutions get strong random weights and no bias, so that the faint
    signal of a random backbone makes a depth that is not all zero under the final ReLU."""
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    from ldm.invoke.control.depth_anything import UPSTREAM_PROCESSOR

    torch.manual_seed(seed)
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=56, out_features=["stage1", "stage2"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[16, 32],
                                 reassemble_factors=[2, 1], fusion_hidden_size=16, head_hidden_size=8, patch_size=14)
    model = DepthAnythingForDepthEstimation(config).eval()
    with torch.no_grad():
        for conv in (model.head.conv1, model.head.conv2, model.head.conv3):
            conv.weight.normal_(0, 1)
            conv.bias.zero_()
    model.save_pretrained(folder)
    if processor:
        DPTImageProcessor(**UPSTREAM_PROCESSOR).save_pretrained(folder)
    return folder


# The picture write_arm_body's network reads: a right arm drawn as four dots on black, one colour each.
ARM_DOTS = {"neck": ((0, 0, 255), 0.25), "right shoulder": ((0, 255, 0), 0.4), "right elbow": ((255, 0, 0), 0.55),
            "right wrist": ((255, 255, 255), 0.7)}  # (RGB, where on the diagonal as a fraction of the side)


def arm_picture(size: int = 128):
    """A ``size``-pixel square picture of ARM_DOTS: one person's right arm, running down to the right."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(picture)
    radius = max(2, size // 32)
    for colour, at in ARM_DOTS.values():
        centre = round(at * size)
        draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius), fill=colour)
    return picture


def write_arm_body(path: Path) -> Path:
    """``body_pose_model.pth`` for a body network (the real architecture) made by hand to see ARM_DOTS: every
    layer passes the picture's blue, green and red through (a centre tap of 1), the last stage's heatmaps
    light the neck on blue, the right shoulder on green, the right elbow on red and the right wrist on
    white, and its limb fields point down to the right everywhere. So it finds one person with a right
    arm in ``arm_picture``, and openpose_full looks for that person's right hand (and no face: no nose)."""
    from controlnet_aux.open_pose.model import bodypose_model

    state = {k: torch.zeros_like(v) for k, v in bodypose_model().state_dict().items()}

    def pass_through(name: str, pairs) -> None:
        weight = state[f"{name}.weight"]
        middle = weight.shape[-1] // 2
        for out, into in pairs:
            weight[out, into, middle, middle] = 1.0

    colours = [(c, c) for c in range(3)]  # the network sees BGR: 0 blue, 1 green, 2 red
    for name in [k.removesuffix(".weight") for k in state if k.startswith("model0.") and k.endswith(".weight")]:
        pass_through(name, colours)
    state["model0.conv1_1.bias"][:3] = 0.5  # the input is pixel/256 - 0.5: back to pixel/256 before the ReLU
    pass_through("model6_2.Mconv1_stage6_L2", [(c, 38 + 19 + c) for c in range(3)])  # the VGG features' place
    for layer in range(2, 7):
        pass_through(f"model6_2.Mconv{layer}_stage6_L2", colours)
    heat, gain = state["model6_2.Mconv7_stage6_L2.weight"], 4.0
    heat_bias = state["model6_2.Mconv7_stage6_L2.bias"]
    for part, only in ((1, 0), (2, 1), (3, 2)):  # neck blue, right shoulder green, right elbow red
        heat[part, :3, 0, 0] = -gain
        heat[part, only, 0, 0] = gain
        heat_bias[part] = -0.5 * gain
    heat[4, :3, 0, 0] = gain  # the right wrist: white
    heat_bias[4] = -2.5 * gain
    state["model6_1.Mconv7_stage6_L1.bias"][:] = 0.7  # every limb field points along (1, 1)
    return _save({k.split(".", 1)[1]: v for k, v in state.items()}, path)

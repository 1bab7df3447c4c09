"""Seeded random-weight stand-ins for the postprocessors' weight files, for tests and test root dirs.

``write_test_weights(root, seed)`` writes every file ``ldm.invoke.restoration`` reads, under the
upstream names and in the upstream dict layouts, built from the real network classes (basicsr's
RRDBNet, realesrgan's SRVGGNetCompact, gfpgan's GFPGANv1Clean, spandrel's CodeFormer, facexlib's
RetinaFace and ParseNet). Where our loaders read a network's sizes from its tensors (RRDBNet,
SRVGGNetCompact, GFPGAN, CodeFormer's transformer) the stand-ins are smaller than the released files
so tests stay fast; RetinaFace and ParseNet keep their real shapes because facexlib builds them fixed.

The weights are random except where a test needs behaviour:

- RetinaFace is wired to be a *bright spot* detector: it reports exactly one face, with a plausible
  box and five landmarks, wherever the image has a near-white disc (radius >= 7 px) centred on a
  multiple of 16 px, and nothing anywhere else. ``face_test_image`` draws such a picture.
- ParseNet labels every pixel as skin, so the paste-back mask is the whole aligned face crop with
  soft edges.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from ldm.invoke.restoration import _basicsr_compat  # noqa: F401  (before basicsr)
from ldm.invoke.restoration.weights import WEIGHT_FILES

# The detector's level 2 (stride 16, anchors of 64 px) is the one wired to fire.
DETECTOR_STRIDE = 16
ANCHOR = 64
# Eye distance of the face the detector reports, in pixels.
EYE_DISTANCE = 24
# Mean brightness (0..255) of a 7x7 patch above which the detector sees a face.
BRIGHTNESS_THRESHOLD = 230.0

# FFHQ 5-point template on a 512 face (facexlib's): eyes, nose tip, mouth corners.
_TEMPLATE = (
    (192.98138, 239.94708),
    (318.90277, 240.1936),
    (256.63416, 314.01935),
    (201.26117, 371.41043),
    (313.08905, 371.15118),
)


def _save(root: Path, key: str, payload: dict) -> None:
    path = root / WEIGHT_FILES[key].relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _identity_bn(bn: torch.nn.BatchNorm2d, bias: float = 0.0, channel: int | None = None) -> None:
    bn.weight.fill_(1.0)
    bn.bias.zero_()
    if channel is not None:
        bn.bias[channel] = bias
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0)


def _pass_channel_zero(conv: torch.nn.Conv2d) -> None:
    """Make `conv` copy input channel 0 to output channel 0 (its centre tap) and output nothing else."""
    conv.weight.zero_()
    k = conv.kernel_size[0] // 2
    conv.weight[0, 0, k, k] = 1.0
    if conv.bias is not None:
        conv.bias.zero_()


def bright_spot_retinaface() -> torch.nn.Module:
    """facexlib's RetinaFace (ResNet-50) whose weights make it detect near-white discs as faces.

    The backbone's residual branches are switched off (their last BatchNorm scales by 0), so each
    stage passes on channel 0 of the previous one: the 7x7 mean brightness of the image, sampled every
    16 px at the level the heads read. The class head turns that into a face score past facexlib's
    0.97 threshold above BRIGHTNESS_THRESHOLD; the box and landmark heads' biases place a face of
    EYE_DISTANCE around the spot. The other two pyramid levels never fire.
    """
    from facexlib.detection.retinaface import RetinaFace

    with warnings.catch_warnings():
        # facexlib asks torchvision for resnet50(pretrained=False), which only warns it is deprecated.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\.models")
        net = RetinaFace(network_name="resnet50", half=False, device="cpu")
    body = net.body
    # conv1 averages all three (mean-subtracted) colour channels over 7x7 into channel 0; the
    # BatchNorm bias lifts it above zero so the ReLUs keep it: f = brightness - 114.67 + 128.
    body.conv1.weight.zero_()
    body.conv1.weight[0] = 1.0 / (3 * 49)
    _identity_bn(body.bn1, bias=128.0, channel=0)
    for name in ("layer1", "layer2", "layer3", "layer4"):
        for index, block in enumerate(getattr(body, name)):
            block.bn3.weight.zero_()
            block.bn3.bias.zero_()
            if index == 0:
                _pass_channel_zero(block.downsample[0])
                _identity_bn(block.downsample[1])
    fpn = net.fpn
    for lateral in (fpn.output1, fpn.output2):
        _pass_channel_zero(lateral[0])
        _identity_bn(lateral[1])
    fpn.output3[0].weight.zero_()
    _identity_bn(fpn.output3[1])
    for merge in (fpn.merge1, fpn.merge2):
        _pass_channel_zero(merge[0])
        _identity_bn(merge[1])
    for ssh in (net.ssh1, net.ssh2, net.ssh3):
        _pass_channel_zero(ssh.conv3X3[0])
        _identity_bn(ssh.conv3X3[1])
        for branch in (ssh.conv5X5_1, ssh.conv5X5_2, ssh.conv7X7_2, ssh.conv7x7_3):
            branch[0].weight.zero_()
            _identity_bn(branch[1])

    # Heads: output channels are (background, face) per anchor for the class head.
    for level in range(3):
        for head in (net.ClassHead[level], net.BboxHead[level], net.LandmarkHead[level]):
            head.conv1x1.weight.zero_()
            head.conv1x1.bias.zero_()
        net.ClassHead[level].conv1x1.bias.copy_(torch.tensor([20.0, -20.0, 20.0, -20.0]))
    gain = 0.5
    feature_at_threshold = BRIGHTNESS_THRESHOLD - 114.67 + 128.0
    # Score 0.97 needs a logit of 3.48; put that at the threshold.
    class_head = net.ClassHead[1].conv1x1
    class_head.weight[1, 0] = gain
    class_head.bias[0] = 0.0
    class_head.bias[1] = -gain * feature_at_threshold + math.log(0.97 / 0.03)

    # Boxes and landmarks are decoded relative to the anchor's centre, which sits half a stride
    # right of and below where the feature was sampled, in units of variance * anchor size.
    shift = DETECTOR_STRIDE / 2
    unit = 0.1 * ANCHOR
    box = net.BboxHead[1].conv1x1.bias
    box[0] = (0.0 - shift) / unit
    box[1] = (-4.0 - shift) / unit
    # A box larger than the face, so non-maximum suppression merges neighbouring spots' boxes.
    box[2] = box[3] = math.log(96 / ANCHOR) / 0.2
    scale = EYE_DISTANCE / (_TEMPLATE[1][0] - _TEMPLATE[0][0])
    nose = _TEMPLATE[2]
    landmarks = net.LandmarkHead[1].conv1x1.bias
    for point, (x, y) in enumerate(_TEMPLATE):
        landmarks[2 * point] = ((x - nose[0]) * scale - shift) / unit
        landmarks[2 * point + 1] = ((y - nose[1]) * scale - shift) / unit
    return net


def face_test_image(
    size: tuple[int, int] = (160, 160), nose: tuple[int, int] = (64, 64), with_face: bool = True
) -> Image.Image:
    """A drawn face on a textured background; `with_face=False` leaves out the spot the test detector needs.

    `nose` must be a multiple of DETECTOR_STRIDE on both axes for the test detector to fire there.
    """
    width, height = size
    image = Image.new("RGB", size)
    pixels = image.load()
    for y in range(height):
        for x in range(width):
            pixels[x, y] = (40 + (x * 3 + y) % 60, 60 + (x + 2 * y) % 50, 90 + (x * y) % 40)
    draw = ImageDraw.Draw(image)
    nx, ny = nose
    draw.ellipse((nx - 22, ny - 30, nx + 22, ny + 26), fill=(196, 160, 140))
    for ex in (nx - 12, nx + 12):
        draw.ellipse((ex - 4, ny - 17, ex + 4, ny - 11), fill=(40, 30, 30))
    draw.arc((nx - 11, ny + 4, nx + 11, ny + 16), 20, 160, fill=(120, 40, 40), width=3)
    if with_face:
        draw.ellipse((nx - 8, ny - 8, nx + 8, ny + 8), fill=(255, 255, 255))
    return image


def write_test_weights(root: Path | str, seed: int = 0) -> None:
    """Write seeded random weights for every postprocessor under `root`/models (about 2 seconds)."""
    from basicsr.archs.rrdbnet_arch import RRDBNet
    from facexlib.parsing.parsenet import ParseNet
    from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
    from realesrgan.archs.srvgg_arch import SRVGGNetCompact
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    root = Path(root)
    # Keep the caller's random state: seeding here must not change what a test generates next.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for key, scale in (("esrgan_x4", 4), ("esrgan_x2", 2)):
            net = RRDBNet(num_in_ch=3, num_out_ch=3, scale=scale, num_feat=32, num_block=2, num_grow_ch=16)
            _save(root, key, {"params_ema": net.state_dict()})
        general = SRVGGNetCompact(
            num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=4, upscale=4, act_type="prelu"
        )
        _save(root, "esrgan_general_x4", {"params": general.state_dict()})

        gfpgan = GFPGANv1Clean(
            out_size=512,
            num_style_feat=64,
            channel_multiplier=2,
            decoder_load_path=None,
            fix_decoder=False,
            num_mlp=2,
            input_is_latent=True,
            different_w=True,
            narrow=0.125,
            sft_half=True,
        )
        _save(root, "gfpgan", {"params_ema": gfpgan.state_dict()})

        codeformer = CodeFormer(dim_embd=64, n_head=8, n_layers=1, codebook_size=256, latent_size=256)
        _save(root, "codeformer", {"params_ema": codeformer.state_dict()})

        _save(root, "face_detection", bright_spot_retinaface().state_dict())

        parser = ParseNet(in_size=512, out_size=512, parsing_ch=19)
        # Label 1 is skin in facexlib's colour map: every pixel belongs to the face.
        parser.out_mask_conv.conv2d.weight.zero_()
        parser.out_mask_conv.conv2d.bias.zero_()
        parser.out_mask_conv.conv2d.bias[1] = 10.0
        _save(root, "face_parsing", parser.state_dict())

"""Real-ESRGAN upscaling (2x, 4x) from the root dir's weight files, tiled so any image fits in memory.

``Upscaler(root, device).upscale(image, scale, strength, tile=None)`` returns a PIL image exactly
``scale`` times the input's size. ``strength`` blends the network's result with a plain Lanczos resize
(0 returns the plain resize without running the network). RGBA input keeps its alpha, resized plainly.
The image is processed in overlapping tiles whose size follows the free memory (RAM on CPU, the GPU's
free memory on CUDA) unless ``tile`` is given.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ldm.invoke.errors import InvalidParameterError, ModelLoadError

from . import _basicsr_compat  # noqa: F401  (must come before anything imports basicsr)
from ._pixels import blend, has_alpha
from .weights import UPSCALE_MODELS, brief, load_state_dict, require_weights, weight_path

log = logging.getLogger(__name__)

MIN_TILE = 32
MAX_TILE = 2048
# Input pixels each tile reads beyond its own edges. Real-ESRGAN's outputs depend on a neighbourhood
# of this order, so with it the seams between tiles are not visible.
TILE_OVERLAP = 16
# Share of the free memory a tile may use: the estimate below is rough and the allocator fragments.
MEMORY_SHARE = {"cuda": 0.5, "cpu": 0.35}
# On the CPU, tiles no larger than this: bench/bench_upscale.py measured 256 px tiles 1.37x faster than
# one 1024 px tile (smaller working sets stay in cache), and smaller tiles give progress and cancel points.
CPU_TILE = 256


@dataclass
class UpscaleNetwork:
    """A loaded upscaling network and what tiling needs to know about it."""

    module: torch.nn.Module
    scale: int
    # Input sides must be multiples of this (RRDBNet x2 starts with a pixel unshuffle by 2).
    multiple: int
    # Rough peak memory per input pixel in bytes, for choosing the tile size.
    bytes_per_pixel: float
    path: Path


def build_upscale_network(state_dict: dict[str, torch.Tensor], path: Path) -> UpscaleNetwork:
    """Build RRDBNet (Real-ESRGAN x2plus/x4plus) or SRVGGNetCompact (realesr-general) from a state dict.

    The network's sizes (blocks, features, scale) are read from the tensors' shapes, so variants such
    as RealESRGAN_x4plus_anime_6B load too.
    """
    try:
        if "conv_first.weight" in state_dict and "body.0.rdb1.conv1.weight" in state_dict:
            from basicsr.archs.rrdbnet_arch import RRDBNet

            first = state_dict["conv_first.weight"]
            # x2 and x1 models fold 2x2 / 4x4 pixel blocks into channels before the first conv.
            unshuffle = {3: 1, 12: 2, 48: 4}[first.shape[1]]
            scale = 4 // unshuffle
            num_feat = first.shape[0]
            num_block = len([k for k in state_dict if re.fullmatch(r"body\.\d+\.rdb1\.conv1\.weight", k)])
            module: torch.nn.Module = RRDBNet(
                num_in_ch=3,
                num_out_ch=state_dict["conv_last.weight"].shape[0],
                scale=scale,
                num_feat=num_feat,
                num_block=num_block,
                num_grow_ch=state_dict["body.0.rdb1.conv1.weight"].shape[0],
            )
            # Peak float32 activations: ~10 feature maps at the inner resolution and ~3.5 at the output
            # resolution. bench/bench_upscale.py measured 3.6 KB (x2plus) and 14.7 KB (x4plus) per input
            # pixel; this gives 4.2 and 16.9.
            bytes_per_pixel = 4.0 * num_feat * (10.0 / unshuffle**2 + 3.5 * 16.0 / unshuffle**2)
            multiple = unshuffle
        elif "body.0.weight" in state_dict and state_dict["body.0.weight"].ndim == 4:
            from realesrgan.archs.srvgg_arch import SRVGGNetCompact

            convs = sorted(
                int(m.group(1))
                for k, v in state_dict.items()
                if (m := re.fullmatch(r"body\.(\d+)\.weight", k)) and v.ndim == 4
            )
            num_feat = state_dict["body.0.weight"].shape[0]
            out_channels = state_dict[f"body.{convs[-1]}.weight"].shape[0]
            scale = int(round(math.sqrt(out_channels / 3)))
            # Only PReLU carries weights; the released models all use it.
            act_type = "prelu" if "body.1.weight" in state_dict else "leakyrelu"
            module = SRVGGNetCompact(
                num_in_ch=3,
                num_out_ch=3,
                num_feat=num_feat,
                num_conv=len(convs) - 2,
                upscale=scale,
                act_type=act_type,
            )
            bytes_per_pixel = 4.0 * (4.0 * num_feat + 6.0 * 3 * scale * scale)
            multiple = 1
        else:
            raise ModelLoadError(
                f"{path} is not a Real-ESRGAN weight file (RRDBNet or SRVGGNetCompact). "
                f"Replace it with the upstream file."
            )
        module.load_state_dict(state_dict, strict=True)
    except (KeyError, RuntimeError, ValueError) as error:
        raise ModelLoadError(f"{path} does not match the Real-ESRGAN network ({brief(error)}).") from error
    return UpscaleNetwork(module.eval(), scale, multiple, bytes_per_pixel, path)


def available_memory(device: torch.device) -> int:
    """Bytes free for a tile's activations on `device` (RAM for CPU and MPS)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 1024**3  # nothing to ask: assume a modest machine


def tile_size_for(network: UpscaleNetwork, device: torch.device, free_bytes: int | None = None) -> int:
    """The largest square tile (in input pixels) whose activations fit the free memory."""
    if free_bytes is None:
        free_bytes = available_memory(device)
    budget = free_bytes * MEMORY_SHARE.get(device.type, MEMORY_SHARE["cpu"])
    side = int(math.sqrt(budget / network.bytes_per_pixel))
    side -= side % 16
    if device.type == "cpu":
        side = min(side, CPU_TILE)
    return max(MIN_TILE, min(MAX_TILE, side))


class Upscaler:
    """Real-ESRGAN 2x/4x upscaling with networks loaded once per instance."""

    def __init__(self, root: Path | str, device: str | torch.device = "cpu") -> None:
        self.root = Path(root)
        self.device = torch.device(device)
        self._networks: dict[int, UpscaleNetwork] = {}
        self._lock = threading.Lock()

    def weight_file(self, scale: int) -> Path:
        """The weight file `upscale(scale=...)` uses: the first present, else the preferred one."""
        keys = UPSCALE_MODELS[scale]
        for key in keys:
            if weight_path(self.root, key).is_file():
                return weight_path(self.root, key)
        return weight_path(self.root, keys[0])

    def upscale(
        self, image: Image.Image, scale: int, strength: float, tile: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Image.Image:
        """Upscale `image` by `scale` (2 or 4); `strength` 0..1 blends with a plain Lanczos resize.

        `tile` is the tile side in input pixels; None picks it from the free memory.
        `progress(done, total)` is called after each tile; an exception raised from it (a cancel)
        stops the upscale there.
        Raises MissingWeightsError when the scale's weight file is absent.
        """
        if scale not in UPSCALE_MODELS:
            raise InvalidParameterError("upscale", f"the upscale factor must be 2 or 4, not {scale!r}.")
        if not 0.0 <= strength <= 1.0:
            raise InvalidParameterError(
                "upscale", f"the upscale strength must be between 0 and 1, not {strength!r}."
            )
        if tile is not None and tile < MIN_TILE:
            raise InvalidParameterError(
                "tile", f"the tile size must be at least {MIN_TILE} pixels, not {tile!r}."
            )

        transparent = has_alpha(image)
        source = image.convert("RGBA" if transparent else "RGB")
        size = (source.width * scale, source.height * scale)
        plain = source.resize(size, Image.Resampling.LANCZOS)
        if strength == 0.0:
            return plain

        with self._lock:
            network = self._network(scale)
            network.module.to(self.device)
            if tile is None:
                tile = tile_size_for(network, self.device)
            rgb = np.asarray(source.convert("RGB"))
            upscaled = self._run_tiled(network, rgb, tile, progress)

        result = blend(np.asarray(plain.convert("RGB")), upscaled, strength)
        if transparent:
            result.putalpha(plain.getchannel("A"))
        return result

    def offload(self) -> None:
        """Move the loaded networks to the CPU (for --free_gpu_mem); the next upscale moves them back."""
        with self._lock:
            for network in self._networks.values():
                network.module.to("cpu")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    def load(self, scale: int) -> UpscaleNetwork:
        """Load (once) and return the network for `scale`, e.g. to pay the load time up front."""
        if scale not in UPSCALE_MODELS:
            raise InvalidParameterError("upscale", f"the upscale factor must be 2 or 4, not {scale!r}.")
        with self._lock:
            return self._network(scale)

    def _network(self, scale: int) -> UpscaleNetwork:
        cached = self._networks.get(scale)
        if cached is not None:
            return cached
        keys = UPSCALE_MODELS[scale]
        path = next((weight_path(self.root, k) for k in keys if weight_path(self.root, k).is_file()), None)
        if path is None:
            path = require_weights(self.root, keys[0])  # raises MissingWeightsError naming the file
        network = build_upscale_network(load_state_dict(path), path)
        if network.scale != scale:
            raise ModelLoadError(
                f"{path} is a {network.scale}x model but is where the {scale}x model belongs. "
                f"Replace it with the upstream file."
            )
        log.info("Loaded %dx upscaler from %s", scale, path)
        self._networks[scale] = network
        return network

    @torch.inference_mode()
    def _run_tiled(self, network: UpscaleNetwork, rgb: np.ndarray, tile: int,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Run the network over `rgb` (H, W, 3 uint8) in tiles; returns float32 pixels 0..255."""
        height, width = rgb.shape[:2]
        scale = network.scale
        pixels = torch.from_numpy(rgb.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
        out = torch.empty((1, 3, height * scale, width * scale), dtype=torch.float32)
        # Tiles overlap so every output pixel comes from a tile that saw its neighbourhood;
        # each tile keeps only its own core.
        overlap = TILE_OVERLAP if tile < max(height, width) else 0
        total, done = math.ceil(height / tile) * math.ceil(width / tile), 0
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                bottom, right = min(top + tile, height), min(left + tile, width)
                ptop, pleft = max(top - overlap, 0), max(left - overlap, 0)
                pbottom, pright = min(bottom + overlap, height), min(right + overlap, width)
                patch = pixels[:, :, ptop:pbottom, pleft:pright].to(self.device)
                result = self._forward(network, patch)
                oy, ox = (top - ptop) * scale, (left - pleft) * scale
                out[:, :, top * scale : bottom * scale, left * scale : right * scale] = result[
                    :, :, oy : oy + (bottom - top) * scale, ox : ox + (right - left) * scale
                ].cpu()
                done += 1
                if progress is not None:
                    progress(done, total)
        return out.clamp_(0.0, 1.0).mul_(255.0).squeeze(0).permute(1, 2, 0).numpy()

    def _forward(self, network: UpscaleNetwork, patch: torch.Tensor) -> torch.Tensor:
        height, width = patch.shape[2:]
        pad_h = (-height) % network.multiple
        pad_w = (-width) % network.multiple
        if pad_h or pad_w:
            # Replicate rather than reflect: it works for 1-pixel-thin images too.
            patch = torch.nn.functional.pad(patch, (0, pad_w, 0, pad_h), mode="replicate")
        result = network.module(patch)
        return result[:, :, : height * network.scale, : width * network.scale]

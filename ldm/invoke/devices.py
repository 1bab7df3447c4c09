"""Choosing the torch device and the precision that runs fastest on it."""

from __future__ import annotations

import contextlib
import functools
import logging
import platform
from collections.abc import Iterator

import torch

log = logging.getLogger(__name__)

# "bfloat16" on the CPU is float32 weights under bf16 autocast (what images made before 2026-12 record);
# "bfloat16-weights" stores the weights in bf16 and runs without autocast's casts: other pixels, its own name.
BF16_WEIGHTS = "bfloat16-weights"
PRECISIONS = ("auto", "float32", "float16", "bfloat16", BF16_WEIGHTS)
DEVICES = ("auto", "cpu", "cuda", "mps")


def choose_device(requested: str = "auto") -> torch.device:
    if requested not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {requested!r}")
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but torch sees no CUDA GPU")
    return torch.device(requested)


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 matmuls natively (AVX512-BF16 or AMX on x86, BF16 on Arm).

    Read from the CPU's own feature flags, and confirmed by oneDNN, so a machine without the
    instructions never gets the (slow, emulated) bf16 path.
    """
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("flags", "features"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return False  # Apple silicon runs on mps; its CPU path stays float32
    has_flag = bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    mkldnn_ok = True
    with contextlib.suppress(Exception):
        mkldnn_ok = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return has_flag and mkldnn_ok


def choose_precision(requested: str, device: torch.device) -> str:
    """``auto`` is float16 on CUDA and MPS, bfloat16 on a CPU that has it, else float32."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested != "auto":
        return requested
    if device.type in ("cuda", "mps"):
        return "float16"
    return "bfloat16" if cpu_has_native_bf16() else "float32"


def torch_dtype(precision: str) -> torch.dtype:
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
            BF16_WEIGHTS: torch.bfloat16}[precision]


def weights_dtype(precision: str, device: torch.device) -> torch.dtype:
    """On the CPU, weights stay float32 for ``bfloat16`` (it runs under autocast there) and are bf16 for
    ``bfloat16-weights``; a GPU holds them in the precision itself."""
    if device.type == "cpu" and precision != BF16_WEIGHTS:
        return torch.float32
    return torch_dtype(precision)


def latents_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The sampler's latents: float32 beside bf16 weights on the CPU (its per-step updates are small next
    to the latents, and bf16 keeps 8 bits), else the weights' dtype as before."""
    if device.type == "cpu" and precision == BF16_WEIGHTS:
        return torch.float32
    return weights_dtype(precision, device)


@contextlib.contextmanager
def autocast_for(precision: str, device: torch.device) -> Iterator[None]:
    """CPU bfloat16 runs through autocast, which keeps the numerically touchy ops in float32."""
    if device.type == "cpu" and precision == "bfloat16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    else:
        yield


def prefer_channels_last(module: torch.nn.Module, device: torch.device) -> None:
    """On the CPU a convolutional model's weights are stored channels-last (NHWC), the layout oneDNN's
    convolutions work in, so they are not reordered on every call; activations follow the weights'
    layout. Measured here (BENCHMARKS.md §4, bfloat16): the UNet step 1.13x and the VAE decode 1.62x
    faster. GPUs keep their default layout."""
    if device.type == "cpu":
        module.to(memory_format=torch.channels_last)


def free_memory(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()

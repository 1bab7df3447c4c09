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
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel lists them (/proc/cpuinfo; empty where there is none)."""
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
    return frozenset(flags)


def cpu_has_amx() -> bool:
    """True on an x86 CPU with AMX's bfloat16 tiles, which oneDNN's bf16 matmuls and SDPA's CPU kernel use."""
    return "amx_bf16" in cpu_flags()


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bfloat16 matmuls natively (AVX512-BF16 or AMX on x86, BF16 on Arm).

    Read from the CPU's own feature flags, and confirmed by oneDNN, so a machine without the
    instructions never gets the (slow, emulated) bf16 path.
    """
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return False  # Apple silicon runs on mps; its CPU path stays float32
    has_flag = bool(cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})
    mkldnn_ok = True
    with contextlib.suppress(Exception):
        mkldnn_ok = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return has_flag and mkldnn_ok


# The CPU's precision paths, fastest first (BENCHMARKS.md §4): bf16 weights, bf16 autocast, float32.
CPU_PATHS_FASTEST_FIRST = (BF16_WEIGHTS, "bfloat16", "float32")


def choose_precision(requested: str, device: torch.device) -> str:
    """``auto`` is float16 on CUDA and MPS; on the CPU the fastest path whose output a seed reproduces
    here (bf16 paths only on a CPU with native bf16)."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested != "auto":
        return requested
    if device.type in ("cuda", "mps"):
        return "float16"
    for path in CPU_PATHS_FASTEST_FIRST:
        if (path == "float32" or cpu_has_native_bf16()) and cpu_reproduces(path):
            return path
    return "float32"


@functools.cache
def cpu_reproduces(precision: str) -> bool:
    """Whether the kernels this precision uses give the same bits twice on this CPU and thread count: a
    small conv / GroupNorm / attention / linear block, the ops of a UNet, run twice on the same input."""
    generator = torch.Generator().manual_seed(0)
    dtype = weights_dtype(precision, torch.device("cpu"))
    conv = torch.nn.Conv2d(32, 64, 3, padding=1)
    norm = torch.nn.GroupNorm(8, 64)
    proj = torch.nn.Linear(64, 64)
    with torch.no_grad():
        for p in [*conv.parameters(), *norm.parameters(), *proj.parameters()]:
            p.copy_(torch.randn(p.shape, generator=generator) * 0.1)
    torch.nn.ModuleList([conv, norm, proj]).to(dtype).to(memory_format=torch.channels_last)
    x = torch.randn(2, 32, 32, 32, generator=generator).to(dtype).to(memory_format=torch.channels_last)

    def run() -> torch.Tensor:
        with torch.inference_mode(), autocast_for(precision, torch.device("cpu")):
            h = torch.nn.functional.silu(norm(conv(x)))
            tokens = h.flatten(2).transpose(1, 2)  # (batch, 1024 positions, 64 channels)
            q = proj(tokens).view(2, -1, 8, 8).transpose(1, 2)
            attended = torch.nn.functional.scaled_dot_product_attention(q, q, q)
            return proj(attended.transpose(1, 2).reshape(2, -1, 64)).float()

    try:
        first, second = run(), run()
    except RuntimeError as exc:  # a kernel this CPU lacks
        log.info("precision %s does not run here: %s", precision, exc)
        return False
    same = torch.equal(first, second)
    if not same:
        log.info("precision %s gives different bits run to run on this CPU; auto skips it", precision)
    return same


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

"""``--compile``: the UNet run through torch.compile (inductor), its compiled code cached under the root dir.

Inductor compiles one graph per (UNet shape, latent size, text length, with or without control
residuals, seamless or not); the first call of each says "Compiling…" through the status callback.
Compiled code is cached in ``ROOT/cache/compile`` (inductor's FX graph cache and AOT autograd cache),
so a new process pays seconds to trace and load it rather than minutes to compile it again.

Freezing (``torch._inductor.config.freezing``) is left off: in this torch it bypasses the AOT autograd
cache, so a second launch compiled as long as the first, and it made the step no faster
(BENCHMARKS.md, ``--compile``; ``bench/bench_compile.py --options`` measures it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .globals import cache_dir

if TYPE_CHECKING:
    import torch

COMPILE_CACHE = "compile"  # the folder under ROOT/cache that holds inductor's caches
COMPILING = "Compiling…"  # the status a generation shows while a new graph is compiled
# Graphs dynamo keeps per UNet before it falls back to running eagerly (sizes × control × seamless).
RECOMPILE_LIMIT = 64

_SEEN: set[tuple[Any, ...]] = set()  # the graphs this process compiled (or loaded from the cache)
_ATTRIBUTE = "_invokeai_compiled"  # where a UNet keeps its torch.compile wrapper


def compile_cache(root: Path) -> Path:
    return cache_dir(root) / COMPILE_CACHE


def use_cache(root: Path) -> Path:
    """Points inductor's on-disk caches at ``ROOT/cache/compile`` (before anything is compiled there)."""
    folder = compile_cache(root)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    import torch
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    inductor_config.freezing = False
    functorch_config.enable_autograd_cache = True
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    return folder


def _compiled(unet: torch.nn.Module) -> Callable[..., Any]:
    """One torch.compile wrapper per UNet (shapes are static: each size gets its own graph), kept on the
    UNet itself so that it goes when the model leaves the cache."""
    import torch

    compiled = unet.__dict__.get(_ATTRIBUTE)
    if compiled is None:
        compiled = torch.compile(unet, dynamic=False)
        object.__setattr__(unet, _ATTRIBUTE, compiled)  # not registered as a submodule
    return compiled


def _shapes(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return tuple(value.shape), value.dtype
    if isinstance(value, (tuple, list)):
        return tuple(_shapes(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _shapes(v)) for k, v in value.items()))
    return type(value).__name__


class CompiledUNet:
    """Stands in for a pipeline's UNet in the denoise loop: calls go through torch.compile, everything
    else (``config``, ``modules()``, ``dtype``) is the UNet's own. ``status`` hears "Compiling…" before
    a call that needs a graph this process has not made yet."""

    def __init__(self, unet: torch.nn.Module, status: Callable[[str], None] | None = None) -> None:
        self.module = unet
        self.status = status
        self._call = _compiled(unet)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)

    def graph_key(self, sample: torch.Tensor, kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """What makes dynamo compile a new graph: the UNet's architecture and weights' dtype and device,
        the input shapes, which extra inputs there are, its layers (a LoRA adds some) and the
        convolutions' padding (seamless)."""
        import torch

        first = next(self.module.parameters())
        modules = list(self.module.modules())  # a LoRA's layers add modules
        padding = tuple(sorted({m.padding_mode for m in modules if isinstance(m, torch.nn.Conv2d)}))
        config = tuple(sorted((k, repr(v)) for k, v in dict(self.module.config).items()))
        return (type(self.module).__name__, config, first.dtype, str(first.device), _shapes(sample),
                _shapes(kwargs), len(modules), padding, torch.is_autocast_enabled("cpu"))

    def __call__(self, sample: torch.Tensor, timestep: Any, **kwargs: Any) -> Any:
        import torch

        if torch.is_autocast_enabled("cpu") and sample.dtype == torch.float32:
            # The first step's latents are float32, the sampler's later ones bfloat16; autocast casts
            # them for the first convolution either way, so one graph serves every step.
            sample = sample.to(torch.get_autocast_dtype("cpu"))
        key = self.graph_key(sample, kwargs)
        if key not in _SEEN:
            if self.status is not None:
                self.status(COMPILING)
            result = self._call(sample, timestep, **kwargs)
            _SEEN.add(key)
            return result
        return self._call(sample, timestep, **kwargs)


def compiled_unet(unet: Any, root: Path, status: Callable[[str], None] | None = None) -> CompiledUNet:
    """The UNet to run a generation with under ``--compile``."""
    use_cache(root)
    module = unet.module if isinstance(unet, CompiledUNet) else unet
    return CompiledUNet(module, status)

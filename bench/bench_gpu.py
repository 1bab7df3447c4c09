"""GPU speed in one command: an SD-1.5-shaped pipeline (random weights at real size) in float16, 512×512,
batch 1, 20 steps, through ``Generate`` eager, with channels-last weights and with ``--compile``, beside
bare diffusers ``StableDiffusionPipeline`` on the same weights in the same run: it/s, ratios, peak
memory; and the CPU's picture of the same seed against the GPU's (PSNR, float32 on the CPU).

    python bench/bench_gpu.py                 # a CUDA machine; under 5 minutes on an H200
    python bench/bench_gpu.py --dry           # the same code on the CPU: the demo model's tiny shapes, auto precision (CI)

BENCHMARKS.md says how to run it on the device machine (its own torch; diffusers carried as a wheel).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import table, write_result

PROMPT = "a lighthouse on a cliff at dusk"
SEED = 42
SAMPLER = "k_euler"  # the bare pipeline gets diffusers' EulerDiscreteScheduler, the same sampler


def demo_root(tmp: Path) -> Path:
    """The demo model (tiny shapes) as a plain diffusers-folder entry, for --dry."""
    import yaml

    from ldm.invoke.demo_model import ensure_demo_model

    ensure_demo_model(tmp, 0, tmp / "models" / "demo")
    (tmp / "models.yaml").write_text(yaml.safe_dump({"demo": {
        "description": "the demo model", "format": "diffusers", "path": "models/demo", "default": True}}))
    return tmp


def model_folder(root: Path) -> Path:
    import yaml

    entries = yaml.safe_load((root / "models.yaml").read_text())
    return root / next(iter(entries.values()))["path"]


class StepClock:
    """Step times of one image, the device synchronised at each step so they are the GPU's."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.times: list[float] = []

    def tick(self, *_: Any) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.times.append(time.perf_counter())

    def it_per_s(self) -> float:
        """Steps per second after the first step (which holds set-up and, compiled, the compile)."""
        if len(self.times) < 3:
            return float("nan")
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])


def peak_memory_gib(device: Any) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device: Any) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def ours(gen: Any, size: int, steps: int) -> tuple[Any, dict[str, Any]]:
    """One image through Generate (the code users hit): the picture and its timings."""
    from ldm.invoke.generator.base import Progress
    from ldm.invoke.request import GenerationRequest

    clock = StepClock(gen.torch_device)
    request = GenerationRequest(PROMPT, steps=steps, width=size, height=size, seed=SEED, sampler_name=SAMPLER)
    reset_peak(gen.torch_device)
    started = time.perf_counter()
    done = next(iter(gen.generate(request, Progress(clock.tick, preview_every=0))))
    return done.image, {"image_s": time.perf_counter() - started, "it_per_s": clock.it_per_s(),
                        "peak_gib": peak_memory_gib(gen.torch_device)}


def bare(folder: Path, device: Any, dtype: Any, size: int, steps: int, warmup: bool) -> tuple[Any, dict[str, Any]]:
    """The same weights through diffusers' own StableDiffusionPipeline (its defaults: SDPA attention)."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(folder), torch_dtype=dtype, safety_checker=None,
                                                   requires_safety_checker=False).to(device)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    clock = StepClock(device)

    def on_step(pipeline: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        clock.tick()
        return kwargs

    def run() -> Any:
        generator = torch.Generator(device).manual_seed(SEED)
        return pipe(PROMPT, height=size, width=size, num_inference_steps=steps, generator=generator,
                    callback_on_step_end=on_step).images[0]

    if warmup:
        run()
    clock.times.clear()
    reset_peak(device)
    started = time.perf_counter()
    image = run()
    return image, {"image_s": time.perf_counter() - started, "it_per_s": clock.it_per_s(),
                   "peak_gib": peak_memory_gib(device)}


def psnr(a: Any, b: Any) -> float:
    import numpy as np

    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry", action="store_true", help="the CPU, the demo model's tiny shapes, few steps")
    ap.add_argument("--size", type=int, help="pixels a side (default 512; 64 with --dry)")
    ap.add_argument("--steps", type=int, help="steps (default 20; 3 with --dry)")
    ap.add_argument("--cpu-size", type=int, help="the size of the CPU-against-GPU picture (default: --size)")
    ap.add_argument("--work", type=Path, help="where the model and the compile cache go (default: a temp dir)")
    args = ap.parse_args(argv)
    size = args.size or (64 if args.dry else 512)
    steps = args.steps or (3 if args.dry else 20)
    cpu_size = args.cpu_size or size

    import torch

    from ldm.invoke.devices import prefer_channels_last, weights_dtype
    from ldm.invoke.generate import Generate

    if not args.dry and not torch.cuda.is_available():
        sys.exit("bench_gpu: torch sees no CUDA GPU (use --dry to run the same code on the CPU)")
    device = "cpu" if args.dry else "cuda"
    precision = "auto" if args.dry else "float16"  # dry: what the CPU's users get (bfloat16 where native)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        started = time.perf_counter()
        if args.dry:
            root = demo_root(work / "root")
        else:
            from bench_engine import sd15_root

            root = sd15_root(work / "root")
        build_s = time.perf_counter() - started
        gen = Generate(root=root, precision=precision, device=device)
        gen.load_model()
        precision = gen.precision
        dtype = weights_dtype(precision, gen.torch_device)
        pipe = gen._model().pipeline
        results: dict[str, dict[str, Any]] = {}
        ours(gen, size, steps)  # warm-up: cuDNN / oneDNN pick their kernels
        gpu_image, results["ours eager"] = ours(gen, size, steps)
        for module in (pipe.unet, pipe.vae):
            module.to(memory_format=torch.channels_last)
        ours(gen, size, steps)
        _, results["ours channels-last"] = ours(gen, size, steps)
        for module in (pipe.unet, pipe.vae):  # back to the layout Generate gives (channels-last on a CPU)
            module.to(memory_format=torch.contiguous_format)
            prefer_channels_last(module, gen.torch_device)
        gen.compile = True
        _, first = ours(gen, size, steps)  # compiles (cold: the cache under the bench's own root is empty)
        _, results["ours --compile"] = ours(gen, size, steps)
        results["ours --compile"]["first_image_s"] = first["image_s"]
        if cpu_size != size:
            gen.compile = False
            gpu_image, _ = ours(gen, cpu_size, steps)
        del gen, pipe
        gc.collect()
        _, results["bare diffusers"] = bare(model_folder(root), torch.device(device), dtype, size, steps, warmup=True)
        cpu = Generate(root=root, precision="float32", device="cpu")
        cpu_image, cpu_result = ours(cpu, cpu_size, steps)
        agreement = psnr(cpu_image, gpu_image)

    base = results["bare diffusers"]["it_per_s"]
    rows = [[label, r["it_per_s"], f"{r['it_per_s'] / base:.2f}x", r["image_s"],
             "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"] for label, r in results.items()]
    shape = "demo model (tiny shapes)" if args.dry else "SD-1.5 shape, random weights"
    print(f"{shape}, {precision} on {device}, {size}x{size}, batch 1, {steps} steps, {SAMPLER}; "
          f"model built and saved in {build_s:.0f} s")
    print(table(rows, ["run", "it/s", "x bare diffusers", "image s", "peak GiB"]))
    print(f"--compile: first image {results['ours --compile']['first_image_s']:.1f} s (compiling), "
          f"then {results['ours --compile']['image_s']:.2f} s")
    print(f"CPU float32 against {device} {precision}, {cpu_size}x{cpu_size} seed {SEED}: PSNR {agreement:.1f} dB "
          f"(CPU image {cpu_result['image_s']:.1f} s)")
    out = {"dry": args.dry, "device": device, "precision": precision, "size": size, "steps": steps,
           "cpu_size": cpu_size, "results": results, "psnr_db": agreement, "cpu": cpu_result, "build_s": build_s}
    if device == "cuda":
        out["gpu"] = torch.cuda.get_device_name(0)
        out["torch"] = torch.__version__
    print("wrote", write_result("gpu-dry" if args.dry else "gpu", out))
    return out


if __name__ == "__main__":
    main()

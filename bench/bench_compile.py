"""``--compile``: the first and the second launch of the same model and size (new processes; the first
compiles into an empty ROOT/cache/compile, the second loads from it) beside an eager launch, and the
compiled SD-1.5-shaped UNet step against the bf16 floor of bench_cpu.py. ``--options`` compares the step
under inductor settings ``--compile`` leaves off (freezing, max-autotune), interleaved in one process.

    python bench/bench_compile.py [--model demo|sd15] [--size 64] [--steps 4] [--skip-step | --skip-launch]
    python bench/bench_compile.py --options [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, table, write_result


def launch(root: Path, outdir: Path, line: str, compile: bool) -> float:
    """Seconds for ``invokeai --from_file`` over one line, from start to exit, in a new process."""
    outdir.mkdir(parents=True, exist_ok=True)
    prompts = outdir / "prompts.txt"
    prompts.write_text(line + "\n")
    args = [sys.executable, "-m", "invokeai_gui", "--root", str(root), "--outdir", str(outdir),
            "--from_file", str(prompts)] + (["--compile"] if compile else [])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def auto_unet(keep_pages: bool = True):
    """The SD-1.5-shaped UNet as Generate runs it here (the auto precision's weights, channels-last, the
    auto attention, the allocator setting unless ``keep_pages`` is off), its inputs in its own dtype as the
    denoise loop gives them, the precision's name, and the dtype of the matmul rate its floor is measured in."""
    import torch
    from bench_cpu import sd15_unet, unet_inputs

    from ldm.invoke.allocator import keep_freed_pages
    from ldm.invoke.attention import choose_attention, use_attention
    from ldm.invoke.devices import choose_precision, cpu_has_native_bf16, prefer_channels_last, weights_dtype

    if keep_pages:
        keep_freed_pages()
    cpu = torch.device("cpu")
    auto = choose_precision("auto", cpu)
    dtype = weights_dtype(auto, cpu)  # bf16 for bfloat16-weights; float32 under autocast or in float32
    unet = sd15_unet().to(dtype)
    prefer_channels_last(unet, cpu)
    use_attention(unet, choose_attention("auto", cpu))
    x, t, emb = unet_inputs()
    return unet, (x.to(dtype), t, emb.to(dtype)), auto, torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def step_against_floor(repeats: int) -> dict[str, object]:
    """The SD-1.5-shaped UNet step (batch 2, 64×64 latents, the auto precision and attention, channels-last)
    eager and compiled as Generate runs it, against bench_cpu.py's floor (its FLOPs ÷ the bf16 matmul
    rate). ``repeats`` rounds, each a fresh matmul rate, an eager and a compiled step, so that a noisy
    neighbour hits all three alike; the floor takes the best rate (the machine's limit), the steps their
    best and their median."""
    import torch
    from bench_cpu import count_unet_flops, matmul_rate

    from ldm.invoke.attention import choose_attention
    from ldm.invoke.compile import CompiledUNet
    from ldm.invoke.devices import autocast_for

    cpu = torch.device("cpu")
    unet, (x, t, emb), auto, rate_dtype = auto_unet()
    compiled = CompiledUNet(unet)
    with torch.inference_mode(), autocast_for(auto, cpu):
        flops = count_unet_flops(unet, lambda: unet(x, t, encoder_hidden_states=emb))
        unet(x, t, encoder_hidden_states=emb)  # warm-up: oneDNN picks its kernels on the first call
        started = time.perf_counter()
        compiled(x, t, encoder_hidden_states=emb)
        compile_s = time.perf_counter() - started
        started = time.perf_counter()
        compiled(x, t, encoder_hidden_states=emb)  # the first call after compiling (a user's second step)
        first_s = time.perf_counter() - started
        rates, eager, fast = [], [], []
        for _ in range(repeats):
            rates.append(matmul_rate(rate_dtype, seconds=1.5))
            for times, call in ((eager, unet), (fast, compiled)):
                started = time.perf_counter()
                call(x, t, encoder_hidden_states=emb)
                times.append(time.perf_counter() - started)
    floor = flops / (max(rates) * 1e9)
    return {"eager_s": min(eager), "compiled_s": min(fast), "eager_median_s": statistics.median(eager),
            "compiled_median_s": statistics.median(fast), "compile_s": compile_s, "first_after_compile_s": first_s,
            "floor_s": floor, "rates": rates, "eager_x_floor": min(eager) / floor,
            "compiled_x_floor": min(fast) / floor, "compiled_x_eager": statistics.median(
                [f / e for f, e in zip(fast, eager)]), "precision": auto, "attention": choose_attention("auto", cpu)}


# Inductor settings ``--options`` sets beside ``--compile``'s own (ldm/invoke/compile.py leaves both off).
OPTIONS = {
    "--compile": {},
    "--compile + freezing": {"freezing": True},
    "--compile + freezing + max-autotune": {"freezing": True, "max_autotune": True},
}


def step_options(rounds: int) -> dict[str, object]:
    """The SD-1.5-shaped step eager and compiled under each of OPTIONS, one round after another (a fresh
    bf16 matmul rate each round, so a noisy neighbour hits the floor and the steps alike); medians."""
    import torch
    import torch._dynamo
    from bench_cpu import count_unet_flops, matmul_rate

    from ldm.invoke.compile import use_cache
    from ldm.invoke.devices import autocast_for

    with tempfile.TemporaryDirectory() as tmp:
        use_cache(Path(tmp))  # a cold cache: each setting compiles its own code
        unet, (x, t, emb), auto, rate_dtype = auto_unet()
        calls = {"eager": unet}
        compile_s = {}
        # Freezing needs grad off; inference_mode tensors cannot be frozen.
        with torch.no_grad(), autocast_for(auto, torch.device("cpu")):
            flops = count_unet_flops(unet, lambda: unet(x, t, encoder_hidden_states=emb))
            for name, options in OPTIONS.items():
                torch._dynamo.reset()
                calls[name] = torch.compile(unet, dynamic=False, options=options)
                started = time.perf_counter()
                calls[name](x, t, encoder_hidden_states=emb)
                compile_s[name] = time.perf_counter() - started
            times: dict[str, list[float]] = {name: [] for name in calls}
            rates = []
            for _ in range(rounds):
                rates.append(matmul_rate(rate_dtype, seconds=1.5))
                for name, call in calls.items():
                    started = time.perf_counter()
                    call(x, t, encoder_hidden_states=emb)
                    times[name].append(time.perf_counter() - started)
    floor = flops / (statistics.median(rates) * 1e9)
    eager = statistics.median(times["eager"])
    rows = [[name, statistics.median(v), f"{statistics.median(v) / floor:.2f}x", f"{statistics.median(v) / eager:.3f}",
             f"{compile_s[name]:.0f}" if name in compile_s else "-"] for name, v in times.items()]
    print(table(rows, ["SD-1.5-shaped step, " + auto, "median s", "x of bf16 floor", "x eager", "compile s"]))
    print(f"{rounds} rounds; bf16 matmul rate {min(rates):.0f}-{max(rates):.0f} GFLOP/s, floor {floor:.3f} s")
    return {"precision": auto, "floor_s": floor, "rates": rates, "times_s": times, "compile_s": compile_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", choices=("demo", "sd15"), default="demo")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=4, help="rounds of the step against the floor")
    ap.add_argument("--skip-step", action="store_true", help="only the launch times")
    ap.add_argument("--skip-launch", action="store_true", help="only the UNet step against the floor")
    ap.add_argument("--options", action="store_true", help="only the step under other inductor settings")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of --options")
    args = ap.parse_args()
    if args.options:
        print("wrote", write_result("compile_options", step_options(args.rounds)))
        return
    out: dict[str, object] = {"model": args.model, "size": args.size, "steps": args.steps}
    if not args.skip_launch:
        out["launch_s"] = launch_times(args.model, args.size, args.steps)
    if not args.skip_step:
        step = step_against_floor(args.repeats)
        print(table([["unet step, SD-1.5 shape, eager", step["eager_s"], step["eager_median_s"],
                      f"{step['eager_x_floor']:.2f}x"],
                     ["unet step, SD-1.5 shape, --compile", step["compiled_s"], step["compiled_median_s"],
                      f"{step['compiled_x_floor']:.2f}x"]],
                    ["measure", "best s", "median s", "best x of bf16 floor"]))
        print(f"{args.repeats} rounds; bf16 matmul rate {min(step['rates']):.0f}-{max(step['rates']):.0f} GFLOP/s; "
              f"compiled / eager {step['compiled_x_eager']:.3f} (median of the rounds' ratios)")
        print(f"compiling the SD-1.5-shaped UNet took {step['compile_s']:.0f} s, the call after it "
              f"{step['first_after_compile_s']:.2f} s; floor {step['floor_s']:.3f} s; {step['precision']}, "
              f"{step['attention']} attention")
        out["step"] = step
    print("wrote", write_result("compile", out))


def launch_times(model: str, size: int, steps: int) -> dict[str, float]:
    """An eager launch, then a first and a second ``--compile`` launch on one fresh root."""
    line = f"a lighthouse -s {steps} -W {size} -H {size} -S 42 -A k_euler"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if model == "sd15":
            from bench_engine import sd15_root

            root = sd15_root(work / "root")
        else:
            from common import bench_root

            root = bench_root(work, None)
        eager = launch(root, work / "eager", line, compile=False)
        first = launch(root, work / "first", line, compile=True)
        second = launch(root, work / "second", line, compile=True)
    shape = f"{model}, {size}px, {steps} steps"
    rows = [[f"eager launch, {shape}", eager, 1.0],
            [f"--compile first launch (empty cache), {shape}", first, first / eager],
            [f"--compile second launch (cached), {shape}", second, second / eager]]
    print(table(rows, ["launch to exit, one image", "seconds", "x eager"]))
    return {"eager": eager, "first": first, "second": second}


if __name__ == "__main__":
    main()

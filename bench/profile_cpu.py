"""Where the time of one SD-1.5-shaped UNet step goes on the CPU: torch.profiler's self time of every op,
summed by op class, for one precision path, layout and attention at a time (to show a change before/after).

    python bench/profile_cpu.py                                   # the path --precision auto picks
    python bench/profile_cpu.py --compile                         # the same step under --compile
    python bench/profile_cpu.py --precision bfloat16 --layout contiguous --attention classic
    python bench/profile_cpu.py --compare                         # every path in one run, one table each
    python bench/profile_cpu.py --ab bfloat16,bfloat16-weights --pairs 5   # step times A B A B ..., ratio

The shapes are bench_cpu.py's (batch 2, 64x64 latents, 77 CLIP-L tokens). Self times are summed, so no
op is counted twice; the step time is measured apart, without the profiler's overhead.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from bench_cpu import best_of, sd15_unet, unet_inputs
from common import interleave, table, write_result

# Op class -> name fragments of the aten ops in it (checked in this order; the first that matches wins).
CLASSES: list[tuple[str, tuple[str, ...]]] = [
    ("fused by inductor (--compile)", ("cpp_fused", "cpp_CppMicroGemm")),
    ("attention (SDPA, softmax)", ("scaled_dot_product", "flash_attention", "softmax", "baddbmm", "bmm", "sliced_attention")),
    ("matmul / linear", ("addmm", "aten::mm", "matmul", "linear", "mkldnn_linear")),
    ("conv", ("conv",)),
    ("norm", ("group_norm", "layer_norm", "batch_norm")),
    ("copies, casts, layout", ("copy_", "_to_copy", "contiguous", "clone", "cat", "to_dense", "reorder",
                               "empty_like", "as_strided_", "resize_")),
    ("elementwise / activation", ("silu", "gelu", "add", "mul", "div", "sub", "sigmoid", "exp", "sin", "cos",
                                  "tanh", "neg", "pow", "rsqrt", "sqrt", "chunk", "where", "fill_")),
]
PATHS = ("float32", "bfloat16", "bfloat16-weights")
LAYOUTS = ("channels-last", "contiguous")
# sdpa and sliced as ldm/invoke/attention.py runs them; classic is diffusers' unsliced AttnProcessor.
ATTENTIONS = ("sdpa", "sliced", "classic")


def op_class(name: str) -> str:
    for label, fragments in CLASSES:
        if any(f in name for f in fragments):
            return label
    return "other"


def prepare(unet, precision: str, layout: str, attention: str, compile: bool = False):
    """The UNet as Generate runs it on this precision path, layout and attention (compiled with
    ``compile``, each inductor kernel named in the profile); returns the step."""
    import torch
    from diffusers.models.attention_processor import AttnProcessor

    from ldm.invoke.attention import use_attention
    from ldm.invoke.devices import autocast_for, weights_dtype

    cpu = torch.device("cpu")
    dtype = weights_dtype(precision, cpu)
    unet.to(dtype)
    unet.to(memory_format=torch.channels_last if layout == "channels-last" else torch.contiguous_format)
    if attention == "classic":
        unet.set_attn_processor(AttnProcessor())
    else:
        use_attention(unet, attention)
    x, t, emb = (v.to(dtype) if v.is_floating_point() else v for v in unet_inputs())
    call = unet
    if compile:
        import torch._inductor.config as inductor_config

        from ldm.invoke.compile import CompiledUNet

        inductor_config.cpp.enable_kernel_profile = True  # each fused kernel is its own profiler event
        call = CompiledUNet(unet)

    def step():
        with torch.inference_mode(), autocast_for(precision, cpu):
            return call(x, t, encoder_hidden_states=emb).sample

    return step


def profile(step, steps: int) -> tuple[float, dict[str, float], list[tuple[str, float]]]:
    """Best step time without the profiler, then the self time (s per step) by class and the top ops."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    best = best_of(step, steps)  # with a warm-up: oneDNN picks its kernels on the first call
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    by_class: dict[str, float] = defaultdict(float)
    ops = []
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6 / steps
        by_class[op_class(event.key)] += seconds
        ops.append((event.key, seconds))
    ops.sort(key=lambda o: -o[1])
    return best, dict(by_class), ops[:12]


def attention_bound(step, step_s: float) -> dict[str, float]:
    """What the step's attention costs beyond its matmuls. The bf16 floor counts FLOPs (bench_cpu.py);
    but softmax over L x L scores is an exp per score, whatever the head size. Each attention call the
    step makes is timed again at its own shapes, and with a head size of 8 (its matmuls nearly free):
    that second time is the softmax's, which no matmul rate can take back. And each is timed with the
    one other fused attention torch has on the CPU, flex_attention compiled by inductor (its C++
    template), and unfused (a bf16 matmul, torch's softmax, a matmul: the softmax its own vectorised
    pass), to see whether either would take back what SDPA's flash kernel leaves."""
    import torch
    import torch.nn.functional as F
    from bench_cpu import count_flops, matmul_rate
    from torch.nn.attention.flex_attention import flex_attention

    torch._dynamo.config.recompile_limit = 64  # one graph per attention shape; past the limit it would run uncompiled
    flex = torch.compile(flex_attention, dynamic=False)

    sdpa, calls = F.scaled_dot_product_attention, defaultdict(int)

    def recording(q, k, v, *args, **kwargs):
        calls[(tuple(q.shape), tuple(k.shape), q.dtype)] += 1
        return sdpa(q, k, v, *args, **kwargs)

    F.scaled_dot_product_attention = recording
    try:
        with torch.inference_mode():
            step()
    finally:
        F.scaled_dot_product_attention = sdpa
    def unfused(q, k, v):
        return torch.softmax(q @ (k.transpose(-1, -2) * q.shape[-1] ** -0.5), dim=-1) @ v

    whole = softmax = flexed = split = 0.0
    rows = []
    for (qs, ks, dtype), n in sorted(calls.items(), key=lambda c: -c[0][0][2] * c[0][1][2]):
        q, k = torch.randn(qs, dtype=dtype), torch.randn(ks, dtype=dtype)
        q8, k8 = q[..., :8].contiguous(), k[..., :8].contiguous()
        with torch.inference_mode():
            t = best_of(lambda q=q, k=k: sdpa(q, k, k), 3)
            t8 = best_of(lambda q=q8, k=k8: sdpa(q, k, k), 3)
            flex(q, k, k)  # compiles for this shape
            tf = best_of(lambda q=q, k=k: flex(q, k, k), 3)
            tu = best_of(lambda q=q, k=k: unfused(q, k, k), 3)
        whole, softmax, flexed, split = whole + n * t, softmax + n * t8, flexed + n * tf, split + n * tu
        rows.append([f"{qs[2]} x {ks[2]} tokens, {qs[1]} heads of {qs[3]}", n, round(n * t, 3), round(n * t8, 3),
                     round(n * tf, 3), round(n * tu, 3)])
    with torch.inference_mode():
        flops = count_flops(step)
    floor = flops / (matmul_rate(torch.bfloat16) * 1e9)
    print(table(rows, ["attention calls (queries x keys)", "per step", "s per step", "s at head size 8",
                       "s with flex_attention", "s unfused"]))
    print(f"attention {whole:.3f} s per step, of it softmax-bound {softmax:.3f} s; bf16 matmul floor {floor:.3f} s; "
          f"step {step_s:.3f} s = {step_s / floor:.2f}x the floor, {step_s / (floor + softmax):.2f}x floor + softmax; "
          f"compiled flex_attention {flexed:.3f} s = {flexed / whole:.2f}x SDPA, unfused {split:.3f} s = "
          f"{split / whole:.2f}x SDPA")
    return {"attention_s": whole, "softmax_bound_s": softmax, "bf16_floor_s": floor, "flex_attention_s": flexed,
            "unfused_attention_s": split,
            "x_floor": step_s / floor, "x_floor_plus_softmax": step_s / (floor + softmax)}


def report(label: str, step_s: float, by_class: dict[str, float], ops: list[tuple[str, float]]) -> None:
    total = sum(by_class.values())
    order = [c for c, _ in CLASSES] + ["other"]
    rows = [[c, round(by_class.get(c, 0.0), 3), f"{100 * by_class.get(c, 0.0) / total:.1f}%"] for c in order]
    rows.append(["profiled total (self times)", round(total, 3), "100%"])
    print(f"\n{label}: step {step_s:.3f} s without the profiler")
    print(table(rows, ["op class", "s per step", "% of step"]))
    print("top ops: " + ", ".join(f"{name} {s:.3f}" for name, s in ops[:8]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precision", choices=("auto",) + PATHS, default="auto")
    ap.add_argument("--layout", choices=LAYOUTS, default="channels-last")
    ap.add_argument("--attention", choices=ATTENTIONS, help="default: the one --attention auto picks here")
    ap.add_argument("--compile", action="store_true", help="profile the step as --compile runs it")
    ap.add_argument("--steps", type=int, default=2, help="profiled steps (after one warm-up)")
    ap.add_argument("--compare", action="store_true", help="profile every precision path (layout and attention as given)")
    ap.add_argument("--ab", metavar="A,B", help="no profile: time two precision paths interleaved, B's time / A's")
    ap.add_argument("--pairs", type=int, default=5, help="pairs of steps for --ab")
    args = ap.parse_args()
    if args.attention is None:
        import torch

        from ldm.invoke.attention import choose_attention

        args.attention = choose_attention("auto", torch.device("cpu"))
    if args.ab:
        a, b = args.ab.split(",")
        run_a, run_b = (prepare(sd15_unet(), path, args.layout, args.attention) for path in (a, b))
        got = interleave(run_b, run_a, args.pairs)
        print(f"{b} / {a}, UNet step: ratio of medians {got['ratio']:.3f} (pairs {got['pair_ratio_min']:.3f}-"
              f"{got['pair_ratio_max']:.3f}), best-of {min(got['a_s']) / min(got['b_s']):.3f}; "
              f"{a} {got['b_median_s']:.3f} s, {b} {got['a_median_s']:.3f} s")
        print("wrote", write_result("profile_cpu_ab", {"a": a, "b": b, **got}))
        return

    import torch

    from ldm.invoke.allocator import keep_freed_pages
    from ldm.invoke.devices import choose_precision, cpu_has_native_bf16

    keep_freed_pages()  # as Generate does
    cpu = torch.device("cpu")
    precision = choose_precision(args.precision, cpu)
    if args.compare:
        paths = [p for p in PATHS if p == "float32" or cpu_has_native_bf16()]
    else:
        paths = [precision]
    unet = sd15_unet()
    results = {}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for path in paths:
        label = f"{path}, {args.layout}, {args.attention} attention" + (", --compile" if args.compile else "")
        step_s, by_class, ops = profile(prepare(unet, path, args.layout, args.attention, args.compile), args.steps)
        report(label, step_s, by_class, ops)
        results[label] = {"step_s": step_s, "by_class_s": by_class, "top_ops_s": dict(ops)}
    if not args.compile:
        # The calls are found (and timed again) through SDPA, whichever attention the step ran.
        print(f"\nthe attention of the {precision} path beyond its matmuls:")
        bound = attention_bound(prepare(unet, precision, args.layout, "sdpa"),
                                results[f"{precision}, {args.layout}, {args.attention} attention"]["step_s"])
        results["attention_bound"] = bound
    print("wrote", write_result("profile_cpu", {"threads": torch.get_num_threads(), "profiles": results}))


if __name__ == "__main__":
    main()

"""CPU speed against the machine's limit: one SD-1.5-shaped UNet step (batch 2, 64×64 latents) and
a 512×512 VAE decode in the precision ``--precision auto`` picks, the memory layout and the attention Generate uses,
against bare float32 and the machine's own measured matmul rate.

    python bench/bench_cpu.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

from common import table, write_result


def matmul_rate(dtype, seconds: float = 3.0, n: int = 4096) -> float:
    """Sustained GFLOP/s of a large square matmul: the best this CPU does in that precision."""
    import torch

    a = torch.randn(n, n).to(dtype)
    a @ a
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        a @ a
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e9


def count_flops(fn) -> float:
    """FLOPs of one call, counted by torch's FlopCounterMode (matmuls and convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def count_unet_flops(unet, call) -> float:
    """FLOPs of a UNet ``call`` as the floor counts them: with diffusers' SDPA processors, whose CPU kernel
    FlopCounterMode does not count, so the floor leaves out the attention's own matmuls whichever attention
    the step runs (sliced attention's bmm's would add 0.25 TFLOP at 512 px)."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    kept = unet.attn_processors
    unet.set_attn_processor(AttnProcessor2_0())
    try:
        return count_flops(call)
    finally:
        unet.set_attn_processor(kept)


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up: oneDNN picks its kernels on the first call
    times = []
    for _ in range(repeats):
        s = time.perf_counter()
        fn()
        times.append(time.perf_counter() - s)
    return min(times)


def sd15_unet():
    """SD 1.5's UNet at its real size, random weights (seeded)."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64).eval()


def sd15_vae():
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(1)
    return AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                         block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4).eval()


def unet_inputs():
    """One CFG step's inputs at 512 px: (uncond, cond) latents, a timestep, CLIP-L text embeddings."""
    import torch

    torch.manual_seed(2)
    return torch.randn(2, 4, 64, 64), torch.tensor(500), torch.randn(2, 77, 768)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import torch

    from ldm.invoke.allocator import keep_freed_pages
    from ldm.invoke.attention import choose_attention, use_attention
    from ldm.invoke.devices import (
        BF16_WEIGHTS,
        autocast_for,
        choose_precision,
        cpu_has_native_bf16,
        weights_dtype,
    )

    keep_freed_pages()  # as Generate does (bench_allocator.py measures what it buys)
    cpu = torch.device("cpu")
    auto = choose_precision("auto", cpu)
    attention = choose_attention("auto", cpu)  # the attention Generate gives the UNet here
    unet, vae = sd15_unet(), sd15_vae()
    x, t, emb = unet_inputs()
    z = torch.randn(1, 4, 64, 64)
    dtype = torch.float32  # the weights' dtype of the row being timed; inputs follow it

    def unet_step():
        return unet(x.to(dtype), t, encoder_hidden_states=emb.to(dtype)).sample

    def vae_decode():
        return vae.decode(z.to(dtype)).sample

    def tiled_decode():
        vae.enable_tiling()
        try:
            return vae.decode(z.to(dtype)).sample
        finally:
            vae.disable_tiling()

    rates = {"float32": matmul_rate(torch.float32)}
    if cpu_has_native_bf16():
        rates["bfloat16"] = matmul_rate(torch.bfloat16)
    with torch.inference_mode():
        unet_flops, vae_flops = count_unet_flops(unet, unet_step), count_flops(vae_decode)
        results = {}
        # Each precision path as Generate runs it (weights_dtype, autocast_for, channels-last weights);
        # "bare" is diffusers' default, and "contiguous" a path without our layout, to show its share.
        paths = [BF16_WEIGHTS, "bfloat16"] if cpu_has_native_bf16() else []

        def name(precision: str) -> str:
            kind = {"bfloat16": "bfloat16 autocast", BF16_WEIGHTS: "bfloat16-weights"}.get(precision, precision)
            return f"{kind} (auto)" if precision == auto else kind

        rows_to_time = [("unet step, bare float32", "float32", unet_step, False)]
        rows_to_time += [(f"unet step, {name(p)}, contiguous", p, unet_step, False) for p in paths]
        rows_to_time += [(f"unet step, {name(p)}, {attention} attention", p, unet_step, True) for p in paths]
        other = "sliced" if attention == "sdpa" else "sdpa"  # what the attention Generate picks buys, same run
        if auto != "float32":
            rows_to_time += [(f"unet step, {name(auto)}, {other} attention", auto, unet_step, True)]
        rows_to_time += [(f"unet step, {name('float32')}, {a} attention", "float32", unet_step, True)
                         for a in (attention, other)]
        rows_to_time += [("vae decode 512px, bare float32", "float32", vae_decode, False)]
        rows_to_time += [(f"vae decode 512px, {name(p)}, contiguous", p, vae_decode, False) for p in paths]
        rows_to_time += [(f"vae decode 512px, {name(p)}", p, vae_decode, True) for p in paths]
        rows_to_time += [(f"vae decode 512px tiled, {name(auto)}", auto, tiled_decode, True)]
        for label, precision, fn, ours in rows_to_time:
            dtype = weights_dtype(precision, cpu)
            # A fresh (seeded, so the same) module per row, cast once as Generate loads one: casting one
            # module back and forth between dtypes left its bf16 step about 8 % slower.
            if label.startswith("unet"):
                unet = module = sd15_unet()
            else:
                vae = module = sd15_vae()
            module.to(dtype)
            module.to(memory_format=torch.channels_last if ours else torch.contiguous_format)
            if label.startswith("unet") and ours:
                use_attention(module, other if f"{other} attention" in label else attention)
            with autocast_for(precision, cpu):
                results[label] = best_of(fn, args.repeats)
    rows = []
    best_rate = max(rates.values())
    for label, seconds in results.items():
        flops = unet_flops if label.startswith("unet") else vae_flops
        gflops = flops / seconds / 1e9
        own = rates["float32"] if "float32" in label else best_rate  # the peak of the precision it ran in
        floor = flops / (best_rate * 1e9)
        rows.append([label, seconds, round(gflops, 1), f"{100 * gflops / own:.0f}%", f"{seconds / floor:.2f}x"])
    print("matmul peak: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in rates.items()))
    print(f"UNet step {unet_flops / 1e12:.2f} TFLOP, VAE decode {vae_flops / 1e12:.2f} TFLOP")
    print(table(rows, ["measure", "seconds", "GFLOP/s", "% of its precision's matmul peak", "x of bf16 floor"]))
    print("wrote", write_result("cpu", {"matmul_gflops": rates, "unet_tflop": unet_flops / 1e12,
                                        "vae_tflop": vae_flops / 1e12, "seconds": results, "auto_precision": auto,
                                        "attention": attention}))


if __name__ == "__main__":
    main()

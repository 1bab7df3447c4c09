"""Sliced attention's chunk size: the SD-1.5-shaped UNet step (as Generate runs it on this CPU) with the
sum in chunks of 1 to 16 MB of scores, and in whole heads as diffusers' ``SlicedAttnProcessor`` slices
them (what ``--attention sliced`` ran before chunks, 256 MB a slice), in interleaved rounds in one
process, and one 4096-token self-attention call of that UNet the same way; every variant's output is
compared with the whole-head one, bit for bit (chunks are measured on every CPU, though Generate runs them
only where they match: on a CPU without AMX). ``--memory`` runs one step at a larger size in a new
process per variant and reports how far the step raised the peak RSS.

    python bench/bench_attention.py [--rounds 5]
    python bench/bench_attention.py --memory [--size 768]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import REPO, table, write_result

CHUNKS_MB = (1, 2, 4, 8, 16)
WHOLE_HEADS = "whole heads (diffusers)"


def whole_heads():
    """The processor ``--attention sliced`` was before chunks: diffusers' slices of as many heads as 256 MB of
    scores hold (SDPA past ``SDPA_ABOVE``, which no 512 px call reaches)."""
    from diffusers.models.attention_processor import SlicedAttnProcessor

    def call(attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        keys = hidden_states.shape[1] if encoder_hidden_states is None else encoder_hidden_states.shape[1]
        per_head = hidden_states.shape[1] * keys * hidden_states.element_size()
        size = max(1, min(hidden_states.shape[0] * attn.heads, (256 << 20) // per_head))
        return SlicedAttnProcessor(size)(attn, hidden_states, encoder_hidden_states, attention_mask)

    return call


def vm_hwm_mb() -> float:
    """The process's peak RSS since it was last reset (/proc/self/status VmHWM), in MB."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def step_memory(variant: str, size: int) -> dict[str, float]:
    """In this process: one UNet step at ``size`` px with ``variant``; MB the step added to the peak RSS.
    The allocator setting Generate makes (§4c) is made after the model, whose making peaked higher."""
    import psutil
    import torch
    from bench_compile import auto_unet

    from ldm.invoke.allocator import keep_freed_pages
    from ldm.invoke.attention import SlicedOrSdpa

    unet, (x, t, emb), _, _ = auto_unet(keep_pages=False)
    unet.set_attn_processor(whole_heads() if variant == WHOLE_HEADS else SlicedOrSdpa(in_chunks=True))
    latents = torch.randn(2, 4, size // 8, size // 8, dtype=x.dtype)
    keep_freed_pages()
    before = psutil.Process().memory_info().rss / 2**20
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak (VmHWM) to the RSS now: making the model peaked higher than a step
    with torch.inference_mode():
        started = time.perf_counter()
        unet(latents, t, encoder_hidden_states=emb)
        elapsed = time.perf_counter() - started
    return {"step_s": elapsed, "added_mb": vm_hwm_mb() - before}


def memory(size: int) -> None:
    rows, runs = [], {}
    for variant in (WHOLE_HEADS, "chunks"):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, __file__, "--one", variant, "--size", str(size)], env=env,
                             check=True, capture_output=True, text=True).stdout
        runs[variant] = json.loads(out.strip().splitlines()[-1])
        rows.append([variant, runs[variant]["step_s"], runs[variant]["added_mb"]])
    print(f"one UNet step at {size} px (batch 2), a new process each")
    print(table(rows, ["sum in", "step s", "peak RSS added, MB"]))
    print("wrote", write_result("attention_memory", {"size": size, "runs": runs}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--size", type=int, default=768)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a --memory run's own process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(step_memory(args.one, args.size)))
        return
    if args.memory:
        memory(args.size)
        return

    import torch
    from bench_compile import auto_unet
    from diffusers.models.attention_processor import Attention

    from ldm.invoke.attention import SlicedOrSdpa

    variants: dict[str, tuple[object, int]] = {WHOLE_HEADS: (whole_heads(), 0)}
    variants.update({f"chunks of {mb} MB": (SlicedOrSdpa(in_chunks=True), mb << 20) for mb in CHUNKS_MB})
    unet, (x, t, emb), precision, _ = auto_unet()
    layer = unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1  # 8 heads of 40, 4096 tokens
    assert isinstance(layer, Attention)
    hidden = torch.randn(2, 4096, layer.to_q.in_features, dtype=x.dtype)
    results = {}
    with torch.inference_mode():
        for label, module, call, rounds in (
            (f"UNet step, {precision}", unet, lambda: unet(x, t, encoder_hidden_states=emb).sample, args.rounds),
            (f"one 4096-token self-attention call, {precision}", layer, lambda: layer(hidden), 4 * args.rounds),
        ):
            times, same = interleaved(variants, module, call, rounds)
            base = statistics.median(times[WHOLE_HEADS])
            rows = [[name, min(ts), statistics.median(ts), statistics.median(ts) / base,
                     "yes" if same[name] else "NO"] for name, ts in times.items()]
            print(f"{label}, sliced attention, {rounds} interleaved rounds")
            print(table(rows, ["sum in", "best s", "median s", "x whole heads", "same output"]))
            results[label] = {"rounds": rounds, "times": times, "same_as_whole_heads": same}
    print("wrote", write_result("attention", results))


def interleaved(variants, module, call, rounds: int) -> tuple[dict[str, list[float]], dict[str, bool]]:
    """Seconds of ``call()`` under each variant, round after round (the first warms up and compares
    each variant's output with the first variant's, bit for bit)."""
    import torch

    from ldm.invoke import sliced_sum

    default = sliced_sum.CHUNK_BYTES
    times: dict[str, list[float]] = {name: [] for name in variants}
    same: dict[str, bool] = {}
    reference = None
    try:
        for round_ in range(rounds + 1):
            for name, (processor, chunk) in variants.items():
                if hasattr(module, "set_attn_processor"):  # a UNet
                    module.set_attn_processor(processor)
                else:  # one attention layer
                    module.set_processor(processor)
                sliced_sum.CHUNK_BYTES = chunk or default
                started = time.perf_counter()
                out = call()
                elapsed = time.perf_counter() - started
                if round_ == 0:
                    reference = out if reference is None else reference
                    same[name] = bool(torch.equal(out, reference))
                else:
                    times[name].append(elapsed)
    finally:
        sliced_sum.CHUNK_BYTES = default
    return times, same

if __name__ == "__main__":
    main()

"""What keeping freed pages mapped (ldm/invoke/allocator.py) buys: the SD-1.5-shaped UNet step and the
512 px VAE decode on the auto precision path, each in a fresh process with glibc's defaults
(``INVOKEAI_MALLOC_TUNING=0``) and with the engine's setting, the processes interleaved A B A B.

    python bench/bench_allocator.py --pairs 3

Prints per side the median step and decode time, the minor page faults per step, the resident size
after the steps, and the tuned/untuned ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from common import REPO, table, write_result

# One side's measurement, run in its own process (the allocator's settings are the process's).
SIDE = """
import json, resource, sys, time
sys.path.insert(0, "bench")
import torch
from ldm.invoke.allocator import keep_freed_pages
from ldm.invoke.devices import autocast_for, choose_precision, weights_dtype
from bench_cpu import sd15_unet, sd15_vae, unet_inputs
keep_freed_pages()  # what Generate does; a no-op with INVOKEAI_MALLOC_TUNING=0
cpu = torch.device("cpu")
precision = choose_precision("auto", cpu)
dtype = weights_dtype(precision, cpu)
unet = sd15_unet().to(dtype).to(memory_format=torch.channels_last)
vae = sd15_vae().to(dtype).to(memory_format=torch.channels_last)
x, t, emb = unet_inputs()
x, emb, z = x.to(dtype), emb.to(dtype), torch.randn(1, 4, 64, 64, dtype=dtype)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
steps, decodes, step_faults = [], [], []
with torch.inference_mode(), autocast_for(precision, cpu):
    unet(x, t, encoder_hidden_states=emb)
    for _ in range(STEPS):
        f, s = faults(), time.perf_counter()
        unet(x, t, encoder_hidden_states=emb)
        steps.append(time.perf_counter() - s)
        step_faults.append(faults() - f)
    vae.decode(z)
    for _ in range(DECODES):
        s = time.perf_counter()
        vae.decode(z)
        decodes.append(time.perf_counter() - s)
rss = int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
print(json.dumps({"precision": precision, "steps": steps, "decodes": decodes, "faults": step_faults, "rss_mb": rss}))
"""


def side(tuned: bool, steps: int, decodes: int) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    if not tuned:
        env["INVOKEAI_MALLOC_TUNING"] = "0"
    code = SIDE.replace("STEPS", str(steps)).replace("DECODES", str(decodes))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=3, help="processes per side, interleaved")
    ap.add_argument("--steps", type=int, default=3, help="timed UNet steps per process (after one warm-up)")
    ap.add_argument("--decodes", type=int, default=2, help="timed VAE decodes per process (after one warm-up)")
    args = ap.parse_args()
    runs: dict[str, list[dict]] = {"glibc defaults": [], "engine (pages kept)": []}
    for _ in range(args.pairs):
        runs["glibc defaults"].append(side(False, args.steps, args.decodes))
        runs["engine (pages kept)"].append(side(True, args.steps, args.decodes))
    summary = {}
    for label, sides in runs.items():
        summary[label] = {
            "unet_step_s": statistics.median(s for r in sides for s in r["steps"]),
            "vae_decode_s": statistics.median(s for r in sides for s in r["decodes"]),
            "faults_per_step": statistics.median(f for r in sides for f in r["faults"]),
            "rss_mb": statistics.median(r["rss_mb"] for r in sides),
        }
    base, tuned = summary["glibc defaults"], summary["engine (pages kept)"]
    ratios = {"unet_step": tuned["unet_step_s"] / base["unet_step_s"],
              "vae_decode": tuned["vae_decode_s"] / base["vae_decode_s"]}
    rows = [[label, s["unet_step_s"], s["vae_decode_s"], int(s["faults_per_step"]), round(s["rss_mb"])]
            for label, s in summary.items()]
    rows.append(["engine / defaults", round(ratios["unet_step"], 3), round(ratios["vae_decode"], 3), "", ""])
    print(f"precision {runs['glibc defaults'][0]['precision']}, {args.pairs} processes per side, interleaved")
    print(table(rows, ["allocator", "UNet step s", "VAE decode 512px s", "minor faults / step", "RSS MB"]))
    print("wrote", write_result("allocator", {"summary": summary, "ratios": ratios, "runs": runs}))


if __name__ == "__main__":
    main()

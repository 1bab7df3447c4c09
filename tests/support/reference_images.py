"""Makes the reference PNGs under ``tests/reference/`` that later code must reproduce from their recipes.

Run it only to add a case (``python -m tests.support.reference_images ROOT NAME...`` writes the named
cases and leaves the others as they are): the committed PNGs were made by the code of their day, and ``tests/test_reference_images.py`` regenerates each one from the recipe it
carries and compares every pixel, so a change to the denoise loop, the conditioning or the noise that
would change what a recorded seed means is caught. Torch runs on one thread unless a case says otherwise
(``CASE_THREADS``; a float32 UNet differs in its last bits between thread counts); the count is in each
image's metadata and in its entry in ``cases.json``, with the signature of the machine that made it
(``machine_signature``): CPUs whose kernels differ (oneDNN picks its kernels by the CPU it finds) round
differently, so a picture is expected bit for bit only where it was made, and close elsewhere."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ldm.invoke import metadata as md
from ldm.invoke.generate import Generate
from ldm.invoke.request import GenerationRequest, ImageRef

HERE = Path(__file__).resolve().parent.parent / "reference"
THREADS = 1
INIT_NAME = "init.png"

# name -> (precision, the request's fields); a case with an init image uses INIT_NAME (and a mask when
# it says so). Small and few steps: each case must regenerate in seconds on a CPU.
CASES: dict[str, tuple[str, dict]] = {
    "txt2img-float32": ("float32", dict(prompt="a red fox:1.2 a pine forest:0.6 [blurry, text]", steps=6,
                                        sampler_name="k_euler_a", seed=1234, cfg_scale=7.5)),
    "txt2img-bfloat16": ("bfloat16", dict(prompt="a red fox:1.2 a pine forest:0.6 [blurry, text]", steps=6,
                                          sampler_name="k_euler_a", seed=1234, cfg_scale=7.5)),
    "ddim-variation": ("float32", dict(prompt="a lighthouse at dusk", steps=5, sampler_name="ddim", seed=77,
                                       with_variations=((101, 0.3),), variation_amount=0.2)),
    "dpmpp2m-seamless-threshold": ("float32", dict(prompt="tiles of moss", steps=5, sampler_name="k_dpmpp_2m",
                                                   seed=5, seamless=True, threshold=1.0, perlin=0.1)),
    "heun-clip-skip": ("float32", dict(prompt="an old map", steps=4, sampler_name="k_heun", seed=9,
                                       clip_skip=1)),
    "hires-fix": ("float32", dict(prompt="a castle", steps=4, sampler_name="k_euler", seed=21, width=128,
                                  height=128, hires_fix=True, hires_strength=0.6)),
    "img2img": ("float32", dict(prompt="a watercolour", steps=6, sampler_name="ddim", seed=3, strength=0.6,
                                init=True)),
    "img2img-bfloat16": ("bfloat16", dict(prompt="a watercolour", steps=6, sampler_name="k_lms", seed=3,
                                          strength=0.6, init=True)),
    "inpaint-mask": ("float32", dict(prompt="a bird", steps=6, sampler_name="k_euler_a", seed=8, strength=0.8,
                                     init=True, mask=True)),
    # bf16 weights without autocast (added 2026-12-02): its own precision name, so the cases above keep theirs.
    "txt2img-bfloat16-weights": ("bfloat16-weights", dict(prompt="a red fox:1.2 a pine forest:0.6 [blurry, text]",
                                                          steps=6, sampler_name="k_euler_a", seed=1234, cfg_scale=7.5)),
    "img2img-bfloat16-weights-2threads": ("bfloat16-weights", dict(prompt="a watercolour", steps=6,
                                                                   sampler_name="k_lms", seed=3, strength=0.6,
                                                                   init=True)),
    "inpaint-bfloat16-weights": ("bfloat16-weights", dict(prompt="a bird", steps=6, sampler_name="k_euler_a", seed=8,
                                                          strength=0.8, init=True, mask=True)),
    # Sliced attention (added 2026-12-03, --attention): the cases above were made with SDPA.
    "txt2img-bfloat16-weights-sliced": ("bfloat16-weights", dict(prompt="a red fox:1.2 a pine forest:0.6 "
                                                                 "[blurry, text]", steps=6, sampler_name="k_euler_a",
                                                                 seed=1234, cfg_scale=7.5)),
    "img2img-float32-sliced": ("float32", dict(prompt="a watercolour", steps=6, sampler_name="ddim", seed=3,
                                               strength=0.6, init=True)),
}
CASE_THREADS = {"img2img-bfloat16-weights-2threads": 2}  # the others: THREADS
CASE_ATTENTION = {"txt2img-bfloat16-weights-sliced": "sliced", "img2img-float32-sliced": "sliced"}  # others: sdpa
SIZE = 64


def _cpu_line() -> str:
    """Vendor, family, model and stepping as /proc/cpuinfo gives them (the processor name elsewhere)."""
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("vendor_id", "cpu family", "model", "stepping") and key not in found:
                    found[key] = value.strip()
                if not line.strip() and found:
                    break
    except OSError:
        return platform.processor() or platform.machine()
    return "/".join(found.get(k, "?") for k in ("vendor_id", "cpu family", "model", "stepping"))


def machine_signature() -> str:
    """What decides the last bits of a CPU picture: the CPU, torch's kernel level for it, and the
    digest of a small seeded block (convolution, GroupNorm, SiLU, attention, linear) run on one thread
    in float32 and in bfloat16, which differs where oneDNN's kernels round differently."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(2, 64, 16, 16, generator=g)
        conv = torch.randn(64, 64, 3, 3, generator=g) * 0.05
        lin = torch.randn(64, 64, generator=g) * 0.1
        digest = hashlib.sha256()
        for dtype in (torch.float32, torch.bfloat16):
            with torch.inference_mode():
                h = torch.nn.functional.conv2d(x.to(dtype), conv.to(dtype), padding=1)
                h = torch.nn.functional.silu(torch.nn.functional.group_norm(h, 8))
                t = h.flatten(2).transpose(1, 2).reshape(2, 256, 4, 16).transpose(1, 2)
                a = torch.nn.functional.scaled_dot_product_attention(t, t, t).transpose(1, 2).reshape(2, 256, 64)
                digest.update((a @ lin.to(dtype)).float().numpy().tobytes())
    finally:
        torch.set_num_threads(threads)
    return f"{_cpu_line()} {torch.backends.cpu.get_cpu_capability()} torch {torch.__version__} " \
           f"probe {digest.hexdigest()[:12]}"


def init_png() -> bytes:
    """A fixed, seeded picture to start from (the committed ``init.png`` is this)."""
    rng = np.random.default_rng(0)
    pixels = (np.linspace(0, 255, SIZE)[None, :, None] * np.ones((SIZE, 1, 3))
              + rng.normal(0, 20, (SIZE, SIZE, 3))).clip(0, 255).astype(np.uint8)
    return md.png_bytes(Image.fromarray(pixels))


def mask_png() -> bytes:
    """White marks what to regenerate: a square in the middle."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[20:44, 20:44] = 255
    return md.png_bytes(Image.fromarray(mask, "L"))


def request_for(fields: dict) -> GenerationRequest:
    fields = dict(fields)
    init, mask = fields.pop("init", False), fields.pop("mask", False)
    if init:
        fields["init_image"] = ImageRef.from_bytes(init_png(), f"outputs/init-images/{INIT_NAME}")
    if mask:
        fields["init_mask"] = ImageRef.from_bytes(mask_png(), "outputs/mask-images/mask.png")
    return GenerationRequest(**{"width": SIZE, "height": SIZE, **fields})


def make(root: Path, names: list[str]) -> None:
    """Writes the named cases' PNGs and entries (every case when none is named)."""
    HERE.mkdir(exist_ok=True)
    (HERE / INIT_NAME).write_bytes(init_png())
    (HERE / "mask.png").write_bytes(mask_png())
    engines: dict[tuple[str, str], Generate] = {}
    index_path = HERE / "cases.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    for name in names or list(CASES):
        precision, fields = CASES[name]
        torch.set_num_threads(CASE_THREADS.get(name, THREADS))
        attention = CASE_ATTENTION.get(name, "sdpa")
        gen = engines.get((precision, attention))
        if gen is None:
            gen = engines[precision, attention] = Generate(root=root, precision=precision, attention=attention)
            gen.load_model()
        done = next(iter(gen.generate(request_for(fields))))
        (HERE / f"{name}.png").write_bytes(md.png_bytes(done.image))
        index[name] = {"precision": precision, "attention": attention, "threads": torch.get_num_threads(),
                       "torch": torch.__version__, "machine": machine_signature()}
        print(name, "written")
    index_path.write_text(json.dumps({n: index[n] for n in CASES if n in index}, indent=2) + "\n")


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / ".cache" / "invokeai-reference-root", sys.argv[2:])

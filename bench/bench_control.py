"""The cost of ControlNet units: one and two units against none, per image (so per step: the steps are
the same), on a Stable-Diffusion-1.5-shaped pipeline and a ControlNet of its shape (random weights),
timed A B A B ...

    python bench/bench_control.py [--pairs 3] [--size 256] [--steps 4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import interleave, table, write_result


def add_controlnet(root: Path) -> None:
    """A ControlNet of the SD-1.5 shape, made from the model's UNet, as a models.yaml entry."""
    import yaml
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(str(root / "models" / "sd15-random" / "unet"))
    ControlNetModel.from_unet(unet).save_pretrained(str(root / "models" / "control-sd15-random"))
    entries = yaml.safe_load((root / "models.yaml").read_text())
    entries["control-sd15-random"] = {"format": "controlnet", "path": "models/control-sd15-random", "family": "sd1"}
    (root / "models.yaml").write_text(yaml.safe_dump(entries))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()

    import numpy as np
    from bench_engine import sd15_root
    from PIL import Image

    from ldm.invoke.generate import Generate
    from ldm.invoke.request import ControlUnit, GenerationRequest, ImageRef

    with tempfile.TemporaryDirectory() as tmp:
        root = sd15_root(Path(tmp) / "sd15")
        add_controlnet(root)
        gen = Generate(root=root)
        gen.load_model()
        edges = np.zeros((args.size, args.size, 3), np.uint8)
        edges[:, ::16] = 255
        image = ImageRef.from_image(Image.fromarray(edges))
        unit = ControlUnit("control-sd15-random", image, "none")
        base = GenerationRequest("a house", steps=args.steps, width=args.size, height=args.size, seed=42,
                                 sampler_name="k_euler")

        def run(request: GenerationRequest):
            return lambda: next(iter(gen.generate(request)))

        one = interleave(run(base.replace(control=(unit,))), run(base), args.pairs)
        two = interleave(run(base.replace(control=(unit, unit))), run(base), args.pairs)
    shape = f"SD-1.5 shape {args.size}px {args.steps} steps, {gen.precision}"
    rows = [[f"one unit vs none, {shape}", one["a_median_s"], one["b_median_s"], one["ratio"],
             f"{one['pair_ratio_min']:.3f}-{one['pair_ratio_max']:.3f}"],
            [f"two units vs none, {shape}", two["a_median_s"], two["b_median_s"], two["ratio"],
             f"{two['pair_ratio_min']:.3f}-{two['pair_ratio_max']:.3f}"]]
    print(table(rows, ["measure", "with s", "without s", "ratio", "pair spread"]))
    write_result("control", {"one_unit": one, "two_units": two, "size": args.size, "steps": args.steps})


if __name__ == "__main__":
    main()

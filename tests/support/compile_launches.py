"""Two ``invokeai --compile --from_file`` launches on one demo root (the first compiles into its empty
ROOT/cache/compile, the second loads from it), shared by tests/test_compile.py and tests/test_bench_gpu.py
so that a test session compiles the demo UNet once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.make_root import build_root

REPO = Path(__file__).resolve().parents[2]
LINCOLN = REPO / "tests" / "assets" / "Lincoln-and-Parrot-512.png"
# TORCH_LOGS=recompiles: dynamo says each time it compiles a second graph of the UNet, and why.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "TORCH_LOGS": "recompiles"}
SMALL = "-s 4 -S 7 -W 64 -H 64 -A k_euler"
LINES = {
    "plain": f"strawberry sushi {SMALL}",
    "edited": f'"[a cat:a dog:0.5] on a mat" {SMALL} --prompt_syntax a1111',
    "cat": f'"a cat on a mat" {SMALL} --prompt_syntax a1111',
    "dog": f'"a dog on a mat" {SMALL} --prompt_syntax a1111',
    "control": f"strawberry sushi {SMALL} --control model=demo-canny,image={LINCOLN},preprocessor=canny",
}


@dataclass
class Launch:
    images: dict[str, Path]  # by LINES key
    stderr: str
    seconds: float


def compile_root(root: Path) -> Path:
    """The demo models and a ControlNet made from the demo UNet (random output convolutions, so it steers)."""
    from diffusers import UNet2DConditionModel

    from tests.support.tiny_control import build_tiny_controlnet, write_controlnet_folder

    root = build_root(root, postprocessors=False)
    unet = UNet2DConditionModel.from_pretrained(str(root / "models" / "demo" / "unet"))
    write_controlnet_folder(build_tiny_controlnet(unet, seed=5), root / "models" / "controlnet" / "demo-canny")
    models = yaml.safe_load((root / "models.yaml").read_text())
    models["demo-canny"] = {"format": "controlnet", "path": "models/controlnet/demo-canny", "family": "sd1"}
    (root / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    return root


def launch(root: Path, outdir: Path) -> Launch:
    """``invokeai --compile --from_file`` over LINES in a new process."""
    outdir.mkdir(parents=True)
    prompts = outdir / "prompts.txt"
    prompts.write_text("".join(line + "\n" for line in LINES.values()))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "invokeai_gui", "--root", str(root), "--outdir", str(outdir),
                           "--compile", "--from_file", str(prompts)],
                          env=ENV, capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    made = re.findall(r"(\S+\.png): ", proc.stdout)
    assert len(made) == len(LINES), proc.stdout
    return Launch(dict(zip(LINES, map(Path, made))), proc.stderr, took)

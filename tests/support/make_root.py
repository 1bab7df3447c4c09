"""Builds a runtime root dir for tests: models.yaml with two demo models (and, for the e2e root, a
tiny ControlNet made from the demo model's UNet), and random-weight postprocessor files under their
upstream names.

    python -m tests.support.make_root DIR     (the e2e root, with the ControlNet)
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ldm.invoke.demo_model import DEMO_DESCRIPTION, ensure_demo_model


def build_root(root: Path, postprocessors: bool = True, control: bool = False) -> Path:
    """``control``: add the tiny ControlNet (``CONTROL_MODEL``) to models.yaml, as the e2e root has it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    models = {
        "demo": {"description": DEMO_DESCRIPTION, "format": "demo", "path": "models/demo", "seed": 0,
                 "width": 512, "height": 512, "default": True},
        "demo-alt": {"description": "A second demo model (other random weights), for switching tests",
                     "format": "demo", "path": "models/demo-alt", "seed": 1, "width": 512, "height": 512},
    }
    ensure_demo_model(root, 0, root / "models" / "demo")
    ensure_demo_model(root, 1, root / "models" / "demo-alt")
    if control:
        models.update(add_control_model(root))
    (root / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    if postprocessors:
        from tests.support.restoration_weights import write_test_weights

        write_test_weights(root)
    return root


CONTROL_MODEL = "tiny-control"  # the e2e specs' ControlNet


def add_control_model(root: Path) -> dict[str, dict]:
    """A tiny ControlNet for the demo model (its UNet's shape, seeded random weights) as a diffusers
    folder; returns its models.yaml entry."""
    from diffusers import UNet2DConditionModel

    from tests.support.tiny_control import build_tiny_controlnet, write_controlnet_folder

    unet = UNet2DConditionModel.from_pretrained(str(root / "models" / "demo" / "unet"))
    path = Path("models") / "controlnet" / CONTROL_MODEL
    write_controlnet_folder(build_tiny_controlnet(unet, seed=11), root / path)
    return {CONTROL_MODEL: {"description": "A tiny ControlNet for the demo model (random weights)",
                            "format": "controlnet", "path": str(path), "family": "sd1"}}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.support.make_root DIR")
    print(build_root(Path(sys.argv[1]), control=True))

"""Builds a runtime root dir for tests: models.yaml with two demo models, and random-weight
postprocessor files under their upstream names.

    python -m tests.support.make_root DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from ldm.invoke.demo_model import DEMO_DESCRIPTION, ensure_demo_model


def build_root(root: Path, postprocessors: bool = True) -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    models = {
        "demo": {"description": DEMO_DESCRIPTION, "format": "demo", "path": "models/demo", "seed": 0,
                 "width": 512, "height": 512, "default": True},
        "demo-alt": {"description": "A second demo model (other random weights), for switching tests",
                     "format": "demo", "path": "models/demo-alt", "seed": 1, "width": 512, "height": 512},
    }
    (root / "models.yaml").write_text(yaml.safe_dump(models, sort_keys=False))
    ensure_demo_model(root, 0, root / "models" / "demo")
    ensure_demo_model(root, 1, root / "models" / "demo-alt")
    if postprocessors:
        from tests.support.restoration_weights import write_test_weights

        write_test_weights(root)
    return root


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.support.make_root DIR")
    print(build_root(Path(sys.argv[1])))

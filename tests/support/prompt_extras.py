"""LoRA and embedding files for a test root: a real tiny LoRA for the demo model, and files the studio
must refuse (a pickle that would run code, a file that is not what its name says).

    python -m tests.support.prompt_extras ROOT
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import torch

GOOD_LORA = "goodlora"
PICKLE_LORA = "picklelora"  # .ckpt
JUNK_LORA = "junklora"  # .safetensors of junk bytes
PICKLE_EMBEDDING = "picklestyle"  # .pt


def write_code_pickle(path: Path) -> Path:
    """A .pt/.ckpt shaped like the real thing but holding an object torch's safe loader will not build."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"string_to_param": {"*": torch.zeros(1, 32)}, "made": datetime.date(2023, 1, 1)}, str(path))
    return path


def write_prompt_extras(root: Path) -> Path:
    from ldm.invoke.demo_model import build_demo_pipeline
    from tests.support.tiny_checkpoints import write_tiny_lora

    root = Path(root)
    write_tiny_lora(build_demo_pipeline(0), root / "loras" / f"{GOOD_LORA}.safetensors")
    write_code_pickle(root / "loras" / f"{PICKLE_LORA}.ckpt")
    (root / "loras" / f"{JUNK_LORA}.safetensors").write_bytes(b"not a safetensors file at all")
    write_code_pickle(root / "embeddings" / f"{PICKLE_EMBEDDING}.pt")
    return root


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.support.prompt_extras ROOT")
    print(write_prompt_extras(Path(sys.argv[1])))

"""The published architecture of each Stable Diffusion family (SD 1.x, SD 2.x, SDXL), one JSON file each.

They ship inside the package so single-file checkpoints load with no network: the loader starts from
these values and reads the sizes that can differ (channels, layers) from the checkpoint's own tensors.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

FAMILIES = ("sd1", "sd2", "sdxl")


@cache
def _load(family: str) -> dict[str, Any]:
    return json.loads(resources.files(__name__).joinpath(f"{family}.json").read_text(encoding="utf-8"))


def family_config(family: str) -> dict[str, Any]:
    """A fresh copy of the family's configuration (callers may change it)."""
    if family not in FAMILIES:
        raise KeyError(family)
    return copy.deepcopy(_load(family))

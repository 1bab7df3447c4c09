"""Preprocessor networks loaded once: each detector is built from its weights on the device the job runs
on and kept while those weights stay the same by content (their sha256, see identity.py), so a second
map does not read them again and a file replaced under the same name is read afresh."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from .identity import weights_digest

KEPT = 4  # detectors kept at once (the least recently used one goes first)

_detectors: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def torch_device(device: Any = None) -> Any:
    """``device`` as a ``torch.device``; the CPU when none is given."""
    import torch

    return torch.device(device if device is not None else "cpu")


def detector(name: str, files: tuple[Path, ...], build: Callable[[], Any], device: Any = None) -> Any:
    """The detector ``name`` built by ``build()`` from ``files`` (files or weights folders) for ``device``,
    the kept one while their content is unchanged."""
    key = (name, str(torch_device(device)), *((str(f), weights_digest(f)) for f in files))
    with _lock:
        if key in _detectors:
            _detectors.move_to_end(key)
            return _detectors[key]
    made = build()
    with _lock:
        for old in [k for k in _detectors if k[0] == name]:  # an older version of the same detector
            del _detectors[old]
        _detectors[key] = made
        while len(_detectors) > KEPT:
            _detectors.popitem(last=False)
    return made


def map_size(image: Image.Image, resolution: int) -> int:
    """The short side of the map: the network's resolution, or the picture's own when it is smaller."""
    return min(min(image.size), int(resolution))

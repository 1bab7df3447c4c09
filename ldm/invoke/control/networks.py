"""Preprocessor networks loaded once: each detector is built from its weights files and kept while
those files stay the same (modification time and size), so a second map does not read them again and a
replaced file is read afresh."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

KEPT = 4  # detectors kept at once (the least recently used one goes first)

_detectors: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def detector(name: str, files: tuple[Path, ...], build: Callable[[], Any]) -> Any:
    """The detector ``name`` built by ``build()`` from ``files``, the kept one while they are unchanged."""
    key = (name, *((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files))
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

"""Postprocessors: GFPGAN/CodeFormer face restoration and Real-ESRGAN upscaling from local weights.

Public API (what `Generate` calls):

- ``FaceRestorer(root, device='cpu').restore(image, tool, strength, fidelity=0.75) -> RestoreResult``
  with ``.image``, ``.faces_found`` and ``.note``; ``.offload()``.
- ``Upscaler(root, device='cpu').upscale(image, scale, strength, tile=None) -> PIL.Image``; ``.offload()``.
- ``available_postprocessors(root) -> dict`` for the UI.
- ``WEIGHT_FILES``: where each weight file lives under the root and where configure fetches it.

Nothing here downloads: a missing file raises ``MissingWeightsError`` naming it.
"""

from __future__ import annotations

from . import _basicsr_compat  # noqa: F401  (first, so basicsr imports anywhere after this)
from .faces import FaceRestorer, RestoreResult
from .upscale import Upscaler
from .weights import WEIGHT_FILES, available_postprocessors, weight_path

__all__ = [
    "WEIGHT_FILES",
    "FaceRestorer",
    "RestoreResult",
    "Upscaler",
    "available_postprocessors",
    "weight_path",
]

"""Lets basicsr 1.4.2 (used by gfpgan, realesrgan and facexlib) import on current torchvision."""

from __future__ import annotations

import importlib
import sys

import torchvision.transforms.functional as _functional

# basicsr 1.4.2 does `from torchvision.transforms.functional_tensor import rgb_to_grayscale` at import
# time. torchvision 0.17 removed that private module; the same functions now live in
# `torchvision.transforms.functional`. Registering the old name as an alias lets basicsr (and so gfpgan
# and realesrgan) import unchanged. Every module of this package that may import basicsr imports this
# one first. Where an old torchvision still ships the module, it is left alone.
try:
    importlib.import_module("torchvision.transforms.functional_tensor")
except ModuleNotFoundError:
    sys.modules["torchvision.transforms.functional_tensor"] = _functional

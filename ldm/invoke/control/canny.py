"""Canny edge maps (OpenCV): white edges on black, as the canny ControlNets were trained on."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image


def canny_edges(image: Image.Image, low_threshold: float = 100, high_threshold: float = 200) -> Image.Image:
    """Edges where the picture's gradient passes the thresholds (hysteresis between low and high)."""
    gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, int(low_threshold), int(high_threshold))
    return Image.fromarray(edges).convert("RGB")

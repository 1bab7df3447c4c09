"""A control unit sent without a picture of its own steers with the request's init picture, as A1111 does in
img2img: the picture as the generator works at it, and for a preprocessor that fills (``inpaint_only``) the
part the request regenerates (painted, or transparent) left transparent."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import InvalidParameterError
from ..generator.inputs import init_inputs
from ..metadata import png_bytes
from ..request import ImageRef
from .table import PREPROCESSORS

NO_PICTURE = ("the unit has no picture, and the request has no init image for it to take; choose a control picture, "
              "or give the request an init image (-I in the CLI; in Image to Image, Inpainting, Outpainting or on the "
              "canvas a unit without a picture uses the picture being worked on)")


def init_picture(field: str, preprocessor: str, init_image: ImageRef | None, init_mask: ImageRef | None,
                 width: int, height: int, fit: bool) -> bytes:
    """The PNG a picture-less unit (``field`` names it in errors) uses: the init picture, RGB, or RGBA with
    alpha 0 where the request fills when ``preprocessor`` reads transparency as the part to fill."""
    if init_image is None:
        raise InvalidParameterError(field, NO_PICTURE)
    inputs = init_inputs(init_image, init_mask, width, height, fit)
    assert inputs.image is not None
    rgba = np.asarray(inputs.image.convert("RGBA")).copy()
    rgba[..., 3] = 255
    spec = PREPROCESSORS.get(preprocessor)  # an unknown one is refused by name when the request is checked
    if spec is not None and spec.masks and inputs.mask is not None:
        rgba[np.asarray(inputs.mask.convert("L")) > 127, 3] = 0
        picture = Image.fromarray(rgba, "RGBA")
    else:
        picture = Image.fromarray(rgba[..., :3], "RGB")
    return png_bytes(picture)

"""How big a request body to the HTTP APIs may be: the base64 size of the images the endpoint may
carry, each at the upload limit, plus 1 MiB for everything else. Larger bodies get 413 unread."""

from __future__ import annotations

from ldm.invoke.request import MAX_CONTROL_UNITS

from ..uploads import UploadLimits, human_size, sizes_that_differ

ALLOWANCE = 1024 * 1024  # the prompt, the settings and the JSON around them
MAX_BATCH_IMAGES = 8  # extra-batch-images: images in one request
# Images one body may carry, by path; other paths carry none (generations, options, ...).
# txt2img and img2img may also carry one control image per ControlNet unit (alwayson_scripts).
IMAGES_PER_BODY = {
    "/sdapi/v1/txt2img": MAX_CONTROL_UNITS,
    "/sdapi/v1/img2img": 2 + MAX_CONTROL_UNITS,  # init_images[0] (the others are not used) and the mask
    "/sdapi/v1/extra-single-image": 1,
    "/sdapi/v1/extra-batch-images": MAX_BATCH_IMAGES,
    "/sdapi/v1/png-info": 1,
    "/v1/images/edits": 2,  # image and mask (multipart: raw bytes, smaller than their base64)
    "/v1/images/variations": 1,
    "/controlnet/detect": MAX_BATCH_IMAGES,
}


def base64_size(n: int) -> int:
    return 4 * ((n + 2) // 3)


def body_limit(path: str, limits: UploadLimits) -> int:
    """The largest body accepted at ``path``, in bytes."""
    return IMAGES_PER_BODY.get(path.rstrip("/"), 0) * base64_size(limits.max_bytes) + ALLOWANCE


def too_large_message(path: str, limits: UploadLimits, size: int | None = None) -> str:
    images = IMAGES_PER_BODY.get(path.rstrip("/"), 0)
    limit = human_size(body_limit(path, limits))
    sent = ""
    if size is not None:
        shown, limit = sizes_that_differ(size, body_limit(path, limits))
        sent = f" ({shown} was sent)"
    if not images:
        why = "it carries no image"
    else:
        why = (f"room for {images} image{'s' if images != 1 else ''} of at most {human_size(limits.max_bytes)} "
               f"each in base64, plus {human_size(ALLOWANCE)}")
    return f"The request body is too large{sent}: {path} takes at most {limit} ({why})."


__all__ = ["ALLOWANCE", "IMAGES_PER_BODY", "MAX_BATCH_IMAGES", "base64_size", "body_limit", "too_large_message"]

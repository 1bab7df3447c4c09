"""Checking and storing uploaded images: content sniffing, size limits, safe names, atomic writes."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from werkzeug.utils import secure_filename

from ldm.invoke.errors import UserError
from ldm.invoke.files import atomic_write

# Pillow's format name → the extension the stored file gets (the client's extension is not trusted).
ACCEPTED_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}

# Ours: pictures the UI composes for one generation (an outpainting frame, a canvas region) are inputs,
# not the user's uploads: they are kept in WORK_FOLDER, outside the gallery, and the result's metadata
# names them.
WORK_DESTINATIONS = frozenset({"outpainting", "canvas-region"})
# A control unit's picture is an input too: kept in CONTROL_FOLDER, outside the gallery.
CONTROL_DESTINATION = "control"


class UploadError(UserError, ValueError):
    """An upload that is refused; the message tells the user why."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return ACCEPTED_FORMATS[self.format]


def human_size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1e6:.1f} MB".replace(".0 MB", " MB")


def sizes_that_differ(n: int, limit: int) -> tuple[str, str]:
    """``n`` and ``limit`` written so that different numbers never read the same: as ``human_size``
    when that tells them apart, else with more decimals (52.43 MB), else in bytes (52,428,801 bytes)."""
    if n == limit or human_size(n) != human_size(limit):
        return human_size(n), human_size(limit)
    for digits in (2, 3):
        a, b = f"{n / 1e6:.{digits}f} MB", f"{limit / 1e6:.{digits}f} MB"
        if a != b and n >= 1_000_000 and limit >= 1_000_000:
            return a, b
    return f"{n:,} bytes", f"{limit:,} bytes"


def too_big_message(what: str, n: int, limit: int) -> str:
    """``"{what} is 52,428,801 bytes; the limit is 52,428,800 bytes."`` with sizes that differ."""
    size, most = sizes_that_differ(n, limit)
    return f"{what} is {size}; the limit is {most}."


def check_image(data: object, limits: UploadLimits) -> CheckedImage:
    """Decodes the whole image once, so a fake, truncated or oversized file never reaches the disk."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise UploadError("The upload carried no file data (expected the image's bytes).")
    if not data:
        raise UploadError("The uploaded file is empty.")
    if len(data) > limits.max_bytes:
        raise UploadError(too_big_message("The uploaded file", len(data), limits.max_bytes))
    try:
        with Image.open(BytesIO(data)) as im:
            fmt = im.format or ""
            width, height = im.size
            if fmt not in ACCEPTED_FORMATS:
                raise UploadError(f"The uploaded file is a {fmt or 'unknown'} image; only PNG, JPEG and WebP are accepted.")
            # Checked before decoding: a few kilobytes can declare billions of pixels.
            if width * height > limits.max_pixels:
                raise UploadError(
                    f"The uploaded image is {width}×{height} pixels, more than the limit of "
                    f"{limits.max_pixels / 1e6:.0f} megapixels."
                )
            im.verify()
        with Image.open(BytesIO(data)) as im:
            im.load()
    except UploadError:
        raise
    except UnidentifiedImageError:
        raise UploadError("The uploaded file is not an image (only PNG, JPEG and WebP are accepted).") from None
    except Image.DecompressionBombError:
        raise UploadError("The uploaded image declares too many pixels to be decoded safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise UploadError(f"The uploaded image is damaged or truncated ({exc}).") from None
    return CheckedImage(data=data, format=fmt, width=width, height=height)


def decode_base64_image(text: object, limits: UploadLimits) -> CheckedImage:
    """An image sent inline (``data:image/png;base64,...`` or bare base64), checked like an upload."""
    if not isinstance(text, str) or not text:
        raise UploadError("The image data is missing.")
    if text.startswith("data:"):
        text = text.split(",", 1)[-1]
    if len(text) > limits.max_bytes * 4 // 3 + 4:
        raise UploadError(f"The image is larger than the limit of {human_size(limits.max_bytes)}.")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("The image data is not valid base64.") from None
    return check_image(data, limits)


def safe_stem(name: object, fallback: str = "upload") -> str:
    """A file name stem made of safe characters, short enough for every file system."""
    cleaned = secure_filename(str(name or "").replace("\\", "/"))  # a Windows path is a path too
    stem = Path(cleaned).stem if cleaned else ""
    return (stem or fallback)[:80]


def store_image(image: CheckedImage, name: object, folder: Path, fallback: str = "upload") -> Path:
    """Writes a checked image under a unique, sanitised name in ``folder``."""
    stem = safe_stem(name, fallback)
    while True:
        final = folder / f"{stem}.{uuid.uuid4().hex[:8]}{image.extension}"
        try:
            return atomic_write(image.data, final, exclusive=True)
        except FileExistsError:
            continue

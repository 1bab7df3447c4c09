"""Upload checks: content sniffing, size and pixel limits, decompression bombs, safe names, atomic writes."""

from __future__ import annotations

import base64
import struct
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from invokeai_gui.server.uploads import (
    UploadError,
    UploadLimits,
    check_image,
    decode_base64_image,
    safe_stem,
    store_image,
)

LIMITS = UploadLimits(max_bytes=2_000_000, max_pixels=4_000_000)


def encoded(fmt: str, size: tuple[int, int] = (32, 16), mode: str = "RGB") -> bytes:
    buffer = BytesIO()
    Image.new(mode, size, 128).save(buffer, format=fmt)
    return buffer.getvalue()


def declared_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("fmt,extension", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp")])
def test_png_jpeg_and_webp_are_accepted_and_named_by_their_content(fmt, extension, tmp_path):
    checked = check_image(encoded(fmt), LIMITS)
    assert (checked.format, checked.width, checked.height) == (fmt, 32, 16)
    stored = store_image(checked, "holiday.png", tmp_path)  # the client's extension is not trusted
    assert stored.suffix == extension and stored.read_bytes() == checked.data


@pytest.mark.parametrize("data,message", [
    (b"plain text pretending to be a PNG", "not an image"),
    (encoded("GIF"), "only PNG, JPEG and WebP"),
    (encoded("BMP"), "only PNG, JPEG and WebP"),
    (encoded("PNG", (64, 64))[:-30], "damaged or truncated"),
    (encoded("JPEG", (64, 64))[:200], "damaged or truncated"),
    (declared_png(3000, 3000), "megapixels"),
    (declared_png(200_000, 200_000), "pixels"),
    (b"", "empty"),
    ("a string", "no file data"),
])
def test_bad_uploads_are_refused_with_a_reason(data, message):
    with pytest.raises(UploadError, match=message):
        check_image(data, LIMITS)


def test_the_byte_limit_is_checked_before_decoding():
    with pytest.raises(UploadError, match=r"is \d+ bytes; the limit is 20 bytes"):
        check_image(encoded("PNG"), UploadLimits(max_bytes=20))


def test_inline_base64_images_are_checked_the_same_way():
    png = encoded("PNG")
    assert decode_base64_image("data:image/png;base64," + base64.b64encode(png).decode(), LIMITS).format == "PNG"
    assert decode_base64_image(base64.b64encode(png).decode(), LIMITS).width == 32
    with pytest.raises(UploadError, match="not valid base64"):
        decode_base64_image("###", LIMITS)
    with pytest.raises(UploadError, match="megapixels"):
        decode_base64_image(base64.b64encode(declared_png(5000, 5000)).decode(), LIMITS)


@pytest.mark.parametrize("name,stem", [
    ("../../etc/passwd", "etc_passwd"),
    ("C:\\Windows\\evil.png", "C_Windows_evil"),
    ("photo of me.JPG", "photo_of_me"),
    ("", "upload"),
    ("....", "upload"),
    ("x" * 500 + ".png", "x" * 80),
    (None, "upload"),
])
def test_names_are_sanitised(name, stem):
    assert safe_stem(name) == stem


def test_stored_names_are_unique_and_no_temp_file_is_left(tmp_path: Path):
    checked = check_image(encoded("PNG"), LIMITS)
    first, second = store_image(checked, "same.png", tmp_path), store_image(checked, "same.png", tmp_path)
    assert first != second and first.name.startswith("same.") and second.name.startswith("same.")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, second.name])

"""A result saved with the maps its control units steered with: each map under control-images/,
named after the result (``000012.1234.control-0.png``), and named in the recipe as ``map_path``."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

from PIL import Image

from ..files import CONTROL_FOLDER, ResultWriter, atomic_write, relative_to_output_url


def map_name(result: str, index: int) -> str:
    """The file name of unit ``index``'s map for the result file ``result``."""
    return f"{result.removesuffix('.png')}.control-{index}.png"


def with_map_paths(png: bytes, urls: Sequence[str]) -> bytes:
    """The PNG with each control unit of its recipe naming its map (the pixels unchanged)."""
    from .. import metadata as md

    with Image.open(BytesIO(png)) as image:
        image.load()
        recipe = md.image_metadata(image)
        units = (recipe.get("image") or {}).get("control") or []
        for unit, url in zip(units, urls):
            unit["map_path"] = url
        return md.png_bytes(md.attach_metadata(image.copy(), recipe))


def save_result(writer: ResultWriter, png: bytes, seed: int, maps: Sequence[bytes] = (),
                postprocessed: bool = False) -> Path:
    """Saves the result under its next number and, before it appears, the maps (PNG bytes) beside it."""
    if not maps:
        return writer.save(png, seed, postprocessed)

    def named(name: str) -> bytes:
        urls = []
        for index, data in enumerate(maps):
            relative = f"{CONTROL_FOLDER}/{map_name(name, index)}"
            atomic_write(data, writer.outdir / relative)
            urls.append(relative_to_output_url(relative))
        return with_map_paths(png, urls)

    return writer.save(named, seed, postprocessed)

"""Pictures made by earlier code regenerate pixel for pixel from the recipe each one carries.

``tests/reference/*.png`` were made by ``tests/support/reference_images.py`` (one torch thread unless the
picture records another, each precision path the CPU has); here each recipe is read back from the PNG as Use All reads it, run on the
demo model, and every pixel compared. A failure means a recorded seed no longer means what it did."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ldm.invoke.generate import Generate
from ldm.invoke.metadata import read_metadata
from ldm.invoke.request import GenerationRequest
from tests.support.reference_images import CASES, HERE

INDEX = json.loads((HERE / "cases.json").read_text())


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference-root")
    made: dict[str, Generate] = {}

    def engine(precision: str) -> Generate:
        if precision not in made:
            made[precision] = Generate(root=root, precision=precision)
            made[precision].load_model()
        return made[precision]

    before = torch.get_num_threads()
    yield engine
    torch.set_num_threads(before)


def load_recorded(url: str) -> bytes:
    """The recipe names its inputs by their gallery URL; the reference folder holds them by file name."""
    return (HERE / Path(url).name).read_bytes()


def test_every_case_has_its_png_and_entry():
    assert set(INDEX) == set(CASES)
    for name in CASES:
        assert (HERE / f"{name}.png").is_file(), name


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_reference_picture_regenerates_from_its_recipe(engines, name):
    entry = INDEX[name]
    reference = Image.open(HERE / f"{name}.png")
    metadata = read_metadata(reference)
    assert metadata["image"].get("precision") == entry["precision"]
    # Pictures made since threads were recorded carry their count; older ones have it in cases.json.
    threads = metadata["image"].get("threads", entry["threads"])
    assert threads == entry["threads"]
    torch.set_num_threads(threads)
    request = GenerationRequest.from_metadata(metadata, load_image=load_recorded)
    done = next(iter(engines(entry["precision"]).generate(request)))
    expected = np.asarray(reference.convert("RGB"))
    got = np.asarray(done.image.convert("RGB"))
    assert got.shape == expected.shape
    differing = int((got != expected).any(axis=2).sum())
    assert differing == 0, f"{name}: {differing} of {got.shape[0] * got.shape[1]} pixels differ from the reference"

"""Pictures made by earlier code regenerate pixel for pixel from the recipe each one carries.

``tests/reference/*.png`` were made by ``tests/support/reference_images.py`` (one torch thread unless the
picture records another, each precision path the CPU has); here each recipe is read back from the PNG as Use All reads it, run on the
demo model, and every pixel compared. On the machine that made a picture (the same ``machine_signature``)
every pixel must be equal; on another CPU, whose kernels round differently, the picture must be close
(``CLOSE``: within a level in float32, within bfloat16's rounding otherwise). A failure means a recorded
seed no longer means what it did."""

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
from tests.support.reference_images import CASES, HERE, machine_signature

INDEX = json.loads((HERE / "cases.json").read_text())
MACHINE = machine_signature()
# On another machine than the one that made it (or one not recorded): the largest difference of any
# channel, in levels of 255, and the largest mean difference. Measured between two such CPUs: float32
# differed by 1 level in at most 12 of 4096 pixels, bfloat16 by up to 12 levels (mean 1.7).
CLOSE = {"float32": (2, 0.05), "bfloat16": (32, 3.0), "bfloat16-weights": (32, 3.0)}


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference-root")
    made: dict[tuple[str, str], Generate] = {}

    def engine(precision: str, attention: str) -> Generate:
        if (precision, attention) not in made:
            made[precision, attention] = Generate(root=root, precision=precision, attention=attention)
            made[precision, attention].load_model()
        return made[precision, attention]

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
    # Pictures made before --attention carry none: they were made with SDPA.
    attention = metadata["image"].get("attention", "sdpa")
    assert attention == entry.get("attention", "sdpa")
    request = GenerationRequest.from_metadata(metadata, load_image=load_recorded)
    done = next(iter(engines(entry["precision"], attention).generate(request)))
    expected = np.asarray(reference.convert("RGB"))
    got = np.asarray(done.image.convert("RGB"))
    assert got.shape == expected.shape
    differing = int((got != expected).any(axis=2).sum())
    if entry.get("machine") == MACHINE:
        assert differing == 0, f"{name}: {differing} of {got.shape[0] * got.shape[1]} pixels differ from the reference"
    else:
        gap = np.abs(got.astype(int) - expected.astype(int))
        most, mean = CLOSE[entry["precision"]]
        assert gap.max() <= most and gap.mean() <= mean, \
            f"{name}: made on another machine ({entry.get('machine') or 'not recorded'}), and off by up to " \
            f"{gap.max()} levels (mean {gap.mean():.2f}) on this one ({MACHINE})"

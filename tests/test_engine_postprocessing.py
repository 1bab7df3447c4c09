"""Postprocessing through the engine's door: upscale then restore faces after generation, and
``Generate.postprocess`` on an existing image, with the steps recorded in the metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ldm.invoke.errors import MissingWeightsError
from ldm.invoke.generate import Generate
from ldm.invoke.metadata import PngWriter, read_metadata
from tests.support.restoration_weights import face_test_image


@pytest.fixture(scope="module")
def gen(test_root) -> Generate:
    g = Generate(root=test_root)
    g.load_model()
    return g


def steps_of(image) -> list[dict]:
    return json.loads(image.info["sd-metadata"])["image"]["postprocessing"]


def test_generation_with_upscale_and_face_restoration_records_both_in_order(gen):
    statuses = []
    image, seed = gen.prompt2image("a portrait", width=64, height=64, steps=2, seed=5, upscale=[2, 0.8],
                                   facetool="gfpgan", facetool_strength=0.5, status_callback=statuses.append)[0]
    assert image.size == (128, 128)
    assert [s["type"] for s in steps_of(image)] == ["esrgan", "gfpgan"]
    assert steps_of(image)[0] == {"type": "esrgan", "scale": 2, "strength": 0.8}
    assert statuses.index("Upscaling") < statuses.index("Restoring Faces")
    assert "-U 2 0.8" in image.info["Dream"]


def test_postprocess_restores_a_face_and_appends_to_existing_metadata(gen, tmp_path):
    plain = gen.prompt2image("a portrait", width=64, height=64, steps=2, seed=6)[0][0]
    face = face_test_image()
    face.info.update(plain.info)  # a gallery image carrying its recipe
    restored = gen.postprocess(face, "gfpgan", {"facetool_strength": 1.0})
    assert steps_of(restored) == [{"type": "gfpgan", "strength": 1.0, "faces": 1}]
    diff = np.abs(np.asarray(restored, np.int16) - np.asarray(face, np.int16)).sum(axis=2)
    assert diff[40:90, 40:90].mean() > 1, "the face region must change"
    assert diff[150:, 150:].max() == 0 and diff[:10, :10].max() == 0, "pixels far from the face stay"
    upscaled = gen.postprocess(restored, "esrgan", {"upscale": [2, 0.5]})
    assert [s["type"] for s in steps_of(upscaled)] == ["gfpgan", "esrgan"]
    assert json.loads(upscaled.info["sd-metadata"])["image"]["seed"] == 6
    path = PngWriter(tmp_path).save_image(upscaled, 6, postprocessed=True)
    assert path.name == "000001.6.postprocessed.png"
    assert [s["type"] for s in read_metadata(path)["image"]["postprocessing"]] == ["gfpgan", "esrgan"]


def test_codeformer_records_its_fidelity(gen):
    out = gen.postprocess(face_test_image(with_face=False), "codeformer",
                          {"facetool_strength": 0.7, "codeformer_fidelity": 0.3})
    assert steps_of(out) == [{"type": "codeformer", "strength": 0.7, "faces": 0, "fidelity": 0.3}]


def test_missing_weights_name_the_file_and_generation_still_works(tmp_path):
    g = Generate(root=tmp_path)
    assert g.available_postprocessors()["gfpgan"]["available"] is False
    image = g.prompt2image("x", width=64, height=64, steps=2, seed=1)[0][0]
    with pytest.raises(MissingWeightsError) as info:
        g.postprocess(image, "gfpgan", {"facetool_strength": 0.5})
    assert "GFPGANv1.4.pth" in str(info.value) and "invokeai-configure" in str(info.value)

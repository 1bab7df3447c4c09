"""OpenAI's images API, driven by the official ``openai`` SDK unchanged, against a real server on the demo model."""

from __future__ import annotations

import base64
import json
from io import BytesIO

import numpy as np
import openai
import pytest
import requests
from PIL import Image

from ldm.invoke.request import SEAM

pytestmark = pytest.mark.timeout(300)

SMALL = {"steps": 2, "sampler": "Euler"}  # our extensions, sent as extra_body


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server.url}v1", api_key="dummy", max_retries=0, timeout=120)


def png(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(BytesIO(data)).convert("RGB")).astype(int)


def test_generate_two_images_as_urls_that_the_gallery_serves(server, client):
    result = client.images.generate(prompt="a lighthouse", n=2, size="64x64", extra_body={**SMALL, "seed": 7})
    assert len(result.data) == 2
    for item in result.data:
        assert item.url.startswith(server.url + "outputs/")
        served = requests.get(item.url, timeout=30)
        assert served.status_code == 200
        assert Image.open(BytesIO(served.content)).size == (64, 64)
    assert len({item.url for item in result.data}) == 2
    summaries = [j["summary"] for j in server.studio.jobs.snapshot()]
    assert any(s.startswith("API txt2img") for s in summaries), summaries


def test_generate_as_base64_with_our_extensions_is_reproducible(client):
    def draw() -> list[bytes]:
        result = client.images.generate(prompt="a lighthouse", n=2, size="64x64", response_format="b64_json",
                                        extra_body={**SMALL, "seed": 42, "negative_prompt": "fog"})
        return [base64.b64decode(item.b64_json) for item in result.data]

    first, second = draw(), draw()
    assert len(first) == 2 and all(Image.open(BytesIO(d)).size == (64, 64) for d in first)
    assert [pixels(d).tolist() for d in first] == [pixels(d).tolist() for d in second]
    meta = json.loads(Image.open(BytesIO(first[0])).info["sd-metadata"])["image"]
    assert (meta["prompt_syntax"], meta["negative_prompt"]) == ("a1111", "fog")  # A1111's syntax, negative apart


def test_a_bad_size_is_a_bad_request_naming_size(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(prompt="x", size="100x7", extra_body=SMALL)
    assert "size" in str(caught.value)
    assert caught.value.body["param"] == "size"


def test_an_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError):
        client.images.generate(prompt="x", size="64x64", model="no-such-model", extra_body=SMALL)


def test_edit_repaints_only_the_transparent_region_of_the_mask(client):
    rng = np.random.default_rng(0)
    original = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), "RGB")
    mask = np.full((64, 64, 4), 255, dtype=np.uint8)
    mask[24:40, 24:40, 3] = 0  # transparent: repaint here
    result = client.images.edit(image=("picture.png", png(original)),
                                mask=("mask.png", png(Image.fromarray(mask, "RGBA"))),
                                prompt="a red square", n=1, size="64x64", response_format="b64_json",
                                extra_body=SMALL)
    edited = pixels(base64.b64decode(result.data[0].b64_json))
    before = np.asarray(original).astype(int)
    far = np.ones((64, 64), dtype=bool)
    far[24 - SEAM:40 + SEAM, 24 - SEAM:40 + SEAM] = False
    assert (edited[far] == before[far]).all(), "pixels far from the mask changed"
    assert (edited[24:40, 24:40] != before[24:40, 24:40]).any(), "the masked region was not repainted"


def test_a_variation_reuses_the_recorded_prompt(server, client):
    made = client.images.generate(prompt="a quiet harbour", size="64x64", response_format="b64_json",
                                  extra_body={**SMALL, "seed": 3})
    source = base64.b64decode(made.data[0].b64_json)
    result = client.images.create_variation(image=("source.png", source), n=1, response_format="b64_json",
                                            extra_body={"steps": 4})
    variation = base64.b64decode(result.data[0].b64_json)
    assert Image.open(BytesIO(variation)).size == (64, 64)
    assert "a quiet harbour" in Image.open(BytesIO(variation)).info["sd-metadata"]
    assert '"strength": 0.6' in Image.open(BytesIO(variation)).info["sd-metadata"]


def test_models_lists_the_studio_models(client):
    names = [m.id for m in client.models.list()]
    assert {"demo", "demo-alt"} <= set(names)


def test_unknown_paths_answer_in_the_openai_envelope(server):
    response = requests.post(f"{server.url}v1/chat/completions", json={}, timeout=10)
    assert response.status_code == 404
    assert "not offered" in response.json()["error"]["message"]

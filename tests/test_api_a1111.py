"""AUTOMATIC1111's /sdapi/v1, driven by the ``webuiapi`` package unchanged, against a real server on the demo model."""

from __future__ import annotations

import base64
import threading
import time
from io import BytesIO

import numpy as np
import pytest
import requests
import webuiapi
from PIL import Image

pytestmark = pytest.mark.timeout(300)

SMALL = {"width": 64, "height": 64, "steps": 2, "sampler_name": "Euler"}


@pytest.fixture
def api(server):
    return webuiapi.WebUIApi(host="127.0.0.1", port=server.port)


def gallery_results(server) -> list:
    return sorted((server.studio.outdir).glob("*.png"))


def noise_picture(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), "RGB")


def test_txt2img_batch_of_two_is_not_saved_by_default(server, api):
    before = gallery_results(server)
    result = api.txt2img(prompt="a red barn", negative_prompt="fog", batch_size=2, seed=11, **SMALL)
    assert len(result.images) == 2
    assert all(image.size == (64, 64) for image in result.images)
    assert result.info["seed"] == 11 and len(result.info["all_seeds"]) == 2
    assert result.info["infotexts"][0].startswith("a red barn\nNegative prompt: fog\nSteps: 2, Sampler: Euler")
    assert gallery_results(server) == before, "A1111's API does not save unless save_images is set"
    again = api.txt2img(prompt="a red barn", negative_prompt="fog", batch_size=2, seed=11, **SMALL)
    assert [np.asarray(i).tolist() for i in again.images] == [np.asarray(i).tolist() for i in result.images]


def test_save_images_keeps_them_and_send_images_false_sends_none(server, api):
    before = gallery_results(server)
    result = api.txt2img(prompt="a blue barn", save_images=True, send_images=False, **SMALL)
    assert result.images == []
    assert len(gallery_results(server)) == len(before) + 1


def test_types_are_coerced_and_unknown_fields_ignored(server):
    body = {"prompt": "a cat", "steps": "2", "width": "64", "height": 64, "sampler_name": "Euler",
            "some_extension_field": {"x": 1}}
    response = requests.post(f"{server.url}sdapi/v1/txt2img", json=body, timeout=120)
    assert response.status_code == 200, response.text
    assert len(response.json()["images"]) == 1


@pytest.mark.parametrize("field,value", [("steps", "many"), ("width", 65), ("cfg_scale", 0),
                                         ("sampler_name", "No Such Sampler"), ("denoising_strength", 3)])
def test_a_bad_value_is_422_naming_the_field(server, field, value):
    endpoint = "img2img" if field == "denoising_strength" else "txt2img"
    body = {"prompt": "a cat", **SMALL, field: value}
    if endpoint == "img2img":
        body["init_images"] = [webuiapi.b64_img(noise_picture())]
    response = requests.post(f"{server.url}sdapi/v1/{endpoint}", json=body, timeout=60)
    assert response.status_code == 422, response.text
    assert field in response.text


def test_image_addresses_are_refused(server):
    body = {"prompt": "x", **SMALL, "init_images": ["http://169.254.169.254/latest/meta-data"]}
    response = requests.post(f"{server.url}sdapi/v1/img2img", json=body, timeout=60)
    assert response.status_code == 422 and "init_images" in response.text


def test_img2img_with_a_mask_repaints_only_the_masked_region(api):
    original = noise_picture(1)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (24, 24, 40, 40))
    result = api.img2img(images=[original], mask_image=mask, prompt="a red square", denoising_strength=0.9,
                         mask_blur=4, inpainting_fill=1, **SMALL)
    edited = np.asarray(result.images[0].convert("RGB")).astype(int)
    before = np.asarray(original).astype(int)
    far = np.ones((64, 64), dtype=bool)
    far[24 - 8:40 + 8, 24 - 8:40 + 8] = False
    assert (edited[far] == before[far]).all()
    assert (edited[24:40, 24:40] != before[24:40, 24:40]).any()


def test_extra_single_image_upscales(api):
    result = api.extra_single_image(image=noise_picture(2), upscaler_1="R-ESRGAN 2x+", upscaling_resize=2)
    assert result.image.size == (128, 128)


def test_png_info_reads_our_recipe_as_infotext(api):
    made = api.txt2img(prompt="a green barn", seed=5, **SMALL).images[0]
    info = api.png_info(made)
    assert info.info.startswith("a green barn\nSteps: 2, Sampler: Euler")
    assert "Seed: 5" in info.info


def test_listings(server, api):
    assert {m["title"] for m in api.get_sd_models()} == {"demo", "demo-alt"}
    names = [s["name"] for s in api.get_samplers()]
    assert "Euler a" in names and "DPM++ 2M" in names
    assert [u["name"] for u in api.get_upscalers()][:2] == ["None", "R-ESRGAN 4x+"]
    assert {f["name"] for f in api.get_face_restorers()} >= {"GFPGAN"}
    assert api.get_scripts() == {"txt2img": ["controlnet"], "img2img": ["controlnet"]}  # its units: test_control
    assert isinstance(api.get_loras(), list) and "loaded" in api.get_embeddings()
    assert "ram" in api.get_memory()
    flags = api.get_cmd_flags()
    assert server.studio.config.token not in str(flags)
    assert api.get_options()["sd_model_checkpoint"] == "demo"


def test_unoffered_endpoints_say_so(server):
    response = requests.post(f"{server.url}sdapi/v1/interrogate", json={"image": ""}, timeout=10)
    assert response.status_code == 404 and "not offered" in response.json()["detail"]


def test_interrupt_during_a_long_job_answers_with_what_was_made(server, api):
    outcome: dict = {}

    def long_job() -> None:
        outcome["result"] = api.txt2img(prompt="a long one", width=64, height=64, steps=400, sampler_name="Euler")

    thread = threading.Thread(target=long_job)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        progress = api.get_progress()
        if progress["state"]["sampling_step"] >= 2:
            break
        time.sleep(0.1)
    assert progress["state"]["job_count"] == 1 and 0 < progress["progress"] < 1
    assert progress["current_image"], "previews exist, so progress carries the latest"
    Image.open(BytesIO(base64.b64decode(progress["current_image"])))
    api.interrupt()
    thread.join(60)
    assert not thread.is_alive()
    assert outcome["result"].info["interrupted"] is True
    api.util_wait_for_ready(check_interval=0.2)
    assert api.get_progress()["progress"] == 0


def test_set_options_switches_the_model_and_clip_skip(server, api):
    api.util_set_model("demo-alt")
    assert api.get_options()["sd_model_checkpoint"] == "demo-alt"
    api.set_options({"CLIP_stop_at_last_layers": 2, "samples_save": False})
    result = api.txt2img(prompt="a barn", **SMALL)
    assert result.info["clip_skip"] == 2 and "Clip skip: 2" in result.info["infotexts"][0]
    assert result.info["sd_model_name"] == "demo-alt"
    api.set_options({"sd_model_checkpoint": "demo", "CLIP_stop_at_last_layers": 1})
    assert api.get_options()["sd_model_checkpoint"] == "demo"


def test_each_setting_changes_what_it_should(api):
    def draw(**fields) -> webuiapi.WebUIApiResult:
        return api.txt2img(prompt="a barn", seed=9, **{**SMALL, **fields})

    def same(a, b) -> bool:
        return np.array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))

    baseline = draw()
    assert same(baseline, draw())
    assert not same(baseline, draw(tiling=True))
    assert not same(baseline, draw(subseed=123, subseed_strength=0.5))
    restored = draw(restore_faces=True)  # noise holds no face to change: the recipe records the pass
    assert '"gfpgan"' in restored.images[0].info["sd-metadata"]
    assert '"gfpgan"' not in baseline.images[0].info["sd-metadata"]
    other = draw(override_settings={"sd_model_checkpoint": "demo-alt"})
    assert other.info["sd_model_name"] == "demo-alt" and not same(baseline, other)
    assert api.get_options()["sd_model_checkpoint"] == "demo", "override_settings applies to that job only"
    hires = draw(enable_hr=True, hr_scale=2, denoising_strength=0.5)
    assert hires.images[0].size == (128, 128)


def test_a1111_prompt_syntax_complex_prompt_and_editing(server, api):
    """The API reads A1111's syntax: the complex prompt generates, is recorded as A1111 syntax with its
    negative prompt apart, and prompt editing makes a picture of its own."""
    import json

    complex_prompt = "((emphasis)), (emphasis1:1.1), [to:1], [from::2], [from:to:0.3], [alt|alt1]"
    before = set(gallery_results(server))
    result = api.txt2img(prompt=complex_prompt, negative_prompt="(fog:1.3), [rain]", seed=5, save_images=True,
                         **{**SMALL, "steps": 4})
    assert len(result.images) == 1 and result.images[0].size == (64, 64)
    assert result.info["infotexts"][0].startswith(complex_prompt + "\nNegative prompt: (fog:1.3), [rain]\n")
    [saved] = set(gallery_results(server)) - before
    recipe = json.loads(Image.open(saved).info["sd-metadata"])["image"]
    assert recipe["prompt"] == [{"prompt": complex_prompt, "weight": 1.0}]
    assert (recipe["prompt_syntax"], recipe["negative_prompt"]) == ("a1111", "(fog:1.3), [rain]")
    # png-info gives the prompt back as written, the negative prompt on its own line
    assert api.png_info(Image.open(saved)).info.startswith(complex_prompt + "\nNegative prompt: (fog:1.3), [rain]\n")

    def pixels(prompt: str, negative: str = "") -> bytes:
        made = api.txt2img(prompt=prompt, negative_prompt=negative, seed=5, cfg_scale=12, **{**SMALL, "steps": 4})
        return np.asarray(made.images[0]).tobytes()

    edited, cat, dog = pixels("[cat:dog:0.5]"), pixels("cat"), pixels("dog")
    assert len({edited, cat, dog}) == 3
    assert pixels("cat", "(fog:1.5)") != pixels("cat", "fog")  # the negative prompt is A1111 syntax too

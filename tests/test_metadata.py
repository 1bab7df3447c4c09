"""PNG metadata: our own round trip, and other programs' formats read into the same shape."""

from __future__ import annotations

import json

from PIL import Image, PngImagePlugin

from ldm.invoke import metadata as md

FIELDS = {
    "type": "txt2img", "prompt": [{"prompt": "strawberry sushi [blurry]", "weight": 1.0}], "sampler": "k_euler_a",
    "seed": 1234, "variations": [{"seed": 77, "weight": 0.2}], "steps": 30, "cfg_scale": 8.5, "threshold": 1.5,
    "perlin": 0.1, "width": 640, "height": 512, "seamless": True, "hires_fix": True, "hires_strength": 0.6,
    "precision": "bfloat16", "device": "cpu", "postprocessing": None,
}


def test_metadata_round_trips_every_field(tmp_path):
    meta = md.build_metadata({"model_id": "demo", "model_hash": "abc"}, dict(FIELDS))
    image = md.attach_metadata(Image.new("RGB", (16, 16), "red"), meta)
    path = md.PngWriter(tmp_path).save_image(image, 1234)
    back = md.read_metadata(path)
    assert back == json.loads(json.dumps(meta))
    assert back["app_id"] and back["app_version"] and back["model_hash"] == "abc"
    with Image.open(path) as im:
        dream = im.info["Dream"]
    for piece in ("'strawberry sushi [blurry]'", "-s 30", "-S 1234", "-W 640", "-H 512", "-C 8.5", "-A k_euler_a",
                  "--seamless", "--hires_fix", "--threshold 1.5", "--perlin 0.1", "-V 77:0.2"):
        assert piece in dream


def test_postprocessing_is_appended_not_overwritten():
    meta = md.build_metadata({"model_id": "demo"}, dict(FIELDS))
    image = md.attach_metadata(Image.new("RGB", (8, 8)), meta)
    once = md.append_postprocessing(image.copy(), md.image_metadata(image), {"type": "esrgan", "scale": 2, "strength": 0.5})
    twice = md.append_postprocessing(once.copy(), md.image_metadata(once), {"type": "gfpgan", "strength": 0.8})
    steps = md.image_metadata(twice)["image"]["postprocessing"]
    assert [s["type"] for s in steps] == ["esrgan", "gfpgan"]
    assert "-U 2 0.5" in twice.info["Dream"] and "-G 0.8 -ft gfpgan" in twice.info["Dream"]


def test_weighted_prompt_is_stored_as_a_list_and_read_back_as_text():
    prompts = md.prompt_list("a cat:1.5 a dog:0.5")
    assert prompts == [{"prompt": "a cat", "weight": 1.5}, {"prompt": "a dog", "weight": 0.5}]
    assert md.prompt_text(prompts) == "a cat:1.5 a dog:0.5"


def saved_with(tmp_path, key: str, text: str):
    info = PngImagePlugin.PngInfo()
    info.add_text(key, text)
    path = tmp_path / f"{key}.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    return md.read_metadata(path)


def test_automatic1111_parameters_are_converted(tmp_path):
    text = (
        "a portrait of a lighthouse keeper, oil painting\n"
        "Negative prompt: blurry, lowres\n"
        "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 3141592, Size: 512x768, "
        "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, Version: v1.9.0"
    )
    meta = saved_with(tmp_path, "parameters", text)
    image = meta["image"]
    # Read in A1111's own syntax, its negative prompt in its own field (so (word:1.2) keeps its meaning).
    assert image["prompt"] == [{"prompt": "a portrait of a lighthouse keeper, oil painting", "weight": 1.0}]
    assert (image["prompt_syntax"], image["negative_prompt"]) == ("a1111", "blurry, lowres")
    assert (image["steps"], image["sampler"], image["cfg_scale"], image["seed"]) == (28, "k_dpmpp_2m_karras", 6.5, 3141592)
    assert (image["width"], image["height"], image["clip_skip"]) == (512, 768, 1)
    assert meta["model_hash"] == "6ce0161689" and meta["model_id"] == "v1-5-pruned-emaonly"
    assert set(FIELDS) - {"hires_strength", "precision", "device"} <= set(image)


def test_invokeai3_metadata_is_converted(tmp_path):
    data = {
        "generation_mode": "txt2img", "positive_prompt": "a red fox in snow", "negative_prompt": "cartoon",
        "width": 768, "height": 512, "seed": 424242, "steps": 35, "cfg_scale": 7.0, "scheduler": "dpmpp_2m_k",
        "model": {"model_name": "stable-diffusion-v1-5", "base_model": "sd-1", "hash": "blake3:abc"},
        "app_version": "3.6.0",
    }
    meta = saved_with(tmp_path, "invokeai_metadata", json.dumps(data))
    image = meta["image"]
    assert image["prompt"][0]["prompt"] == "a red fox in snow [cartoon]"
    assert (image["width"], image["height"], image["seed"], image["steps"]) == (768, 512, 424242, 35)
    assert image["sampler"] == "k_dpmpp_2m_karras" and image["cfg_scale"] == 7.0
    assert meta["model_id"] == "stable-diffusion-v1-5"
    assert set(FIELDS) - {"hires_strength", "precision", "device"} <= set(image)


def test_image_without_metadata_reads_as_empty(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(path)
    assert md.read_metadata(path) == {}
    assert saved_with(tmp_path, "sd-metadata", "{not json") == {}


def test_png_we_write_carries_a1111_infotext_made_from_the_recipe(tmp_path):
    digest = "0123456789abcdef" * 4
    meta = md.build_metadata({"model_id": "tiny-file", "model_hash": digest, "model_format": "checkpoint"},
                             dict(FIELDS, clip_skip=1, sampler="k_dpmpp_2m_karras", hires_fix=False, seamless=False))
    path = md.PngWriter(tmp_path).save_image(md.attach_metadata(Image.new("RGB", (16, 16)), meta), 1234)
    with Image.open(path) as im:
        text = im.info["parameters"]
    prompt, negative, settings = text.split("\n")
    assert (prompt, negative) == ("strawberry sushi", "Negative prompt: blurry")
    for piece in ("Steps: 30", "Sampler: DPM++ 2M", "Schedule type: Karras", "CFG scale: 8.5", "Seed: 1234",
                  "Size: 640x512", "Model hash: 0123456789", "Model: tiny-file", "Variation seed: 77",
                  "Variation seed strength: 0.2", "Clip skip: 2"):
        assert piece in settings.split(", "), (piece, settings)
    assert "Denoising strength" not in settings and "Tiling" not in settings
    # our reader still prefers sd-metadata; the infotext alone reads back to the same recipe
    assert md.read_metadata(path) == json.loads(json.dumps(meta))
    back = md.parse_a1111_parameters(text)["image"]
    assert (back["prompt"], back["negative_prompt"], back["prompt_syntax"]) == (
        [{"prompt": "strawberry sushi", "weight": 1.0}], "blurry", "a1111")
    assert (back["sampler"], back["seed"], back["clip_skip"]) == ("k_dpmpp_2m_karras", 1234, 1)


def test_infotext_model_hash_only_for_single_files_and_hires_img2img_fields():
    folder = md.build_metadata({"model_id": "demo", "model_hash": "ab" * 32, "model_format": "diffusers"},
                               dict(FIELDS, width=1024, height=768, hires_strength=0.45))
    text = md.infotext(folder)
    assert "Model hash" not in text and "Model: demo" in text
    # hires fix: A1111's Size is the first pass, the output is the "Hires resize"
    assert "Size: 680x512" in text and "Hires resize: 1024x768" in text and "Denoising strength: 0.45" in text
    assert "Tiling: True" in text
    back = md.parse_a1111_parameters(text)["image"]
    assert (back["width"], back["height"], back["hires_fix"], back["hires_strength"]) == (1024, 768, True, 0.45)
    img2img = md.build_metadata({"model_id": "demo"}, dict(FIELDS, type="img2img", strength=0.3, hires_fix=False))
    assert "Denoising strength: 0.3" in md.infotext(img2img)
    restored = dict(FIELDS, hires_fix=False, postprocessing=[{"type": "esrgan", "scale": 2, "strength": 0.5},
                                                             {"type": "gfpgan", "strength": 0.8}])
    text = md.infotext(md.build_metadata({}, restored))
    assert "Face restoration: GFPGAN" in text and "Postprocess upscale by: 2" in text
    assert "Size: 640x512" in text, "Size stays the generation's, as A1111's extras keep it"


def test_a1111_hires_upscale_reads_as_our_output_size(tmp_path):
    text = "a castle\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.5, " \
           "Hires upscale: 2, Hires upscaler: Latent"
    image = saved_with(tmp_path, "parameters", text)["image"]
    assert (image["width"], image["height"], image["hires_fix"], image["hires_strength"]) == (1024, 1024, True, 0.5)
    assert image["type"] == "txt2img" and "strength" not in image

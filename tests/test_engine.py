"""The engine as a Python user meets it: ``Generate.prompt2image`` on the demo model, loaded from disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm.invoke.errors import GenerationCanceled, InvalidParameterError
from ldm.invoke.generate import Generate
from ldm.invoke.metadata import PngWriter, read_metadata
from ldm.invoke.samplers import available_samplers

SMALL = {"width": 64, "height": 64, "steps": 4}


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> Generate:
    root = tmp_path_factory.mktemp("engine-root")
    g = Generate(root=root)  # no models.yaml: the demo model is the default
    g.load_model()
    return g


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def one(gen: Generate, prompt: str = "strawberry sushi", **kw) -> Image.Image:
    params = {**SMALL, "seed": 42, **kw}
    return gen.prompt2image(prompt, **params)[0][0]


def test_demo_model_is_default_and_says_so(gen):
    assert gen.model_name == "demo"
    assert gen.is_demo_model
    models = gen.model_manager.list_models()
    assert models["demo"]["status"] == "active"
    assert "random weights" in models["demo"]["description"]
    assert (gen.root / "models" / "demo" / "model_index.json").exists()


def test_same_parameters_and_seed_give_identical_pixels(gen):
    a, b = one(gen), one(gen)
    assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(one(gen, seed=43)))


def test_iterations_return_distinct_seeds_and_images(gen):
    results = gen.prompt2image("strawberry sushi", iterations=3, seed=7, **SMALL)
    seeds = [s for _, s in results]
    assert len(set(seeds)) == 3 and seeds[0] == 7
    # each image regenerates alone from its own seed
    again = one(gen, seed=seeds[2])
    assert np.array_equal(pixels(again), pixels(results[2][0]))


def regenerate_from_metadata(gen: Generate, image: Image.Image) -> Image.Image:
    meta = json.loads(image.info["sd-metadata"])["image"]
    prompt = meta["prompt"][0]["prompt"]
    return gen.prompt2image(
        prompt, steps=meta["steps"], cfg_scale=meta["cfg_scale"], width=meta["width"], height=meta["height"],
        sampler_name=meta["sampler"], seed=meta["seed"], perlin=meta["perlin"], threshold=meta["threshold"],
        with_variations=[(v["seed"], v["weight"]) for v in meta["variations"]],
    )[0][0]


@pytest.mark.parametrize("sampler", ["k_lms", "k_euler_a"])  # an ancestral sampler draws noise every step
def test_image_regenerates_from_its_own_metadata_including_variations(gen, sampler):
    results = gen.prompt2image("strawberry sushi", iterations=3, seed=1234, variation_amount=0.2,
                               sampler_name=sampler, **SMALL)
    images = [im for im, _ in results]
    assert len({pixels(im).tobytes() for im in images}) == 3, "variations must differ"
    for image, seed in results:
        meta = json.loads(image.info["sd-metadata"])["image"]
        assert meta["seed"] == 1234
        assert meta["variations"][-1] == {"seed": seed, "weight": 0.2}
        assert np.array_equal(pixels(regenerate_from_metadata(gen, image)), pixels(image))
    # a chain of variations (with_variations) reproduces too
    chained = gen.prompt2image("strawberry sushi", seed=1234, with_variations=[(results[0][1], 0.2)],
                               variation_amount=0.1, sampler_name=sampler, **SMALL)[0][0]
    assert len(json.loads(chained.info["sd-metadata"])["image"]["variations"]) == 2
    assert np.array_equal(pixels(regenerate_from_metadata(gen, chained)), pixels(chained))


def test_a_reproduced_variation_is_named_after_the_seed_the_original_was_named_after(gen):
    (image, seed), = gen.prompt2image("strawberry sushi", seed=1234, variation_amount=0.2, **SMALL)
    meta = json.loads(image.info["sd-metadata"])["image"]
    (again, again_seed), = gen.prompt2image("strawberry sushi", seed=meta["seed"], **SMALL,
                                            with_variations=[(v["seed"], v["weight"]) for v in meta["variations"]])
    assert np.array_equal(pixels(again), pixels(image))
    assert again_seed == seed != 1234  # so the file is NNNNNN.<seed>.png again, not NNNNNN.1234.png


def test_every_sampler_gives_the_asked_size_and_its_own_image(gen):
    names = available_samplers()
    for expected in ("ddim", "plms", "k_lms", "k_dpm_2", "k_dpm_2_a", "k_euler", "k_euler_a", "k_heun",
                     "k_dpmpp_2", "k_dpmpp_2m", "k_dpmpp_2m_karras", "unipc"):
        assert expected in names
    outputs = {}
    for name in names:
        image = one(gen, sampler_name=name, width=72, height=64)
        assert image.size == (72, 64), name
        outputs[name] = pixels(image).tobytes()
    assert len(set(outputs.values())) == len(names), "samplers must not produce identical images"


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "strawberry sushi [blurry, dark]"},
        {"prompt": "strawberry sushi:1.5 a dog:0.5"},
        {"perlin": 0.5},
        {"threshold": 0.5},
    ],
    ids=["negative-prompt", "subprompt-weights", "perlin", "threshold"],
)
def test_prompt_features_change_the_output(gen, change):
    base = one(gen, cfg_scale=12)
    params = {"cfg_scale": 12, **change}
    prompt = params.pop("prompt", "strawberry sushi")
    assert not np.array_equal(pixels(base), pixels(one(gen, prompt, **params)))


def test_subprompt_weights_matter(gen):
    a = one(gen, "strawberry sushi:1.5 a dog:0.5", cfg_scale=12)
    b = one(gen, "strawberry sushi:0.5 a dog:1.5", cfg_scale=12)
    assert not np.array_equal(pixels(a), pixels(b))


def test_long_prompt_is_truncated_with_a_warning(gen, caplog):
    one(gen, "sushi " * 100)
    assert any("longer than 77 tokens" in r.message for r in caplog.records)


def test_hires_fix_runs_two_passes_and_returns_the_asked_size(gen):
    calls = []
    image = one(gen, hires_fix=True, width=576, height=640, steps=2,
                step_callback=lambda step, total, preview: calls.append((step, total)))
    assert image.size == (576, 640)
    # first pass: 2 steps at 512x568; second: floor(0.75 * 2) = 1 step at full size
    assert calls == [(1, 2), (2, 2), (1, 1)]
    meta = json.loads(image.info["sd-metadata"])["image"]
    assert meta["hires_fix"] is True and meta["hires_strength"] == 0.75


def test_previews_are_cheap_images_of_the_final_size(gen):
    previews = []
    one(gen, width=128, height=64, step_callback=lambda s, t, p: previews.append(p))
    assert len(previews) == 4 and all(p is not None and p.size == (128, 64) for p in previews)
    previews.clear()
    one(gen, preview_every=0, step_callback=lambda s, t, p: previews.append(p))
    assert previews == [None] * 4


@pytest.fixture(scope="module")
def init_png(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    arr = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    path = tmp_path_factory.mktemp("init") / "init.png"
    Image.fromarray(arr).save(path)
    return path


def test_img2img_strength_zero_returns_the_init_image_and_high_strength_departs(gen, init_png):
    original = pixels(Image.open(init_png))
    same = one(gen, init_img=str(init_png), strength=0.0)
    assert np.array_equal(pixels(same), original)
    away = one(gen, init_img=str(init_png), strength=0.99, steps=6)
    assert np.abs(pixels(away) - original).mean() > 10
    meta = json.loads(away.info["sd-metadata"])["image"]
    assert meta["type"] == "img2img" and meta["init_image_path"] == str(init_png)


def test_img2img_reports_strength_times_steps(gen, init_png):
    calls = []
    one(gen, init_img=str(init_png), strength=0.5, steps=10, step_callback=lambda s, t, p: calls.append((s, t)))
    assert calls[-1] == (5, 5)


def far_from(mask: np.ndarray, distance: int) -> np.ndarray:
    from PIL import ImageFilter

    grown = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(2 * distance + 1))
    return np.asarray(grown) == 0


def test_inpainting_a_transparent_region_keeps_pixels_outside_bit_identical(gen, tmp_path):
    rng = np.random.default_rng(1)
    rgba = np.dstack([(rng.random((96, 96, 3)) * 255).astype(np.uint8), np.full((96, 96), 255, np.uint8)])
    rgba[30:60, 40:70, 3] = 0  # the hole to fill
    path = tmp_path / "hole.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = one(gen, init_img=str(path), strength=0.9, steps=5)
    assert out.size == (96, 96)
    mask = rgba[..., 3] < 128
    keep = far_from(mask, 8)
    assert np.array_equal(pixels(out)[keep], rgba[..., :3].astype(np.int16)[keep])
    assert np.abs(pixels(out)[mask] - rgba[..., :3][mask]).mean() > 5
    assert json.loads(out.info["sd-metadata"])["image"]["type"] == "inpaint"


def test_inpainting_a_painted_mask_also_fills_the_transparent_pixels(gen, tmp_path):
    rng = np.random.default_rng(3)
    rgba = np.dstack([(rng.random((96, 96, 3)) * 255).astype(np.uint8), np.full((96, 96), 255, np.uint8)])
    rgba[8:32, 8:32, 3] = 0  # a transparent hole; its colours (the hidden parrot) must not come back
    init = tmp_path / "holed.png"
    Image.fromarray(rgba, "RGBA").save(init)
    painted = np.zeros((96, 96), np.uint8)
    painted[64:88, 64:88] = 255  # a small mask painted elsewhere
    mask_path = tmp_path / "painted.png"
    Image.fromarray(painted).save(mask_path)
    out = one(gen, init_img=str(init), init_mask=str(mask_path), strength=0.9, steps=5)
    changed, original = pixels(out), rgba[..., :3].astype(np.int16)
    hole, mask = rgba[..., 3] == 0, painted > 0
    assert np.abs(changed[hole] - original[hole]).mean() > 5  # regenerated under alpha 0
    assert np.abs(changed[mask] - original[mask]).mean() > 5  # and under the paint
    keep = far_from(hole | mask, 8)
    assert np.array_equal(changed[keep], original[keep])  # far from both: untouched
    recipe = json.loads(out.info["sd-metadata"])["image"]
    assert recipe["type"] == "inpaint" and recipe["init_image_path"] and recipe["mask_image_path"]


def test_inpainting_with_a_mask_and_bounding_box_only_touches_the_box(gen, init_png, tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[8:56, 8:56] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask).save(mask_path)
    box = {"x": 16, "y": 16, "width": 24, "height": 24}
    out = one(gen, init_img=str(init_png), init_mask=str(mask_path), bounding_box=box, strength=0.9, steps=5)
    original = pixels(Image.open(init_png))
    inside = np.zeros((64, 64), bool)
    inside[16:40, 16:40] = True
    keep = far_from(inside, 8)
    assert np.array_equal(pixels(out)[keep], original[keep])
    assert np.abs(pixels(out)[inside] - original[inside]).mean() > 5


def holed(tmp_path: Path, size: int = 96) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(2)
    rgba = np.dstack([(rng.random((size, size, 3)) * 255).astype(np.uint8), np.full((size, size), 255, np.uint8)])
    rgba[32:64, 32:64, 3] = 0
    path = tmp_path / "holed.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path, rgba


def test_seam_size_sets_how_far_outside_the_mask_pixels_may_change(gen, tmp_path):
    path, rgba = holed(tmp_path)
    mask = rgba[..., 3] < 128
    original = rgba[..., :3].astype(np.int16)
    hard = one(gen, init_img=str(path), strength=0.9, steps=4, seam_size=0)
    assert np.array_equal(pixels(hard)[~mask], original[~mask])  # not one pixel outside the hole moved
    wide = one(gen, init_img=str(path), strength=0.9, steps=4, seam_size=24)
    ring = far_from(mask, 8) & ~far_from(mask, 20)  # 9 to 20 px out: untouched at the default seam
    assert np.abs(pixels(wide)[ring] - original[ring]).mean() > 1
    assert np.array_equal(pixels(wide)[far_from(mask, 24)], original[far_from(mask, 24)])
    meta = json.loads(wide.info["sd-metadata"])["image"]
    assert meta["seam_size"] == 24 and "--seam_size 24" in wide.info["Dream"]


def test_inpainting_keeps_a_picture_of_any_size_and_its_far_pixels(gen, tmp_path):
    rng = np.random.default_rng(3)
    rgba = np.dstack([(rng.random((75, 100, 3)) * 255).astype(np.uint8), np.full((75, 100), 255, np.uint8)])
    rgba[50:75, 70:100, 3] = 0  # a hole at the ragged bottom-right corner, off the 8 px grid
    path = tmp_path / "odd.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = one(gen, init_img=str(path), strength=0.9, steps=3, width=100, height=75)
    assert out.size == (100, 75)
    mask = rgba[..., 3] < 128
    keep = far_from(mask, 8)
    assert np.array_equal(pixels(out)[keep], rgba[..., :3].astype(np.int16)[keep])
    assert np.abs(pixels(out)[mask] - rgba[..., :3][mask]).mean() > 5
    assert json.loads(out.info["sd-metadata"])["image"]["width"] == 100
    with pytest.raises(InvalidParameterError, match="width"):
        gen.prompt2image("x", **{**SMALL, "width": 100})  # without an init image sizes stay on the grid


def test_the_seam_reaches_seam_size_px_in_every_direction_and_no_further():
    from ldm.invoke.generator.inpaint import seam_alpha

    mask = np.zeros((41, 41), bool)
    mask[20, 20] = True
    alpha = seam_alpha(mask, 8)
    assert alpha[20, 20] == 1 and alpha[20, 28] > 0 and alpha[20, 29] == 0  # 8 px straight out: blended
    assert alpha[26, 26] == 0  # 6,6 is 8.5 px away: kept exactly, as "more than 8 px from the mask" promises
    assert alpha[25, 25] > 0  # 7.1 px away
    assert np.all(np.diff(alpha[20, 20:30]) <= 0)  # falls off smoothly outwards


def test_masked_pixels_start_from_the_nearest_visible_colour():
    from ldm.invoke.generator.inpaint import fill_masked

    rgb = np.zeros((64, 128, 3), np.uint8)
    rgb[:, :48] = (250, 10, 10)  # red on the left, blue next to the area to outpaint
    rgb[:, 48:64] = (10, 10, 250)
    mask = np.zeros((64, 128), bool)
    mask[:, 64:] = True
    filled = np.asarray(fill_masked(Image.fromarray(rgb), mask)).astype(int)
    assert np.array_equal(filled[:, :64], rgb[:, :64])  # what is visible stays as it is
    strip = filled[:, 72:]
    assert strip[..., 2].min() > 200 and strip[..., 0].max() < 60  # blue carried outwards, not the mean


def test_outpainting_a_transparent_strip_keeps_the_original_and_fills_the_strip(gen, init_png, tmp_path):
    original = np.asarray(Image.open(init_png).convert("RGB"))
    wide = np.zeros((64, 128, 4), np.uint8)
    wide[:, :64, :3] = original
    wide[:, :64, 3] = 255
    path = tmp_path / "wider.png"
    Image.fromarray(wide, "RGBA").save(path)
    out = one(gen, init_img=str(path), strength=1.0, steps=4)
    assert out.size == (128, 64)
    assert np.array_equal(np.asarray(out)[:, : 64 - 8], original[:, : 64 - 8])
    strip = np.asarray(out)[:, 64:].astype(float)
    assert strip.std() > 3  # generated content, not a flat fill


def test_seamless_changes_the_output_and_is_switched_off_after(gen):
    plain = one(gen)
    tiled = one(gen, seamless=True)
    assert not np.array_equal(pixels(plain), pixels(tiled))
    convs = [m for m in gen._model().pipeline.unet.modules() if m.__class__.__name__ == "Conv2d"]
    assert convs and all(m.padding_mode == "zeros" for m in convs)
    assert np.array_equal(pixels(plain), pixels(one(gen)))


def test_cancel_at_a_step_stops_within_one_step_and_writes_nothing(gen, tmp_path):
    seen = []
    writer = PngWriter(tmp_path / "out")

    def step(s, total, preview):
        seen.append(s)
        if s == 3:
            raise GenerationCanceled()

    with pytest.raises(GenerationCanceled):
        gen.prompt2image("strawberry sushi", width=64, height=64, steps=20, seed=1, step_callback=step,
                         image_callback=lambda im, seed, first: writer.save_image(im, seed))
    assert seen == [1, 2, 3]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"width": 100}, "width"),
        ({"height": 4096}, "height"),
        ({"steps": 0}, "steps"),
        ({"sampler_name": "k_nonsense"}, "sampler_name"),
        ({"init_img": "/nonexistent/init.png"}, "init_img"),
        ({"cfg_scale": "high"}, "cfg_scale"),
        ({"strength": 1.5}, "strength"),
        ({"variation_amount": -0.1}, "variation_amount"),
        ({"with_variations": [[1, 2.0]]}, "with_variations"),
        ({"seed": 2**33}, "seed"),
        ({"iterations": 0}, "iterations"),
        ({"seam_size": 65}, "seam_size"),
    ],
)
def test_bad_parameters_raise_an_error_naming_the_field(gen, params, field):
    with pytest.raises(InvalidParameterError) as info:
        gen.prompt2image("x", **{**SMALL, **params})
    assert info.value.field == field
    assert field in str(info.value)


def test_png_writer_names_files_and_saves_the_recipe(gen, tmp_path):
    writer = PngWriter(tmp_path)
    image, seed = gen.prompt2image("strawberry sushi", seed=99, **SMALL)[0]
    first = writer.save_image(image, seed)
    second = writer.save_image(image, seed, postprocessed=True)
    assert first.name == "000001.99.png" and second.name == "000002.99.postprocessed.png"
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["000001.99.png", "000002.99.postprocessed.png"]
    with Image.open(first) as im:
        assert im.info["Dream"].startswith("'strawberry sushi' -s 4 -S 99")
    assert read_metadata(first)["image"]["seed"] == 99
    # a new writer on a folder with images continues the numbering
    assert PngWriter(tmp_path).save_image(image, seed).name == "000003.99.png"


def test_png_writer_lists_the_folder_once(gen, tmp_path, monkeypatch):
    writer = PngWriter(tmp_path)
    image = Image.new("RGB", (8, 8))
    calls = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: calls.append(p) or real_scandir(p))
    for _ in range(5):
        writer.save_image(image, 1)
    assert len(calls) == 1
    (tmp_path / "000006.1.png").write_bytes(b"")  # another program took the next name
    assert writer.save_image(image, 1).name == "000007.1.png"


def test_engine_imports_and_generates_without_flask_or_qt(gen):
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('flask', 'flask_socketio', 'socketio', 'PyQt6', 'webview'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from ldm.invoke.generate import Generate\n"
        f"g = Generate(root={str(gen.root)!r})\n"
        "im, seed = g.prompt2image('a test', width=64, height=64, steps=2, seed=3)[0]\n"
        "print(im.size, seed, 'flask' in sys.modules)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("(64, 64) 3 False")


def test_cpu_pipeline_convolutions_are_stored_channels_last(gen):
    """The layout oneDNN's convolutions want (BENCHMARKS.md §4 has what it buys)."""
    import torch

    pipe = gen._model().pipeline
    for module in (pipe.unet, pipe.vae):
        convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)

"""ControlNet units on real tiny pipelines loaded from disk: a map steers the picture and repeats bit
for bit, weight 0 is no unit, start/end pick the steps, units compose, every mode runs with a unit,
bad units are refused with a message naming them, and the folder scans and canny do what users see."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm.invoke.control.canny import canny_edges
from ldm.invoke.control.preprocess import fit_to, make_map
from ldm.invoke.errors import InvalidParameterError
from ldm.invoke.files import CONTROL_FOLDER, INIT_FOLDER, MASK_FOLDER
from ldm.invoke.generate import Generate
from ldm.invoke.metadata import png_bytes, read_metadata
from ldm.invoke.model_formats.state_dict import load_tensors
from ldm.invoke.model_manager import ModelManager
from ldm.invoke.request import ControlUnit, GenerationRequest, ImageRef
from tests.support import annotators
from tests.support.tiny_control import build_control_root

LINCOLN = Path(__file__).parent / "assets" / "Lincoln-and-Parrot-512.png"  # the product's sample picture


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return build_control_root(tmp_path_factory.mktemp("control-root"))


@pytest.fixture(scope="module")
def gen(root) -> Generate:
    engine = Generate(root=root, precision="float32")
    engine.load_model()
    return engine


@pytest.fixture(scope="module")
def lincoln() -> ImageRef:
    return ImageRef.from_bytes(LINCOLN.read_bytes(), "outputs/control-images/lincoln.png")


@pytest.fixture(scope="module")
def stripes() -> ImageRef:
    arr = np.zeros((96, 64, 3), dtype=np.uint8)  # tall: vertical stripes under a white band
    arr[:, ::8] = 255
    arr[:16] = 255
    return ImageRef.from_image(Image.fromarray(arr), "outputs/control-images/stripes.png")


BASE = GenerationRequest("a parrot on a shoulder", steps=4, width=64, height=64, seed=7, sampler_name="k_euler")


def pixels(gen: Generate, request: GenerationRequest, **progress) -> np.ndarray:
    from ldm.invoke.generator.base import Progress

    done = next(iter(gen.generate(request, Progress(**progress) if progress else None)))
    return np.asarray(done.image.convert("RGB")).astype(np.int16)


def previews(gen: Generate, request: GenerationRequest) -> list[np.ndarray]:
    seen: list[np.ndarray] = []
    pixels(gen, request, step_callback=lambda step, total, image: seen.append(np.asarray(image)), preview_every=1)
    return seen


@pytest.fixture(scope="module")
def plain(gen) -> np.ndarray:
    return pixels(gen, BASE)


@pytest.fixture(scope="module")
def controlled(gen, lincoln) -> np.ndarray:
    return pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"),)))


def differs(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.abs(a - b).mean() > 1.0)


# -- what a unit does ------------------------------------------------------------------------------


def test_a_control_image_changes_the_picture_and_the_same_request_repeats_it_bit_for_bit(gen, lincoln, plain,
                                                                                          controlled):
    assert differs(controlled, plain)
    again = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"),)))
    assert np.array_equal(again, controlled)


def test_the_single_file_and_the_diffusers_folder_of_one_controlnet_make_the_same_picture(gen, lincoln, controlled):
    folder = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny-folder", lincoln, "canny"),)))
    assert np.array_equal(folder, controlled)


def test_weight_zero_gives_exactly_the_picture_without_the_unit(gen, lincoln, plain):
    zero = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny", weight=0),)))
    assert np.array_equal(zero, plain)


def test_a_unit_starting_halfway_leaves_the_first_steps_alone(gen, lincoln):
    none = previews(gen, BASE)
    late = previews(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny", start=0.5),)))
    full = previews(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"),)))
    assert len(none) == len(late) == 4
    # Steps 0 and 1 (fractions 0 and 0.25) run without the unit; steps 2 and 3 with it.
    assert all(np.array_equal(a, b) for a, b in zip(none[:2], late[:2]))
    assert not np.array_equal(none[2], late[2]) and not np.array_equal(full[3], late[3])


def test_a_unit_ending_halfway_leaves_the_last_step_alone(gen, lincoln):
    full = previews(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"),)))
    early = previews(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny", end=0.5),)))
    # Steps 0-2 (fractions up to 0.5) run with the unit, exactly as a unit that never stops; step 3 without.
    assert all(np.array_equal(a, b) for a, b in zip(full[:3], early[:3]))
    assert not np.array_equal(full[3], early[3])


def test_two_units_add_up(gen, lincoln, stripes, controlled):
    halves = (ControlUnit("tiny-canny", lincoln, "canny", weight=0.5),
              ControlUnit("tiny-canny-folder", lincoln, "canny", weight=0.5))
    assert np.array_equal(pixels(gen, BASE.replace(control=halves)), controlled)
    other = ControlUnit("tiny-other", stripes, "none")
    both = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"), other)))
    alone = pixels(gen, BASE.replace(control=(other,)))
    assert differs(both, controlled) and differs(both, alone)


def test_the_control_modes_steer_differently(gen, lincoln, controlled):
    prompt = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny", control_mode="prompt"),)))
    control = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny", control_mode="control"),)))
    assert differs(prompt, controlled) and differs(control, controlled) and differs(prompt, control)


def test_the_resize_modes_bring_a_tall_map_to_the_picture_in_three_ways(stripes):
    tall = stripes.image  # 64 wide, 96 high
    crop, fit, stretch = (np.asarray(fit_to(tall, 64, 64, m)) for m in ("crop", "fit", "stretch"))
    assert crop.shape == fit.shape == stretch.shape == (64, 64, 3)
    assert fit[:, :10].max() == 0 and fit[:, 54:].max() == 0  # the sides outside the fitted map stay black
    assert fit[2, 12:52].min() > 200  # the whole map is inside, band and all
    assert crop[0, 1:8].max() == 0 and crop[:, ::8].min() == 255  # the middle cut out: no band, same stripes
    assert stretch[0].min() > 200  # squeezed: the band is still on top


# -- every mode runs with a unit -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["img2img", "inpaint", "hires"])
def test_image_to_image_inpainting_and_hires_fix_run_with_a_unit(gen, lincoln, tmp_path, mode):
    init = Image.open(LINCOLN).convert("RGB").resize((64, 64))
    request = BASE.replace(init_image=ImageRef.from_image(init), strength=0.75)
    if mode == "inpaint":
        mask = np.zeros((64, 64), dtype=np.uint8)
        mask[16:48, 16:48] = 255
        request = request.replace(init_mask=ImageRef.from_image(Image.fromarray(mask)))
    if mode == "hires":
        request = BASE.replace(hires_fix=True, width=576, height=576, steps=2, hires_strength=0.5)
    unit = ControlUnit("tiny-canny", lincoln, "canny")
    without, with_unit = pixels(gen, request), pixels(gen, request.replace(control=(unit,)))
    assert differs(with_unit, without)
    if mode == "inpaint":  # outside the mask (and its seam) the picture is the init image, unit or not
        assert np.array_equal(with_unit[:4], without[:4])


def test_an_sdxl_controlnet_steers_an_sdxl_model(root, lincoln):
    engine = Generate(root=root, model="tiny-sdxl", precision="float32")
    unit = ControlUnit("tiny-xl", lincoln, "canny")
    without, with_unit = pixels(engine, BASE), pixels(engine, BASE.replace(control=(unit,)))
    assert differs(with_unit, without)
    zero = ControlUnit("tiny-xl", lincoln, "canny", weight=0)
    assert np.array_equal(pixels(engine, BASE.replace(control=(zero,))), without)
    with pytest.raises(InvalidParameterError, match="tiny-canny is a ControlNet for Stable Diffusion 1.x"):
        next(iter(engine.generate(BASE.replace(control=(ControlUnit("tiny-canny", lincoln),)))))


# -- the recipe --------------------------------------------------------------------------------------


def test_the_recipe_records_each_unit_and_regenerates_the_same_pixels(gen, lincoln, controlled, tmp_path):
    request = BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny", {"low_threshold": 100}),))
    done = next(iter(gen.generate(request)))
    path = tmp_path / "out.png"
    from ldm.invoke.metadata import png_bytes

    path.write_bytes(png_bytes(done.image))
    meta = read_metadata(path)
    unit = meta["image"]["control"][0]
    assert unit["model"] == "tiny-canny" and unit["preprocessor"] == "canny"
    assert unit["settings"] == {"low_threshold": 100, "high_threshold": 200}
    assert unit["image_path"] == lincoln.url and unit["image_hash"] == lincoln.sha256
    assert unit["model_hash"] == gen.model_manager.get_control("tiny-canny").hash
    assert (unit["weight"], unit["start"], unit["end"], unit["control_mode"]) == (1.0, 0.0, 1.0, "balanced")
    recalled = GenerationRequest.from_metadata(meta, load_image=lambda url: LINCOLN.read_bytes())
    assert np.array_equal(pixels(gen, recalled), controlled)
    with pytest.raises(InvalidParameterError, match="has changed since"):
        GenerationRequest.from_metadata(meta, load_image=lambda url: b"other bytes")
    assert GenerationRequest.from_json(json.loads(json.dumps(request.to_json()))) == request


# -- refusals ----------------------------------------------------------------------------------------


def test_an_sdxl_controlnet_on_an_sd1_model_is_refused_naming_the_unit(gen, lincoln):
    request = BASE.replace(control=(ControlUnit("tiny-canny", lincoln), ControlUnit("tiny-xl", lincoln)))
    with pytest.raises(InvalidParameterError) as caught:
        next(iter(gen.generate(request)))
    assert caught.value.field == "control[1].model"
    assert "tiny-xl is a ControlNet for Stable Diffusion XL" in caught.value.message
    assert "tiny-sd1 is Stable Diffusion 1.x" in caught.value.message


def test_an_unreadable_control_image_and_an_unknown_control_model_are_refused(gen, lincoln):
    broken = ImageRef.from_bytes(b"not a picture", "outputs/control-images/broken.png")
    with pytest.raises(InvalidParameterError) as caught:
        next(iter(gen.generate(BASE.replace(control=(ControlUnit("tiny-canny", broken),)))))
    assert caught.value.field == "control[0].image" and "broken.png is not a readable image" in caught.value.message
    with pytest.raises(InvalidParameterError, match="Unknown control model 'nope'"):
        next(iter(gen.generate(BASE.replace(control=(ControlUnit("nope", lincoln),)))))


@pytest.mark.parametrize("changes, field, words", [
    ({"weight": 2.5}, "control[0].weight", "from 0 to 2"),
    ({"start": 0.8, "end": 0.2}, "control[0].start", "after the end"),
    ({"control_mode": "loud"}, "control[0].control_mode", "balanced, prompt, control"),
    ({"resize_mode": "zoom"}, "control[0].resize_mode", "crop, fit, stretch"),
    ({"preprocessor": "depth_leres"}, "control[0].preprocessor", "unknown preprocessor"),
    ({"preprocessor": "canny", "settings": {"sigma": 2}}, "control[0].settings", "no setting 'sigma'"),
    ({"preprocessor": "canny", "settings": {"low_threshold": 0}}, "control[0].settings.low_threshold", "from 1 to 255"),
])
def test_a_bad_unit_setting_is_refused_naming_the_unit_and_field(lincoln, changes, field, words):
    unit = ControlUnit("tiny-canny", lincoln, **changes)
    with pytest.raises(InvalidParameterError) as caught:
        BASE.replace(control=(unit,)).validate()
    assert caught.value.field == field and words in caught.value.message


# -- preprocessors -----------------------------------------------------------------------------------


def test_canny_finds_edges_where_the_lincoln_picture_has_them(lincoln):
    import cv2

    gray = np.asarray(lincoln.image.convert("L"), dtype=np.float32)
    gradient = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    edges = np.asarray(canny_edges(lincoln.image))[..., 0] > 0
    assert 0.01 < edges.mean() < 0.3
    strong, flat = gradient > np.percentile(gradient, 90), gradient < np.percentile(gradient, 50)
    assert edges[strong].mean() > 10 * max(edges[flat].mean(), 1e-3)
    fewer = np.asarray(canny_edges(lincoln.image, 200, 250))[..., 0] > 0
    assert fewer.sum() < edges.sum()


def test_tile_resample_shrinks_by_its_rate_and_none_passes_the_map_through(lincoln):
    tile = make_map(ControlUnit("m", lincoln, "tile_resample", {"down_sampling_rate": 4}), 0)
    assert tile.size == (lincoln.image.width // 4, lincoln.image.height // 4)
    same = make_map(ControlUnit("m", lincoln, "none"), 0)
    assert np.array_equal(np.asarray(same), np.asarray(lincoln.image.convert("RGB")))


def holed(image: ImageRef, box: tuple[int, int, int, int] = (16, 16, 48, 48)) -> ImageRef:
    """The picture at 64×64 with a transparent square: the part an inpaint unit fills."""
    rgba = np.asarray(image.image.convert("RGBA").resize((64, 64))).copy()
    x0, y0, x1, y1 = box
    rgba[y0:y1, x0:x1, 3] = 0
    return ImageRef.from_image(Image.fromarray(rgba, "RGBA"), "outputs/control-images/holed.png")


def test_inpaint_only_gives_the_controlnet_minus_one_where_the_picture_is_transparent(lincoln):
    from ldm.invoke.control.inpaint import hint

    picture = holed(lincoln)
    made = make_map(ControlUnit("m", picture, "inpaint_only"), 0)
    assert made.mode == "RGBA"
    values = hint(np.asarray(made))
    assert (values[16:48, 16:48] == -1).all()
    kept = np.asarray(picture.image.convert("RGB")).astype(np.float32) / 255
    outside = np.ones((64, 64), dtype=bool)
    outside[16:48, 16:48] = False
    assert np.array_equal(values[outside], kept[outside])  # the picture's own colours everywhere else
    # A wide map fitted into a square: its margin is masked too (nothing is known there).
    wide = Image.fromarray(np.asarray(made)[:32], "RGBA")
    margin = hint(np.asarray(fit_to(wide, 64, 64, "fit")))
    assert (margin[:16] == -1).all() and (margin[-16:] == -1).all()
    # A picture with nothing transparent is refused, naming the unit's image.
    with pytest.raises(InvalidParameterError, match=r"control\[0\]\.image: inpaint fills the transparent part"):
        make_map(ControlUnit("m", lincoln, "inpaint_only"), 0)


def test_an_inpaint_unit_steers_with_its_mask_and_repeats_bit_for_bit(gen, lincoln, plain):
    picture = holed(lincoln)
    inpainted = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", picture, "inpaint_only"),)))
    assert differs(inpainted, plain)
    # The same picture read as a plain map (no -1 in the hole) steers otherwise: the mask reaches the network.
    # (The tiny random ControlNet's residuals hardly depend on the map's content, so any pixel counts.)
    as_map = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", picture, "none"),)))
    assert not np.array_equal(inpainted, as_map)
    again = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", picture, "inpaint_only"),)))
    assert np.array_equal(inpainted, again)


def test_hed_runs_its_network_and_the_map_changes_with_its_weights_file(lincoln, tmp_path):
    from tests.support.tiny_control import write_hed_weights

    weights = tmp_path / "models" / "annotators" / "ControlNetHED.pth"
    small = ImageRef.from_image(lincoln.image.convert("RGB").resize((128, 128)))
    soft = ControlUnit("m", small, "softedge_hed", {"resolution": 128})
    write_hed_weights(weights, seed=1)
    first = np.asarray(make_map(soft, 0, tmp_path))
    scribble = np.asarray(make_map(ControlUnit("m", small, "scribble_hed", {"resolution": 128}), 0, tmp_path))
    write_hed_weights(weights, seed=2)
    second = np.asarray(make_map(soft, 0, tmp_path))
    assert first.shape == second.shape == (128, 128, 3)
    assert np.abs(first.astype(int) - second).mean() > 1  # the network's weights make the map
    assert set(np.unique(scribble)) <= {0, 255}  # a scribble is lines, nothing in between


@pytest.fixture(scope="module")
def small_lincoln(lincoln) -> ImageRef:
    return ImageRef.from_image(lincoln.image.convert("RGB").resize((128, 128)))


def _map(image: ImageRef, preprocessor: str, root: Path) -> np.ndarray:
    return np.asarray(make_map(ControlUnit("m", image, preprocessor, {"resolution": image.image.width}), 0, root))


@pytest.mark.parametrize("preprocessor, write", [
    ("lineart_realistic", lambda folder, seed: annotators.write_lineart(folder / "sk_model.pth", seed)),
    ("lineart_coarse", lambda folder, seed: annotators.write_lineart(folder / "sk_model2.pth", seed)),
    ("softedge_pidinet", lambda folder, seed: annotators.write_pidinet(folder / "table5_pidinet.pth", seed)),
    ("openpose", lambda folder, seed: annotators.write_openpose(folder, seed)),
])
def test_each_network_preprocessor_runs_its_network_and_the_map_changes_with_its_weights_file(
        small_lincoln, tmp_path, preprocessor, write):
    folder = tmp_path / "models" / "annotators"
    write(folder, 1)
    first = _map(small_lincoln, preprocessor, tmp_path)
    write(folder, 2)
    for f in folder.iterdir():  # a new modification time even on a file system with coarse timestamps
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    second = _map(small_lincoln, preprocessor, tmp_path)
    assert first.shape == second.shape == (128, 128, 3) and first.max() > 0
    assert np.abs(first.astype(int) - second).mean() > 1  # the weights make the map


def test_openpose_full_loads_the_hand_and_face_networks_from_their_files_and_needs_them(lincoln, tmp_path):
    # What the full detector is made of; its map with a hand drawn by the hand network is checked in
    # test_control_preprocessors.py (on a body network made to see one arm: random ones find many hands).
    import torch

    from ldm.invoke.control.openpose import _detector

    folder = tmp_path / "models" / "annotators"
    annotators.write_openpose(folder, 1)
    full = _detector(folder, True)
    for estimator, name in ((full.hand_estimation, "hand_pose_model.pth"), (full.face_estimation, "facenet.pth"),
                            (full.body_estimation, "body_pose_model.pth")):
        stored = torch.load(folder / name, weights_only=True)
        first = next(iter(stored))  # upstream names lack the network's first level (conv1_1 for model0.conv1_1)
        same = [v for k, v in estimator.model.state_dict().items() if k == first or k.endswith("." + first)]
        assert torch.equal(same[0], stored[first]), name
    (folder / "hand_pose_model.pth").unlink()
    tiny = ImageRef.from_image(lincoln.image.convert("RGB").resize((64, 64)))
    with pytest.raises(InvalidParameterError, match="openpose_full needs its weights file hand_pose_model.pth"):
        make_map(ControlUnit("m", tiny, "openpose_full"), 0, tmp_path)


def test_depth_midas_runs_the_dpt_hybrid_network_and_the_map_follows_its_weights(small_lincoln, tmp_path):
    import torch

    path = annotators.write_midas(tmp_path / "models" / "annotators" / "dpt_hybrid-midas-501f0c75.pt", seed=1)
    first = _map(small_lincoln, "depth_midas", tmp_path)
    tensors = torch.load(path, weights_only=True)
    head = [k for k in tensors if k.startswith("scratch.output_conv.") and k.endswith("weight")][0]
    tensors[head] = -tensors[head]  # another network: the same file name, other weights
    torch.save(tensors, path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    second = _map(small_lincoln, "depth_midas", tmp_path)
    assert first.shape == second.shape == (128, 128, 3) and first.std() > 1
    assert np.abs(first.astype(int) - second).mean() > 1


def test_a_unit_s_preprocessor_network_runs_on_the_engine_s_device(gen, root, lincoln):
    from ldm.invoke.control import networks

    folder = annotators.write_depth_anything(root / "models" / "annotators" / "depth-anything-small-hf", seed=1)
    try:
        unit = ControlUnit("tiny-canny", lincoln, "depth_anything", {"resolution": 64})
        assert differs(pixels(gen, BASE.replace(control=(unit,))), pixels(gen, BASE))
        model, _ = next(kept for key, kept in networks._detectors.items() if key[0] == "depth_anything")
        assert {p.device for p in model.parameters()} == {gen.torch_device}
    finally:
        shutil.rmtree(folder)


def test_a_second_map_reuses_the_loaded_network_until_its_file_changes(small_lincoln, tmp_path, monkeypatch):
    from ldm.invoke.control import lineart

    reads = []
    monkeypatch.setattr(lineart, "load_tensors", lambda path: reads.append(path) or load_tensors(path))
    weights = annotators.write_lineart(tmp_path / "models" / "annotators" / "sk_model.pth", seed=3)
    first = _map(small_lincoln, "lineart_realistic", tmp_path)
    assert np.array_equal(_map(small_lincoln, "lineart_realistic", tmp_path), first) and len(reads) == 1
    annotators.write_lineart(weights, seed=4)
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))
    assert not np.array_equal(_map(small_lincoln, "lineart_realistic", tmp_path), first) and len(reads) == 2


def test_a_missing_annotator_weight_is_refused_naming_the_unit_the_file_and_the_folder(gen, lincoln, root):
    request = BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"),
                                    ControlUnit("tiny-canny", lincoln, "softedge_hed")))
    with pytest.raises(InvalidParameterError) as caught:
        next(iter(gen.generate(request)))
    assert caught.value.field == "control[1].preprocessor"
    assert f"needs its weights file ControlNetHED.pth, which is not in {root / 'models' / 'annotators'}" \
        in caught.value.message


# -- models ------------------------------------------------------------------------------------------


def test_the_a1111_and_comfyui_folder_scans_find_controlnets_with_their_family(root, tmp_path):
    a1111 = tmp_path / "stable-diffusion-webui" / "models" / "ControlNet"
    comfy = tmp_path / "ComfyUI" / "models" / "controlnet"
    a1111.mkdir(parents=True)
    os.link(root / "models" / "ControlNet" / "control_tiny_canny.safetensors", a1111 / "control_v11p_sd15_canny.safetensors")
    shutil.copytree(root / "models" / "controlnet" / "tiny-xl", comfy / "controlnet-tiny-sdxl")
    manager = ModelManager(tmp_path / "root")
    report = manager.scan_folder(tmp_path / "stable-diffusion-webui")
    report2 = manager.scan_folder(tmp_path / "ComfyUI")
    assert report.added == ["control_v11p_sd15_canny"] and report2.added == ["controlnet-tiny-sdxl"]
    controls = manager.control_models()
    assert controls["control_v11p_sd15_canny"]["family"] == "sd1"
    assert controls["controlnet-tiny-sdxl"]["family"] == "sdxl"
    assert "control_v11p_sd15_canny" not in manager.list_models()  # not a model to generate with
    assert manager.scan_folder(tmp_path / "ComfyUI").known == ["controlnet-tiny-sdxl"]
    assert manager.get_control("control_v11p_sd15_canny").family == "sd1"


# -- T2I-Adapters -----------------------------------------------------------------------------------


def test_a_t2i_adapter_steers_the_picture_repeats_it_and_weight_zero_is_no_unit(gen, lincoln, plain):
    unit = ControlUnit("tiny-adapter", lincoln, "canny")
    steered = pixels(gen, BASE.replace(control=(unit,)))
    assert differs(steered, plain)
    assert np.array_equal(pixels(gen, BASE.replace(control=(unit,))), steered)
    assert np.array_equal(pixels(gen, BASE.replace(control=(dataclasses.replace(unit, weight=0),))), plain)
    # The same weights as an original-layout .pth (read through our converter) make the same picture.
    assert np.array_equal(pixels(gen, BASE.replace(control=(ControlUnit("tiny-adapter-pth", lincoln, "canny"),))),
                          steered)


def test_an_adapter_acts_only_between_its_start_and_end_and_composes_with_a_controlnet(gen, lincoln, controlled):
    none = previews(gen, BASE)
    late = previews(gen, BASE.replace(control=(ControlUnit("tiny-adapter", lincoln, "canny", start=0.5),)))
    assert all(np.array_equal(a, b) for a, b in zip(none[:2], late[:2])) and not np.array_equal(none[2], late[2])
    adapter = pixels(gen, BASE.replace(control=(ControlUnit("tiny-adapter", lincoln, "canny"),)))
    both = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"),
                                             ControlUnit("tiny-adapter", lincoln, "canny"))))
    assert differs(both, controlled) and differs(both, adapter)


def test_an_sdxl_adapter_steers_an_sdxl_model_and_an_sd1_adapter_is_refused_there(root, lincoln):
    engine = Generate(root=root, model="tiny-sdxl", precision="float32")
    without = pixels(engine, BASE)
    assert differs(pixels(engine, BASE.replace(control=(ControlUnit("tiny-adapter-xl", lincoln, "canny"),))), without)
    with pytest.raises(InvalidParameterError) as caught:
        next(iter(engine.generate(BASE.replace(control=(ControlUnit("tiny-adapter", lincoln),)))))
    assert caught.value.field == "control[0].model"
    assert "tiny-adapter is a T2I-Adapter for Stable Diffusion 1.x" in caught.value.message


@pytest.mark.parametrize("kind, in_channels, suffix", [("full_adapter", 3, ".pth"), ("full_adapter", 1, ".safetensors"),
                                                         ("light_adapter", 3, ".pth")])
def test_the_converter_reads_an_original_layout_adapter_back_to_the_same_tensors_and_outputs(tmp_path, kind,
                                                                                            in_channels, suffix):
    import torch
    from diffusers import UNet2DConditionModel

    from ldm.invoke.model_formats.probe import probe_path
    from ldm.invoke.model_formats.t2i_adapter import load_t2i_adapter
    from tests.support.tiny_control import build_tiny_adapter, write_adapter_file

    unet = UNet2DConditionModel(block_out_channels=(32, 64, 64), norm_num_groups=8, cross_attention_dim=16,
                                down_block_types=("DownBlock2D",) * 3, up_block_types=("UpBlock2D",) * 3)
    made = build_tiny_adapter(unet, seed=5, kind=kind, in_channels=in_channels).eval()
    path = write_adapter_file(made, tmp_path / f"t2iadapter_test_sd15v2{suffix}")
    if kind == "full_adapter" and suffix == ".pth":  # blocks numbered through the levels, two a level
        assert "body.2.in_conv.weight" in torch.load(path, weights_only=True)
    probe = probe_path(path)
    assert (probe.kind, probe.family) == ("t2i_adapter", "sd1")
    loaded = load_t2i_adapter(path).eval()
    assert loaded.config.adapter_type == kind and loaded.config.in_channels == in_channels
    ours, theirs = made.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    x = torch.rand(1, in_channels, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(made(x), loaded(x)))


def test_a_first_generation_adapter_with_skip_convolutions_is_refused_with_the_reason(tmp_path):
    import torch

    from ldm.invoke.errors import ModelLoadError
    from ldm.invoke.model_formats.t2i_adapter import load_t2i_adapter

    path = tmp_path / "t2iadapter_old.pth"
    torch.save({"conv_in.weight": torch.zeros(8, 192, 3, 3), "conv_in.bias": torch.zeros(8),
                "body.0.block1.weight": torch.zeros(8, 8, 3, 3), "body.0.skep.weight": torch.zeros(8, 8, 3, 3)}, path)
    with pytest.raises(ModelLoadError, match="first-generation T2I-Adapter .* body.0.skep.weight"):
        load_t2i_adapter(path)


def test_the_folder_scans_find_t2i_adapters_with_their_family_and_kind(root, tmp_path):
    a1111 = tmp_path / "stable-diffusion-webui" / "models" / "ControlNet"
    comfy = tmp_path / "ComfyUI" / "models" / "controlnet"
    a1111.mkdir(parents=True)
    os.link(root / "models" / "ControlNet" / "t2iadapter_tiny_sd15v2.pth", a1111 / "t2iadapter_canny_sd15v2.pth")
    os.link(root / "models" / "ControlNet" / "t2i-adapter_tiny_xl.safetensors", a1111 / "t2i-adapter_xl_canny.safetensors")
    shutil.copytree(root / "models" / "t2i_adapter" / "tiny-adapter", comfy / "t2i-adapter-tiny")
    manager = ModelManager(tmp_path / "root")
    assert sorted(manager.scan_folder(tmp_path / "stable-diffusion-webui").added) == ["t2i-adapter_xl_canny",
                                                                                        "t2iadapter_canny_sd15v2"]
    assert manager.scan_folder(tmp_path / "ComfyUI").added == ["t2i-adapter-tiny"]
    controls = manager.control_models()
    assert {n: (e["kind"], e["family"]) for n, e in controls.items()} == {
        "t2iadapter_canny_sd15v2": ("t2i_adapter", "sd1"), "t2i-adapter_xl_canny": ("t2i_adapter", "sdxl"),
        "t2i-adapter-tiny": ("t2i_adapter", "sd1")}
    assert "T2I-Adapter for Stable Diffusion XL" in controls["t2i-adapter_xl_canny"]["description"]
    assert not set(controls) & set(manager.list_models())  # not models to generate with
    assert manager.get_control("t2iadapter_canny_sd15v2").kind == "t2i_adapter"


# -- over Socket.IO ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def control_server(module_server_factory, root, tmp_path_factory):
    from tests.conftest import private_root

    srv = module_server_factory(root=private_root(root, tmp_path_factory.mktemp("control-server")), precision="float32")
    assert srv.studio.wait_until_loaded(180), "the tiny model did not load"
    return srv


def upload_lincoln(client) -> str:
    client.emit("uploadImage", LINCOLN.read_bytes(), "lincoln.png", "img2img")
    return client.wait_for("imageUploaded", lambda d: d.get("destination") == "img2img")[-1]["url"]


def test_generate_image_over_socketio_takes_a_unit_and_records_it(control_server, connect, gen, lincoln):
    from tests.test_server_walkthrough import params, results_of

    client = connect(control_server.url)
    client.emit("requestSystemConfig")
    controls = client.wait_for("systemConfig")[0]["control_models"]
    assert controls["tiny-canny"]["family"] == "sd1" and controls["tiny-xl"]["family"] == "sdxl"
    url = upload_lincoln(client)
    unit = {"model": "tiny-canny", "image": url, "preprocessor": "canny", "settings": {"low_threshold": 100},
            "weight": 1, "start": 0, "end": 1, "control_mode": "balanced", "resize_mode": "crop"}
    request = params(prompt=BASE.prompt, steps=4, seed=7, sampler_name="k_euler", progress_latents=False,
                     control=[unit])
    job_id = client.call("generateImage", request, False, False)["jobId"]
    result = results_of(client, job_id, 1, timeout=240)[0]
    made = control_server.studio.outdir / result["url"].removeprefix("outputs/")
    recorded = read_metadata(made)["image"]["control"][0]
    assert recorded["model"] == "tiny-canny" and recorded["image_path"] == url
    # The same request in the engine, with the same picture by content, makes the same pixels.
    same = BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny", {"low_threshold": 100}),))
    assert np.array_equal(np.asarray(Image.open(made).convert("RGB")).astype(np.int16), pixels(gen, same))


def square_mask() -> Image.Image:
    """White where holed() is transparent: the part to fill."""
    mask = Image.new("L", (64, 64))
    mask.paste(255, (16, 16, 48, 48))
    return mask


def test_a_unit_without_a_picture_inpaints_with_the_picture_being_inpainted_and_its_mask(control_server, connect,
                                                                                          lincoln):
    from tests.test_server_walkthrough import params, results_of

    client = connect(control_server.url)
    opaque = holed(lincoln).image.convert("RGB")
    client.emit("uploadImage", png_bytes(opaque), "opaque.png", "inpainting")
    init = client.wait_for("imageUploaded", lambda d: d.get("destination") == "inpainting")[-1]["url"]
    client.emit("uploadImage", holed(lincoln).data, "holed.png", "control")
    picture = client.wait_for("imageUploaded", lambda d: d.get("destination") == "control")[-1]["url"]

    def inpaint(*units: dict) -> tuple[np.ndarray, dict]:
        request = params(prompt=BASE.prompt, steps=4, seed=7, progress_latents=False, init_img=init, strength=0.75,
                         init_mask=base64.b64encode(png_bytes(square_mask())).decode(), control=list(units))
        result = results_of(client, client.call("generateImage", request, False, False)["jobId"], 1, timeout=240)[0]
        made = control_server.studio.outdir / result["url"].removeprefix("outputs/")
        return np.asarray(Image.open(made).convert("RGB")).astype(np.int16), read_metadata(made)["image"]

    unit = {"model": "tiny-canny", "preprocessor": "inpaint_only"}
    without, recipe = inpaint({**unit, "image": ""})
    # The same pixels as the unit given the init picture with the painted square made transparent by hand...
    given, _ = inpaint({**unit, "image": picture})
    assert np.array_equal(without, given)
    assert not np.array_equal(without, inpaint()[0])  # ...and the unit steered the inpaint
    # The picture it took is kept and recorded, so Use All and !fetch bring it back.
    kept = recipe["control"][0]["image_path"]
    assert kept.startswith("outputs/control-images/api.")
    alpha = np.asarray(Image.open(control_server.studio.outdir / kept.removeprefix("outputs/")).convert("RGBA"))[..., 3]
    assert np.array_equal(alpha == 0, np.asarray(square_mask()) == 255)


@pytest.mark.parametrize("unit, field, words", [
    ({"image": ""}, "control[0].image", "the request has no init image for it to take"),
    ({"model": "tiny-xl"}, "control[0].model", "is a ControlNet for Stable Diffusion XL"),
    ({"model": "nope"}, "control[0].model", "Unknown control model 'nope'"),
    ({"image": "outputs/init-images/gone.png"}, "control[0].image", "gone.png"),
    ({"weight": 3}, "control[0].weight", "from 0 to 2"),
    ({"preprocessor": "softedge_hed"}, "control[0].preprocessor", "needs its weights file ControlNetHED.pth"),
    ({"preprocessor": "inpaint_only"}, "control[0].image", "this picture has none"),
])
def test_a_bad_unit_over_socketio_is_refused_with_its_message_and_nothing_is_queued(control_server, connect,
                                                                                    unit, field, words):
    from tests.test_server_walkthrough import params

    client = connect(control_server.url)
    url = upload_lincoln(client)
    before = control_server.studio.jobs.snapshot()
    answer = client.call("generateImage", params(control=[{"model": "tiny-canny", "image": url, **unit}]), False, False)
    assert "jobId" not in answer and words in answer["error"]
    error = client.wait_for("error", lambda e: words in e.get("message", ""))[0]
    assert error["message"].startswith(f"Invalid {field}: ")
    assert control_server.studio.jobs.snapshot() == before


# -- the CLI -----------------------------------------------------------------------------------------


def test_the_cli_takes_control_units_and_fetch_reproduces_the_picture(gen, tmp_path, controlled):
    from tests.support.cli_session import CliSession

    cli = CliSession(gen, tmp_path / "outputs")
    first = cli.made(f'"{BASE.prompt}" -s 4 -S 7 -W 64 -H 64 -A k_euler '
                     f"--control model=tiny-canny,image={LINCOLN},preprocessor=canny,low_threshold=100")
    assert np.array_equal(np.asarray(Image.open(first).convert("RGB")).astype(np.int16), controlled)
    command = cli.say(f"!fetch {first.name}")
    assert "--control" in command and "model=tiny-canny" in command
    assert "image=outputs/control-images/Lincoln-and-Parrot-512." in command  # copied into the output tree
    again = cli.made(command)
    assert again != first and np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(first)))
    with pytest.raises(AssertionError, match="needs model="):
        cli.say(f'"a cat" --control image={LINCOLN}')
    with pytest.raises(AssertionError, match="the request has no init image for it to take"):
        cli.say('"a cat" --control model=tiny-canny')


def test_a_cli_unit_without_image_inpaints_with_the_init_image_and_its_mask(gen, tmp_path, lincoln):
    from tests.support.cli_session import CliSession

    opaque, mask, picture = tmp_path / "opaque.png", tmp_path / "mask.png", tmp_path / "holed.png"
    holed(lincoln).image.convert("RGB").save(opaque)
    square_mask().save(mask)
    picture.write_bytes(holed(lincoln).data)
    cli = CliSession(gen, tmp_path / "outputs")
    line = f'"{BASE.prompt}" -s 4 -S 7 -W 64 -H 64 -A k_euler -I {opaque} -M {mask} -f 0.75 --control model=tiny-canny'
    without = cli.made(f"{line},preprocessor=inpaint_only")
    given = cli.made(f"{line},image={picture},preprocessor=inpaint_only")
    assert np.array_equal(np.asarray(Image.open(without)), np.asarray(Image.open(given)))
    # The picture it took is kept in the output tree, and !fetch names it.
    command = cli.say(f"!fetch {without.name}")
    kept = tmp_path / "outputs" / re.search(r"image=outputs/(control-images/init\.[0-9a-f]+\.png)", command).group(1)
    alpha = np.asarray(Image.open(kept).convert("RGBA"))[..., 3]
    assert np.array_equal(alpha == 0, np.asarray(square_mask()) == 255)


def test_a_refused_cli_line_leaves_nothing_in_the_output_tree(gen, tmp_path, lincoln):
    """Pictures a line brings from outside (-I, -M, image=, the one a unit takes from -I) are copied in
    only once the line has passed every check."""
    from tests.support.cli_session import CliSession

    init, mask = tmp_path / "init.png", tmp_path / "mask.png"
    lincoln.image.convert("RGB").resize((64, 64)).save(init)
    square_mask().save(mask)
    outdir = tmp_path / "outputs"
    cli = CliSession(gen, outdir)
    line = f'"a cat" -s 4 -W 64 -H 64 -I {init} -M {mask}'
    refusals = {f"{line} --control model=tiny-xl,image={LINCOLN}": "tiny-xl is a ControlNet for Stable Diffusion XL",
                f"{line} --control model=tiny-xl,preprocessor=inpaint_only": "tiny-xl is a ControlNet for",
                f"{line} -C -3 --control model=tiny-canny": "cfg_scale"}
    for refused, message in refusals.items():
        with pytest.raises(AssertionError, match=message):
            cli.say(refused)
        assert [p for p in outdir.rglob("*") if p.is_file()] == [], refused
    made = cli.made(f"{line} --control model=tiny-canny,image={LINCOLN}")  # and one that passes keeps them
    kept = {p.parent.name for p in outdir.rglob("*.png") if p != made}
    assert kept == {INIT_FOLDER, MASK_FOLDER, CONTROL_FOLDER}, kept


# -- the A1111 ControlNet extension's API --------------------------------------------------------------


def test_webuiapi_controlnet_units_through_alwayson_scripts(control_server, gen, lincoln):
    import webuiapi

    api = webuiapi.WebUIApi(host="127.0.0.1", port=control_server.port)
    assert api.controlnet_version() == 2
    assert set(api.controlnet_model_list()) == {"tiny-canny", "tiny-canny-folder", "tiny-other", "tiny-xl",
                                                "tiny-adapter", "tiny-adapter-pth", "tiny-adapter-xl"}
    assert set(api.controlnet_module_list()) == {"none", "canny", "tile_resample", "softedge_hed", "scribble_hed",
                                                 "softedge_pidinet", "lineart_realistic", "lineart_coarse",
                                                 "depth_midas", "depth_anything", "openpose", "openpose_full",
                                                 "inpaint_only"}
    assert "controlnet" in api.get_scripts()["txt2img"]
    unit = webuiapi.ControlNetUnit(image=lincoln.image, module="canny", model="tiny-canny [0123abcd]",
                                   threshold_a=100, threshold_b=200, resize_mode="Crop and Resize", control_mode=0)
    result = api.txt2img(prompt=BASE.prompt, seed=7, steps=4, width=64, height=64, sampler_name="Euler",
                         cfg_scale=7.5, controlnet_units=[unit], alwayson_scripts={})  # webuiapi's default is shared
    # The same unit in the engine: the same pixels (the image went as PNG, the same content).
    same = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", lincoln, "canny"),)))
    assert np.array_equal(np.asarray(result.image.convert("RGB")).astype(np.int16), same)
    edges = api.controlnet_detect([lincoln.image], module="canny", threshold_a=100, threshold_b=200)
    assert np.array_equal(np.asarray(edges.images[0].convert("RGB")), np.asarray(canny_edges(lincoln.image, 100, 200)))


def test_webuiapi_inpaint_only_unit_fills_where_its_mask_is_white(control_server, gen, lincoln):
    import webuiapi

    api = webuiapi.WebUIApi(host="127.0.0.1", port=control_server.port)
    picture = holed(lincoln)
    opaque = picture.image.convert("RGB")  # the same colours, the hole's too, with nothing transparent
    unit = webuiapi.ControlNetUnit(image=opaque, mask=square_mask(), module="inpaint_only", model="tiny-canny")
    result = api.txt2img(prompt=BASE.prompt, seed=7, steps=4, width=64, height=64, sampler_name="Euler",
                         cfg_scale=7.5, controlnet_units=[unit], alwayson_scripts={})
    # The mask made the square transparent: the engine's unit on the holed picture gives the same pixels.
    same = pixels(gen, BASE.replace(control=(ControlUnit("tiny-canny", picture, "inpaint_only"),)))
    assert np.array_equal(np.asarray(result.image.convert("RGB")).astype(np.int16), same)
    # Without a mask (and nothing transparent) the unit is refused, saying why.
    unmasked = webuiapi.ControlNetUnit(image=opaque, module="inpaint_only", model="tiny-canny")
    with pytest.raises(RuntimeError, match="this picture has none"):
        api.txt2img(prompt=BASE.prompt, steps=2, width=64, height=64, controlnet_units=[unmasked],
                    alwayson_scripts={})


def test_webuiapi_img2img_unit_without_an_image_takes_init_images_and_the_inpaint_mask(control_server, lincoln):
    import webuiapi

    api = webuiapi.WebUIApi(host="127.0.0.1", port=control_server.port)
    opaque = holed(lincoln).image.convert("RGB")

    def inpaint(*units) -> np.ndarray:
        result = api.img2img(images=[opaque], mask_image=square_mask(), prompt=BASE.prompt, seed=7, steps=4,
                             width=64, height=64, sampler_name="Euler", denoising_strength=0.75,
                             controlnet_units=list(units), alwayson_scripts={})
        return np.asarray(result.image.convert("RGB")).astype(np.int16)

    without = inpaint(webuiapi.ControlNetUnit(module="inpaint_only", model="tiny-canny"))
    given = inpaint(webuiapi.ControlNetUnit(image=opaque, mask=square_mask(), module="inpaint_only",
                                            model="tiny-canny"))
    assert np.array_equal(without, given) and not np.array_equal(without, inpaint())
    # In txt2img there is no init image to take: the unit is refused, naming its image.
    with pytest.raises(RuntimeError, match=r"args\[0\]\.image.*only in img2img"):
        api.txt2img(prompt=BASE.prompt, steps=2, width=64, height=64, alwayson_scripts={},
                    controlnet_units=[webuiapi.ControlNetUnit(module="canny", model="tiny-canny")])


@pytest.mark.parametrize("index, unit, words", [
    (0, {"model": "tiny-xl"}, "is a ControlNet for Stable Diffusion XL"),
    (1, {"module": "depth_leres"}, "unknown module 'depth_leres'"),
    (2, {"control_mode": ["Loud"]}, "control_mode: must be one of 'Balanced'"),
])
def test_a_bad_extension_unit_is_a_422_naming_it_and_leaves_nothing_behind(control_server, index, unit, words):
    import requests

    picture = png_bytes(Image.new("RGB", (64, 64), (40 * index, 90, 7)))  # sent nowhere else
    body = {"prompt": "x", "steps": 2, "width": 64, "height": 64, "alwayson_scripts": {"ControlNet": {"args": [
        {"image": base64.b64encode(picture).decode(), "module": "canny", "model": "tiny-canny", **unit}]}}}
    reply = requests.post(f"{control_server.url}/sdapi/v1/txt2img", json=body, timeout=60)
    assert reply.status_code == 422 and words in reply.text
    kept = control_server.studio.outdir / CONTROL_FOLDER
    assert not any(f.name.startswith("api.") and f.read_bytes() == picture for f in kept.iterdir())
